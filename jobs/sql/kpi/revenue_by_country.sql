-- Net revenue and transactions per order country.
SELECT
    c.country_name,
    SUM(f.total_amount) AS revenue,
    COUNT(*) AS transactions
FROM final_fact f
JOIN dim_country c ON c.country_key = f.country_key
GROUP BY c.country_name
ORDER BY revenue DESC NULLS LAST, c.country_name ASC NULLS LAST
