-- Refused records per arrival day and reason set.
SELECT
    r.received_date,
    r.reasons,
    COUNT(*) AS records
FROM rejected r
GROUP BY r.received_date, r.reasons
ORDER BY r.received_date ASC NULLS LAST, records DESC NULLS LAST, r.reasons ASC NULLS LAST
