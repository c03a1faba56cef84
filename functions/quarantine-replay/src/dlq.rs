//! `replay-dlq`: the on-failure messages the stream mappings send to their SQS queue carry
//! only the failed batch's range: a Kinesis shard and sequence range (`KinesisBatchInfo`), or
//! Kafka topic-partitions and offset ranges (`KafkaBatchInfo.recordsInfo`). Each range is read
//! back from the stream while it is within retention and its records are put back on the
//! stream (a Kafka record with its key and headers), where stream-enrich processes them as new
//! arrivals (their `event_id`s make any twin a no-op in gold). A range that can no longer be
//! read, wholly or partly, is recorded under `quarantine/_dlq/` with the reason. The message is
//! deleted only after that; a transient failure leaves it in the queue for the next run.

use crate::report::Report;
use crate::sink::{Destination, KafkaSink, KinesisSink, Outgoing, ReplaySinks};
use crate::store::{Store, StoreError, UNRECOVERABLE_PREFIX};
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use shopstream::lake::safe_segment;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use thiserror::Error;

pub const MODE: &str = "replay-dlq";
const MAX_RECEIVE: i32 = 10;
/// GetRecords calls without a record before a range is declared incomplete.
const MAX_EMPTY_READS: usize = 5;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DlqRequest {
    #[serde(default)]
    pub mode: Option<String>,
    /// The queue to drain; the configured `DLQ_QUEUE_URL` when absent.
    #[serde(default)]
    pub queue_url: Option<String>,
    /// At most this many messages per invocation (default 100).
    #[serde(default)]
    pub max_messages: Option<usize>,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// The Lambda on-failure record of a Kinesis batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisBatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    #[serde(default)]
    pub approximate_arrival_of_first_record: Option<DateTime<Utc>>,
    #[serde(default)]
    pub approximate_arrival_of_last_record: Option<DateTime<Utc>>,
    #[serde(default)]
    pub batch_size: Option<u64>,
    pub stream_arn: String,
}

/// The Lambda on-failure record of a Kafka (MSK or self-managed) batch, as sent to SQS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaBatchInfo {
    #[serde(default)]
    pub batch_size: Option<u64>,
    #[serde(default)]
    pub event_source_arn: Option<String>,
    #[serde(default)]
    pub bootstrap_servers: Option<String>,
    /// `"<topic>-<partition>"` → the range of that partition.
    pub records_info: BTreeMap<String, KafkaRangeInfo>,
}

/// One partition's part of a failed Kafka batch. Offsets arrive as decimal strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaRangeInfo {
    pub first_record_offset: String,
    pub last_record_offset: String,
    #[serde(default)]
    pub first_record_timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_record_timestamp: Option<DateTime<Utc>>,
}

/// `"<topic>-<partition>"` (topics may contain `-`) → (topic, partition).
pub fn split_topic_partition(text: &str) -> Option<(&str, i32)> {
    let (topic, partition) = text.rsplit_once('-')?;
    if partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let partition = partition.parse().ok()?;
    (!topic.is_empty()).then_some((topic, partition))
}

/// An on-failure message: one of the two batch descriptions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FailureMessage {
    #[serde(rename = "KinesisBatchInfo", default)]
    pub kinesis: Option<KinesisBatchInfo>,
    #[serde(rename = "KafkaBatchInfo", default)]
    pub kafka: Option<KafkaBatchInfo>,
}

impl KinesisBatchInfo {
    /// The stream name of `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    pub fn stream_name(&self) -> Option<&str> {
        self.stream_arn
            .split_once(":stream/")
            .map(|(_, name)| name)
            .filter(|name| !name.is_empty())
    }
}

