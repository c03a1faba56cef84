-- Net revenue, transactions and units per product brand.
SELECT
    p.product_brand,
    SUM(f.total_amount) AS revenue,
    COUNT(*) AS transactions,
    SUM(f.quantity) AS units
FROM final_fact f
JOIN dim_product p ON p.product_key = f.product_key
GROUP BY p.product_brand
ORDER BY revenue DESC NULLS LAST, p.product_brand ASC NULLS LAST
