//! Event shapes and source positions: a Lambda event (Kinesis, MSK or self-managed Kafka)
//! becomes slices — one per shard or topic-partition — of records in source order, each
//! record with its raw payload, position and arrival time.

use aws_lambda_events::event::kafka::KafkaEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;
use shopstream::lake::SourceRange;
use shopstream::quarantine::RecordPosition;
use shopstream::reason::{RejectReason, Rejection};
use std::collections::BTreeMap;
use thiserror::Error;

pub const KINESIS_SOURCE: &str = "aws:kinesis";
pub const MSK_SOURCE: &str = "aws:kafka";
pub const SELF_MANAGED_KAFKA_SOURCE: &str = "SelfManagedKafka";
/// Used when a Kinesis record's `eventID` does not carry its shard.
pub const UNKNOWN_SHARD: &str = "shardId-unknown";

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("unrecognised event: expected Kinesis records (eventSource aws:kinesis) or a Kafka event (aws:kafka / SelfManagedKafka)")]
    UnknownShape,
    #[error("malformed {source_kind} event: {error}")]
    Malformed {
        source_kind: &'static str,
        #[source]
        error: serde_json::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Kinesis,
    Kafka,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Kinesis => "kinesis",
            SourceKind::Kafka => "kafka",
        }
    }
}

/// One record as the source delivered it.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// The payload bytes, or why there are none to read (a Kafka value that is not base64).
    pub payload: Result<Vec<u8>, Rejection>,
    /// The payload as delivered, for quarantine when `payload` is an error.
    pub raw: Vec<u8>,
    pub position: RecordPosition,
    /// Kinesis approximate arrival / Kafka record timestamp: the clock validation and
    /// quarantine use, so a retried batch gives identical output.
    pub arrival: DateTime<Utc>,
}

impl SourceRecord {
    /// The identifier Lambda expects in a batch item failure: the Kinesis sequence number,
    /// or the Kafka offset.
    pub fn sequence(&self) -> String {
        match &self.position {
            RecordPosition::Kinesis {
                sequence_number, ..
            }
            | RecordPosition::DynamoDb {
                sequence_number, ..
            } => sequence_number.clone(),
            RecordPosition::Kafka { offset, .. } => offset.to_string(),
            RecordPosition::Api { index, .. } | RecordPosition::File { index, .. } => {
                index.to_string()
            }
        }
    }
}

/// The records of one shard or topic-partition, in source order. Objects written for a slice
/// are named after its range, so a retried slice rewrites its own objects.
#[derive(Debug, Clone)]
pub struct Slice {
    pub range: SourceRange,
    pub records: Vec<SourceRecord>,
}

