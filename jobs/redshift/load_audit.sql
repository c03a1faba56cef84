-- load_audit: one row per load attempt of a batch. A successful load writes its row inside its
-- own transaction (state LOADED); a failed one cannot (the transaction rolled back), so
-- redshift-copy writes state LOAD_FAILED and the Redshift error text afterwards, through Data
-- API parameters. started_at is the load transaction's start (SYSDATE) and, with batch_id,
-- identifies the attempt in load_audit_table.
-- DISTSTYLE ALL / SORTKEY started_at: small, read by batch and by time.
CREATE TABLE IF NOT EXISTS {schema}.load_audit (
    batch_id VARCHAR(64) NOT NULL,
    manifest_key VARCHAR(1024) NOT NULL,
    manifest_checksum CHAR(64) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    state VARCHAR(16) NOT NULL,
    error VARCHAR(4096)
)
DISTSTYLE ALL
SORTKEY (started_at);

-- load_audit_table: per load attempt and table, the rows COPY staged, the rows left after
-- deduplication by natural key, and how many of those were inserted or updated (counted
-- against the target before the MERGE, inside the same transaction).
CREATE TABLE IF NOT EXISTS {schema}.load_audit_table (
    batch_id VARCHAR(64) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    table_name VARCHAR(128) NOT NULL,
    rows_staged BIGINT NOT NULL,
    rows_unique BIGINT NOT NULL,
    rows_inserted BIGINT NOT NULL,
    rows_updated BIGINT NOT NULL
)
DISTSTYLE ALL
SORTKEY (started_at);
