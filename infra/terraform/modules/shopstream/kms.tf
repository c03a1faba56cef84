# One customer managed key for the lake, stream, tables, queues, topic and logs.
data "aws_iam_policy_document" "data_key" {
  #checkov:skip=CKV_AWS_109:Key policies must name the key as "*"; the root statement delegates to IAM policies, which are scoped per role.
  #checkov:skip=CKV_AWS_111:Key policies must name the key as "*"; the root statement delegates to IAM policies, which are scoped per role.
  #checkov:skip=CKV_AWS_356:Key policies must name the key as "*" (the key the policy is attached to).
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsOfThisAccount"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "AlarmsPublishToEncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
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

  # EventBridge's KMS requests carry no aws:SourceAccount / aws:SourceArn: a condition here would
  # silently drop every delivery to the encrypted topic and dead-letter queue. The topic and
  # queue policies scope which rules may send.
  statement {
    sid       = "RulesDeliverToEncryptedTopicAndQueue"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "data" {
  description         = "${local.prefix} data key (lake, stream, tables, queues, topic, logs)"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.data_key.json
  tags                = local.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.prefix}-data"
  target_key_id = aws_kms_key.data.key_id
}
