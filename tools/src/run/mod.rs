//! `shopstream run`: the whole pipeline on local emulators, driven the way AWS drives it.
//! Generated events go to the real ingest-api handler as API Gateway v2 requests (up to 500
//! records each), land on a Kinesis stream, are read back shard by shard in
//! event-source-mapping-style batches and handed to the real stream-enrich handler (honouring
//! its partial batch response), and end up as silver Parquet and quarantine JSONL in S3, which
//! are read back to check that nothing was lost. Then the batch half ([`batch`]):
//! gold-transform, redshift-copy into a local warehouse ([`warehouse`]), the KPIs on both
//! engines, and s3-cleanup. With [`LiveOptions`] the events are sent at a rate while the stream
//! is followed, and the alert latency is measured ([`live`]); a live run stops at silver.

mod alerts;
pub mod batch;
mod esm;
pub mod faults;
mod ingest;
pub mod live;
mod progress;
mod readback;
mod setup;
mod spark;
mod summary;
pub mod warehouse;

pub use esm::{kinesis_record, MAX_BATCH_SIZE, MAX_INVOCATION_BYTES};
pub use ingest::{api_request, percentiles, reasons_of};
pub use summary::RunSummary;

use crate::generate::{Generator, GeneratorConfig};
use anyhow::Result;
use aws_config::SdkConfig;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub generator: GeneratorConfig,
    /// Records per API request (at most 500, the API's limit).
    pub request_size: usize,
    /// API requests handled at the same time (their PutRecords calls take turns).
    pub api_concurrency: usize,
    /// Records per stream-enrich invocation (the event source mapping's BatchSize, at most
    /// 10,000; an invocation also stops short of a 6 MB event).
    pub batch_size: usize,
    pub shards: i32,
    /// Shards drained at the same time.
    pub shard_concurrency: usize,
    /// Customer profiles written to the profiles table before the run (users 0..N).
    pub profiles: u64,
    /// Faults the local event source mapping and S3 inject (none by default).
    pub faults: faults::FaultSpec,
    /// Send at a rate while the stream is followed, instead of sending everything and then
    /// draining the stream.
    pub live: Option<live::LiveOptions>,
    /// The batch half after the streaming stages (gold, warehouse, KPIs, cleanup).
    pub batch: Option<batch::BatchOptions>,
}

/// Events per shard when the shard count is not given. On moto, a put costs time in
/// proportion to the records already in its shard (it copies their sequence numbers) plus the
/// shards before its own (it scans them for the hash range): about 500 records a shard
/// balances the two for a million events (measured: 2,000 shards ingest a million events in
/// two thirds of the time 1,000 shards take).
pub const EVENTS_PER_SHARD: u64 = 500;
/// The most shards [`default_shards`] chooses.
pub const MAX_DEFAULT_SHARDS: u64 = 2_000;

/// The shard count for `events` events: one shard per [`EVENTS_PER_SHARD`], 2 to
/// [`MAX_DEFAULT_SHARDS`].
pub fn default_shards(events: u64) -> i32 {
    events
        .div_ceil(EVENTS_PER_SHARD)
        .clamp(2, MAX_DEFAULT_SHARDS) as i32
}

/// Where the run's AWS calls go: the Kinesis stream, the DynamoDB tables (profiles, order
/// velocity), and the other services (S3, EventBridge, SQS). They may be one emulator; a moto
/// process per part lets the stream, the look-ups and the lake work at the same time, since a
/// moto process works on one request at a time.
pub struct Endpoints {
    pub stream: SdkConfig,
    pub tables: SdkConfig,
    pub services: SdkConfig,
}

/// Names of the resources the run creates on the emulator.
pub struct Resources {
    pub bucket: String,
    pub stream: String,
    pub profile_table: String,
    /// stream-enrich's velocity history (the order-velocity table of the templates).
    pub velocity_table: String,
    pub bus: String,
    /// The bus's archive of `FraudSuspected` events.
    pub alert_archive: String,
    /// A live run's queue of the alerts the bus delivers.
    pub alert_queue_url: Option<String>,
    /// The `batches` ledger of gold-transform, redshift-copy and s3-cleanup.
    pub batches_table: String,
    /// The queue the bus delivers the batch functions' events to.
    pub batch_event_queue_url: String,
}

