-- First-time vs repeat purchases: transactions, distinct customers and net revenue.
SELECT
    o.is_first_purchase,
    COUNT(*) AS transactions,
    COUNT(DISTINCT f.user_key) AS customers,
    SUM(f.total_amount) AS revenue
FROM final_fact f
JOIN dim_order_flags o ON o.order_flags_key = f.order_flags_key
GROUP BY o.is_first_purchase
ORDER BY o.is_first_purchase ASC NULLS LAST
