//! `Idempotency-Key`: the first request with a key takes a lease on it (a conditional PutItem);
//! when it finishes, the response is stored under the key with a TTL. A repeat within the
//! window gets the stored response and puts nothing; a repeat while the first is still running
//! gets 409; the same key with another body gets 422.
//!
//! Keys are scoped by route and by the authenticated principal ([`Principal`]), so two
//! producers sending the same key never meet. While a request runs, the lease item records the
//! indices of the records each sink attempt delivered (`delivered`, a number set). A request
//! that failed (5xx) releases its lease keeping that set, and one that crashed leaves it to
//! expire: either way the retry takes the lease over and sends only the records not yet in the
//! sink. (A record delivered in the instant between the sink's answer and the update can still
//! be sent twice; it carries the same `event_id` both times, which stream-enrich dedupes.)
//!
//! Table: partition key `idempotency_key` (S), TTL attribute `expires_at` (epoch seconds).
//! DynamoDB deletes expired items lazily, so `expires_at` is also checked on every read.

use crate::config::IdempotencyConfig;
use crate::principal::Principal;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use thiserror::Error;

pub const KEY_ATTRIBUTE: &str = "idempotency_key";
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Stored responses stay well under DynamoDB's 400 KB item limit.
const MAX_STORED_BODY: usize = 300 * 1024;

const IN_PROGRESS: &str = "IN_PROGRESS";
const RELEASED: &str = "RELEASED";
const COMPLETED: &str = "COMPLETED";
const DELIVERED: &str = "delivered";

/// DynamoDB error codes no retry of the same call can fix.
const PERMANENT_CODES: [&str; 5] = [
    "ResourceNotFoundException",
    "AccessDeniedException",
    "ValidationException",
    "UnrecognizedClientException",
    "KMSAccessDeniedException",
];

#[derive(Debug, Error)]
#[error("the idempotency table is unavailable: {message}")]
pub struct StoreError {
    pub message: String,
    /// False when no retry can help (a missing table, access denied).
    pub retryable: bool,
}

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
    principal: String,
    /// Indices (in the request body) of the records an earlier attempt of this same request
    /// already delivered: they are not sent again.
    pub delivered: BTreeSet<usize>,
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

fn store_error<E, R>(operation: &str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let retryable = !err
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| PERMANENT_CODES.contains(&code));
    let message = format!("{operation}: {}", DisplayErrorContext(&err));
    tracing::error!(%message, retryable, "idempotency store call failed");
    StoreError { message, retryable }
}

