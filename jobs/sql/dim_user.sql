-- dim_user: one row per user_id of the batch's accepted transactions; the attributes of the
-- user's latest transaction win (event time, then arrival time, then event id: a total order).
SELECT
    user_key,
    user_id,
    user_name,
    user_email,
    user_phone,
    language,
    customer_segment,
    profile_country
FROM (
    SELECT
        k.*,
        row_number() OVER (
            PARTITION BY k.user_key
            ORDER BY
                k.event_timestamp DESC NULLS LAST,
                k._arrival_time DESC NULLS LAST,
                k.event_id DESC NULLS LAST
        ) AS recency_rank
    FROM transactions_keyed k
) ranked
WHERE recency_rank = 1
ORDER BY user_key ASC NULLS LAST
