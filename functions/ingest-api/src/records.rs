//! Judging records: decode with the core, give an `event_id` to those without one, validate
//! with the core's rules, and turn the accepted ones into what goes on the stream.
//!
//! The stream payload is the record's canonical JSON object (`Record::to_json_value()`, the ITI
//! field names with `null` for absent fields) plus `record_type` (so the entity survives the
//! trip whatever fields are null) and `ingested_at` (RFC 3339, UTC). stream-enrich decodes it
//! again with the same core.

use crate::body::BodyItem;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shopstream::decode::{decode_json, Decoded};
use shopstream::reason::{RejectReason, Rejection};
use shopstream::record::Record;
use shopstream::validate::{validate, ValidationRules};

/// Kinesis refuses partition keys longer than 256 characters.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;
/// Longest `detail` echoed back to the caller (details may quote the input).
const MAX_DETAIL_CHARS: usize = 300;

/// A record ready for the sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Position in the request body (0-based).
    pub index: usize,
    pub event_id: String,
    pub partition_key: String,
    /// The JSON object that goes on the stream.
    pub payload: Bytes,
}

/// A record refused with its reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub index: usize,
    /// 1-based NDJSON line, when the body was NDJSON.
    pub line: Option<usize>,
    /// The producer's `event_id`, if it sent one (server-assigned ids of refused records are
    /// never used, so they are not reported).
    pub event_id: Option<String>,
    pub reasons: Vec<Rejection>,
}

impl Refused {
    pub fn new(
        index: usize,
        line: Option<usize>,
        event_id: Option<String>,
        reasons: Vec<Rejection>,
    ) -> Self {
        let reasons = reasons.into_iter().map(shorten).collect();
        Refused {
            index,
            line,
            event_id,
            reasons,
        }
    }
}

fn shorten(mut rejection: Rejection) -> Rejection {
    if rejection.detail.chars().count() > MAX_DETAIL_CHARS {
        rejection.detail = rejection
            .detail
            .chars()
            .take(MAX_DETAIL_CHARS)
            .collect::<String>()
            + "…";
    }
    rejection
}

/// Every record of a request, judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judged {
    pub accepted: Vec<Prepared>,
    pub refused: Vec<Refused>,
}

/// Where server-side event ids come from.
#[derive(Debug, Clone)]
pub enum IdSource {
    /// Random UUID v4 per record.
    Random,
    /// Requests with an Idempotency-Key: a UUID derived from the key, the body fingerprint and
    /// the record's position, so that a retried request gives its records the same ids and the
    /// downstream dedupe by `event_id` recognises them.
    Derived { seed: String },
}

impl IdSource {
    pub fn event_id(&self, index: usize) -> String {
        match self {
            IdSource::Random => uuid::Uuid::new_v4().to_string(),
            IdSource::Derived { seed } => {
                let digest = Sha256::new()
                    .chain_update(seed.as_bytes())
                    .chain_update(b"\n")
                    .chain_update(index.to_string().as_bytes())
                    .finalize();
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&digest[..16]);
                uuid::Builder::from_custom_bytes(bytes)
                    .into_uuid()
                    .to_string()
            }
        }
    }
}

/// What judging needs besides the records.
#[derive(Debug, Clone)]
pub struct Judge<'a> {
    pub now: DateTime<Utc>,
    pub rules: &'a ValidationRules,
    pub ids: IdSource,
    /// Largest payload + partition key the sink takes for one record.
    pub max_record_bytes: usize,
}

