-- rejected: one row per refused record of the batch's quarantine objects, with every reason.
-- The same record quarantined twice (a retried stream batch) is kept once: its source position
-- is its natural key; the earliest copy wins (received time, object key, line: a total order).
SELECT
    md5(concat_ws('|', coalesce(_source, ''), coalesce(_position, ''))) AS rejected_key,
    event_id,
    entity,
    reasons,
    received_at,
    dt_date AS received_date,
    payload,
    payload_encoding,
    _source,
    _position,
    _object
FROM (
    SELECT
        q.*,
        row_number() OVER (
            PARTITION BY q._source, q._position
            ORDER BY
                q.received_at ASC NULLS LAST,
                q._object ASC NULLS LAST,
                q._line ASC NULLS LAST
        ) AS copy_rank
    FROM quarantine_records q
) ranked
WHERE copy_rank = 1
ORDER BY rejected_key ASC NULLS LAST
