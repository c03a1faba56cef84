//! Configuration, read once at cold start; errors name their variable.

use shopstream::config::{ConfigError, Env};

pub const DEFAULT_MAX_BATCH_ROWS: u64 = 600_000;
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 100 * 1024 * 1024;
pub const DEFAULT_MAX_BATCH_OBJECTS: usize = 2_000;
pub const DEFAULT_GOLD_PART_ROWS: usize = 1_000_000;
pub const DEFAULT_MEMORY_FRACTION: f64 = 0.5;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `LAKE_BUCKET`: the lake (silver and quarantine in, gold and plans out).
    pub lake_bucket: String,
    /// `BATCHES_TABLE`: the batch ledger.
    pub batches_table: String,
    /// `EVENT_BUS_NAME`: receives BatchTransformed and TransformTooLarge.
    pub event_bus: String,
    /// `MAX_BATCH_ROWS`: silver rows above which a batch goes to EMR.
    pub max_batch_rows: u64,
    /// `MAX_BATCH_BYTES`: input bytes above which a batch goes to EMR.
    pub max_batch_bytes: u64,
    /// `MAX_BATCH_OBJECTS`: input objects one plan takes at most.
    pub max_batch_objects: usize,
    /// `GOLD_PART_ROWS`: rows per gold Parquet part.
    pub gold_part_rows: usize,
    /// DataFusion's memory pool: `MEMORY_FRACTION` (default 0.5) of
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MiB, set by Lambda); no pool when that is unset.
    pub memory_limit_bytes: Option<usize>,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let positive = |name: &str, value: u64| {
            if value == 0 {
                Err(ConfigError::invalid(name, "0", "must be at least 1"))
            } else {
                Ok(value)
            }
        };
        let fraction: f64 = env.parse_or("MEMORY_FRACTION", DEFAULT_MEMORY_FRACTION)?;
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(ConfigError::invalid(
                "MEMORY_FRACTION",
                &fraction.to_string(),
                "must be in (0, 1]",
            ));
        }
        let memory_mib: Option<u64> = env.parse("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")?;
        Ok(Config {
            lake_bucket: env.required("LAKE_BUCKET")?.to_owned(),
            batches_table: env.required("BATCHES_TABLE")?.to_owned(),
            event_bus: env.required("EVENT_BUS_NAME")?.to_owned(),
            max_batch_rows: positive(
                "MAX_BATCH_ROWS",
                env.parse_or("MAX_BATCH_ROWS", DEFAULT_MAX_BATCH_ROWS)?,
            )?,
            max_batch_bytes: positive(
                "MAX_BATCH_BYTES",
                env.parse_or("MAX_BATCH_BYTES", DEFAULT_MAX_BATCH_BYTES)?,
            )?,
            max_batch_objects: positive(
                "MAX_BATCH_OBJECTS",
                env.parse_or("MAX_BATCH_OBJECTS", DEFAULT_MAX_BATCH_OBJECTS as u64)?,
            )? as usize,
            gold_part_rows: positive(
                "GOLD_PART_ROWS",
                env.parse_or("GOLD_PART_ROWS", DEFAULT_GOLD_PART_ROWS as u64)?,
            )? as usize,
            memory_limit_bytes: memory_mib
                .map(|mib| (mib as f64 * 1024.0 * 1024.0 * fraction) as usize),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("LAKE_BUCKET", "lake"),
            ("BATCHES_TABLE", "batches"),
            ("EVENT_BUS_NAME", "bus"),
        ]
    }

    #[test]
    fn required_variables_are_named() {
        for missing in ["LAKE_BUCKET", "BATCHES_TABLE", "EVENT_BUS_NAME"] {
            let pairs = base().into_iter().filter(|(k, _)| *k != missing);
            let err = Config::from_env(&Env::from_pairs(pairs)).expect_err(missing);
            assert_eq!(err.variable(), missing);
        }
    }

    #[test]
    fn defaults_and_memory_from_the_lambda_size() {
        let config = Config::from_env(&Env::from_pairs(base())).unwrap();
        assert_eq!(config.max_batch_rows, DEFAULT_MAX_BATCH_ROWS);
        assert_eq!(config.memory_limit_bytes, None);
        let mut pairs = base();
        pairs.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"));
        let config = Config::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(config.memory_limit_bytes, Some(1024 * 1024 * 1024));
    }

    #[test]
    fn malformed_values_are_refused() {
        for (name, value) in [
            ("MAX_BATCH_ROWS", "many"),
            ("MAX_BATCH_BYTES", "0"),
            ("MEMORY_FRACTION", "1.5"),
            ("GOLD_PART_ROWS", "-1"),
        ] {
            let mut pairs = base();
            pairs.push((name, value));
            let err = Config::from_env(&Env::from_pairs(pairs)).expect_err(name);
            assert_eq!(err.variable(), name);
        }
    }
}
