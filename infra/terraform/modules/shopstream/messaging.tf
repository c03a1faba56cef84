# ------------------------------------------------------------------ dead-letter queues
resource "aws_sqs_queue" "stream_enrich_dlq" {
  name                              = "${local.prefix}-stream-enrich-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.data.arn
  kms_data_key_reuse_period_seconds = 3600
  tags                              = local.tags
}

resource "aws_sqs_queue" "orders_to_bronze_dlq" {
  name                              = "${local.prefix}-orders-to-bronze-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.data.arn
  kms_data_key_reuse_period_seconds = 3600
  tags                              = local.tags
}

resource "aws_sqs_queue" "events_dlq" {
  name                              = "${local.prefix}-events-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.data.arn
  kms_data_key_reuse_period_seconds = 3600
  tags                              = local.tags
}

data "aws_iam_policy_document" "events_dlq" {
  statement {
    sid       = "RulesOfThisStackDeadLetter"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events_dlq.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.rules_arn_pattern]
    }
  }
}

resource "aws_sqs_queue_policy" "events_dlq" {
  queue_url = aws_sqs_queue.events_dlq.id
  policy    = data.aws_iam_policy_document.events_dlq.json
}

# ------------------------------------------------------------------ alarms topic
resource "aws_sns_topic" "alarms" {
  name              = "${local.prefix}-alarms"
  kms_master_key_id = aws_kms_key.data.arn
  tags              = local.tags
}

data "aws_iam_policy_document" "alarms" {
  statement {
    sid       = "CloudWatchAlarmsOfThisAccount"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "FailureRulesOfThisStack"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.rules_arn_pattern]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms.json
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email != "" ? 1 : 0
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# ------------------------------------------------------------------ event bus
resource "aws_cloudwatch_event_bus" "shopstream" {
  name = local.prefix
  tags = local.tags
}

resource "aws_cloudwatch_event_archive" "shopstream" {
  name             = "${local.prefix}-archive"
  event_source_arn = aws_cloudwatch_event_bus.shopstream.arn
  retention_days   = 30
  description      = "Every shopstream event (manifests, schedules, alerts, EMR / Redshift status) for replay."
}

# ------------------------------------------------------------------ log groups
resource "aws_cloudwatch_log_group" "ingest_api" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, the operator's cost / compliance choice; the records themselves are kept in the lake.
  name              = "/aws/lambda/${local.prefix}-ingest-api"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "stream_enrich" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, the operator's cost / compliance choice; the records themselves are kept in the lake.
  name              = "/aws/lambda/${local.prefix}-stream-enrich"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "orders_to_bronze" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, the operator's cost / compliance choice; the records themselves are kept in the lake.
  name              = "/aws/lambda/${local.prefix}-orders-to-bronze"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "quarantine_replay" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, the operator's cost / compliance choice; the records themselves are kept in the lake.
  name              = "/aws/lambda/${local.prefix}-quarantine-replay"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "s3_cleanup" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, the operator's cost / compliance choice; the records themselves are kept in the lake.
  name              = "/aws/lambda/${local.prefix}-s3-cleanup"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, the operator's cost / compliance choice; the records themselves are kept in the lake.
  name              = "/aws/apigateway/${local.prefix}-api"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}
