-- dim_marketing: one row per (referral source, campaign, coupon code, coupon flag). Cleaning
-- has already turned missing values into direct / no_campaign / no_coupon.
SELECT DISTINCT
    marketing_key,
    referral_source,
    campaign,
    coupon_code,
    coupon_code_flag
FROM transactions_keyed
ORDER BY marketing_key ASC NULLS LAST
