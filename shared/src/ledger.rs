//! The batch ledger: the single record of every gold batch's life, from the choice of its
//! silver inputs to the deletion of what it consumed.
//!
//! ```text
//! PLANNED ──▶ LAUNCHED ──▶ TRANSFORMED ──▶ LOADING ──▶ LOADED ──▶ CLEANED
//!    │            │   ▲          ▲            ▲  │
//!    │            ▼   │          │            │  ▼
//!    └────▶ TRANSFORM_FAILED ────┘            LOAD_FAILED
//! ```
//!
//! - `PLANNED`: inputs chosen and claimed ([`BatchRecord::inputs_claimed`] is true once every
//!   input is claimed; a transform only starts from such a batch). gold-transform moves it to
//!   `TRANSFORMED`; a batch over the Lambda's limits is left `PLANNED` with
//!   [`TransitionFields::route`] = `"emr"` and announced by [`events::TransformTooLarge`];
//!   emr-launch moves it to `LAUNCHED` (cluster and step ids).
//! - `TRANSFORMED`: the manifest is written (its key is on the record). `TRANSFORM_FAILED`
//!   carries the error text; a failed batch may be transformed again (→ `LAUNCHED` /
//!   `TRANSFORMED`).
//! - `LOADING` → `LOADED` | `LOAD_FAILED` (redshift-copy: statement id, error text); a failed
//!   load may be retried (→ `LOADING`).
//! - `CLEANED` (s3-cleanup) is terminal.
//!
//! Every change is a conditional write on the expected current state ([`Ledger::transition`]),
//! so two workers never move the same batch. [`allowed`] is the transition table.
//!
//! **Batch ids** are deterministic functions of the input window ([`batch_id`]): the earliest
//! and latest `dt=/hour=` partition and a hash of the sorted input keys, e.g.
//! `20261202T10-20261202T11-3f2a9c0d11b7e4a5`. Re-planning the same inputs gives the same id,
//! so the same gold keys.
//!
//! **Inputs** (the silver and quarantine objects of a batch) can number in the tens of
//! thousands, more than a 400 KB DynamoDB item holds, so they live in a plan object in the
//! lake, `gold/_plans/<batch_id>.json` ([`Plan`], [`plan_key`]); the ledger item keeps its key,
//! the input count and bytes and the window.
//!
//! **Claims**: each input object has its own item in the same table, partition key
//! `batch_id = "claim#<object key>"` and `claimed_by = <batch id>`, written with
//! `attribute_not_exists(batch_id) OR claimed_by = :me`, so an object belongs to at most one
//! batch. Planners claim in key order, one object at a time; one that finds an object claimed
//! by another batch releases its own claims, deletes its unfinished batch item and plans again
//! from what is left, so concurrent planners end with disjoint batches. Late objects for old
//! dates are simply unclaimed and join the next batch.
//!
//! **Listing by state** uses the global secondary index [`STATE_INDEX`] (`state` hash key,
//! `updated_at` range key). Claim items have no `state` attribute, so the index holds batch
//! items only.
//!
//! ## API (feature `aws`)
//!
//! ```text
//! Ledger::new(dynamodb, s3, table, lake_bucket)
//! ledger.plan(candidates: Vec<InputObject>, max_objects, now) -> PlanOutcome
//!     Planned(Box<PlannedBatch { record, plan }>) | NothingToPlan | PlannedElsewhere { batch_id }
//! ledger.get(batch_id) -> Option<BatchRecord>
//! ledger.read_plan(batch_id) -> Plan                      (gold/_plans/<batch_id>.json)
//! ledger.claims_of(&[key]) -> HashMap<key, batch_id>
//! ledger.transition(batch_id, from, to, &TransitionFields, now) -> BatchRecord
//!     Err(WrongState { actual }) when another worker moved it, Err(NotAllowed) off the table
//! ledger.annotate(batch_id, state, &TransitionFields, now) -> BatchRecord   (no state change)
//! ledger.list_by_state(state) -> Vec<BatchRecord>          (GSI by_state, oldest update first)
//! create_table(dynamodb, name)                             (tests / local runner)
//! events::publish(eventbridge, bus, &event)                (any events::BatchEvent)
//! ```
//!
//! A table item: `batch_id` (S, key), `kind` (`batch` | `claim`), `state`, `inputs_claimed`,
//! `plan_key`, `input_objects`, `input_bytes`, `first_partition`, `last_partition`,
//! `planned_at`, `updated_at` (RFC 3339, µs, UTC), `state_times` (M: state → time), `version`,
//! and the [`TransitionFields`] by their names; a claim item: `batch_id = claim#<key>`,
//! `claimed_by`, `claimed_at`.
//!
//! The DynamoDB store ([`Ledger`]) is behind the `aws` feature; states, transitions, ids, plans
//! and the EventBridge detail types ([`events`]) are pure.

