# Every variable mirrors a parameter of template.yaml (same default); infra/tests/test_parity.py
# checks the pairs. lambda_artifacts_dir and tags exist only here.

variable "environment_name" {
  description = "Short name of the deployment (dev, staging, prod); every resource is named shopstream-<environment_name>-..."
  type        = string
  default     = "dev"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment_name))
    error_message = "environment_name must match ^[a-z][a-z0-9-]{1,15}$."
  }
}

variable "lambda_artifacts_dir" {
  description = "Directory holding <function>/bootstrap.zip as written by `cargo lambda build --release --arm64 --output-format zip` (the workspace's target/lambda)."
  type        = string
}

variable "tags" {
  description = "Extra tags for every resource (project and environment are always set)."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "RUST_LOG filter of every function (e.g. info, debug, info,ingest_api=debug)."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "Retention of the function and API access log groups, in days."
  type        = number
  default     = 30
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value."
  }
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarms topic (confirm the subscription mail); empty for none."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection on the orders, profiles and idempotency tables."
  type        = bool
  default     = true
}

variable "events_sink" {
  description = "Where ingest-api puts the records of POST /v1/events (EVENTS_SINK): kinesis or kafka. kafka needs kafka_bootstrap_servers and kafka_topic."
  type        = string
  default     = "kinesis"
  validation {
    condition     = contains(["kinesis", "kafka"], var.events_sink)
    error_message = "events_sink must be kinesis or kafka."
  }
  validation {
    condition     = var.events_sink != "kafka" || length(var.kafka_bootstrap_servers) > 0
    error_message = "kafka_bootstrap_servers is required when events_sink is kafka."
  }
}

variable "orders_sink" {
  description = "Where ingest-api puts the records of POST /v1/orders (ORDERS_SINK): dynamodb (feeds orders-to-bronze through the table's stream), kinesis or kafka. kafka needs kafka_bootstrap_servers and kafka_topic."
  type        = string
  default     = "dynamodb"
  validation {
    condition     = contains(["dynamodb", "kinesis", "kafka"], var.orders_sink)
    error_message = "orders_sink must be dynamodb, kinesis or kafka."
  }
  validation {
    condition     = var.orders_sink != "kafka" || length(var.kafka_bootstrap_servers) > 0
    error_message = "kafka_bootstrap_servers is required when orders_sink is kafka."
  }
}

variable "api_auth_mode" {
  description = "Authorisation of POST /v1/events and /v1/orders: JWT (needs jwt_issuer and jwt_audience) or AWS_IAM (SigV4). GET /v1/health is open."
  type        = string
  default     = "JWT"
  validation {
    condition     = contains(["JWT", "AWS_IAM"], var.api_auth_mode)
    error_message = "api_auth_mode must be JWT or AWS_IAM."
  }
  validation {
    condition     = var.api_auth_mode != "JWT" || (var.jwt_issuer != "" && length(var.jwt_audience) > 0)
    error_message = "jwt_issuer and jwt_audience are required when api_auth_mode is JWT."
  }
}

variable "jwt_issuer" {
  description = "JWT issuer URL (e.g. https://cognito-idp.<region>.amazonaws.com/<pool-id>); required when api_auth_mode is JWT."
  type        = string
  default     = ""
}

variable "jwt_audience" {
  description = "Accepted JWT audiences (client ids); required when api_auth_mode is JWT."
  type        = list(string)
  default     = []
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the HTTP API stage accepts (each request carries up to 500 records)."
  type        = number
  default     = 200
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests the HTTP API stage accepts above the rate limit."
  type        = number
  default     = 400
}

variable "idempotency_ttl_seconds" {
  description = "How long ingest-api replays the response of a completed Idempotency-Key (IDEMPOTENCY_TTL_SECONDS)."
  type        = number
  default     = 86400
}

