//! Configuration, read once at cold start; errors name their variable.

use crate::delete::RetryPolicy;
use crate::guard::PrefixGuard;
use chrono::TimeDelta;
use shopstream::config::{ConfigError, Env};
use std::time::Duration;

pub const DEFAULT_PREFIXES: &str = "gold/,silver/";
pub const DEFAULT_GOLD_RETENTION_DAYS: u32 = 90;
pub const DEFAULT_SILVER_RETENTION_DAYS: u32 = 14;

#[derive(Debug, Clone)]
pub struct Config {
    /// `LAKE_BUCKET`.
    pub lake_bucket: String,
    /// `BATCHES_TABLE`: the batch ledger.
    pub batches_table: String,
    /// `EVENT_BUS_NAME`: where `BatchCleaned` goes.
    pub event_bus_name: String,
    /// `CLEANUP_PREFIXES` (`gold/,silver/`): the only places anything is deleted.
    pub guard: PrefixGuard,
    /// `GOLD_RETENTION_DAYS` (90): how long after its load a batch's gold files stay.
    pub gold_retention: TimeDelta,
    /// `SILVER_RETENTION_DAYS` (14): how long after the load the silver inputs stay.
    pub silver_retention: TimeDelta,
    /// `DRY_RUN` (false): report what would be deleted, delete nothing.
    pub dry_run: bool,
    /// `DELETE_MAX_ATTEMPTS` (5), `DELETE_BACKOFF_MS` (200), `DELETE_MAX_BACKOFF_MS` (5000).
    pub retry: RetryPolicy,
}

fn days(env: &Env, name: &str, default: u32) -> Result<TimeDelta, ConfigError> {
    let days: u32 = env.parse_or(name, default)?;
    if days > 36_500 {
        return Err(ConfigError::invalid(
            name,
            &days.to_string(),
            "at most 36500 days",
        ));
    }
    Ok(TimeDelta::days(i64::from(days)))
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let prefixes = env
            .list("CLEANUP_PREFIXES")
            .unwrap_or_else(|| DEFAULT_PREFIXES.split(',').map(str::to_owned).collect());
        let guard = PrefixGuard::new(prefixes).map_err(|e| {
            ConfigError::invalid(
                "CLEANUP_PREFIXES",
                env.optional("CLEANUP_PREFIXES").unwrap_or_default(),
                e,
            )
        })?;
        let max_attempts: u32 = env.parse_or("DELETE_MAX_ATTEMPTS", 5)?;
        if max_attempts == 0 {
            return Err(ConfigError::invalid(
                "DELETE_MAX_ATTEMPTS",
                "0",
                "must be at least 1",
            ));
        }
        Ok(Config {
            lake_bucket: env.required("LAKE_BUCKET")?.to_owned(),
            batches_table: env.required("BATCHES_TABLE")?.to_owned(),
            event_bus_name: env.required("EVENT_BUS_NAME")?.to_owned(),
            guard,
            gold_retention: days(env, "GOLD_RETENTION_DAYS", DEFAULT_GOLD_RETENTION_DAYS)?,
            silver_retention: days(env, "SILVER_RETENTION_DAYS", DEFAULT_SILVER_RETENTION_DAYS)?,
            dry_run: env.flag_or("DRY_RUN", false)?,
            retry: RetryPolicy {
                max_attempts,
                base_backoff: Duration::from_millis(env.parse_or("DELETE_BACKOFF_MS", 200)?),
                max_backoff: Duration::from_millis(env.parse_or("DELETE_MAX_BACKOFF_MS", 5_000)?),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_naming_the_variable() {
        let required = [
            ("LAKE_BUCKET", "lake"),
            ("BATCHES_TABLE", "batches"),
            ("EVENT_BUS_NAME", "bus"),
        ];
        let config = Config::from_env(&Env::from_pairs(required)).unwrap();
        assert_eq!(config.guard.prefixes(), ["gold/", "silver/"]);
        assert_eq!(config.gold_retention, TimeDelta::days(90));
        assert_eq!(config.silver_retention, TimeDelta::days(14));
        assert!(!config.dry_run);
        assert_eq!(
            Config::from_env(&Env::default()).unwrap_err().variable(),
            "LAKE_BUCKET"
        );
        for (name, value) in [
            ("CLEANUP_PREFIXES", "gold"),
            ("CLEANUP_PREFIXES", "../"),
            ("GOLD_RETENTION_DAYS", "-1"),
            ("SILVER_RETENTION_DAYS", "ninety"),
            ("DRY_RUN", "maybe"),
            ("DELETE_MAX_ATTEMPTS", "0"),
        ] {
            let mut pairs = required.to_vec();
            pairs.push((name, value));
            let env = Env::from_pairs(pairs);
            assert_eq!(
                Config::from_env(&env).unwrap_err().variable(),
                name,
                "{name}={value}"
            );
        }
    }
}