pub mod events;
#[cfg(feature = "aws")]
mod store;
#[cfg(test)]
mod tests;

#[cfg(feature = "aws")]
pub use store::{
    create_table, ClaimConflict, Ledger, LedgerError, PlanOutcome, PlannedBatch, PLAN_LEASE,
};

use crate::lake::{parse_partitioned_key, safe_segment};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Name of the global secondary index over `state` (hash) and `updated_at` (range).
pub const STATE_INDEX: &str = "by_state";
/// Prefix of the plan objects: `gold/_plans/<batch_id>.json`.
pub const PLANS_PREFIX: &str = "gold/_plans/";
/// Partition-key prefix of claim items.
pub const CLAIM_PREFIX: &str = "claim#";
/// Error texts kept on a ledger item are cut to this many bytes.
pub const MAX_ERROR_BYTES: usize = 4096;

/// The life-cycle states of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchState {
    Planned,
    Launched,
    Transformed,
    TransformFailed,
    Loading,
    Loaded,
    LoadFailed,
    Cleaned,
}

impl BatchState {
    pub const ALL: [BatchState; 8] = [
        BatchState::Planned,
        BatchState::Launched,
        BatchState::Transformed,
        BatchState::TransformFailed,
        BatchState::Loading,
        BatchState::Loaded,
        BatchState::LoadFailed,
        BatchState::Cleaned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Planned => "PLANNED",
            BatchState::Launched => "LAUNCHED",
            BatchState::Transformed => "TRANSFORMED",
            BatchState::TransformFailed => "TRANSFORM_FAILED",
            BatchState::Loading => "LOADING",
            BatchState::Loaded => "LOADED",
            BatchState::LoadFailed => "LOAD_FAILED",
            BatchState::Cleaned => "CLEANED",
        }
    }

    /// The states this one may move to.
    pub fn successors(self) -> &'static [BatchState] {
        use BatchState::*;
        match self {
            Planned => &[Launched, Transformed, TransformFailed],
            Launched => &[Transformed, TransformFailed],
            TransformFailed => &[Launched, Transformed],
            Transformed => &[Loading],
            Loading => &[Loaded, LoadFailed],
            LoadFailed => &[Loading],
            Loaded => &[Cleaned],
            Cleaned => &[],
        }
    }

    pub fn is_terminal(self) -> bool {
        self.successors().is_empty()
    }
}

impl fmt::Display for BatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown batch state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for BatchState {
    type Err = UnknownState;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        BatchState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| UnknownState(text.to_owned()))
    }
}

/// Whether a batch may move from `from` to `to`.
pub fn allowed(from: BatchState, to: BatchState) -> bool {
    from.successors().contains(&to)
}

/// One object a batch consumes: a silver Parquet file or a quarantine JSONL file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InputObject {
    pub key: String,
    pub size_bytes: u64,
    /// The S3 ETag when listed from S3 (quotes removed); empty for local files.
    #[serde(default)]
    pub etag: String,
}

/// The window a batch covers: its earliest and latest `dt=/hour=` partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchWindow {
    /// `YYYYMMDDTHH` of the earliest partition among the inputs.
    pub first_partition: String,
    /// `YYYYMMDDTHH` of the latest partition among the inputs.
    pub last_partition: String,
}

fn partition_label(key: &str) -> Option<String> {
    let parsed = parse_partitioned_key(key)?;
    Some(format!("{}T{:02}", parsed.dt.format("%Y%m%d"), parsed.hour))
}

/// The window of a set of input keys; keys without a `dt=/hour=` partition are ignored
/// (`"unpartitioned"` when none has one).
pub fn window_of<'a>(keys: impl IntoIterator<Item = &'a str>) -> BatchWindow {
    let labels: Vec<String> = keys.into_iter().filter_map(partition_label).collect();
    let first = labels.iter().min().cloned();
    let last = labels.iter().max().cloned();
    BatchWindow {
        first_partition: first.unwrap_or_else(|| "unpartitioned".into()),
        last_partition: last.unwrap_or_else(|| "unpartitioned".into()),
    }
}

