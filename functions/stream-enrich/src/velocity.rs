//! The velocity rule's memory across batches: a per-user sliding count of orders in DynamoDB,
//! so "more than 5 orders in 10 minutes" fires whatever the batching, shard or container.
//!
//! Table `VELOCITY_TABLE`: partition key `velocity_key` (S) = `<user_id>#<bucket>`, where a
//! bucket is `VELOCITY_BUCKET_SECONDS` of event time (default 600, the default rule's
//! window). Each item holds the orders of that user in that bucket as a string set `orders`
//! of `<event-time millis>|<event_id>`, and a TTL `expires_at` (the bucket's end, plus the
//! window, plus an hour). A slice first reads every bucket each of its users' windows
//! touches with BatchGetItem, adds its own transactions to what it read and counts the entries
//! inside the window exactly (the bucket only groups them); once scored (and alerted), it
//! adds its transactions to the store alongside the lake writes (one UpdateItem `ADD` per user
//! and bucket: atomic, and idempotent, since adding an entry already in the set changes
//! nothing; a retried batch reads its own earlier write and counts it once, by `event_id`).
//! The write is off the alert path; if it fails, the slice is retried.
//!
//! Cost per transaction: one write (1 WCU on-demand while the item stays under 1 KB, about 20
//! orders of a user in one bucket) when its user has one order in the slice's bucket, less
//! when several share it; reads are per user and slice:
//! `window / bucket + 1` items (2 with the defaults; eventually consistent, 0.5 RCU each), in
//! BatchGetItem calls of 100 keys.

use crate::dynamo::{batch_get, BatchGetError, Item, BATCH_GET_LIMIT};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinSet;

pub const KEY_ATTRIBUTE: &str = "velocity_key";
pub const ORDERS_ATTRIBUTE: &str = "orders";
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Buckets as long as the default rule's window: a window reads 2 items per user (with
/// one-minute buckets it would read 11, for the same answer).
pub const DEFAULT_BUCKET_SECONDS: u32 = 600;
/// Concurrent UpdateItem calls.
const WRITE_CONCURRENCY: usize = 16;
/// Items outlive the window by this much (late records, clock skew).
const TTL_MARGIN_SECONDS: i64 = 3_600;

#[derive(Debug, Error)]
pub enum VelocityError {
    #[error("velocity table {table}: {message}")]
    Store { table: String, message: String },
}

/// One order as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrderMark {
    pub time: DateTime<Utc>,
    pub event_id: String,
}

/// The orders the store knows per user, within the windows that were read.
pub type History = HashMap<String, Vec<OrderMark>>;

/// The bucket number of an instant.
pub fn bucket_of(time: DateTime<Utc>, bucket_seconds: u32) -> i64 {
    time.timestamp()
        .div_euclid(i64::from(bucket_seconds.max(1)))
}

pub fn item_key(user_id: &str, bucket: i64) -> String {
    format!("{user_id}#{bucket}")
}

/// `<millis>|<event_id>`: the set entry of an order.
pub fn entry(mark: &OrderMark) -> String {
    format!("{}|{}", mark.time.timestamp_millis(), mark.event_id)
}

pub fn parse_entry(text: &str) -> Option<OrderMark> {
    let (millis, event_id) = text.split_once('|')?;
    let time = Utc.timestamp_millis_opt(millis.parse().ok()?).single()?;
    Some(OrderMark {
        time,
        event_id: event_id.to_owned(),
    })
}

/// The buckets to read so that every window `[t - window, t]` of `times` is covered.
pub fn buckets_to_read(
    times: impl IntoIterator<Item = DateTime<Utc>>,
    window: Duration,
    bucket_seconds: u32,
) -> BTreeSet<i64> {
    let window = chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::zero());
    let mut buckets = BTreeSet::new();
    for time in times {
        let first = bucket_of(time - window, bucket_seconds);
        let last = bucket_of(time, bucket_seconds);
        buckets.extend(first..=last);
    }
    buckets
}

#[derive(Debug, Clone)]
pub struct VelocityStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    bucket_seconds: u32,
}

