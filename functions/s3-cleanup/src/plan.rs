//! What a loaded batch may lose, decided without touching S3: which retentions have passed,
//! where its objects live, and which silver inputs another unfinished batch still needs.

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub gold: TimeDelta,
    pub silver: TimeDelta,
}

/// Which of a batch's object sets are past retention at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub gold: bool,
    pub silver: bool,
}

impl Due {
    pub fn at(loaded_at: DateTime<Utc>, now: DateTime<Utc>, retention: Retention) -> Due {
        Due {
            gold: now >= loaded_at + retention.gold,
            silver: now >= loaded_at + retention.silver,
        }
    }

    pub fn any(self) -> bool {
        self.gold || self.silver
    }

    /// Both sets are due: once deleted, the batch is `CLEANED`.
    pub fn all(self) -> bool {
        self.gold && self.silver
    }
}

/// The folder of a key: everything up to and including its last '/'.
pub fn folder(key: &str) -> Option<&str> {
    key.rfind('/').map(|end| &key[..=end])
}

/// The folders a batch's gold files sit in (`gold/<table>/batch_id=<id>/`): listing them finds
/// every part the batch wrote, also any a retried transform left beside the listed ones. Only
/// folders that name the batch are returned, so a manifest can never point cleanup at another
/// batch's files.
pub fn gold_folders<'a>(
    batch_id: &str,
    gold_keys: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<String> {
    let marker = format!("/batch_id={}/", shopstream::lake::safe_segment(batch_id));
    gold_keys
        .into_iter()
        .filter_map(folder)
        .filter(|f| f.starts_with("gold/") && f.ends_with(&marker))
        .map(str::to_owned)
        .collect()
}

/// The batch's silver inputs split into those that may go and those another unfinished batch
/// lists. Inputs outside `silver/` (quarantine files a batch also reads) are never candidates.
pub fn silver_candidates<'a>(
    inputs: impl IntoIterator<Item = &'a str>,
    protected: &HashSet<String>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut free = BTreeSet::new();
    let mut kept = BTreeSet::new();
    for key in inputs.into_iter().filter(|k| k.starts_with("silver/")) {
        if protected.contains(key) {
            kept.insert(key.to_owned());
        } else {
            free.insert(key.to_owned());
        }
    }
    (free, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn retention_counts_from_the_load() {
        let loaded = Utc.with_ymd_and_hms(2024, 11, 5, 9, 0, 0).unwrap();
        let retention = Retention {
            gold: TimeDelta::days(30),
            silver: TimeDelta::days(7),
        };
        let due = |days: i64| Due::at(loaded, loaded + TimeDelta::days(days), retention);
        assert_eq!(
            due(6),
            Due {
                gold: false,
                silver: false
            }
        );
        assert_eq!(
            due(7),
            Due {
                gold: false,
                silver: true
            }
        );
        assert!(due(30).all());
        let none = Retention {
            gold: TimeDelta::zero(),
            silver: TimeDelta::zero(),
        };
        assert!(Due::at(loaded, loaded, none).all());
    }

    #[test]
    fn gold_folders_name_the_batch() {
        let folders = gold_folders(
            "b1",
            [
                "gold/final_fact/batch_id=b1/part-00000.parquet",
                "gold/final_fact/batch_id=b1/part-00001.parquet",
                "gold/dim_user/batch_id=b1/part-00000.parquet",
                "gold/dim_user/batch_id=b2/part-00000.parquet",
                "silver/transaction/dt=2024-11-05/hour=07/x.parquet",
                "no-folder",
            ],
        );
        let expected: BTreeSet<String> =
            ["gold/dim_user/batch_id=b1/", "gold/final_fact/batch_id=b1/"]
                .map(String::from)
                .into();
        assert_eq!(folders, expected);
    }

    #[test]
    fn protected_and_non_silver_inputs_stay() {
        let protected: HashSet<String> =
            ["silver/t/dt=2024-11-05/hour=07/b.parquet".to_owned()].into();
        let (free, kept) = silver_candidates(
            [
                "silver/t/dt=2024-11-05/hour=07/a.parquet",
                "silver/t/dt=2024-11-05/hour=07/b.parquet",
                "quarantine/t/dt=2024-11-05/hour=07/a.jsonl",
            ],
            &protected,
        );
        assert_eq!(
            free.into_iter().collect::<Vec<_>>(),
            ["silver/t/dt=2024-11-05/hour=07/a.parquet"]
        );
        assert_eq!(
            kept.into_iter().collect::<Vec<_>>(),
            ["silver/t/dt=2024-11-05/hour=07/b.parquet"]
        );
    }

    proptest! {
        #[test]
        fn a_protected_input_is_never_free(keys in prop::collection::vec("silver/[ab]/[cd]\\.parquet", 0..8), cut in 0usize..8) {
            let protected: HashSet<String> = keys.iter().take(cut).cloned().collect();
            let (free, kept) = silver_candidates(keys.iter().map(String::as_str), &protected);
            prop_assert!(free.iter().all(|k| !protected.contains(k)));
            prop_assert!(kept.iter().all(|k| protected.contains(k)));
            prop_assert_eq!(free.len() + kept.len(), keys.iter().collect::<BTreeSet<_>>().len());
        }
    }
}
