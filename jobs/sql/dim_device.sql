-- dim_device: one row per (device type, browser).
SELECT DISTINCT
    device_key,
    coalesce(device_type, 'UNKNOWN') AS device_type,
    coalesce(browser, 'UNKNOWN') AS browser
FROM transactions_keyed
ORDER BY device_key ASC NULLS LAST
