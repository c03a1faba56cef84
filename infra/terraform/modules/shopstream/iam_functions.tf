# One role per function, scoped to the resources it touches. The only "*" resources are the
# X-Ray actions (no resource-level permissions) and, when Kafka needs ENIs, the AWS managed
# AWSLambdaVPCAccessExecutionRole (EC2 network-interface actions cannot be scoped).

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# ------------------------------------------------------------------ ingest-api
resource "aws_iam_role" "ingest_api" {
  name               = "${local.prefix}-ingest-api"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "ingest_api" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.ingest_api.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }

  statement {
    sid       = "Idempotency"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }

  dynamic "statement" {
    for_each = local.sink_kinesis ? [1] : []
    content {
      sid       = "KinesisSink"
      actions   = ["kinesis:PutRecords", "kinesis:PutRecord"]
      resources = [aws_kinesis_stream.events.arn]
    }
  }

  dynamic "statement" {
    for_each = local.sink_dynamodb ? [1] : []
    content {
      sid       = "DynamoDbSink"
      actions   = ["dynamodb:PutItem"]
      resources = [aws_dynamodb_table.orders.arn]
    }
  }

  dynamic "statement" {
    for_each = local.ingest_kafka_sasl ? [1] : []
    content {
      sid       = "KafkaSaslSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.kafka_secret_arn]
    }
  }
}

resource "aws_iam_role_policy" "ingest_api" {
  name   = "ingest-api"
  role   = aws_iam_role.ingest_api.id
  policy = data.aws_iam_policy_document.ingest_api.json
}

resource "aws_iam_role_policy_attachment" "ingest_api_vpc" {
  count      = local.ingest_kafka_in_vpc ? 1 : 0
  role       = aws_iam_role.ingest_api.name
  policy_arn = local.vpc_access_policy
}

