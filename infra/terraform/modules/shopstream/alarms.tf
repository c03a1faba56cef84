# Alarms -> the alarms topic. Names, metrics and thresholds match template.yaml.
resource "aws_cloudwatch_metric_alarm" "ingest_api_errors" {
  alarm_name          = "${local.prefix}-ingest-api-errors"
  alarm_description   = "ingest-api invocations failed (unhandled errors or timeouts)"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.ingest_api.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "ingest_api_throttles" {
  alarm_name          = "${local.prefix}-ingest-api-throttles"
  alarm_description   = "ingest-api invocations were throttled (account concurrency)"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.ingest_api.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "ingest_api_rejection_rate" {
  alarm_name          = "${local.prefix}-ingest-api-rejection-rate"
  alarm_description   = "More than rejection_rate_threshold_percent of the records posted to the API are refused"
  namespace           = "shopstream"
  metric_name         = "RejectionRate"
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.rejection_rate_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    Function = "ingest-api"
  }
}

resource "aws_cloudwatch_metric_alarm" "stream_enrich_errors" {
  alarm_name          = "${local.prefix}-stream-enrich-errors"
  alarm_description   = "stream-enrich invocations failed (the mapping retries and bisects them)"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.stream_enrich.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "stream_enrich_throttles" {
  alarm_name          = "${local.prefix}-stream-enrich-throttles"
  alarm_description   = "stream-enrich invocations were throttled"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.stream_enrich.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "stream_enrich_rejection_rate" {
  alarm_name          = "${local.prefix}-stream-enrich-rejection-rate"
  alarm_description   = "More than rejection_rate_threshold_percent of the stream's records are quarantined"
  namespace           = "shopstream"
  metric_name         = "RejectionRate"
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.rejection_rate_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    Function = "stream-enrich"
  }
}

resource "aws_cloudwatch_metric_alarm" "stream_enrich_iterator_age" {
  alarm_name          = "${local.prefix}-stream-enrich-iterator-age"
  alarm_description   = "stream-enrich is falling behind the Kinesis stream"
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = local.iterator_age_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.stream_enrich.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "stream_enrich_alert_latency" {
  alarm_name          = "${local.prefix}-stream-enrich-alert-latency"
  alarm_description   = "An invocation's p99 from arrival to FraudSuspected accepted by EventBridge exceeded alert_latency_threshold_ms (the design's 500 ms) in 2 of 3 minutes"
  namespace           = "shopstream"
  metric_name         = "ArrivalToAlertLatencyP99"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.alert_latency_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    Function = "stream-enrich"
  }
}

resource "aws_cloudwatch_metric_alarm" "stream_enrich_kafka_offset_lag" {
  count               = local.has_kafka_source ? 1 : 0
  alarm_name          = "${local.prefix}-stream-enrich-kafka-offset-lag"
  alarm_description   = "stream-enrich is falling behind the Kafka topic"
  namespace           = "AWS/Lambda"
  metric_name         = "OffsetLag"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.kafka_offset_lag_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.stream_enrich.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "orders_to_bronze_errors" {
  alarm_name          = "${local.prefix}-orders-to-bronze-errors"
  alarm_description   = "orders-to-bronze invocations failed (the mapping retries and bisects them)"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.orders_to_bronze.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "orders_to_bronze_throttles" {
  alarm_name          = "${local.prefix}-orders-to-bronze-throttles"
  alarm_description   = "orders-to-bronze invocations were throttled"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.orders_to_bronze.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "quarantine_replay_errors" {
  alarm_name          = "${local.prefix}-quarantine-replay-errors"
  alarm_description   = "A quarantine-replay invocation failed (refused request or AWS error; nothing was lost)"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.quarantine_replay.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "quarantine_replay_throttles" {
  alarm_name          = "${local.prefix}-quarantine-replay-throttles"
  alarm_description   = "quarantine-replay invocations were throttled"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.quarantine_replay.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "s3_cleanup_errors" {
  alarm_name          = "${local.prefix}-s3-cleanup-errors"
  alarm_description   = "An s3-cleanup run failed (ledger, manifest or listing error); nothing was deleted past the failure"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.s3_cleanup.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "s3_cleanup_throttles" {
  alarm_name          = "${local.prefix}-s3-cleanup-throttles"
  alarm_description   = "s3-cleanup invocations were throttled"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.s3_cleanup.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "gold_transform_errors" {
  alarm_name          = "${local.prefix}-gold-transform-errors"
  alarm_description   = "gold-transform invocations failed (the batch stays PLANNED and the next TransformDue retries it)"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.gold_transform.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "gold_transform_throttles" {
  alarm_name          = "${local.prefix}-gold-transform-throttles"
  alarm_description   = "gold-transform invocations were throttled (one runs at a time)"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.gold_transform.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "transform_too_large" {
  alarm_name          = "${local.prefix}-transform-too-large"
  alarm_description   = "A batch was over gold-transform's MAX_BATCH_ROWS / MAX_BATCH_BYTES and went to the EMR path"
  namespace           = "shopstream"
  metric_name         = "TransformTooLarge"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    Function = "gold-transform"
  }
}

resource "aws_cloudwatch_metric_alarm" "orders_to_bronze_iterator_age" {
  alarm_name          = "${local.prefix}-orders-to-bronze-iterator-age"
  alarm_description   = "orders-to-bronze is falling behind the orders table stream (it keeps 24 hours)"
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = local.iterator_age_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    FunctionName = aws_lambda_function.orders_to_bronze.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "stream_enrich_dlq_depth" {
  alarm_name          = "${local.prefix}-stream-enrich-dlq-depth"
  alarm_description   = "stream-enrich batches gave up after retries / record age; their positions wait in the DLQ"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    QueueName = aws_sqs_queue.stream_enrich_dlq.name
  }
}

resource "aws_cloudwatch_metric_alarm" "orders_to_bronze_dlq_depth" {
  alarm_name          = "${local.prefix}-orders-to-bronze-dlq-depth"
  alarm_description   = "orders-to-bronze batches gave up after retries / record age; their positions wait in the DLQ"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    QueueName = aws_sqs_queue.orders_to_bronze_dlq.name
  }
}

resource "aws_cloudwatch_metric_alarm" "events_dlq_depth" {
  alarm_name          = "${local.prefix}-events-dlq-depth"
  alarm_description   = "EventBridge rules or schedules could not deliver (manifest forwarding, schedules, failure notices)"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    QueueName = aws_sqs_queue.events_dlq.name
  }
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${local.prefix}-api-5xx"
  alarm_description   = "The ingestion API answered 5xx (sink unavailable, function errors or timeouts)"
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    ApiId = aws_apigatewayv2_api.http.id
    Stage = "$default"
  }
}

resource "aws_cloudwatch_metric_alarm" "load_failed" {
  alarm_name          = "${local.prefix}-load-failed"
  alarm_description   = "A Redshift load (statement named shopstream-*) FAILED or was ABORTED"
  namespace           = "AWS/Events"
  metric_name         = "MatchedEvents"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    RuleName = aws_cloudwatch_event_rule.load_failed.name
  }
}

resource "aws_cloudwatch_metric_alarm" "transform_failed" {
  alarm_name          = "${local.prefix}-transform-failed"
  alarm_description   = "An EMR transform step (named shopstream-*) FAILED"
  namespace           = "AWS/Events"
  metric_name         = "MatchedEvents"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = local.tags

  dimensions = {
    RuleName = aws_cloudwatch_event_rule.transform_failed.name
  }
}
