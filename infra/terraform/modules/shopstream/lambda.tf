# Functions: provided.al2023 on arm64, the zip built by
#   cargo lambda build --release --arm64 --output-format zip
# (target/lambda/<function>/bootstrap.zip). Memory and timeout match template.yaml.

locals {
  ingest_api_kafka_env = local.sink_kafka ? {
    KAFKA_BOOTSTRAP_SERVERS = join(",", var.kafka_bootstrap_servers)
    KAFKA_TOPIC             = var.kafka_topic
    KAFKA_SECURITY_PROTOCOL = var.kafka_security_protocol
  } : {}

  # Only the ARN: the function reads the credentials at cold start (and after a rotation), so
  # they are never in its environment or in Terraform state.
  ingest_api_sasl_env = local.ingest_kafka_sasl ? {
    KAFKA_SASL_SECRET_ARN = var.kafka_secret_arn
  } : {}

  quarantine_replay_kafka_env = local.replay_kafka ? {
    KAFKA_BOOTSTRAP_SERVERS = join(",", var.kafka_bootstrap_servers)
    KAFKA_TOPIC             = var.kafka_topic
    KAFKA_SECURITY_PROTOCOL = var.kafka_security_protocol
  } : {}

  # Only the ARN: the function reads the credentials at cold start.
  quarantine_replay_sasl_env = local.replay_kafka_sasl ? {
    KAFKA_SASL_SECRET_ARN = var.kafka_secret_arn
  } : {}
}

# ------------------------------------------------------------------ ingest-api
resource "aws_lambda_function" "ingest_api" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only; a DLQ applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the HTTP API stage throttling (api_throttling_*); throttles alarm.
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs over TLS; it joins a VPC (vpc_config below) only for a Kafka sink in private subnets.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the deploying account owns; artifacts come from CI builds.
  function_name    = "${local.prefix}-ingest-api"
  description      = "POST /v1/events and /v1/orders - validate, normalise, put on the stream"
  role             = aws_iam_role.ingest_api.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifacts_dir}/ingest-api/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifacts_dir}/ingest-api/bootstrap.zip")
  memory_size      = 512
  timeout          = 15
  kms_key_arn      = aws_kms_key.data.arn
  tags             = local.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.ingest_api.name
  }

  dynamic "vpc_config" {
    for_each = local.ingest_kafka_in_vpc ? [1] : []
    content {
      subnet_ids         = var.kafka_subnet_ids
      security_group_ids = [var.kafka_security_group_id]
    }
  }

  environment {
    variables = merge({
      RUST_LOG                = var.log_level
      EVENTS_SINK             = var.events_sink
      ORDERS_SINK             = var.orders_sink
      KINESIS_STREAM_NAME     = aws_kinesis_stream.events.name
      ORDERS_TABLE            = aws_dynamodb_table.orders.name
      IDEMPOTENCY_TABLE       = aws_dynamodb_table.idempotency.name
      IDEMPOTENCY_TTL_SECONDS = tostring(var.idempotency_ttl_seconds)
      MAX_FUTURE_SKEW_SECONDS = tostring(var.max_future_skew_seconds)
    }, local.ingest_api_kafka_env, local.ingest_api_sasl_env)
  }

  depends_on = [aws_iam_role_policy.ingest_api]
}

# ------------------------------------------------------------------ stream-enrich
resource "aws_lambda_function" "stream_enrich" {
  #checkov:skip=CKV_AWS_116:Invoked by event source mappings only; failed batches go to the mappings' on-failure SQS destination.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the mappings (shards x parallelization factor, Kafka pollers).
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs over TLS; the Kafka mapping reaches private brokers through its own VPC configuration.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the deploying account owns; artifacts come from CI builds.
  function_name    = "${local.prefix}-stream-enrich"
  description      = "Kinesis / Kafka - decode, validate, clean, enrich, score - silver Parquet, quarantine, FraudSuspected"
  role             = aws_iam_role.stream_enrich.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifacts_dir}/stream-enrich/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifacts_dir}/stream-enrich/bootstrap.zip")
  memory_size      = 1024
  timeout          = 120
  kms_key_arn      = aws_kms_key.data.arn
  tags             = local.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.stream_enrich.name
  }

  environment {
    variables = merge({
      RUST_LOG                = var.log_level
      LAKE_BUCKET             = aws_s3_bucket.lake.id
      PROFILE_TABLE           = aws_dynamodb_table.profiles.name
      VELOCITY_TABLE          = aws_dynamodb_table.velocity.name
      EVENT_BUS_NAME          = aws_cloudwatch_event_bus.shopstream.name
      MAX_FUTURE_SKEW_SECONDS = tostring(var.max_future_skew_seconds)
    }, var.fraud_rules_json != "" ? { FRAUD_RULES_JSON = var.fraud_rules_json } : {})
  }

  depends_on = [aws_iam_role_policy.stream_enrich]
}

