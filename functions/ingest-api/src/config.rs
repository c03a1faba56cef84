//! Configuration of ingest-api, read once at cold start from the environment. Every error
//! names the variable at fault.

use shopstream::config::{ConfigError, Env};
use shopstream::validate::ValidationRules;
use std::time::Duration;

/// API Gateway proxies at most 10 MB and a synchronous Lambda payload is capped at 6 MB; the
/// contract of the API is 5 MB of body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// The most records one request may carry (the PutRecords limit, so one request is one call).
pub const DEFAULT_MAX_RECORDS: usize = 500;
pub const DEFAULT_ORDERS_TABLE: &str = "purchase_orders";

/// Where the accepted records of one route go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    Kinesis { stream: String },
    Kafka(KafkaConfig),
    DynamoDb { table: String },
}

impl SinkConfig {
    pub fn name(&self) -> &'static str {
        match self {
            SinkConfig::Kinesis { .. } => "kinesis",
            SinkConfig::Kafka(_) => "kafka",
            SinkConfig::DynamoDb { .. } => "dynamodb",
        }
    }
}

pub use shopstream::kafka::{
    KafkaCompression, KafkaConfig, KafkaSasl, SaslCredentials, SaslMechanism,
};

/// Idempotency-Key support; absent when `IDEMPOTENCY_TABLE` is unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    pub table: String,
    /// How long a completed response is replayed.
    pub window: Duration,
    /// How long an in-flight request holds its key before another may take it over.
    pub lock: Duration,
}

/// Bounded exponential backoff for records a sink reports as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1_000),
        }
    }
}

impl RetryPolicy {
    /// The longest wait before attempt `attempt + 1` (attempt counts from 1): base × 2^(attempt-1),
    /// capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Sink of `POST /v1/events` (`EVENTS_SINK`: Kinesis or Kafka).
    pub events_sink: SinkConfig,
    /// Sink of `POST /v1/orders` (`ORDERS_SINK`: DynamoDB, Kinesis or Kafka).
    pub orders_sink: SinkConfig,
    pub idempotency: Option<IdempotencyConfig>,
    pub max_body_bytes: usize,
    pub max_records: usize,
    pub max_installments: i64,
    pub retry: RetryPolicy,
    pub validation: ValidationRules,
}

