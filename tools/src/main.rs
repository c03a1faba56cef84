//! `shopstream`: the project's command line. See `shopstream --help`.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use shopstream::config::{CoreConfig, Env};
use shopstream::record::Entity;
use shopstream_cli::generate::anomaly::AnomalyRates;
use shopstream_cli::generate::{generate, Generator, GeneratorConfig, OutputFormat};
use shopstream_cli::run::batch::{BatchOptions, Engine};
use shopstream_cli::run::faults::FaultSpec;
use shopstream_cli::run::live::{default_live_shards, LiveOptions, LIVE_FRAUD_RATE};
use shopstream_cli::run::warehouse::WarehouseTarget;
use shopstream_cli::run::{default_shards, run_pipeline, Endpoints, RunOptions};
use shopstream_cli::send::{
    load_aws_config, parse_header, send_generated, HttpSender, KafkaSender, KinesisSender,
    PayloadEncoding, SendOptions, Target,
};
use shopstream_cli::validate::{validate_file, InputFormat, ValidateOptions};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

// The allocator the Lambda binaries use, so `bench` and `run` measure what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// shopstream: e-commerce events to an analytics-ready warehouse, on AWS Lambda.
///
/// This tool generates realistic traffic and checks the quality of event files with the same
/// rules the Lambda functions apply.
#[derive(Parser)]
#[command(name = "shopstream", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate realistic e-commerce events (transactions, clickstream, inventory).
    ///
    /// Seeded and reproducible: the same options give the same bytes. Users (default 350,000)
    /// keep one profile, products one name, brand, category and price. Traffic follows the
    /// seasons (Nov 1.6x, Dec 1.8x, Jan 0.8x) and the day (peak at 20:00), the ITI status mix,
    /// and a small share of deliberately broken records (--anomaly) that exercise every
    /// rejection reason.
    ///
    /// Writes to a file or standard output, or sends straight to the ingest API, a Kinesis
    /// stream or a Kafka topic with --to.
    Generate(GenerateArgs),
    /// Run the whole pipeline locally, with the real Lambda handlers.
    ///
    /// Starts local AWS emulators (three moto servers: Kinesis, DynamoDB, and
    /// S3/EventBridge/SQS) unless --endpoint names a running one, and a PostgreSQL warehouse
    /// behind a local Redshift Data API, then: generate events → ingest-api (API Gateway v2
    /// requests of up to 500 records) → Kinesis → stream-enrich (event-source-mapping-style
    /// batches of up to 10,000 records and 6 MB, honouring partial batch responses) → silver
    /// Parquet / quarantine JSONL in S3, read back and checked; then gold-transform on its
    /// schedule → redshift-copy on each manifest → the KPI views compared with DataFusion over
    /// gold → s3-cleanup (dry run, then for real) on each BatchLoaded event. Prints a
    /// stage-by-stage summary that accounts for every record, writes summary.json and
    /// report.html into --out, and stops what it started. Exit status: 0 ok, 2 over
    /// --max-rejection-rate, 3 records unaccounted for or counts that disagree.
    Run(RunArgs),
    /// Measure the hot paths on this machine: the generator, the core decode → Parquet path,
    /// the ingest-api handler (sink excluded) and a stream-enrich batch. Build with
    /// --release for meaningful figures.
    Bench(BenchArgs),
    /// Transform silver to gold locally: the jobs/sql models on DataFusion, the same code as
    /// the gold-transform Lambda. Every silver/quarantine object that no manifest under --gold
    /// lists is one batch; prints a per-table summary.
    Transform(shopstream_cli::gold::TransformArgs),
    /// Enrich JSON-lines files into a lake without a stream: stream-enrich's own steps
    /// (decode, validate, clean, deduplicate, score, objects), so the silver and quarantine
    /// objects are the ones the stream path writes for the same records.
    Enrich(shopstream_cli::enrich::EnrichArgs),
    /// Run a KPI query of jobs/sql/kpi over the gold tables and print it.
    Query(shopstream_cli::gold::QueryArgs),
    /// Draw the HTML report of a run again from its summary JSON, or of any gold lake: one
    /// self-contained file with the stage funnel, rejections, latencies, fraud scores and
    /// KPIs.
    Report(ReportArgs),
    /// Decode, validate and clean a file of events and report on its quality.
    ///
    /// Exits with status 2 when the share of refused records exceeds --max-rejection-rate.
    Validate(ValidateArgs),
}

