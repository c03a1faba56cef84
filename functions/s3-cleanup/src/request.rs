//! What an invocation asks for: the `BatchLoaded` event of one batch, the `CleanupDue`
//! schedule (every loaded batch), or a manual request `{"batchId"?, "dryRun"?}`.

use serde::Deserialize;
use serde_json::Value;
use shopstream::ledger::events::{parse_detail, BatchLoaded};
use thiserror::Error;

pub const CLEANUP_DUE: &str = "CleanupDue";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One batch (a `BatchLoaded` event or a manual `batchId`).
    Batch(String),
    /// Every `LOADED` batch.
    AllLoaded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub scope: Scope,
    /// `dryRun` of a manual request; events never carry one.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("unexpected event detail-type {0:?}: s3-cleanup handles BatchLoaded and CleanupDue")]
    UnknownDetailType(String),
    #[error("invalid BatchLoaded detail: {0}")]
    BadDetail(String),
    #[error("invalid manual request: {0} (expected {{\"batchId\"?: string, \"dryRun\"?: bool}})")]
    BadManual(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Manual {
    #[serde(default)]
    batch_id: Option<String>,
    #[serde(default)]
    dry_run: Option<bool>,
}

pub fn parse(event: &Value) -> Result<Request, RequestError> {
    if let Some(detail_type) = event.get("detail-type").and_then(Value::as_str) {
        let detail = event.get("detail").cloned().unwrap_or(Value::Null);
        if detail_type == CLEANUP_DUE {
            return Ok(Request {
                scope: Scope::AllLoaded,
                dry_run: None,
            });
        }
        return match parse_detail::<BatchLoaded>(detail_type, &detail) {
            Some(Ok(loaded)) => Ok(Request {
                scope: Scope::Batch(loaded.batch_id),
                dry_run: None,
            }),
            Some(Err(err)) => Err(RequestError::BadDetail(err.to_string())),
            None => Err(RequestError::UnknownDetailType(detail_type.to_owned())),
        };
    }
    let manual: Manual = serde_json::from_value(event.clone())
        .map_err(|e| RequestError::BadManual(e.to_string()))?;
    let scope = match manual.batch_id {
        Some(id) if id.trim().is_empty() => {
            return Err(RequestError::BadManual("batchId is empty".into()))
        }
        Some(id) => Scope::Batch(id),
        None => Scope::AllLoaded,
    };
    Ok(Request {
        scope,
        dry_run: manual.dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(name: &str) -> Value {
        let path = format!(
            "{}/../../events/s3-cleanup/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn events_and_manual_requests() {
        assert_eq!(
            parse(&sample("eventbridge-batch-loaded.json"))
                .unwrap()
                .scope,
            Scope::Batch("20241105T07-20241105T08-3f2a9c41d07b5e68".into())
        );
        assert_eq!(
            parse(&sample("eventbridge-cleanup-due.json"))
                .unwrap()
                .scope,
            Scope::AllLoaded
        );
        let manual = parse(&sample("manual-dry-run.json")).unwrap();
        assert_eq!(
            manual,
            Request {
                scope: Scope::AllLoaded,
                dry_run: Some(true)
            }
        );
        let one = parse(&sample("manual-batch.json")).unwrap();
        assert!(matches!(one.scope, Scope::Batch(_)));
        assert_eq!(one.dry_run, Some(false));
    }

    #[test]
    fn bad_requests_are_explained() {
        for (event, expected) in [
            (
                json!({"detail-type": "BatchTransformed", "detail": {}}),
                "unexpected event detail-type",
            ),
            (
                json!({"detail-type": "BatchLoaded", "detail": {"batch": 1}}),
                "invalid BatchLoaded detail",
            ),
            (json!({"batchId": ""}), "batchId is empty"),
            (json!({"dryRun": "yes"}), "invalid manual request"),
            (json!({"prefix": "bronze/"}), "invalid manual request"),
        ] {
            let err = parse(&event).unwrap_err();
            assert!(err.to_string().contains(expected), "{event}: {err}");
        }
    }
}