impl IngestConfig {
    /// A configuration with defaults and the given sink for both routes (tests, benchmarks,
    /// local runs).
    pub fn with_sink(sink: SinkConfig) -> Self {
        IngestConfig {
            events_sink: sink.clone(),
            orders_sink: sink,
            idempotency: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_records: DEFAULT_MAX_RECORDS,
            max_installments: 48,
            retry: RetryPolicy::default(),
            validation: ValidationRules::default(),
        }
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        if let Some(value) = env.optional("INGEST_SINK") {
            return Err(ConfigError::invalid(
                "INGEST_SINK",
                value,
                "replaced by EVENTS_SINK (kinesis | kafka) and ORDERS_SINK (dynamodb | kinesis | kafka)",
            ));
        }
        let events_kind = sink_kind(
            env,
            "EVENTS_SINK",
            SinkKind::Kinesis,
            &[SinkKind::Kinesis, SinkKind::Kafka],
        )?;
        let orders_kind = sink_kind(
            env,
            "ORDERS_SINK",
            SinkKind::DynamoDb,
            &[SinkKind::DynamoDb, SinkKind::Kinesis, SinkKind::Kafka],
        )?;
        let sink = |kind: SinkKind| -> Result<SinkConfig, ConfigError> {
            Ok(match kind {
                SinkKind::Kinesis => SinkConfig::Kinesis {
                    stream: env.required("KINESIS_STREAM_NAME")?.to_owned(),
                },
                SinkKind::Kafka => SinkConfig::Kafka(kafka_from_env(env)?),
                SinkKind::DynamoDb => SinkConfig::DynamoDb {
                    table: env
                        .optional("ORDERS_TABLE")
                        .unwrap_or(DEFAULT_ORDERS_TABLE)
                        .to_owned(),
                },
            })
        };
        let events_sink = sink(events_kind)?;
        let orders_sink = sink(orders_kind)?;
        let idempotency = match env.optional("IDEMPOTENCY_TABLE") {
            None => None,
            Some(table) => Some(IdempotencyConfig {
                table: table.to_owned(),
                window: positive_seconds(env, "IDEMPOTENCY_TTL_SECONDS", 86_400)?,
                lock: positive_seconds(env, "IDEMPOTENCY_LOCK_SECONDS", 60)?,
            }),
        };
        let max_body_bytes = env.parse_or("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
        if max_body_bytes == 0 || max_body_bytes > 6 * 1024 * 1024 {
            return Err(ConfigError::invalid(
                "MAX_BODY_BYTES",
                &max_body_bytes.to_string(),
                "must be between 1 and 6291456 (the Lambda payload limit)",
            ));
        }
        let max_records = env.parse_or("MAX_RECORDS", DEFAULT_MAX_RECORDS)?;
        if max_records == 0 || max_records > 10_000 {
            return Err(ConfigError::invalid(
                "MAX_RECORDS",
                &max_records.to_string(),
                "must be between 1 and 10000",
            ));
        }
        let max_installments: i64 = env.parse_or("MAX_INSTALLMENTS", 48)?;
        if max_installments < 1 {
            return Err(ConfigError::invalid(
                "MAX_INSTALLMENTS",
                &max_installments.to_string(),
                "must be at least 1",
            ));
        }
        let max_attempts: u32 =
            env.parse_or("SINK_MAX_ATTEMPTS", RetryPolicy::default().max_attempts)?;
        if !(1..=10).contains(&max_attempts) {
            return Err(ConfigError::invalid(
                "SINK_MAX_ATTEMPTS",
                &max_attempts.to_string(),
                "must be between 1 and 10",
            ));
        }
        let retry = RetryPolicy {
            max_attempts,
            base_backoff: Duration::from_millis(env.parse_or("SINK_BASE_BACKOFF_MS", 100u64)?),
            max_backoff: Duration::from_millis(env.parse_or("SINK_MAX_BACKOFF_MS", 1_000u64)?),
        };
        Ok(IngestConfig {
            events_sink,
            orders_sink,
            idempotency,
            max_body_bytes,
            max_records,
            max_installments,
            retry,
            validation: ValidationRules::from_env(env)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SinkKind {
    Kinesis,
    Kafka,
    DynamoDb,
}

impl SinkKind {
    fn name(self) -> &'static str {
        match self {
            SinkKind::Kinesis => "kinesis",
            SinkKind::Kafka => "kafka",
            SinkKind::DynamoDb => "dynamodb",
        }
    }
}

fn sink_kind(
    env: &Env,
    name: &str,
    default: SinkKind,
    allowed: &[SinkKind],
) -> Result<SinkKind, ConfigError> {
    let Some(value) = env.optional(name) else {
        return Ok(default);
    };
    let lower = value.to_ascii_lowercase();
    allowed
        .iter()
        .copied()
        .find(|kind| kind.name() == lower)
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|k| k.name()).collect();
            ConfigError::invalid(name, value, format!("expected {}", names.join(", ")))
        })
}

fn positive_seconds(env: &Env, name: &str, default: u64) -> Result<Duration, ConfigError> {
    let seconds: u64 = env.parse_or(name, default)?;
    if seconds == 0 {
        return Err(ConfigError::invalid(name, "0", "must be at least 1"));
    }
    Ok(Duration::from_secs(seconds))
}

fn kafka_from_env(env: &Env) -> Result<KafkaConfig, ConfigError> {
    KafkaConfig::from_env(env, "shopstream-ingest-api")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_to_kinesis_and_orders_to_dynamodb_by_default() {
        let err = IngestConfig::from_env(&Env::default()).unwrap_err();
        assert_eq!(err.variable(), "KINESIS_STREAM_NAME");
        let config =
            IngestConfig::from_env(&Env::from_pairs([("KINESIS_STREAM_NAME", "events")])).unwrap();
        assert_eq!(
            config.events_sink,
            SinkConfig::Kinesis {
                stream: "events".into()
            }
        );
        assert_eq!(
            config.orders_sink,
            SinkConfig::DynamoDb {
                table: DEFAULT_ORDERS_TABLE.into()
            }
        );
        assert_eq!(config.max_records, 500);
        assert_eq!(config.max_body_bytes, 5 * 1024 * 1024);
        assert!(config.idempotency.is_none());
    }

    #[test]
    fn each_route_chooses_its_sink() {
        let config = IngestConfig::from_env(&Env::from_pairs([
            ("KINESIS_STREAM_NAME", "events"),
            ("ORDERS_SINK", "Kinesis"),
        ]))
        .unwrap();
        assert_eq!(config.orders_sink, config.events_sink);
        // Orders alone on DynamoDB need no stream when events go to Kafka.
        let config = IngestConfig::from_env(&Env::from_pairs([
            ("EVENTS_SINK", "kafka"),
            ("KAFKA_BOOTSTRAP_SERVERS", "b:9092"),
            ("KAFKA_TOPIC", "events"),
            ("ORDERS_TABLE", "orders"),
        ]))
        .unwrap();
        assert_eq!(config.events_sink.name(), "kafka");
        assert_eq!(
            config.orders_sink,
            SinkConfig::DynamoDb {
                table: "orders".into()
            }
        );
    }

    #[test]
    fn kafka_with_scram_over_tls_names_only_the_secret() {
        let env = Env::from_pairs([
            ("EVENTS_SINK", "kafka"),
            ("ORDERS_SINK", "kafka"),
            ("KAFKA_BOOTSTRAP_SERVERS", "b-1:9096, b-2:9096"),
            ("KAFKA_TOPIC", "events"),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            (
                "KAFKA_SASL_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:kafka",
            ),
        ]);
        let config = IngestConfig::from_env(&env).unwrap();
        let SinkConfig::Kafka(kafka) = config.events_sink else {
            panic!("expected kafka");
        };
        assert_eq!(kafka.bootstrap_servers, vec!["b-1:9096", "b-2:9096"]);
        assert!(kafka.tls);
        let sasl = kafka.sasl.clone().unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(
            sasl.secret_arn,
            "arn:aws:secretsmanager:us-east-1:1:secret:kafka"
        );
        assert_eq!(config.orders_sink, SinkConfig::Kafka(kafka));
    }

    #[test]
    fn credentials_in_the_environment_are_refused_and_never_echoed() {
        let env = Env::from_pairs([
            ("EVENTS_SINK", "kafka"),
            ("KAFKA_BOOTSTRAP_SERVERS", "b:9096"),
            ("KAFKA_TOPIC", "t"),
            ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("KAFKA_SASL_SECRET_ARN", "arn:secret"),
            ("KAFKA_SASL_PASSWORD", "s3cret"),
        ]);
        let err = IngestConfig::from_env(&env).unwrap_err();
        assert_eq!(err.variable(), "KAFKA_SASL_PASSWORD");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let credentials = SaslCredentials {
            mechanism: SaslMechanism::Plain,
            username: "u".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{credentials:?}").contains("s3cret"));
    }

    #[test]
    fn errors_name_the_variable() {
        for (pairs, variable) in [
            (vec![("INGEST_SINK", "kinesis")], "INGEST_SINK"),
            (
                vec![("KINESIS_STREAM_NAME", "s"), ("EVENTS_SINK", "dynamodb")],
                "EVENTS_SINK",
            ),
            (
                vec![("KINESIS_STREAM_NAME", "s"), ("ORDERS_SINK", "sqs")],
                "ORDERS_SINK",
            ),
            (vec![("ORDERS_SINK", "kinesis")], "KINESIS_STREAM_NAME"),
            (
                vec![("EVENTS_SINK", "kafka"), ("KAFKA_TOPIC", "t")],
                "KAFKA_BOOTSTRAP_SERVERS",
            ),
            (
                vec![
                    ("EVENTS_SINK", "kafka"),
                    ("KAFKA_BOOTSTRAP_SERVERS", "b:9092"),
                    ("KAFKA_TOPIC", "t"),
                    ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
                ],
                "KAFKA_SASL_SECRET_ARN",
            ),
            (
                vec![("KINESIS_STREAM_NAME", "s"), ("MAX_BODY_BYTES", "lots")],
                "MAX_BODY_BYTES",
            ),
            (
                vec![("KINESIS_STREAM_NAME", "s"), ("MAX_RECORDS", "0")],
                "MAX_RECORDS",
            ),
            (
                vec![("KINESIS_STREAM_NAME", "s"), ("SINK_MAX_ATTEMPTS", "99")],
                "SINK_MAX_ATTEMPTS",
            ),
            (
                vec![
                    ("KINESIS_STREAM_NAME", "s"),
                    ("IDEMPOTENCY_TABLE", "i"),
                    ("IDEMPOTENCY_TTL_SECONDS", "0"),
                ],
                "IDEMPOTENCY_TTL_SECONDS",
            ),
            (
                vec![("KINESIS_STREAM_NAME", "s"), ("MAX_QUANTITY", "x")],
                "MAX_QUANTITY",
            ),
        ] {
            let err = IngestConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.variable(), variable, "{err}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(1), Duration::from_millis(100));
        assert_eq!(policy.ceiling(2), Duration::from_millis(200));
        assert_eq!(policy.ceiling(4), Duration::from_millis(800));
        assert_eq!(policy.ceiling(5), Duration::from_millis(1_000));
        assert_eq!(policy.ceiling(60), Duration::from_millis(1_000));
    }
}
