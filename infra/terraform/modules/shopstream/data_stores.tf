resource "aws_kinesis_stream" "events" {
  name             = "${local.prefix}-events"
  retention_period = var.kinesis_retention_hours
  encryption_type  = "KMS"
  kms_key_id       = aws_kms_key.data.arn
  tags             = local.tags

  stream_mode_details {
    stream_mode = "ON_DEMAND"
  }
}

# Enhanced fan-out: a dedicated 2 MB/s per shard pipe pushed to the mapping (stream_enhanced_fan_out).
resource "aws_kinesis_stream_consumer" "stream_enrich" {
  count      = var.stream_enhanced_fan_out ? 1 : 0
  name       = "${local.prefix}-stream-enrich"
  stream_arn = aws_kinesis_stream.events.arn
}

resource "aws_dynamodb_table" "orders" {
  name                        = "${local.prefix}-purchase-orders"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "event_id"
  stream_enabled              = true
  stream_view_type            = "NEW_IMAGE"
  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  attribute {
    name = "event_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

resource "aws_dynamodb_table" "profiles" {
  name                        = "${local.prefix}-customer-profiles"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "user_id"
  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  attribute {
    name = "user_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

# stream-enrich's velocity rule: each user's orders per minute of event time, expiring an
# hour after the rule's window, so the count survives batching and container recycling.
resource "aws_dynamodb_table" "velocity" {
  name                        = "${local.prefix}-order-velocity"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "velocity_key"
  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  attribute {
    name = "velocity_key"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

resource "aws_dynamodb_table" "idempotency" {
  name                        = "${local.prefix}-idempotency"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "idempotency_key"
  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  attribute {
    name = "idempotency_key"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

resource "aws_dynamodb_table" "batches" {
  name                        = "${local.prefix}-batches"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "batch_id"
  deletion_protection_enabled = var.deletion_protection
  tags                        = local.tags

  attribute {
    name = "batch_id"
    type = "S"
  }

  attribute {
    name = "state"
    type = "S"
  }

  attribute {
    name = "updated_at"
    type = "S"
  }

  global_secondary_index {
    name            = "by_state"
    hash_key        = "state"
    range_key       = "updated_at"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}
