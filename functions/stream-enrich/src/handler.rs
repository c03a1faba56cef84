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

use crate::alerts::{AlertTiming, FraudAlert, FraudAlerter, Published};
use crate::config::Config;
use crate::cut::keep_twins_together;
use crate::enrich::{enrich_with_history, order_marks, Enricher};
use crate::metrics::BatchStats;
use crate::objects::{encode_objects, plan, EncodedObject, LakeObject};
use crate::pipeline::{triage, Accepted};
use crate::source::{parse_event, Slice, SourceError, SourceKind, SourceRecord};
use crate::writer::{LakeWriter, PutRequest, WriteError};
use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use shopstream::batch::{kinesis_response, KafkaEventResponse};
use shopstream::clean::CleanRecord;
use shopstream::deadline;
use shopstream::metrics::MetricSet;
use shopstream::quarantine::RecordPosition;
use shopstream::reason::RejectReason;
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
    let invocation = handle(deps, event).await?;
    invocation.metrics.emit();
    Ok(invocation.response)
}

/// What one invocation answered and measured.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub response: StreamResponse,
    /// The EMF metrics [`handler`] prints.
    pub metrics: MetricSet,
    /// Arrival on the stream and acceptance by EventBridge, per published alert.
    pub alert_timings: Vec<AlertTiming>,
}

/// One invocation, with its metrics returned instead of printed (the local runner and tests
/// read them). Slices (Kafka partitions; a Kinesis event has one shard) are processed
/// `SLICE_CONCURRENCY` at a time, so one slice's S3 and EventBridge calls overlap another's.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Invocation, HandlerError> {
    let started = Utc::now();
    let stop_at = deadline::stop_time(event.context.deadline, deps.config.deadline_margin);
    let batch = parse_event(event.payload)?;
    let mut stats = BatchStats::default();
    let mut failed: Vec<&SourceRecord> = Vec::new();
    let mut outcomes = futures::stream::iter(&batch.slices)
        .map(|slice| async move { (slice, process_slice(deps, slice, stop_at).await) })
        .buffered(deps.config.slice_concurrency.max(1));
    while let Some((slice, outcome)) = outcomes.next().await {
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
    Ok(Invocation {
        response,
        metrics,
        alert_timings: stats.alert_timings,
    })
}

/// A slice left for the retry because the invocation ran out of time before starting it.
fn postponed(slice: &Slice) -> SliceOutcome {
    let mut stats = BatchStats {
        records_in: slice.records.len(),
        failed: slice.records.len(),
        ..Default::default()
    };
    for record in &slice.records {
        stats.arrived(record.arrival);
    }
    stats.deadline_stops = 1;
    SliceOutcome {
        failed_from: Some(0),
        stats,
    }
}

/// A slice that failed before anything was written: all of it is reported for the retry.
fn retried_whole(slice: &Slice, mut stats: BatchStats) -> SliceOutcome {
    stats.failed = slice.records.len();
    SliceOutcome {
        failed_from: Some(0),
        stats,
    }
}

