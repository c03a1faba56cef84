# S3 sends object events to the account's default bus; manifests, EMR step and Redshift statement
# status are forwarded to the shopstream bus (archived, so a load can be replayed), where the
# later functions subscribe. Failures also go straight to the alarms topic.

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "event_forward" {
  name               = "${local.prefix}-event-forward"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "event_forward" {
  statement {
    sid       = "ForwardToShopstreamBus"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.shopstream.arn]
  }
}

resource "aws_iam_role_policy" "event_forward" {
  name   = "event-forward"
  role   = aws_iam_role.event_forward.id
  policy = data.aws_iam_policy_document.event_forward.json
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.prefix}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "PutScheduledEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.shopstream.arn]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events_dlq.arn]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.data.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

# ------------------------------------------------------------------ forwarding rules (default bus)
resource "aws_cloudwatch_event_rule" "manifest_created" {
  name        = "${local.prefix}-manifest-created"
  description = "gold/_manifests/*.json created in the lake - forwarded to the shopstream bus"
  state       = "ENABLED"
  tags        = local.tags
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    detail = {
      bucket = { name = [aws_s3_bucket.lake.id] }
      object = { key = [{ prefix = "gold/_manifests/" }] }
    }
  })
}

resource "aws_cloudwatch_event_target" "manifest_created" {
  rule      = aws_cloudwatch_event_rule.manifest_created.name
  target_id = "shopstream-bus"
  arn       = aws_cloudwatch_event_bus.shopstream.arn
  role_arn  = aws_iam_role.event_forward.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_cloudwatch_event_rule" "emr_step_status" {
  name        = "${local.prefix}-emr-step-status"
  description = "Status changes of shopstream EMR steps (step names start with \"shopstream-\") - forwarded to the shopstream bus"
  state       = "ENABLED"
  tags        = local.tags
  event_pattern = jsonencode({
    source      = ["aws.emr"]
    detail-type = ["EMR Step Status Change"]
    detail = {
      name = [{ prefix = "shopstream-" }]
    }
  })
}

resource "aws_cloudwatch_event_target" "emr_step_status" {
  rule      = aws_cloudwatch_event_rule.emr_step_status.name
  target_id = "shopstream-bus"
  arn       = aws_cloudwatch_event_bus.shopstream.arn
  role_arn  = aws_iam_role.event_forward.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_cloudwatch_event_rule" "redshift_statement_status" {
  name        = "${local.prefix}-redshift-statement-status"
  description = "Redshift Data API statement status (statement names start with \"shopstream-\", WithEvent) - forwarded to the shopstream bus"
  state       = "ENABLED"
  tags        = local.tags
  event_pattern = jsonencode({
    source      = ["aws.redshift-data"]
    detail-type = ["Redshift Data Statement Status Change"]
    detail = {
      statementName = [{ prefix = "shopstream-" }]
    }
  })
}

