# The same outputs as template.yaml (snake_case), checked by infra/tests/test_parity.py.

output "api_url" {
  description = "Base URL of the ingestion API (POST <url>/v1/events)"
  value       = aws_apigatewayv2_api.http.api_endpoint
}

output "lake_bucket_name" {
  description = "The lake bucket (bronze/, silver/, quarantine/, gold/)"
  value       = aws_s3_bucket.lake.id
}

output "event_stream_name" {
  description = "Kinesis stream ingest-api writes and stream-enrich reads"
  value       = aws_kinesis_stream.events.name
}

output "orders_table_name" {
  description = "DynamoDB orders table (stream to orders-to-bronze)"
  value       = aws_dynamodb_table.orders.name
}

output "profiles_table_name" {
  description = "DynamoDB customer profiles table (stream-enrich)"
  value       = aws_dynamodb_table.profiles.name
}

output "velocity_table_name" {
  description = "DynamoDB per-user order history of the velocity rule (stream-enrich)"
  value       = aws_dynamodb_table.velocity.name
}

output "idempotency_table_name" {
  description = "DynamoDB Idempotency-Key table (ingest-api)"
  value       = aws_dynamodb_table.idempotency.name
}

output "event_bus_name" {
  description = "EventBridge bus of shopstream events"
  value       = aws_cloudwatch_event_bus.shopstream.name
}

output "alarm_topic_arn" {
  description = "SNS topic receiving every alarm"
  value       = aws_sns_topic.alarms.arn
}

output "data_key_arn" {
  description = "KMS key encrypting the lake, stream, tables, queues, topic and logs"
  value       = aws_kms_key.data.arn
}

output "ingest_api_function_name" {
  description = "ingest-api function"
  value       = aws_lambda_function.ingest_api.function_name
}

output "stream_enrich_function_name" {
  description = "stream-enrich function"
  value       = aws_lambda_function.stream_enrich.function_name
}

output "redshift_copy_function_name" {
  description = "redshift-copy function"
  value       = aws_lambda_function.redshift_copy.function_name
}

output "orders_to_bronze_function_name" {
  description = "orders-to-bronze function"
  value       = aws_lambda_function.orders_to_bronze.function_name
}

output "s3_cleanup_function_name" {
  description = "s3-cleanup function"
  value       = aws_lambda_function.s3_cleanup.function_name
}

output "batches_table_name" {
  description = "DynamoDB batch ledger (gold-transform, emr-launch, redshift-copy, s3-cleanup)"
  value       = aws_dynamodb_table.batches.name
}

output "quarantine_replay_function_name" {
  description = "quarantine-replay function (invoke manually; see functions/quarantine-replay/README.md)"
  value       = aws_lambda_function.quarantine_replay.function_name
}

output "emr_launch_function_name" {
  description = "emr-launch function"
  value       = aws_lambda_function.emr_launch.function_name
}

output "stream_enrich_dlq_url" {
  description = "On-failure destination of the stream-enrich mappings"
  value       = aws_sqs_queue.stream_enrich_dlq.id
}

output "orders_to_bronze_dlq_url" {
  description = "On-failure destination of the orders-to-bronze mapping"
  value       = aws_sqs_queue.orders_to_bronze_dlq.id
}

output "events_dlq_url" {
  description = "Dead-letter queue of the EventBridge rules and schedules"
  value       = aws_sqs_queue.events_dlq.id
}

output "emr_service_role_arn" {
  description = "EMR service role (emr-launch)"
  value       = aws_iam_role.emr_service.arn
}

output "emr_instance_profile_arn" {
  description = "EMR EC2 instance profile (emr-launch)"
  value       = aws_iam_instance_profile.emr_instance.arn
}

output "redshift_copy_role_arn" {
  description = "Role to associate with the Redshift Serverless namespace for COPY from gold/"
  value       = aws_iam_role.redshift_copy.arn
}

output "redshift_workgroup_name" {
  description = "Redshift Serverless workgroup of the loads"
  value       = var.redshift_workgroup_name
}

output "redshift_database" {
  description = "Warehouse database"
  value       = var.redshift_database
}

output "redshift_schema" {
  description = "Warehouse schema"
  value       = var.redshift_schema
}

output "dashboard_name" {
  description = "CloudWatch dashboard"
  value       = aws_cloudwatch_dashboard.shopstream.dashboard_name
}
