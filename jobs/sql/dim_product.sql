-- dim_product: one row per product_id; the latest transaction's name, category, brand and
-- price win (event time, then arrival time, then event id: a total order).
SELECT
    product_key,
    product_id,
    product_name,
    product_category,
    product_brand,
    CAST(product_price AS DECIMAL(18, 2)) AS current_price
FROM (
    SELECT
        k.*,
        row_number() OVER (
            PARTITION BY k.product_key
            ORDER BY
                k.event_timestamp DESC NULLS LAST,
                k._arrival_time DESC NULLS LAST,
                k.event_id DESC NULLS LAST
        ) AS recency_rank
    FROM transactions_keyed k
) ranked
WHERE recency_rank = 1
ORDER BY product_key ASC NULLS LAST
