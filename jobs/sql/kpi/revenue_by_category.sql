-- Net revenue, transactions and units per product category.
SELECT
    p.product_category,
    SUM(f.total_amount) AS revenue,
    COUNT(*) AS transactions,
    SUM(f.quantity) AS units
FROM final_fact f
JOIN dim_product p ON p.product_key = f.product_key
GROUP BY p.product_category
ORDER BY revenue DESC NULLS LAST, p.product_category ASC NULLS LAST
