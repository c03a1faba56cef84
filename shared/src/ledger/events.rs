//! The EventBridge events of the batch life cycle. Each type is the `detail` of one
//! `detail-type` ([`BatchEvent::DETAIL_TYPE`]); all are published with source [`SOURCE`] on the
//! project's bus. Field names are snake_case JSON.
//!
//! | detail-type         | published by                  | when                                   |
//! |---------------------|-------------------------------|----------------------------------------|
//! | `BatchTransformed`  | gold-transform, the EMR job   | manifest written, ledger `TRANSFORMED` |
//! | `TransformTooLarge` | gold-transform                | batch over `MAX_BATCH_ROWS`/`_BYTES`   |
//! | `BatchLoaded`       | redshift-copy                 | ledger `LOADED`                        |
//! | `BatchLoadFailed`   | redshift-copy                 | ledger `LOAD_FAILED`                   |
//! | `BatchCleaned`      | s3-cleanup                    | ledger `CLEANED`                       |

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `source` of every batch event.
pub const SOURCE: &str = "shopstream.batches";

/// A typed `detail` with its `detail-type`.
pub trait BatchEvent: Serialize + DeserializeOwned {
    const DETAIL_TYPE: &'static str;
    fn batch_id(&self) -> &str;
}

/// Gold files and the manifest of a batch are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchTransformed {
    pub batch_id: String,
    pub bucket: String,
    /// `gold/_manifests/<batch_id>.json`
    pub manifest_key: String,
    /// `"datafusion"` (gold-transform) or `"spark"` (EMR).
    pub engine: String,
    /// Rows written per gold table.
    pub table_rows: BTreeMap<String, u64>,
    pub duplicates_dropped: u64,
    pub bad_inputs: u64,
}

/// A batch is over the Lambda's limits; the EMR path transforms it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformTooLarge {
    pub batch_id: String,
    pub bucket: String,
    /// `gold/_plans/<batch_id>.json`: the inputs.
    pub plan_key: String,
    pub input_objects: u64,
    pub input_bytes: u64,
    /// Silver rows counted from the Parquet footers (0 when the byte limit refused it first).
    pub input_rows: u64,
    pub max_rows: u64,
    pub max_bytes: u64,
}

/// A batch is in the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchLoaded {
    pub batch_id: String,
    pub manifest_key: String,
    /// Redshift Data API statement id.
    pub statement_id: String,
    /// Rows loaded per table, when the loader reports them.
    #[serde(default)]
    pub table_rows: BTreeMap<String, u64>,
}

/// A load failed; the warehouse is unchanged (one transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchLoadFailed {
    pub batch_id: String,
    pub manifest_key: String,
    #[serde(default)]
    pub statement_id: Option<String>,
    pub error: String,
}

/// What a loaded batch listed has been deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCleaned {
    pub batch_id: String,
    pub objects_deleted: u64,
    pub bytes_deleted: u64,
}

macro_rules! batch_event {
    ($type:ident) => {
        impl BatchEvent for $type {
            const DETAIL_TYPE: &'static str = stringify!($type);
            fn batch_id(&self) -> &str {
                &self.batch_id
            }
        }
    };
}

batch_event!(BatchTransformed);
batch_event!(TransformTooLarge);
batch_event!(BatchLoaded);
batch_event!(BatchLoadFailed);
batch_event!(BatchCleaned);

/// Reads the `detail` of an event whose `detail-type` is `E`'s; `None` for another type.
pub fn parse_detail<E: BatchEvent>(
    detail_type: &str,
    detail: &serde_json::Value,
) -> Option<Result<E, serde_json::Error>> {
    (detail_type == E::DETAIL_TYPE).then(|| E::deserialize(detail))
}

#[cfg(feature = "aws")]
pub use publish::{publish, PublishError};

#[cfg(feature = "aws")]
mod publish {
    use super::{BatchEvent, SOURCE};
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;

    #[derive(Debug, thiserror::Error)]
    pub enum PublishError {
        #[error("PutEvents {detail_type} for batch {batch_id}: {message}")]
        Failed {
            detail_type: &'static str,
            batch_id: String,
            message: String,
        },
    }

    /// Puts one batch event on `bus` (source [`SOURCE`]); an entry the service refuses is an
    /// error carrying its error code and message.
    pub async fn publish<E: BatchEvent>(
        client: &aws_sdk_eventbridge::Client,
        bus: &str,
        event: &E,
    ) -> Result<(), PublishError> {
        let failed = |message: String| PublishError::Failed {
            detail_type: E::DETAIL_TYPE,
            batch_id: event.batch_id().to_owned(),
            message,
        };
        let detail = serde_json::to_string(event).map_err(|e| failed(e.to_string()))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(SOURCE)
            .detail_type(E::DETAIL_TYPE)
            .detail(detail)
            .build();
        let output = client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| failed(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string()))?;
        if output.failed_entry_count() > 0 {
            let reason = output
                .entries()
                .iter()
                .find_map(|e| {
                    e.error_code()
                        .map(|code| format!("{code}: {}", e.error_message().unwrap_or_default()))
                })
                .unwrap_or_else(|| "entry refused".into());
            return Err(failed(reason));
        }
        Ok(())
    }
}
