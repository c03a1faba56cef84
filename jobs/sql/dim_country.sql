-- dim_country: one row per country name ('UNKNOWN' when the record had none).
SELECT DISTINCT
    country_key,
    coalesce(country_name, 'UNKNOWN') AS country_name
FROM transactions_keyed
ORDER BY country_key ASC NULLS LAST
