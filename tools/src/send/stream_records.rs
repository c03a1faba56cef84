//! Generated lines as stream records (Kinesis, Kafka), in the form ingest-api puts on the
//! stream, so that stream-enrich consumes them the same way; delivered through ingest-api's
//! own sinks and retries.
//!
//! A line the core decodes cleanly becomes what ingest-api would send for it: the canonical
//! JSON object plus `record_type` and `ingested_at` (`ingest_api::records::stream_object`),
//! keyed by `user_id` (else `event_id`) like ingest-api's partition keys. Nothing is validated
//! here: broken records go on the stream too, for stream-enrich to quarantine. A line that
//! does not decode cleanly (cut-off JSON, a wrong field type) goes as generated, since no
//! canonical form would keep what is wrong with it.

use super::{LineBatch, Tally};
use crate::confluent::confluent_frame;
use anyhow::Result;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ingest_api::config::RetryPolicy;
use ingest_api::records::{partition_key, stream_object, Prepared};
use ingest_api::sink::{deliver, Sink};
use shopstream::decode::{decode_json, AvroSchemas};

/// How a record's payload is encoded on the stream.
#[derive(Debug, Clone)]
pub enum PayloadEncoding {
    /// A JSON object (ingest-api's stream payload).
    Json,
    /// Confluent wire-format Avro with the bundled schemas (`--format confluent`).
    Confluent(AvroSchemas),
}

/// The stream record for generated line number `position`, at position `index` of its batch.
pub fn stream_record(
    index: usize,
    position: u64,
    line: &[u8],
    encoding: &PayloadEncoding,
    now: DateTime<Utc>,
) -> Result<Prepared> {
    let decoded = decode_json(line).ok();
    let record = decoded.as_ref().map(|d| &d.record);
    let event_id = record
        .and_then(|r| r.event_id())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let key = match record.and_then(|r| r.user_id()) {
        Some(user_id) => partition_key(Some(user_id), &event_id),
        // Without a user or an event id, records spread by their position.
        None if event_id.is_empty() => partition_key(None, &format!("record-{position}")),
        None => partition_key(None, &event_id),
    };
    let payload = match encoding {
        PayloadEncoding::Confluent(schemas) => confluent_frame(line, schemas)?,
        PayloadEncoding::Json => match &decoded {
            Some(d) if d.problems.is_empty() => {
                serde_json::to_vec(&stream_object(&d.record, serde_json::Map::new(), now))?
            }
            _ => line.to_vec(),
        },
    };
    Ok(Prepared {
        index,
        event_id,
        partition_key: key,
        payload: Bytes::from(payload),
    })
}

/// Turns a batch into stream records and delivers them with ingest-api's [`deliver`]
/// (retrying what the sink reports as retryable); for the Kinesis and Kafka targets.
pub async fn deliver_lines<S: Sink>(
    sink: &S,
    batch: &LineBatch,
    encoding: &PayloadEncoding,
    retry: RetryPolicy,
) -> Tally {
    let mut tally = Tally::for_records(batch.len());
    let now = chrono::Utc::now();
    let mut records: Vec<Prepared> = Vec::with_capacity(batch.len());
    for (index, line) in batch.lines().enumerate() {
        match stream_record(index, batch.first + index as u64, line, encoding, now) {
            Ok(record) => records.push(record),
            Err(error) => {
                tally.failed += 1;
                tally.note_error(format!(
                    "cannot encode record {}: {error:#}",
                    batch.first + index as u64
                ));
            }
        }
    }
    let delivery = deliver(sink, &records, retry).await;
    tally.requests += u64::from(delivery.attempts);
    tally.retried_requests += u64::from(delivery.attempts.saturating_sub(1));
    tally.accepted += (delivery.delivered.len() + delivery.duplicates.len()) as u64;
    tally.failed += delivery.failed.len() as u64;
    if let Some(failure) = delivery.failed.first() {
        tally.note_error(format!("{}: {}", sink.name(), failure.error));
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const GOOD: &[u8] = br#"{"event_id":"e-1","user_id":"u-1","event_timestamp":"2025-03-01T10:00:00Z","action_type":"purchase","product_id":7,"quantity":2,"product_price":12.5,"shipping_address":"1 Main St"}"#;

    #[test]
    fn clean_lines_take_ingest_apis_stream_form() {
        let record = stream_record(3, 10, GOOD, &PayloadEncoding::Json, Utc::now()).unwrap();
        assert_eq!(record.index, 3);
        assert_eq!(record.event_id, "e-1");
        assert_eq!(record.partition_key, "u-1");
        let json: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(json["record_type"], "transaction");
        assert!(json["ingested_at"].is_string());
    }

    #[test]
    fn broken_lines_go_as_generated() {
        let cut = br#"{"event_id":"e-2","quantity":"#;
        let record = stream_record(0, 41, cut, &PayloadEncoding::Json, Utc::now()).unwrap();
        assert_eq!(&record.payload[..], &cut[..]);
        assert_eq!(record.event_id, "");
        assert_eq!(
            record.partition_key,
            partition_key(None, "record-41"),
            "spread by position"
        );
        let wrong_type =
            br#"{"event_id":"e-3","user_id":42,"event_timestamp":"2025-03-01T10:00:00Z"}"#;
        let record = stream_record(0, 0, wrong_type, &PayloadEncoding::Json, Utc::now()).unwrap();
        assert_eq!(&record.payload[..], &wrong_type[..]);
    }

    #[test]
    fn confluent_payloads_are_framed() {
        let mut generator = crate::generate::Generator::new(crate::generate::GeneratorConfig {
            events: 1,
            users: 10,
            products: 10,
            anomalies: crate::generate::anomaly::AnomalyRates::none(),
            ..Default::default()
        });
        let mut line = Vec::new();
        generator.write_next(&mut line);
        let encoding = PayloadEncoding::Confluent(AvroSchemas::bundled_defaults());
        let record = stream_record(0, 0, line.trim_ascii_end(), &encoding, Utc::now()).unwrap();
        assert_eq!(record.payload[0], 0, "magic byte");
        assert!(record.partition_key.starts_with("user_"));
        let decoded =
            shopstream::decode::decode_payload(&record.payload, &AvroSchemas::bundled_defaults())
                .unwrap();
        assert_eq!(decoded.record.event_id(), Some(record.event_id.as_str()));
    }
}
