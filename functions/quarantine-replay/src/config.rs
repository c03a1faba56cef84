//! Configuration, read once at cold start; errors name their variable.

use crate::sink::RetryPolicy;
use shopstream::config::{ConfigError, CoreConfig, Env};
use shopstream::kafka::KafkaConfig;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// `LAKE_BUCKET`: bucket of the lake (quarantine/ is read and rewritten there).
    pub lake_bucket: String,
    /// `STREAM_NAME`: the Kinesis stream records from Kinesis (and the API) are re-driven into.
    pub stream_name: String,
    /// `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_TOPIC`, ... (`shopstream::kafka::KafkaConfig`): the
    /// topic records from Kafka are re-driven into; `None` when `KAFKA_BOOTSTRAP_SERVERS` is
    /// unset (Kafka entries and DLQ messages are then left where they are, with the reason).
    pub kafka: Option<KafkaConfig>,
    /// `DLQ_QUEUE_URL`: the stream mapping's on-failure queue, drained by `replay-dlq`.
    pub dlq_queue_url: Option<String>,
    /// `DRY_RUN`: report only, unless a request says `"dryRun": false` (default false).
    pub dry_run: bool,
    /// `MAX_SEND_ATTEMPTS` (5), `SEND_BACKOFF_MS` (100), `SEND_MAX_BACKOFF_MS` (2000).
    pub retry: RetryPolicy,
    /// The validation rules and Avro schemas; set them as stream-enrich's are, so a replayed
    /// record is judged by the rules it will meet.
    pub core: CoreConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_attempts: u32 = env.parse_or("MAX_SEND_ATTEMPTS", 5)?;
        if max_attempts == 0 {
            return Err(ConfigError::invalid(
                "MAX_SEND_ATTEMPTS",
                "0",
                "must be at least 1",
            ));
        }
        Ok(Config {
            lake_bucket: env.required("LAKE_BUCKET")?.to_owned(),
            stream_name: env.required("STREAM_NAME")?.to_owned(),
            kafka: env
                .optional("KAFKA_BOOTSTRAP_SERVERS")
                .map(|_| KafkaConfig::from_env(env, "shopstream-quarantine-replay"))
                .transpose()?,
            dlq_queue_url: env.optional("DLQ_QUEUE_URL").map(str::to_owned),
            dry_run: env.flag_or("DRY_RUN", false)?,
            retry: RetryPolicy {
                max_attempts,
                base_backoff: Duration::from_millis(env.parse_or("SEND_BACKOFF_MS", 100)?),
                max_backoff: Duration::from_millis(env.parse_or("SEND_MAX_BACKOFF_MS", 2_000)?),
            },
            core: CoreConfig::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_variables_are_named_and_defaults_apply() {
        let err = Config::from_env(&Env::from_pairs([("LAKE_BUCKET", "lake")])).unwrap_err();
        assert_eq!(err.variable(), "STREAM_NAME");
        let env = Env::from_pairs([("LAKE_BUCKET", "lake"), ("STREAM_NAME", "events")]);
        let config = Config::from_env(&env).unwrap();
        assert!(!config.dry_run);
        assert_eq!(config.retry.max_attempts, 5);
        assert_eq!(config.dlq_queue_url, None);
        assert_eq!(config.kafka, None);
        for (name, value) in [
            ("DRY_RUN", "perhaps"),
            ("MAX_SEND_ATTEMPTS", "0"),
            ("SEND_BACKOFF_MS", "-1"),
        ] {
            let env = Env::from_pairs([
                ("LAKE_BUCKET", "lake"),
                ("STREAM_NAME", "events"),
                (name, value),
            ]);
            assert_eq!(Config::from_env(&env).unwrap_err().variable(), name);
        }
    }

    #[test]
    fn a_kafka_target_needs_a_topic_and_never_credentials() {
        let kafka = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![("LAKE_BUCKET", "lake"), ("STREAM_NAME", "events")];
            pairs.extend_from_slice(extra);
            Config::from_env(&Env::from_pairs(pairs))
        };
        assert_eq!(
            kafka(&[("KAFKA_BOOTSTRAP_SERVERS", "b:9092")])
                .unwrap_err()
                .variable(),
            "KAFKA_TOPIC"
        );
        let config = kafka(&[
            ("KAFKA_BOOTSTRAP_SERVERS", "b-1:9096,b-2:9096"),
            ("KAFKA_TOPIC", "events"),
            ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            (
                "KAFKA_SASL_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:k",
            ),
        ])
        .unwrap();
        let kafka_config = config.kafka.expect("a Kafka target");
        assert_eq!(kafka_config.topic, "events");
        assert_eq!(kafka_config.bootstrap_servers, ["b-1:9096", "b-2:9096"]);
        assert_eq!(kafka_config.client_id, "shopstream-quarantine-replay");
        assert!(kafka_config.tls && kafka_config.sasl.is_some());
        let err = kafka(&[
            ("KAFKA_BOOTSTRAP_SERVERS", "b:9096"),
            ("KAFKA_TOPIC", "events"),
            ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("KAFKA_SASL_SECRET_ARN", "arn:s"),
            ("KAFKA_SASL_PASSWORD", "hunter2"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "KAFKA_SASL_PASSWORD");
        assert!(!err.to_string().contains("hunter2"));
    }
}