/// Kinesis sequence numbers are decimal strings of up to 128 bits and more digits than any
/// machine integer: compared by length, then digit by digit.
pub fn compare_sequences(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// One record read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    pub sequence_number: String,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// A range as far as it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBack {
    pub records: Vec<StreamRecord>,
    /// Why some or all of the range is missing; `None` when it is complete.
    pub gap: Option<(&'static str, String)>,
}

#[derive(Debug, Error)]
pub enum DlqError {
    #[error("{0}")]
    Transient(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads `[start, end]` of a shard. Errors that a later attempt could fix (throttling, an
/// expired iterator, the network) are `Transient`; a range that is gone is a `gap`.
pub async fn read_range(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    batch: &KinesisBatchInfo,
) -> Result<ReadBack, DlqError> {
    let iterator = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(&batch.start_sequence_number)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(output) => output.shard_iterator().map(str::to_owned),
        Err(err) => {
            let permanent = err.as_service_error().is_some_and(|e| {
                e.is_invalid_argument_exception() || e.is_resource_not_found_exception()
            });
            let message = aws_sdk_kinesis::error::DisplayErrorContext(err).to_string();
            if permanent {
                return Ok(ReadBack {
                    records: Vec::new(),
                    gap: Some(("RANGE_UNREADABLE", message)),
                });
            }
            return Err(DlqError::Transient(message));
        }
    };
    let mut records = Vec::new();
    let mut empty_reads = 0;
    let mut reached_end = false;
    while let Some(current) = iterator.take() {
        let output = kinesis
            .get_records()
            .shard_iterator(current)
            .limit(10_000)
            .send()
            .await
            .map_err(|e| {
                DlqError::Transient(aws_sdk_kinesis::error::DisplayErrorContext(e).to_string())
            })?;
        if output.records().is_empty() {
            empty_reads += 1;
        }
        for record in output.records() {
            let sequence = record.sequence_number();
            if compare_sequences(sequence, &batch.end_sequence_number) == Ordering::Greater {
                reached_end = true;
                break;
            }
            if compare_sequences(sequence, &batch.start_sequence_number) != Ordering::Less {
                records.push(StreamRecord {
                    sequence_number: sequence.to_owned(),
                    partition_key: record.partition_key().unwrap_or_default().to_owned(),
                    data: record.data().as_ref().to_vec(),
                });
            }
        }
        let at_tip = output.millis_behind_latest() == Some(0) && output.records().is_empty();
        if reached_end
            || records
                .last()
                .is_some_and(|r| r.sequence_number == batch.end_sequence_number)
            || at_tip
            || empty_reads >= MAX_EMPTY_READS
        {
            break;
        }
        iterator = output.next_shard_iterator().map(str::to_owned);
    }
    let first_ok = records
        .first()
        .is_some_and(|r| r.sequence_number == batch.start_sequence_number);
    let last_ok = records
        .last()
        .is_some_and(|r| r.sequence_number == batch.end_sequence_number);
    let gap = match (records.is_empty(), first_ok, last_ok) {
        (true, _, _) => Some((
            "RANGE_EXPIRED",
            "no record of the range is on the stream any more (past retention)".to_owned(),
        )),
        (false, true, true) => None,
        (false, false, _) => Some((
            "RANGE_INCOMPLETE",
            format!(
                "the range starts at {} but the first record still on the stream is {}",
                batch.start_sequence_number, records[0].sequence_number
            ),
        )),
        (false, true, false) => Some((
            "RANGE_INCOMPLETE",
            format!(
                "the range ends at {} but reading stopped after {}",
                batch.end_sequence_number,
                records
                    .last()
                    .map(|r| r.sequence_number.as_str())
                    .unwrap_or_default()
            ),
        )),
    };
    Ok(ReadBack { records, gap })
}

/// The range a record of `quarantine/_dlq/` is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FailedRange {
    Kinesis(KinesisBatchInfo),
    Kafka {
        topic: String,
        partition: i32,
        range: KafkaRangeInfo,
    },
}

/// The record kept for a range that could not be fully read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnrecoverableRange {
    pub reason: String,
    pub detail: String,
    pub batch: FailedRange,
    pub records_recovered: usize,
    pub message: String,
    pub recorded_at: DateTime<Utc>,
}

/// `quarantine/_dlq/dt=YYYY-MM-DD/hour=HH/<shard>-<start>-<end>.json` (Kinesis) or
/// `.../<topic>-<partition>-<first>-<last>.json` (Kafka), by the batch's first record.
pub fn unrecoverable_key(batch: &FailedRange, now: DateTime<Utc>) -> String {
    let (at, name) = match batch {
        FailedRange::Kinesis(batch) => (
            batch.approximate_arrival_of_first_record,
            format!(
                "{}-{}-{}",
                safe_segment(&batch.shard_id),
                safe_segment(&batch.start_sequence_number),
                safe_segment(&batch.end_sequence_number)
            ),
        ),
        FailedRange::Kafka {
            topic,
            partition,
            range,
        } => (
            range.first_record_timestamp,
            format!(
                "{}-{partition}-{}-{}",
                safe_segment(topic),
                safe_segment(&range.first_record_offset),
                safe_segment(&range.last_record_offset)
            ),
        ),
    };
    let at = at.unwrap_or(now);
    format!(
        "{UNRECOVERABLE_PREFIX}dt={}/hour={:02}/{name}.json",
        at.format("%Y-%m-%d"),
        at.hour()
    )
}

pub struct DlqContext<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    pub kinesis: &'a aws_sdk_kinesis::Client,
    pub sinks: &'a ReplaySinks,
    pub store: &'a Store,
    pub now: DateTime<Utc>,
}

