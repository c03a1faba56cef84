//! Configuration of stream-enrich, read once at cold start. Every error names its variable.

use shopstream::aws::SdkTimeouts;
use shopstream::config::{ConfigError, CoreConfig, Env};
use std::time::Duration;

pub const DEFAULT_CACHE_CAPACITY: usize = 100_000;
pub const DEFAULT_CACHE_TTL_SECONDS: u32 = 300;
pub const DEFAULT_ALERT_SOURCE: &str = "shopstream.stream-enrich";
pub const DEFAULT_PROFILE_KEY: &str = "user_id";
/// Slices (Kafka partitions) of one invocation processed at the same time.
pub const DEFAULT_SLICE_CONCURRENCY: usize = 4;
pub use shopstream::deadline::DEFAULT_MARGIN_MS as DEFAULT_DEADLINE_MARGIN_MS;

/// Everything the handler needs besides its clients.
#[derive(Debug, Clone)]
pub struct Config {
    /// Validation and fraud rules, Avro schema ids (`shopstream::config::CoreConfig`).
    pub core: CoreConfig,
    /// `LAKE_BUCKET`: the bucket holding `silver/` and `quarantine/`.
    pub lake_bucket: String,
    /// `PROFILE_TABLE`: DynamoDB table of customer profiles.
    pub profile_table: String,
    /// `PROFILE_KEY_ATTRIBUTE`: the table's partition key (default `user_id`).
    pub profile_key: String,
    /// `EVENT_BUS_NAME`: EventBridge bus receiving `FraudSuspected`.
    pub event_bus: String,
    /// `FRAUD_EVENT_SOURCE`: the `source` of published alerts.
    pub alert_source: String,
    /// `PROFILE_CACHE_SIZE`: profiles kept per container (LRU).
    pub cache_capacity: usize,
    /// `PROFILE_CACHE_TTL_SECONDS`: how long a cached profile (or a known miss) is trusted.
    pub cache_ttl: Duration,
    /// `DEADLINE_MARGIN_MS`: no slice or write starts when less than this is left before
    /// the invocation deadline; the rest is reported for the retry.
    pub deadline_margin: Duration,
    /// `SDK_OPERATION_TIMEOUT_MS`, `SDK_ATTEMPT_TIMEOUT_MS`: bounds on every S3, DynamoDB and
    /// EventBridge call.
    pub sdk_timeouts: SdkTimeouts,
    /// `VELOCITY_TABLE`: the per-user order history of the velocity rule (see `velocity`);
    /// unset, the rule sees only the orders of the same slice.
    pub velocity_table: Option<String>,
    /// `VELOCITY_BUCKET_SECONDS`: event time grouped per item of that table.
    pub velocity_bucket_seconds: u32,
    /// `SLICE_CONCURRENCY`: slices (Kafka partitions) of one invocation processed at the
    /// same time; their records stay in order within each slice.
    pub slice_concurrency: usize,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let cache_capacity: usize = env.parse_or("PROFILE_CACHE_SIZE", DEFAULT_CACHE_CAPACITY)?;
        if cache_capacity == 0 {
            return Err(ConfigError::invalid(
                "PROFILE_CACHE_SIZE",
                "0",
                "must be at least 1",
            ));
        }
        let ttl: u32 = env.parse_or("PROFILE_CACHE_TTL_SECONDS", DEFAULT_CACHE_TTL_SECONDS)?;
        let velocity_bucket_seconds: u32 = env.parse_or(
            "VELOCITY_BUCKET_SECONDS",
            crate::velocity::DEFAULT_BUCKET_SECONDS,
        )?;
        if velocity_bucket_seconds == 0 {
            return Err(ConfigError::invalid(
                "VELOCITY_BUCKET_SECONDS",
                "0",
                "must be at least 1",
            ));
        }
        let slice_concurrency: usize =
            env.parse_or("SLICE_CONCURRENCY", DEFAULT_SLICE_CONCURRENCY)?;
        if slice_concurrency == 0 {
            return Err(ConfigError::invalid(
                "SLICE_CONCURRENCY",
                "0",
                "must be at least 1",
            ));
        }
        Ok(Config {
            core: CoreConfig::from_env(env)?,
            lake_bucket: env.required("LAKE_BUCKET")?.to_owned(),
            profile_table: env.required("PROFILE_TABLE")?.to_owned(),
            profile_key: env
                .optional("PROFILE_KEY_ATTRIBUTE")
                .unwrap_or(DEFAULT_PROFILE_KEY)
                .to_owned(),
            event_bus: env.required("EVENT_BUS_NAME")?.to_owned(),
            alert_source: env
                .optional("FRAUD_EVENT_SOURCE")
                .unwrap_or(DEFAULT_ALERT_SOURCE)
                .to_owned(),
            cache_capacity,
            cache_ttl: Duration::from_secs(u64::from(ttl)),
            deadline_margin: Duration::from_millis(
                env.parse_or("DEADLINE_MARGIN_MS", DEFAULT_DEADLINE_MARGIN_MS)?,
            ),
            sdk_timeouts: SdkTimeouts::from_env(env)?,
            velocity_table: env.optional("VELOCITY_TABLE").map(str::to_owned),
            velocity_bucket_seconds,
            slice_concurrency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("LAKE_BUCKET", "lake"),
            ("PROFILE_TABLE", "profiles"),
            ("EVENT_BUS_NAME", "bus"),
        ]
    }

    #[test]
    fn defaults_apply() {
        let config = Config::from_env(&Env::from_pairs(base())).expect("valid config");
        assert_eq!(config.lake_bucket, "lake");
        assert_eq!(config.profile_key, "user_id");
        assert_eq!(config.cache_capacity, DEFAULT_CACHE_CAPACITY);
        assert_eq!(config.cache_ttl, Duration::from_secs(300));
        assert_eq!(config.alert_source, DEFAULT_ALERT_SOURCE);
        assert_eq!(config.deadline_margin, Duration::from_millis(2_000));
        assert_eq!(config.slice_concurrency, DEFAULT_SLICE_CONCURRENCY);
    }

    #[test]
    fn errors_name_the_variable() {
        for missing in ["LAKE_BUCKET", "PROFILE_TABLE", "EVENT_BUS_NAME"] {
            let pairs: Vec<_> = base().into_iter().filter(|(k, _)| *k != missing).collect();
            let err = Config::from_env(&Env::from_pairs(pairs)).expect_err("missing variable");
            assert_eq!(err.variable(), missing);
        }
        for (name, value) in [
            ("PROFILE_CACHE_SIZE", "0"),
            ("PROFILE_CACHE_SIZE", "many"),
            ("PROFILE_CACHE_TTL_SECONDS", "-1"),
            ("DEADLINE_MARGIN_MS", "soon"),
            ("VELOCITY_BUCKET_SECONDS", "0"),
            ("SLICE_CONCURRENCY", "0"),
        ] {
            let mut pairs = base();
            pairs.push((name, value));
            let err = Config::from_env(&Env::from_pairs(pairs)).expect_err("invalid variable");
            assert_eq!(err.variable(), name, "{err}");
        }
    }
}