#[derive(Args)]
struct GenerateArgs {
    /// Number of events.
    #[arg(short = 'n', long, default_value_t = 100_000)]
    events: u64,
    /// Seed of the random generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = OutputFormat::Jsonl)]
    format: OutputFormat,
    /// Output file (default: standard output).
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Size of the user population.
    #[arg(long, default_value_t = 350_000)]
    users: u64,
    /// Size of the product catalogue.
    #[arg(long, default_value_t = 50_000)]
    products: u64,
    /// First day of the generated period (UTC).
    #[arg(long, default_value = "2025-01-01")]
    start: NaiveDate,
    /// Length of the generated period in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Share of each entity, e.g. "transaction=80,clickstream=15,inventory=5".
    #[arg(long, default_value = "transaction=80,clickstream=15,inventory=5")]
    mix: String,
    /// Rate of a kind of broken transaction, e.g. "NULL_USER_ID=0.02" (repeatable). Defaults
    /// break about 3.4 % of transactions across all thirteen reasons.
    #[arg(long = "anomaly", value_name = "REASON=RATE")]
    anomalies: Vec<String>,
    /// Generate no broken records at all.
    #[arg(long, conflicts_with = "anomalies")]
    no_anomalies: bool,
    /// Fraction of valid transactions seeded as fraud (a completed purchase over 5,000 paid
    /// by gift card, which the default fraud rules flag whatever the profile).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    fraud_rate: f64,
    /// Show a progress bar (default: when standard error is a terminal).
    #[arg(long)]
    progress: Option<bool>,
    /// Send the events to TARGET instead of writing them: the ingest API
    /// (http(s)://HOST[:PORT]/v1/events, NDJSON requests), a Kinesis stream (kinesis://STREAM)
    /// or a Kafka topic (kafka://HOST:PORT[,HOST:PORT...]/TOPIC). Prints a summary on standard
    /// error; exit status 3 if any record could not be delivered.
    #[arg(long, value_name = "TARGET", conflicts_with = "out")]
    to: Option<Target>,
    /// With --to: records per request (PutRecords call, produce round), at most 500.
    #[arg(long, default_value_t = 500, requires = "to",
          value_parser = clap::value_parser!(u16).range(1..=500))]
    request_size: u16,
    /// With --to: requests in flight at once.
    #[arg(long, default_value_t = 4, requires = "to",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// With --to http(s)://: an extra request header (repeatable), e.g. "x-api-key: KEY".
    #[arg(long = "header", value_name = "NAME: VALUE", requires = "to")]
    headers: Vec<String>,
    /// With --to kinesis://: the AWS endpoint, e.g. a local moto (overrides AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL", requires = "to")]
    endpoint: Option<String>,
    /// With --to: also write the summary as JSON to this file.
    #[arg(long, value_name = "FILE", requires = "to")]
    summary_json: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    /// Number of events to generate and push through the pipeline.
    #[arg(short = 'n', long, default_value_t = 20_000)]
    events: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// A running AWS emulator (e.g. http://127.0.0.1:5000) instead of starting moto.
    #[arg(long)]
    endpoint: Option<String>,
    /// Records per API request (at most 500) [default: 500; in a live run, a tenth of
    /// --rate, so a request goes every 100 ms].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=500))]
    request_size: Option<u16>,
    /// API requests handled at the same time (their PutRecords calls take turns).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    api_concurrency: u16,
    /// Records per stream-enrich invocation (the event source mapping's BatchSize, 1 to
    /// 10,000); an invocation also stops short of a 6 MB event, Lambda's payload limit.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    batch_size: u16,
    /// Shards of the Kinesis stream [default: one per 500 events, at least 2, at most 2,000].
    /// moto's Kinesis slows down with the records per shard (each put copies the shard's
    /// sequence numbers) and with the shard count (each put scans the shards).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    shards: Option<u16>,
    /// Shards drained at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1_000))]
    shard_concurrency: u16,
    /// Customer profiles to seed in the profiles table (users 0..N).
    #[arg(long, default_value_t = 5_000)]
    profiles: u64,
    /// Size of the user population.
    #[arg(long, default_value_t = 350_000)]
    users: u64,
    /// Live: send this many events a second (for --seconds) while the stream is read as a
    /// mapping polls it, and report the arrival → alert latency. Replaces --events.
    #[arg(long, requires = "seconds", conflicts_with = "events", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    rate: Option<u32>,
    /// Live: how long the producer sends at --rate.
    #[arg(long, requires = "rate", value_parser = clap::value_parser!(u32).range(1..=3_600))]
    seconds: Option<u32>,
    /// Live: how long a shard's poller waits after a read that found nothing new. 100 stands
    /// for an enhanced fan-out consumer (records pushed about 70 ms after they are written),
    /// 1000 for the standard poller (each shard read about once a second).
    #[arg(long, default_value_t = 100, requires = "rate", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    poll_ms: u64,
    /// Fraction of valid transactions seeded as fraud (a purchase over 5,000 paid by gift
    /// card); a live run checks that each of them raised an alert. [default: 0.01 live, 0]
    #[arg(long, value_parser = parse_share)]
    fraud_rate: Option<f64>,
    /// Faults the local event source mapping and S3 inject, e.g.
    /// "timeout-after-write=0.02,bisect=on,put-fail=0.01,put-lost-answer=0.01,redeliver=0.01"
    /// (rates per invocation or PUT; see tools/README.md).
    #[arg(long, value_parser = parse_faults)]
    faults: Option<FaultSpec>,
    /// Where the batch half loads gold: `local` (a PostgreSQL server started for the run),
    /// an existing database `postgres://user@host:port/db` (the run's tables go in a schema
    /// of their own), or `none` (gold and its KPIs only). A live run stops after the stream.
    #[arg(long, default_value = "local")]
    warehouse: WarehouseTarget,
    /// The transform stage's engine: gold-transform's DataFusion, or the EMR path
    /// (emr-launch, and jobs/spark/run_models.py on local PySpark with the machine's Java).
    #[arg(long, value_enum, default_value_t = Engine::Datafusion)]
    engine: Engine,
    /// gold-transform's MAX_BATCH_ROWS for the run (a batch over it is routed to EMR, which a
    /// local run does not start, and fails the accounting).
    #[arg(long, default_value_t = 2_000_000)]
    max_batch_rows: u64,
    /// s3-cleanup's gold and silver retention in days; 0 deletes a batch's files once it is
    /// loaded (after the KPIs are compared).
    #[arg(long, default_value_t = 0)]
    cleanup_retention_days: u32,
    /// Directory the run writes its report (report.html) and summary (summary.json) into.
    #[arg(long, default_value = "shopstream-run")]
    out: PathBuf,
    /// Write the HTML report here instead of <out>/report.html.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write no HTML report.
    #[arg(long, conflicts_with = "report")]
    no_report: bool,
    /// Write the summary JSON here instead of <out>/summary.json.
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Quality gate: the run exits with status 2 when the share of records refused or
    /// quarantined exceeds this fraction.
    #[arg(long, default_value_t = 0.10)]
    max_rejection_rate: f64,
}