enum Handled {
    /// Done with the message: delete it.
    Finished,
    /// Leave it in the queue.
    Keep,
}

async fn handle_message(
    ctx: &DlqContext<'_>,
    body: &str,
    dry_run: bool,
    report: &mut Report,
) -> Result<Handled, DlqError> {
    let message = match serde_json::from_str::<FailureMessage>(body) {
        Ok(message) => message,
        Err(err) => {
            report.count("not_a_stream_batch", 1);
            report.problem(
                "message",
                format!("not an on-failure record ({err}); left in the queue"),
            );
            return Ok(Handled::Keep);
        }
    };
    match (message.kinesis, message.kafka, &ctx.sinks.kafka) {
        (Some(batch), _, _) => {
            handle_kinesis(ctx, &ctx.sinks.kinesis, body, batch, dry_run, report).await
        }
        (None, Some(batch), Some(kafka)) => {
            handle_kafka(ctx, kafka, body, batch, dry_run, report).await
        }
        (None, Some(_), None) => {
            report.count("other_stream", 1);
            report.problem(
                "message",
                "a Kafka batch, but no Kafka target is configured (KAFKA_BOOTSTRAP_SERVERS); left in the queue",
            );
            Ok(Handled::Keep)
        }
        (None, None, _) => {
            report.count("not_a_stream_batch", 1);
            report.problem(
                "message",
                "neither KinesisBatchInfo nor KafkaBatchInfo; left in the queue",
            );
            Ok(Handled::Keep)
        }
    }
}

async fn handle_kinesis(
    ctx: &DlqContext<'_>,
    sink: &KinesisSink,
    body: &str,
    batch: KinesisBatchInfo,
    dry_run: bool,
    report: &mut Report,
) -> Result<Handled, DlqError> {
    let subject = format!(
        "{} {}..{}",
        batch.shard_id, batch.start_sequence_number, batch.end_sequence_number
    );
    if batch.stream_name() != Some(sink.stream.as_str()) {
        report.count("other_stream", 1);
        report.problem(
            subject,
            format!(
                "batch of {} is not of the configured stream {}; left in the queue",
                batch.stream_arn, sink.stream
            ),
        );
        return Ok(Handled::Keep);
    }
    let read = read_range(ctx.kinesis, &sink.stream, &batch).await?;
    let outgoing: Vec<Outgoing> = read
        .records
        .iter()
        .map(|r| Outgoing {
            partition_key: r.partition_key.clone(),
            data: r.data.clone(),
            headers: BTreeMap::new(),
        })
        .collect();
    let range = Range {
        subject,
        destination: Destination::Kinesis,
        failed: FailedRange::Kinesis(batch),
        records: outgoing,
        gap: read.gap.map(|(reason, detail)| (reason.to_owned(), detail)),
    };
    if dry_run {
        range.count_dry_run(report);
        return Ok(Handled::Keep);
    }
    Ok(match redrive(ctx, body, range, report).await? {
        true => Handled::Finished,
        false => Handled::Keep,
    })
}

