-- dim_country: one row per country name (country_key = md5 of it). A row is a function of its
-- key: loads insert the keys not yet present.
-- DISTSTYLE ALL: a few hundred rows, joined by the country KPIs.
CREATE TABLE IF NOT EXISTS {schema}.dim_country (
    country_key VARCHAR(32) NOT NULL,
    country_name VARCHAR(256) NOT NULL,
    PRIMARY KEY (country_key)
)
DISTSTYLE ALL
SORTKEY (country_key);
