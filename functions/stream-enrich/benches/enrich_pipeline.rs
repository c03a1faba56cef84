//! Throughput of stream-enrich's record path on a 10,000-record Kinesis batch:
//!
//! - `in_memory`: decode → validate/clean → dedupe → enrich (profiles cached) → fraud score →
//!   Parquet/JSONL bytes. No network.
//! - `in_memory_records_cpu_time`: the same, timed by this thread's CPU time (records per
//!   core, unaffected by other load on the machine).
//! - `with_dynamodb`: the same with an empty profile cache, so every distinct user is looked
//!   up with BatchGetItem against a moto server (started by the bench; skipped when moto is
//!   not installed).
//!
//! `cargo bench -p stream-enrich --bench enrich_pipeline`

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use shopstream::config::{CoreConfig, Env};
use shopstream::profile::CustomerProfile;
use std::hint::black_box;
use std::time::{Duration, Instant};
use stream_enrich::enrich::{enrich, DynamoProfiles, Enricher, ProfileCache, Profiles};
use stream_enrich::objects::plan;
use stream_enrich::pipeline::triage;
use stream_enrich::source::{parse_event, Slice};

// The allocator the Lambda binaries use (see their main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RECORDS: usize = 10_000;
const USERS: usize = 2_000;

fn payload(i: usize) -> Vec<u8> {
    let user = i % USERS;
    serde_json::to_vec(&json!({
        "event_id": format!("evt-{i:08}"), "quantity": 1 + i % 3, "total_amount": null, "feedback_score": i % 6,
        "user_id": format!("user_{user:06}"), "user_name": "Ana Silva", "user_email": "Ana.Silva@Example.com",
        "user_phone": "+55 11 91234-5678", "is_first_purchase": i % 10 == 0, "language": "pt-BR", "currency": "brl",
        "city_name": "são paulo", "country_name": if i % 7 == 0 { "usa" } else { "Brazil" }, "product_id": 1000 + i % 500,
        "product_name": "Wireless Headphones", "product_category": " electronics ", "product_brand": "Sony",
        "product_price": if i % 2 == 0 { json!(199.99) } else { json!("$1,299.00") }, "shipping_address": "Rua Augusta 1200",
        "postal_code": "01304-001", "device_type": "Mobile", "browser": "Chrome", "referral_source": null,
        "campaign": "black_friday", "coupon_code": null, "coupon_code_flag": null,
        "payment_method": if i % 5 == 0 { "gift_card" } else { "credit_card" }, "payment_status": "success",
        "transaction_status": "completed", "action_type": "purchase",
        "event_timestamp": format!("2024-11-05T07:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        "dt_date": "2024-11-05", "year": 2024, "month": 11, "day": 5, "hour": 7,
        "ingested_at": "2024-11-05T08:00:00Z"
    }))
    .unwrap_or_default()
}

fn kinesis_event() -> (Value, usize) {
    let mut bytes = 0;
    let records: Vec<Value> = (0..RECORDS)
        .map(|i| {
            let data = payload(i);
            bytes += data.len();
            let seq = format!("{}", 49_656_000_000_000_000u64 + i as u64);
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": seq,
                            "data": BASE64.encode(&data), "approximateArrivalTimestamp": 1_730_793_600.0},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/shopstream-events"
            })
        })
        .collect();
    (json!({ "Records": records }), bytes)
}

/// The CPU path of one slice, profiles from the cache; returns bytes produced.
fn run_in_memory(slice: &Slice, core: &CoreConfig, profiles: &Profiles) -> usize {
    let triaged = triage(slice, core);
    let mut accepted = triaged.accepted;
    enrich(&mut accepted, profiles, &core.fraud);
    plan(
        &slice.range,
        slice.first_arrival(),
        accepted,
        triaged.refused,
    )
    .iter()
    .map(|o| o.encode(&slice.records).map(|b| b.len()).unwrap_or(0))
    .sum()
}

/// This thread's CPU time so far.
fn thread_cpu_time() -> Duration {
    shopstream_emulators::thread_cpu_time()
        .unwrap_or_else(|e| panic!("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: {e}"))
}