variable "kinesis_retention_hours" {
  description = "Retention of the events stream; quarantine-replay's replay-dlq can re-read a failed batch from its DLQ position for this long (beyond 24 h it is billed per GB-month, see functions/quarantine-replay/README.md)."
  type        = number
  default     = 168
  validation {
    condition     = var.kinesis_retention_hours >= 24 && var.kinesis_retention_hours <= 8760
    error_message = "kinesis_retention_hours must be between 24 and 8760."
  }
}

variable "stream_batch_size" {
  description = "Records per stream-enrich invocation (Kinesis and Kafka mappings)."
  type        = number
  default     = 500
}

variable "stream_maximum_batching_window_seconds" {
  description = "How long the stream-enrich mappings wait to fill a batch. 0 (the 500 ms alert target) invokes as soon as records are read; a larger window makes fewer, fuller invocations (less Lambda request and per-invocation cost) at that much added latency (functions/stream-enrich/README.md)."
  type        = number
  default     = 0
}

variable "stream_enhanced_fan_out" {
  description = "Read the events stream through an enhanced fan-out consumer (records pushed about 70 ms after they are written, instead of each shard polled about once a second); billed per consumer-shard hour and per GB read (functions/stream-enrich/README.md)."
  type        = bool
  default     = false
}

variable "stream_parallelization_factor" {
  description = "Concurrent batches per Kinesis shard (order is kept per partition key)."
  type        = number
  default     = 2
}

variable "stream_maximum_retry_attempts" {
  description = "Retries of a failing stream-enrich batch before its position goes to the DLQ (bounded; never -1)."
  type        = number
  default     = 5
  validation {
    condition     = var.stream_maximum_retry_attempts >= 0 && var.stream_maximum_retry_attempts <= 10000
    error_message = "stream_maximum_retry_attempts must be between 0 and 10000 (bounded)."
  }
}

variable "stream_maximum_record_age_seconds" {
  description = "Records older than this are not retried any more and go to the DLQ (stream-enrich mappings)."
  type        = number
  default     = 21600
  validation {
    condition     = var.stream_maximum_record_age_seconds >= 60 && var.stream_maximum_record_age_seconds <= 604800
    error_message = "stream_maximum_record_age_seconds must be between 60 and 604800 (bounded)."
  }
}

variable "orders_batch_size" {
  description = "Records per orders-to-bronze invocation (DynamoDB Streams mapping)."
  type        = number
  default     = 100
}

variable "orders_maximum_retry_attempts" {
  description = "Retries of a failing orders-to-bronze batch before its position goes to the DLQ."
  type        = number
  default     = 5
  validation {
    condition     = var.orders_maximum_retry_attempts >= 0 && var.orders_maximum_retry_attempts <= 10000
    error_message = "orders_maximum_retry_attempts must be between 0 and 10000 (bounded)."
  }
}

variable "orders_maximum_record_age_seconds" {
  description = "Stream records older than this go to the orders-to-bronze DLQ (DynamoDB Streams keep 24 hours)."
  type        = number
  default     = 21600
  validation {
    condition     = var.orders_maximum_record_age_seconds >= 60 && var.orders_maximum_record_age_seconds <= 604800
    error_message = "orders_maximum_record_age_seconds must be between 60 and 604800 (bounded)."
  }
}

variable "kafka_source" {
  description = "Optional Kafka event source of stream-enrich besides Kinesis: none, msk or self-managed."
  type        = string
  default     = "none"
  validation {
    condition     = contains(["none", "msk", "self-managed"], var.kafka_source)
    error_message = "kafka_source must be none, msk or self-managed."
  }
  validation {
    condition     = var.kafka_source != "msk" || var.msk_cluster_arn != ""
    error_message = "msk_cluster_arn is required when kafka_source is msk."
  }
  validation {
    condition     = var.kafka_source != "self-managed" || length(var.kafka_bootstrap_servers) > 0
    error_message = "kafka_bootstrap_servers is required when kafka_source is self-managed."
  }
}

variable "kafka_topic" {
  description = "Kafka topic read by stream-enrich and written by ingest-api when events_sink or orders_sink is kafka."
  type        = string
  default     = "shopstream-events"
}

