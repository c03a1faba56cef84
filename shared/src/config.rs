//! Configuration from environment variables, parsed once at cold start into typed structs.
//! Every error names the variable at fault, so a failed init says exactly what to fix.

use crate::decode::AvroSchemas;
use crate::fraud::FraudRules;
use crate::validate::{NegativePurchaseQuantity, ValidationRules};
use chrono::TimeDelta;
use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required but not set")]
    Missing { name: String },
    #[error("environment variable {name}={value:?} is invalid: {problem}")]
    Invalid {
        name: String,
        value: String,
        problem: String,
    },
}

impl ConfigError {
    pub fn invalid(name: &str, value: &str, problem: impl Display) -> Self {
        ConfigError::Invalid {
            name: name.to_owned(),
            value: value.to_owned(),
            problem: problem.to_string(),
        }
    }

    /// The variable the error is about.
    pub fn variable(&self) -> &str {
        match self {
            ConfigError::Missing { name } | ConfigError::Invalid { name, .. } => name,
        }
    }
}

/// A snapshot of environment variables. Set-but-empty counts as unset.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError::Missing {
            name: name.to_owned(),
        })
    }

    /// Parses the variable when set.
    pub fn parse<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.optional(name)
            .map(|value| {
                value
                    .parse::<T>()
                    .map_err(|e| ConfigError::invalid(name, value, e))
            })
            .transpose()
    }

    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.parse(name)?.unwrap_or(default))
    }

    pub fn parse_required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.parse(name)?.ok_or_else(|| ConfigError::Missing {
            name: name.to_owned(),
        })
    }

    /// A non-negative whole number of seconds.
    pub fn seconds(&self, name: &str) -> Result<Option<TimeDelta>, ConfigError> {
        match self.parse::<u32>(name)? {
            Some(seconds) => Ok(Some(TimeDelta::seconds(i64::from(seconds)))),
            None => Ok(None),
        }
    }

    /// `true/false`, `1/0`, `yes/no`, `on/off`.
    pub fn flag_or(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::invalid(name, value, "expected true or false")),
            },
        }
    }

    /// A comma-separated list, trimmed, empty items dropped.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.optional(name).map(|value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }
}

/// A money amount in currency units ("1000000" or "12.50") to cents.
fn cents(env: &Env, name: &str) -> Result<Option<i64>, ConfigError> {
    match env.optional(name) {
        None => Ok(None),
        Some(value) => crate::money::parse_price_text(value)
            .ok()
            .filter(|c| *c > 0 && value.chars().all(|ch| ch.is_ascii_digit() || ch == '.'))
            .map(Some)
            .ok_or_else(|| {
                ConfigError::invalid(
                    name,
                    value,
                    "expected a positive amount like 1000000 or 12.50",
                )
            }),
    }
}

impl ValidationRules {
    /// `MAX_FUTURE_SKEW_SECONDS` (300), `MAX_EVENT_AGE_SECONDS` (unset: any age),
    /// `MAX_QUANTITY` (1000), `NEGATIVE_PURCHASE_QUANTITY` (`repair`), `MAX_UNIT_PRICE`
    /// (1000000), `MAX_INVENTORY_CHANGE` (1000000),
    /// `SYSTEM_USER_PREFIXES`, `SYSTEM_ACTION_TYPES` (comma-separated, case-insensitive).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = ValidationRules::default();
        let positive = |name: &str, default: i64| -> Result<i64, ConfigError> {
            let value = env.parse_or(name, default)?;
            if value < 1 {
                return Err(ConfigError::invalid(
                    name,
                    &value.to_string(),
                    "must be at least 1",
                ));
            }
            Ok(value)
        };
        let lower_list = |name: &str, default: Vec<String>| {
            env.list(name)
                .map(|items| items.iter().map(|i| i.to_ascii_lowercase()).collect())
                .unwrap_or(default)
        };
        Ok(ValidationRules {
            max_future_skew: env
                .seconds("MAX_FUTURE_SKEW_SECONDS")?
                .unwrap_or(defaults.max_future_skew),
            max_event_age: env
                .seconds("MAX_EVENT_AGE_SECONDS")?
                .or(defaults.max_event_age),
            max_quantity: positive("MAX_QUANTITY", defaults.max_quantity)?,
            negative_purchase_quantity: match env.optional("NEGATIVE_PURCHASE_QUANTITY") {
                None => defaults.negative_purchase_quantity,
                Some(text) => NegativePurchaseQuantity::parse(text).ok_or_else(|| {
                    ConfigError::invalid(
                        "NEGATIVE_PURCHASE_QUANTITY",
                        text,
                        "must be repair or refuse",
                    )
                })?,
            },
            max_unit_price_cents: cents(env, "MAX_UNIT_PRICE")?
                .unwrap_or(defaults.max_unit_price_cents),
            max_inventory_change: positive("MAX_INVENTORY_CHANGE", defaults.max_inventory_change)?,
            system_user_prefixes: lower_list("SYSTEM_USER_PREFIXES", defaults.system_user_prefixes),
            system_action_types: lower_list("SYSTEM_ACTION_TYPES", defaults.system_action_types),
        })
    }
}