impl Judge<'_> {
    /// Judges the records of `POST /v1/events`.
    pub fn events(&self, items: Vec<BodyItem<'_>>) -> Judged {
        let mut judged = Judged::default();
        for (index, item) in items.into_iter().enumerate() {
            let decoded = item.json.and_then(|json| decode_json(json.as_bytes()));
            match decoded {
                Err(rejection) => {
                    judged
                        .refused
                        .push(Refused::new(index, item.line, None, vec![rejection]))
                }
                Ok(decoded) => self.judge(index, item.line, decoded, Extra::default(), &mut judged),
            }
        }
        judged
    }

    /// Validates one decoded record (with problems found on the way, e.g. by the order
    /// mapping) and files it as accepted or refused.
    pub(crate) fn judge(
        &self,
        index: usize,
        line: Option<usize>,
        mut decoded: Decoded,
        mut extra: Extra,
        judged: &mut Judged,
    ) {
        let producer_id = decoded
            .record
            .event_id()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let id_was_wrong = decoded
            .problems
            .iter()
            .any(|p| p.field.as_deref() == Some("event_id"));
        if producer_id.is_none() && !id_was_wrong {
            decoded.record.set_event_id(self.ids.event_id(index));
        }
        let mut reasons = validate(&decoded, self.now, self.rules);
        reasons.append(&mut extra.problems);
        if !reasons.is_empty() {
            judged.refused.push(Refused::new(
                index,
                line,
                producer_id,
                extra.rename(reasons),
            ));
            return;
        }
        let event_id = decoded
            .record
            .event_id()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        let partition_key = partition_key(decoded.record.user_id(), &event_id);
        let object = stream_object(&decoded.record, extra.fields, self.now);
        let payload = match serde_json::to_vec(&object) {
            Ok(payload) => payload,
            Err(e) => {
                let rejection = Rejection::new(
                    RejectReason::SchemaMismatch,
                    format!("record cannot be encoded: {e}"),
                );
                judged
                    .refused
                    .push(Refused::new(index, line, producer_id, vec![rejection]));
                return;
            }
        };
        let size = payload.len() + partition_key.len();
        if size > self.max_record_bytes {
            let rejection = Rejection::new(
                RejectReason::SchemaMismatch,
                format!(
                    "the record is {size} bytes on the stream; the sink takes at most {}",
                    self.max_record_bytes
                ),
            );
            judged
                .refused
                .push(Refused::new(index, line, producer_id, vec![rejection]));
            return;
        }
        judged.accepted.push(Prepared {
            index,
            event_id,
            partition_key,
            payload: Bytes::from(payload),
        });
    }
}

/// Extra fields and problems a route adds to the core's judgement, and how the core's field
/// names read in that route's vocabulary.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    pub fields: serde_json::Map<String, Value>,
    pub problems: Vec<Rejection>,
    /// (core name, route name) pairs.
    pub renames: &'static [(&'static str, &'static str)],
}

impl Extra {
    fn rename(&self, reasons: Vec<Rejection>) -> Vec<Rejection> {
        if self.renames.is_empty() {
            return reasons;
        }
        reasons
            .into_iter()
            .map(|mut r| {
                for (core, route) in self.renames {
                    if r.field.as_deref() == Some(*core) {
                        r.field = Some((*route).to_owned());
                    }
                    if r.detail.contains(core) {
                        r.detail = r.detail.replace(core, route);
                    }
                }
                r
            })
            .collect()
    }
}

/// The JSON object that goes on the stream for a record: its canonical fields, `record_type`,
/// the route's `extra` fields and `ingested_at` (see the module documentation).
pub fn stream_object(
    record: &Record,
    extra: serde_json::Map<String, Value>,
    ingested_at: DateTime<Utc>,
) -> Value {
    let mut object = record.to_json_value();
    if let Some(map) = object.as_object_mut() {
        map.insert(
            "record_type".to_owned(),
            Value::from(record.entity().as_str()),
        );
        map.extend(extra);
        map.insert(
            "ingested_at".to_owned(),
            Value::from(shopstream::timestamp::format_timestamp(ingested_at)),
        );
    }
    object
}

