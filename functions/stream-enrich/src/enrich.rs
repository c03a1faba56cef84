//! Enrichment: customer profiles from DynamoDB (BatchGetItem, 100 keys a call, unprocessed keys
//! retried) behind a per-container LRU cache with a TTL, then fraud scoring.

use crate::dynamo::{batch_get, BatchGetError, Item, UNPROCESSED_ATTEMPTS};
use crate::pipeline::Accepted;
use crate::velocity::{History, OrderMark, VelocityStore};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use lru::LruCache;
use shopstream::clean::CleanRecord;
use shopstream::fraud::{FraudCondition, FraudContext, FraudRules};
use shopstream::profile::CustomerProfile;
use std::collections::{BTreeSet, HashMap};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Customer profiles by user id; `None` is a user known to have no profile. Looked up once per
/// transaction, hence the fast hasher.
pub type Profiles = HashMap<String, Option<CustomerProfile>, foldhash::fast::RandomState>;
use tokio::task::JoinSet;

pub use crate::dynamo::BATCH_GET_LIMIT;

#[derive(Debug, Error)]
pub enum EnrichError {
    #[error("DynamoDB BatchGetItem on {table} failed: {message}")]
    Lookup { table: String, message: String },
    #[error(
        "DynamoDB left {count} keys of {table} unprocessed after {UNPROCESSED_ATTEMPTS} attempts"
    )]
    Unprocessed { table: String, count: usize },
    #[error("profile look-up task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Velocity(#[from] crate::velocity::VelocityError),
}

/// Profiles (and known misses) by user id, least recently used evicted first, each entry
/// trusted for `ttl`.
#[derive(Debug)]
pub struct ProfileCache {
    entries: Mutex<LruCache<String, (Instant, Option<CustomerProfile>)>>,
    ttl: Duration,
}

impl ProfileCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        ProfileCache {
            entries: Mutex::new(LruCache::new(capacity)),
            ttl,
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, LruCache<String, (Instant, Option<CustomerProfile>)>> {
        // A panic while holding the lock leaves only cache entries behind: keep using them.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Splits `user_ids` into what the cache knows (`Some(profile)` or a known miss) and the
    /// ids to look up.
    pub fn lookup<'a>(
        &self,
        user_ids: impl IntoIterator<Item = &'a str>,
        now: Instant,
    ) -> (Profiles, Vec<String>) {
        let mut cache = self.lock();
        let mut known = Profiles::default();
        let mut missing = Vec::new();
        for id in user_ids {
            match cache.get(id) {
                Some((stored, profile)) if now.saturating_duration_since(*stored) < self.ttl => {
                    known.insert(id.to_owned(), profile.clone());
                }
                _ => missing.push(id.to_owned()),
            }
        }
        (known, missing)
    }

    pub fn insert(&self, user_id: String, profile: Option<CustomerProfile>, now: Instant) {
        self.lock().put(user_id, (now, profile));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The profile table.
#[derive(Debug, Clone)]
pub struct DynamoProfiles {
    client: aws_sdk_dynamodb::Client,
    table: String,
    key_attribute: String,
}

impl DynamoProfiles {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        key_attribute: impl Into<String>,
    ) -> Self {
        DynamoProfiles {
            client,
            table: table.into(),
            key_attribute: key_attribute.into(),
        }
    }

    /// Profiles of `user_ids` that exist; chunks of 100 run concurrently.
    pub async fn fetch(
        &self,
        user_ids: &[String],
    ) -> Result<HashMap<String, CustomerProfile>, EnrichError> {
        let mut tasks = JoinSet::new();
        for chunk in user_ids.chunks(BATCH_GET_LIMIT) {
            let this = self.clone();
            let chunk = chunk.to_vec();
            tasks.spawn(async move { this.fetch_chunk(chunk).await });
        }
        let mut profiles = HashMap::with_capacity(user_ids.len());
        while let Some(joined) = tasks.join_next().await {
            let found = joined.map_err(|e| EnrichError::Task(e.to_string()))??;
            profiles.extend(found.into_iter().map(|p| (p.user_id.clone(), p)));
        }
        Ok(profiles)
    }

    async fn fetch_chunk(
        &self,
        user_ids: Vec<String>,
    ) -> Result<Vec<CustomerProfile>, EnrichError> {
        let keys: Vec<Item> = user_ids
            .into_iter()
            .map(|id| HashMap::from([(self.key_attribute.clone(), AttributeValue::S(id))]))
            .collect();
        let items = batch_get(&self.client, &self.table, keys, |request| request)
            .await
            .map_err(|error| match error {
                BatchGetError::Call(message) => self.lookup_error(message),
                BatchGetError::Unprocessed { count } => EnrichError::Unprocessed {
                    table: self.table.clone(),
                    count,
                },
            })?;
        Ok(items
            .iter()
            .filter_map(|item| profile_from_item(item, &self.key_attribute))
            .collect())
    }

    fn lookup_error(&self, error: impl std::fmt::Display) -> EnrichError {
        EnrichError::Lookup {
            table: self.table.clone(),
            message: error.to_string(),
        }
    }
}

/// A profile item: `user_id` (S), `country` (S), `segment` (S), `lifetime_orders` (N),
/// `signup_date` (S). Unknown attributes are ignored; an item without its key is skipped.
pub fn profile_from_item(
    item: &HashMap<String, AttributeValue>,
    key_attribute: &str,
) -> Option<CustomerProfile> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    Some(CustomerProfile {
        user_id: text(key_attribute)?,
        country: text("country"),
        segment: text("segment"),
        lifetime_orders: item
            .get("lifetime_orders")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.trim().parse::<u32>().ok()),
        signup_date: text("signup_date"),
    })
}

