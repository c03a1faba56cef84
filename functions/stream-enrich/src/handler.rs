//! One invocation: every slice (shard / topic-partition) is processed, written and alerted on;
//! transient failures become batch item failures.
//!
//! Failure semantics. Lambda restarts a shard or partition from the lowest reported record,
//! so every record from the first affected one (the lowest record of a failed object or
//! alert) is reported. A retry then starts at that record with a different source range and
//! so different object names; to keep it from duplicating rows, objects of this attempt that
//! were written but also hold records at or after the cut are rewritten with only the
//! records before it (or deleted when none remain). Records that can never succeed are
//! quarantined and count as processed.

use crate::alerts::{FraudAlert, FraudAlerter};
use crate::config::Config;
use crate::enrich::{enrich, Enricher};
use crate::metrics::BatchStats;
use crate::objects::{plan, LakeObject};
use crate::pipeline::{triage, Accepted};
use crate::source::{parse_event, Slice, SourceError, SourceKind, SourceRecord};
use crate::writer::{LakeWriter, PutRequest};
use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use shopstream::batch::{kinesis_response, KafkaEventResponse};
use shopstream::clean::CleanRecord;
use shopstream::metrics::MetricSet;
use shopstream::quarantine::RecordPosition;
use thiserror::Error;

/// Rounds of rewriting objects that hold records past a failure.
const REPAIR_ROUNDS: usize = 3;

/// Clients and configuration, built once per container.
#[derive(Debug)]
pub struct Deps {
    pub config: Config,
    pub writer: LakeWriter,
    pub enricher: Enricher,
    pub alerter: FraudAlerter,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// The partial batch response in the shape of the event source.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StreamResponse {
    Kinesis(KinesisEventResponse),
    Kafka(KafkaEventResponse),
}

impl StreamResponse {
    /// The reported failures as (partition-or-shard, identifier) pairs.
    pub fn failures(&self) -> Vec<(String, String)> {
        match self {
            StreamResponse::Kinesis(r) => r
                .batch_item_failures
                .iter()
                .map(|f| (String::new(), f.item_identifier.clone().unwrap_or_default()))
                .collect(),
            StreamResponse::Kafka(r) => r
                .batch_item_failures
                .iter()
                .map(|f| {
                    (
                        f.item_identifier.partition.clone(),
                        f.item_identifier.offset.to_string(),
                    )
                })
                .collect(),
        }
    }
}

/// What happened to one slice.
#[derive(Debug, Default)]
pub struct SliceOutcome {
    /// Index of the first record to report as failed; every later record is reported too.
    pub failed_from: Option<usize>,
    pub stats: BatchStats,
}

/// The Lambda handler: [`handle`], then the invocation's EMF metrics on stdout.
pub async fn handler(
    deps: &Deps,
    event: LambdaEvent<Value>,
) -> Result<StreamResponse, HandlerError> {
    let (response, metrics) = handle(deps, event).await?;
    metrics.emit();
    Ok(response)
}

/// One invocation, with its metrics returned instead of printed (the local runner and tests
/// read them).
pub async fn handle(
    deps: &Deps,
    event: LambdaEvent<Value>,
) -> Result<(StreamResponse, MetricSet), HandlerError> {
    let started = Utc::now();
    let batch = parse_event(event.payload)?;
    let mut stats = BatchStats::default();
    let mut failed: Vec<&SourceRecord> = Vec::new();
    for slice in &batch.slices {
        let outcome = process_slice(deps, slice).await;
        if let Some(from) = outcome.failed_from {
            failed.extend(slice.records.iter().skip(from));
        }
        stats.merge(outcome.stats);
    }
    let response = match batch.kind {
        SourceKind::Kinesis => {
            StreamResponse::Kinesis(kinesis_response(failed.iter().map(|r| r.sequence())))
        }
        SourceKind::Kafka => {
            let mut response = KafkaEventResponse::default();
            for record in &failed {
                if let RecordPosition::Kafka {
                    topic,
                    partition,
                    offset,
                } = &record.position
                {
                    response.push(topic, *partition, *offset);
                }
            }
            StreamResponse::Kafka(response)
        }
    };
    let latency = (Utc::now() - started).num_milliseconds();
    let mut metrics = stats.to_metric_set(batch.kind.as_str(), latency);
    metrics.property("requestId", event.context.request_id.clone());
    tracing::info!(
        source = batch.kind.as_str(),
        records = stats.records_in,
        accepted = stats.accepted,
        rejected = stats.rejected,
        failed = stats.failed,
        fraud_flagged = stats.fraud_flagged,
        latency_ms = latency,
        "batch processed"
    );
    Ok((response, metrics))
}