async fn handle_kafka(
    ctx: &DlqContext<'_>,
    sink: &KafkaSink,
    body: &str,
    batch: KafkaBatchInfo,
    dry_run: bool,
    report: &mut Report,
) -> Result<Handled, DlqError> {
    let topic = sink.client.topic();
    // Every partition's range is read before anything is sent: a message whose ranges are not
    // all of the configured topic is left alone.
    let mut ranges = Vec::new();
    for (name, info) in &batch.records_info {
        let Some((range_topic, partition)) = split_topic_partition(name) else {
            report.count("not_a_stream_batch", 1);
            report.problem(name, "not <topic>-<partition>; left in the queue");
            return Ok(Handled::Keep);
        };
        if range_topic != topic {
            report.count("other_stream", 1);
            report.problem(
                name,
                format!("not of the configured topic {topic}; left in the queue"),
            );
            return Ok(Handled::Keep);
        }
        let (Ok(first), Ok(last)) = (
            info.first_record_offset.parse::<i64>(),
            info.last_record_offset.parse::<i64>(),
        ) else {
            report.count("not_a_stream_batch", 1);
            report.problem(name, "offsets are not integers; left in the queue");
            return Ok(Handled::Keep);
        };
        ranges.push((partition, first, last, info.clone()));
    }
    let mut finished = true;
    for (partition, first, last, info) in ranges {
        let fetched = sink
            .client
            .fetch_range(topic, partition, first, last)
            .await
            .map_err(DlqError::Transient)?;
        let records: Vec<Outgoing> = fetched
            .records
            .into_iter()
            .map(|(_, record)| Outgoing {
                // Keys are the producers' partition keys (user ids): text.
                partition_key: String::from_utf8_lossy(&record.key).into_owned(),
                data: record.value,
                headers: record.headers,
            })
            .collect();
        let range = Range {
            subject: format!("{topic}-{partition} {first}..{last}"),
            destination: Destination::Kafka,
            failed: FailedRange::Kafka {
                topic: topic.to_owned(),
                partition,
                range: info,
            },
            gap: fetched.gap.map(|detail| {
                let reason = match (records.is_empty(), detail.contains("no longer")) {
                    (true, true) => "RANGE_EXPIRED",
                    (true, false) => "RANGE_UNREADABLE",
                    (false, _) => "RANGE_INCOMPLETE",
                };
                (reason.to_owned(), detail)
            }),
            records,
        };
        if dry_run {
            range.count_dry_run(report);
            finished = false;
            continue;
        }
        finished &= redrive(ctx, body, range, report).await?;
    }
    Ok(if finished {
        Handled::Finished
    } else {
        Handled::Keep
    })
}

/// One range read back: the records to put back, and what is missing.
struct Range {
    subject: String,
    destination: Destination,
    failed: FailedRange,
    records: Vec<Outgoing>,
    gap: Option<(String, String)>,
}

impl Range {
    fn count_dry_run(&self, report: &mut Report) {
        report.records += self.records.len();
        report.count(
            if self.gap.is_some() {
                "would_quarantine_range"
            } else {
                "would_recover"
            },
            1,
        );
        report.count("would_replay_records", self.records.len());
        if let Some((reason, detail)) = &self.gap {
            report.problem(self.subject.clone(), format!("{reason}: {detail}"));
        }
    }
}

/// Puts a range's records back on the stream and records what is missing; `false` when some
/// could not be sent (the message stays, and the next run sends the range again: twins of
/// what did get in are no-ops in gold).
async fn redrive(
    ctx: &DlqContext<'_>,
    body: &str,
    range: Range,
    report: &mut Report,
) -> Result<bool, DlqError> {
    report.records += range.records.len();
    let sent = ctx.sinks.send_to(range.destination, &range.records).await;
    let failed: Vec<&String> = sent.iter().filter_map(|s| s.as_ref().err()).collect();
    if let Some(first) = failed.first() {
        report.count("retry_later", 1);
        report.count("records_replayed", sent.len() - failed.len());
        report.problem(
            range.subject,
            format!("{} records not put back: {first}", failed.len()),
        );
        return Ok(false);
    }
    report.count("records_replayed", sent.len());
    match range.gap {
        None => report.count("recovered", 1),
        Some((reason, detail)) => {
            let record = UnrecoverableRange {
                reason: reason.clone(),
                detail: detail.clone(),
                records_recovered: range.records.len(),
                batch: range.failed.clone(),
                message: body.to_owned(),
                recorded_at: ctx.now,
            };
            let bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
            ctx.store
                .put(
                    &unrecoverable_key(&range.failed, ctx.now),
                    bytes,
                    "application/json",
                )
                .await?;
            report.count(
                if range.records.is_empty() {
                    "unrecoverable"
                } else {
                    "partly_recovered"
                },
                1,
            );
            report.problem(range.subject, format!("{reason}: {detail}"));
        }
    }
    Ok(true)
}

