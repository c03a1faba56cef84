-- dim_date_time: one row per UTC event hour of the batch. Key yyyymmddhh (BIGINT).
-- Day of week by Sakamoto's method on the UTC date parts (0 = Sunday): pure arithmetic, so both
-- engines agree without date-format pattern languages or session time zones.
SELECT
    date_time_key,
    event_date,
    year,
    -- Integer literals are BIGINT in DataFusion and INT in Spark: the casts fix one type.
    CAST(quarter AS BIGINT) AS quarter,
    month,
    day,
    hour,
    CAST(CASE WHEN day_of_week = 0 THEN 7 ELSE day_of_week END AS BIGINT) AS iso_day_of_week,
    CASE day_of_week
        WHEN 0 THEN 'Sunday'
        WHEN 1 THEN 'Monday'
        WHEN 2 THEN 'Tuesday'
        WHEN 3 THEN 'Wednesday'
        WHEN 4 THEN 'Thursday'
        WHEN 5 THEN 'Friday'
        ELSE 'Saturday'
    END AS day_name,
    day_of_week IN (0, 6) AS is_weekend
FROM (
    SELECT DISTINCT
        date_time_key,
        dt_date AS event_date,
        year,
        CASE WHEN month <= 3 THEN 1 WHEN month <= 6 THEN 2 WHEN month <= 9 THEN 3 ELSE 4 END AS quarter,
        month,
        day,
        hour,
        CAST((
            sakamoto_year
            + floor(sakamoto_year / 4)
            - floor(sakamoto_year / 100)
            + floor(sakamoto_year / 400)
            + CASE month
                WHEN 1 THEN 0 WHEN 2 THEN 3 WHEN 3 THEN 2 WHEN 4 THEN 5
                WHEN 5 THEN 0 WHEN 6 THEN 3 WHEN 7 THEN 5 WHEN 8 THEN 1
                WHEN 9 THEN 4 WHEN 10 THEN 6 WHEN 11 THEN 2 ELSE 4
              END
            + day
        ) % 7 AS INT) AS day_of_week
    FROM (
        SELECT
            date_time_key,
            dt_date,
            year,
            month,
            day,
            hour,
            CASE WHEN month < 3 THEN year - 1 ELSE year END AS sakamoto_year
        FROM transactions_keyed
    ) parts
) hours
ORDER BY date_time_key ASC NULLS LAST
