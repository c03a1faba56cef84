//! `shopstream bench`: the benchmarks the issues ask for, in one command, on one core's worth
//! of work (every measurement runs on the calling thread): the generator, the core
//! decode → Parquet path, the ingest-api handler (sink excluded), and a stream-enrich batch
//! (profiles cached). Inputs come from the generator, so they look like production traffic.
//!
//! `--input FILE` measures stream-enrich's record path on the user's own records instead
//! ([`bench_input`]), and `--baseline py_enrich.py` runs a Python version of the same path on
//! the same file, alternating with ours, and reports the ratio ([`compare_with_baseline`]).

use crate::generate::{Generator, GeneratorConfig};
use crate::run::{api_request, kinesis_record, percentiles};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use ingest_api::config::{IngestConfig, SinkConfig};
use ingest_api::sink::DiscardSink;
use ingest_api::{handle, Deps};
use serde::Serialize;
use serde_json::{json, Value};
use shopstream::clean::{accept, CleanRecord};
use shopstream::columnar::{transactions_to_parquet, Origin, Provenance};
use shopstream::config::{CoreConfig, Env};
use shopstream::decode::decode_json;
use shopstream::fraud::FraudContext;
use shopstream::profile::CustomerProfile;
use shopstream::quarantine::RecordPosition;
use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};
use stream_enrich::enrich::{enrich, Profiles};
use stream_enrich::objects::plan;
use stream_enrich::pipeline::triage;
use stream_enrich::source::{parse_event, Slice};

/// One measured path.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub name: String,
    pub what: String,
    pub iterations: u64,
    pub records_per_iteration: u64,
    pub records_per_second: f64,
    /// Records per second of this thread's CPU time: the per-core figure, unaffected by
    /// other work on the machine.
    pub records_per_cpu_second: f64,
    pub megabytes_per_second: f64,
    pub iteration_ms_p50: f64,
    pub iteration_ms_p99: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub seconds_per_measurement: f64,
    pub measurements: Vec<Measurement>,
}

/// Runs `work` repeatedly for about `budget` (after one warm-up call) and measures it.
fn measure(
    name: &str,
    what: &str,
    records: u64,
    bytes: u64,
    budget: Duration,
    mut work: impl FnMut(),
) -> Measurement {
    work();
    let mut times = Vec::new();
    let started = Instant::now();
    let cpu_started = thread_cpu_time();
    while started.elapsed() < budget || times.len() < 2 {
        let one = Instant::now();
        work();
        times.push(one.elapsed().as_secs_f64());
    }
    let cpu = thread_cpu_time().saturating_sub(cpu_started).as_secs_f64();
    let total: f64 = times.iter().sum();
    let iterations = times.len() as u64;
    let mut millis: Vec<f64> = times.iter().map(|t| t * 1000.0).collect();
    let (p50, p99) = percentiles(&mut millis);
    Measurement {
        name: name.to_owned(),
        what: what.to_owned(),
        iterations,
        records_per_iteration: records,
        records_per_second: (records * iterations) as f64 / total,
        records_per_cpu_second: (records * iterations) as f64 / cpu.max(f64::EPSILON),
        megabytes_per_second: (bytes * iterations) as f64 / total / 1e6,
        iteration_ms_p50: p50,
        iteration_ms_p99: p99,
    }
}

/// This thread's CPU time so far; zero if the clock is unavailable.
fn thread_cpu_time() -> Duration {
    shopstream_emulators::thread_cpu_time().unwrap_or(Duration::ZERO)
}