resource "aws_cloudwatch_event_target" "redshift_statement_status" {
  rule      = aws_cloudwatch_event_rule.redshift_statement_status.name
  target_id = "shopstream-bus"
  arn       = aws_cloudwatch_event_bus.shopstream.arn
  role_arn  = aws_iam_role.event_forward.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

# ------------------------------------------------------------------ failure rules -> alarms topic
resource "aws_cloudwatch_event_rule" "load_failed" {
  name        = "${local.prefix}-load-failed"
  description = "A shopstream Redshift load statement FAILED or was ABORTED - detail to the alarms topic (load-failed alarm counts them)"
  state       = "ENABLED"
  tags        = local.tags
  event_pattern = jsonencode({
    source      = ["aws.redshift-data"]
    detail-type = ["Redshift Data Statement Status Change"]
    detail = {
      statementName = [{ prefix = "shopstream-" }]
      state         = ["FAILED", "ABORTED"]
    }
  })
}

resource "aws_cloudwatch_event_target" "load_failed" {
  rule      = aws_cloudwatch_event_rule.load_failed.name
  target_id = "alarm-topic"
  arn       = aws_sns_topic.alarms.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  input_transformer {
    input_paths = {
      name  = "$.detail.statementName"
      id    = "$.detail.statementId"
      state = "$.detail.state"
    }
    input_template = "\"shopstream load <name> (Redshift statement <id>) is <state>; see aws redshift-data describe-statement --id <id>\""
  }
}

resource "aws_cloudwatch_event_rule" "transform_failed" {
  name        = "${local.prefix}-transform-failed"
  description = "A shopstream EMR step FAILED - detail to the alarms topic (transform-failed alarm counts them)"
  state       = "ENABLED"
  tags        = local.tags
  event_pattern = jsonencode({
    source      = ["aws.emr"]
    detail-type = ["EMR Step Status Change"]
    detail = {
      name  = [{ prefix = "shopstream-" }]
      state = ["FAILED"]
    }
  })
}

resource "aws_cloudwatch_event_target" "transform_failed" {
  rule      = aws_cloudwatch_event_rule.transform_failed.name
  target_id = "alarm-topic"
  arn       = aws_sns_topic.alarms.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  input_transformer {
    input_paths = {
      name    = "$.detail.name"
      cluster = "$.detail.clusterId"
      step    = "$.detail.stepId"
    }
    input_template = "\"shopstream EMR step <name> (<step> on cluster <cluster>) FAILED\""
  }
}

# ------------------------------------------------------------------ schedules -> shopstream bus
resource "aws_scheduler_schedule" "transform" {
  name                         = "${local.prefix}-transform"
  description                  = "TransformDue on the shopstream bus (gold-transform / emr-launch subscribe)"
  schedule_expression          = var.transform_schedule_expression
  schedule_expression_timezone = "UTC"
  state                        = "ENABLED"
  kms_key_arn                  = aws_kms_key.data.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_cloudwatch_event_bus.shopstream.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ job = "transform" })

    eventbridge_parameters {
      detail_type = "TransformDue"
      source      = "shopstream.scheduler"
    }

    dead_letter_config {
      arn = aws_sqs_queue.events_dlq.arn
    }

    retry_policy {
      maximum_retry_attempts       = 5
      maximum_event_age_in_seconds = 3600
    }
  }
}

resource "aws_cloudwatch_event_rule" "cleanup" {
  name           = "${local.prefix}-cleanup"
  description    = "BatchLoaded and the CleanupDue schedule on the shopstream bus - s3-cleanup"
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  state          = "ENABLED"
  tags           = local.tags
  event_pattern = jsonencode({
    detail-type = ["BatchLoaded", "CleanupDue"]
    source      = ["shopstream.batches", "shopstream.scheduler"]
  })
}

resource "aws_cloudwatch_event_target" "cleanup" {
  rule           = aws_cloudwatch_event_rule.cleanup.name
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  target_id      = "s3-cleanup"
  arn            = aws_lambda_function.s3_cleanup.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  retry_policy {
    maximum_retry_attempts       = 3
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_lambda_permission" "events_invoke_s3_cleanup" {
  function_name = aws_lambda_function.s3_cleanup.function_name
  action        = "lambda:InvokeFunction"
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.cleanup.arn
}

resource "aws_scheduler_schedule" "cleanup" {
  name                         = "${local.prefix}-cleanup"
  description                  = "CleanupDue on the shopstream bus (s3-cleanup subscribes)"
  schedule_expression          = var.cleanup_schedule_expression
  schedule_expression_timezone = "UTC"
  state                        = "ENABLED"
  kms_key_arn                  = aws_kms_key.data.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_cloudwatch_event_bus.shopstream.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ job = "cleanup" })

    eventbridge_parameters {
      detail_type = "CleanupDue"
      source      = "shopstream.scheduler"
    }

    dead_letter_config {
      arn = aws_sqs_queue.events_dlq.arn
    }

    retry_policy {
      maximum_retry_attempts       = 5
      maximum_event_age_in_seconds = 3600
    }
  }
}
