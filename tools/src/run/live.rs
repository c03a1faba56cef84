//! A live run (`shopstream run --rate N --seconds S`): the producer sends `N` events a second
//! through ingest-api while every shard is followed as a mapping polls it and stream-enrich
//! scores and alerts; the alerts the bus delivers are collected as they arrive. Reported: the
//! arrival → alert latency stream-enrich measures (EventBridge accepted the alert), the
//! arrival → delivered latency the alert consumer sees, and whether every seeded fraud
//! transaction raised an alert.

use super::esm::{drain_stream, EnrichStage, Follow};
use super::faults::Faults;
use super::ingest::{percentiles, send_all, IngestStage, Pace, Sending, StreamTurn};
use super::progress::StageProgress;
use super::{Endpoints, Resources, RunOptions};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Seeded fraud in a live run unless `--fraud-rate` says otherwise: about 1 % of transactions.
pub const LIVE_FRAUD_RATE: f64 = 0.01;

/// Events a second one shard is given in a live run. A real shard takes 1,000 records a
/// second; on moto every read walks the shard from its first record, so more, shorter shards
/// keep the reads cheap while the producer writes.
pub const LIVE_EVENTS_PER_SHARD_SECOND: u32 = 250;

/// The shard count for a live run at `rate` events a second: 2 to 64.
pub fn default_live_shards(rate: u32) -> i32 {
    rate.div_ceil(LIVE_EVENTS_PER_SHARD_SECOND).clamp(2, 64) as i32
}

/// How a live run is paced and polled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveOptions {
    /// Events a second the producer sends.
    pub rate: u32,
    /// How long a shard's poller waits after a read that found nothing new. 100 ms stands for
    /// enhanced fan-out (records pushed to the consumer, about 70 ms after they are written);
    /// 1,000 ms for the standard poller, which reads each shard about once a second.
    pub poll_interval: Duration,
}

/// What a live run adds to the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveReport {
    pub rate: u32,
    pub poll_interval_ms: u64,
    /// The rate the producer achieved, and how late its worst request started.
    pub records_per_second: f64,
    pub schedule_lag_ms_max: f64,
    /// Arrival on the stream → the alert consumer received it from the bus's queue.
    pub arrival_to_delivery_ms_p50: f64,
    pub arrival_to_delivery_ms_p99: f64,
    /// Alert messages the consumer received, and their distinct `event_id`s.
    pub alerts_received: u64,
    pub alerts_received_distinct: u64,
    /// Transactions the generator seeded as fraud, and those no alert was received for.
    pub seeded_fraud: u64,
    pub seeded_fraud_alerted: u64,
    pub seeded_fraud_missing: Vec<String>,
}

/// The alerts the consumer received.
#[derive(Debug, Default)]
struct ReceivedAlerts {
    messages: u64,
    event_ids: HashSet<String>,
    delivery_latencies_ms: Vec<f64>,
}

/// Runs the producer, the followed stream and the alert consumer together.
pub async fn ingest_and_enrich(
    endpoints: &Endpoints,
    resources: &Resources,
    lines: &[u8],
    options: &RunOptions,
    live: LiveOptions,
    faults: &Arc<Faults>,
    seeded_fraud: &HashSet<String>,
) -> Result<(IngestStage, EnrichStage, LiveReport)> {
    let queue_url = resources
        .alert_queue_url
        .as_deref()
        .context("a live run has an alert queue")?;
    let turn = StreamTurn::new(());
    let producer_done = AtomicBool::new(false);
    let consumer_done = AtomicBool::new(false);
    let follow = Follow {
        producer_done: &producer_done,
        poll_interval: live.poll_interval,
        turn: &turn,
    };
    let producer = async {
        let sent = send_all(
            &endpoints.stream,
            resources,
            lines,
            Sending {
                request_size: options.request_size,
                concurrency: options.api_concurrency,
                pace: Some(Pace {
                    records_per_second: f64::from(live.rate),
                }),
            },
            &turn,
            &StageProgress::hidden(),
        )
        .await;
        producer_done.store(true, Ordering::Release);
        sent
    };
    let consumer = async {
        let drained = drain_stream(
            endpoints,
            resources,
            options.batch_size,
            options.shard_concurrency,
            faults,
            Some(&follow),
            &StageProgress::hidden(),
        )
        .await;
        consumer_done.store(true, Ordering::Release);
        drained
    };
    let alerts = receive_alerts(&endpoints.services, queue_url, &consumer_done);
    let (ingest, enrich, received) = tokio::try_join!(producer, consumer, alerts)?;

    let mut delivery = received.delivery_latencies_ms;
    let (delivery_p50, delivery_p99) = percentiles(&mut delivery);
    let mut missing: Vec<String> = seeded_fraud
        .iter()
        .filter(|id| !received.event_ids.contains(*id))
        .cloned()
        .collect();
    missing.sort();
    let report = LiveReport {
        rate: live.rate,
        poll_interval_ms: live.poll_interval.as_millis() as u64,
        records_per_second: ingest.records_per_second,
        schedule_lag_ms_max: ingest.schedule_lag_ms_max,
        arrival_to_delivery_ms_p50: delivery_p50,
        arrival_to_delivery_ms_p99: delivery_p99,
        alerts_received: received.messages,
        alerts_received_distinct: received.event_ids.len() as u64,
        seeded_fraud: seeded_fraud.len() as u64,
        seeded_fraud_alerted: (seeded_fraud.len() - missing.len()) as u64,
        seeded_fraud_missing: missing,
    };
    Ok((ingest, enrich, report))
}

/// Receives (and deletes) the alert messages until the consumer is done and a receive that
/// started after that came back empty.
async fn receive_alerts(
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
    consumer_done: &AtomicBool,
) -> Result<ReceivedAlerts> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut received = ReceivedAlerts::default();
    loop {
        let consumer_was_done = consumer_done.load(Ordering::Acquire);
        let answer = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .context("receiving alerts")?;
        let now = chrono::Utc::now();
        let messages = answer.messages();
        if messages.is_empty() {
            if consumer_was_done {
                return Ok(received);
            }
            continue;
        }
        let mut receipts = Vec::with_capacity(messages.len());
        for (n, message) in messages.iter().enumerate() {
            received.messages += 1;
            if let Some(detail) = message
                .body()
                .and_then(|body| serde_json::from_str::<serde_json::Value>(body).ok())
                .map(|event| event["detail"].clone())
            {
                if let Some(id) = detail["event_id"].as_str() {
                    received.event_ids.insert(id.to_owned());
                }
                if let Some(arrived) = detail["arrived_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                {
                    received
                        .delivery_latencies_ms
                        .push((now - arrived.to_utc()).num_milliseconds() as f64);
                }
            }
            if let Some(handle) = message.receipt_handle() {
                receipts.push(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .receipt_handle(handle)
                        .build()?,
                );
            }
        }
        sqs.delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(receipts))
            .send()
            .await
            .context("deleting received alerts")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_shards_follow_the_rate() {
        assert_eq!(default_live_shards(1), 2);
        assert_eq!(default_live_shards(2_000), 8);
        assert_eq!(default_live_shards(2_001), 9);
        assert_eq!(default_live_shards(100_000), 64);
    }
}
