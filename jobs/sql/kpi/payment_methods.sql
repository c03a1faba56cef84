-- Transactions and net revenue per payment method and payment status.
SELECT
    o.payment_method,
    o.payment_status,
    COUNT(*) AS transactions,
    SUM(f.total_amount) AS revenue
FROM final_fact f
JOIN dim_order_flags o ON o.order_flags_key = f.order_flags_key
GROUP BY o.payment_method, o.payment_status
ORDER BY transactions DESC NULLS LAST, o.payment_method ASC NULLS LAST, o.payment_status ASC NULLS LAST
