# emr-launch: gold batches too large for gold-transform run on EMR (or EMR Serverless) with the
# same SQL models; the ledger moves from the step's outcome. Triggered on the shopstream bus by
# TransformTooLarge, the TransformDue schedule (sweep) and the forwarded EMR step / EMR
# Serverless job-run status changes.

resource "aws_cloudwatch_log_group" "emr_launch" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, the operator's cost / compliance choice; the records themselves are kept in the lake.
  name              = "/aws/lambda/${local.prefix}-emr-launch"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
  tags              = local.tags
}

resource "aws_iam_role" "emr_launch" {
  name               = "${local.prefix}-emr-launch"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

locals {
  emr_serverless_job_role_arn = "arn:${local.partition}:iam::${local.account_id}:role/${local.prefix}-emr-serverless-job"
}

data "aws_iam_policy_document" "emr_launch" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.emr_launch.arn}:*"]
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
    sid       = "Ledger"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.batches.arn, "${aws_dynamodb_table.batches.arn}/index/by_state"]
  }

  statement {
    sid       = "ReadPlansManifestsAndGold"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/gold/*"]
  }

  # RunJobFlow and ListClusters have no resource-level permissions.
  statement {
    sid       = "EmrWithoutResourceLevel"
    actions   = ["elasticmapreduce:RunJobFlow", "elasticmapreduce:ListClusters"]
    resources = ["*"]
  }

  statement {
    sid       = "EmrClusters"
    actions   = ["elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:ListSteps", "elasticmapreduce:DescribeStep", "elasticmapreduce:DescribeCluster", "elasticmapreduce:TerminateJobFlows", "elasticmapreduce:CancelSteps", "elasticmapreduce:AddTags"]
    resources = ["arn:${local.partition}:elasticmapreduce:${local.region}:${local.account_id}:cluster/*"]
  }

  statement {
    sid     = "EmrServerlessJobRuns"
    actions = ["emr-serverless:StartJobRun", "emr-serverless:GetJobRun", "emr-serverless:CancelJobRun", "emr-serverless:TagResource"]
    resources = [
      "arn:${local.partition}:emr-serverless:${local.region}:${local.account_id}:/applications/*",
      "arn:${local.partition}:emr-serverless:${local.region}:${local.account_id}:/applications/*/jobruns/*",
    ]
  }

  statement {
    sid       = "PassEmrRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.emr_service.arn, aws_iam_role.emr_instance.arn, local.emr_serverless_job_role_arn]
  }

  statement {
    sid       = "BatchEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.shopstream.arn]
  }
}

resource "aws_iam_role_policy" "emr_launch" {
  name   = "emr-launch"
  role   = aws_iam_role.emr_launch.id
  policy = data.aws_iam_policy_document.emr_launch.json
}

resource "aws_lambda_function" "emr_launch" {
  #checkov:skip=CKV_AWS_116:Invoked by EventBridge (the emr-launch rule), whose target has its own dead-letter queue and retry policy.
  #checkov:skip=CKV_AWS_115:Invocations are a few per batch; the ledger's conditional writes, not concurrency, keep launches single.
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs (EMR, EMR Serverless, DynamoDB, S3, EventBridge) over TLS; no VPC resources to reach.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the deploying account owns; artifacts come from CI builds.
  function_name    = "${local.prefix}-emr-launch"
  description      = "Gold batches too large for gold-transform - the same SQL models on EMR; the ledger from the step's outcome"
  role             = aws_iam_role.emr_launch.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifacts_dir}/emr-launch/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifacts_dir}/emr-launch/bootstrap.zip")
  memory_size      = 512
  timeout          = 300
  kms_key_arn      = aws_kms_key.data.arn
  tags             = local.tags

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.emr_launch.name
  }

  environment {
    variables = {
      RUST_LOG                          = var.log_level
      LAKE_BUCKET                       = aws_s3_bucket.lake.id
      BATCHES_TABLE                     = aws_dynamodb_table.batches.name
      EVENT_BUS_NAME                    = aws_cloudwatch_event_bus.shopstream.name
      JOB_SCRIPT_URI                    = "s3://${aws_s3_bucket.lake.id}/artifacts/jobs/spark/run_models.py"
      MODELS_URI                        = "s3://${aws_s3_bucket.lake.id}/artifacts/jobs/sql"
      EMR_MODE                          = var.emr_mode
      EMR_RELEASE_LABEL                 = var.emr_release_label
      EMR_SERVICE_ROLE                  = aws_iam_role.emr_service.name
      EMR_JOB_FLOW_ROLE                 = aws_iam_instance_profile.emr_instance.name
      EMR_LOG_URI                       = "s3://${aws_s3_bucket.lake.id}/emr-logs/"
      EMR_SUBNET_IDS                    = var.emr_subnet_ids
      EMR_CLUSTER_ID                    = var.emr_cluster_id
      EMR_SERVERLESS_APPLICATION_ID     = var.emr_serverless_application_id
      EMR_SERVERLESS_EXECUTION_ROLE_ARN = local.emr_serverless_job_role_arn
    }
  }

  depends_on = [aws_iam_role_policy.emr_launch]
}

resource "aws_cloudwatch_event_rule" "emr_serverless_job_run_status" {
  name        = "${local.prefix}-emr-serverless-job-run-status"
  description = "State changes of shopstream EMR Serverless job runs (names start with \"shopstream-\") - forwarded to the shopstream bus"
  state       = "ENABLED"
  tags        = local.tags
  event_pattern = jsonencode({
    source      = ["aws.emr-serverless"]
    detail-type = ["EMR Serverless Job Run State Change"]
    detail = {
      jobRunName = [{ prefix = "shopstream-" }]
    }
  })
}

resource "aws_cloudwatch_event_target" "emr_serverless_job_run_status" {
  rule      = aws_cloudwatch_event_rule.emr_serverless_job_run_status.name
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

resource "aws_cloudwatch_event_rule" "emr_launch" {
  name           = "${local.prefix}-emr-launch"
  description    = "TransformTooLarge, TransformDue and EMR step / job-run status changes - emr-launch"
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  state          = "ENABLED"
  tags           = local.tags
  event_pattern = jsonencode({
    source      = ["shopstream.batches", "shopstream.scheduler", "aws.emr", "aws.emr-serverless"]
    detail-type = ["TransformTooLarge", "TransformDue", "EMR Step Status Change", "EMR Serverless Job Run State Change"]
  })
}

resource "aws_cloudwatch_event_target" "emr_launch" {
  rule           = aws_cloudwatch_event_rule.emr_launch.name
  event_bus_name = aws_cloudwatch_event_bus.shopstream.name
  target_id      = "emr-launch"
  arn            = aws_lambda_function.emr_launch.arn

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  retry_policy {
    maximum_retry_attempts       = 185
    maximum_event_age_in_seconds = 86400
  }
}

resource "aws_lambda_permission" "events_invoke_emr_launch" {
  function_name = aws_lambda_function.emr_launch.function_name
  action        = "lambda:InvokeFunction"
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.emr_launch.arn
}

resource "aws_cloudwatch_metric_alarm" "emr_launch_errors" {
  alarm_name          = "${local.prefix}-emr-launch-errors"
  alarm_description   = "emr-launch invocations failed (EventBridge retries them, then the events DLQ)"
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
    FunctionName = aws_lambda_function.emr_launch.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "emr_launch_throttles" {
  alarm_name          = "${local.prefix}-emr-launch-throttles"
  alarm_description   = "emr-launch invocations were throttled"
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
    FunctionName = aws_lambda_function.emr_launch.function_name
  }
}

resource "aws_cloudwatch_metric_alarm" "emr_launch_transforms_failed" {
  alarm_name          = "${local.prefix}-emr-launch-transforms-failed"
  alarm_description   = "A batch run on EMR ended TRANSFORM_FAILED (failed, cancelled or interrupted job, or a manifest that does not check out)"
  namespace           = "shopstream"
  metric_name         = "TransformsFailed"
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
    Function = "emr-launch"
  }
}
