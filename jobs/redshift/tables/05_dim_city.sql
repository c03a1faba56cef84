-- dim_city: one row per (country, city) (city_key = md5 of both), snowflaked to dim_country.
-- A row is a function of its key: loads insert the keys not yet present.
-- DISTSTYLE ALL: small, joined by the city KPIs.
CREATE TABLE IF NOT EXISTS {schema}.dim_city (
    city_key VARCHAR(32) NOT NULL,
    city_name VARCHAR(256) NOT NULL,
    country_key VARCHAR(32) NOT NULL,
    PRIMARY KEY (city_key)
)
DISTSTYLE ALL
SORTKEY (city_key);