fn generated(events: u64, mix_transactions_only: bool, start: DateTime<Utc>) -> Vec<u8> {
    let mut config = GeneratorConfig {
        events,
        start,
        span_hours: 1,
        ..GeneratorConfig::default()
    };
    if mix_transactions_only {
        config.mix[1].1 = 0;
        config.mix[2].1 = 0;
    }
    let mut generator = Generator::new(config);
    let mut out = Vec::with_capacity(events as usize * 800);
    while generator.write_next(&mut out).is_some() {}
    out
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

pub fn run_benchmarks(budget: Duration) -> Result<BenchReport> {
    let now = Utc::now();
    let recent = now - chrono::TimeDelta::hours(1);
    let core = CoreConfig::from_env(&Env::from_process())?;
    let mut measurements = Vec::new();

    // 1. The generator, to JSON lines in memory.
    let events = 200_000u64;
    let sample = generated(events, false, recent);
    measurements.push(measure(
        "generate",
        "generator → JSON lines",
        events,
        sample.len() as u64,
        budget,
        || {
            black_box(generated(events, false, recent));
        },
    ));

    // 2. The core path on 100,000 transactions.
    let transactions = generated(100_000, true, recent);
    let transaction_lines = lines(&transactions);
    // Each row's provenance, as stream-enrich writes it (a Kinesis position per record).
    let positions: Vec<RecordPosition> = (0..transaction_lines.len())
        .map(|i| RecordPosition::Kinesis {
            shard_id: "shardId-000000000000".into(),
            sequence_number: format!("{}", 49_600_000_000_000_000_000u128 + i as u128),
        })
        .collect();
    measurements.push(measure(
        "core_pipeline",
        "decode → validate → clean → score → Parquet (100k transactions)",
        transaction_lines.len() as u64,
        transactions.len() as u64,
        budget,
        || {
            let origins: Vec<Origin> = positions
                .iter()
                .map(|position| Origin {
                    position,
                    arrival_time: now,
                })
                .collect();
            let mut rows = Vec::with_capacity(transaction_lines.len());
            for line in &transaction_lines {
                if let Ok(decoded) = decode_json(line) {
                    if let Ok(CleanRecord::Transaction(mut tx)) =
                        accept(decoded, now, &core.validation)
                    {
                        tx.fraud = core.fraud.assess(&tx, &FraudContext::default());
                        rows.push(tx);
                    }
                }
            }
            let provenance = Provenance {
                object: "silver/transaction/bench.parquet",
                origins: &origins[..rows.len()],
            };
            black_box(transactions_to_parquet(&rows, &provenance).ok());
        },
    ));

    // 3. ingest-api on 100-record requests, the sink excluded.
    let request_lines = lines(&sample)[..100].join(&b'\n');
    let request = api_request("bench", &request_lines)?;
    let deps = Deps {
        config: IngestConfig::with_sink(SinkConfig::Kinesis {
            stream: "bench".into(),
        }),
        events_sink: DiscardSink,
        orders_sink: DiscardSink,
        idempotency: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    measurements.push(measure(
        "ingest_api",
        "ingest-api handler, 100-record request, sink excluded",
        100,
        request_lines.len() as u64,
        budget,
        || {
            black_box(runtime.block_on(handle(&deps, request.clone(), None, now)));
        },
    ));

    // 4. stream-enrich on a 10,000-record Kinesis batch, profiles cached.
    let batch_lines: Vec<&[u8]> = lines(&sample).into_iter().take(10_000).collect();
    let batch_bytes: usize = batch_lines.iter().map(|l| l.len()).sum();
    let batch =
        parse_event(kinesis_event(&batch_lines, now)).context("building the Kinesis batch")?;
    let slice = batch.slices.first().context("one shard")?;
    let profiles = cached_profiles(&batch_lines);
    measurements.push(measure(
        "stream_enrich",
        "stream-enrich 10k Kinesis batch → Parquet/JSONL bytes, profiles cached",
        batch_lines.len() as u64,
        batch_bytes as u64,
        budget,
        || {
            black_box(record_path(slice, &core, &profiles));
        },
    ));
    Ok(BenchReport {
        seconds_per_measurement: budget.as_secs_f64(),
        measurements,
    })
}

/// Slices of the record path: Kinesis batches of this many records, as the mapping delivers.
const INPUT_SLICE_RECORDS: usize = 10_000;

/// stream-enrich's record path on a file's records: decode → validate → clean → deduplicate →
/// enrich (no profiles) → score → silver Parquet and quarantine JSONL bytes, in Kinesis
/// slices of 10,000 records (the events are built before the clock starts).
pub fn bench_input(
    path: &std::path::Path,
    format: crate::validate::InputFormat,
    now: DateTime<Utc>,
    budget: Duration,
) -> Result<Measurement> {
    let core = CoreConfig::from_env(&Env::from_process())?;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let payloads = crate::enrich::payloads_of(&bytes, format)?;
    anyhow::ensure!(!payloads.is_empty(), "{} holds no records", path.display());
    let records: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let batches = records
        .chunks(INPUT_SLICE_RECORDS)
        .map(|chunk| parse_event(kinesis_event(chunk, now)).context("building a Kinesis batch"))
        .collect::<Result<Vec<_>>>()?;
    let profiles = Profiles::default();
    Ok(measure(
        "input",
        &format!("stream-enrich record path on {}", path.display()),
        records.len() as u64,
        bytes.len() as u64,
        budget,
        || {
            let written: usize = batches
                .iter()
                .flat_map(|batch| &batch.slices)
                .map(|slice| record_path(slice, &core, &profiles))
                .sum();
            black_box(written);
        },
    ))
}

/// stream-enrich's record path on one slice: triage (decode, validate, clean, deduplicate),
/// enrich and score, then every object encoded; returns the bytes written.
fn record_path(slice: &Slice, core: &CoreConfig, profiles: &Profiles) -> usize {
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

/// One run of the Python baseline (its own JSON line).
#[derive(Debug, Clone, Serialize)]
pub struct BaselineRun {
    pub records_per_second: f64,
    pub rejected: u64,
    pub output: Value,
}

/// Both paths on the same file, alternating `rounds` times.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineComparison {
    pub file: String,
    pub records: u64,
    pub ours: Vec<Measurement>,
    pub baseline: Vec<BaselineRun>,
    /// Median of ours (records per CPU-second of one thread) over the median of the
    /// baseline's records per second (one Python thread, best of its three passes).
    pub ratio: f64,
}

/// Runs `python script file now` and reads the JSON line it prints.
fn run_baseline(
    python: &std::path::Path,
    script: &std::path::Path,
    file: &std::path::Path,
    now: DateTime<Utc>,
) -> Result<BaselineRun> {
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(file)
        .arg(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let line = String::from_utf8_lossy(&output.stdout);
    let value: Value = serde_json::from_str(line.trim())
        .with_context(|| format!("{} printed {line:?}, not one JSON line", script.display()))?;
    Ok(BaselineRun {
        records_per_second: value["records_per_s"].as_f64().unwrap_or(0.0),
        rejected: value["rejected"].as_u64().unwrap_or(0),
        output: value,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Ours and the baseline on `file`, alternating for `rounds` rounds.
pub fn compare_with_baseline(
    file: &std::path::Path,
    python: &std::path::Path,
    script: &std::path::Path,
    now: DateTime<Utc>,
    budget: Duration,
    rounds: usize,
) -> Result<BaselineComparison> {
    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    for round in 0..rounds.max(1) {
        let measured = bench_input(file, crate::validate::InputFormat::Jsonl, now, budget)?;
        eprintln!(
            "  round {}: shopstream {:.0} records/cpu-s",
            round + 1,
            measured.records_per_cpu_second
        );
        ours.push(measured);
        let python_run = run_baseline(python, script, file, now)?;
        eprintln!(
            "  round {}: baseline {:.0} records/s",
            round + 1,
            python_run.records_per_second
        );
        baseline.push(python_run);
    }
    let ratio = median(ours.iter().map(|m| m.records_per_cpu_second).collect())
        / median(baseline.iter().map(|b| b.records_per_second).collect()).max(f64::EPSILON);
    Ok(BaselineComparison {
        file: file.display().to_string(),
        records: ours.first().map_or(0, |m| m.records_per_iteration),
        ours,
        baseline,
        ratio,
    })
}

impl fmt::Display for BaselineComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "shopstream bench --input {} — {} records, {} rounds alternating",
            self.file,
            self.records,
            self.ours.len()
        )?;
        for (round, (ours, baseline)) in self.ours.iter().zip(&self.baseline).enumerate() {
            writeln!(
                f,
                "  round {}: shopstream {:>10.0} records/cpu-s   baseline {:>10.0} records/s ({} rejected)",
                round + 1,
                ours.records_per_cpu_second,
                baseline.records_per_second,
                baseline.rejected
            )?;
        }
        writeln!(f, "  ratio (median / median): {:.2}x per core", self.ratio)
    }
}

/// A one-shard Kinesis event of these lines, all arrived at `arrival`.
fn kinesis_event(lines: &[&[u8]], arrival: DateTime<Utc>) -> Value {
    let records: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let sequence = (49_656_000_000_000_000u64 + i as u64).to_string();
            kinesis_record(
                "shardId-000000000000",
                "arn:aws:kinesis:us-east-1:000000000000:stream/bench",
                "p",
                &sequence,
                line,
                arrival.timestamp() as f64,
            )
        })
        .collect();
    json!({ "Records": records })
}

/// A warm cache: a profile for every user in the batch.
fn cached_profiles(lines: &[&[u8]]) -> Profiles {
    lines
        .iter()
        .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
        .filter_map(|v| v["user_id"].as_str().map(str::to_owned))
        .map(|user_id| {
            let profile = CustomerProfile {
                user_id: user_id.clone(),
                country: Some("United States".into()),
                segment: Some("regular".into()),
                lifetime_orders: Some(3),
                signup_date: None,
            };
            (user_id, Some(profile))
        })
        .collect()
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "shopstream bench — one thread, ~{:.0} s per measurement",
            self.seconds_per_measurement
        )?;
        writeln!(
            f,
            "  {:<15} {:>12} {:>14} {:>9} {:>10} {:>10}  what",
            "path", "records/s", "records/cpu-s", "MB/s", "p50 ms", "p99 ms"
        )?;
        for m in &self.measurements {
            writeln!(
                f,
                "  {:<15} {:>12.0} {:>14.0} {:>9.1} {:>10.3} {:>10.3}  {} ({} records per iteration)",
                m.name,
                m.records_per_second,
                m.records_per_cpu_second,
                m.megabytes_per_second,
                m.iteration_ms_p50,
                m.iteration_ms_p99,
                m.what,
                m.records_per_iteration
            )?;
        }
        Ok(())
    }
}
