//! Re-validation of one quarantine entry with the current rules, after its correction: the
//! pure decision of whether it goes back on the stream, and with which bytes.

use crate::correction::{Correction, EVENT_ID};
use chrono::{DateTime, Utc};
use shopstream::config::CoreConfig;
use shopstream::quarantine::{PayloadEncoding, QuarantineEntry};
use shopstream::reason::{distinct_reasons, RejectReason, Rejection};
use shopstream::{accept, decode_payload};

/// What to do with an entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Passes the current rules: send these bytes, keyed like ingest-api keys them.
    Replay {
        payload: Vec<u8>,
        event_id: String,
        partition_key: String,
        corrected: bool,
    },
    /// Still refused; these are its current reasons.
    Refused(Vec<Rejection>),
    /// Quarantined as a duplicate of a record that did reach the stream: replaying it would
    /// only send a twin.
    Duplicate,
}

/// Why an entry makes the whole request fail before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused correction: it would change event_id of the entry {position} from {before:?} to {after:?}")]
pub struct EventIdChanged {
    pub position: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

fn payload_event_id(record: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    record
        .get(EVENT_ID)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The entry's payload with the correction applied: `None` when there is nothing to apply
/// (no correction, or a payload that is not a JSON object, which stays as it was).
pub fn corrected_payload(
    entry: &QuarantineEntry,
    raw: &[u8],
    correction: Option<&Correction>,
) -> Result<Option<Vec<u8>>, EventIdChanged> {
    let Some(correction) = correction else {
        return Ok(None);
    };
    if entry.payload_encoding != PayloadEncoding::Utf8 {
        return Ok(None);
    }
    let Ok(serde_json::Value::Object(mut record)) = serde_json::from_slice(raw) else {
        return Ok(None);
    };
    let before = payload_event_id(&record);
    correction.apply(&mut record);
    let after = payload_event_id(&record);
    if before != after {
        return Err(EventIdChanged {
            position: serde_json::to_string(&entry.position).unwrap_or_default(),
            before,
            after,
        });
    }
    Ok(Some(
        serde_json::Value::Object(record).to_string().into_bytes(),
    ))
}

/// Decides one entry's fate. `payload` is what [`corrected_payload`] made of it, or its raw
/// bytes.
pub fn judge(
    entry: &QuarantineEntry,
    payload: Vec<u8>,
    corrected: bool,
    now: DateTime<Utc>,
    core: &CoreConfig,
) -> Verdict {
    if entry.reasons.contains(&RejectReason::DuplicateEvent) {
        return Verdict::Duplicate;
    }
    let decoded = match decode_payload(&payload, &core.avro_schemas) {
        Ok(decoded) => decoded,
        Err(rejection) => return Verdict::Refused(vec![rejection]),
    };
    let user_id = decoded.record.user_id().map(str::to_owned);
    match accept(decoded, now, &core.validation) {
        Err(rejections) => Verdict::Refused(rejections),
        Ok(clean) => {
            let event_id = clean.event_id().to_owned();
            Verdict::Replay {
                partition_key: user_id
                    .filter(|u| !u.trim().is_empty())
                    .unwrap_or_else(|| event_id.clone()),
                event_id,
                payload,
                corrected,
            }
        }
    }
}

/// The entry with its current reasons.
pub fn with_new_reasons(entry: &QuarantineEntry, rejections: Vec<Rejection>) -> QuarantineEntry {
    let mut updated = entry.clone();
    updated.reasons = distinct_reasons(&rejections);
    updated.rejections = rejections;
    updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correction::CorrectionSpec;
    use chrono::TimeZone;
    use serde_json::json;
    use shopstream::config::Env;
    use shopstream::quarantine::RecordPosition;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, 5, 8, 0, 0).unwrap()
    }

    fn entry(payload: &serde_json::Value, reasons: Vec<Rejection>) -> QuarantineEntry {
        QuarantineEntry::new(
            payload.to_string().as_bytes(),
            reasons,
            RecordPosition::Kinesis {
                shard_id: "shardId-000000000000".into(),
                sequence_number: "1".into(),
            },
            now(),
        )
    }

    fn purchase() -> serde_json::Value {
        json!({"event_id": "q-1", "user_id": null, "event_timestamp": "2024-11-05T07:15:00Z",
               "action_type": "purchase", "product_id": 7, "quantity": 1,
               "product_price": "12.50", "shipping_address": "1 Main St"})
    }

    fn correction(spec: serde_json::Value) -> Correction {
        Correction::from_spec(serde_json::from_value::<CorrectionSpec>(spec).unwrap())
            .unwrap()
            .unwrap()
    }

    fn core() -> CoreConfig {
        CoreConfig::from_env(&Env::default()).unwrap()
    }

    #[test]
    fn a_corrected_entry_passes_and_keeps_its_event_id() {
        let reasons = vec![Rejection::on_field(
            RejectReason::NullUserId,
            "user_id",
            "null",
        )];
        let entry = entry(&purchase(), reasons);
        let raw = entry.raw_payload().unwrap();
        assert!(matches!(
            judge(&entry, raw.clone(), false, now(), &core()),
            Verdict::Refused(r) if r[0].reason == RejectReason::NullUserId
        ));
        let fix = correction(json!({"mergePatch": {"user_id": "u-9"}}));
        let payload = corrected_payload(&entry, &raw, Some(&fix))
            .unwrap()
            .unwrap();
        match judge(&entry, payload, true, now(), &core()) {
            Verdict::Replay {
                event_id,
                partition_key,
                payload,
                corrected,
            } => {
                assert_eq!(event_id, "q-1");
                assert_eq!(partition_key, "u-9");
                assert!(corrected);
                let sent: serde_json::Value = serde_json::from_slice(&payload).unwrap();
                assert_eq!(sent["user_id"], "u-9");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binary_payloads_are_judged_as_they_are_and_duplicates_stay() {
        let mut binary = entry(&json!({}), vec![]);
        binary.payload_encoding = PayloadEncoding::Base64;
        binary.payload = "AAEC".into();
        let raw = binary.raw_payload().unwrap();
        let fix = correction(json!({"mergePatch": {"user_id": "u"}}));
        assert_eq!(corrected_payload(&binary, &raw, Some(&fix)), Ok(None));
        assert!(matches!(
            judge(&binary, raw, false, now(), &core()),
            Verdict::Refused(_)
        ));
        let duplicate = entry(
            &purchase(),
            vec![Rejection::new(RejectReason::DuplicateEvent, "seen")],
        );
        let raw = duplicate.raw_payload().unwrap();
        assert_eq!(
            judge(&duplicate, raw, false, now(), &core()),
            Verdict::Duplicate
        );
    }
}
