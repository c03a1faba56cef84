//! One invocation: read every stream record, write one gzipped JSONL object per (dt, hour)
//! plus a quarantine object for unreadable records, answer with a partial batch response.
//!
//! Object names carry the invocation's source range (`<stream>-<firstSeq>-<lastSeq>`), so a
//! redelivered batch rewrites its own keys. When a write fails (or may have been committed
//! although its answer was an error), or the deadline is near, every record from the first
//! affected one is reported: Lambda restarts there, with a new range and so new names. The
//! objects this attempt wrote, or may have written, are first rewritten to hold only the
//! records before that point (or deleted), so the retry does not duplicate their lines. A
//! failed repair lowers the point to the object's first record.
//!
//! What this cannot prevent: an invocation that dies after its writes (a timeout the margin
//! did not foresee, a crash) leaves its objects; the retry — bisected or not — writes the same
//! changes again under other names. Such lines are duplicates identifiable by
//! `(stream, sequence_number)`.

use crate::bronze::{self, CONTENT_ENCODING, CONTENT_TYPE};
use crate::change::{read_record, BronzeLine, Operation, StreamRecord};
use crate::config::Config;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;
use shopstream::batch::dynamodb_response;
use shopstream::deadline;
use shopstream::lake::{bronze_key, quarantine_key, SourceRange};
use shopstream::metrics::{MetricSet, Unit};
use shopstream::quarantine::{to_jsonl, QuarantineEntry};
use std::collections::BTreeMap;
use thiserror::Error;
use tokio::task::JoinSet;

pub const FUNCTION: &str = "orders-to-bronze";
const QUARANTINE_CONTENT_TYPE: &str = "application/x-ndjson";
/// Rounds of rewriting objects that hold records past a failure.
const REPAIR_ROUNDS: usize = 3;

#[derive(Debug)]
pub struct Deps {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error("not a DynamoDB Streams event: {0}")]
    Malformed(#[source] serde_json::Error),
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Records", default)]
    records: Vec<Value>,
}

/// What an object holds: bronze lines or quarantine entries, as indices of the batch's
/// records (in batch order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Bronze,
    Quarantine,
}

/// An object to write: its key and the records it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedObject {
    pub key: String,
    pub kind: ObjectKind,
    pub indices: Vec<usize>,
}

impl PlannedObject {
    pub fn min_index(&self) -> Option<usize> {
        self.indices.first().copied()
    }

    pub fn max_index(&self) -> Option<usize> {
        self.indices.last().copied()
    }

    /// The same object holding only the records before `limit`; `None` when none remain.
    pub fn truncated(&self, limit: usize) -> Option<PlannedObject> {
        let indices: Vec<usize> = self
            .indices
            .iter()
            .copied()
            .filter(|i| *i < limit)
            .collect();
        (!indices.is_empty()).then(|| PlannedObject {
            key: self.key.clone(),
            kind: self.kind,
            indices,
        })
    }

    /// The object's bytes: gzipped bronze lines or quarantine JSON lines.
    pub fn encode(&self, records: &[StreamRecord]) -> std::io::Result<Vec<u8>> {
        match self.kind {
            ObjectKind::Bronze => {
                let lines: Vec<&BronzeLine> = self
                    .indices
                    .iter()
                    .filter_map(|i| records.get(*i)?.outcome.as_ref().ok())
                    .collect();
                bronze::encode(&lines)
            }
            ObjectKind::Quarantine => {
                let entries: Vec<QuarantineEntry> = self
                    .indices
                    .iter()
                    .filter_map(|i| records.get(*i)?.outcome.as_ref().err().cloned())
                    .collect();
                Ok(to_jsonl(&entries))
            }
        }
    }

    fn content_type(&self) -> &'static str {
        match self.kind {
            ObjectKind::Bronze => CONTENT_TYPE,
            ObjectKind::Quarantine => QUARANTINE_CONTENT_TYPE,
        }
    }

    fn content_encoding(&self) -> Option<&'static str> {
        match self.kind {
            ObjectKind::Bronze => Some(CONTENT_ENCODING),
            ObjectKind::Quarantine => None,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub inserts: usize,
    pub modifies: usize,
    pub tombstones: usize,
    pub quarantined: usize,
}

impl Counts {
    fn of(records: &[StreamRecord]) -> Counts {
        let mut counts = Counts::default();
        for record in records {
            match &record.outcome {
                Ok(line) => match line.op {
                    Operation::Insert => counts.inserts += 1,
                    Operation::Modify => counts.modifies += 1,
                    Operation::Remove => counts.tombstones += 1,
                },
                Err(_) => counts.quarantined += 1,
            }
        }
        counts
    }
}

