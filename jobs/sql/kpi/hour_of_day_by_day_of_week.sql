-- Transactions and net revenue per ISO day of week (1 = Monday) and UTC hour of day.
SELECT
    d.iso_day_of_week,
    d.day_name,
    d.hour,
    COUNT(*) AS transactions,
    SUM(f.total_amount) AS revenue
FROM final_fact f
JOIN dim_date_time d ON d.date_time_key = f.date_time_key
GROUP BY d.iso_day_of_week, d.day_name, d.hour
ORDER BY d.iso_day_of_week ASC NULLS LAST, d.hour ASC NULLS LAST
