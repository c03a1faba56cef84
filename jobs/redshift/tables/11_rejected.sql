-- rejected: one row per refused record (rejected_key = md5 of its source position;
-- jobs/sql/rejected.sql), with every reason and the raw payload. A row never changes: loads
-- insert the keys not yet present.
-- DISTSTYLE EVEN: no join partner, even spread for scans. SORTKEY received_at: the
-- rejection-reasons-over-time KPI filters by time.
CREATE TABLE IF NOT EXISTS {schema}.rejected (
    rejected_key VARCHAR(32) NOT NULL,
    event_id VARCHAR(128),
    entity VARCHAR(32),
    reasons VARCHAR(1024) NOT NULL,
    received_at TIMESTAMP NOT NULL,
    received_date VARCHAR(10),
    payload VARCHAR(65535),
    payload_encoding VARCHAR(16),
    _source VARCHAR(256),
    _position VARCHAR(128),
    _object VARCHAR(1024),
    PRIMARY KEY (rejected_key)
)
DISTSTYLE EVEN
SORTKEY (received_at);