#[derive(Args)]
struct ReportArgs {
    /// A run's summary JSON (`shopstream run` writes <out>/summary.json).
    #[arg(long, required_unless_present = "gold")]
    summary: Option<PathBuf>,
    /// A lake root holding gold/ (a directory or s3://bucket[/prefix]): the KPIs and fraud
    /// scores are answered from it instead of taken from the summary.
    #[arg(long)]
    gold: Option<String>,
    /// The report file to write.
    #[arg(long, default_value = "report.html")]
    out: PathBuf,
}

/// A share between 0 and 0.5.
fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=0.5).contains(&share) {
        Ok(share)
    } else {
        Err(format!("{share} is outside 0..0.5"))
    }
}

fn parse_faults(text: &str) -> Result<FaultSpec, String> {
    FaultSpec::parse(text).map_err(|e| e.to_string())
}

#[derive(Args)]
struct BenchArgs {
    /// Seconds spent on each measurement (after a warm-up run).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Measure stream-enrich's record path on this file's records instead of the built-in
    /// paths on generated traffic.
    #[arg(long)]
    input: Option<PathBuf>,
    /// The format of --input.
    #[arg(long, value_enum, default_value_t = InputFormat::Jsonl, requires = "input")]
    format: InputFormat,
    /// A Python baseline of the same path (../shared/baselines/py_enrich.py) to run on the
    /// same --input file (JSON lines), alternating with ours; prints the ratio.
    #[arg(long, requires = "input")]
    baseline: Option<PathBuf>,
    /// The Python that runs --baseline (needs pyarrow) [default: $SHOPSTREAM_PYTHON, the
    /// emulator venv's, else python3].
    #[arg(long, requires = "baseline")]
    python: Option<PathBuf>,
    /// Rounds of ours-then-baseline.
    #[arg(long, default_value_t = 3, requires = "baseline")]
    rounds: usize,
    /// The pipeline clock for time-based rules (RFC 3339) [default: now].
    #[arg(long)]
    now: Option<DateTime<Utc>>,
}

