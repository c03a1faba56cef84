-- 01 CreateStage dim_date_time
CREATE TEMP TABLE stage_dim_date_time (LIKE shopstream.dim_date_time);

-- 02 Copy dim_date_time
COPY stage_dim_date_time FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_date_time/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 03 CreateStage dim_user
CREATE TEMP TABLE stage_dim_user (LIKE shopstream.dim_user);

-- 04 Copy dim_user
COPY stage_dim_user FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_user/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 05 Dedupe dim_user
CREATE TEMP TABLE merge_dim_user AS SELECT user_key, user_id, user_name, user_email, user_phone, language, customer_segment, profile_country FROM (SELECT user_key, user_id, user_name, user_email, user_phone, language, customer_segment, profile_country, ROW_NUMBER() OVER (PARTITION BY user_key ORDER BY user_key ASC NULLS FIRST, user_id ASC NULLS FIRST, user_name ASC NULLS FIRST, user_email ASC NULLS FIRST, user_phone ASC NULLS FIRST, language ASC NULLS FIRST, customer_segment ASC NULLS FIRST, profile_country ASC NULLS FIRST) AS load_rank FROM stage_dim_user) AS ranked WHERE load_rank = 1;

-- 06 CreateStage dim_product
CREATE TEMP TABLE stage_dim_product (LIKE shopstream.dim_product);

-- 07 Copy dim_product
COPY stage_dim_product FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_product/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 08 Dedupe dim_product
CREATE TEMP TABLE merge_dim_product AS SELECT product_key, product_id, product_name, product_category, product_brand, current_price FROM (SELECT product_key, product_id, product_name, product_category, product_brand, current_price, ROW_NUMBER() OVER (PARTITION BY product_key ORDER BY product_key ASC NULLS FIRST, product_id ASC NULLS FIRST, product_name ASC NULLS FIRST, product_category ASC NULLS FIRST, product_brand ASC NULLS FIRST, current_price ASC NULLS FIRST) AS load_rank FROM stage_dim_product) AS ranked WHERE load_rank = 1;

-- 09 CreateStage dim_country
CREATE TEMP TABLE stage_dim_country (LIKE shopstream.dim_country);

-- 10 Copy dim_country
COPY stage_dim_country FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_country/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 11 CreateStage dim_city
CREATE TEMP TABLE stage_dim_city (LIKE shopstream.dim_city);

-- 12 Copy dim_city
COPY stage_dim_city FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_city/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 13 CreateStage dim_shipping_address
CREATE TEMP TABLE stage_dim_shipping_address (LIKE shopstream.dim_shipping_address);

-- 14 Copy dim_shipping_address
COPY stage_dim_shipping_address FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_shipping_address/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 15 CreateStage dim_device
CREATE TEMP TABLE stage_dim_device (LIKE shopstream.dim_device);

-- 16 Copy dim_device
COPY stage_dim_device FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_device/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 17 CreateStage dim_marketing
CREATE TEMP TABLE stage_dim_marketing (LIKE shopstream.dim_marketing);

-- 18 Copy dim_marketing
COPY stage_dim_marketing FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_marketing/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 19 CreateStage dim_order_flags
CREATE TEMP TABLE stage_dim_order_flags (LIKE shopstream.dim_order_flags);

-- 20 Copy dim_order_flags
COPY stage_dim_order_flags FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/dim_order_flags/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 21 CreateStage final_fact
CREATE TEMP TABLE stage_final_fact (LIKE shopstream.final_fact);

-- 22 Copy final_fact
COPY stage_final_fact FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/final_fact/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 23 CreateStage rejected
CREATE TEMP TABLE stage_rejected (LIKE shopstream.rejected);

-- 24 Copy rejected
COPY stage_rejected FROM 's3://shopstream-dev-lake-123456789012-eu-west-1/gold/rejected/batch_id=20261202T10-20261202T11-3f2a9c0d11b7e4a5/' IAM_ROLE 'arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy' FORMAT AS PARQUET;

