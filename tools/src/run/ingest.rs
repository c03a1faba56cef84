//! The API stage: NDJSON requests of up to `request_size` records, as API Gateway (HTTP API,
//! payload v2) hands them to ingest-api, through the real handler and its Kinesis sink.
//! `concurrency` requests are handled at once, but their PutRecords calls take turns: moto's
//! Kinesis numbers a shard's records without a lock, so concurrent writes can lose records.

use super::Resources;
use anyhow::{bail, Context, Result};
use aws_config::SdkConfig;
use futures::StreamExt;
use ingest_api::config::{IngestConfig, SinkConfig};
use ingest_api::records::Prepared;
use ingest_api::sink::{KinesisSink, Outcome, Sink};
use ingest_api::{handle, ApiEvent, Deps};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the API stage did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestStage {
    pub requests: u64,
    pub records: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub responses_by_status: BTreeMap<u16, u64>,
    pub seconds: f64,
    /// Requests handled at the same time.
    pub concurrency: u64,
    /// Of `seconds`: in PutRecords (calls take turns, so this never exceeds `seconds`).
    pub put_records_seconds: f64,
    pub request_latency_ms_p50: f64,
    pub request_latency_ms_p99: f64,
    /// Paced (live) runs: how late the last request started against its schedule, and the
    /// rate the records were sent at.
    pub schedule_lag_ms_max: f64,
    pub records_per_second: f64,
}

/// A schedule for the requests of a live run: `rate` records a second, request after request.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub records_per_second: f64,
}

impl Pace {
    /// When request `number` of `request_size` records is due, from the start.
    fn due(&self, number: usize, request_size: usize) -> Duration {
        Duration::from_secs_f64((number * request_size) as f64 / self.records_per_second.max(1e-9))
    }
}

/// One call at a time on the emulated stream: moto's Kinesis numbers a shard's records
/// without a lock, and reads a shard by walking it, so writes and (in a live run) reads take
/// turns.
pub type StreamTurn = tokio::sync::Mutex<()>;

/// ingest-api's Kinesis sink with its writes taken one at a time, timed.
struct SerialSink<'a> {
    inner: KinesisSink,
    turn: &'a StreamTurn,
    busy: Mutex<Duration>,
}

impl Sink for SerialSink<'_> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn max_record_bytes(&self) -> usize {
        self.inner.max_record_bytes()
    }

    async fn put(&self, records: &[Prepared]) -> Vec<Outcome> {
        let _turn = self.turn.lock().await;
        let started = Instant::now();
        let outcomes = self.inner.put(records).await;
        *self.busy.lock().unwrap_or_else(|e| e.into_inner()) += started.elapsed();
        outcomes
    }
}

/// Sends every line through ingest-api, `concurrency` requests at a time; with a `pace`, each
/// request waits for its turn in the schedule (a live producer) instead of going at once.
/// How the records are sent: `request_size` records per API request, `concurrency` requests
/// at a time, on `pace`'s schedule if given.
#[derive(Debug, Clone, Copy)]
pub struct Sending {
    pub request_size: usize,
    pub concurrency: usize,
    pub pace: Option<Pace>,
}

