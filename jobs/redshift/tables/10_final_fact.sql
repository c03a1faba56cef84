-- final_fact: one row per accepted transaction event_id (jobs/sql/final_fact.sql). Gold is
-- exactly-once by event_id and an event's row never changes: loads insert the event ids not yet
-- present. Amounts DECIMAL(18,2), total_amount = unit_price × quantity, refunds and returns
-- negative; timestamps are the Parquet's microsecond UTC values.
-- DISTKEY user_key: many distinct users spread the rows evenly, and the join to dim_user (same
-- DISTKEY) and the per-user KPIs stay on one node.
-- SORTKEY event_timestamp: every KPI filters or groups by time, and batches arrive roughly in
-- time order, so the table stays nearly sorted and range-restricted scans skip old blocks.
CREATE TABLE IF NOT EXISTS {schema}.final_fact (
    event_id VARCHAR(128) NOT NULL,
    event_timestamp TIMESTAMP NOT NULL,
    date_time_key BIGINT NOT NULL,
    user_key VARCHAR(32) NOT NULL,
    product_key VARCHAR(32) NOT NULL,
    country_key VARCHAR(32) NOT NULL,
    city_key VARCHAR(32) NOT NULL,
    shipping_address_key VARCHAR(32) NOT NULL,
    device_key VARCHAR(32) NOT NULL,
    marketing_key VARCHAR(32) NOT NULL,
    order_flags_key VARCHAR(32) NOT NULL,
    quantity INTEGER,
    unit_price DECIMAL(18,2),
    total_amount DECIMAL(18,2),
    currency VARCHAR(16),
    feedback_score INTEGER,
    fraud_score DOUBLE PRECISION,
    fraud_rules VARCHAR(1024),
    repairs VARCHAR(1024),
    _source VARCHAR(256),
    _position VARCHAR(128),
    _arrival_time TIMESTAMP,
    PRIMARY KEY (event_id)
)
DISTKEY (user_key)
SORTKEY (event_timestamp);
