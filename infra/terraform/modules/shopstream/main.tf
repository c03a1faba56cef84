data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  prefix     = "shopstream-${var.environment_name}"
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  tags = merge(var.tags, {
    project     = "shopstream"
    environment = var.environment_name
  })

  use_jwt             = var.api_auth_mode == "JWT"
  sink_kinesis        = var.events_sink == "kinesis" || var.orders_sink == "kinesis"
  sink_kafka          = var.events_sink == "kafka" || var.orders_sink == "kafka"
  sink_dynamodb       = var.orders_sink == "dynamodb"
  kafka_msk           = var.kafka_source == "msk"
  kafka_self_managed  = var.kafka_source == "self-managed"
  has_kafka_source    = local.kafka_msk || local.kafka_self_managed
  has_kafka_secret    = var.kafka_secret_arn != ""
  has_kafka_vpc       = length(var.kafka_subnet_ids) > 0
  ingest_kafka_in_vpc = local.sink_kafka && local.has_kafka_vpc
  ingest_kafka_sasl   = local.sink_kafka && local.has_kafka_secret && contains(["SASL_SSL", "SASL_PLAINTEXT"], var.kafka_security_protocol)
  kafka_source_secret = local.has_kafka_source && local.has_kafka_secret
  kafka_needs_enis    = local.kafka_msk || (local.kafka_self_managed && local.has_kafka_vpc)
  self_managed_in_vpc = local.kafka_self_managed && local.has_kafka_vpc
  # quarantine-replay puts Kafka-sourced records back on the topic when it knows the brokers.
  replay_kafka        = local.has_kafka_source && length(var.kafka_bootstrap_servers) > 0
  replay_kafka_in_vpc = local.replay_kafka && local.has_kafka_vpc
  replay_kafka_sasl   = local.replay_kafka && local.has_kafka_secret && contains(["SASL_SSL", "SASL_PLAINTEXT"], var.kafka_security_protocol)
  lake_bucket_name    = "${local.prefix}-lake-${local.account_id}-${local.region}"
  access_logs_bucket  = "${local.prefix}-access-logs-${local.account_id}-${local.region}"
  rules_arn_pattern   = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.prefix}-*"
  vpc_access_policy   = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
  msk_arn_parts       = split(":cluster/", var.msk_cluster_arn)
  msk_topic_arn       = local.kafka_msk ? "${local.msk_arn_parts[0]}:topic/${local.msk_arn_parts[1]}/${var.kafka_topic}" : ""
  msk_group_arn       = local.kafka_msk ? "${local.msk_arn_parts[0]}:group/${local.msk_arn_parts[1]}/${var.kafka_consumer_group_id}" : ""
  iterator_age_ms     = var.iterator_age_threshold_seconds * 1000
}
