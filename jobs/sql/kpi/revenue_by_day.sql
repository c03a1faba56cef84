-- Net revenue (refunds and returns negative) and transactions per UTC event day.
SELECT
    d.event_date,
    SUM(f.total_amount) AS revenue,
    COUNT(*) AS transactions
FROM final_fact f
JOIN dim_date_time d ON d.date_time_key = f.date_time_key
GROUP BY d.event_date
ORDER BY d.event_date ASC NULLS LAST