pub async fn replay_dlq(
    ctx: &DlqContext<'_>,
    queue_url: &str,
    max_messages: usize,
    dry_run: bool,
) -> Result<Report, DlqError> {
    let mut report = Report::new(MODE, dry_run);
    let mut seen = std::collections::HashSet::new();
    // Messages left in the queue, by id, with their latest receipt handle: made visible again
    // when the run ends (not before, or this run would receive them again).
    let mut kept: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    while report.inputs < max_messages {
        let wanted = (max_messages - report.inputs).min(MAX_RECEIVE as usize) as i32;
        let received = ctx
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(wanted)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| {
                DlqError::Transient(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        let messages = received.messages();
        if messages.is_empty() {
            break;
        }
        let mut fresh = 0;
        for message in messages {
            let id = message.message_id().unwrap_or_default().to_owned();
            if !seen.insert(id.clone()) {
                if let (Some(handle), Some(receipt)) = (kept.get_mut(&id), message.receipt_handle())
                {
                    receipt.clone_into(handle);
                }
                continue;
            }
            fresh += 1;
            report.inputs += 1;
            let handled = match handle_message(
                ctx,
                message.body().unwrap_or_default(),
                dry_run,
                &mut report,
            )
            .await
            {
                Ok(handled) => handled,
                Err(DlqError::Transient(detail)) => {
                    report.count("retry_later", 1);
                    report.problem("message", detail);
                    Handled::Keep
                }
                Err(err) => return Err(err),
            };
            let Some(receipt) = message.receipt_handle() else {
                continue;
            };
            match handled {
                Handled::Finished => {
                    ctx.sqs
                        .delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .map_err(|e| {
                            DlqError::Transient(
                                aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
                            )
                        })?;
                }
                Handled::Keep => {
                    kept.insert(id, receipt.to_owned());
                }
            }
        }
        if fresh == 0 {
            break;
        }
    }
    for receipt in kept.values() {
        // Best effort: otherwise the message returns when its visibility timeout ends.
        let _ = ctx
            .sqs
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_lambda_on_failure_record_is_read() {
        let body =
            include_str!("../../../events/quarantine-replay/sqs-kinesis-on-failure-message.json");
        let message: FailureMessage = serde_json::from_str(body).unwrap();
        let batch = message.kinesis.expect("a Kinesis batch");
        assert!(message.kafka.is_none());
        assert_eq!(batch.shard_id, "shardId-000000000000");
        assert_eq!(batch.stream_name(), Some("shopstream-dev-events"));
        assert_eq!(batch.batch_size, Some(3));
        let key = unrecoverable_key(&FailedRange::Kinesis(batch), Utc::now());
        assert!(
            key.starts_with("quarantine/_dlq/dt=2024-11-05/hour=07/shardId-000000000000-"),
            "{key}"
        );
    }

    #[test]
    fn the_lambda_on_failure_record_of_a_kafka_batch_is_read() {
        let body =
            include_str!("../../../events/quarantine-replay/sqs-kafka-on-failure-message.json");
        let message: FailureMessage = serde_json::from_str(body).unwrap();
        assert!(message.kinesis.is_none());
        let batch = message.kafka.expect("a Kafka batch");
        assert_eq!(batch.batch_size, Some(3));
        let (name, range) = batch.records_info.iter().next().expect("one partition");
        assert_eq!(split_topic_partition(name), Some(("shopstream-events", 1)));
        assert_eq!(range.first_record_offset, "40");
        let key = unrecoverable_key(
            &FailedRange::Kafka {
                topic: "shopstream-events".into(),
                partition: 1,
                range: range.clone(),
            },
            Utc::now(),
        );
        assert_eq!(
            key,
            "quarantine/_dlq/dt=2024-11-05/hour=07/shopstream-events-1-40-42.json"
        );
    }

    #[test]
    fn topic_partitions_split_at_the_last_dash() {
        assert_eq!(split_topic_partition("a-b-c-12"), Some(("a-b-c", 12)));
        assert_eq!(split_topic_partition("events-0"), Some(("events", 0)));
        assert_eq!(split_topic_partition("events"), None);
        assert_eq!(split_topic_partition("-3"), None);
        // Topic names may end with a dash: the partition is after the last one.
        assert_eq!(split_topic_partition("events--1"), Some(("events-", 1)));
        assert_eq!(split_topic_partition("events-+1"), None);
        assert_eq!(split_topic_partition("events-x"), None);
    }

    #[test]
    fn long_sequence_numbers_compare_as_numbers() {
        let a = "49601189658422359378836298521827638475320189012309704722";
        let b = "49601189658422359378836298522902373528957594348623495186";
        assert_eq!(compare_sequences(a, b), Ordering::Less);
        assert_eq!(compare_sequences("9", "10"), Ordering::Less);
        assert_eq!(compare_sequences("010", "10"), Ordering::Equal);
    }

    proptest! {
        #[test]
        fn sequence_order_is_numeric_order(a in any::<u128>(), b in any::<u128>()) {
            prop_assert_eq!(compare_sequences(&a.to_string(), &b.to_string()), a.cmp(&b));
        }
    }
}
