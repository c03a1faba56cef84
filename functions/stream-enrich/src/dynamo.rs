//! BatchGetItem on one table with DynamoDB's unprocessed keys re-requested (exponential
//! backoff), shared by the profile look-up and the velocity store.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::builders::KeysAndAttributesBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use std::collections::HashMap;
use std::time::Duration;
use thiserror::Error;

/// One DynamoDB item (or key), attribute name → value.
pub type Item = HashMap<String, AttributeValue>;

/// BatchGetItem takes at most 100 keys per call.
pub const BATCH_GET_LIMIT: usize = 100;
/// Rounds of re-requesting unprocessed keys before the read counts as failed.
pub const UNPROCESSED_ATTEMPTS: u32 = 6;
const UNPROCESSED_BACKOFF: Duration = Duration::from_millis(25);

#[derive(Debug, Error)]
pub enum BatchGetError {
    /// The request could not be built or the call failed (after the SDK's own retries).
    #[error("{0}")]
    Call(String),
    #[error("{count} keys unprocessed after {UNPROCESSED_ATTEMPTS} attempts")]
    Unprocessed { count: usize },
}

/// Reads `keys` (at most 100, BatchGetItem's limit) from `table`; `request` adds what the
/// read needs beyond the keys (a projection). Returns the items found, in no order.
pub async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut keys: Vec<Item>,
    request: impl Fn(KeysAndAttributesBuilder) -> KeysAndAttributesBuilder,
) -> Result<Vec<Item>, BatchGetError> {
    let mut found = Vec::new();
    for attempt in 0..UNPROCESSED_ATTEMPTS {
        if keys.is_empty() {
            return Ok(found);
        }
        if attempt > 0 {
            tokio::time::sleep(UNPROCESSED_BACKOFF * 2u32.pow(attempt - 1)).await;
        }
        let items = request(KeysAndAttributes::builder().set_keys(Some(std::mem::take(&mut keys))))
            .build()
            .map_err(|e| BatchGetError::Call(e.to_string()))?;
        let output = client
            .batch_get_item()
            .request_items(table, items)
            .send()
            .await
            .map_err(|e| BatchGetError::Call(DisplayErrorContext(e).to_string()))?;
        if let Some(items) = output.responses.and_then(|mut r| r.remove(table)) {
            found.extend(items);
        }
        keys = output
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
    }
    if keys.is_empty() {
        Ok(found)
    } else {
        Err(BatchGetError::Unprocessed { count: keys.len() })
    }
}