/// Profiles from the cache, the rest from DynamoDB (cached afterwards, misses included).
#[derive(Debug)]
pub struct Enricher {
    pub cache: ProfileCache,
    pub profiles: DynamoProfiles,
    /// The order history of the velocity rule across batches; without it velocity sees only
    /// the slice.
    pub velocity: Option<VelocityStore>,
}

impl Enricher {
    pub fn new(cache: ProfileCache, profiles: DynamoProfiles) -> Self {
        Enricher {
            cache,
            profiles,
            velocity: None,
        }
    }

    pub fn with_velocity(mut self, store: VelocityStore) -> Self {
        self.velocity = Some(store);
        self
    }

    /// Whether the velocity rule reads a store (and the slice's orders must be recorded).
    pub fn has_velocity_store(&self) -> bool {
        self.velocity.is_some()
    }

    /// Each user's orders within the longest velocity window from the store, with the
    /// slice's own (`marks`, from [`order_marks`]); `None` without a store or a velocity rule.
    pub async fn order_history(
        &self,
        marks: &[(String, OrderMark)],
        rules: &FraudRules,
    ) -> Result<Option<History>, EnrichError> {
        let (Some(store), Some(window)) = (&self.velocity, velocity_window(rules)) else {
            return Ok(None);
        };
        Ok(Some(store.read_history(marks, window).await?))
    }

    /// Adds the slice's orders to the velocity store (nothing without a store or a rule).
    pub async fn record_orders(
        &self,
        marks: &[(String, OrderMark)],
        rules: &FraudRules,
    ) -> Result<(), EnrichError> {
        let (Some(store), Some(window)) = (&self.velocity, velocity_window(rules)) else {
            return Ok(());
        };
        Ok(store.record(marks, window).await?)
    }