#[derive(Args)]
struct ValidateArgs {
    /// The file to check.
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = InputFormat::Jsonl)]
    format: InputFormat,
    /// Schema-registry ids of Confluent-framed records, e.g. "1=transaction,2=clickstream"
    /// (default: the bundled schemas under ids 1, 2 and 3; see AVRO_SCHEMA_IDS).
    #[arg(long)]
    schema: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Highest acceptable share of refused records (a fraction).
    #[arg(long, default_value_t = 0.05)]
    max_rejection_rate: f64,
    /// The clock for time-based rules (RFC 3339), for reproducible reports (default: now).
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Write one JSON line per refused record (position, event_id, reasons) to this file.
    #[arg(long)]
    rejects: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Generate(args) => run_generate(args),
        Command::Validate(args) => run_validate(args),
        Command::Run(args) => run_run(args),
        Command::Bench(args) => run_bench(args),
        Command::Report(args) => run_report(args),
        Command::Transform(args) => gold_runtime()?
            .block_on(shopstream_cli::gold::run_transform(args))
            .map(|()| ExitCode::SUCCESS),
        Command::Enrich(args) => {
            let counts = gold_runtime()?.block_on(shopstream_cli::enrich::run_enrich(args))?;
            println!(
                "{} records: {} silver rows, {} quarantined, {} objects",
                counts.records, counts.silver_rows, counts.quarantined, counts.objects
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Query(args) => gold_runtime()?
            .block_on(shopstream_cli::gold::run_query(args))
            .map(|()| ExitCode::SUCCESS),
    }
}

fn gold_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn parse_mix(spec: &str) -> Result<[(Entity, u64); 3]> {
    let mut mix = [
        (Entity::Transaction, 0),
        (Entity::Clickstream, 0),
        (Entity::Inventory, 0),
    ];
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .with_context(|| format!("{part:?} is not entity=weight"))?;
        let entity: Entity = name.parse().map_err(anyhow::Error::msg)?;
        let weight: u64 = weight
            .trim()
            .parse()
            .with_context(|| format!("{weight:?} is not a whole number"))?;
        if let Some(slot) = mix.iter_mut().find(|(e, _)| *e == entity) {
            slot.1 = weight;
        }
    }
    if mix.iter().all(|(_, w)| *w == 0) {
        bail!("--mix gives every entity a weight of 0");
    }
    Ok(mix)
}