/// Runs the pipeline against the emulators behind `endpoints` and reports stage by stage.
pub async fn run_pipeline(endpoints: &Endpoints, options: &RunOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let resources = setup::create(endpoints, options).await?;
    let setup_seconds = started.elapsed().as_secs_f64();

    let generate_started = Instant::now();
    let mut generator = Generator::new(options.generator.clone());
    let mut lines = Vec::with_capacity(options.generator.events as usize * 800);
    while generator.write_next(&mut lines).is_some() {}
    let generated = generator.counts().clone();
    let seeded_fraud: std::collections::HashSet<String> =
        generator.seeded_fraud_ids().map(str::to_owned).collect();
    let generate_seconds = generate_started.elapsed().as_secs_f64();
    let bytes = lines.len();
    eprintln!(
        "  generated {} events ({:.0} MB) in {generate_seconds:.1} s; sending them to ingest-api ...",
        generated.events,
        bytes as f64 / 1e6
    );

    let faults = faults::Faults::new(options.faults, options.generator.seed);
    let (ingest, enrich, live) = match options.live {
        None => {
            let turn = ingest::StreamTurn::new(());
            let sending = progress::StageProgress::new("ingest-api", generated.events, "records");
            let ingest = ingest::send_all(
                &endpoints.stream,
                &resources,
                &lines,
                ingest::Sending {
                    request_size: options.request_size,
                    concurrency: options.api_concurrency,
                    pace: None,
                },
                &turn,
                &sending,
            )
            .await?;
            sending.finish();
            eprintln!(
                "  ingest-api: {} accepted onto {} shards, {} refused, in {:.1} s; draining the stream ...",
                ingest.accepted, options.shards, ingest.rejected, ingest.seconds
            );
            let draining =
                progress::StageProgress::new("stream-enrich", ingest.accepted, "records");
            let enrich = esm::drain_stream(
                endpoints,
                &resources,
                options.batch_size,
                options.shard_concurrency,
                &faults,
                None,
                &draining,
            )
            .await?;
            draining.finish();
            (ingest, enrich, None)
        }
        Some(live) => {
            eprintln!(
                "  sending {} events a second through ingest-api while stream-enrich follows {} shards ...",
                live.rate, options.shards
            );
            let (ingest, enrich, report) = live::ingest_and_enrich(
                endpoints,
                &resources,
                &lines,
                options,
                live,
                &faults,
                &seeded_fraud,
            )
            .await?;
            (ingest, enrich, Some(report))
        }
    };
    drop(lines);
    let alerts = alerts::archived(&endpoints.services, &resources).await?;
    eprintln!(
        "  stream-enrich: {} records in {} invocations in {:.1} s; reading the lake back ...",
        enrich.records_in, enrich.invocations, enrich.seconds
    );
    let reading = Instant::now();
    let mut lake = readback::read_lake(&endpoints.services, &resources).await?;
    lake.seconds = reading.elapsed().as_secs_f64();
    let batch = match &options.batch {
        Some(batch_options) => {
            let transactions = lake
                .silver_rows_by_entity
                .get("transaction")
                .copied()
                .unwrap_or_default();
            Some(batch::run_batch_half(endpoints, &resources, batch_options, transactions).await?)
        }
        None => None,
    };
    Ok(RunSummary::new(
        generated,
        generate_seconds,
        bytes,
        setup_seconds,
        ingest,
        enrich,
        lake,
        alerts,
        (options.faults, faults.counts()),
        live,
        batch,
        started.elapsed().as_secs_f64(),
    ))
}

/// Upper bounds (ms) of the latency histograms' buckets; a last bucket holds the rest.
pub const LATENCY_BUCKETS_MS: [f64; 16] = [
    5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0,
    50_000.0, 100_000.0, 200_000.0, 500_000.0,
];

/// One bucket of a latency histogram: the latencies up to `upper_ms` (above the previous
/// bucket's), or every larger one when `upper_ms` is `None`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LatencyBucket {
    pub upper_ms: Option<f64>,
    pub count: u64,
}

/// `latencies` (ms) counted into [`LATENCY_BUCKETS_MS`] and a last open bucket.
pub fn latency_histogram(latencies: &[f64]) -> Vec<LatencyBucket> {
    let mut buckets: Vec<LatencyBucket> = LATENCY_BUCKETS_MS
        .iter()
        .map(|upper| LatencyBucket {
            upper_ms: Some(*upper),
            count: 0,
        })
        .chain(std::iter::once(LatencyBucket {
            upper_ms: None,
            count: 0,
        }))
        .collect();
    for latency in latencies {
        let index = LATENCY_BUCKETS_MS
            .iter()
            .position(|upper| latency <= upper)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        buckets[index].count += 1;
    }
    buckets
}

/// A duration in ms as people read it: `50 ms`, `2 s`, `500 s`.
pub fn format_ms(ms: f64) -> String {
    if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.0} s", ms / 1_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_the_first_bucket_that_holds_them() {
        let histogram = latency_histogram(&[0.0, 5.0, 5.1, 499.0, 1e9]);
        assert_eq!(histogram.len(), LATENCY_BUCKETS_MS.len() + 1);
        assert_eq!(histogram[0].count, 2, "0 and 5 ms are ≤ 5 ms");
        assert_eq!(histogram[1].count, 1);
        assert_eq!(histogram[6].count, 1, "499 ms is ≤ 500 ms");
        assert_eq!(
            histogram.last().map(|b| (b.upper_ms, b.count)),
            Some((None, 1))
        );
        assert_eq!(histogram.iter().map(|b| b.count).sum::<u64>(), 5);
        assert_eq!(format_ms(50.0), "50 ms");
        assert_eq!(format_ms(2_000.0), "2 s");
    }

    #[test]
    fn shards_follow_the_event_count() {
        assert_eq!(default_shards(0), 2);
        assert_eq!(default_shards(20_000), 40);
        assert_eq!(default_shards(20_001), 41);
        assert_eq!(default_shards(1_000_000), 2_000);
        assert_eq!(default_shards(10_000_000), 2_000);
    }
}
