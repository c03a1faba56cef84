-- dim_user: one row per user_id (user_key = md5 of user_id; jobs/sql/dim_user.sql). The
-- attributes change over time: loads MERGE, a later batch's attributes replace earlier ones.
-- DISTKEY user_key: the largest dimension, distributed like final_fact (DISTKEY user_key), so
-- the fact-to-user join and per-user grouping (first-time vs repeat) are collocated, not
-- broadcast. SORTKEY user_key: the MERGE's join and key look-ups read few blocks.
CREATE TABLE IF NOT EXISTS {schema}.dim_user (
    user_key VARCHAR(32) NOT NULL,
    user_id VARCHAR(256) NOT NULL,
    user_name VARCHAR(256),
    user_email VARCHAR(256),
    user_phone VARCHAR(64),
    language VARCHAR(64),
    customer_segment VARCHAR(64),
    profile_country VARCHAR(256),
    PRIMARY KEY (user_key)
)
DISTKEY (user_key)
SORTKEY (user_key);