-- 25 Audit -
INSERT INTO shopstream.load_audit_table (batch_id, started_at, table_name, rows_staged, rows_unique, rows_inserted, rows_updated) SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_date_time', COUNT(*), COUNT(DISTINCT source.date_time_key), COUNT(DISTINCT CASE WHEN target.date_time_key IS NULL THEN source.date_time_key END), 0 FROM stage_dim_date_time AS source LEFT JOIN shopstream.dim_date_time AS target ON target.date_time_key = source.date_time_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_user', (SELECT COUNT(*) FROM stage_dim_user), COUNT(*), COALESCE(SUM(CASE WHEN target.user_key IS NULL THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN target.user_key IS NULL THEN 0 ELSE 1 END), 0) FROM merge_dim_user AS source LEFT JOIN shopstream.dim_user AS target ON target.user_key = source.user_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_product', (SELECT COUNT(*) FROM stage_dim_product), COUNT(*), COALESCE(SUM(CASE WHEN target.product_key IS NULL THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN target.product_key IS NULL THEN 0 ELSE 1 END), 0) FROM merge_dim_product AS source LEFT JOIN shopstream.dim_product AS target ON target.product_key = source.product_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_country', COUNT(*), COUNT(DISTINCT source.country_key), COUNT(DISTINCT CASE WHEN target.country_key IS NULL THEN source.country_key END), 0 FROM stage_dim_country AS source LEFT JOIN shopstream.dim_country AS target ON target.country_key = source.country_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_city', COUNT(*), COUNT(DISTINCT source.city_key), COUNT(DISTINCT CASE WHEN target.city_key IS NULL THEN source.city_key END), 0 FROM stage_dim_city AS source LEFT JOIN shopstream.dim_city AS target ON target.city_key = source.city_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_shipping_address', COUNT(*), COUNT(DISTINCT source.shipping_address_key), COUNT(DISTINCT CASE WHEN target.shipping_address_key IS NULL THEN source.shipping_address_key END), 0 FROM stage_dim_shipping_address AS source LEFT JOIN shopstream.dim_shipping_address AS target ON target.shipping_address_key = source.shipping_address_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_device', COUNT(*), COUNT(DISTINCT source.device_key), COUNT(DISTINCT CASE WHEN target.device_key IS NULL THEN source.device_key END), 0 FROM stage_dim_device AS source LEFT JOIN shopstream.dim_device AS target ON target.device_key = source.device_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_marketing', COUNT(*), COUNT(DISTINCT source.marketing_key), COUNT(DISTINCT CASE WHEN target.marketing_key IS NULL THEN source.marketing_key END), 0 FROM stage_dim_marketing AS source LEFT JOIN shopstream.dim_marketing AS target ON target.marketing_key = source.marketing_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'dim_order_flags', COUNT(*), COUNT(DISTINCT source.order_flags_key), COUNT(DISTINCT CASE WHEN target.order_flags_key IS NULL THEN source.order_flags_key END), 0 FROM stage_dim_order_flags AS source LEFT JOIN shopstream.dim_order_flags AS target ON target.order_flags_key = source.order_flags_key UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'final_fact', COUNT(*), COUNT(DISTINCT source.event_id), COUNT(DISTINCT CASE WHEN target.event_id IS NULL THEN source.event_id END), 0 FROM stage_final_fact AS source LEFT JOIN shopstream.final_fact AS target ON target.event_id = source.event_id UNION ALL SELECT '20261202T10-20261202T11-3f2a9c0d11b7e4a5', SYSDATE, 'rejected', COUNT(*), COUNT(DISTINCT source.rejected_key), COUNT(DISTINCT CASE WHEN target.rejected_key IS NULL THEN source.rejected_key END), 0 FROM stage_rejected AS source LEFT JOIN shopstream.rejected AS target ON target.rejected_key = source.rejected_key;

-- 26 InsertNew dim_date_time
INSERT INTO shopstream.dim_date_time (date_time_key, event_date, year, quarter, month, day, hour, iso_day_of_week, day_name, is_weekend) SELECT date_time_key, event_date, year, quarter, month, day, hour, iso_day_of_week, day_name, is_weekend FROM (SELECT date_time_key, event_date, year, quarter, month, day, hour, iso_day_of_week, day_name, is_weekend FROM (SELECT date_time_key, event_date, year, quarter, month, day, hour, iso_day_of_week, day_name, is_weekend, ROW_NUMBER() OVER (PARTITION BY date_time_key ORDER BY date_time_key ASC NULLS FIRST, event_date ASC NULLS FIRST, year ASC NULLS FIRST, quarter ASC NULLS FIRST, month ASC NULLS FIRST, day ASC NULLS FIRST, hour ASC NULLS FIRST, iso_day_of_week ASC NULLS FIRST, day_name ASC NULLS FIRST, is_weekend ASC NULLS FIRST) AS load_rank FROM stage_dim_date_time) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.dim_date_time AS target WHERE target.date_time_key = source.date_time_key);

