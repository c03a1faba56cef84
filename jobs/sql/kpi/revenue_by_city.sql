-- Net revenue and transactions per city (with its country).
SELECT
    co.country_name,
    ci.city_name,
    SUM(f.total_amount) AS revenue,
    COUNT(*) AS transactions
FROM final_fact f
JOIN dim_city ci ON ci.city_key = f.city_key
JOIN dim_country co ON co.country_key = ci.country_key
GROUP BY co.country_name, ci.city_name
ORDER BY revenue DESC NULLS LAST, co.country_name ASC NULLS LAST, ci.city_name ASC NULLS LAST
