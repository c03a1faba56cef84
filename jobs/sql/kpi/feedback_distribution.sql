-- Transactions per feedback score (1..5; NULL when none was given).
SELECT
    f.feedback_score,
    COUNT(*) AS transactions
FROM final_fact f
GROUP BY f.feedback_score
ORDER BY f.feedback_score ASC NULLS FIRST