fn run_generate(args: GenerateArgs) -> Result<ExitCode> {
    let mut anomalies = if args.no_anomalies {
        AnomalyRates::none()
    } else {
        AnomalyRates::default()
    };
    for spec in &args.anomalies {
        anomalies.set_from_spec(spec)?;
    }
    let config = GeneratorConfig {
        seed: args.seed,
        events: args.events,
        users: args.users.max(1),
        products: args.products.max(10),
        start: args
            .start
            .and_hms_opt(0, 0, 0)
            .context("valid start")?
            .and_utc(),
        span_hours: args.days.max(1).saturating_mul(24),
        mix: parse_mix(&args.mix)?,
        anomalies,
        fraud_rate: args.fraud_rate,
    };
    let show_progress = args
        .progress
        .unwrap_or_else(|| std::io::stderr().is_terminal());
    if let Some(target) = &args.to {
        return generate_to_target(target, &args, config, show_progress);
    }
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let bar = progress_bar(show_progress, args.events, "events");
    let started = Instant::now();
    // This thread's CPU time too: events per CPU-second is the per-core speed, whatever else
    // the machine is running.
    let cpu_started = shopstream_emulators::thread_cpu_time().ok();
    let mut generator = Generator::new(config);
    let counts = generate(&mut generator, args.format, &mut out, &mut |n| {
        if let Some(bar) = &bar {
            bar.set_position(n);
        }
    })?;
    drop(out);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_started
        .zip(shopstream_emulators::thread_cpu_time().ok())
        .map(|(start, end)| end.saturating_sub(start).as_secs_f64());
    let per_cpu_second = cpu_seconds
        .map(|cpu| {
            format!(
                ", {:.0} per CPU-second",
                counts.events as f64 / cpu.max(1e-9)
            )
        })
        .unwrap_or_default();
    eprintln!(
        "generated {} events in {seconds:.2} s ({:.0} events/s{per_cpu_second}): {}",
        counts.events,
        counts.events as f64 / seconds.max(1e-9),
        serde_json::to_string(&counts)?
    );
    Ok(ExitCode::SUCCESS)
}