fn profiles() -> Profiles {
    (0..USERS)
        .map(|u| {
            let id = format!("user_{u:06}");
            let profile = CustomerProfile {
                user_id: id.clone(),
                country: Some("Brazil".into()),
                segment: Some("regular".into()),
                lifetime_orders: Some((u % 20) as u32),
                signup_date: None,
            };
            (id, Some(profile))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let core = CoreConfig::from_env(&Env::default()).unwrap_or_else(|e| panic!("{e}"));
    let (event, payload_bytes) = kinesis_event();
    let batch = parse_event(event).unwrap_or_else(|e| panic!("{e}"));
    let slice = &batch.slices[0];
    let profiles = profiles();

    let mut group = c.benchmark_group("stream_enrich_10k_kinesis");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("in_memory_records", |b| {
        b.iter(|| black_box(run_in_memory(slice, &core, &profiles)))
    });
    // The same work timed by the CPU time of this thread instead of the wall clock: records
    // per CPU-second, i.e. per core, whatever else the machine is running.
    group.bench_function("in_memory_records_cpu_time", |b| {
        b.iter_custom(|iterations| {
            let started = thread_cpu_time();
            for _ in 0..iterations {
                black_box(run_in_memory(slice, &core, &profiles));
            }
            thread_cpu_time().saturating_sub(started)
        })
    });
    group.throughput(Throughput::Bytes(payload_bytes as u64));
    group.bench_function("in_memory_bytes", |b| {
        b.iter(|| black_box(run_in_memory(slice, &core, &profiles)))
    });
    group.finish();

    // DynamoDB look-ups against moto (cold cache every iteration).
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let moto = match runtime.block_on(shopstream_emulators::MotoServer::start()) {
        Ok(moto) => moto,
        Err(e) => {
            eprintln!("skipping with_dynamodb: {e}");
            return;
        }
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    if let Err(e) = runtime.block_on(seed(&dynamodb)) {
        eprintln!("skipping with_dynamodb: seeding failed: {e}");
        return;
    }
    let mut group = c.benchmark_group("stream_enrich_10k_kinesis_dynamodb");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("cold_cache_records", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let enricher = Enricher::new(
                    ProfileCache::new(100_000, Duration::from_secs(300)),
                    DynamoProfiles::new(dynamodb.clone(), "profiles", "user_id"),
                );
                let started = Instant::now();
                let produced = runtime.block_on(async {
                    let triaged = triage(slice, &core);
                    let mut accepted = triaged.accepted;
                    let profiles = enricher
                        .profiles_for(&accepted)
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    enrich(&mut accepted, &profiles, &core.fraud);
                    plan(
                        &slice.range,
                        slice.first_arrival(),
                        accepted,
                        triaged.refused,
                    )
                    .iter()
                    .map(|o| o.encode(&slice.records).map(|b| b.len()).unwrap_or(0))
                    .sum::<usize>()
                });
                total += started.elapsed();
                black_box(produced);
            }
            total
        })
    });
    group.finish();
    drop(moto);
}

async fn seed(dynamodb: &aws_sdk_dynamodb::Client) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::*;
    dynamodb
        .create_table()
        .table_name("profiles")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("user_id")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("user_id")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await?;
    let items: Vec<WriteRequest> = (0..USERS)
        .map(|u| {
            let item = std::collections::HashMap::from([
                (
                    "user_id".to_owned(),
                    AttributeValue::S(format!("user_{u:06}")),
                ),
                ("country".to_owned(), AttributeValue::S("Brazil".into())),
                ("segment".to_owned(), AttributeValue::S("regular".into())),
                (
                    "lifetime_orders".to_owned(),
                    AttributeValue::N((u % 20).to_string()),
                ),
            ]);
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map(|p| WriteRequest::builder().put_request(p).build())
        })
        .collect::<Result<_, _>>()?;
    for chunk in items.chunks(25) {
        dynamodb
            .batch_write_item()
            .request_items("profiles", chunk.to_vec())
            .send()
            .await?;
    }
    Ok(())
}

criterion_group!(benches, bench);
criterion_main!(benches);