-- 27 Merge dim_user
MERGE INTO shopstream.dim_user USING merge_dim_user AS source ON dim_user.user_key = source.user_key WHEN MATCHED THEN UPDATE SET user_id = source.user_id, user_name = source.user_name, user_email = source.user_email, user_phone = source.user_phone, language = source.language, customer_segment = source.customer_segment, profile_country = source.profile_country WHEN NOT MATCHED THEN INSERT (user_key, user_id, user_name, user_email, user_phone, language, customer_segment, profile_country) VALUES (source.user_key, source.user_id, source.user_name, source.user_email, source.user_phone, source.language, source.customer_segment, source.profile_country);

-- 28 Merge dim_product
MERGE INTO shopstream.dim_product USING merge_dim_product AS source ON dim_product.product_key = source.product_key WHEN MATCHED THEN UPDATE SET product_id = source.product_id, product_name = source.product_name, product_category = source.product_category, product_brand = source.product_brand, current_price = source.current_price WHEN NOT MATCHED THEN INSERT (product_key, product_id, product_name, product_category, product_brand, current_price) VALUES (source.product_key, source.product_id, source.product_name, source.product_category, source.product_brand, source.current_price);

-- 29 InsertNew dim_country
INSERT INTO shopstream.dim_country (country_key, country_name) SELECT country_key, country_name FROM (SELECT country_key, country_name FROM (SELECT country_key, country_name, ROW_NUMBER() OVER (PARTITION BY country_key ORDER BY country_key ASC NULLS FIRST, country_name ASC NULLS FIRST) AS load_rank FROM stage_dim_country) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.dim_country AS target WHERE target.country_key = source.country_key);

-- 30 InsertNew dim_city
INSERT INTO shopstream.dim_city (city_key, city_name, country_key) SELECT city_key, city_name, country_key FROM (SELECT city_key, city_name, country_key FROM (SELECT city_key, city_name, country_key, ROW_NUMBER() OVER (PARTITION BY city_key ORDER BY city_key ASC NULLS FIRST, city_name ASC NULLS FIRST, country_key ASC NULLS FIRST) AS load_rank FROM stage_dim_city) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.dim_city AS target WHERE target.city_key = source.city_key);

-- 31 InsertNew dim_shipping_address
INSERT INTO shopstream.dim_shipping_address (shipping_address_key, shipping_address, postal_code, city_key) SELECT shipping_address_key, shipping_address, postal_code, city_key FROM (SELECT shipping_address_key, shipping_address, postal_code, city_key FROM (SELECT shipping_address_key, shipping_address, postal_code, city_key, ROW_NUMBER() OVER (PARTITION BY shipping_address_key ORDER BY shipping_address_key ASC NULLS FIRST, shipping_address ASC NULLS FIRST, postal_code ASC NULLS FIRST, city_key ASC NULLS FIRST) AS load_rank FROM stage_dim_shipping_address) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.dim_shipping_address AS target WHERE target.shipping_address_key = source.shipping_address_key);

-- 32 InsertNew dim_device
INSERT INTO shopstream.dim_device (device_key, device_type, browser) SELECT device_key, device_type, browser FROM (SELECT device_key, device_type, browser FROM (SELECT device_key, device_type, browser, ROW_NUMBER() OVER (PARTITION BY device_key ORDER BY device_key ASC NULLS FIRST, device_type ASC NULLS FIRST, browser ASC NULLS FIRST) AS load_rank FROM stage_dim_device) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.dim_device AS target WHERE target.device_key = source.device_key);

-- 33 InsertNew dim_marketing
INSERT INTO shopstream.dim_marketing (marketing_key, referral_source, campaign, coupon_code, coupon_code_flag) SELECT marketing_key, referral_source, campaign, coupon_code, coupon_code_flag FROM (SELECT marketing_key, referral_source, campaign, coupon_code, coupon_code_flag FROM (SELECT marketing_key, referral_source, campaign, coupon_code, coupon_code_flag, ROW_NUMBER() OVER (PARTITION BY marketing_key ORDER BY marketing_key ASC NULLS FIRST, referral_source ASC NULLS FIRST, campaign ASC NULLS FIRST, coupon_code ASC NULLS FIRST, coupon_code_flag ASC NULLS FIRST) AS load_rank FROM stage_dim_marketing) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.dim_marketing AS target WHERE target.marketing_key = source.marketing_key);

-- 34 InsertNew dim_order_flags
INSERT INTO shopstream.dim_order_flags (order_flags_key, payment_method, payment_status, transaction_status, action_type, is_first_purchase, risk_level, fraud_review) SELECT order_flags_key, payment_method, payment_status, transaction_status, action_type, is_first_purchase, risk_level, fraud_review FROM (SELECT order_flags_key, payment_method, payment_status, transaction_status, action_type, is_first_purchase, risk_level, fraud_review FROM (SELECT order_flags_key, payment_method, payment_status, transaction_status, action_type, is_first_purchase, risk_level, fraud_review, ROW_NUMBER() OVER (PARTITION BY order_flags_key ORDER BY order_flags_key ASC NULLS FIRST, payment_method ASC NULLS FIRST, payment_status ASC NULLS FIRST, transaction_status ASC NULLS FIRST, action_type ASC NULLS FIRST, is_first_purchase ASC NULLS FIRST, risk_level ASC NULLS FIRST, fraud_review ASC NULLS FIRST) AS load_rank FROM stage_dim_order_flags) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.dim_order_flags AS target WHERE target.order_flags_key = source.order_flags_key);

