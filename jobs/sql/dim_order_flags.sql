-- dim_order_flags: a junk dimension, one row per combination of the order's status flags.
SELECT DISTINCT
    order_flags_key,
    coalesce(payment_method, 'UNKNOWN') AS payment_method,
    coalesce(payment_status, 'UNKNOWN') AS payment_status,
    coalesce(transaction_status, 'UNKNOWN') AS transaction_status,
    action_type,
    is_first_purchase,
    risk_level,
    fraud_review
FROM transactions_keyed
ORDER BY order_flags_key ASC NULLS LAST
