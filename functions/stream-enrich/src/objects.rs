//! The lake objects of one slice: one Parquet object per (entity, dt, hour) of its accepted
//! rows and one JSONL object per entity of its quarantined records, all named after the
//! slice's source range so a retry overwrites instead of duplicating.

use crate::pipeline::{Accepted, Refused};
use crate::source::SourceRecord;
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use shopstream::clean::{CleanClickstream, CleanInventory, CleanRecord, CleanTransaction};
use shopstream::columnar::{
    clickstream_to_parquet, inventory_to_parquet, transactions_to_parquet, EncodeError, Origin,
    Provenance,
};
use shopstream::lake::{quarantine_key, silver_key, SourceRange};
use shopstream::quarantine::{to_jsonl, QuarantineEntry};
use shopstream::reason::{RejectReason, Rejection};
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

    /// The object's bytes: snappy Parquet in the entity's silver schema with each row's
    /// provenance (from the slice's `records`, by index), or JSON lines.
    pub fn encode(&self, records: &[SourceRecord]) -> Result<Vec<u8>, EncodeError> {
        let origins: Vec<Origin> = self
            .indices
            .iter()
            .filter_map(|i| records.get(*i))
            .map(|record| Origin {
                position: &record.position,
                arrival_time: record.arrival,
            })
            .collect();
        let provenance = Provenance {
            object: &self.key,
            origins: &origins,
        };
        match &self.rows {
            Rows::Transactions(rows) => transactions_to_parquet(rows, &provenance),
            Rows::Clickstream(rows) => clickstream_to_parquet(rows, &provenance),
            Rows::Inventory(rows) => inventory_to_parquet(rows, &provenance),
            Rows::Quarantine(rows) => Ok(to_jsonl(rows)),
        }
    }

    fn entity(&self) -> Option<Entity> {
        match &self.rows {
            Rows::Transactions(_) => Some(Entity::Transaction),
            Rows::Clickstream(_) => Some(Entity::Clickstream),
            Rows::Inventory(_) => Some(Entity::Inventory),
            Rows::Quarantine(_) => None,
        }
    }

    /// The event id of each row of a silver object.
    fn event_ids(&self) -> Vec<&str> {
        match &self.rows {
            Rows::Transactions(r) => r.iter().map(|r| r.event_id.as_ref()).collect(),
            Rows::Clickstream(r) => r.iter().map(|r| r.event_id.as_ref()).collect(),
            Rows::Inventory(r) => r.iter().map(|r| r.event_id.as_ref()).collect(),
            Rows::Quarantine(r) => r
                .iter()
                .map(|r| r.event_id.as_deref().unwrap_or(""))
                .collect(),
        }
    }

    /// The same object without the rows at the given positions (not slice indices).
    fn without_positions(&self, drop: &[usize]) -> LakeObject<'a> {
        let keep: Vec<bool> = (0..self.indices.len())
            .map(|p| !drop.contains(&p))
            .collect();
        LakeObject {
            key: self.key.clone(),
            indices: self
                .indices
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(i, _)| *i)
                .collect(),
            rows: self.rows.filtered(&keep),
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

/// An object ready to put: its rows and its bytes.
#[derive(Debug)]
pub struct EncodedObject<'a> {
    pub object: LakeObject<'a>,
    pub bytes: Vec<u8>,
}

/// What encoding a slice's objects gave: the objects to put, and the slice indices of the
/// records whose rows could not be encoded (now quarantined as `ENCODE_ERROR`).
#[derive(Debug, Default)]
pub struct EncodedSlice<'a> {
    pub objects: Vec<EncodedObject<'a>>,
    pub unencodable: Vec<usize>,
}

