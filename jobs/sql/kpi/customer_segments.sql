-- Transactions, customers and net revenue per customer segment.
SELECT
    u.customer_segment,
    COUNT(*) AS transactions,
    COUNT(DISTINCT f.user_key) AS customers,
    SUM(f.total_amount) AS revenue
FROM final_fact f
JOIN dim_user u ON u.user_key = f.user_key
GROUP BY u.customer_segment
ORDER BY revenue DESC NULLS LAST, u.customer_segment ASC NULLS LAST
