-- dim_order_flags: a junk dimension, one row per combination of the order's status flags. A
-- row is a function of its key.
-- DISTSTYLE ALL: a few hundred combinations at most.
CREATE TABLE IF NOT EXISTS {schema}.dim_order_flags (
    order_flags_key VARCHAR(32) NOT NULL,
    payment_method VARCHAR(64) NOT NULL,
    payment_status VARCHAR(64) NOT NULL,
    transaction_status VARCHAR(64) NOT NULL,
    action_type VARCHAR(64),
    is_first_purchase BOOLEAN,
    risk_level VARCHAR(16),
    fraud_review BOOLEAN,
    PRIMARY KEY (order_flags_key)
)
DISTSTYLE ALL
SORTKEY (order_flags_key);
