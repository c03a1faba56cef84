//! The quarantine in S3: listing entry objects, reading and rewriting them, and the
//! `quarantine/replayed/…` objects that record what went back on the stream.

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use shopstream::lake::QUARANTINE;
use shopstream::quarantine::QuarantineEntry;
use thiserror::Error;

/// Where replayed entries are moved, beside the quarantine they came from.
pub const REPLAYED_PREFIX: &str = "quarantine/replayed/";
/// Where DLQ ranges that could not be read back are kept.
pub const UNRECOVERABLE_PREFIX: &str = "quarantine/_dlq/";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("S3 {operation} s3://{bucket}/{key}: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
    #[error("s3://{bucket}/{key} is not a quarantine object: {problem}")]
    Unreadable {
        bucket: String,
        key: String,
        problem: String,
    },
}

/// Which keys a request may name: quarantine entry objects (`.jsonl`), never the replayed or
/// DLQ records beside them.
pub fn is_entry_key(key: &str) -> bool {
    key.starts_with(&format!("{QUARANTINE}/"))
        && !key.starts_with(REPLAYED_PREFIX)
        && !key.starts_with(UNRECOVERABLE_PREFIX)
        && key.ends_with(".jsonl")
}

/// `quarantine/<rest>` → `quarantine/replayed/<rest>`.
pub fn replayed_key(key: &str) -> String {
    let rest = key.strip_prefix(&format!("{QUARANTINE}/")).unwrap_or(key);
    format!("{REPLAYED_PREFIX}{rest}")
}

/// What happened to a replayed entry, stored with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayRecord {
    pub outcome: String,
    pub replayed_at: chrono::DateTime<chrono::Utc>,
    /// The Kinesis stream, or the Kafka topic.
    pub stream: String,
    /// The shard, or the partition.
    pub shard_id: String,
    /// The sequence number, or the offset.
    pub sequence_number: String,
    /// The bytes sent, when a correction changed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_payload: Option<String>,
}

/// A line of a `quarantine/replayed/…` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayedEntry {
    #[serde(flatten)]
    pub entry: QuarantineEntry,
    pub replay: ReplayRecord,
}

impl ReplayedEntry {
    /// Identity of the quarantined record: its event id and where it came from.
    pub fn identity(&self) -> (Option<String>, String) {
        entry_identity(&self.entry)
    }
}

pub fn entry_identity(entry: &QuarantineEntry) -> (Option<String>, String) {
    (
        entry.event_id.clone(),
        serde_json::to_string(&entry.position).unwrap_or_default(),
    )
}

#[derive(Debug, Clone)]
pub struct Store {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl Store {
    fn error(&self, operation: &'static str, key: &str, err: impl std::fmt::Display) -> StoreError {
        StoreError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message: err.to_string(),
        }
    }

    /// Every entry object under `prefix`, sorted, all pages.
    pub async fn list_entry_objects(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                self.error(
                    "ListObjectsV2",
                    prefix,
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| is_entry_key(k))
                    .map(str::to_owned),
            );
        }
        keys.sort();
        Ok(keys)
    }

    /// The object's bytes; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| self.error("GetObject", key, e))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(self.error(
                "GetObject",
                key,
                aws_sdk_s3::error::DisplayErrorContext(err),
            )),
        }
    }

    pub async fn entries(&self, key: &str) -> Result<Option<Vec<QuarantineEntry>>, StoreError> {
        let Some(bytes) = self.get(key).await? else {
            return Ok(None);
        };
        shopstream::quarantine::from_jsonl(&bytes)
            .map(Some)
            .map_err(|problem| StoreError::Unreadable {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                problem,
            })
    }

    pub async fn replayed(&self, key: &str) -> Result<Vec<ReplayedEntry>, StoreError> {
        let Some(bytes) = self.get(key).await? else {
            return Ok(Vec::new());
        };
        bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .map(|(n, line)| {
                serde_json::from_slice(line).map_err(|e| StoreError::Unreadable {
                    bucket: self.bucket.clone(),
                    key: key.to_owned(),
                    problem: format!("line {}: {e}", n + 1),
                })
            })
            .collect()
    }

    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.error("PutObject", key, aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                self.error(
                    "DeleteObject",
                    key,
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })?;
        Ok(())
    }
}

/// Replayed entries as JSON lines.
pub fn replayed_jsonl(entries: &[ReplayedEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        if serde_json::to_writer(&mut out, entry).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entry_objects_are_replayable() {
        assert!(is_entry_key(
            "quarantine/transaction/dt=2024-11-05/hour=07/s-1-2.jsonl"
        ));
        assert!(!is_entry_key(
            "quarantine/replayed/transaction/dt=2024-11-05/hour=07/s-1-2.jsonl"
        ));
        assert!(!is_entry_key(
            "quarantine/_dlq/dt=2024-11-05/hour=07/s-1-2.json"
        ));
        assert!(!is_entry_key(
            "silver/transaction/dt=2024-11-05/hour=07/s-1-2.parquet"
        ));
        assert!(!is_entry_key("quarantine/transaction/notes.txt"));
        assert_eq!(
            replayed_key("quarantine/unknown/dt=2024-11-05/hour=07/a.jsonl"),
            "quarantine/replayed/unknown/dt=2024-11-05/hour=07/a.jsonl"
        );
    }
}
