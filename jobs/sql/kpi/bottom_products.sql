-- The ten products with the lowest net revenue (refunds and returns count against it).
SELECT
    p.product_id,
    p.product_name,
    p.product_category,
    SUM(f.total_amount) AS revenue,
    SUM(f.quantity) AS units
FROM final_fact f
JOIN dim_product p ON p.product_key = f.product_key
GROUP BY p.product_id, p.product_name, p.product_category
ORDER BY revenue ASC NULLS LAST, p.product_id ASC NULLS LAST
LIMIT 10
