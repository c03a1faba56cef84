//! `Idempotency-Key`: the first request with a key takes a lease on it (a conditional PutItem);
//! when it finishes, the response is stored under the key with a TTL. A repeat within the
//! window gets the stored response and puts nothing; a repeat while the first is still running
//! gets 409; the same key with another body gets 422.
//!
//! Table: partition key `idempotency_key` (S), TTL attribute `expires_at` (epoch seconds).
//! DynamoDB deletes expired items lazily, so `expires_at` is also checked on every read.

use crate::config::IdempotencyConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use thiserror::Error;

pub const KEY_ATTRIBUTE: &str = "idempotency_key";
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Stored responses stay well under DynamoDB's 400 KB item limit.
const MAX_STORED_BODY: usize = 300 * 1024;

#[derive(Debug, Error)]
#[error("the idempotency table is unavailable: {0}")]
pub struct StoreError(String);

/// A response as stored and replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// The right to process a key, held until [`IdempotencyStore::complete`] or
/// [`IdempotencyStore::release`].
#[derive(Debug, Clone)]
pub struct Lease {
    key: String,
    token: String,
}

#[derive(Debug)]
pub enum Begin {
    Proceed(Lease),
    Replay(StoredResponse),
    InProgress,
    KeyReused,
}

/// The header value is 1..=255 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// SHA-256 of method, path and body: what "the same request" means.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(method.as_bytes())
        .chain_update(b" ")
        .chain_update(path.as_bytes())
        .chain_update(b"\n")
        .chain_update(body)
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A body small enough to store: details (which may quote the input) are dropped from a body
/// that is too large, keeping every index, event id and reason code.
pub fn storable(body: &str) -> String {
    if body.len() <= MAX_STORED_BODY {
        return body.to_owned();
    }
    let Ok(mut value) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(MAX_STORED_BODY / 4).collect();
    };
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("detail");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value.to_string()
}

pub struct IdempotencyStore {
    client: aws_sdk_dynamodb::Client,
    config: IdempotencyConfig,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn store_error<E: std::error::Error + 'static>(operation: &str, err: E) -> StoreError {
    let message = format!("{operation}: {}", DisplayErrorContext(&err));
    tracing::error!(%message, "idempotency store call failed");
    StoreError(message)
}

impl IdempotencyStore {
    pub fn new(client: aws_sdk_dynamodb::Client, config: IdempotencyConfig) -> Self {
        IdempotencyStore { client, config }
    }

    /// Takes the key for this request, or says what to answer instead. `scope` keeps keys of
    /// different routes apart.
    pub async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Begin, StoreError> {
        let key = format!("{scope}#{key}");
        // Twice at most: a lease that expired between our put and our read is retaken once.
        for _ in 0..2 {
            let token = uuid::Uuid::new_v4().to_string();
            let lease_until = now + self.config.lock.as_secs() as i64;
            let put = self
                .client
                .put_item()
                .table_name(&self.config.table)
                .item(KEY_ATTRIBUTE, s(&key))
                .item("status", s("IN_PROGRESS"))
                .item("fingerprint", s(fingerprint))
                .item("lock_token", s(&token))
                .item(TTL_ATTRIBUTE, n(lease_until))
                .condition_expression("attribute_not_exists(#k) OR #t < :now")
                .expression_attribute_names("#k", KEY_ATTRIBUTE)
                .expression_attribute_names("#t", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(Begin::Proceed(Lease { key, token })),
                Err(err) => {
                    let conditional = err.as_service_error().and_then(|e| e.code())
                        == Some("ConditionalCheckFailedException");
                    if !conditional {
                        return Err(store_error("PutItem", err));
                    }
                }
            }
            let existing = self
                .client
                .get_item()
                .table_name(&self.config.table)
                .key(KEY_ATTRIBUTE, s(&key))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| store_error("GetItem", e))?;
            let Some(item) = existing.item() else {
                continue;
            };
            if number(item, TTL_ATTRIBUTE).is_some_and(|until| until < now) {
                continue;
            }
            if text(item, "fingerprint") != Some(fingerprint) {
                return Ok(Begin::KeyReused);
            }
            return Ok(match text(item, "status") {
                Some("COMPLETED") => {
                    match (number(item, "response_status"), text(item, "response_body")) {
                        (Some(status), Some(body)) => Begin::Replay(StoredResponse {
                            status: u16::try_from(status).unwrap_or(200),
                            body: body.to_owned(),
                        }),
                        _ => Begin::InProgress,
                    }
                }
                _ => Begin::InProgress,
            });
        }
        Ok(Begin::InProgress)
    }

    /// Stores the response under the key for the replay window.
    pub async fn complete(
        &self,
        lease: &Lease,
        fingerprint: &str,
        response: &StoredResponse,
        now: i64,
    ) -> Result<(), StoreError> {
        let until = now + self.config.window.as_secs() as i64;
        self.client
            .put_item()
            .table_name(&self.config.table)
            .item(KEY_ATTRIBUTE, s(&lease.key))
            .item("status", s("COMPLETED"))
            .item("fingerprint", s(fingerprint))
            .item("lock_token", s(&lease.token))
            .item("response_status", n(response.status))
            .item("response_body", s(storable(&response.body)))
            .item("created_at", n(now))
            .item(TTL_ATTRIBUTE, n(until))
            .condition_expression("lock_token = :token")
            .expression_attribute_values(":token", s(&lease.token))
            .send()
            .await
            .map_err(|e| store_error("PutItem (complete)", e))?;
        Ok(())
    }

    /// Gives the key up (the request failed in a way the caller should retry).
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.config.table)
            .key(KEY_ATTRIBUTE, s(&lease.key))
            .condition_expression("lock_token = :token")
            .expression_attribute_values(":token", s(&lease.token))
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_fingerprints() {
        assert!(valid_key("order-123_abc"));
        assert!(!valid_key(""));
        assert!(!valid_key("has space"));
        assert!(!valid_key(&"k".repeat(256)));
        assert!(!valid_key("ключ"));
        let a = fingerprint("POST", "/v1/events", b"[]");
        assert_eq!(a.len(), 64);
        assert_ne!(a, fingerprint("POST", "/v1/orders", b"[]"));
        assert_eq!(a, fingerprint("POST", "/v1/events", b"[]"));
    }

    #[test]
    fn oversized_bodies_lose_details_not_indices() {
        let rejected: Vec<Value> = (0..2_000)
            .map(|i| serde_json::json!({"index": i, "reasons": [{"reason": "BAD_PRICE", "detail": "x".repeat(300)}]}))
            .collect();
        let body = serde_json::json!({"accepted": 0, "rejected": rejected}).to_string();
        let stored = storable(&body);
        assert!(stored.len() < MAX_STORED_BODY);
        let value: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(value["rejected"][1999]["index"], 1999);
        assert_eq!(value["rejected"][0]["reasons"][0]["reason"], "BAD_PRICE");
    }
}
