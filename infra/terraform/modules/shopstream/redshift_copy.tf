# redshift-copy: a gold manifest -> one Redshift Data API transaction; ledger LOADED / LOAD_FAILED.
# Triggered on the shopstream bus by manifests (forwarded by manifest_created), by its own
# statements' status changes, and by the LoadDue sweep.

locals {
  workgroups_arn      = "arn:${local.partition}:redshift-serverless:${local.region}:${local.account_id}:workgroup/*"
  redshift_on_cluster = var.redshift_cluster_id != ""
  redshift_cluster    = "arn:${local.partition}:redshift:${local.region}:${local.account_id}"
}

resource "aws_cloudwatch_log_group" "redshift_copy" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, the operator's cost / compliance choice; the load audit is kept in the warehouse.
  name              = "/aws/lambda/${local.prefix}-redshift-copy"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}

resource "aws_iam_role" "redshift_copy_function" {
  name               = "${local.prefix}-redshift-copy-function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "redshift_copy_function" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.redshift_copy.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }

  statement {
    sid       = "ListGold"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["gold/*"]
    }
  }

  statement {
    sid       = "ReadManifests"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/gold/_manifests/*"]
  }

  statement {
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.batches.arn, "${aws_dynamodb_table.batches.arn}/index/by_state"]
  }

  statement {
    sid       = "BatchEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.shopstream.arn]
  }

  dynamic "statement" {
    for_each = local.redshift_on_cluster ? [] : [1]
    content {
      sid       = "SubmitStatements"
      actions   = ["redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement"]
      resources = [local.workgroups_arn]
    }
  }

  dynamic "statement" {
    for_each = local.redshift_on_cluster ? [] : [1]
    content {
      sid       = "WorkgroupCredentials"
      actions   = ["redshift-serverless:GetCredentials"]
      resources = [local.workgroups_arn]
    }
  }

  dynamic "statement" {
    for_each = local.redshift_on_cluster ? [1] : []
    content {
      sid       = "SubmitClusterStatements"
      actions   = ["redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement"]
      resources = ["${local.redshift_cluster}:cluster:${var.redshift_cluster_id}"]
    }
  }

  dynamic "statement" {
    for_each = local.redshift_on_cluster ? [1] : []
    content {
      sid       = "ClusterIamCredentials"
      actions   = ["redshift:GetClusterCredentialsWithIAM"]
      resources = ["${local.redshift_cluster}:dbname:${var.redshift_cluster_id}/${var.redshift_database}"]
    }
  }

  dynamic "statement" {
    for_each = local.redshift_on_cluster && var.redshift_db_user != "" ? [1] : []
    content {
      sid     = "ClusterDbUserCredentials"
      actions = ["redshift:GetClusterCredentials"]
      resources = [
        "${local.redshift_cluster}:dbuser:${var.redshift_cluster_id}/${var.redshift_db_user}",
        "${local.redshift_cluster}:dbname:${var.redshift_cluster_id}/${var.redshift_database}",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.redshift_secret_arn != "" ? [1] : []
    content {
      sid       = "WarehouseSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.redshift_secret_arn]
    }
  }

  # DescribeStatement / GetStatementResult have no resource-level permissions; the condition
  # limits them to the statements this role submitted.
  statement {
    sid       = "FollowOwnStatements"
    actions   = ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "redshift-data:statement-owner-iam-userid"
      values   = ["$${aws:userid}"]
    }
  }
}

resource "aws_iam_role_policy" "redshift_copy_function" {
  name   = "redshift-copy-function"
  role   = aws_iam_role.redshift_copy_function.id
  policy = data.aws_iam_policy_document.redshift_copy_function.json
}

resource "aws_lambda_function" "redshift_copy" {
  #checkov:skip=CKV_AWS_116:Invoked by EventBridge rules, which retry and dead-letter (events DLQ); batches left LOADING or TRANSFORMED are swept by the load-sweep schedule.
  #checkov:skip=CKV_AWS_115:One invocation per manifest, status change or sweep; the ledger's conditional writes make concurrent ones safe.
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs (S3, DynamoDB, EventBridge, Redshift Data API) over TLS; no VPC resources to reach.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the deploying account owns; artifacts come from CI builds.
  function_name    = "${local.prefix}-redshift-copy"
  description      = "Gold manifest - one Redshift Data API transaction (COPY, dedupe, MERGE, audit); ledger LOADED / LOAD_FAILED"
  role             = aws_iam_role.redshift_copy_function.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifacts_dir}/redshift-copy/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifacts_dir}/redshift-copy/bootstrap.zip")
  memory_size      = 256
  timeout          = 60
  kms_key_arn      = aws_kms_key.data.arn
  tags             = local.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.redshift_copy.name
  }

  environment {
    variables = {
      RUST_LOG               = var.log_level
      LAKE_BUCKET            = aws_s3_bucket.lake.id
      LEDGER_TABLE           = aws_dynamodb_table.batches.name
      EVENT_BUS_NAME         = aws_cloudwatch_event_bus.shopstream.name
      REDSHIFT_WORKGROUP     = local.redshift_on_cluster ? "" : var.redshift_workgroup_name
      REDSHIFT_CLUSTER_ID    = var.redshift_cluster_id
      REDSHIFT_DB_USER       = var.redshift_db_user
      REDSHIFT_SECRET_ARN    = var.redshift_secret_arn
      REDSHIFT_DATABASE      = var.redshift_database
      REDSHIFT_SCHEMA        = var.redshift_schema
      REDSHIFT_COPY_ROLE_ARN = aws_iam_role.redshift_copy.arn
    }
  }

  depends_on = [aws_iam_role_policy.redshift_copy_function]
}

resource "aws_cloudwatch_event_rule" "redshift_copy_manifest" {
  name           = "${local.prefix}-redshift-copy-manifest"
  description    = "A gold manifest was written (forwarded by ManifestCreatedRule) - redshift-copy loads its batch"
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  state          = "ENABLED"
  tags           = local.tags
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    detail = {
      bucket = { name = [aws_s3_bucket.lake.id] }
      object = { key = [{ prefix = "gold/_manifests/" }] }
    }
  })
}

resource "aws_cloudwatch_event_target" "redshift_copy_manifest" {
  rule           = aws_cloudwatch_event_rule.redshift_copy_manifest.name
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  target_id      = "redshift-copy"
  arn            = aws_lambda_function.redshift_copy.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_cloudwatch_event_rule" "redshift_copy_statement" {
  name           = "${local.prefix}-redshift-copy-statement"
  description    = "A load statement (named shopstream-load:<batch_id>) changed state - redshift-copy settles its batch"
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  state          = "ENABLED"
  tags           = local.tags
  event_pattern = jsonencode({
    source      = ["aws.redshift-data"]
    detail-type = ["Redshift Data Statement Status Change"]
    detail = {
      statementName = [{ prefix = "shopstream-load:" }]
    }
  })
}

resource "aws_cloudwatch_event_target" "redshift_copy_statement" {
  rule           = aws_cloudwatch_event_rule.redshift_copy_statement.name
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  target_id      = "redshift-copy"
  arn            = aws_lambda_function.redshift_copy.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_cloudwatch_event_rule" "redshift_copy_sweep" {
  name           = "${local.prefix}-redshift-copy-sweep"
  description    = "LoadDue (LoadSweepSchedule) - redshift-copy settles LOADING batches and loads missed TRANSFORMED ones"
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  state          = "ENABLED"
  tags           = local.tags
  event_pattern = jsonencode({
    source      = ["shopstream.scheduler"]
    detail-type = ["LoadDue"]
  })
}

resource "aws_cloudwatch_event_target" "redshift_copy_sweep" {
  rule           = aws_cloudwatch_event_rule.redshift_copy_sweep.name
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  target_id      = "redshift-copy"
  arn            = aws_lambda_function.redshift_copy.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_lambda_permission" "redshift_copy_manifest" {
  function_name = aws_lambda_function.redshift_copy.function_name
  action        = "lambda:InvokeFunction"
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.redshift_copy_manifest.arn
}

resource "aws_lambda_permission" "redshift_copy_statement" {
  function_name = aws_lambda_function.redshift_copy.function_name
  action        = "lambda:InvokeFunction"
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.redshift_copy_statement.arn
}

resource "aws_lambda_permission" "redshift_copy_sweep" {
  function_name = aws_lambda_function.redshift_copy.function_name
  action        = "lambda:InvokeFunction"
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.redshift_copy_sweep.arn
}

resource "aws_scheduler_schedule" "load_sweep" {
  name                         = "${local.prefix}-load-sweep"
  description                  = "LoadDue on the shopstream bus (redshift-copy subscribes)"
  schedule_expression          = var.load_sweep_schedule_expression
  schedule_expression_timezone = "UTC"
  state                        = "ENABLED"
  kms_key_arn                  = aws_kms_key.data.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_cloudwatch_event_bus.shopstream.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ job = "load" })

    eventbridge_parameters {
      detail_type = "LoadDue"
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

resource "aws_cloudwatch_metric_alarm" "redshift_copy_errors" {
  alarm_name          = "${local.prefix}-redshift-copy-errors"
  alarm_description   = "redshift-copy invocations failed (EventBridge retries them; the sweep settles what is left)"
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
    FunctionName = aws_lambda_function.redshift_copy.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "redshift_copy_throttles" {
  alarm_name          = "${local.prefix}-redshift-copy-throttles"
  alarm_description   = "redshift-copy invocations were throttled"
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
    FunctionName = aws_lambda_function.redshift_copy.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "redshift_copy_loads_failed" {
  alarm_name          = "${local.prefix}-redshift-copy-loads-failed"
  alarm_description   = "redshift-copy moved a batch to LOAD_FAILED (statement FAILED / ABORTED, or the manifest or its files were refused)"
  namespace           = "shopstream"
  metric_name         = "LoadsFailed"
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
    Function = "redshift-copy"
  }
}