/// Lower-case hex of a SHA-256 digest.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

/// The deterministic id of the batch consuming exactly `keys` (order and duplicates do not
/// matter): `<first partition>-<last partition>-<first 16 hex digits of SHA-256 over the sorted
/// distinct keys, each followed by '\n'>`.
pub fn batch_id<'a>(keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut sorted: Vec<&str> = keys.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hasher = Sha256::new();
    for key in &sorted {
        hasher.update(key.as_bytes());
        hasher.update(b"\n");
    }
    let digest = hex(&hasher.finalize());
    let window = window_of(sorted.iter().copied());
    format!(
        "{}-{}-{}",
        window.first_partition,
        window.last_partition,
        &digest[..16]
    )
}

/// `gold/_plans/<batch_id>.json`
pub fn plan_key(batch_id: &str) -> String {
    format!("{PLANS_PREFIX}{}.json", safe_segment(batch_id))
}

/// The inputs of one batch, stored as `gold/_plans/<batch_id>.json`. Its bytes are a function
/// of the inputs only, so writing it again is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub batch_id: String,
    pub window: BatchWindow,
    /// Sorted by key, no duplicates.
    pub inputs: Vec<InputObject>,
}

impl Plan {
    /// The plan consuming `inputs` (sorted and deduplicated by key).
    pub fn new(mut inputs: Vec<InputObject>) -> Plan {
        inputs.sort();
        inputs.dedup_by(|a, b| a.key == b.key);
        let batch_id = batch_id(inputs.iter().map(|i| i.key.as_str()));
        let window = window_of(inputs.iter().map(|i| i.key.as_str()));
        Plan {
            batch_id,
            window,
            inputs,
        }
    }

    pub fn key(&self) -> String {
        plan_key(&self.batch_id)
    }

    pub fn input_bytes(&self) -> u64 {
        self.inputs.iter().map(|i| i.size_bytes).sum()
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A Plan holds only strings and integers: serialisation cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Plan, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// Chooses the inputs of the next batch: the candidates no batch has claimed, in key order,
/// at most `max_objects` of them (the earliest partitions first, since keys sort by
/// `dt=/hour=` within an entity).
pub fn select_inputs(
    mut candidates: Vec<InputObject>,
    is_claimed: impl Fn(&str) -> bool,
    max_objects: usize,
) -> Vec<InputObject> {
    candidates.sort();
    candidates.dedup_by(|a, b| a.key == b.key);
    candidates
        .into_iter()
        .filter(|c| !is_claimed(&c.key))
        .take(max_objects)
        .collect()
}

/// Fields a transition (or an annotation in place) sets on the ledger item. `None` leaves a
/// field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionFields {
    /// Which engine transforms the batch: `"lambda"` or `"emr"`.
    pub route: Option<String>,
    pub cluster_id: Option<String>,
    pub step_id: Option<String>,
    /// Redshift Data API statement id.
    pub statement_id: Option<String>,
    /// `gold/_manifests/<batch_id>.json`
    pub manifest_key: Option<String>,
    /// Error text of a failed step, cut to [`MAX_ERROR_BYTES`].
    pub error: Option<String>,
    /// Silver rows read by the transform.
    pub input_rows: Option<u64>,
    /// Fact rows written by the transform.
    pub output_rows: Option<u64>,
    /// Input objects the transform could not read (listed in the manifest).
    pub bad_inputs: Option<u64>,
    /// Objects deleted by s3-cleanup.
    pub objects_deleted: Option<u64>,
}

/// A batch item as read from the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub batch_id: String,
    pub state: BatchState,
    /// False while a planner is still claiming the inputs.
    pub inputs_claimed: bool,
    pub plan_key: String,
    pub input_objects: u64,
    pub input_bytes: u64,
    pub window: BatchWindow,
    pub planned_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the batch entered each state it has been in (the latest entry per state).
    pub state_times: BTreeMap<BatchState, DateTime<Utc>>,
    /// Incremented by every write after creation.
    pub version: u64,
    pub fields: TransitionFields,
}

/// Cuts `text` to at most `max` bytes at a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
