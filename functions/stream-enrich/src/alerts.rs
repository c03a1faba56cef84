//! `FraudSuspected` alerts on EventBridge: PutEvents in chunks of 10 (the API limit), several
//! chunks in flight at once, entries the service reports as failed retried with backoff, what
//! still fails reported back, and when each alert was accepted.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use shopstream::clean::CleanTransaction;
use shopstream::fraud::describe;
use shopstream::money::format_cents;
use shopstream::quarantine::RecordPosition;
use std::sync::Arc;
use std::time::Duration;

pub const DETAIL_TYPE: &str = "FraudSuspected";
/// PutEvents takes at most 10 entries.
pub const PUT_EVENTS_LIMIT: usize = 10;
/// PutEvents calls in flight at once for one slice's alerts: a burst of alerts waits for
/// about one round trip instead of one per chunk.
pub const PUT_EVENTS_IN_FLIGHT: usize = 8;
const ATTEMPTS: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(20);

/// The `detail` of a `FraudSuspected` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FraudAlert {
    pub event_id: String,
    pub user_id: String,
    pub event_timestamp: DateTime<Utc>,
    pub score: f64,
    pub risk_level: &'static str,
    pub matched_rules: Vec<Arc<str>>,
    /// Signed amount in currency units, two decimals ("1234.00").
    pub total_amount: String,
    pub currency: Option<String>,
    pub payment_method: Option<String>,
    pub country_name: Option<String>,
    pub profile_country: Option<String>,
    pub summary: String,
    pub position: RecordPosition,
    pub arrived_at: DateTime<Utc>,
}

impl FraudAlert {
    pub fn new(tx: &CleanTransaction, position: RecordPosition, arrived_at: DateTime<Utc>) -> Self {
        FraudAlert {
            event_id: tx.event_id.to_string(),
            user_id: tx.user_id.to_string(),
            event_timestamp: tx.event_time,
            score: tx.fraud.score,
            risk_level: tx.fraud.risk_level.as_str(),
            matched_rules: tx.fraud.matched_rules.clone(),
            total_amount: format_cents(tx.total_amount_cents),
            currency: tx.currency.as_deref().map(str::to_owned),
            payment_method: tx.payment_method.as_deref().map(str::to_owned),
            country_name: tx.country_name.as_deref().map(str::to_owned),
            profile_country: tx.profile_country.as_deref().map(str::to_owned),
            summary: describe(tx),
            position,
            arrived_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FraudAlerter {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    source: String,
}

impl FraudAlerter {
    pub fn new(
        client: aws_sdk_eventbridge::Client,
        bus: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        FraudAlerter {
            client,
            bus: bus.into(),
            source: source.into(),
        }
    }

    /// Publishes the alerts, up to [`PUT_EVENTS_IN_FLIGHT`] chunks at a time.
    pub async fn publish(&self, alerts: &[FraudAlert]) -> Published {
        let mut published = Published {
            failed: Vec::new(),
            accepted_at: vec![None; alerts.len()],
        };
        // Futures pushed one by one rather than a mapped stream: the handler spawns this
        // future, and a closure-built stream would not be provably `Send`.
        let mut chunks = alerts.chunks(PUT_EVENTS_LIMIT).enumerate();
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < PUT_EVENTS_IN_FLIGHT {
                let Some((number, chunk)) = chunks.next() else {
                    break;
                };
                in_flight.push(self.publish_chunk_at(number * PUT_EVENTS_LIMIT, chunk));
            }
            let Some((offset, chunk)) = in_flight.next().await else {
                break;
            };
            published
                .failed
                .extend(chunk.failed.into_iter().map(|i| i + offset));
            for (i, at) in chunk.accepted_at.into_iter().enumerate() {
                if let Some(slot) = published.accepted_at.get_mut(offset + i) {
                    *slot = at;
                }
            }
        }
        published.failed.sort_unstable();
        published
    }

    /// [`Self::publish_chunk`], with the chunk's position in the caller's list.
    async fn publish_chunk_at(&self, offset: usize, chunk: &[FraudAlert]) -> (usize, Published) {
        (offset, self.publish_chunk(chunk).await)
    }

    async fn publish_chunk(&self, chunk: &[FraudAlert]) -> Published {
        let mut accepted_at = vec![None; chunk.len()];
        // Positions in `chunk` still to send.
        let mut pending: Vec<usize> = Vec::with_capacity(chunk.len());
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, alert) in chunk.iter().enumerate() {
            match serde_json::to_string(alert) {
                Ok(detail) => {
                    pending.push(i);
                    entries.push(
                        PutEventsRequestEntry::builder()
                            .event_bus_name(&self.bus)
                            .source(&self.source)
                            .detail_type(DETAIL_TYPE)
                            .detail(detail)
                            .build(),
                    );
                }
                Err(e) => {
                    tracing::error!(event_id = %alert.event_id, error = %e, "fraud alert not serialisable")
                }
            }
        }
        for attempt in 0..ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(BACKOFF * 2u32.pow(attempt - 1)).await;
            }
            let send: Vec<PutEventsRequestEntry> = pending
                .iter()
                .filter_map(|i| entries.get(*i).cloned())
                .collect();
            match self
                .client
                .put_events()
                .set_entries(Some(send))
                .send()
                .await
            {
                Ok(output) => {
                    let answered = Utc::now();
                    // Result entries are in request order; an entry with an error code failed.
                    let results = output.entries();
                    let mut still_pending = Vec::new();
                    for (n, i) in pending.iter().enumerate() {
                        if results.get(n).is_none_or(|r| r.error_code().is_some()) {
                            still_pending.push(*i);
                        } else if let Some(slot) = accepted_at.get_mut(*i) {
                            *slot = Some(answered);
                        }
                    }
                    pending = still_pending;
                    if !pending.is_empty() {
                        tracing::warn!(
                            failed = pending.len(),
                            attempt,
                            "PutEvents rejected entries; retrying"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e), attempt, "PutEvents failed");
                }
            }
        }
        Published {
            failed: pending,
            accepted_at,
        }
    }
}

/// What became of a list of alerts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Published {
    /// Positions (in the list) of the alerts that could not be published after retries,
    /// ascending.
    pub failed: Vec<usize>,
    /// When EventBridge accepted each alert (`None` for a failed one).
    pub accepted_at: Vec<Option<DateTime<Utc>>>,
}

impl Published {
    /// Nothing published: every alert failed (the publishing task was lost).
    pub fn none_of(count: usize) -> Self {
        Published {
            failed: (0..count).collect(),
            accepted_at: vec![None; count],
        }
    }

    /// When each published alert's record arrived and when EventBridge accepted the alert.
    pub fn timings(&self, alerts: &[FraudAlert]) -> Vec<AlertTiming> {
        alerts
            .iter()
            .zip(&self.accepted_at)
            .filter_map(|(alert, at)| {
                at.map(|accepted_at| AlertTiming {
                    arrived_at: alert.arrived_at,
                    accepted_at,
                })
            })
            .collect()
    }
}

/// One published alert's path: its record's arrival on the stream, and EventBridge accepting
/// the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertTiming {
    pub arrived_at: DateTime<Utc>,
    pub accepted_at: DateTime<Utc>,
}

impl AlertTiming {
    /// Arrival → accepted, in milliseconds.
    pub fn latency_ms(&self) -> i64 {
        (self.accepted_at - self.arrived_at).num_milliseconds()
    }
}
