-- dim_shipping_address: one row per (country, city, postal code, address) (key = md5 of the
-- four), snowflaked to dim_city. A row is a function of its key: loads insert new keys.
-- DISTSTYLE AUTO: grows with the customer base; Redshift starts it as ALL and switches it to
-- EVEN when it outgrows that.
CREATE TABLE IF NOT EXISTS {schema}.dim_shipping_address (
    shipping_address_key VARCHAR(32) NOT NULL,
    shipping_address VARCHAR(1024),
    postal_code VARCHAR(64),
    city_key VARCHAR(32) NOT NULL,
    PRIMARY KEY (shipping_address_key)
)
DISTSTYLE AUTO
SORTKEY (shipping_address_key);
