//! The core's per-record path on 100,000 JSON transactions: decode → validate → clean →
//! fraud score → Parquet encode. Reported twice, as records/s and as input MB/s.
//!
//! `cargo bench -p shopstream --bench core_pipeline`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shopstream::clean::{accept, CleanRecord};
use shopstream::columnar::{transactions_to_parquet, Origin, Provenance};
use shopstream::decode::decode_json;
use shopstream::fraud::{FraudContext, FraudRules};
use shopstream::quarantine::RecordPosition;
use shopstream::validate::ValidationRules;
use std::hint::black_box;
use std::time::Duration;

// The allocator the Lambda binaries use (see their main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RECORDS: usize = 100_000;

/// A small deterministic generator (xorshift) so the input is varied but identical every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// ITI-shaped JSON transactions: ~5 % string prices, ~1 % null users, ~1 % bad quantities.
fn payloads() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5eed_cafe);
    let countries = [
        "United States",
        "Germany",
        "Brazil",
        "Japan",
        "India",
        "France",
        "usa",
        "UK",
    ];
    let categories = [
        "Electronics",
        "fashion",
        " Books",
        "BEAUTY",
        "Home & Garden",
        "Sports",
    ];
    let actions = [
        "purchase", "purchase", "purchase", "purchase", "refund", "return",
    ];
    let methods = [
        "credit_card",
        "paypal",
        "debit_card",
        "gift_card",
        "apple_pay",
    ];
    (0..RECORDS)
        .map(|i| {
            let price = (rng.below(300_000) + 399) as f64 / 100.0;
            let price_json = if rng.below(20) == 0 {
                format!("\"${price:.2}\"")
            } else {
                format!("{price}")
            };
            let user = if rng.below(100) == 0 {
                "null".to_owned()
            } else {
                format!("\"user_{:06}\"", rng.below(350_000))
            };
            let quantity = if rng.below(100) == 0 { -1 } else { 1 + rng.below(5) as i64 };
            let minute = rng.below(60);
            format!(
                r#"{{"event_id":"evt-{i:08}","quantity":{quantity},"total_amount":null,"feedback_score":{feedback},"user_id":{user},"user_name":"Customer {i}","user_email":"customer{i}@Example.com","user_phone":"+1 415 555 {phone:04}","is_first_purchase":false,"language":"en","currency":"usd","city_name":"new york","country_name":"{country}","product_id":{product},"product_name":"Product {product}","product_category":"{category}","product_brand":"Brand","product_price":{price_json},"shipping_address":"{i} Main Street","postal_code":"10001","device_type":"Mobile","browser":"Chrome","referral_source":null,"campaign":null,"coupon_code":null,"coupon_code_flag":null,"payment_method":"{method}","payment_status":"success","transaction_status":"completed","action_type":"{action}","event_timestamp":"2024-11-05T20:{minute:02}:00Z","dt_date":"2024-11-05","year":2024,"month":11,"day":5,"hour":20}}"#,
                feedback = rng.below(7),
                phone = rng.below(10_000),
                country = rng.pick(&countries),
                product = rng.below(50_000),
                category = rng.pick(&categories),
                method = rng.pick(&methods),
                action = rng.pick(&actions),
            )
            .into_bytes()
        })
        .collect()
}

/// Runs the whole core path and returns (accepted rows, Parquet bytes).
fn process(payloads: &[Vec<u8>], rules: &ValidationRules, fraud: &FraudRules) -> (usize, usize) {
    let now = chrono::DateTime::parse_from_rfc3339("2024-11-06T00:00:00Z")
        .unwrap()
        .to_utc();
    let mut clean = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let Ok(decoded) = decode_json(payload) else {
            continue;
        };
        if let Ok(CleanRecord::Transaction(mut tx)) = accept(decoded, now, rules) {
            tx.fraud = fraud.assess(&tx, &FraudContext::default());
            clean.push(tx);
        }
    }
    let positions: Vec<RecordPosition> = (0..clean.len())
        .map(|i| RecordPosition::Kinesis {
            shard_id: "shardId-000000000000".into(),
            sequence_number: format!("{}", 49_600_000_000_000_000_000u128 + i as u128),
        })
        .collect();
    let origins: Vec<Origin> = positions
        .iter()
        .map(|position| Origin {
            position,
            arrival_time: now,
        })
        .collect();
    let provenance = Provenance {
        object: "silver/transaction/dt=2024-11-05/hour=07/bench.parquet",
        origins: &origins,
    };
    let parquet = transactions_to_parquet(&clean, &provenance).expect("encodes");
    (clean.len(), parquet.len())
}

fn core_pipeline(c: &mut Criterion) {
    let payloads = payloads();
    let input_bytes: usize = payloads.iter().map(Vec::len).sum();
    let rules = ValidationRules::default();
    let fraud = FraudRules::default();
    let (accepted, parquet_bytes) = process(&payloads, &rules, &fraud);
    eprintln!(
        "core_pipeline: {RECORDS} records, {:.1} MB JSON in, {accepted} accepted, {:.1} MB Parquet out",
        input_bytes as f64 / 1e6,
        parquet_bytes as f64 / 1e6
    );
    let mut group = c.benchmark_group("core_pipeline");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function(BenchmarkId::new("records", RECORDS), |b| {
        b.iter(|| black_box(process(black_box(&payloads), &rules, &fraud)))
    });
    group.throughput(Throughput::Bytes(input_bytes as u64));
    group.bench_function(BenchmarkId::new("json_bytes", RECORDS), |b| {
        b.iter(|| black_box(process(black_box(&payloads), &rules, &fraud)))
    });
    group.finish();
}

criterion_group!(benches, core_pipeline);
criterion_main!(benches);
