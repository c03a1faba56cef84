//! Quarantine entries: a refused record with everything needed to understand and replay it —
//! the raw payload (base64 where it is not UTF-8), every reason, where it came from and when.

use crate::reason::{distinct_reasons, RejectReason, Rejection};
use crate::record::Entity;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where one record sat in its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum RecordPosition {
    Kinesis {
        shard_id: String,
        sequence_number: String,
    },
    Kafka {
        topic: String,
        partition: i64,
        offset: i64,
    },
    DynamoDb {
        shard_id: String,
        sequence_number: String,
    },
    Api {
        request_id: String,
        index: usize,
    },
    File {
        path: String,
        index: usize,
    },
}

impl RecordPosition {
    /// The silver `_source` of a record: the Kinesis or DynamoDB shard, the Kafka
    /// `<topic>-<partition>`, the API request or the file.
    pub fn write_source(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        match self {
            RecordPosition::Kinesis { shard_id, .. }
            | RecordPosition::DynamoDb { shard_id, .. } => out.write_str(shard_id),
            RecordPosition::Kafka {
                topic, partition, ..
            } => write!(out, "{topic}-{partition}"),
            RecordPosition::Api { request_id, .. } => out.write_str(request_id),
            RecordPosition::File { path, .. } => out.write_str(path),
        }
    }

    /// The silver `_position` of a record within its source, as text: the sequence number,
    /// the offset, or the index in the request or file.
    pub fn write_position(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        match self {
            RecordPosition::Kinesis {
                sequence_number, ..
            }
            | RecordPosition::DynamoDb {
                sequence_number, ..
            } => out.write_str(sequence_number),
            RecordPosition::Kafka { offset, .. } => write!(out, "{offset}"),
            RecordPosition::Api { index, .. } | RecordPosition::File { index, .. } => {
                write!(out, "{index}")
            }
        }
    }

    pub fn source(&self) -> String {
        let mut text = String::new();
        let _ = self.write_source(&mut text);
        text
    }

    pub fn position_text(&self) -> String {
        let mut text = String::new();
        let _ = self.write_position(&mut text);
        text
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadEncoding {
    Utf8,
    Base64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    #[serde(default)]
    pub entity: Option<Entity>,
    #[serde(default)]
    pub event_id: Option<String>,
    /// The distinct reasons, for filtering; `rejections` has the details.
    pub reasons: Vec<RejectReason>,
    pub rejections: Vec<Rejection>,
    pub payload: String,
    pub payload_encoding: PayloadEncoding,
    pub position: RecordPosition,
    /// When the source received the record (Kinesis arrival, Kafka timestamp, API request),
    /// so a retried batch writes byte-identical entries.
    pub received_at: DateTime<Utc>,
}

impl QuarantineEntry {
    pub fn new(
        payload: &[u8],
        rejections: Vec<Rejection>,
        position: RecordPosition,
        received_at: DateTime<Utc>,
    ) -> Self {
        let (payload, payload_encoding) = match std::str::from_utf8(payload) {
            Ok(text) => (text.to_owned(), PayloadEncoding::Utf8),
            Err(_) => (BASE64.encode(payload), PayloadEncoding::Base64),
        };
        QuarantineEntry {
            entity: None,
            event_id: None,
            reasons: distinct_reasons(&rejections),
            rejections,
            payload,
            payload_encoding,
            position,
            received_at,
        }
    }

    pub fn with_record(mut self, entity: Entity, event_id: Option<&str>) -> Self {
        self.entity = Some(entity);
        self.event_id = event_id.map(str::to_owned);
        self
    }

    /// The original bytes, for replay.
    pub fn raw_payload(&self) -> Result<Vec<u8>, base64::DecodeError> {
        match self.payload_encoding {
            PayloadEncoding::Utf8 => Ok(self.payload.clone().into_bytes()),
            PayloadEncoding::Base64 => BASE64.decode(&self.payload),
        }
    }
}

/// Entries as JSON lines, one per entry, each ending in '\n'.
pub fn to_jsonl(entries: &[QuarantineEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 512);
    for entry in entries {
        // Entries hold only strings, numbers and enums: serialising cannot fail.
        if serde_json::to_writer(&mut out, entry).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// Reads JSON lines written by [`to_jsonl`]; a bad line is an error naming its number.
pub fn from_jsonl(bytes: &[u8]) -> Result<Vec<QuarantineEntry>, String> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(n, line)| serde_json::from_slice(line).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn position() -> RecordPosition {
        RecordPosition::Kinesis {
            shard_id: "shardId-000000000000".into(),
            sequence_number: "4959".into(),
        }
    }

    #[test]
    fn utf8_payloads_stay_readable_and_binary_ones_are_base64() {
        let at = Utc.with_ymd_and_hms(2024, 11, 5, 7, 0, 0).unwrap();
        let reasons = vec![Rejection::new(RejectReason::DecodeError, "bad")];
        let text = QuarantineEntry::new(b"{\"a\":1", reasons.clone(), position(), at);
        assert_eq!(text.payload_encoding, PayloadEncoding::Utf8);
        assert_eq!(text.payload, "{\"a\":1");
        let binary = QuarantineEntry::new(&[0, 159, 146, 150], reasons, position(), at);
        assert_eq!(binary.payload_encoding, PayloadEncoding::Base64);
        assert_eq!(binary.raw_payload().unwrap(), vec![0, 159, 146, 150]);
    }

    #[test]
    fn jsonl_round_trips_with_reasons_and_position() {
        let at = Utc.with_ymd_and_hms(2024, 11, 5, 7, 0, 0).unwrap();
        let rejections = vec![
            Rejection::on_field(RejectReason::NullUserId, "user_id", "null"),
            Rejection::on_field(RejectReason::BadPrice, "product_price", "-1"),
            Rejection::on_field(RejectReason::NullUserId, "user_id", "again"),
        ];
        let entry = QuarantineEntry::new(b"{}", rejections, position(), at)
            .with_record(Entity::Transaction, Some("e-1"));
        assert_eq!(
            entry.reasons,
            vec![RejectReason::NullUserId, RejectReason::BadPrice]
        );
        let bytes = to_jsonl(&[entry.clone(), entry.clone()]);
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 2);
        let line: serde_json::Value =
            serde_json::from_slice(bytes.split(|b| *b == b'\n').next().unwrap()).unwrap();
        assert_eq!(line["reasons"][0], "NULL_USER_ID");
        assert_eq!(line["position"]["source"], "kinesis");
        assert_eq!(line["received_at"], "2024-11-05T07:00:00Z");
        assert_eq!(from_jsonl(&bytes).unwrap(), vec![entry.clone(), entry]);
    }
}