# ------------------------------------------------------------------ orders-to-bronze
resource "aws_lambda_function" "orders_to_bronze" {
  #checkov:skip=CKV_AWS_116:Invoked by the DynamoDB Streams mapping only; failed batches go to its on-failure SQS destination.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the table's stream shards.
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs (DynamoDB Streams, S3) over TLS; no VPC resources to reach.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the deploying account owns; artifacts come from CI builds.
  function_name    = "${local.prefix}-orders-to-bronze"
  description      = "DynamoDB Streams (orders) - gzipped JSON lines in bronze/orders"
  role             = aws_iam_role.orders_to_bronze.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifacts_dir}/orders-to-bronze/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifacts_dir}/orders-to-bronze/bootstrap.zip")
  memory_size      = 256
  timeout          = 60
  kms_key_arn      = aws_kms_key.data.arn
  tags             = local.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.orders_to_bronze.name
  }

  environment {
    variables = {
      RUST_LOG     = var.log_level
      LAKE_BUCKET  = aws_s3_bucket.lake.id
      BRONZE_TABLE = "orders"
    }
  }

  depends_on = [aws_iam_role_policy.orders_to_bronze]
}

resource "aws_lambda_function" "quarantine_replay" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by an operator; the answer reports every outcome, nothing is queued.
  #checkov:skip=CKV_AWS_115:Manual invocations only; reserving concurrency would take account capacity.
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs (S3, Kinesis, SQS) over TLS; it joins a VPC (vpc_config below) only to reach Kafka brokers in private subnets.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the deploying account owns; artifacts come from CI builds.
  function_name    = "${local.prefix}-quarantine-replay"
  description      = "Manual - corrected quarantine entries and DLQ'd stream ranges back onto the stream"
  role             = aws_iam_role.quarantine_replay.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifacts_dir}/quarantine-replay/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifacts_dir}/quarantine-replay/bootstrap.zip")
  memory_size      = 512
  timeout          = 900
  kms_key_arn      = aws_kms_key.data.arn
  tags             = local.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.quarantine_replay.name
  }

  dynamic "vpc_config" {
    for_each = local.replay_kafka_in_vpc ? [1] : []
    content {
      subnet_ids         = var.kafka_subnet_ids
      security_group_ids = [var.kafka_security_group_id]
    }
  }

  environment {
    variables = merge({
      RUST_LOG                = var.log_level
      LAKE_BUCKET             = aws_s3_bucket.lake.id
      STREAM_NAME             = aws_kinesis_stream.events.name
      DLQ_QUEUE_URL           = aws_sqs_queue.stream_enrich_dlq.url
      MAX_FUTURE_SKEW_SECONDS = tostring(var.max_future_skew_seconds)
    }, local.quarantine_replay_kafka_env, local.quarantine_replay_sasl_env)
  }

  depends_on = [aws_iam_role_policy.quarantine_replay]
}

resource "aws_lambda_function" "s3_cleanup" {
  #checkov:skip=CKV_AWS_116:Invoked by EventBridge (the cleanup rule, whose target has a dead-letter queue) and by operators; a failed run is repeated by the next CleanupDue.
  #checkov:skip=CKV_AWS_115:Runs once per BatchLoaded / CleanupDue; concurrent runs are safe (CLEANED is a conditional write).
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs (S3, DynamoDB, EventBridge) over TLS; no VPC resources to reach.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the deploying account owns; artifacts come from CI builds.
  function_name    = "${local.prefix}-s3-cleanup"
  description      = "BatchLoaded / CleanupDue - deletes what a LOADED batch lists once past retention, then CLEANED"
  role             = aws_iam_role.s3_cleanup.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifacts_dir}/s3-cleanup/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifacts_dir}/s3-cleanup/bootstrap.zip")
  memory_size      = 512
  timeout          = 900
  kms_key_arn      = aws_kms_key.data.arn
  tags             = local.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.s3_cleanup.name
  }

  environment {
    variables = {
      RUST_LOG              = var.log_level
      LAKE_BUCKET           = aws_s3_bucket.lake.id
      BATCHES_TABLE         = aws_dynamodb_table.batches.name
      EVENT_BUS_NAME        = aws_cloudwatch_event_bus.shopstream.name
      CLEANUP_PREFIXES      = "gold/,silver/"
      GOLD_RETENTION_DAYS   = tostring(var.gold_retention_days)
      SILVER_RETENTION_DAYS = tostring(var.silver_retention_days)
      DRY_RUN               = tostring(var.cleanup_dry_run)
    }
  }

  depends_on = [aws_iam_role_policy.s3_cleanup]
}

