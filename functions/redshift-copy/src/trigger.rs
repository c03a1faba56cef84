//! What started an invocation. Three EventBridge events reach redshift-copy:
//! - `Object Created` (source `aws.s3`) for a key under `gold/_manifests/`: load that batch;
//! - `Redshift Data Statement Status Change` (source `aws.redshift-data`) for a statement
//!   named `shopstream-load:<batch_id>`: settle that batch;
//! - `LoadDue` (source `shopstream.scheduler`, the load-sweep schedule on the shopstream bus)
//!   or a plain `Scheduled Event` (source `aws.events`): sweep batches left `LOADING` or
//!   `TRANSFORMED`.
//!
//! Anything else is refused with an error naming what was received.

use crate::data_api::batch_of_statement_name;
use crate::guard::{self, Refused};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A manifest arrived: load its batch.
    ManifestCreated {
        bucket: String,
        key: String,
        batch_id: String,
    },
    /// A load statement changed state (the event's state is a hint: DescribeStatement decides).
    StatementChanged {
        statement_id: String,
        batch_id: String,
        state: String,
    },
    /// The retry schedule.
    Sweep,
}

#[derive(Debug, Error)]
pub enum TriggerError {
    #[error("not an EventBridge event: {0}")]
    NotEventBridge(#[source] serde_json::Error),
    #[error("unsupported event: source {source_name:?}, detail-type {detail_type:?}")]
    Unsupported {
        source_name: String,
        detail_type: String,
    },
    #[error("{detail_type} event without {field}")]
    MissingField {
        detail_type: String,
        field: &'static str,
    },
    #[error(transparent)]
    Refused(#[from] Refused),
}

#[derive(Debug, Deserialize)]
struct Envelope {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    detail: Value,
}

fn text<'a>(detail: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(detail, |value, key| value.get(key))
        .and_then(Value::as_str)
}

/// Reads an invocation payload.
pub fn parse(payload: &Value) -> Result<Trigger, TriggerError> {
    let envelope = Envelope::deserialize(payload).map_err(TriggerError::NotEventBridge)?;
    let missing = |field| TriggerError::MissingField {
        detail_type: envelope.detail_type.clone(),
        field,
    };
    match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.s3", "Object Created") => {
            let bucket = text(&envelope.detail, &["bucket", "name"])
                .ok_or_else(|| missing("bucket.name"))?;
            let raw_key =
                text(&envelope.detail, &["object", "key"]).ok_or_else(|| missing("object.key"))?;
            let key = shopstream::lake::decode_s3_event_key(raw_key);
            let batch_id = guard::manifest_key(&key)?;
            Ok(Trigger::ManifestCreated {
                bucket: guard::bucket(bucket)?,
                key,
                batch_id,
            })
        }
        ("aws.redshift-data", "Redshift Data Statement Status Change") => {
            let statement_id =
                text(&envelope.detail, &["statementId"]).ok_or_else(|| missing("statementId"))?;
            let name = text(&envelope.detail, &["statementName"])
                .ok_or_else(|| missing("statementName"))?;
            let state = text(&envelope.detail, &["state"]).unwrap_or_default();
            let batch = batch_of_statement_name(name).ok_or_else(|| {
                TriggerError::Refused(Refused {
                    field: "statementName",
                    shown: format!("{name:?}"),
                    rule: format!(
                        "must be {}<batch_id>",
                        crate::data_api::STATEMENT_NAME_PREFIX
                    ),
                })
            })?;
            Ok(Trigger::StatementChanged {
                statement_id: statement_id_checked(statement_id)?,
                batch_id: guard::batch_id(batch)?,
                state: state.to_owned(),
            })
        }
        ("shopstream.scheduler", "LoadDue") | ("aws.events", "Scheduled Event") => {
            Ok(Trigger::Sweep)
        }
        (source, detail_type) => Err(TriggerError::Unsupported {
            source_name: source.to_owned(),
            detail_type: detail_type.to_owned(),
        }),
    }
}

/// Data API statement ids are UUIDs, optionally with a `:<n>` sub-statement suffix.
fn statement_id_checked(value: &str) -> Result<String, Refused> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '-' || c == ':' || c.is_ascii_digit());
    if valid {
        Ok(value.to_owned())
    } else {
        Err(Refused {
            field: "statementId",
            shown: format!("{:?}", value.chars().take(80).collect::<String>()),
            rule: "must be a UUID".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object_created(key: &str) -> Value {
        json!({
            "version": "0", "id": "1", "source": "aws.s3", "detail-type": "Object Created",
            "account": "123456789012", "time": "2026-12-02T11:00:00Z", "region": "eu-west-1",
            "resources": [], "detail": {"bucket": {"name": "lake"}, "object": {"key": key, "size": 10}}
        })
    }

    #[test]
    fn manifest_events_give_their_batch() {
        let trigger = parse(&object_created(
            "gold/_manifests/20261202T10-20261202T11-3f2a9c0d11b7e4a5.json",
        ))
        .expect("manifest");
        assert_eq!(
            trigger,
            Trigger::ManifestCreated {
                bucket: "lake".into(),
                key: "gold/_manifests/20261202T10-20261202T11-3f2a9c0d11b7e4a5.json".into(),
                batch_id: "20261202T10-20261202T11-3f2a9c0d11b7e4a5".into(),
            }
        );
    }

    #[test]
    fn hostile_object_keys_are_refused_after_decoding() {
        for key in [
            "gold/_manifests/x%27%3B%20DROP%20TABLE%20final_fact%3B%20--.json",
            "gold/_manifests/a;b.json",
            "gold/_manifests/a\\b.json",
            "gold/_manifests/a--b'.json",
            "gold/_manifests/%D0%B0bc.json",
            "gold/other/abc.json",
        ] {
            let error = parse(&object_created(key)).expect_err(key);
            assert!(matches!(error, TriggerError::Refused(_)), "{key}: {error}");
        }
        let long = format!("gold/_manifests/{}.json", "a".repeat(300));
        assert!(parse(&object_created(&long)).is_err());
    }

    #[test]
    fn status_changes_carry_their_batch() {
        let event = json!({
            "source": "aws.redshift-data", "detail-type": "Redshift Data Statement Status Change",
            "detail": {"statementId": "d9b6c0c9-0747-4bf4-b142-e8883122f766",
                       "statementName": "shopstream-load:20261202T10-20261202T11-3f2a9c0d11b7e4a5",
                       "state": "FINISHED", "rows": 0}
        });
        assert_eq!(
            parse(&event).expect("status"),
            Trigger::StatementChanged {
                statement_id: "d9b6c0c9-0747-4bf4-b142-e8883122f766".into(),
                batch_id: "20261202T10-20261202T11-3f2a9c0d11b7e4a5".into(),
                state: "FINISHED".into(),
            }
        );
        let mut foreign = event.clone();
        foreign["detail"]["statementName"] = json!("someone-else");
        assert!(parse(&foreign).is_err());
    }

    #[test]
    fn schedules_sweep_and_others_are_unsupported() {
        let schedule =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(parse(&schedule).expect("sweep"), Trigger::Sweep);
        let load_due = json!({"source": "shopstream.scheduler", "detail-type": "LoadDue", "detail": {"job": "load"}});
        assert_eq!(parse(&load_due).expect("sweep"), Trigger::Sweep);
        let other = json!({"source": "aws.sqs", "detail-type": "x", "detail": {}});
        assert!(matches!(
            parse(&other),
            Err(TriggerError::Unsupported { .. })
        ));
        assert!(matches!(
            parse(&json!([1])),
            Err(TriggerError::NotEventBridge(_))
        ));
    }
}
