-- Transactions and net revenue per device type and browser.
SELECT
    dv.device_type,
    dv.browser,
    COUNT(*) AS transactions,
    SUM(f.total_amount) AS revenue
FROM final_fact f
JOIN dim_device dv ON dv.device_key = f.device_key
GROUP BY dv.device_type, dv.browser
ORDER BY transactions DESC NULLS LAST, dv.device_type ASC NULLS LAST, dv.browser ASC NULLS LAST
