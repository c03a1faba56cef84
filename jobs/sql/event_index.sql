-- event_index: the event ids this batch puts in gold, by event date. Engines write it as
-- gold/_event_index/dt=<dt_date>/batch_id=<id>.parquet; later batches read the dates they
-- touch as gold_event_index.
SELECT
    event_id,
    dt_date
FROM transactions_accepted
ORDER BY dt_date ASC NULLS LAST, event_id ASC NULLS LAST
