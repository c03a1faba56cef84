-- Transactions and net revenue per transaction status and action.
SELECT
    o.transaction_status,
    o.action_type,
    COUNT(*) AS transactions,
    SUM(f.total_amount) AS revenue
FROM final_fact f
JOIN dim_order_flags o ON o.order_flags_key = f.order_flags_key
GROUP BY o.transaction_status, o.action_type
ORDER BY transactions DESC NULLS LAST, o.transaction_status ASC NULLS LAST, o.action_type ASC NULLS LAST
