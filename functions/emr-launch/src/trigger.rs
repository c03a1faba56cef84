//! The events that invoke emr-launch, read from their JSON:
//!
//! | event                                                   | what it asks for                |
//! |---------------------------------------------------------|---------------------------------|
//! | `TransformTooLarge` (source `shopstream.batches`)       | launch that batch               |
//! | `{"batch_id": "..."}` (direct invocation)               | launch that batch (or retry it) |
//! | `Scheduled Event` (aws.events) or `TransformDue`        | sweep: settle finished jobs, launch `emr`-routed batches whose event was lost |
//! | `EMR Step Status Change` (aws.emr)                      | settle the batch of that step   |
//! | `EMR Serverless Job Run State Change` (aws.emr-serverless) | settle the batch of that job run |

use serde::Deserialize;
use serde_json::Value;
use shopstream::ledger::events::{parse_detail, TransformTooLarge};
use thiserror::Error;

pub const STEP_STATUS_CHANGE: &str = "EMR Step Status Change";
pub const JOB_RUN_STATE_CHANGE: &str = "EMR Serverless Job Run State Change";
const SCHEDULED_EVENT: &str = "Scheduled Event";
const TRANSFORM_DUE: &str = "TransformDue";

/// The `detail` of an "EMR Step Status Change" event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepStatusChange {
    pub cluster_id: String,
    pub step_id: String,
    pub state: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message: String,
}

/// The `detail` of an "EMR Serverless Job Run State Change" event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunStateChange {
    pub application_id: String,
    pub job_run_id: String,
    pub state: String,
    #[serde(default)]
    pub job_run_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// gold-transform refused the batch as too large for the Lambda.
    TooLarge(TransformTooLarge),
    /// Someone asked for this batch explicitly.
    Launch {
        batch_id: String,
    },
    /// The schedule: sweep the ledger.
    Sweep,
    StepStatus(StepStatusChange),
    JobRunState(JobRunStateChange),
}

#[derive(Debug, Error)]
pub enum TriggerError {
    #[error("event is not a JSON object")]
    NotAnObject,
    #[error("{detail_type} event has an unreadable detail: {source}")]
    Detail {
        detail_type: String,
        source: serde_json::Error,
    },
    #[error("emr-launch does not handle {0:?} events")]
    Unsupported(String),
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    detail: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectLaunch {
    batch_id: String,
}

impl Trigger {
    pub fn from_event(event: &Value) -> Result<Trigger, TriggerError> {
        if !event.is_object() {
            return Err(TriggerError::NotAnObject);
        }
        if event.get("detail-type").is_none() {
            return match DirectLaunch::deserialize(event) {
                Ok(direct) if !direct.batch_id.trim().is_empty() => Ok(Trigger::Launch {
                    batch_id: direct.batch_id,
                }),
                _ => Err(TriggerError::Unsupported(
                    "an object without detail-type other than {\"batch_id\": \"...\"}".into(),
                )),
            };
        }
        let envelope = Envelope::deserialize(event).map_err(|source| TriggerError::Detail {
            detail_type: "(unknown)".into(),
            source,
        })?;
        let detail_error = |source| TriggerError::Detail {
            detail_type: envelope.detail_type.clone(),
            source,
        };
        if let Some(parsed) =
            parse_detail::<TransformTooLarge>(&envelope.detail_type, &envelope.detail)
        {
            return parsed.map(Trigger::TooLarge).map_err(detail_error);
        }
        match envelope.detail_type.as_str() {
            SCHEDULED_EVENT | TRANSFORM_DUE => Ok(Trigger::Sweep),
            STEP_STATUS_CHANGE => StepStatusChange::deserialize(&envelope.detail)
                .map(Trigger::StepStatus)
                .map_err(detail_error),
            JOB_RUN_STATE_CHANGE => JobRunStateChange::deserialize(&envelope.detail)
                .map(Trigger::JobRunState)
                .map_err(detail_error),
            other => Err(TriggerError::Unsupported(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(name: &str) -> Value {
        let path = format!(
            "{}/../../events/emr-launch/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn every_sample_is_understood() {
        assert!(matches!(
            Trigger::from_event(&sample("transform-too-large.json")),
            Ok(Trigger::TooLarge(t)) if !t.batch_id.is_empty()
        ));
        assert!(matches!(
            Trigger::from_event(&sample("schedule.json")),
            Ok(Trigger::Sweep)
        ));
        for (file, state) in [
            ("step-status-completed.json", "COMPLETED"),
            ("step-status-failed.json", "FAILED"),
            ("step-status-cancelled.json", "CANCELLED"),
        ] {
            match Trigger::from_event(&sample(file)) {
                Ok(Trigger::StepStatus(change)) => assert_eq!(change.state, state, "{file}"),
                other => panic!("{file}: {other:?}"),
            }
        }
        assert!(matches!(
            Trigger::from_event(&sample("job-run-state-failed.json")),
            Ok(Trigger::JobRunState(change)) if change.state == "FAILED"
        ));
        assert!(matches!(
            Trigger::from_event(&sample("launch-batch.json")),
            Ok(Trigger::Launch { .. })
        ));
    }

    #[test]
    fn other_events_are_refused_with_their_type() {
        let error =
            Trigger::from_event(&json!({"detail-type": "EMR Cluster State Change", "detail": {}}))
                .unwrap_err();
        assert!(error.to_string().contains("EMR Cluster State Change"));
        assert!(Trigger::from_event(&json!([1, 2])).is_err());
        assert!(Trigger::from_event(&json!({"batch_id": ""})).is_err());
        assert!(Trigger::from_event(&json!({"batch": "x"})).is_err());
        let bad = Trigger::from_event(
            &json!({"detail-type": STEP_STATUS_CHANGE, "detail": {"state": 3}}),
        )
        .unwrap_err();
        assert!(bad.to_string().contains(STEP_STATUS_CHANGE));
    }
}
