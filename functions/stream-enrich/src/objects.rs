//! The lake objects of one slice: one Parquet object per (entity, dt, hour) of its accepted
//! rows and one JSONL object per entity of its quarantined records, all named after the
//! slice's source range so a retry overwrites instead of duplicating.

use crate::pipeline::{Accepted, Refused};
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use shopstream::clean::{CleanClickstream, CleanInventory, CleanRecord, CleanTransaction};
use shopstream::columnar::{
    clickstream_to_parquet, inventory_to_parquet, transactions_to_parquet, EncodeError,
};
use shopstream::lake::{quarantine_key, silver_key, SourceRange};
use shopstream::quarantine::{to_jsonl, QuarantineEntry};
use shopstream::record::Entity;
use std::collections::BTreeMap;

pub const PARQUET_CONTENT_TYPE: &str = "application/vnd.apache.parquet";
pub const JSONL_CONTENT_TYPE: &str = "application/x-ndjson";

/// The rows of one object.
#[derive(Debug, Clone)]
pub enum Rows<'a> {
    Transactions(Vec<CleanTransaction<'a>>),
    Clickstream(Vec<CleanClickstream<'a>>),
    Inventory(Vec<CleanInventory<'a>>),
    Quarantine(Vec<QuarantineEntry>),
}

impl<'a> Rows<'a> {
    pub fn len(&self) -> usize {
        match self {
            Rows::Transactions(r) => r.len(),
            Rows::Clickstream(r) => r.len(),
            Rows::Inventory(r) => r.len(),
            Rows::Quarantine(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the rows whose `keep` flag is set (flags parallel to the rows).
    fn filtered(&self, keep: &[bool]) -> Rows<'a> {
        fn pick<T: Clone>(rows: &[T], keep: &[bool]) -> Vec<T> {
            rows.iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(r, _)| r.clone())
                .collect()
        }
        match self {
            Rows::Transactions(r) => Rows::Transactions(pick(r, keep)),
            Rows::Clickstream(r) => Rows::Clickstream(pick(r, keep)),
            Rows::Inventory(r) => Rows::Inventory(pick(r, keep)),
            Rows::Quarantine(r) => Rows::Quarantine(pick(r, keep)),
        }
    }
}

/// One object to write: its key, its rows, and the slice index of each row.
#[derive(Debug, Clone)]
pub struct LakeObject<'a> {
    pub key: String,
    pub indices: Vec<usize>,
    pub rows: Rows<'a>,
}

impl<'a> LakeObject<'a> {
    pub fn is_quarantine(&self) -> bool {
        matches!(self.rows, Rows::Quarantine(_))
    }

    pub fn content_type(&self) -> &'static str {
        if self.is_quarantine() {
            JSONL_CONTENT_TYPE
        } else {
            PARQUET_CONTENT_TYPE
        }
    }

    /// The object's bytes: snappy Parquet in the entity's silver schema, or JSON lines.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match &self.rows {
            Rows::Transactions(rows) => transactions_to_parquet(rows),
            Rows::Clickstream(rows) => clickstream_to_parquet(rows),
            Rows::Inventory(rows) => inventory_to_parquet(rows),
            Rows::Quarantine(rows) => Ok(to_jsonl(rows)),
        }
    }

    pub fn min_index(&self) -> Option<usize> {
        self.indices.iter().copied().min()
    }

    pub fn max_index(&self) -> Option<usize> {
        self.indices.iter().copied().max()
    }

    /// The same object holding only rows from records before `limit`; `None` when nothing
    /// would remain.
    pub fn truncated(&self, limit: usize) -> Option<LakeObject<'a>> {
        let keep: Vec<bool> = self.indices.iter().map(|i| *i < limit).collect();
        if !keep.contains(&true) {
            return None;
        }
        Some(LakeObject {
            key: self.key.clone(),
            indices: self
                .indices
                .iter()
                .copied()
                .filter(|i| *i < limit)
                .collect(),
            rows: self.rows.filtered(&keep),
        })
    }
}

/// Groups a slice's outcome into objects (sorted by key).
pub fn plan<'a>(
    range: &SourceRange,
    first_arrival: DateTime<Utc>,
    accepted: Vec<Accepted<'a>>,
    refused: Vec<Refused>,
) -> Vec<LakeObject<'a>> {
    // Rows are grouped by partition, so each object's key is formatted once, not once per
    // row, and counted first, so each object's vectors are allocated once: growing them would
    // move every (large) row again.
    let partition_of = |record: &CleanRecord| {
        let (dt, hour) = record.partition();
        (record.entity(), dt, hour)
    };
    let mut rows_per_partition: BTreeMap<(Entity, NaiveDate, u32), usize> = BTreeMap::new();
    for a in &accepted {
        *rows_per_partition
            .entry(partition_of(&a.record))
            .or_default() += 1;
    }
    let mut silver: BTreeMap<(Entity, NaiveDate, u32), LakeObject> = BTreeMap::new();
    for Accepted { index, record } in accepted {
        let partition = partition_of(&record);
        let object = silver.entry(partition).or_insert_with(|| {
            let (entity, dt, hour) = partition;
            let rows = rows_per_partition.get(&partition).copied().unwrap_or(0);
            LakeObject {
                key: silver_key(entity, dt, hour, range),
                indices: Vec::with_capacity(rows),
                rows: match entity {
                    Entity::Transaction => Rows::Transactions(Vec::with_capacity(rows)),
                    Entity::Clickstream => Rows::Clickstream(Vec::with_capacity(rows)),
                    Entity::Inventory => Rows::Inventory(Vec::with_capacity(rows)),
                },
            }
        });
        // The group is the record's entity, so the rows of one object always share it.
        match (&mut object.rows, record) {
            (Rows::Transactions(rows), CleanRecord::Transaction(r)) => rows.push(r),
            (Rows::Clickstream(rows), CleanRecord::Clickstream(r)) => rows.push(r),
            (Rows::Inventory(rows), CleanRecord::Inventory(r)) => rows.push(r),
            _ => continue,
        }
        object.indices.push(index);
    }
    let (dt, hour) = (first_arrival.date_naive(), first_arrival.hour());
    let mut quarantine: BTreeMap<Option<Entity>, LakeObject> = BTreeMap::new();
    for Refused { index, entry } in refused {
        let object = quarantine
            .entry(entry.entity)
            .or_insert_with(|| LakeObject {
                key: quarantine_key(entry.entity, dt, hour, range),
                indices: Vec::new(),
                rows: Rows::Quarantine(Vec::new()),
            });
        object.indices.push(index);
        if let Rows::Quarantine(rows) = &mut object.rows {
            rows.push(entry);
        }
    }
    let by_key = |a: &LakeObject, b: &LakeObject| a.key.cmp(&b.key);
    let mut silver: Vec<LakeObject> = silver.into_values().collect();
    silver.sort_by(by_key);
    let mut quarantine: Vec<LakeObject> = quarantine.into_values().collect();
    quarantine.sort_by(by_key);
    silver.extend(quarantine);
    silver
}
