-- dim_device: one row per (device type, browser). A row is a function of its key.
-- DISTSTYLE ALL: tiny, joined by the orders-by-device KPI.
CREATE TABLE IF NOT EXISTS {schema}.dim_device (
    device_key VARCHAR(32) NOT NULL,
    device_type VARCHAR(64) NOT NULL,
    browser VARCHAR(128) NOT NULL,
    PRIMARY KEY (device_key)
)
DISTSTYLE ALL
SORTKEY (device_key);
