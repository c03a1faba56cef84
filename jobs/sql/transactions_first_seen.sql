-- transactions_first_seen: one row per event_id of the batch's silver transactions.
-- Silver is at-least-once: the same event_id can sit in several objects (bisected or retried
-- batches, a lost PUT answer, a producer sending twice). The earliest provenance wins:
-- (_arrival_time, _source, _position as a non-negative integer of any length, _object).
-- (char_length(_position), _position) orders decimal positions numerically: Kinesis sequence
-- numbers have up to 56 digits, beyond DECIMAL(38,0). _object makes the order total.
-- Almost every event_id is seen once: those rows pass as they are, and only the ids seen more
-- than once are ranked. (A window partitioned by a near-unique key makes one partition per row,
-- which costs far more than the ranking.)
WITH repeated AS (
    SELECT event_id
    FROM silver_transactions
    GROUP BY event_id
    HAVING count(*) > 1
),
ranked AS (
    SELECT
        t.*,
        row_number() OVER (
            PARTITION BY t.event_id
            ORDER BY
                t._arrival_time ASC NULLS LAST,
                t._source ASC NULLS LAST,
                char_length(t._position) ASC NULLS LAST,
                t._position ASC NULLS LAST,
                t._object ASC NULLS LAST
        ) AS provenance_rank
    FROM silver_transactions t
    WHERE EXISTS (SELECT 1 FROM repeated r WHERE r.event_id = t.event_id)
)
SELECT
    event_id,
    event_timestamp,
    dt_date,
    year,
    month,
    day,
    hour,
    user_id,
    user_name,
    user_email,
    user_phone,
    is_first_purchase,
    language,
    currency,
    city_name,
    country_name,
    product_id,
    product_name,
    product_category,
    product_brand,
    product_price,
    quantity,
    total_amount,
    feedback_score,
    shipping_address,
    postal_code,
    device_type,
    browser,
    referral_source,
    campaign,
    coupon_code,
    coupon_code_flag,
    payment_method,
    payment_status,
    transaction_status,
    action_type,
    fraud_score,
    risk_level,
    fraud_review,
    fraud_rules,
    customer_segment,
    profile_country,
    repairs,
    _source,
    _position,
    _arrival_time,
    _object
FROM silver_transactions t
WHERE NOT EXISTS (SELECT 1 FROM repeated r WHERE r.event_id = t.event_id)
UNION ALL
-- The column list again: the engines share no `SELECT * EXCEPT (provenance_rank)`.
SELECT
    event_id,
    event_timestamp,
    dt_date,
    year,
    month,
    day,
    hour,
    user_id,
    user_name,
    user_email,
    user_phone,
    is_first_purchase,
    language,
    currency,
    city_name,
    country_name,
    product_id,
    product_name,
    product_category,
    product_brand,
    product_price,
    quantity,
    total_amount,
    feedback_score,
    shipping_address,
    postal_code,
    device_type,
    browser,
    referral_source,
    campaign,
    coupon_code,
    coupon_code_flag,
    payment_method,
    payment_status,
    transaction_status,
    action_type,
    fraud_score,
    risk_level,
    fraud_review,
    fraud_rules,
    customer_segment,
    profile_country,
    repairs,
    _source,
    _position,
    _arrival_time,
    _object
FROM ranked
WHERE provenance_rank = 1
