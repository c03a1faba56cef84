//! `shopstream run`: the streaming half of the pipeline on local emulators, driven the way AWS
//! drives it. Generated events go to the real ingest-api handler as API Gateway v2 requests
//! (up to 500 records each), land on a Kinesis stream, are read back shard by shard in
//! event-source-mapping-style batches and handed to the real stream-enrich handler (honouring
//! its partial batch response), and end up as silver Parquet and quarantine JSONL in S3, which
//! are read back to check that nothing was lost.

mod esm;
mod ingest;
mod readback;
mod setup;
mod summary;

pub use esm::kinesis_record;
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
    /// Records per stream-enrich invocation (the event source mapping's BatchSize).
    pub batch_size: usize,
    pub shards: i32,
    /// Customer profiles written to the profiles table before the run (users 0..N).
    pub profiles: u64,
}

/// Names of the resources the run creates on the emulator.
pub struct Resources {
    pub bucket: String,
    pub stream: String,
    pub profile_table: String,
    pub bus: String,
    pub alert_queue_url: String,
}

/// Runs the pipeline against the emulator behind `sdk` and reports stage by stage.
pub async fn run_pipeline(sdk: &SdkConfig, options: &RunOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let resources = setup::create(sdk, options).await?;

    let generate_started = Instant::now();
    let mut generator = Generator::new(options.generator.clone());
    let mut lines = Vec::with_capacity(options.generator.events as usize * 800);
    while generator.write_next(&mut lines).is_some() {}
    let generated = generator.counts().clone();
    let generate_seconds = generate_started.elapsed().as_secs_f64();

    let ingest = ingest::send_all(sdk, &resources, &lines, options.request_size).await?;
    let enrich = esm::drain_stream(sdk, &resources, options.batch_size).await?;
    let lake = readback::read_lake(sdk, &resources).await?;
    let alerts = readback::count_alerts(sdk, &resources).await?;
    Ok(RunSummary::new(
        generated,
        generate_seconds,
        lines.len(),
        ingest,
        enrich,
        lake,
        alerts,
        started.elapsed().as_secs_f64(),
    ))
}