impl FraudRules {
    /// `FRAUD_RULES_JSON` (the rule set as JSON; unset: DESIGN.md's defaults).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env.optional("FRAUD_RULES_JSON") {
            None => Ok(FraudRules::default()),
            Some(json) => FraudRules::from_json(json)
                .map_err(|e| ConfigError::invalid("FRAUD_RULES_JSON", json, e)),
        }
    }
}

/// What every record-processing function needs: the rules and the Avro schemas.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub validation: ValidationRules,
    pub fraud: FraudRules,
    pub avro_schemas: AvroSchemas,
}

impl CoreConfig {
    /// The rules above plus `AVRO_SCHEMA_IDS` ("1=transaction,2=clickstream,3=inventory" by
    /// default): which schema-registry id carries which bundled schema.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let avro_schemas = match env.optional("AVRO_SCHEMA_IDS") {
            None => AvroSchemas::bundled_defaults(),
            Some(spec) => AvroSchemas::from_mapping(spec)
                .map_err(|e| ConfigError::invalid("AVRO_SCHEMA_IDS", spec, e))?,
        };
        Ok(CoreConfig {
            validation: ValidationRules::from_env(env)?,
            fraud: FraudRules::from_env(env)?,
            avro_schemas,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = CoreConfig::from_env(&Env::default()).unwrap();
        assert_eq!(config.validation, ValidationRules::default());
        assert_eq!(config.fraud, FraudRules::default());
        assert!(config.avro_schemas.get(1).is_some());
    }

    #[test]
    fn values_are_read_and_typed() {
        let env = Env::from_pairs([
            ("MAX_FUTURE_SKEW_SECONDS", "60"),
            ("MAX_EVENT_AGE_SECONDS", "86400"),
            ("MAX_QUANTITY", "50"),
            ("NEGATIVE_PURCHASE_QUANTITY", "refuse"),
            ("MAX_UNIT_PRICE", "2500.50"),
            ("SYSTEM_USER_PREFIXES", "BOT-, internal_"),
            ("AVRO_SCHEMA_IDS", "17=transaction"),
        ]);
        let config = CoreConfig::from_env(&env).unwrap();
        assert_eq!(config.validation.max_future_skew, TimeDelta::seconds(60));
        assert_eq!(config.validation.max_event_age, Some(TimeDelta::days(1)));
        assert_eq!(config.validation.max_quantity, 50);
        assert_eq!(
            config.validation.negative_purchase_quantity,
            NegativePurchaseQuantity::Refuse
        );
        assert_eq!(config.validation.max_unit_price_cents, 250_050);
        assert_eq!(
            config.validation.system_user_prefixes,
            vec!["bot-", "internal_"]
        );
        assert!(config.avro_schemas.get(17).is_some());
        assert!(config.avro_schemas.get(1).is_none());
    }

    #[test]
    fn errors_name_the_variable() {
        for (name, value) in [
            ("MAX_FUTURE_SKEW_SECONDS", "soon"),
            ("MAX_QUANTITY", "0"),
            ("NEGATIVE_PURCHASE_QUANTITY", "absolute"),
            ("MAX_UNIT_PRICE", "-5"),
            ("FRAUD_RULES_JSON", "{not json"),
            ("AVRO_SCHEMA_IDS", "x=transaction"),
            ("AVRO_SCHEMA_IDS", "1=widgets"),
        ] {
            let err = CoreConfig::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(err.variable(), name, "{err}");
            assert!(err.to_string().contains(name));
        }
        let missing = Env::default().required("LAKE_BUCKET").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "environment variable LAKE_BUCKET is required but not set"
        );
    }

    #[test]
    fn flags_and_lists() {
        let env = Env::from_pairs([("A", "yes"), ("B", "nope"), ("L", " a, ,b ")]);
        assert_eq!(env.flag_or("A", false), Ok(true));
        assert!(env.flag_or("B", false).is_err());
        assert_eq!(env.flag_or("C", true), Ok(true));
        assert_eq!(env.list("L"), Some(vec!["a".to_owned(), "b".to_owned()]));
    }
}