pub async fn send_all(
    sdk: &SdkConfig,
    resources: &Resources,
    ndjson: &[u8],
    sending: Sending,
    turn: &StreamTurn,
    progress: &super::progress::StageProgress,
) -> Result<IngestStage> {
    let Sending {
        request_size,
        concurrency,
        pace,
    } = sending;
    let stream = resources.stream.clone();
    let sink = SerialSink {
        inner: KinesisSink::new(aws_sdk_kinesis::Client::new(sdk), stream.clone()),
        turn,
        busy: Mutex::new(Duration::ZERO),
    };
    let deps = Deps {
        config: IngestConfig::with_sink(SinkConfig::Kinesis { stream }),
        events_sink: &sink,
        orders_sink: &sink,
        idempotency: None,
    };
    let concurrency = concurrency.max(1);
    let lines: Vec<&[u8]> = ndjson
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut stage = IngestStage {
        concurrency: concurrency as u64,
        ..IngestStage::default()
    };
    let mut latencies = Vec::new();
    let started = Instant::now();
    let deps = &deps;
    let request_size = request_size.clamp(1, 500);
    let mut responses = futures::stream::iter(lines.chunks(request_size).enumerate())
        .map(|(number, chunk)| async move {
            let mut lag_ms = 0.0;
            if let Some(pace) = pace {
                let due = started + pace.due(number, request_size);
                tokio::time::sleep_until(due.into()).await;
                lag_ms = due.elapsed().as_secs_f64() * 1000.0;
            }
            let mut body = Vec::with_capacity(chunk.iter().map(|l| l.len() + 1).sum());
            for line in chunk {
                body.extend_from_slice(line);
                body.push(b'\n');
            }
            let event = api_request(&format!("local-{number:08}"), &body)?;
            let sent = Instant::now();
            let (response, _metrics) = handle(deps, event, None, chrono::Utc::now()).await;
            let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
            anyhow::Ok((number, chunk.len(), response, latency_ms, lag_ms))
        })
        .buffered(concurrency);
    while let Some(answered) = responses.next().await {
        let (number, sent, response, latency_ms, lag_ms) = answered?;
        progress.inc(sent as u64);
        latencies.push(latency_ms);
        stage.schedule_lag_ms_max = stage.schedule_lag_ms_max.max(lag_ms);
        let status = response.status();
        *stage.responses_by_status.entry(status).or_default() += 1;
        stage.requests += 1;
        stage.records += sent as u64;
        let body = response.body_json();
        match status {
            202 | 422 => {
                let accepted = body["accepted"].as_u64().unwrap_or(0);
                let rejected = body["rejected"].as_array().cloned().unwrap_or_default();
                stage.accepted += accepted;
                stage.rejected += rejected.len() as u64;
                for entry in &rejected {
                    for reason in reasons_of(entry) {
                        *stage.rejected_by_reason.entry(reason).or_default() += 1;
                    }
                }
                if accepted + rejected.len() as u64 != sent as u64 {
                    bail!(
                        "request {number}: {accepted} accepted + {} rejected != {sent} sent",
                        rejected.len(),
                    );
                }
            }
            other => bail!("request {number} answered {other}: {body}"),
        }
    }
    stage.seconds = started.elapsed().as_secs_f64();
    stage.put_records_seconds = sink
        .busy
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_secs_f64();
    (stage.request_latency_ms_p50, stage.request_latency_ms_p99) = percentiles(&mut latencies);
    stage.records_per_second = stage.records as f64 / stage.seconds.max(1e-9);
    Ok(stage)
}

/// Distinct reason names of one `rejected[]` entry (strings or `{reason, ...}` objects).
pub fn reasons_of(entry: &Value) -> Vec<String> {
    let mut reasons: Vec<String> = entry["reasons"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|r| {
                    r.as_str()
                        .or_else(|| r["reason"].as_str())
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    reasons.sort();
    reasons.dedup();
    reasons
}

/// An HTTP API (payload v2) `POST /v1/events` request with an NDJSON body.
pub fn api_request(request_id: &str, body: &[u8]) -> Result<ApiEvent> {
    let event = json!({
        "version": "2.0",
        "routeKey": "POST /v1/events",
        "rawPath": "/v1/events",
        "rawQueryString": "",
        "headers": {"content-type": "application/x-ndjson", "user-agent": "shopstream-run"},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {"method": "POST", "path": "/v1/events", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "shopstream-run"},
            "requestId": request_id,
            "routeKey": "POST /v1/events",
            "stage": "$default",
            "time": chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": chrono::Utc::now().timestamp_millis()
        },
        "isBase64Encoded": false,
        "body": std::str::from_utf8(body).context("generated events are UTF-8")?,
    });
    serde_json::from_value(event).context("building the API Gateway event")
}

/// (p50, p99) of a sample, in its own unit; zeros when empty.
pub fn percentiles(values: &mut [f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99))
}
