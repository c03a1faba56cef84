-- dim_marketing: one row per (referral source, campaign, coupon code, coupon flag). A row is a
-- function of its key.
-- DISTSTYLE ALL: small, joined by the attribution KPIs.
CREATE TABLE IF NOT EXISTS {schema}.dim_marketing (
    marketing_key VARCHAR(32) NOT NULL,
    referral_source VARCHAR(256),
    campaign VARCHAR(256),
    coupon_code VARCHAR(128),
    coupon_code_flag BOOLEAN,
    PRIMARY KEY (marketing_key)
)
DISTSTYLE ALL
SORTKEY (marketing_key);