/// A progress bar of `len` items (`None` when not shown).
fn progress_bar(show: bool, len: u64, unit: &str) -> Option<indicatif::ProgressBar> {
    show.then(|| {
        let bar = indicatif::ProgressBar::new(len);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{bar:40}} {{pos}}/{{len}} {unit}  {{per_sec}}  eta {{eta}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

/// `generate --to TARGET`: generates lazily, a request at a time, and sends.
fn generate_to_target(
    target: &Target,
    args: &GenerateArgs,
    config: GeneratorConfig,
    show_progress: bool,
) -> Result<ExitCode> {
    let encoding = match (args.format, target) {
        (OutputFormat::Jsonl, _) => PayloadEncoding::Json,
        (OutputFormat::Confluent, Target::Kinesis { .. } | Target::Kafka { .. }) => {
            PayloadEncoding::Confluent(shopstream::decode::AvroSchemas::bundled_defaults())
        }
        (OutputFormat::Confluent, Target::Http { .. }) => {
            bail!("the ingest API takes JSON: --format confluent goes with kafka:// or kinesis://")
        }
        (OutputFormat::Avro, _) => {
            bail!("--format avro makes a container file; with --to use jsonl or confluent")
        }
    };
    if !args.headers.is_empty() && !matches!(target, Target::Http { .. }) {
        bail!("--header applies to http(s):// targets only");
    }
    if args.endpoint.is_some() && !matches!(target, Target::Kinesis { .. }) {
        bail!("--endpoint applies to kinesis:// targets only");
    }
    let headers = args
        .headers
        .iter()
        .map(|spec| parse_header(spec))
        .collect::<Result<Vec<_>>>()?;
    let options = SendOptions {
        request_size: usize::from(args.request_size),
        concurrency: usize::from(args.concurrency),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let summary = runtime.block_on(async {
        let mut generator = Generator::new(config);
        let bar = progress_bar(show_progress, args.events, "events sent");
        let mut progress = |sent: u64| {
            if let Some(bar) = &bar {
                bar.set_position(sent);
            }
        };
        let summary = match target {
            Target::Http { url } => {
                let sender = HttpSender::new(url, headers)?;
                send_generated(&mut generator, &sender, target, options, &mut progress).await
            }
            Target::Kinesis { stream } => {
                let sdk = load_aws_config(args.endpoint.as_deref()).await?;
                let sender = KinesisSender::new(&sdk, stream, encoding);
                send_generated(&mut generator, &sender, target, options, &mut progress).await
            }
            Target::Kafka { bootstrap, topic } => {
                let sender = KafkaSender::connect(bootstrap, topic, encoding).await?;
                send_generated(&mut generator, &sender, target, options, &mut progress).await
            }
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        summary
    })?;
    eprint!("{summary}");
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if summary.tally.failed > 0 || summary.stopped_early.is_some() {
        eprintln!(
            "{} records could not be delivered to {target}",
            summary.tally.failed
        );
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_run(args: RunArgs) -> Result<ExitCode> {
    let live = args.rate.map(|rate| LiveOptions {
        rate,
        poll_interval: std::time::Duration::from_millis(args.poll_ms),
    });
    let events = match (args.rate, args.seconds) {
        (Some(rate), Some(seconds)) => u64::from(rate) * u64::from(seconds),
        _ => args.events,
    };
    let fraud_rate = args
        .fraud_rate
        .unwrap_or(if live.is_some() { LIVE_FRAUD_RATE } else { 0.0 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The handlers' EMF metrics go to <out>/metrics.jsonl, not into the summary on stdout.
    shopstream::metrics::capture_emitted();
    runtime.block_on(async {
        // Kept alive until the run ends; dropping them stops the emulators.
        let (_moto, stream_endpoint, tables_endpoint, services_endpoint) = match &args.endpoint
        {
            Some(endpoint) => (Vec::new(), endpoint.clone(), endpoint.clone(), endpoint.clone()),
            None => {
                // Three processes, for the Kinesis stream, the DynamoDB tables, and S3 with
                // EventBridge: each works on one request at a time.
                eprintln!("starting moto (local AWS emulator, three times) on 127.0.0.1 ...");
                let (stream, tables, services) = tokio::try_join!(
                    shopstream_emulators::MotoServer::start(),
                    shopstream_emulators::MotoServer::start(),
                    shopstream_emulators::MotoServer::start()
                )?;
                let endpoints = (
                    stream.endpoint_url().to_owned(),
                    tables.endpoint_url().to_owned(),
                    services.endpoint_url().to_owned(),
                );
                (
                    vec![stream, tables, services],
                    endpoints.0,
                    endpoints.1,
                    endpoints.2,
                )
            }
        };
        let endpoints = Endpoints {
            stream: shopstream::aws::local_sdk_config(&stream_endpoint).await,
            tables: shopstream::aws::local_sdk_config(&tables_endpoint).await,
            services: shopstream::aws::local_sdk_config(&services_endpoint).await,
        };
        let endpoint = if stream_endpoint == services_endpoint {
            stream_endpoint
        } else {
            format!("{stream_endpoint} (Kinesis), {tables_endpoint} (DynamoDB) and {services_endpoint}")
        };
        let options = RunOptions {
            generator: GeneratorConfig {
                seed: args.seed,
                events,
                fraud_rate,
                users: args.users.max(1),
                // A live stream: the events of the last full hour.
                start: last_full_hour(),
                span_hours: 1,
                ..GeneratorConfig::default()
            },
            request_size: args.request_size.map_or_else(
                || match live {
                    Some(live) => (live.rate / 10).clamp(1, 500) as usize,
                    None => 500,
                },
                usize::from,
            ),
            api_concurrency: args.api_concurrency.into(),
            batch_size: args.batch_size.into(),
            shards: args.shards.map_or_else(
                || match live {
                    Some(live) => default_live_shards(live.rate),
                    None => default_shards(events),
                },
                i32::from,
            ),
            shard_concurrency: args.shard_concurrency.into(),
            profiles: args.profiles,
            faults: args.faults.unwrap_or_default(),
            live,
            batch: live.is_none().then(|| BatchOptions {
                engine: args.engine,
                warehouse: args.warehouse.clone(),
                max_batch_rows: args.max_batch_rows,
                cleanup_retention_days: args.cleanup_retention_days,
            }),
        };
        eprintln!(
            "running {events} events through ingest-api → Kinesis → stream-enrich → S3{} at {endpoint} ...",
            if options.batch.is_some() {
                " → gold-transform → redshift-copy → s3-cleanup"
            } else {
                ""
            }
        );
        let summary = run_pipeline(&endpoints, &options).await?;
        print!("{summary}");
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        let summary_path = args
            .summary_json
            .clone()
            .unwrap_or_else(|| args.out.join("summary.json"));
        let summary_value = serde_json::to_value(&summary)?;
        std::fs::write(&summary_path, serde_json::to_vec_pretty(&summary_value)?)
            .with_context(|| format!("cannot write {}", summary_path.display()))?;
        println!("  summary: {}", summary_path.display());
        let metrics_path = args.out.join("metrics.jsonl");
        let mut metrics = shopstream::metrics::take_emitted().join("\n");
        metrics.push('\n');
        std::fs::write(&metrics_path, metrics)
            .with_context(|| format!("cannot write {}", metrics_path.display()))?;
        if !args.no_report {
            let report_path = args
                .report
                .clone()
                .unwrap_or_else(|| args.out.join("report.html"));
            let (kpis, fraud_scores) = summary
                .batch
                .as_ref()
                .map(|b| (b.kpis.clone(), b.fraud_scores.clone()))
                .unwrap_or_default();
            let html = shopstream_cli::report::render(&shopstream_cli::report::ReportData {
                title: format!("shopstream run — {events} events"),
                summary: summary_value,
                kpis,
                fraud_scores,
            })?;
            std::fs::write(&report_path, html)
                .with_context(|| format!("cannot write {}", report_path.display()))?;
            println!("  report: {}", report_path.display());
        }
        Ok(run_exit_code(&summary, args.max_rejection_rate))
    })
}

/// 3 when records are unaccounted for or stage counts disagree, else 2 when more than
/// `max_rejection_rate` of the records were refused or quarantined, else 0.
fn run_exit_code(summary: &shopstream_cli::run::RunSummary, max_rejection_rate: f64) -> ExitCode {
    let totals = &summary.totals;
    if totals.lost != 0 || !totals.disagreements.is_empty() {
        eprintln!(
            "{} records were lost, {} counts disagree: see the summary",
            totals.lost,
            totals.disagreements.len()
        );
        return ExitCode::from(3);
    }
    let rejected_share = totals.rejected as f64 / totals.r#in.max(1) as f64;
    if rejected_share > max_rejection_rate {
        eprintln!(
            "{:.2} % of the records were refused or quarantined, over the --max-rejection-rate of {:.2} %",
            rejected_share * 100.0,
            max_rejection_rate * 100.0
        );
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn run_report(args: ReportArgs) -> Result<ExitCode> {
    let summary: serde_json::Value = match &args.summary {
        Some(path) => serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )
        .with_context(|| format!("{} is not a summary JSON", path.display()))?,
        None => serde_json::Value::Null,
    };
    let (kpis, fraud_scores) = match &args.gold {
        Some(gold) => {
            let lake = gold_transform::lake::Lake::open(gold, &Env::from_process())?;
            gold_runtime()?.block_on(shopstream_cli::report::gold_answers(&lake))?
        }
        None => (
            serde_json::from_value(summary["batch"]["kpis"].clone())
                .context("the summary holds no KPIs (a live run's); give --gold")?,
            serde_json::from_value(summary["batch"]["fraud_scores"].clone()).unwrap_or_default(),
        ),
    };
    let title = match &args.summary {
        Some(path) => format!("shopstream report — {}", path.display()),
        None => format!(
            "shopstream report — {}",
            args.gold.as_deref().unwrap_or_default()
        ),
    };
    let html = shopstream_cli::report::render(&shopstream_cli::report::ReportData {
        title,
        summary,
        kpis,
        fraud_scores,
    })?;
    std::fs::write(&args.out, html)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("report: {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn run_bench(args: BenchArgs) -> Result<ExitCode> {
    let budget = std::time::Duration::from_secs_f64(args.seconds.max(0.1));
    if let Some(input) = &args.input {
        let now = args.now.unwrap_or_else(Utc::now);
        let json = match &args.baseline {
            Some(script) => {
                anyhow::ensure!(
                    args.format == InputFormat::Jsonl,
                    "the Python baseline reads JSON lines only"
                );
                let python = args.python.clone().unwrap_or_else(|| {
                    std::env::var_os("SHOPSTREAM_PYTHON")
                        .filter(|p| !p.is_empty())
                        .map_or_else(|| PathBuf::from("python3"), PathBuf::from)
                });
                let comparison = shopstream_cli::bench::compare_with_baseline(
                    input,
                    &python,
                    script,
                    now,
                    budget,
                    args.rounds,
                )?;
                print!("{comparison}");
                serde_json::to_vec_pretty(&comparison)?
            }
            None => {
                let measured = shopstream_cli::bench::bench_input(input, args.format, now, budget)?;
                println!(
                    "shopstream bench --input {}: {:.0} records/s, {:.0} records/cpu-s, {:.1} MB/s ({} records per iteration, {} iterations)",
                    input.display(),
                    measured.records_per_second,
                    measured.records_per_cpu_second,
                    measured.megabytes_per_second,
                    measured.records_per_iteration,
                    measured.iterations
                );
                serde_json::to_vec_pretty(&measured)?
            }
        };
        if let Some(path) = &args.json {
            std::fs::write(path, json)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = shopstream_cli::bench::run_benchmarks(budget)?;
    print!("{report}");
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn last_full_hour() -> DateTime<Utc> {
    let now = Utc::now();
    let hour_start = now.timestamp() - now.timestamp().rem_euclid(3_600);
    DateTime::from_timestamp(hour_start - 3_600, 0).unwrap_or(now)
}

fn run_validate(args: ValidateArgs) -> Result<ExitCode> {
    let env = Env::from_process();
    let mut core = CoreConfig::from_env(&env)?;
    if let Some(spec) = &args.schema {
        core.avro_schemas = shopstream::decode::AvroSchemas::from_mapping(spec)?;
    }
    let mut rejects_file = match &args.rejects {
        Some(path) => {
            Some(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create {}", path.display())
            })?))
        }
        None => None,
    };
    let report = validate_file(
        &args.file,
        ValidateOptions {
            format: args.format,
            schemas: core.avro_schemas,
            rules: core.validation,
            now: args.now.unwrap_or_else(Utc::now),
            rejects: rejects_file.as_mut().map(|w| w as &mut dyn Write),
        },
    )?;
    if let Some(mut file) = rejects_file {
        file.flush()?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if report.rejection_rate > args.max_rejection_rate {
        eprintln!(
            "rejection rate {:.4} exceeds --max-rejection-rate {}",
            report.rejection_rate, args.max_rejection_rate
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
