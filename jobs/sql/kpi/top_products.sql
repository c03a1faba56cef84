-- The ten products with the highest net revenue.
SELECT
    p.product_id,
    p.product_name,
    p.product_category,
    SUM(f.total_amount) AS revenue,
    SUM(f.quantity) AS units
FROM final_fact f
JOIN dim_product p ON p.product_key = f.product_key
GROUP BY p.product_id, p.product_name, p.product_category
ORDER BY revenue DESC NULLS LAST, p.product_id ASC NULLS LAST
LIMIT 10