/// The source range of a batch: its stream and first and last sequence numbers.
pub fn source_range(records: &[StreamRecord]) -> SourceRange {
    let mut sequences = records
        .iter()
        .map(|r| r.sequence_number.as_str())
        .filter(|s| !s.is_empty());
    let first = sequences.next().unwrap_or("noseq").to_owned();
    let last = sequences
        .next_back()
        .map(str::to_owned)
        .unwrap_or(first.clone());
    SourceRange::DynamoDb {
        shard_id: records
            .first()
            .map(|r| r.stream.clone())
            .unwrap_or_default(),
        first_sequence: first,
        last_sequence: last,
    }
}

/// Plans the objects of a batch (pure: the same records always give the same objects):
/// one bronze object per (dt, hour) of the changes, one quarantine object for the rest.
pub fn plan(table: &str, records: &[StreamRecord]) -> Vec<PlannedObject> {
    let range = source_range(records);
    let mut bronze_groups: BTreeMap<(NaiveDate, u32), Vec<usize>> = BTreeMap::new();
    let mut refused: Vec<usize> = Vec::new();
    for (index, record) in records.iter().enumerate() {
        match &record.outcome {
            Ok(line) => {
                let at = line.approximate_creation_time;
                bronze_groups
                    .entry((at.date_naive(), at.hour()))
                    .or_default()
                    .push(index);
            }
            Err(_) => refused.push(index),
        }
    }
    let mut objects: Vec<PlannedObject> = bronze_groups
        .into_iter()
        .map(|((dt, hour), indices)| PlannedObject {
            key: bronze_key(table, dt, hour, &range),
            kind: ObjectKind::Bronze,
            indices,
        })
        .collect();
    if let Some(first) = refused.first().and_then(|i| records.get(*i)) {
        let at: DateTime<Utc> = records
            .iter()
            .find_map(|r| r.created_at)
            .or_else(|| first.outcome.as_ref().err().map(|e| e.received_at))
            .unwrap_or_default();
        objects.push(PlannedObject {
            key: quarantine_key(None, at.date_naive(), at.hour(), &range),
            kind: ObjectKind::Quarantine,
            indices: refused,
        });
    }
    objects
}

/// An object this attempt put, or may have put (`confirmed` false: the PUT answered with an
/// error, which does not prove it was not committed).
struct Written {
    object: PlannedObject,
    size: usize,
    confirmed: bool,
}

/// What the writes of one invocation came to.
#[derive(Debug, Default)]
struct Outcome {
    /// Index of the first record to report; every later record is reported too.
    cut: Option<usize>,
    objects_written: usize,
    bytes_written: usize,
    deadline_stop: bool,
}

pub async fn handler(
    deps: &Deps,
    event: LambdaEvent<Value>,
) -> Result<DynamoDbEventResponse, HandlerError> {
    let started = Utc::now();
    let stop_at = deadline::stop_time(event.context.deadline, deps.config.deadline_margin);
    let envelope: Envelope =
        serde_json::from_value(event.payload).map_err(HandlerError::Malformed)?;
    let records: Vec<StreamRecord> = envelope
        .records
        .iter()
        .map(|r| read_record(r, started))
        .collect();
    let counts = Counts::of(&records);
    let outcome = write(deps, &records, stop_at).await;
    let cut = outcome.cut.unwrap_or(records.len()).min(records.len());
    let failures: Vec<String> = records[cut..]
        .iter()
        .map(|r| r.sequence_number.clone())
        .filter(|s| !s.is_empty())
        .collect();
    let mut metrics = MetricSet::for_function(FUNCTION);
    metrics.property("requestId", event.context.request_id.clone());
    metrics.count("RecordsIn", records.len());
    metrics.count("Inserts", counts.inserts);
    metrics.count("Modifies", counts.modifies);
    metrics.count("Tombstones", counts.tombstones);
    metrics.count("RecordsQuarantined", counts.quarantined);
    metrics.count("RecordsFailed", records.len() - cut);
    metrics.count("ObjectsWritten", outcome.objects_written);
    metrics.count("DeadlineStops", usize::from(outcome.deadline_stop));
    metrics.put("BytesWritten", outcome.bytes_written as f64, Unit::Bytes);
    if let Some(oldest) = records.iter().filter_map(|r| r.created_at).min() {
        metrics.put(
            "MaxChangeToWriteLatency",
            (Utc::now() - oldest).num_milliseconds() as f64,
            Unit::Milliseconds,
        );
    }
    metrics.put(
        "BatchLatency",
        (Utc::now() - started).num_milliseconds() as f64,
        Unit::Milliseconds,
    );
    metrics.emit();
    Ok(dynamodb_response(failures))
}