-- 35 InsertNew final_fact
INSERT INTO shopstream.final_fact (event_id, event_timestamp, date_time_key, user_key, product_key, country_key, city_key, shipping_address_key, device_key, marketing_key, order_flags_key, quantity, unit_price, total_amount, currency, feedback_score, fraud_score, fraud_rules, repairs, _source, _position, _arrival_time) SELECT event_id, event_timestamp, date_time_key, user_key, product_key, country_key, city_key, shipping_address_key, device_key, marketing_key, order_flags_key, quantity, unit_price, total_amount, currency, feedback_score, fraud_score, fraud_rules, repairs, _source, _position, _arrival_time FROM (SELECT event_id, event_timestamp, date_time_key, user_key, product_key, country_key, city_key, shipping_address_key, device_key, marketing_key, order_flags_key, quantity, unit_price, total_amount, currency, feedback_score, fraud_score, fraud_rules, repairs, _source, _position, _arrival_time FROM (SELECT event_id, event_timestamp, date_time_key, user_key, product_key, country_key, city_key, shipping_address_key, device_key, marketing_key, order_flags_key, quantity, unit_price, total_amount, currency, feedback_score, fraud_score, fraud_rules, repairs, _source, _position, _arrival_time, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY event_id ASC NULLS FIRST, event_timestamp ASC NULLS FIRST, date_time_key ASC NULLS FIRST, user_key ASC NULLS FIRST, product_key ASC NULLS FIRST, country_key ASC NULLS FIRST, city_key ASC NULLS FIRST, shipping_address_key ASC NULLS FIRST, device_key ASC NULLS FIRST, marketing_key ASC NULLS FIRST, order_flags_key ASC NULLS FIRST, quantity ASC NULLS FIRST, unit_price ASC NULLS FIRST, total_amount ASC NULLS FIRST, currency ASC NULLS FIRST, feedback_score ASC NULLS FIRST, fraud_score ASC NULLS FIRST, fraud_rules ASC NULLS FIRST, repairs ASC NULLS FIRST, _source ASC NULLS FIRST, _position ASC NULLS FIRST, _arrival_time ASC NULLS FIRST) AS load_rank FROM stage_final_fact) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.final_fact AS target WHERE target.event_id = source.event_id);

-- 36 InsertNew rejected
INSERT INTO shopstream.rejected (rejected_key, event_id, entity, reasons, received_at, received_date, payload, payload_encoding, _source, _position, _object) SELECT rejected_key, event_id, entity, reasons, received_at, received_date, payload, payload_encoding, _source, _position, _object FROM (SELECT rejected_key, event_id, entity, reasons, received_at, received_date, payload, payload_encoding, _source, _position, _object FROM (SELECT rejected_key, event_id, entity, reasons, received_at, received_date, payload, payload_encoding, _source, _position, _object, ROW_NUMBER() OVER (PARTITION BY rejected_key ORDER BY rejected_key ASC NULLS FIRST, event_id ASC NULLS FIRST, entity ASC NULLS FIRST, reasons ASC NULLS FIRST, received_at ASC NULLS FIRST, received_date ASC NULLS FIRST, payload ASC NULLS FIRST, payload_encoding ASC NULLS FIRST, _source ASC NULLS FIRST, _position ASC NULLS FIRST, _object ASC NULLS FIRST) AS load_rank FROM stage_rejected) AS ranked WHERE load_rank = 1) AS source WHERE NOT EXISTS (SELECT 1 FROM shopstream.rejected AS target WHERE target.rejected_key = source.rejected_key);

-- 37 AuditBatch -
INSERT INTO shopstream.load_audit (batch_id, manifest_key, manifest_checksum, started_at, finished_at, state, error) VALUES ('20261202T10-20261202T11-3f2a9c0d11b7e4a5', 'gold/_manifests/20261202T10-20261202T11-3f2a9c0d11b7e4a5.json', '9f2c4a1b0e7d6c5b4a3928171605f4e3d2c1b0a9f8e7d6c5b4a39281716050f4', SYSDATE, GETDATE(), 'LOADED', NULL);

