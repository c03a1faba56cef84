-- Referral / campaign / coupon attribution: transactions, customers and net revenue.
SELECT
    m.referral_source,
    m.campaign,
    m.coupon_code,
    COUNT(*) AS transactions,
    COUNT(DISTINCT f.user_key) AS customers,
    SUM(f.total_amount) AS revenue
FROM final_fact f
JOIN dim_marketing m ON m.marketing_key = f.marketing_key
GROUP BY m.referral_source, m.campaign, m.coupon_code
ORDER BY revenue DESC NULLS LAST, m.referral_source ASC NULLS LAST, m.campaign ASC NULLS LAST, m.coupon_code ASC NULLS LAST
