//! Configuration, read once at cold start; errors name their variable.

use shopstream::aws::SdkTimeouts;
use shopstream::config::{ConfigError, Env};
use std::time::Duration;

pub const DEFAULT_TABLE: &str = "orders";
pub use shopstream::deadline::DEFAULT_MARGIN_MS as DEFAULT_DEADLINE_MARGIN_MS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `LAKE_BUCKET`: bucket of the lake.
    pub lake_bucket: String,
    /// `BRONZE_TABLE`: dataset name under `bronze/` (default `orders`).
    pub bronze_table: String,
    /// `DEADLINE_MARGIN_MS`: no write starts when less than this is left before the deadline.
    pub deadline_margin: Duration,
    /// `SDK_OPERATION_TIMEOUT_MS`, `SDK_ATTEMPT_TIMEOUT_MS`: bounds on every S3 call.
    pub sdk_timeouts: SdkTimeouts,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            lake_bucket: env.required("LAKE_BUCKET")?.to_owned(),
            bronze_table: env
                .optional("BRONZE_TABLE")
                .unwrap_or(DEFAULT_TABLE)
                .to_owned(),
            deadline_margin: Duration::from_millis(
                env.parse_or("DEADLINE_MARGIN_MS", DEFAULT_DEADLINE_MARGIN_MS)?,
            ),
            sdk_timeouts: SdkTimeouts::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_is_required_and_table_defaults() {
        let err = Config::from_env(&Env::default()).expect_err("bucket missing");
        assert_eq!(err.variable(), "LAKE_BUCKET");
        let config = Config::from_env(&Env::from_pairs([("LAKE_BUCKET", "lake")])).expect("valid");
        assert_eq!(config.bronze_table, "orders");
        assert_eq!(config.deadline_margin, Duration::from_millis(2_000));
        let err = Config::from_env(&Env::from_pairs([
            ("LAKE_BUCKET", "lake"),
            ("DEADLINE_MARGIN_MS", "-3"),
        ]))
        .expect_err("bad margin");
        assert_eq!(err.variable(), "DEADLINE_MARGIN_MS");
    }
}
