-- dim_date_time: one row per UTC event hour, key yyyymmddhh (jobs/sql/dim_date_time.sql).
-- A row is a function of its key: loads insert the keys not yet present.
-- DISTSTYLE ALL: under 9,000 rows a year, joined by every time-based KPI; a copy on every
-- node keeps those joins local. SORTKEY date_time_key: time-range filters skip blocks.
CREATE TABLE IF NOT EXISTS {schema}.dim_date_time (
    date_time_key BIGINT NOT NULL,
    event_date VARCHAR(10) NOT NULL,
    year INTEGER NOT NULL,
    quarter BIGINT NOT NULL,
    month INTEGER NOT NULL,
    day INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    iso_day_of_week BIGINT NOT NULL,
    day_name VARCHAR(9) NOT NULL,
    is_weekend BOOLEAN NOT NULL,
    PRIMARY KEY (date_time_key)
)
DISTSTYLE ALL
SORTKEY (date_time_key);
