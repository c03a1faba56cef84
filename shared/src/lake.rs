//! The lake's object names: deterministic functions of where the data came from, so a retried
//! batch overwrites its own objects instead of adding new ones.
//!
//! ```text
//! bronze/<table>/dt=YYYY-MM-DD/hour=HH/<stream>-<firstSeq>-<lastSeq>.jsonl.gz
//! silver/<entity>/dt=YYYY-MM-DD/hour=HH/<source-range>.parquet
//! quarantine/<entity>/dt=YYYY-MM-DD/hour=HH/<source-range>.jsonl
//! gold/<table>/batch_id=<id>/part-NNNNN.parquet
//! gold/_manifests/<batch_id>.json
//! ```

use crate::record::Entity;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const BRONZE: &str = "bronze";
pub const SILVER: &str = "silver";
pub const QUARANTINE: &str = "quarantine";
pub const GOLD: &str = "gold";
pub const MANIFESTS_PREFIX: &str = "gold/_manifests/";
/// Quarantined payloads too broken to tell their entity go here.
pub const UNKNOWN_ENTITY: &str = "unknown";

/// The span of a stream a batch (or the part of it written to one object) covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum SourceRange {
    Kinesis {
        shard_id: String,
        first_sequence: String,
        last_sequence: String,
    },
    Kafka {
        topic: String,
        partition: i64,
        first_offset: i64,
        last_offset: i64,
    },
    DynamoDb {
        shard_id: String,
        first_sequence: String,
        last_sequence: String,
    },
    /// Records `first_index..=last_index` (0-based, in file order) of a file a backfill read;
    /// `digest` names its contents, so two different files with the same name never share
    /// object keys, and the same file read twice rewrites its own objects.
    File {
        name: String,
        digest: String,
        first_index: u64,
        last_index: u64,
    },
}

impl SourceRange {
    /// The object name stem: Kinesis `<shardId>-<firstSeq>-<lastSeq>`, Kafka
    /// `<topic>-<partition>-<firstOffset>-<lastOffset>`, DynamoDB `<stream>-<firstSeq>-<lastSeq>`,
    /// file `file-<name>-<digest>-<firstIndex>-<lastIndex>`.
    pub fn object_stem(&self) -> String {
        match self {
            SourceRange::Kinesis {
                shard_id,
                first_sequence,
                last_sequence,
            } => format!(
                "{}-{}-{}",
                safe_segment(shard_id),
                safe_segment(first_sequence),
                safe_segment(last_sequence)
            ),
            SourceRange::Kafka {
                topic,
                partition,
                first_offset,
                last_offset,
            } => format!(
                "{}-{partition}-{first_offset}-{last_offset}",
                safe_segment(topic)
            ),
            SourceRange::DynamoDb {
                shard_id,
                first_sequence,
                last_sequence,
            } => format!(
                "{}-{}-{}",
                safe_segment(shard_id),
                safe_segment(first_sequence),
                safe_segment(last_sequence)
            ),
            SourceRange::File {
                name,
                digest,
                first_index,
                last_index,
            } => format!(
                "file-{}-{}-{first_index}-{last_index}",
                safe_segment(name),
                safe_segment(digest)
            ),
        }
    }
}

impl fmt::Display for SourceRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.object_stem())
    }
}

/// Keeps a key segment to characters S3, Hive-style readers and shells all take literally:
/// ASCII letters, digits, '-', '_' and '.'; anything else becomes '_'. Never empty, never a
/// path component like ".." .
pub fn safe_segment(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        format!("_{cleaned}")
    } else {
        cleaned
    }
}

fn partition_path(dt: NaiveDate, hour: u32) -> String {
    format!("dt={}/hour={:02}", dt.format("%Y-%m-%d"), hour)
}

/// `silver/<entity>/dt=/hour=/<range>.parquet`
pub fn silver_key(entity: Entity, dt: NaiveDate, hour: u32, range: &SourceRange) -> String {
    format!(
        "{SILVER}/{entity}/{}/{}.parquet",
        partition_path(dt, hour),
        range.object_stem()
    )
}

/// `quarantine/<entity|unknown>/dt=/hour=/<range>.jsonl`, partitioned by arrival time since
/// a refused record may have no usable event time.
pub fn quarantine_key(
    entity: Option<Entity>,
    dt: NaiveDate,
    hour: u32,
    range: &SourceRange,
) -> String {
    let entity = entity.map(Entity::as_str).unwrap_or(UNKNOWN_ENTITY);
    format!(
        "{QUARANTINE}/{entity}/{}/{}.jsonl",
        partition_path(dt, hour),
        range.object_stem()
    )
}

/// `bronze/<table>/dt=/hour=/<range>.jsonl.gz`
pub fn bronze_key(table: &str, dt: NaiveDate, hour: u32, range: &SourceRange) -> String {
    format!(
        "{BRONZE}/{}/{}/{}.jsonl.gz",
        safe_segment(table),
        partition_path(dt, hour),
        range.object_stem()
    )
}

/// `gold/<table>/batch_id=<id>/part-NNNNN.parquet`
pub fn gold_key(table: &str, batch_id: &str, part: u32) -> String {
    format!(
        "{GOLD}/{}/batch_id={}/part-{part:05}.parquet",
        safe_segment(table),
        safe_segment(batch_id)
    )
}

/// `gold/_manifests/<batch_id>.json`, written last: its arrival triggers the load.
pub fn manifest_key(batch_id: &str) -> String {
    format!("{MANIFESTS_PREFIX}{}.json", safe_segment(batch_id))
}

/// The parts of a partitioned lake key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionedKey<'a> {
    pub layer: &'a str,
    pub dataset: &'a str,
    pub dt: NaiveDate,
    pub hour: u32,
    pub file_name: &'a str,
}

/// Reads back a key written by [`silver_key`], [`quarantine_key`] or [`bronze_key`].
pub fn parse_partitioned_key(key: &str) -> Option<PartitionedKey<'_>> {
    let mut parts = key.split('/');
    let layer = parts.next()?;
    let dataset = parts.next()?;
    let dt = NaiveDate::parse_from_str(parts.next()?.strip_prefix("dt=")?, "%Y-%m-%d").ok()?;
    let hour: u32 = parts.next()?.strip_prefix("hour=")?.parse().ok()?;
    let file_name = parts.next()?;
    if parts.next().is_some() || hour > 23 || file_name.is_empty() {
        return None;
    }
    Some(PartitionedKey {
        layer,
        dataset,
        dt,
        hour,
        file_name,
    })
}

/// Decodes an S3 event object key: S3 notifications URL-encode keys, with '+' for spaces.
pub fn decode_s3_event_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests;
