-- Transactions and net revenue per fraud risk level and review flag.
SELECT
    o.risk_level,
    o.fraud_review,
    COUNT(*) AS transactions,
    SUM(f.total_amount) AS revenue
FROM final_fact f
JOIN dim_order_flags o ON o.order_flags_key = f.order_flags_key
GROUP BY o.risk_level, o.fraud_review
ORDER BY o.risk_level ASC NULLS LAST, o.fraud_review ASC NULLS LAST