/// Processes one slice end to end.
pub async fn process_slice(deps: &Deps, slice: &Slice) -> SliceOutcome {
    let mut stats = BatchStats {
        records_in: slice.records.len(),
        ..Default::default()
    };
    for record in &slice.records {
        stats.arrived(record.arrival);
    }
    let triaged = triage(slice, &deps.config.core);
    let mut accepted = triaged.accepted;

    let profiles = match deps.enricher.profiles_for(&accepted).await {
        Ok(profiles) => profiles,
        Err(error) => {
            tracing::error!(%error, range = %slice.range, "profile look-up failed; the slice will be retried");
            stats.failed = slice.records.len();
            return SliceOutcome {
                failed_from: Some(0),
                stats,
            };
        }
    };
    enrich(&mut accepted, &profiles, &deps.config.core.fraud);

    let (alerts, alert_indices) = fraud_alerts(slice, &accepted);
    let refused = triaged.refused;
    let refusals: Vec<(usize, Vec<shopstream::reason::RejectReason>)> = refused
        .iter()
        .map(|r| (r.index, r.entry.reasons.clone()))
        .collect();
    let accepted_indices: Vec<usize> = accepted.iter().map(|a| a.index).collect();

    let objects = plan(&slice.range, slice.first_arrival(), accepted, refused);
    let mut cut: Option<usize> = None;
    let mut requests = Vec::with_capacity(objects.len());
    let mut planned = Vec::with_capacity(objects.len());
    for object in objects {
        match object.encode() {
            Ok(bytes) => {
                requests.push(PutRequest {
                    key: object.key.clone(),
                    bytes,
                    content_type: object.content_type(),
                });
                planned.push(object);
            }
            Err(error) => {
                tracing::error!(%error, key = %object.key, "encoding failed");
                cut = min_opt(cut, object.min_index());
            }
        }
    }
    let sizes: Vec<usize> = requests.iter().map(|r| r.bytes.len()).collect();

    let (failed_alerts, write_results) = tokio::join!(
        async {
            let failed = deps.alerter.publish(&alerts).await;
            (failed, Utc::now())
        },
        async {
            let results = deps.writer.put_all(requests).await;
            (results, Utc::now())
        }
    );
    let (failed_alerts, alerted_at) = failed_alerts;
    let (write_results, written_at) = write_results;

    for position in &failed_alerts {
        cut = min_opt(cut, alert_indices.get(*position).copied());
    }
    let mut written: Vec<(LakeObject, usize)> = Vec::new();
    for ((object, result), size) in planned.into_iter().zip(write_results).zip(sizes) {
        match result {
            Ok(()) => written.push((object, size)),
            Err(error) => {
                tracing::warn!(%error, "object not written; its records will be retried");
                cut = min_opt(cut, object.min_index());
            }
        }
    }
    if let Some(limit) = cut {
        cut = Some(repair(&deps.writer, &mut written, limit).await);
    }

    let limit = cut.unwrap_or(usize::MAX);
    stats.accepted = accepted_indices.iter().filter(|i| **i < limit).count();
    for (index, reasons) in &refusals {
        if *index < limit {
            stats.rejected += 1;
            for reason in reasons {
                *stats.rejected_by_reason.entry(*reason).or_default() += 1;
            }
        }
    }
    stats.fraud_flagged = alert_indices.iter().filter(|i| **i < limit).count();
    stats.alerts_published = alerts.len() - failed_alerts.len();
    stats.objects_written = written.len();
    stats.bytes_written = written.iter().map(|(_, size)| size).sum();
    stats.failed = slice
        .records
        .len()
        .saturating_sub(limit.min(slice.records.len()));
    let first_arrival = stats.earliest_arrival;
    if let Some(arrival) = first_arrival {
        if !written.is_empty() {
            stats.max_write_latency_ms = Some((written_at - arrival).num_milliseconds());
        }
    }
    if let Some(first_alerted) = alert_indices
        .iter()
        .filter_map(|i| slice.records.get(*i))
        .map(|r| r.arrival)
        .min()
    {
        stats.max_alert_latency_ms = Some((alerted_at - first_alerted).num_milliseconds());
    }
    SliceOutcome {
        failed_from: cut,
        stats,
    }
}

/// Alerts for the transactions over the review threshold, with their slice indices.
fn fraud_alerts(slice: &Slice, accepted: &[Accepted]) -> (Vec<FraudAlert>, Vec<usize>) {
    accepted
        .iter()
        .filter_map(|a| match &a.record {
            CleanRecord::Transaction(tx) if tx.fraud.review => {
                let source = slice.records.get(a.index)?;
                Some((
                    FraudAlert::new(tx, source.position.clone(), source.arrival),
                    a.index,
                ))
            }
            _ => None,
        })
        .unzip()
}

/// Rewrites written objects so none holds a record at or after the cut, since those records
/// come back in the retry. A failed rewrite lowers the cut to that object's first record.
/// Returns the final cut.
async fn repair(
    writer: &LakeWriter,
    written: &mut Vec<(LakeObject<'_>, usize)>,
    mut cut: usize,
) -> usize {
    for _ in 0..REPAIR_ROUNDS {
        let mut lowered = false;
        let mut kept: Vec<(LakeObject, usize)> = Vec::with_capacity(written.len());
        for (object, size) in std::mem::take(written) {
            if object.max_index().is_none_or(|max| max < cut) {
                kept.push((object, size));
                continue;
            }
            match object.truncated(cut) {
                Some(smaller) => {
                    let bytes = match smaller.encode() {
                        Ok(bytes) => bytes,
                        Err(error) => {
                            tracing::error!(%error, key = %object.key, "re-encoding failed");
                            cut = cut.min(object.min_index().unwrap_or(0));
                            lowered = true;
                            kept.push((object, size));
                            continue;
                        }
                    };
                    let size = bytes.len();
                    let request = PutRequest {
                        key: smaller.key.clone(),
                        bytes,
                        content_type: smaller.content_type(),
                    };
                    match writer.put(request).await {
                        Ok(()) => kept.push((smaller, size)),
                        Err(error) => {
                            tracing::error!(%error, "could not trim an object past the failure");
                            cut = cut.min(object.min_index().unwrap_or(0));
                            lowered = true;
                            kept.push((object, size));
                        }
                    }
                }
                None => match writer.delete(&object.key).await {
                    Ok(()) => {}
                    Err(error) => {
                        tracing::error!(%error, "could not remove an object past the failure; a retry may duplicate its rows");
                        kept.push((object, size));
                    }
                },
            }
        }
        *written = kept;
        if !lowered {
            break;
        }
    }
    cut
}

fn min_opt(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
