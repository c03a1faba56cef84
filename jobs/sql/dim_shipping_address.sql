-- dim_shipping_address: one row per (country, city, postal code, address); snowflaked to
-- dim_city by city_key.
SELECT DISTINCT
    shipping_address_key,
    shipping_address,
    postal_code,
    city_key
FROM transactions_keyed
ORDER BY shipping_address_key ASC NULLS LAST
