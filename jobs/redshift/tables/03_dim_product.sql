-- dim_product: one row per product id (product_key = md5 of the id; jobs/sql/dim_product.sql);
-- the latest name, category, brand and price win: loads MERGE.
-- DISTSTYLE ALL: a catalogue is small next to the fact and joined by most KPIs.
-- SORTKEY product_key: the MERGE's join and key look-ups.
CREATE TABLE IF NOT EXISTS {schema}.dim_product (
    product_key VARCHAR(32) NOT NULL,
    product_id BIGINT,
    product_name VARCHAR(512),
    product_category VARCHAR(256),
    product_brand VARCHAR(256),
    current_price DECIMAL(18,2),
    PRIMARY KEY (product_key)
)
DISTSTYLE ALL
SORTKEY (product_key);