/// Processes one slice end to end, without starting writes after `stop_at`.
pub async fn process_slice(
    deps: &Deps,
    slice: &Slice,
    stop_at: Option<DateTime<Utc>>,
) -> SliceOutcome {
    if deadline::passed(stop_at) {
        tracing::warn!(range = %slice.range, "too close to the deadline to start the slice; it is left for the retry");
        return postponed(slice);
    }
    let mut stats = BatchStats {
        records_in: slice.records.len(),
        ..Default::default()
    };
    for record in &slice.records {
        stats.arrived(record.arrival);
    }
    let triaged = triage(slice, &deps.config.core);
    let duplicates = triaged.duplicates;
    let mut accepted = triaged.accepted;

    // The velocity rule's order history across batches (when a store is configured), read
    // with the profiles; the slice's own orders are recorded after scoring, off the alert
    // path (a retry reads that write back and counts each order once, by event_id).
    let marks = if deps.enricher.has_velocity_store() {
        order_marks(&accepted)
    } else {
        Vec::new()
    };
    let (profiles, history) = tokio::join!(
        deps.enricher.profiles_for(&accepted),
        deps.enricher.order_history(&marks, &deps.config.core.fraud)
    );
    let profiles = match profiles {
        Ok(profiles) => profiles,
        Err(error) => {
            tracing::error!(%error, range = %slice.range, "profile look-up failed; the slice will be retried");
            return retried_whole(slice, stats);
        }
    };
    let history = match history {
        Ok(history) => history,
        Err(error) => {
            tracing::error!(%error, range = %slice.range, "velocity history failed; the slice will be retried");
            return retried_whole(slice, stats);
        }
    };
    enrich_with_history(
        &mut accepted,
        &profiles,
        &deps.config.core.fraud,
        history.as_ref(),
    );

    let (alerts, alert_indices) = fraud_alerts(slice, &accepted);
    // The alert path waits for nothing but scoring: the alerts go out on their own task while
    // the slice is encoded and written.
    let alerting = (!alerts.is_empty() && !deadline::passed(stop_at)).then(|| {
        let alerter = deps.alerter.clone();
        tokio::spawn(async move {
            let published = alerter.publish(&alerts).await;
            (alerts, published)
        })
    });
    let repaired: Vec<(usize, shopstream::clean::Repairs)> = accepted
        .iter()
        .filter_map(|a| match &a.record {
            CleanRecord::Transaction(tx) if !tx.repairs.is_empty() => Some((a.index, tx.repairs)),
            _ => None,
        })
        .collect();
    let mut refusals: Vec<(usize, Vec<RejectReason>)> = triaged
        .refused
        .iter()
        .map(|r| (r.index, r.entry.reasons.clone()))
        .collect();
    let mut accepted_indices: Vec<usize> = accepted.iter().map(|a| a.index).collect();

    let objects = plan(
        &slice.range,
        slice.first_arrival(),
        accepted,
        triaged.refused,
    );
    let encoded = encode_objects(objects, &slice.records, &slice.range, slice.first_arrival());
    if !encoded.unencodable.is_empty() {
        accepted_indices.retain(|i| encoded.unencodable.binary_search(i).is_err());
        refusals.extend(
            encoded
                .unencodable
                .iter()
                .map(|i| (*i, vec![RejectReason::EncodeError])),
        );
    }
    let mut requests = Vec::with_capacity(encoded.objects.len());
    let mut planned = Vec::with_capacity(encoded.objects.len());
    for EncodedObject { object, bytes } in encoded.objects {
        requests.push(PutRequest {
            key: object.key.clone(),
            bytes,
            content_type: object.content_type(),
        });
        planned.push(object);
    }
    let sizes: Vec<usize> = requests.iter().map(|r| r.bytes.len()).collect();

    let mut cut: Option<usize> = None;
    let (write_results, written_at) = if deadline::passed(stop_at) {
        // Encoding used up the time: nothing is written and the whole slice is retried.
        tracing::warn!(range = %slice.range, "too close to the deadline to start writing; the slice is left for the retry");
        stats.deadline_stops = 1;
        cut = Some(0);
        let none = planned
            .iter()
            .map(|_| Err(WriteError::NotStarted))
            .collect();
        (none, Utc::now())
    } else {
        let (results, recorded) = tokio::join!(
            deps.writer.put_all(requests),
            deps.enricher.record_orders(&marks, &deps.config.core.fraud)
        );
        if let Err(error) = recorded {
            // Unrecorded orders would be missing from later windows: the slice is retried.
            tracing::error!(%error, range = %slice.range, "recording the velocity history failed; the slice will be retried");
            cut = Some(0);
        }
        (results, Utc::now())
    };
    let (alerts, published) = match alerting {
        Some(task) => match task.await {
            Ok(done) => done,
            Err(error) => {
                tracing::error!(%error, range = %slice.range, "the alert task was lost; its alerts will be retried");
                let count = alert_indices.len();
                (Vec::new(), Published::none_of(count))
            }
        },
        None if alert_indices.is_empty() => (Vec::new(), Published::default()),
        // Not started (deadline): the slice's alerts come back with the retry.
        None => {
            cut = Some(0);
            (Vec::new(), Published::none_of(alert_indices.len()))
        }
    };
    let failed_alerts = &published.failed;
    let alerts_sent = alert_indices.len();

    for position in failed_alerts {
        cut = cut
            .into_iter()
            .chain(alert_indices.get(*position).copied())
            .min();
    }
    let mut written: Vec<Written> = Vec::new();
    for ((object, result), size) in planned.into_iter().zip(write_results).zip(sizes) {
        match result {
            Ok(()) => written.push(Written {
                object,
                size,
                confirmed: true,
            }),
            Err(WriteError::NotStarted) => {
                cut = cut.into_iter().chain(object.min_index()).min();
            }
            Err(error) => {
                // The PUT may have been committed even though its answer was lost: the object
                // is repaired like a written one, so it cannot hold records the retry rewrites.
                tracing::warn!(%error, "object not confirmed; its records will be retried");
                cut = cut.into_iter().chain(object.min_index()).min();
                written.push(Written {
                    object,
                    size,
                    confirmed: false,
                });
            }
        }
    }
    if let Some(limit) = cut {
        cut = Some(
            repair(
                &deps.writer,
                &slice.records,
                &mut written,
                limit,
                &duplicates,
            )
            .await,
        );
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
    for (index, repairs) in &repaired {
        if *index < limit && accepted_indices.binary_search(index).is_ok() {
            for repair in repairs.iter() {
                *stats.repaired.entry(repair).or_default() += 1;
            }
        }
    }
    stats.fraud_flagged = alert_indices.iter().filter(|i| **i < limit).count();
    stats.alerts_published = alerts_sent.saturating_sub(failed_alerts.len());
    written.retain(|w| w.confirmed);
    stats.objects_written = written.len();
    stats.bytes_written = written.iter().map(|w| w.size).sum();
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
    // Every alert this attempt published counts, including those of records past the cut,
    // which the retry publishes again (consumers key on `event_id`).
    stats.alert_timings = published.timings(&alerts);
    SliceOutcome {
        failed_from: cut,
        stats,
    }
}

/// An object this attempt put (or may have put: `confirmed` is false when the PUT's answer
/// was an error), with its size.
struct Written<'a> {
    object: LakeObject<'a>,
    size: usize,
    confirmed: bool,
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

/// Rewrites the objects this attempt put (or may have put) so none holds a record at or
/// after the cut, since those records come back in the retry. The cut first moves below any
/// duplicate pair it would split ([`keep_twins_together`]); a failed rewrite lowers it to
/// that object's first record, and the rounds repeat until the cut holds. Returns the final
/// cut.
async fn repair(
    writer: &LakeWriter,
    records: &[SourceRecord],
    written: &mut Vec<Written<'_>>,
    cut: usize,
    duplicates: &[(usize, usize)],
) -> usize {
    let mut cut = keep_twins_together(cut, duplicates);
    for _ in 0..REPAIR_ROUNDS {
        let mut lowered = false;
        let mut kept: Vec<Written> = Vec::with_capacity(written.len());
        for entry in std::mem::take(written) {
            let Written {
                object,
                size,
                confirmed,
            } = entry;
            if object.max_index().is_none_or(|max| max < cut) {
                kept.push(Written {
                    object,
                    size,
                    confirmed,
                });
                continue;
            }
            match object.truncated(cut) {
                Some(smaller) => {
                    let bytes = match smaller.encode(records) {
                        Ok(bytes) => bytes,
                        Err(error) => {
                            tracing::error!(%error, key = %object.key, "re-encoding failed");
                            cut = cut.min(object.min_index().unwrap_or(0));
                            lowered = true;
                            kept.push(Written {
                                object,
                                size,
                                confirmed,
                            });
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
                        Ok(()) => kept.push(Written {
                            object: smaller,
                            size,
                            confirmed: true,
                        }),
                        Err(error) => {
                            tracing::error!(%error, "could not trim an object past the failure");
                            cut = cut.min(object.min_index().unwrap_or(0));
                            lowered = true;
                            kept.push(Written {
                                object,
                                size,
                                confirmed: false,
                            });
                        }
                    }
                }
                None => match writer.delete(&object.key).await {
                    Ok(()) => {}
                    Err(error) => {
                        tracing::error!(%error, key = %object.key, "could not remove an object past the failure; its rows may be duplicated by the retry (identifiable by _source/_position)");
                        kept.push(Written {
                            object,
                            size,
                            confirmed,
                        });
                    }
                },
            }
        }
        *written = kept;
        let twins = keep_twins_together(cut, duplicates);
        if twins < cut {
            cut = twins;
            lowered = true;
        }
        if !lowered {
            break;
        }
    }
    cut
}
