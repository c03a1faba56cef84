//! The gold manifest, `gold/_manifests/<batch_id>.json`: what one batch wrote and consumed.
//! It is written last, after every gold file, and its arrival is the only trigger for loading.
//!
//! ```json
//! { "format_version": 1, "batch_id": "20261202T10-20261202T11-3f2a9c0d11b7e4a5",
//!   "engine": "datafusion", "window": {"first_partition": "20261202T10", "last_partition": "20261202T11"},
//!   "tables": {"final_fact": {"rows": 2, "files": [
//!       {"key": "gold/final_fact/batch_id=.../part-00000.parquet", "size_bytes": 5120, "rows": 2,
//!        "sha256": "…"}]}, …},
//!   "event_index": [{"key": "gold/_event_index/dt=2026-12-02/batch_id=….parquet", …}],
//!   "silver_inputs": [{"key": "silver/transaction/dt=…/….parquet", "size_bytes": 1234, "etag": "…"}],
//!   "bad_inputs": [{"key": "…", "error": "…"}],
//!   "model_versions": {"final_fact": "<sha256 of jobs/sql/final_fact.sql>", …},
//!   "counts": {"silver_rows": 3, "quarantine_rows": 1, "duplicates_in_batch": 1, "duplicates_from_gold": 0},
//!   "checksum": "…" }
//! ```
//!
//! - Every table of the model appears under `tables`, with zero files when it has no rows.
//! - `event_index` lists the batch's files of the gold `event_id` index
//!   (`gold/_event_index/dt=<date>/batch_id=<id>.parquet`, columns `event_id`, `dt_date`):
//!   later batches read the index of the dates they touch to drop events already in gold.
//!   They are not a warehouse table and are never deleted by cleanup.
//! - `sha256` of a file is the lower-case hex SHA-256 of its bytes; `size_bytes` its length.
//! - `silver_inputs` are the inputs read (silver Parquet and quarantine JSONL); `bad_inputs`
//!   the inputs of the plan that could not be read, with the reason. Together they are the
//!   plan's inputs. Only `silver_inputs` may be deleted once the batch is loaded.
//! - `checksum` is the lower-case hex SHA-256 of the manifest's canonical JSON with
//!   `checksum` set to `""`: object keys sorted, no insignificant whitespace, strings as JSON
//!   escapes them, integers in decimal (the manifest holds no floats). In Python:
//!   `hashlib.sha256(json.dumps(m | {"checksum": ""}, sort_keys=True, separators=(",", ":"),
//!   ensure_ascii=False).encode()).hexdigest()`.
//!
//! A manifest's bytes are a function of the batch (no wall-clock time), so a rerun of the same
//! batch writes the same manifest.

use crate::ledger::{sha256_hex, BatchWindow, InputObject};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

pub use crate::lake::manifest_key;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON for format {FORMAT_VERSION}: {0}")]
    Json(#[from] serde_json::Error),
    #[error("manifest format_version {0} is not supported (expected {FORMAT_VERSION})")]
    Version(u32),
    #[error("manifest checksum mismatch: recorded {recorded}, computed {computed}")]
    Checksum { recorded: String, computed: String },
    #[error("{key}: {problem}")]
    File { key: String, problem: String },
    #[error("S3 {operation} s3://{bucket}/{key}: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
}

/// One gold Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldFile {
    pub key: String,
    pub size_bytes: u64,
    pub rows: u64,
    pub sha256: String,
}

/// The files one gold table got from the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableOutput {
    pub rows: u64,
    pub files: Vec<GoldFile>,
}

/// A plan input that could not be read (unreadable, not Parquet, schema drifted, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadInput {
    pub key: String,
    pub error: String,
}

/// Row counts of the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCounts {
    /// Silver transaction rows read.
    pub silver_rows: u64,
    /// Quarantined records read (the `rejected` table).
    pub quarantine_rows: u64,
    /// Rows dropped because an earlier row of the same batch had their `event_id`.
    pub duplicates_in_batch: u64,
    /// Rows dropped because an earlier batch already put their `event_id` in gold.
    pub duplicates_from_gold: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub batch_id: String,
    /// `"datafusion"` or `"spark"`.
    pub engine: String,
    pub window: BatchWindow,
    pub tables: BTreeMap<String, TableOutput>,
    /// The batch's files of the gold `event_id` index, one per event date.
    pub event_index: Vec<GoldFile>,
    pub silver_inputs: Vec<InputObject>,
    pub bad_inputs: Vec<BadInput>,
    /// Model name → SHA-256 of its SQL text.
    pub model_versions: BTreeMap<String, String>,
    pub counts: BatchCounts,
    pub checksum: String,
}