    /// The profiles of the transactions' users.
    pub async fn profiles_for(&self, accepted: &[Accepted<'_>]) -> Result<Profiles, EnrichError> {
        let user_ids: BTreeSet<&str> = accepted
            .iter()
            .filter_map(|a| match &a.record {
                CleanRecord::Transaction(t) => Some(t.user_id.as_ref()),
                _ => None,
            })
            .collect();
        let (mut known, missing) = self.cache.lookup(user_ids, Instant::now());
        if missing.is_empty() {
            return Ok(known);
        }
        let mut fetched = self.profiles.fetch(&missing).await?;
        let now = Instant::now();
        for id in missing {
            let profile = fetched.remove(&id);
            self.cache.insert(id.clone(), profile.clone(), now);
            known.insert(id, profile);
        }
        Ok(known)
    }
}

/// The longest window of the velocity rules: how far back the order history is read (`None`
/// when no rule looks at velocity).
pub fn velocity_window(rules: &FraudRules) -> Option<Duration> {
    rules
        .rules
        .iter()
        .filter_map(|rule| match rule.condition {
            FraudCondition::Velocity { window_seconds, .. } => {
                Some(Duration::from_secs(u64::from(window_seconds)))
            }
            _ => None,
        })
        .max()
}

/// The transactions of a slice as (user id, order mark), for the velocity store.
pub fn order_marks(accepted: &[Accepted<'_>]) -> Vec<(String, OrderMark)> {
    accepted
        .iter()
        .filter_map(|a| match &a.record {
            CleanRecord::Transaction(t) => Some((
                t.user_id.to_string(),
                OrderMark {
                    time: t.event_time,
                    event_id: t.event_id.to_string(),
                },
            )),
            _ => None,
        })
        .collect()
}

/// Fills profile fields and the fraud assessment of every transaction. Velocity sees the
/// user's other transactions in the slice.
pub fn enrich(accepted: &mut [Accepted<'_>], profiles: &Profiles, rules: &FraudRules) {
    enrich_with_history(accepted, profiles, rules, None);
}

/// [`enrich`], with velocity counting the orders the store holds for each user (`history`,
/// which includes this slice's) instead of only the slice's.
pub fn enrich_with_history(
    accepted: &mut [Accepted<'_>],
    profiles: &Profiles,
    rules: &FraudRules,
    history: Option<&History>,
) {
    // Each transaction's user as an index into `times_of_user`, so the map borrowing the
    // user ids can be dropped before the records are updated.
    let mut user_of_record: Vec<Option<usize>> = Vec::with_capacity(accepted.len());
    let mut times_of_user: Vec<Vec<(usize, DateTime<Utc>)>> = Vec::new();
    {
        let mut user_index: foldhash::HashMap<&str, usize> =
            foldhash::HashMap::with_capacity_and_hasher(accepted.len(), Default::default());
        for (position, a) in accepted.iter().enumerate() {
            let CleanRecord::Transaction(t) = &a.record else {
                user_of_record.push(None);
                continue;
            };
            let next = times_of_user.len();
            let user = *user_index.entry(t.user_id.as_ref()).or_insert(next);
            if user == next {
                times_of_user.push(Vec::new());
            }
            times_of_user[user].push((position, t.event_time));
            user_of_record.push(Some(user));
        }
    }
    let mut others = Vec::new();
    for (position, a) in accepted.iter_mut().enumerate() {
        let CleanRecord::Transaction(tx) = &mut a.record else {
            continue;
        };
        let profile = profiles.get(tx.user_id.as_ref()).and_then(Option::as_ref);
        others.clear();
        if let Some(marks) = history.and_then(|h| h.get(tx.user_id.as_ref())) {
            others.extend(
                marks
                    .iter()
                    .filter(|m| m.event_id != tx.event_id.as_ref())
                    .map(|m| m.time),
            );
        } else if let Some(times) = user_of_record[position].map(|user| &times_of_user[user]) {
            others.extend(
                times
                    .iter()
                    .filter(|(p, _)| *p != position)
                    .map(|(_, t)| *t),
            );
        }
        tx.customer_segment = profile.and_then(|p| p.segment.clone());
        tx.profile_country = profile
            .and_then(|p| p.country.as_deref())
            .and_then(shopstream::geo::normalize_country_detached);
        tx.fraud = rules.assess(
            tx,
            &FraudContext {
                profile,
                recent_order_times: &others,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_expires_and_evicts() {
        let cache = ProfileCache::new(2, Duration::from_secs(10));
        let start = Instant::now();
        let profile = CustomerProfile {
            user_id: "a".into(),
            ..Default::default()
        };
        cache.insert("a".into(), Some(profile.clone()), start);
        cache.insert("b".into(), None, start);
        let (known, missing) = cache.lookup(["a", "b", "c"], start + Duration::from_secs(1));
        assert_eq!(known.get("a"), Some(&Some(profile)));
        assert_eq!(known.get("b"), Some(&None), "a known miss is cached too");
        assert_eq!(missing, ["c"]);
        let (_, missing) = cache.lookup(["a"], start + Duration::from_secs(11));
        assert_eq!(missing, ["a"], "expired");
        cache.insert("c".into(), None, start);
        assert_eq!(cache.len(), 2, "capacity bounds the cache");
    }

    #[test]
    fn items_become_profiles() {
        let item = HashMap::from([
            ("user_id".to_owned(), AttributeValue::S("u1".into())),
            ("country".to_owned(), AttributeValue::S("Brazil".into())),
            ("lifetime_orders".to_owned(), AttributeValue::N("12".into())),
            ("extra".to_owned(), AttributeValue::Bool(true)),
        ]);
        let profile = profile_from_item(&item, "user_id").expect("profile");
        assert_eq!(profile.country.as_deref(), Some("Brazil"));
        assert_eq!(profile.lifetime_orders, Some(12));
        assert!(profile_from_item(&HashMap::new(), "user_id").is_none());
    }
}