variable "msk_cluster_arn" {
  description = "ARN of the MSK cluster (kafka_source msk)."
  type        = string
  default     = ""
}

variable "kafka_bootstrap_servers" {
  description = "host:port brokers (kafka_source self-managed, and ingest-api's Kafka sink)."
  type        = list(string)
  default     = []
}

variable "kafka_secret_arn" {
  description = "Secrets Manager secret {\"username\",\"password\"} for SASL/SCRAM-512 (the Kafka mappings, and ingest-api's Kafka sink, which reads it at cold start; only the ARN is in its environment); empty means MSK IAM auth (msk) or no SASL."
  type        = string
  default     = ""
}

variable "kafka_security_protocol" {
  description = "Security protocol ingest-api uses towards the brokers (KAFKA_SECURITY_PROTOCOL)."
  type        = string
  default     = "SASL_SSL"
  validation {
    condition     = contains(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"], var.kafka_security_protocol)
    error_message = "kafka_security_protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
  }
}

variable "kafka_consumer_group_id" {
  description = "Consumer group of the stream-enrich Kafka mapping."
  type        = string
  default     = "shopstream-stream-enrich"
}

variable "kafka_subnet_ids" {
  description = "Private subnets reaching the brokers (self-managed Kafka mapping and ingest-api's Kafka sink); empty when the brokers are public. template.yaml takes two (KafkaSubnetIdA/B)."
  type        = list(string)
  default     = []
}

variable "kafka_security_group_id" {
  description = "Security group allowed to reach the brokers (used when kafka_subnet_ids is set)."
  type        = string
  default     = ""
}

variable "kafka_minimum_pollers" {
  description = "Provisioned-mode pollers of the Kafka mapping (provisioned mode is what enables retries, bisect and partial batch responses for Kafka)."
  type        = number
  default     = 1
}

variable "kafka_maximum_pollers" {
  description = "Upper bound of the Kafka mapping's provisioned pollers."
  type        = number
  default     = 3
}

variable "max_future_skew_seconds" {
  description = "MAX_FUTURE_SKEW_SECONDS of the record-processing functions."
  type        = number
  default     = 300
}

variable "fraud_rules_json" {
  description = "FRAUD_RULES_JSON of stream-enrich; empty keeps the design defaults."
  type        = string
  default     = ""
}

variable "bronze_retention_days" {
  description = "Days before bronze/ objects expire (more than the 30 days after which they move to STANDARD_IA)."
  type        = number
  default     = 730
  validation {
    condition     = var.bronze_retention_days > 30
    error_message = "bronze_retention_days must be more than 30 (objects move to STANDARD_IA at 30 days)."
  }
}

variable "silver_retention_days" {
  description = "Days after its batch's load before s3-cleanup deletes a silver input (SILVER_RETENTION_DAYS); silver has no age-based expiry, so an object no batch has loaded is never lost."
  type        = number
  default     = 14
  validation {
    condition     = var.silver_retention_days >= 0
    error_message = "silver_retention_days must be at least 0."
  }
}

variable "gold_retention_days" {
  description = "Days after its batch's load before s3-cleanup deletes a batch's gold table files (GOLD_RETENTION_DAYS); 60 days past the STANDARD_IA transition at 30, so no early-deletion charge."
  type        = number
  default     = 90
  validation {
    condition     = var.gold_retention_days >= 0
    error_message = "gold_retention_days must be at least 0."
  }
}

variable "cleanup_dry_run" {
  description = "DRY_RUN of s3-cleanup - report what would be deleted, delete nothing."
  type        = bool
  default     = false
}

variable "quarantine_retention_days" {
  description = "Days before quarantine/ objects expire (time to correct and replay them)."
  type        = number
  default     = 180
}

variable "noncurrent_version_retention_days" {
  description = "Days before overwritten or deleted object versions expire."
  type        = number
  default     = 30
}

variable "transform_schedule_expression" {
  description = "EventBridge Scheduler expression of the TransformDue event (gold-transform / emr-launch)."
  type        = string
  default     = "rate(1 hour)"
}

variable "emr_mode" {
  description = "Where emr-launch runs batches too large for gold-transform (EMR_MODE) - a transient cluster per batch, a step on emr_cluster_id, or a job run on emr_serverless_application_id."
  type        = string
  default     = "cluster"
  validation {
    condition     = contains(["cluster", "existing-cluster", "serverless"], var.emr_mode)
    error_message = "emr_mode must be cluster, existing-cluster or serverless."
  }
}

variable "emr_release_label" {
  description = "EMR release of emr-launch's transient clusters (EMR_RELEASE_LABEL; the Spark 3.5 line)."
  type        = string
  default     = "emr-7.9.0"
}

variable "emr_subnet_ids" {
  description = "Comma-separated subnet of emr-launch's transient clusters (EMR_SUBNET_IDS; several only with instance fleets); empty for the default VPC."
  type        = string
  default     = ""
}

variable "emr_cluster_id" {
  description = "Long-running EMR cluster that gets one step per batch when emr_mode is existing-cluster (EMR_CLUSTER_ID)."
  type        = string
  default     = ""
}

variable "emr_serverless_application_id" {
  description = "EMR Serverless Spark application of the job runs when emr_mode is serverless (EMR_SERVERLESS_APPLICATION_ID)."
  type        = string
  default     = ""
}

variable "cleanup_schedule_expression" {
  description = "EventBridge Scheduler expression of the CleanupDue event (s3-cleanup), UTC."
  type        = string
  default     = "cron(30 3 * * ? *)"
}

variable "load_sweep_schedule_expression" {
  description = "EventBridge Scheduler expression of the LoadDue event (redshift-copy settles LOADING batches and loads TRANSFORMED ones whose manifest event was missed)."
  type        = string
  default     = "rate(15 minutes)"
}

variable "redshift_workgroup_name" {
  description = "Existing Redshift Serverless workgroup the loads run on (ignored when RedshiftClusterId is set)."
  type        = string
  default     = "shopstream"
}

variable "redshift_cluster_id" {
  description = "Existing provisioned Redshift cluster the loads run on instead of a Serverless workgroup (\"\" = Serverless)."
  type        = string
  default     = ""
}

variable "redshift_db_user" {
  description = "Provisioned cluster only - database user for GetClusterCredentials (\"\" = the function's IAM identity, GetClusterCredentialsWithIAM)."
  type        = string
  default     = ""

  validation {
    condition     = var.redshift_db_user == "" || var.redshift_cluster_id != ""
    error_message = "redshift_db_user applies to a provisioned cluster (redshift_cluster_id); Serverless derives the user from the IAM identity or the secret."
  }

  validation {
    condition     = var.redshift_db_user == "" || var.redshift_secret_arn == ""
    error_message = "set redshift_secret_arn or redshift_db_user, not both."
  }
}

variable "redshift_secret_arn" {
  description = "Secrets Manager secret holding the warehouse credentials (\"\" = temporary IAM credentials)."
  type        = string
  default     = ""
}

variable "redshift_database" {
  description = "Database of the warehouse in that workgroup."
  type        = string
  default     = "dev"
}

variable "redshift_schema" {
  description = "Schema of the star-flake tables."
  type        = string
  default     = "shopstream"
}

variable "rejection_rate_threshold_percent" {
  description = "Alarm when the average RejectionRate (EMF, namespace shopstream) of ingest-api or stream-enrich exceeds this."
  type        = number
  default     = 5
}

variable "iterator_age_threshold_seconds" {
  description = "Alarm when a stream mapping falls this far behind (IteratorAge maximum)."
  type        = number
  default     = 300
}

variable "alert_latency_threshold_ms" {
  description = "Alarm when an invocation's p99 from a record's arrival to its FraudSuspected alert being accepted by EventBridge (ArrivalToAlertLatencyP99) exceeds this."
  type        = number
  default     = 500
}

variable "kafka_offset_lag_threshold" {
  description = "Alarm when the Kafka mapping's OffsetLag exceeds this many records."
  type        = number
  default     = 10000
}