impl VelocityStore {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        bucket_seconds: u32,
    ) -> Self {
        VelocityStore {
            client,
            table: table.into(),
            bucket_seconds: bucket_seconds.max(1),
        }
    }

    fn error(&self, message: impl std::fmt::Display) -> VelocityError {
        VelocityError::Store {
            table: self.table.clone(),
            message: message.to_string(),
        }
    }

    /// Every order the store holds for the users of `orders` within `window` before each of
    /// their orders, with `orders` themselves added (each `event_id` once).
    pub async fn read_history(
        &self,
        orders: &[(String, OrderMark)],
        window: Duration,
    ) -> Result<History, VelocityError> {
        if orders.is_empty() {
            return Ok(History::new());
        }
        let mut times_by_user: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
        for (user, mark) in orders {
            times_by_user.entry(user).or_default().push(mark.time);
        }
        let mut keys = Vec::new();
        for (user, times) in &times_by_user {
            for bucket in buckets_to_read(times.iter().copied(), window, self.bucket_seconds) {
                keys.push(item_key(user, bucket));
            }
        }
        let items = self.read(keys).await?;
        let mut history = History::new();
        for (key, entries) in items {
            let Some((user, _)) = key.rsplit_once('#') else {
                continue;
            };
            let marks = history.entry(user.to_owned()).or_default();
            marks.extend(entries.iter().filter_map(|e| parse_entry(e)));
        }
        for (user, mark) in orders {
            history.entry(user.clone()).or_default().push(mark.clone());
        }
        for marks in history.values_mut() {
            marks.sort();
            marks.dedup();
        }
        Ok(history)
    }

    /// Adds `orders` (user id, mark) to the store.
    pub async fn record(
        &self,
        orders: &[(String, OrderMark)],
        window: Duration,
    ) -> Result<(), VelocityError> {
        let mut groups: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
        for (user, mark) in orders {
            groups
                .entry((user.clone(), bucket_of(mark.time, self.bucket_seconds)))
                .or_default()
                .push(entry(mark));
        }
        self.write(groups, window).await
    }

    async fn write(
        &self,
        groups: BTreeMap<(String, i64), Vec<String>>,
        window: Duration,
    ) -> Result<(), VelocityError> {
        let mut tasks = JoinSet::new();
        let mut groups = groups.into_iter();
        loop {
            while tasks.len() < WRITE_CONCURRENCY {
                let Some(((user, bucket), entries)) = groups.next() else {
                    break;
                };
                let expires = (bucket + 1) * i64::from(self.bucket_seconds)
                    + window.as_secs() as i64
                    + TTL_MARGIN_SECONDS;
                let request = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key(KEY_ATTRIBUTE, AttributeValue::S(item_key(&user, bucket)))
                    .update_expression("ADD #o :entries SET #t = :expires")
                    .expression_attribute_names("#o", ORDERS_ATTRIBUTE)
                    .expression_attribute_names("#t", TTL_ATTRIBUTE)
                    .expression_attribute_values(":entries", AttributeValue::Ss(entries))
                    .expression_attribute_values(
                        ":expires",
                        AttributeValue::N(expires.to_string()),
                    );
                tasks.spawn(async move { request.send().await.map(|_| ()) });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            joined
                .map_err(|e| self.error(format!("write task failed: {e}")))?
                .map_err(|e| self.error(format!("UpdateItem: {}", DisplayErrorContext(e))))?;
        }
        Ok(())
    }

    /// The `orders` sets of `keys` (absent items are simply not returned).
    async fn read(&self, keys: Vec<String>) -> Result<Vec<(String, Vec<String>)>, VelocityError> {
        let mut tasks = JoinSet::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let this = self.clone();
            let chunk = chunk.to_vec();
            tasks.spawn(async move { this.read_chunk(chunk).await });
        }
        let mut found = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            found.extend(joined.map_err(|e| self.error(format!("read task failed: {e}")))??);
        }
        Ok(found)
    }

    async fn read_chunk(
        &self,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Vec<String>)>, VelocityError> {
        let keys: Vec<Item> = keys
            .into_iter()
            .map(|k| HashMap::from([(KEY_ATTRIBUTE.to_owned(), AttributeValue::S(k))]))
            .collect();
        let items = batch_get(&self.client, &self.table, keys, |request| {
            request
                .projection_expression("#k, #o")
                .expression_attribute_names("#k", KEY_ATTRIBUTE)
                .expression_attribute_names("#o", ORDERS_ATTRIBUTE)
        })
        .await
        .map_err(|error| match error {
            BatchGetError::Call(message) => self.error(format!("BatchGetItem: {message}")),
            unprocessed @ BatchGetError::Unprocessed { .. } => self.error(unprocessed),
        })?;
        Ok(items
            .into_iter()
            .filter_map(|mut item| {
                match (item.remove(KEY_ATTRIBUTE), item.remove(ORDERS_ATTRIBUTE)) {
                    (Some(AttributeValue::S(key)), Some(AttributeValue::Ss(orders))) => {
                        Some((key, orders))
                    }
                    _ => None,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_730_790_000 + seconds, 0).unwrap()
    }

    #[test]
    fn entries_round_trip_and_junk_is_skipped() {
        let mark = OrderMark {
            time: at(42),
            event_id: "evt|with|bars".into(),
        };
        assert_eq!(parse_entry(&entry(&mark)), Some(mark));
        assert_eq!(parse_entry("no-separator"), None);
        assert_eq!(parse_entry("x|e"), None);
    }

    #[test]
    fn windows_cover_their_buckets() {
        let buckets = buckets_to_read([at(600)], Duration::from_secs(600), 60);
        assert_eq!(buckets.len(), 11);
        assert!(buckets.contains(&bucket_of(at(0), 60)));
        assert!(buckets.contains(&bucket_of(at(600), 60)));
    }

    proptest! {
        /// Whatever the instants, window and bucket size, every instant inside a window lies
        /// in a bucket that is read.
        #[test]
        fn every_instant_of_a_window_is_in_a_read_bucket(
            t in 0i64..1_000_000,
            back in 0i64..3_600,
            window in 1u64..3_600,
            bucket in 1u32..900,
        ) {
            let back = back.min(window as i64);
            let buckets = buckets_to_read([at(t)], Duration::from_secs(window), bucket);
            prop_assert!(buckets.contains(&bucket_of(at(t - back), bucket)));
        }
    }
}
