-- dim_city: one row per (country, city); snowflaked to dim_country by country_key.
SELECT DISTINCT
    city_key,
    coalesce(city_name, 'UNKNOWN') AS city_name,
    country_key
FROM transactions_keyed
ORDER BY city_key ASC NULLS LAST
