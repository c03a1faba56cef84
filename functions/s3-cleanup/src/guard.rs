//! The prefix guard: s3-cleanup deletes only under the prefixes it was configured for, checked
//! on every key just before it is deleted, whatever computed the key.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GuardError {
    #[error("cleanup prefix {0:?} is invalid: a prefix is a non-empty folder path ending in '/', without '.' or '..' segments")]
    BadPrefix(String),
    #[error("no cleanup prefix configured")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixGuard {
    prefixes: Vec<String>,
}

fn bad_segments(path: &str) -> bool {
    path.split('/')
        .any(|segment| segment == "." || segment == "..")
}

impl PrefixGuard {
    pub fn new(prefixes: Vec<String>) -> Result<Self, GuardError> {
        if prefixes.is_empty() {
            return Err(GuardError::Empty);
        }
        for prefix in &prefixes {
            let valid = prefix.ends_with('/')
                && !prefix.starts_with('/')
                && !prefix.contains("//")
                && !bad_segments(prefix);
            if !valid {
                return Err(GuardError::BadPrefix(prefix.clone()));
            }
        }
        Ok(PrefixGuard { prefixes })
    }

    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// Whether `key` may be deleted: strictly inside a configured prefix, with no `.`/`..`
    /// segment that a reader could resolve elsewhere.
    pub fn allows(&self, key: &str) -> bool {
        !bad_segments(key)
            && self
                .prefixes
                .iter()
                .any(|prefix| key.len() > prefix.len() && key.starts_with(prefix.as_str()))
    }

    /// Whether listing under `prefix` stays inside the guard.
    pub fn covers(&self, prefix: &str) -> bool {
        !bad_segments(prefix) && self.prefixes.iter().any(|p| prefix.starts_with(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn guard() -> PrefixGuard {
        PrefixGuard::new(vec!["gold/".into(), "silver/".into()]).unwrap()
    }

    #[test]
    fn only_keys_inside_a_prefix_pass() {
        let guard = guard();
        assert!(guard.allows("gold/final_fact/batch_id=b1/part-00000.parquet"));
        assert!(guard.allows("silver/transaction/dt=2024-11-05/hour=07/s-1-2.parquet"));
        for key in [
            "gold/",
            "gold",
            "golden/x",
            "bronze/orders/x.jsonl.gz",
            "quarantine/transaction/x.jsonl",
            "gold/../quarantine/x",
            "silver/./x",
            "/gold/x",
        ] {
            assert!(!guard.allows(key), "{key}");
        }
    }

    #[test]
    fn prefixes_are_checked() {
        for bad in ["", "gold", "/gold/", "gold//x/", "gold/../", "./"] {
            assert!(PrefixGuard::new(vec![bad.into()]).is_err(), "{bad:?}");
        }
        assert_eq!(PrefixGuard::new(vec![]), Err(GuardError::Empty));
        assert!(guard().covers("gold/final_fact/batch_id=b1/"));
        assert!(!guard().covers("gol"));
    }

    proptest! {
        #[test]
        fn an_allowed_key_starts_with_a_configured_prefix(key in "[a-z./]{0,24}") {
            let guard = guard();
            if guard.allows(&key) {
                prop_assert!(key.starts_with("gold/") || key.starts_with("silver/"));
                prop_assert!(!key.split('/').any(|s| s == ".."));
            }
        }
    }
}
