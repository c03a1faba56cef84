-- transactions_accepted: the batch's first-seen transactions whose event_id no earlier batch
-- already put in gold (gold_event_index holds the event ids of committed batches for the event
-- dates this batch touches). Together with transactions_first_seen this is gold's
-- exactly-once rule: one fact row per event_id, ever.
SELECT f.*
FROM transactions_first_seen f
WHERE NOT EXISTS (
    SELECT 1
    FROM gold_event_index g
    WHERE g.event_id = f.event_id
)