fn conditional_failure<E: ProvideErrorMetadata, R>(
    err: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

fn delivered_set(item: &HashMap<String, AttributeValue>) -> BTreeSet<usize> {
    item.get(DELIVERED)
        .and_then(|v| v.as_ns().ok())
        .map(|numbers| numbers.iter().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default()
}

/// The table key of an Idempotency-Key: route, then the principal's digest, then the key.
pub fn table_key(route: &str, principal: &Principal, key: &str) -> String {
    format!("{route}#{}#{key}", principal.digest())
}

impl IdempotencyStore {
    pub fn new(client: aws_sdk_dynamodb::Client, config: IdempotencyConfig) -> Self {
        IdempotencyStore { client, config }
    }

    /// Takes the key for this request, or says what to answer instead.
    pub async fn begin(
        &self,
        route: &str,
        principal: &Principal,
        key: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Begin, StoreError> {
        let key = table_key(route, principal, key);
        let lease_until = now + self.config.lock.as_secs() as i64;
        // A few rounds at most: each lost race means someone else changed the item meanwhile.
        for _ in 0..3 {
            let token = uuid::Uuid::new_v4().to_string();
            let put = self
                .client
                .put_item()
                .table_name(&self.config.table)
                .item(KEY_ATTRIBUTE, s(&key))
                .item("status", s(IN_PROGRESS))
                .item("fingerprint", s(fingerprint))
                .item("principal", s(principal.scope()))
                .item("lock_token", s(&token))
                .item(TTL_ATTRIBUTE, n(lease_until))
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", KEY_ATTRIBUTE)
                .send()
                .await;
            match put {
                Ok(_) => {
                    return Ok(Begin::Proceed(Lease {
                        key,
                        token,
                        principal: principal.scope(),
                        delivered: BTreeSet::new(),
                    }))
                }
                Err(err) if conditional_failure(&err) => {}
                Err(err) => return Err(store_error("PutItem", err)),
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
            let expired = number(item, TTL_ATTRIBUTE).is_some_and(|until| until < now);
            let status = text(item, "status").unwrap_or_default();
            let same_request = text(item, "fingerprint") == Some(fingerprint);
            let old_token = text(item, "lock_token").unwrap_or_default().to_owned();
            if same_request && status != COMPLETED && (expired || status == RELEASED) {
                // An earlier attempt crashed (its lease expired) or failed: carry on from what
                // it delivered.
                match self
                    .take_over(&key, principal, &old_token, lease_until)
                    .await?
                {
                    Some(lease) => return Ok(Begin::Proceed(lease)),
                    None => continue,
                }
            }
            if expired || status == RELEASED {
                // A stale item of another request (or an expired replay): start afresh.
                let replaced = self
                    .client
                    .put_item()
                    .table_name(&self.config.table)
                    .item(KEY_ATTRIBUTE, s(&key))
                    .item("status", s(IN_PROGRESS))
                    .item("fingerprint", s(fingerprint))
                    .item("principal", s(principal.scope()))
                    .item("lock_token", s(&token))
                    .item(TTL_ATTRIBUTE, n(lease_until))
                    .condition_expression("lock_token = :old")
                    .expression_attribute_values(":old", s(&old_token))
                    .send()
                    .await;
                match replaced {
                    Ok(_) => {
                        return Ok(Begin::Proceed(Lease {
                            key,
                            token,
                            principal: principal.scope(),
                            delivered: BTreeSet::new(),
                        }))
                    }
                    Err(err) if conditional_failure(&err) => continue,
                    Err(err) => return Err(store_error("PutItem (replace)", err)),
                }
            }
            if !same_request {
                return Ok(Begin::KeyReused);
            }
            if status == COMPLETED {
                if let (Some(status), Some(body)) =
                    (number(item, "response_status"), text(item, "response_body"))
                {
                    return Ok(Begin::Replay(StoredResponse {
                        status: u16::try_from(status).unwrap_or(200),
                        body: body.to_owned(),
                    }));
                }
            }
            return Ok(Begin::InProgress);
        }
        Ok(Begin::InProgress)
    }

    /// Takes over a lease whose holder crashed or gave up, keeping its delivered set; `None`
    /// when someone else took it first.
    async fn take_over(
        &self,
        key: &str,
        principal: &Principal,
        old_token: &str,
        lease_until: i64,
    ) -> Result<Option<Lease>, StoreError> {
        let token = uuid::Uuid::new_v4().to_string();
        let updated = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .key(KEY_ATTRIBUTE, s(key))
            .update_expression("SET #s = :running, lock_token = :new, #t = :until")
            .condition_expression("lock_token = :old")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#t", TTL_ATTRIBUTE)
            .expression_attribute_values(":running", s(IN_PROGRESS))
            .expression_attribute_values(":new", s(&token))
            .expression_attribute_values(":until", n(lease_until))
            .expression_attribute_values(":old", s(old_token))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(output) => {
                let delivered = output.attributes().map(delivered_set).unwrap_or_default();
                Ok(Some(Lease {
                    key: key.to_owned(),
                    token,
                    principal: principal.scope(),
                    delivered,
                }))
            }
            Err(err) if conditional_failure(&err) => Ok(None),
            Err(err) => Err(store_error("UpdateItem (take over)", err)),
        }
    }

    /// Adds the body indices of records a sink attempt delivered to the lease.
    pub async fn record_delivered(
        &self,
        lease: &Lease,
        indices: &[usize],
    ) -> Result<(), StoreError> {
        if indices.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.config.table)
            .key(KEY_ATTRIBUTE, s(&lease.key))
            .update_expression("ADD #d :indices")
            .condition_expression("lock_token = :token")
            .expression_attribute_names("#d", DELIVERED)
            .expression_attribute_values(
                ":indices",
                AttributeValue::Ns(indices.iter().map(usize::to_string).collect()),
            )
            .expression_attribute_values(":token", s(&lease.token))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem (delivered)", e))?;
        Ok(())
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
            .item("principal", s(&lease.principal))
            .table_name(&self.config.table)
            .item(KEY_ATTRIBUTE, s(&lease.key))
            .item("status", s(COMPLETED))
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

    /// Gives the key up (the request failed, and the caller may retry), keeping the set of
    /// delivered records so that the retry sends only the others.
    pub async fn release(&self, lease: &Lease, now: i64) -> Result<(), StoreError> {
        let until = now + self.config.window.as_secs() as i64;
        self.client
            .update_item()
            .table_name(&self.config.table)
            .key(KEY_ATTRIBUTE, s(&lease.key))
            .update_expression("SET #s = :released, #t = :until")
            .condition_expression("lock_token = :token")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#t", TTL_ATTRIBUTE)
            .expression_attribute_values(":released", s(RELEASED))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":token", s(&lease.token))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem (release)", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keys_are_scoped_by_route_and_principal() {
        let a = Principal::Iam {
            arn: "arn:aws:iam::1:user/a".into(),
        };
        let b = Principal::Iam {
            arn: "arn:aws:iam::1:user/b".into(),
        };
        assert_ne!(table_key("events", &a, "k"), table_key("events", &b, "k"));
        assert_ne!(table_key("events", &a, "k"), table_key("orders", &a, "k"));
        assert_eq!(table_key("events", &a, "k"), table_key("events", &a, "k"));
    }

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