/// Plans, encodes and puts the batch's objects, then repairs what a failure left behind.
async fn write(deps: &Deps, records: &[StreamRecord], stop_at: Option<DateTime<Utc>>) -> Outcome {
    let mut outcome = Outcome::default();
    if deadline::passed(stop_at) {
        tracing::warn!(
            "too close to the deadline to start writing; the batch is left for the retry"
        );
        outcome.cut = Some(0);
        outcome.deadline_stop = true;
        return outcome;
    }
    let mut encoded = Vec::new();
    for object in plan(&deps.config.bronze_table, records) {
        match object.encode(records) {
            Ok(bytes) => encoded.push((object, bytes)),
            Err(error) => {
                tracing::error!(%error, key = %object.key, "encoding failed; its records will be retried");
                outcome.cut = outcome.cut.into_iter().chain(object.min_index()).min();
            }
        }
    }
    let sizes: Vec<usize> = encoded.iter().map(|(_, b)| b.len()).collect();
    let objects: Vec<PlannedObject> = encoded.iter().map(|(o, _)| o.clone()).collect();
    let results = put_all(&deps.s3, &deps.config.lake_bucket, encoded).await;
    let mut written = Vec::with_capacity(objects.len());
    for ((object, result), size) in objects.into_iter().zip(results).zip(sizes) {
        let confirmed = match result {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "bronze object not confirmed; its records will be retried");
                outcome.cut = outcome.cut.into_iter().chain(object.min_index()).min();
                false
            }
        };
        written.push(Written {
            object,
            size,
            confirmed,
        });
    }
    if let Some(cut) = outcome.cut {
        outcome.cut = Some(repair(deps, records, &mut written, cut).await);
    }
    written.retain(|w| w.confirmed);
    outcome.objects_written = written.len();
    outcome.bytes_written = written.iter().map(|w| w.size).sum();
    outcome
}

/// Rewrites the objects this attempt put (or may have put) so none holds a record at or
/// after the cut; a failed rewrite lowers the cut to that object's first record. Returns
/// the final cut.
async fn repair(
    deps: &Deps,
    records: &[StreamRecord],
    written: &mut Vec<Written>,
    mut cut: usize,
) -> usize {
    let bucket = &deps.config.lake_bucket;
    for _ in 0..REPAIR_ROUNDS {
        let mut lowered = false;
        for entry in written.iter_mut() {
            if entry.object.max_index().is_none_or(|max| max < cut) {
                continue;
            }
            let first = entry.object.min_index().unwrap_or(0);
            match entry.object.truncated(cut) {
                Some(smaller) => {
                    let result = match smaller.encode(records) {
                        Ok(bytes) => {
                            let size = bytes.len();
                            put(&deps.s3, bucket, &smaller, bytes).await.map(|()| size)
                        }
                        Err(error) => Err(error.to_string()),
                    };
                    match result {
                        Ok(size) => {
                            *entry = Written {
                                object: smaller,
                                size,
                                confirmed: true,
                            };
                        }
                        Err(error) => {
                            tracing::error!(%error, key = %entry.object.key, "could not trim an object past the failure");
                            entry.confirmed = false;
                            cut = cut.min(first);
                            lowered = true;
                        }
                    }
                }
                None => {
                    let deleted = deps
                        .s3
                        .delete_object()
                        .bucket(bucket)
                        .key(&entry.object.key)
                        .send()
                        .await;
                    match deleted {
                        Ok(_) => {
                            entry.confirmed = false;
                            entry.object.indices.clear();
                        }
                        Err(error) => {
                            tracing::error!(error = %aws_sdk_s3::error::DisplayErrorContext(error), key = %entry.object.key, "could not remove an object past the failure; the retry may duplicate its lines (identifiable by stream and sequence_number)");
                        }
                    }
                }
            }
        }
        written.retain(|w| !w.object.indices.is_empty());
        if !lowered {
            break;
        }
    }
    cut
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    object: &PlannedObject,
    bytes: Vec<u8>,
) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(&object.key)
        .content_type(object.content_type())
        .set_content_encoding(object.content_encoding().map(str::to_owned))
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "PutObject s3://{bucket}/{}: {}",
                object.key,
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })
}

/// Puts every object concurrently; the results are in request order.
async fn put_all(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: Vec<(PlannedObject, Vec<u8>)>,
) -> Vec<Result<(), String>> {
    let mut tasks = JoinSet::new();
    let count = objects.len();
    for (position, (object, bytes)) in objects.into_iter().enumerate() {
        let s3 = s3.clone();
        let bucket = bucket.to_owned();
        tasks.spawn(async move { (position, put(&s3, &bucket, &object, bytes).await) });
    }
    let mut results: Vec<Result<(), String>> = (0..count)
        .map(|_| Err("write task did not complete".to_owned()))
        .collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((position, result)) = joined {
            if let Some(slot) = results.get_mut(position) {
                *slot = result;
            }
        }
    }
    results
}