/// `user_id` when there is one, else `event_id`; keys longer than Kinesis allows are replaced
/// by their SHA-256 (still one key per user).
pub fn partition_key(user_id: Option<&str>, event_id: &str) -> String {
    let key = user_id
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(event_id);
    if key.chars().count() <= MAX_PARTITION_KEY_CHARS && !key.is_empty() {
        key.to_owned()
    } else {
        let digest = Sha256::digest(key.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{split_records, BodyFormat};

    fn judge(rules: &ValidationRules) -> Judge<'_> {
        Judge {
            now: Utc::now(),
            rules,
            ids: IdSource::Random,
            max_record_bytes: 1_048_576,
        }
    }

    const GOOD: &str = r#"{"event_id":"e-1","user_id":"u-1","event_timestamp":"2024-11-05T07:15:00Z","action_type":"purchase","product_id":7,"quantity":2,"product_price":"$12.50","shipping_address":"1 Main St"}"#;

    #[test]
    fn accepted_record_payload_keeps_iti_names_and_adds_ingest_fields() {
        let rules = ValidationRules::default();
        let items = split_records(GOOD, BodyFormat::Json, 10).unwrap();
        let judged = judge(&rules).events(items);
        assert!(judged.refused.is_empty(), "{:?}", judged.refused);
        let record = &judged.accepted[0];
        assert_eq!(record.partition_key, "u-1");
        let json: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(json["event_id"], "e-1");
        assert_eq!(json["record_type"], "transaction");
        assert!(json["ingested_at"].as_str().unwrap().ends_with('Z'));
        assert!(
            json.get("coupon_code").is_some(),
            "absent ITI fields are null, not missing"
        );
        // The payload decodes again to the same record.
        let again = decode_json(&record.payload).unwrap();
        assert!(validate(&again, Utc::now(), &rules).is_empty());
    }

    #[test]
    fn missing_event_id_is_assigned_and_derived_ids_are_stable() {
        let rules = ValidationRules::default();
        let body = GOOD.replace(r#""event_id":"e-1","#, "");
        let items = split_records(&body, BodyFormat::Json, 10).unwrap();
        let judged = judge(&rules).events(items);
        let id = &judged.accepted[0].event_id;
        assert_eq!(
            uuid::Uuid::parse_str(id).map(|u| u.get_version_num()),
            Ok(4)
        );
        let derived = IdSource::Derived {
            seed: "k\nabc".into(),
        };
        assert_eq!(derived.event_id(3), derived.event_id(3));
        assert_ne!(derived.event_id(3), derived.event_id(4));
    }

    #[test]
    fn refused_records_keep_the_producer_id_and_short_details() {
        let rules = ValidationRules::default();
        let long = "x".repeat(5_000);
        let body = format!(r#"[{{"event_id":"e-9","event_timestamp":"{long}"}}, 42]"#);
        let items = split_records(&body, BodyFormat::Json, 10).unwrap();
        let judged = judge(&rules).events(items);
        assert_eq!(judged.refused.len(), 2);
        assert_eq!(judged.refused[0].event_id.as_deref(), Some("e-9"));
        assert!(judged.refused[0]
            .reasons
            .iter()
            .all(|r| r.detail.chars().count() <= 301));
        assert_eq!(
            judged.refused[1].reasons[0].reason,
            RejectReason::SchemaMismatch
        );
    }

    #[test]
    fn oversized_records_are_refused_not_sent() {
        let rules = ValidationRules::default();
        let mut small = judge(&rules);
        small.max_record_bytes = 200;
        let judged = small.events(split_records(GOOD, BodyFormat::Json, 10).unwrap());
        assert!(judged.accepted.is_empty());
        assert!(judged.refused[0].reasons[0].detail.contains("at most 200"));
    }

    #[test]
    fn partition_keys() {
        assert_eq!(partition_key(Some(" u-1 "), "e"), "u-1");
        assert_eq!(partition_key(Some(""), "e-1"), "e-1");
        assert_eq!(partition_key(None, "e-1"), "e-1");
        let long = "u".repeat(300);
        assert_eq!(partition_key(Some(&long), "e").len(), 64);
    }
}