/// Encodes every object. An encode error is deterministic — a retry would fail the same
/// way — so the rows that cannot be encoded are found (each row alone), moved to the
/// entity's quarantine object with an `ENCODE_ERROR` reason, and the rest is encoded again.
pub fn encode_objects<'a>(
    objects: Vec<LakeObject<'a>>,
    records: &[SourceRecord],
    range: &SourceRange,
    first_arrival: DateTime<Utc>,
) -> EncodedSlice<'a> {
    let mut encoded = EncodedSlice::default();
    let mut refused: Vec<Refused> = Vec::new();
    let mut quarantine_objects: Vec<LakeObject<'a>> = Vec::new();
    for object in objects {
        if object.is_quarantine() {
            quarantine_objects.push(object);
            continue;
        }
        match object.encode(records) {
            Ok(bytes) => encoded.objects.push(EncodedObject { object, bytes }),
            Err(error) => {
                tracing::error!(%error, key = %object.key, "rows that cannot be encoded are quarantined");
                let (kept, bad) = split_unencodable(&object, records, &error);
                for (position, detail) in bad {
                    let index = object.indices[position];
                    let Some(record) = records.get(index) else {
                        continue;
                    };
                    let payload = record.payload.as_deref().unwrap_or(&record.raw);
                    let rejection = Rejection::new(RejectReason::EncodeError, detail);
                    let entry = QuarantineEntry::new(
                        payload,
                        vec![rejection],
                        record.position.clone(),
                        record.arrival,
                    )
                    .with_record(
                        object.entity().unwrap_or(Entity::Transaction),
                        object.event_ids().get(position).copied(),
                    );
                    refused.push(Refused { index, entry });
                    encoded.unencodable.push(index);
                }
                if let Some((kept, bytes)) = kept {
                    encoded.objects.push(EncodedObject {
                        object: kept,
                        bytes,
                    });
                }
            }
        }
    }
    let (dt, hour) = (first_arrival.date_naive(), first_arrival.hour());
    for Refused { index, entry } in refused {
        let key = quarantine_key(entry.entity, dt, hour, range);
        let position = match quarantine_objects.iter().position(|o| o.key == key) {
            Some(position) => position,
            None => {
                quarantine_objects.push(LakeObject {
                    key,
                    indices: Vec::new(),
                    rows: Rows::Quarantine(Vec::new()),
                });
                quarantine_objects.len() - 1
            }
        };
        let object = &mut quarantine_objects[position];
        // Entries stay in slice order, as `plan` writes them.
        if let Rows::Quarantine(rows) = &mut object.rows {
            let at = object.indices.partition_point(|i| *i < index);
            object.indices.insert(at, index);
            rows.insert(at, entry);
        }
    }
    quarantine_objects.sort_by(|a, b| a.key.cmp(&b.key));
    for object in quarantine_objects {
        // JSON lines: encoding cannot fail.
        let bytes = object.encode(records).unwrap_or_default();
        encoded.objects.push(EncodedObject { object, bytes });
    }
    encoded.unencodable.sort_unstable();
    encoded
}

/// The object without its unencodable rows (and its bytes, unless nothing is left), and the
/// positions of those rows with the reason. When no single row is at fault, every row is.
#[allow(clippy::type_complexity)]
fn split_unencodable<'a>(
    object: &LakeObject<'a>,
    records: &[SourceRecord],
    error: &EncodeError,
) -> (Option<(LakeObject<'a>, Vec<u8>)>, Vec<(usize, String)>) {
    let mut bad = Vec::new();
    for position in 0..object.indices.len() {
        let others: Vec<usize> = (0..object.indices.len())
            .filter(|p| *p != position)
            .collect();
        let alone = object.without_positions(&others);
        if let Err(error) = alone.encode(records) {
            bad.push((
                position,
                format!("the row cannot be written as silver Parquet: {error}"),
            ));
        }
    }
    let positions: Vec<usize> = bad.iter().map(|(p, _)| *p).collect();
    let kept = object.without_positions(&positions);
    if kept.indices.is_empty() {
        return (None, bad);
    }
    match kept.encode(records) {
        Ok(bytes) => (Some((kept, bytes)), bad),
        Err(_) => {
            let all = (0..object.indices.len())
                .map(|p| {
                    (
                        p,
                        format!("the object cannot be written as silver Parquet: {error}"),
                    )
                })
                .collect();
            (None, all)
        }
    }
}
