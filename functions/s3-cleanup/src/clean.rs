//! Cleaning loaded batches: for each `LOADED` batch past a retention, the objects its manifest
//! proves it owns are listed and deleted — gold table files once `GOLD_RETENTION_DAYS` have
//! passed since the load, silver inputs once `SILVER_RETENTION_DAYS` have — except silver
//! inputs another not-yet-loaded batch lists. When both are past and nothing failed, the batch
//! moves to `CLEANED` (a conditional write: two runs never both clean it) and `BatchCleaned` is
//! published. The gold `event_id` index, manifests and plans are never touched.

use crate::delete::{Deleter, FailedKey, ListError, ListedObject};
use crate::plan::{folder, gold_folders, silver_candidates, Due, Retention};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shopstream::ledger::events::{publish, BatchCleaned, PublishError};
use shopstream::ledger::{BatchRecord, BatchState, Ledger, LedgerError, TransitionFields};
use shopstream::manifest::{read_manifest, ManifestError};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use thiserror::Error;

/// States whose batches have not been loaded yet and may still read their inputs.
pub const UNFINISHED: [BatchState; 6] = [
    BatchState::Planned,
    BatchState::Launched,
    BatchState::Transformed,
    BatchState::TransformFailed,
    BatchState::Loading,
    BatchState::LoadFailed,
];

#[derive(Debug, Error)]
pub enum CleanError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

pub struct CleanContext<'a> {
    pub ledger: &'a Ledger,
    pub deleter: &'a Deleter,
    pub events: &'a aws_sdk_eventbridge::Client,
    pub event_bus: &'a str,
    pub retention: Retention,
    pub now: DateTime<Utc>,
    pub dry_run: bool,
}

/// What happened to one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    pub batch_id: String,
    /// `cleaned`, `partly_cleaned` (gold or silver still within retention), `not_due`,
    /// `not_loaded`, `unknown`, `incomplete` (some deletions failed; retried next run),
    /// `would_clean` / `would_partly_clean` (dry run).
    pub outcome: &'static str,
    pub gold_due: bool,
    pub silver_due: bool,
    /// The keys deleted, or that a dry run would delete, sorted.
    pub keys: Vec<String>,
    pub bytes: u64,
    /// Silver inputs kept because another unfinished batch lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedKey>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

/// Silver inputs of every batch that is not loaded yet, by key.
pub async fn protected_inputs(ledger: &Ledger) -> Result<HashSet<String>, CleanError> {
    let mut keys = HashSet::new();
    for state in UNFINISHED {
        for record in ledger.list_by_state(state).await? {
            let plan = ledger.read_plan(&record.batch_id).await?;
            keys.extend(plan.inputs.into_iter().map(|i| i.key));
        }
    }
    Ok(keys)
}

/// The objects under `folders` whose keys `wanted` accepts.
async fn existing(
    deleter: &Deleter,
    folders: BTreeSet<String>,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<ListedObject>, CleanError> {
    let mut out = Vec::new();
    for folder in folders {
        out.extend(
            deleter
                .list(&folder)
                .await?
                .into_iter()
                .filter(|o| wanted(&o.key)),
        );
    }
    Ok(out)
}

pub async fn clean_batch(
    ctx: &CleanContext<'_>,
    record: &BatchRecord,
    protected: &HashSet<String>,
) -> Result<BatchReport, CleanError> {
    let mut report = BatchReport {
        batch_id: record.batch_id.clone(),
        ..BatchReport::default()
    };
    if record.state != BatchState::Loaded {
        report.outcome = "not_loaded";
        return Ok(report);
    }
    let loaded_at = record
        .state_times
        .get(&BatchState::Loaded)
        .copied()
        .unwrap_or(record.updated_at);
    let due = Due::at(loaded_at, ctx.now, ctx.retention);
    report.gold_due = due.gold;
    report.silver_due = due.silver;
    if !due.any() {
        report.outcome = "not_due";
        return Ok(report);
    }
    let manifest_key = record
        .fields
        .manifest_key
        .clone()
        .unwrap_or_else(|| shopstream::lake::manifest_key(&record.batch_id));
    let manifest = read_manifest(&ctx.deleter.s3, &ctx.deleter.bucket, &manifest_key).await?;

    let mut targets: Vec<ListedObject> = Vec::new();
    if due.gold {
        let folders = gold_folders(
            &record.batch_id,
            manifest.files().map(|(_, f)| f.key.as_str()),
        );
        targets.extend(existing(ctx.deleter, folders, |_| true).await?);
    }
    if due.silver {
        let (free, kept) = silver_candidates(
            manifest.silver_inputs.iter().map(|i| i.key.as_str()),
            protected,
        );
        report.protected = kept.into_iter().collect();
        let folders: BTreeSet<String> = free
            .iter()
            .filter_map(|k| folder(k))
            .map(str::to_owned)
            .collect();
        targets.extend(existing(ctx.deleter, folders, |k| free.contains(k)).await?);
    }
    let sizes: BTreeMap<String, u64> = targets
        .into_iter()
        .map(|o| (o.key, u64::try_from(o.size).unwrap_or(0)))
        .collect();

    if ctx.dry_run {
        report.keys = sizes.keys().cloned().collect();
        report.bytes = sizes.values().sum();
        report.outcome = if due.all() {
            "would_clean"
        } else {
            "would_partly_clean"
        };
        return Ok(report);
    }

    let deletion = ctx.deleter.delete(sizes.keys().cloned().collect()).await;
    let failed: HashSet<&str> = deletion.failed.iter().map(|f| f.key.as_str()).collect();
    let refused: HashSet<&str> = deletion.refused.iter().map(String::as_str).collect();
    for (key, size) in &sizes {
        if !failed.contains(key.as_str()) && !refused.contains(key.as_str()) {
            report.keys.push(key.clone());
            report.bytes += size;
        }
    }
    let complete = deletion.failed.is_empty() && deletion.refused.is_empty();
    report.failed = deletion.failed;
    report.refused = deletion.refused;
    report.outcome = match (complete, due.all()) {
        (false, _) => "incomplete",
        (true, false) => "partly_cleaned",
        (true, true) => "cleaned",
    };
    if report.outcome == "cleaned" {
        let fields = TransitionFields {
            objects_deleted: Some(report.keys.len() as u64),
            ..TransitionFields::default()
        };
        ctx.ledger
            .transition(
                &record.batch_id,
                BatchState::Loaded,
                BatchState::Cleaned,
                &fields,
                ctx.now,
            )
            .await?;
        publish(
            ctx.events,
            ctx.event_bus,
            &BatchCleaned {
                batch_id: record.batch_id.clone(),
                objects_deleted: report.keys.len() as u64,
                bytes_deleted: report.bytes,
            },
        )
        .await?;
    }
    Ok(report)
}
