-- transactions_keyed: accepted transactions with every dimension key, derived from natural keys
-- only (never row numbers), so two batches sharing a user, product, place, ... agree on its key.
-- Missing text is coalesced explicitly: concat_ws skips NULLs, and a key must not shift when
-- one part is absent. Booleans enter keys as 'Y' / 'N'.
SELECT
    a.*,
    CAST(a.year AS BIGINT) * 1000000
        + CAST(a.month AS BIGINT) * 10000
        + CAST(a.day AS BIGINT) * 100
        + CAST(a.hour AS BIGINT) AS date_time_key,
    md5(concat_ws('|', coalesce(a.user_id, ''))) AS user_key,
    md5(concat_ws('|', coalesce(CAST(a.product_id AS STRING), ''))) AS product_key,
    md5(concat_ws('|', coalesce(a.country_name, 'UNKNOWN'))) AS country_key,
    md5(concat_ws('|',
        coalesce(a.country_name, 'UNKNOWN'),
        coalesce(a.city_name, 'UNKNOWN'))) AS city_key,
    md5(concat_ws('|',
        coalesce(a.country_name, 'UNKNOWN'),
        coalesce(a.city_name, 'UNKNOWN'),
        coalesce(a.postal_code, ''),
        coalesce(a.shipping_address, ''))) AS shipping_address_key,
    md5(concat_ws('|',
        coalesce(a.device_type, 'UNKNOWN'),
        coalesce(a.browser, 'UNKNOWN'))) AS device_key,
    md5(concat_ws('|',
        coalesce(a.referral_source, ''),
        coalesce(a.campaign, ''),
        coalesce(a.coupon_code, ''),
        CASE WHEN a.coupon_code_flag THEN 'Y' ELSE 'N' END)) AS marketing_key,
    md5(concat_ws('|',
        coalesce(a.payment_method, 'UNKNOWN'),
        coalesce(a.payment_status, 'UNKNOWN'),
        coalesce(a.transaction_status, 'UNKNOWN'),
        coalesce(a.action_type, ''),
        CASE WHEN a.is_first_purchase THEN 'Y' ELSE 'N' END,
        coalesce(a.risk_level, ''),
        CASE WHEN a.fraud_review THEN 'Y' ELSE 'N' END)) AS order_flags_key
FROM transactions_accepted a