impl Slice {
    /// Arrival of the first record: the partition of the slice's quarantine objects.
    pub fn first_arrival(&self) -> DateTime<Utc> {
        self.records.first().map(|r| r.arrival).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Batch {
    pub kind: SourceKind,
    pub slices: Vec<Slice>,
}

impl Batch {
    pub fn record_count(&self) -> usize {
        self.slices.iter().map(|s| s.records.len()).sum()
    }
}

/// Detects the event shape by `eventSource` and splits it into slices.
pub fn parse_event(event: Value) -> Result<Batch, SourceError> {
    match detect(&event) {
        Some(SourceKind::Kinesis) => {
            let arrivals = kinesis_arrivals(&event);
            let event: KinesisEvent =
                serde_json::from_value(event).map_err(|error| SourceError::Malformed {
                    source_kind: "Kinesis",
                    error,
                })?;
            Ok(kinesis_batch(event, &arrivals))
        }
        Some(SourceKind::Kafka) => {
            let event: KafkaEvent =
                serde_json::from_value(event).map_err(|error| SourceError::Malformed {
                    source_kind: "Kafka",
                    error,
                })?;
            Ok(kafka_batch(event))
        }
        None => Err(SourceError::UnknownShape),
    }
}

fn detect(event: &Value) -> Option<SourceKind> {
    match event.get("eventSource").and_then(Value::as_str) {
        Some(MSK_SOURCE | SELF_MANAGED_KAFKA_SOURCE) => return Some(SourceKind::Kafka),
        Some(_) => return None,
        None => {}
    }
    let records = event.get("Records")?.as_array()?;
    let all_kinesis = records
        .iter()
        .all(|r| r.get("eventSource").and_then(Value::as_str) == Some(KINESIS_SOURCE));
    all_kinesis.then_some(SourceKind::Kinesis)
}

/// `shardId-000000000000:4959...` → `shardId-000000000000`.
fn shard_of(event_id: Option<&str>) -> String {
    event_id
        .and_then(|id| id.split_once(':'))
        .map(|(shard, _)| shard)
        .filter(|shard| !shard.is_empty())
        .unwrap_or(UNKNOWN_SHARD)
        .to_owned()
}

/// `approximateArrivalTimestamp` of every record, read here rather than from the events
/// crate: aws_lambda_events 1.2 reads the digits after the decimal point as milliseconds
/// whatever their count (`1730791200.11` becomes .011 s, `.5` becomes .005 s).
fn kinesis_arrivals(event: &Value) -> Vec<Option<DateTime<Utc>>> {
    event
        .get("Records")
        .and_then(Value::as_array)
        .map(|records| {
            records
                .iter()
                .map(|r| {
                    let value = r.get("kinesis")?.get("approximateArrivalTimestamp")?;
                    let seconds = match value {
                        Value::String(s) => s.trim().parse::<f64>().ok()?,
                        other => other.as_f64()?,
                    };
                    DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn kinesis_batch(event: KinesisEvent, arrivals: &[Option<DateTime<Utc>>]) -> Batch {
    // Keep shards in order of first appearance (an ESM batch holds one shard).
    let mut order: Vec<String> = Vec::new();
    let mut by_shard: BTreeMap<String, Vec<SourceRecord>> = BTreeMap::new();
    for (position, record) in event.records.into_iter().enumerate() {
        let shard_id = shard_of(record.event_id.as_deref());
        let data = record.kinesis.data.0;
        let source_record = SourceRecord {
            raw: data.clone(),
            payload: Ok(data),
            position: RecordPosition::Kinesis {
                shard_id: shard_id.clone(),
                sequence_number: record.kinesis.sequence_number,
            },
            arrival: arrivals
                .get(position)
                .copied()
                .flatten()
                .unwrap_or(record.kinesis.approximate_arrival_timestamp.0),
        };
        if !by_shard.contains_key(&shard_id) {
            order.push(shard_id.clone());
        }
        by_shard.entry(shard_id).or_default().push(source_record);
    }
    let slices = order
        .into_iter()
        .filter_map(|shard_id| {
            let records = by_shard.remove(&shard_id)?;
            let first_sequence = records.first()?.sequence();
            let last_sequence = records.last()?.sequence();
            Some(Slice {
                range: SourceRange::Kinesis {
                    shard_id,
                    first_sequence,
                    last_sequence,
                },
                records,
            })
        })
        .collect();
    Batch {
        kind: SourceKind::Kinesis,
        slices,
    }
}

fn kafka_batch(event: KafkaEvent) -> Batch {
    // The map key is "<topic>-<partition>"; sort for a stable processing order.
    let mut partitions: Vec<_> = event.records.into_iter().collect();
    partitions.sort_by(|a, b| a.0.cmp(&b.0));
    let slices = partitions
        .into_iter()
        .filter_map(|(key, mut records)| {
            records.sort_by_key(|r| r.offset);
            let first = records.first()?;
            let topic = first
                .topic
                .clone()
                .unwrap_or_else(|| topic_from_key(&key, first.partition));
            let partition = first.partition;
            let range = SourceRange::Kafka {
                topic: topic.clone(),
                partition,
                first_offset: first.offset,
                last_offset: records.last()?.offset,
            };
            let records = records
                .into_iter()
                .map(|record| {
                    let raw = record.value.clone().unwrap_or_default().into_bytes();
                    SourceRecord {
                        payload: kafka_payload(record.value.as_deref()),
                        raw,
                        position: RecordPosition::Kafka {
                            topic: record.topic.clone().unwrap_or_else(|| topic.clone()),
                            partition: record.partition,
                            offset: record.offset,
                        },
                        arrival: record.timestamp.0,
                    }
                })
                .collect();
            Some(Slice { range, records })
        })
        .collect();
    Batch {
        kind: SourceKind::Kafka,
        slices,
    }
}

/// Records `first_index..` of a file (a backfill's input) as one slice: each payload at its
/// 0-based index in the file, all arrived at `arrival`. `name` is the file's name (the silver
/// `_source`), `digest` names its contents in the object keys. `None` when there are no
/// payloads.
pub fn file_slice(
    name: &str,
    digest: &str,
    first_index: u64,
    payloads: &[&[u8]],
    arrival: DateTime<Utc>,
) -> Option<Slice> {
    let last_index = first_index + (payloads.len() as u64).checked_sub(1)?;
    let records = payloads
        .iter()
        .zip(first_index..)
        .map(|(payload, index)| SourceRecord {
            payload: Ok(payload.to_vec()),
            raw: payload.to_vec(),
            position: RecordPosition::File {
                path: name.to_owned(),
                index: index as usize,
            },
            arrival,
        })
        .collect();
    Some(Slice {
        range: SourceRange::File {
            name: name.to_owned(),
            digest: digest.to_owned(),
            first_index,
            last_index,
        },
        records,
    })
}

/// "orders.v1-3" with partition 3 → "orders.v1".
fn topic_from_key(key: &str, partition: i64) -> String {
    key.strip_suffix(&format!("-{partition}"))
        .unwrap_or(key)
        .to_owned()
}

fn kafka_payload(value: Option<&str>) -> Result<Vec<u8>, Rejection> {
    let value = value.ok_or_else(|| {
        Rejection::new(
            RejectReason::DecodeError,
            "Kafka record has no value (tombstone)",
        )
    })?;
    BASE64.decode(value.trim()).map_err(|e| {
        Rejection::new(
            RejectReason::DecodeError,
            format!("Kafka value is not base64: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinesis_record(shard: &str, seq: &str, data: &str) -> Value {
        json!({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "u1", "sequenceNumber": seq,
                         "data": data, "approximateArrivalTimestamp": 1730790900.5},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": format!("{shard}:{seq}"), "eventName": "aws:kinesis:record",
            "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events"
        })
    }

    #[test]
    fn kinesis_records_are_sliced_by_shard_with_their_range() {
        let event = json!({"Records": [
            kinesis_record("shardId-000000000001", "100", "e30="),
            kinesis_record("shardId-000000000001", "105", "e30="),
        ]});
        let batch = parse_event(event).expect("kinesis event");
        assert_eq!(batch.kind, SourceKind::Kinesis);
        assert_eq!(batch.slices.len(), 1);
        assert_eq!(
            batch.slices[0].range.object_stem(),
            "shardId-000000000001-100-105"
        );
        assert_eq!(
            batch.slices[0].records[0].payload.as_deref().ok(),
            Some(&b"{}"[..])
        );
        assert_eq!(batch.slices[0].records[1].sequence(), "105");
    }

    #[test]
    fn kafka_records_are_sliced_by_partition_and_values_decoded() {
        for source in [MSK_SOURCE, SELF_MANAGED_KAFKA_SOURCE] {
            let event = json!({
                "eventSource": source,
                "bootstrapServers": "b-1:9092",
                "records": {
                    "orders-1": [
                        {"topic": "orders", "partition": 1, "offset": 8, "timestamp": 1730790900000i64,
                         "timestampType": "CREATE_TIME", "value": "e30=", "headers": []},
                        {"topic": "orders", "partition": 1, "offset": 7, "timestamp": 1730790900000i64,
                         "timestampType": "CREATE_TIME", "value": "%%%", "headers": []}
                    ],
                    "orders-0": [
                        {"topic": "orders", "partition": 0, "offset": 3, "timestamp": 1730790900000i64,
                         "timestampType": "CREATE_TIME", "value": null, "headers": []}
                    ]
                }
            });
            let batch = parse_event(event).expect("kafka event");
            assert_eq!(batch.kind, SourceKind::Kafka);
            let stems: Vec<String> = batch.slices.iter().map(|s| s.range.object_stem()).collect();
            assert_eq!(stems, ["orders-0-3-3", "orders-1-7-8"]);
            assert!(batch.slices[0].records[0].payload.is_err());
            assert!(batch.slices[1].records[0].payload.is_err(), "not base64");
            assert_eq!(
                batch.slices[1].records[1].payload.as_deref().ok(),
                Some(&b"{}"[..])
            );
        }
    }

    #[test]
    fn arrival_fractions_are_read_as_decimals() {
        let mut record = kinesis_record("shardId-000000000001", "100", "e30=");
        record["kinesis"]["approximateArrivalTimestamp"] = json!(1730790900.5);
        let batch = parse_event(json!({"Records": [record]})).expect("kinesis event");
        assert_eq!(
            batch.slices[0].records[0].arrival.timestamp_millis(),
            1_730_790_900_500
        );
    }

    #[test]
    fn other_events_are_refused() {
        assert!(matches!(
            parse_event(json!({"Records": [{"eventSource": "aws:s3"}]})),
            Err(SourceError::UnknownShape)
        ));
        assert!(matches!(
            parse_event(json!({"eventSource": "aws:sqs"})),
            Err(SourceError::UnknownShape)
        ));
        assert!(matches!(
            parse_event(json!([1, 2])),
            Err(SourceError::UnknownShape)
        ));
    }
}
