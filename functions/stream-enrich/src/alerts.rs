//! `FraudSuspected` alerts on EventBridge: PutEvents in chunks of 10 (the API limit), entries
//! the service reports as failed retried with backoff, what still fails reported back.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};
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

    /// Publishes the alerts; returns the positions (in `alerts`) of those that could not be
    /// published after retries.
    pub async fn publish(&self, alerts: &[FraudAlert]) -> Vec<usize> {
        let mut failed = Vec::new();
        for (chunk_number, chunk) in alerts.chunks(PUT_EVENTS_LIMIT).enumerate() {
            let offset = chunk_number * PUT_EVENTS_LIMIT;
            failed.extend(
                self.publish_chunk(chunk)
                    .await
                    .into_iter()
                    .map(|i| i + offset),
            );
        }
        failed
    }

    async fn publish_chunk(&self, chunk: &[FraudAlert]) -> Vec<usize> {
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
                    // Result entries are in request order; an entry with an error code failed.
                    let results = output.entries();
                    pending = pending
                        .iter()
                        .enumerate()
                        .filter(|(n, _)| results.get(*n).is_none_or(|r| r.error_code().is_some()))
                        .map(|(_, i)| *i)
                        .collect();
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
        pending
    }
}