# ------------------------------------------------------------------ gold-transform
resource "aws_lambda_function" "gold_transform" {
  #checkov:skip=CKV_AWS_116:Invoked by the TransformDue rule only; its target has a DLQ (events_dlq) and a retry policy.
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs (S3, DynamoDB, EventBridge) over TLS; no VPC resources to reach.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the deploying account owns; artifacts come from CI builds.
  function_name    = "${local.prefix}-gold-transform"
  description      = "Silver batch - star-flake gold Parquet and manifest (jobs/sql on DataFusion), batch ledger"
  role             = aws_iam_role.gold_transform.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifacts_dir}/gold-transform/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifacts_dir}/gold-transform/bootstrap.zip")
  memory_size      = 3008
  timeout          = 900
  # One transform at a time: batches of overlapping dates must see each other's event index.
  reserved_concurrent_executions = 1
  kms_key_arn                    = aws_kms_key.data.arn
  tags                           = local.tags

  ephemeral_storage {
    size = 4096
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.gold_transform.name
  }

  environment {
    variables = {
      RUST_LOG        = var.log_level
      LAKE_BUCKET     = aws_s3_bucket.lake.id
      BATCHES_TABLE   = aws_dynamodb_table.batches.name
      EVENT_BUS_NAME  = aws_cloudwatch_event_bus.shopstream.name
      MAX_BATCH_ROWS  = "600000"
      MAX_BATCH_BYTES = "104857600"
    }
  }

  depends_on = [aws_iam_role_policy.gold_transform]
}

# ------------------------------------------------------------------ event source mappings
resource "aws_lambda_event_source_mapping" "stream_enrich_kinesis" {
  function_name                      = aws_lambda_function.stream_enrich.arn
  event_source_arn                   = var.stream_enhanced_fan_out ? aws_kinesis_stream_consumer.stream_enrich[0].arn : aws_kinesis_stream.events.arn
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.stream_batch_size
  maximum_batching_window_in_seconds = var.stream_maximum_batching_window_seconds
  parallelization_factor             = var.stream_parallelization_factor
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.stream_maximum_retry_attempts
  maximum_record_age_in_seconds      = var.stream_maximum_record_age_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.stream_enrich_dlq.arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "stream_enrich_msk" {
  count                              = local.kafka_msk ? 1 : 0
  function_name                      = aws_lambda_function.stream_enrich.arn
  event_source_arn                   = var.msk_cluster_arn
  topics                             = [var.kafka_topic]
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.stream_batch_size
  maximum_batching_window_in_seconds = var.stream_maximum_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.stream_maximum_retry_attempts
  maximum_record_age_in_seconds      = var.stream_maximum_record_age_seconds

  amazon_managed_kafka_event_source_config {
    consumer_group_id = var.kafka_consumer_group_id
  }

  dynamic "source_access_configuration" {
    for_each = local.has_kafka_secret ? [1] : []
    content {
      type = "SASL_SCRAM_512_AUTH"
      uri  = var.kafka_secret_arn
    }
  }

  # Provisioned mode: required for the Kafka error-handling controls above.
  provisioned_poller_config {
    minimum_pollers = var.kafka_minimum_pollers
    maximum_pollers = var.kafka_maximum_pollers
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.stream_enrich_dlq.arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "stream_enrich_self_managed_kafka" {
  count                              = local.kafka_self_managed ? 1 : 0
  function_name                      = aws_lambda_function.stream_enrich.arn
  topics                             = [var.kafka_topic]
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.stream_batch_size
  maximum_batching_window_in_seconds = var.stream_maximum_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.stream_maximum_retry_attempts
  maximum_record_age_in_seconds      = var.stream_maximum_record_age_seconds

  self_managed_event_source {
    endpoints = {
      KAFKA_BOOTSTRAP_SERVERS = join(",", var.kafka_bootstrap_servers)
    }
  }

  self_managed_kafka_event_source_config {
    consumer_group_id = var.kafka_consumer_group_id
  }

  dynamic "source_access_configuration" {
    for_each = local.has_kafka_secret ? [1] : []
    content {
      type = "SASL_SCRAM_512_AUTH"
      uri  = var.kafka_secret_arn
    }
  }

  dynamic "source_access_configuration" {
    for_each = local.self_managed_in_vpc ? var.kafka_subnet_ids : []
    content {
      type = "VPC_SUBNET"
      uri  = "subnet:${source_access_configuration.value}"
    }
  }

  dynamic "source_access_configuration" {
    for_each = local.self_managed_in_vpc ? [var.kafka_security_group_id] : []
    content {
      type = "VPC_SECURITY_GROUP"
      uri  = "security_group:${source_access_configuration.value}"
    }
  }

  provisioned_poller_config {
    minimum_pollers = var.kafka_minimum_pollers
    maximum_pollers = var.kafka_maximum_pollers
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.stream_enrich_dlq.arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "orders_to_bronze" {
  function_name                      = aws_lambda_function.orders_to_bronze.arn
  event_source_arn                   = aws_dynamodb_table.orders.stream_arn
  starting_position                  = "TRIM_HORIZON"
  batch_size                         = var.orders_batch_size
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.orders_maximum_retry_attempts
  maximum_record_age_in_seconds      = var.orders_maximum_record_age_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.orders_to_bronze_dlq.arn
    }
  }
}
