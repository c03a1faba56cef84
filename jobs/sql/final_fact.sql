-- final_fact: one row per accepted transaction event_id. Amounts DECIMAL(18,2), total_amount
-- = unit_price × quantity exactly; refunds and returns have quantity < 0, so a negative total.
SELECT
    event_id,
    event_timestamp,
    date_time_key,
    user_key,
    product_key,
    country_key,
    city_key,
    shipping_address_key,
    device_key,
    marketing_key,
    order_flags_key,
    quantity,
    CAST(product_price AS DECIMAL(18, 2)) AS unit_price,
    CAST(product_price * quantity AS DECIMAL(18, 2)) AS total_amount,
    currency,
    feedback_score,
    fraud_score,
    fraud_rules,
    repairs,
    _source,
    _position,
    _arrival_time
FROM transactions_keyed
ORDER BY event_id ASC NULLS LAST
