//! Configuration, read once at cold start; errors name their variable.

use shopstream::config::{ConfigError, Env};

pub const DEFAULT_TABLE: &str = "orders";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `LAKE_BUCKET`: bucket of the lake.
    pub lake_bucket: String,
    /// `BRONZE_TABLE`: dataset name under `bronze/` (default `orders`).
    pub bronze_table: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            lake_bucket: env.required("LAKE_BUCKET")?.to_owned(),
            bronze_table: env
                .optional("BRONZE_TABLE")
                .unwrap_or(DEFAULT_TABLE)
                .to_owned(),
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
    }
}