/// Canonical JSON: keys sorted at every level, compact.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

impl Manifest {
    /// The checksum this manifest should carry.
    pub fn compute_checksum(&self) -> String {
        let mut unsealed = self.clone();
        unsealed.checksum = String::new();
        // Strings, integers, maps and lists only: conversion to a JSON value cannot fail.
        let value = serde_json::to_value(&unsealed).unwrap_or_default();
        let mut canonical = String::new();
        write_canonical(&value, &mut canonical);
        sha256_hex(canonical.as_bytes())
    }

    /// Sets `checksum`.
    pub fn seal(mut self) -> Manifest {
        self.checksum = self.compute_checksum();
        self
    }

    /// Format version and checksum.
    pub fn verify(&self) -> Result<(), ManifestError> {
        if self.format_version != FORMAT_VERSION {
            return Err(ManifestError::Version(self.format_version));
        }
        let computed = self.compute_checksum();
        if computed != self.checksum {
            return Err(ManifestError::Checksum {
                recorded: self.checksum.clone(),
                computed,
            });
        }
        Ok(())
    }

    /// The bytes written to `gold/_manifests/<batch_id>.json` (pretty JSON).
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Parses and [`verify`](Self::verify)s a manifest.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = serde_json::from_slice(bytes)?;
        manifest.verify()?;
        Ok(manifest)
    }

    /// Every warehouse table file, table by table (tables in name order); the event index
    /// files are in [`event_index`](Self::event_index).
    pub fn files(&self) -> impl Iterator<Item = (&str, &GoldFile)> {
        self.tables
            .iter()
            .flat_map(|(table, output)| output.files.iter().map(move |f| (table.as_str(), f)))
    }

    pub fn duplicates_dropped(&self) -> u64 {
        self.counts.duplicates_in_batch + self.counts.duplicates_from_gold
    }
}

/// Describes `bytes` as the gold file `key` holding `rows` rows.
pub fn describe_file(key: impl Into<String>, bytes: &[u8], rows: u64) -> GoldFile {
    GoldFile {
        key: key.into(),
        size_bytes: bytes.len() as u64,
        rows,
        sha256: sha256_hex(bytes),
    }
}

/// Checks that `bytes` are the file the manifest lists (size and SHA-256).
pub fn verify_file(file: &GoldFile, bytes: &[u8]) -> Result<(), ManifestError> {
    let problem = |problem: String| ManifestError::File {
        key: file.key.clone(),
        problem,
    };
    if bytes.len() as u64 != file.size_bytes {
        return Err(problem(format!(
            "{} bytes, the manifest says {}",
            bytes.len(),
            file.size_bytes
        )));
    }
    let digest = sha256_hex(bytes);
    if digest != file.sha256 {
        return Err(problem(format!(
            "SHA-256 {digest}, the manifest says {}",
            file.sha256
        )));
    }
    Ok(())
}

#[cfg(feature = "aws")]
pub use s3::{read_manifest, verify_objects, write_manifest};

#[cfg(feature = "aws")]
mod s3 {
    use super::{verify_file, Manifest, ManifestError};
    use aws_sdk_s3::error::DisplayErrorContext;

    fn s3_error(
        operation: &'static str,
        bucket: &str,
        key: &str,
        message: String,
    ) -> ManifestError {
        ManifestError::S3 {
            operation,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message,
        }
    }

    async fn get(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<u8>, ManifestError> {
        let output = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("GetObject", bucket, key, DisplayErrorContext(e).to_string()))?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| s3_error("GetObject", bucket, key, e.to_string()))?;
        Ok(body.into_bytes().to_vec())
    }

    /// Reads and verifies `s3://bucket/key`.
    pub async fn read_manifest(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
    ) -> Result<Manifest, ManifestError> {
        Manifest::from_json(&get(client, bucket, key).await?)
    }

    /// Writes the manifest to `gold/_manifests/<batch_id>.json`; returns the key.
    pub async fn write_manifest(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        manifest: &Manifest,
    ) -> Result<String, ManifestError> {
        let key = super::manifest_key(&manifest.batch_id);
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/json")
            .body(manifest.to_json().into())
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    "PutObject",
                    bucket,
                    &key,
                    DisplayErrorContext(e).to_string(),
                )
            })?;
        Ok(key)
    }

    /// Downloads every gold file (tables and event index) the manifest lists and checks its size and SHA-256.
    pub async fn verify_objects(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        manifest: &Manifest,
    ) -> Result<(), ManifestError> {
        for file in manifest
            .files()
            .map(|(_, f)| f)
            .chain(&manifest.event_index)
        {
            verify_file(file, &get(client, bucket, &file.key).await?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
