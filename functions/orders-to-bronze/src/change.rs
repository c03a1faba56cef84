//! DynamoDB stream records → bronze lines. A record is read on its own, so one malformed
//! record becomes a quarantine entry instead of failing the batch.

use crate::attribute;
use aws_lambda_events::event::dynamodb::EventRecord;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use shopstream::lake::safe_segment;
use shopstream::quarantine::{QuarantineEntry, RecordPosition};
use shopstream::reason::{RejectReason, Rejection};

/// Used when a record's `eventSourceARN` has no stream label.
pub const UNKNOWN_STREAM: &str = "stream-unknown";
/// The attribute holding an order's event id (ingest-api's `purchase_orders` key).
pub const ORDER_EVENT_ID: &str = "event_id";

/// What a stream record did to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    Insert,
    Modify,
    Remove,
}

/// One line of a bronze object: the change with its keys, the new image (none for a
/// tombstone) and where it sat in the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BronzeLine {
    /// The order's own `event_id` (from the new image, or the keys of a tombstone); `None`
    /// when the item has none.
    pub event_id: Option<String>,
    /// The stream record's id (`eventID`), unique per change.
    pub stream_event_id: String,
    pub op: Operation,
    /// True for REMOVE: the item identified by `keys` no longer exists.
    pub tombstone: bool,
    pub sequence_number: String,
    pub approximate_creation_time: DateTime<Utc>,
    pub keys: Map<String, Value>,
    pub image: Option<Map<String, Value>>,
}

/// One stream record, read or refused.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// The sequence number, the identifier of a batch item failure (empty when missing).
    pub sequence_number: String,
    pub stream: String,
    /// When DynamoDB wrote the change; the record's partition.
    pub created_at: Option<DateTime<Utc>>,
    pub outcome: Result<BronzeLine, QuarantineEntry>,
}

/// `arn:aws:dynamodb:...:table/orders/stream/2024-11-05T07:00:00.000` → the stream label,
/// made safe for a key segment.
pub fn stream_label(arn: Option<&str>) -> String {
    arn.and_then(|a| a.rsplit_once("/stream/"))
        .map(|(_, label)| safe_segment(label))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| UNKNOWN_STREAM.to_owned())
}

pub fn read_record(raw: &Value, fallback_time: DateTime<Utc>) -> StreamRecord {
    let change = raw.get("dynamodb");
    let sequence_number = change
        .and_then(|c| c.get("SequenceNumber"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let stream = stream_label(raw.get("eventSourceARN").and_then(Value::as_str));
    let created_at = change
        .and_then(|c| c.get("ApproximateCreationDateTime"))
        .and_then(Value::as_f64)
        .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0).round() as i64));
    let position = RecordPosition::DynamoDb {
        shard_id: stream.clone(),
        sequence_number: sequence_number.clone(),
    };
    let outcome = line(raw, &sequence_number, created_at).map_err(|rejection| {
        let payload = serde_json::to_vec(raw).unwrap_or_default();
        QuarantineEntry::new(
            &payload,
            vec![rejection],
            position,
            created_at.unwrap_or(fallback_time),
        )
    });
    StreamRecord {
        sequence_number,
        stream,
        created_at,
        outcome,
    }
}

fn mismatch(detail: impl Into<String>) -> Rejection {
    Rejection::new(RejectReason::SchemaMismatch, detail)
}

fn line(
    raw: &Value,
    sequence_number: &str,
    created_at: Option<DateTime<Utc>>,
) -> Result<BronzeLine, Rejection> {
    let record: EventRecord = serde_json::from_value(raw.clone())
        .map_err(|e| mismatch(format!("not a DynamoDB stream record: {e}")))?;
    if sequence_number.is_empty() {
        return Err(mismatch("dynamodb.SequenceNumber is missing"));
    }
    let created_at = created_at.ok_or_else(|| {
        Rejection::on_field(
            RejectReason::NullTimestamp,
            "ApproximateCreationDateTime",
            "missing or not a number",
        )
    })?;
    let op = match record.event_name.as_str() {
        "INSERT" => Operation::Insert,
        "MODIFY" => Operation::Modify,
        "REMOVE" => Operation::Remove,
        other => return Err(mismatch(format!("unknown eventName {other:?}"))),
    };
    let typed = |name: &str| -> Map<String, Value> {
        raw.get("dynamodb")
            .and_then(|c| c.get(name))
            .and_then(Value::as_object)
            .map(attribute::item)
            .unwrap_or_default()
    };
    let keys = typed("Keys");
    if keys.is_empty() {
        return Err(mismatch("dynamodb.Keys is missing or empty"));
    }
    let image = match op {
        Operation::Remove => None,
        Operation::Insert | Operation::Modify => {
            let image = typed("NewImage");
            if image.is_empty() {
                return Err(mismatch(
                    "INSERT/MODIFY without NewImage: the stream view type must be NEW_IMAGE or NEW_AND_OLD_IMAGES",
                ));
            }
            Some(image)
        }
    };
    let order_event_id = image
        .as_ref()
        .and_then(|i| i.get(ORDER_EVENT_ID))
        .or_else(|| keys.get(ORDER_EVENT_ID))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(BronzeLine {
        event_id: order_event_id,
        stream_event_id: record.event_id,
        op,
        tombstone: op == Operation::Remove,
        sequence_number: sequence_number.to_owned(),
        approximate_creation_time: created_at,
        keys,
        image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(name: &str, change: Value) -> Value {
        json!({
            "eventID": "e1", "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": change,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-11-05T07:00:00.000"
        })
    }

    #[test]
    fn insert_modify_and_remove() {
        let now = Utc::now();
        let insert = read_record(
            &record(
                "INSERT",
                json!({"ApproximateCreationDateTime": 1730790900, "SequenceNumber": "100",
                "Keys": {"order_id": {"S": "o1"}}, "NewImage": {"order_id": {"S": "o1"}, "qty": {"N": "2"}},
                "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"}),
            ),
            now,
        );
        assert_eq!(insert.stream, "2024-11-05T07_00_00.000");
        let line = insert.outcome.expect("insert is kept");
        assert_eq!(line.image.expect("image")["qty"], 2);
        assert!(!line.tombstone);

        let remove = read_record(
            &record(
                "REMOVE",
                json!({"ApproximateCreationDateTime": 1730790900, "SequenceNumber": "101",
                "Keys": {"order_id": {"S": "o1"}}, "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"}),
            ),
            now,
        );
        let line = remove.outcome.expect("remove is a tombstone");
        assert!(line.tombstone);
        assert_eq!(line.image, None);
        assert_eq!(serde_json::to_value(&line).expect("json")["op"], "REMOVE");
    }

    #[test]
    fn broken_records_are_refused_with_a_reason() {
        let now = Utc::now();
        let no_image = read_record(
            &record(
                "MODIFY",
                json!({"ApproximateCreationDateTime": 1730790900, "SequenceNumber": "102",
                "Keys": {"order_id": {"S": "o1"}}, "SizeBytes": 10, "StreamViewType": "KEYS_ONLY"}),
            ),
            now,
        );
        let entry = no_image.outcome.expect_err("no image");
        assert_eq!(entry.reasons, [RejectReason::SchemaMismatch]);
        let garbage = read_record(&json!({"eventName": 5}), now);
        assert!(garbage.outcome.is_err());
        assert_eq!(garbage.stream, UNKNOWN_STREAM);
    }
}