# ------------------------------------------------------------------ stream-enrich
resource "aws_iam_role" "stream_enrich" {
  name               = "${local.prefix}-stream-enrich"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "stream_enrich" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.stream_enrich.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }

  statement {
    sid       = "ReadEventStream"
    actions   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"]
    resources = [aws_kinesis_stream.events.arn]
  }

  dynamic "statement" {
    for_each = var.stream_enhanced_fan_out ? [1] : []
    content {
      sid       = "ReadThroughFanOutConsumer"
      actions   = ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"]
      resources = [aws_kinesis_stream_consumer.stream_enrich[0].arn]
    }
  }

  statement {
    sid = "WriteSilverAndQuarantine"
    # DeleteObject: a partly failed batch's objects are cut back before the retry.
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.lake.arn}/silver/*", "${aws_s3_bucket.lake.arn}/quarantine/*"]
  }

  statement {
    sid       = "ReadProfiles"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem"]
    resources = [aws_dynamodb_table.profiles.arn]
  }

  statement {
    sid       = "OrderVelocity"
    actions   = ["dynamodb:UpdateItem", "dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.velocity.arn]
  }

  statement {
    sid       = "PublishFraudAlerts"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.shopstream.arn]
  }

  statement {
    sid       = "FailedBatchesToDlq"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.stream_enrich_dlq.arn]
  }

  dynamic "statement" {
    for_each = local.kafka_msk ? [1] : []
    content {
      sid       = "ReadMskTopic"
      actions   = ["kafka:DescribeCluster", "kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers", "kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration", "kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup", "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
      resources = [var.msk_cluster_arn, local.msk_topic_arn, local.msk_group_arn]
    }
  }

  dynamic "statement" {
    for_each = local.kafka_source_secret ? [1] : []
    content {
      sid       = "KafkaSaslSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.kafka_secret_arn]
    }
  }
}

resource "aws_iam_role_policy" "stream_enrich" {
  name   = "stream-enrich"
  role   = aws_iam_role.stream_enrich.id
  policy = data.aws_iam_policy_document.stream_enrich.json
}

resource "aws_iam_role_policy_attachment" "stream_enrich_vpc" {
  count      = local.kafka_needs_enis ? 1 : 0
  role       = aws_iam_role.stream_enrich.name
  policy_arn = local.vpc_access_policy
}

# ------------------------------------------------------------------ orders-to-bronze
resource "aws_iam_role" "orders_to_bronze" {
  name               = "${local.prefix}-orders-to-bronze"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "orders_to_bronze" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.orders_to_bronze.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }

  statement {
    sid       = "ReadOrdersStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = ["${aws_dynamodb_table.orders.arn}/stream/*"]
  }

  statement {
    sid       = "WriteBronzeAndQuarantine"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.lake.arn}/bronze/orders/*", "${aws_s3_bucket.lake.arn}/quarantine/*"]
  }

  statement {
    sid       = "FailedBatchesToDlq"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.orders_to_bronze_dlq.arn]
  }
}

resource "aws_iam_role_policy" "orders_to_bronze" {
  name   = "orders-to-bronze"
  role   = aws_iam_role.orders_to_bronze.id
  policy = data.aws_iam_policy_document.orders_to_bronze.json
}

# ------------------------------------------------------------------ quarantine-replay
resource "aws_iam_role" "quarantine_replay" {
  name               = "${local.prefix}-quarantine-replay"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "quarantine_replay" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.quarantine_replay.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }

  statement {
    sid       = "ListQuarantine"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["quarantine/*"]
    }
  }

  statement {
    sid       = "ReadAndMoveQuarantine"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.lake.arn}/quarantine/*"]
  }

  statement {
    sid       = "ReadAndReDriveStream"
    actions   = ["kinesis:PutRecords", "kinesis:GetShardIterator", "kinesis:GetRecords"]
    resources = [aws_kinesis_stream.events.arn]
  }

  statement {
    sid       = "DrainStreamDlq"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.stream_enrich_dlq.arn]
  }

  dynamic "statement" {
    for_each = local.replay_kafka_sasl ? [1] : []
    content {
      sid       = "KafkaSaslSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.kafka_secret_arn]
    }
  }
}

resource "aws_iam_role_policy_attachment" "quarantine_replay_vpc" {
  count      = local.replay_kafka_in_vpc ? 1 : 0
  role       = aws_iam_role.quarantine_replay.name
  policy_arn = local.vpc_access_policy
}

resource "aws_iam_role_policy" "quarantine_replay" {
  name   = "quarantine-replay"
  role   = aws_iam_role.quarantine_replay.id
  policy = data.aws_iam_policy_document.quarantine_replay.json
}

# ------------------------------------------------------------------ s3-cleanup
resource "aws_iam_role" "s3_cleanup" {
  name               = "${local.prefix}-s3-cleanup"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "s3_cleanup" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.s3_cleanup.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }

  statement {
    sid       = "ListCleanupPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["gold/*", "silver/*"]
    }
  }

  statement {
    sid       = "ReadManifestsAndPlans"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/gold/_manifests/*", "${aws_s3_bucket.lake.arn}/gold/_plans/*"]
  }

  statement {
    sid       = "DeleteUnderCleanupPrefixes"
    actions   = ["s3:DeleteObject"]
    resources = ["${aws_s3_bucket.lake.arn}/gold/*", "${aws_s3_bucket.lake.arn}/silver/*"]
  }

  statement {
    sid       = "NeverDeleteLedgerRecords"
    effect    = "Deny"
    actions   = ["s3:DeleteObject"]
    resources = ["${aws_s3_bucket.lake.arn}/gold/_manifests/*", "${aws_s3_bucket.lake.arn}/gold/_plans/*", "${aws_s3_bucket.lake.arn}/gold/_event_index/*"]
  }

  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.batches.arn, "${aws_dynamodb_table.batches.arn}/index/by_state"]
  }

  statement {
    sid       = "BatchCleanedEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.shopstream.arn]
  }
}

resource "aws_iam_role_policy" "s3_cleanup" {
  name   = "s3-cleanup"
  role   = aws_iam_role.s3_cleanup.id
  policy = data.aws_iam_policy_document.s3_cleanup.json
}

# ------------------------------------------------------------------ gold-transform
resource "aws_iam_role" "gold_transform" {
  name               = "${local.prefix}-gold-transform"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "gold_transform" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.gold_transform.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }

  statement {
    sid       = "ListLake"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["silver/transaction/*", "quarantine/transaction/*", "quarantine/unknown/*", "gold/_event_index/*"]
    }
  }

  statement {
    sid       = "ReadInputsAndGold"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/silver/transaction/*", "${aws_s3_bucket.lake.arn}/quarantine/*", "${aws_s3_bucket.lake.arn}/gold/*"]
  }

  statement {
    sid       = "WriteGold"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.lake.arn}/gold/*"]
  }

  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.batches.arn, "${aws_dynamodb_table.batches.arn}/index/by_state"]
  }

  statement {
    sid       = "BatchEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.shopstream.arn]
  }
}

resource "aws_iam_role_policy" "gold_transform" {
  name   = "gold-transform"
  role   = aws_iam_role.gold_transform.id
  policy = data.aws_iam_policy_document.gold_transform.json
}
