//! DynamoDB (`purchase_orders`): one conditional PutItem per record on `event_id`, so an
//! event is stored once and never overwritten. The item is the stream JSON object with typed
//! attributes (S / N / BOOL / L / M); null fields are left out. orders-to-bronze reads these
//! items from the table's stream.

use super::{Outcome, Sink};
use crate::records::Prepared;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// DynamoDB items are at most 400 KB including attribute names; the JSON text is a close
/// upper bound of the item size.
pub const MAX_RECORD_BYTES: usize = 350 * 1024;
/// Concurrent PutItem calls per invocation.
const CONCURRENCY: usize = 16;
/// Key attribute of the orders table.
pub const KEY: &str = "event_id";

const RETRYABLE_CODES: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
];

#[derive(Clone)]
pub struct DynamoDbSink {
    client: aws_sdk_dynamodb::Client,
    table: Arc<str>,
}

impl DynamoDbSink {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoDbSink {
            client,
            table: Arc::from(table.into()),
        }
    }
}

/// DynamoDB numbers have 38 significant digits and a magnitude within 1e-130..1e126; a JSON
/// number outside that is kept as its text.
fn number(n: &serde_json::Number) -> AttributeValue {
    let fits = n
        .as_f64()
        .is_none_or(|f| f == 0.0 || (1e-130..1e126).contains(&f.abs()));
    if fits {
        AttributeValue::N(n.to_string())
    } else {
        AttributeValue::S(n.to_string())
    }
}

/// A JSON value as an attribute.
pub fn attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => number(n),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(attribute).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), attribute(v))).collect())
        }
    }
}

/// The item for a record: its non-null top-level fields, keyed by the trimmed `event_id`.
pub fn item(record: &Prepared) -> Result<HashMap<String, AttributeValue>, String> {
    let value: Value =
        serde_json::from_slice(&record.payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("payload is not a JSON object".to_owned());
    };
    let mut item: HashMap<String, AttributeValue> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), attribute(v)))
        .collect();
    item.insert(KEY.to_owned(), AttributeValue::S(record.event_id.clone()));
    Ok(item)
}

async fn put_one(client: aws_sdk_dynamodb::Client, table: Arc<str>, record: Prepared) -> Outcome {
    let item = match item(&record) {
        Ok(item) => item,
        Err(error) => return Outcome::permanent(error),
    };
    let result = client
        .put_item()
        .table_name(table.as_ref())
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#k)")
        .expression_attribute_names("#k", KEY)
        .send()
        .await;
    match result {
        Ok(_) => Outcome::Delivered,
        Err(err) => {
            let code = err
                .as_service_error()
                .and_then(|e| e.code())
                .map(str::to_owned);
            if code.as_deref() == Some("ConditionalCheckFailedException") {
                return Outcome::Duplicate;
            }
            let retryable = match &err {
                SdkError::ServiceError(_) => code
                    .as_deref()
                    .is_some_and(|c| RETRYABLE_CODES.contains(&c)),
                _ => true,
            };
            tracing::error!(table = %table, event_id = %record.event_id, retryable, error = %DisplayErrorContext(&err), "PutItem failed");
            let message = err.as_service_error().and_then(|e| e.message());
            let error = match (code, message) {
                (Some(code), Some(message)) if !message.is_empty() => format!("{code}: {message}"),
                (Some(code), _) => code,
                (None, _) => "DynamoDB request failed".to_owned(),
            };
            Outcome::Failed { error, retryable }
        }
    }
}

impl Sink for DynamoDbSink {
    fn name(&self) -> &'static str {
        "dynamodb"
    }

    fn max_record_bytes(&self) -> usize {
        MAX_RECORD_BYTES
    }

    async fn put(&self, records: &[Prepared]) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::retryable("not sent"); records.len()];
        let mut tasks = tokio::task::JoinSet::new();
        let mut next = 0;
        while next < records.len() || !tasks.is_empty() {
            while next < records.len() && tasks.len() < CONCURRENCY {
                let (client, table, record) = (
                    self.client.clone(),
                    Arc::clone(&self.table),
                    records[next].clone(),
                );
                let position = next;
                tasks.spawn(async move { (position, put_one(client, table, record).await) });
                next += 1;
            }
            // A panicked task leaves its record as "not sent": retried.
            if let Some(Ok((position, outcome))) = tasks.join_next().await {
                outcomes[position] = outcome;
            }
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn items_are_typed_and_nulls_left_out() {
        let record = Prepared {
            index: 0,
            event_id: "e-1".into(),
            partition_key: "u".into(),
            payload: Bytes::from_static(
                br#"{"event_id":" e-1 ","quantity":2,"product_price":"$5","coupon_code":null,"is_first_purchase":true,"total_amount":1e300}"#,
            ),
        };
        let item = item(&record).unwrap();
        assert_eq!(item["event_id"], AttributeValue::S("e-1".into()));
        assert_eq!(item["quantity"], AttributeValue::N("2".into()));
        assert_eq!(item["is_first_purchase"], AttributeValue::Bool(true));
        assert!(matches!(item["total_amount"], AttributeValue::S(_)));
        assert!(!item.contains_key("coupon_code"));
    }
}
