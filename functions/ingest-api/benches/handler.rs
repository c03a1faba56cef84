//! Handler latency for a 100-record `POST /v1/events` (HTTP API v2 event), excluding the sink:
//! the sink discards. Measures routing, body parsing, decoding, validation, payload building,
//! response building and the EMF document.
//!
//! `cargo bench -p ingest-api` (add `-- --measurement-time 5` for a short run). Besides
//! criterion's report, prints p50 / p99 of single-request latency and records per second.

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ingest_api::config::{IngestConfig, SinkConfig};
use ingest_api::sink::DiscardSink;
use ingest_api::{handle, ApiEvent, Deps};
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

// The allocator the Lambda binaries use (see their main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RECORDS: usize = 100;

fn records() -> Vec<serde_json::Value> {
    let now = Utc::now();
    (0..RECORDS)
        .map(|i| {
            json!({
                "event_id": format!("evt-{i:05}"),
                "user_id": format!("user-{}", i % 17),
                "user_name": "Ada Lovelace",
                "user_email": "Ada@Example.com",
                "user_phone": "+44 20 7946 0958",
                "event_timestamp": (now - chrono::TimeDelta::minutes(i as i64)).to_rfc3339(),
                "action_type": "purchase",
                "product_id": 1000 + i,
                "product_name": "Widget",
                "product_category": " electronics ",
                "product_price": "$1,299.00",
                "quantity": 1 + i % 3,
                "currency": "usd",
                "country_name": "United Kingdom",
                "city_name": "London",
                "shipping_address": "1 Main St",
                "payment_method": "credit_card",
                "device_type": "mobile",
            })
        })
        .collect()
}

fn event() -> ApiEvent {
    let body = serde_json::to_string(&records()).expect("serialises");
    let event = json!({
        "version": "2.0",
        "routeKey": "POST /v1/events",
        "rawPath": "/v1/events",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "bench", "routeKey": "POST /v1/events",
            "stage": "$default", "time": "05/Nov/2024:07:15:00 +0000", "timeEpoch": 1730790900000i64,
            "http": {"method": "POST", "path": "/v1/events", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "bench"}
        },
        "body": body,
        "isBase64Encoded": false
    });
    serde_json::from_value(event).expect("a valid HTTP API event")
}

fn deps() -> Deps<DiscardSink> {
    Deps {
        config: IngestConfig::with_sink(SinkConfig::Kinesis {
            stream: "bench".into(),
        }),
        events_sink: DiscardSink,
        orders_sink: DiscardSink,
        idempotency: None,
    }
}

async fn one(deps: &Deps<DiscardSink>, event: ApiEvent) {
    let (response, metrics) = handle(deps, event, None, Utc::now()).await;
    assert_eq!(response.status(), 202);
    black_box(metrics.to_emf(0));
}

/// p50 / p99 of single requests and throughput, measured directly.
fn percentiles(runtime: &tokio::runtime::Runtime, deps: &Deps<DiscardSink>, event: &ApiEvent) {
    let iterations = 2_000;
    let mut samples = Vec::with_capacity(iterations);
    runtime.block_on(async {
        for _ in 0..200 {
            one(deps, event.clone()).await;
        }
        for _ in 0..iterations {
            let event = event.clone();
            let started = Instant::now();
            one(deps, event).await;
            samples.push(started.elapsed());
        }
    });
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let total: Duration = samples.iter().sum();
    let records_per_second = (iterations * RECORDS) as f64 / total.as_secs_f64();
    println!(
        "ingest-api handler, {RECORDS}-record request, discard sink: p50 {:?}  p99 {:?}  mean {:?}  {:.0} records/s ({iterations} requests)",
        at(0.50),
        at(0.99),
        total / iterations as u32,
        records_per_second
    );
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let deps = deps();
    let event = event();
    percentiles(&runtime, &deps, &event);
    let mut group = c.benchmark_group("ingest-api");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("post_events_100_records", |b| {
        b.iter(|| runtime.block_on(one(&deps, event.clone())));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
