//! The batch half of `shopstream run`, with the real handlers on the emulated lake:
//! gold-transform on its `TransformDue` schedule until nothing is left to plan (the ledger in
//! DynamoDB), redshift-copy on each manifest's `Object Created` event against a local warehouse
//! ([`super::warehouse`]), and s3-cleanup on each `BatchLoaded` event the bus delivers, once
//! as a dry run and once for real.

use super::progress::StageProgress;
use super::warehouse::{self, KpiAnswer, WarehouseStage, WarehouseTarget};
use super::{Endpoints, Resources};
use anyhow::{bail, Context, Result};
use aws_config::SdkConfig;
use gold_transform::lake::Lake;
use gold_transform::Outcome;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use shopstream::config::Env;
use shopstream::ledger::Ledger;
use std::collections::BTreeMap;
use std::time::Instant;

/// The scheduler's event, as EventBridge Scheduler delivers it to gold-transform.
const TRANSFORM_DUE: &str = include_str!("../../../events/gold-transform/transform-due.json");
/// S3's `Object Created` event through EventBridge, which starts redshift-copy.
const MANIFEST_CREATED: &str = include_str!("../../../events/redshift-copy/manifest-created.json");
/// Invocations of gold-transform before the run gives up on the schedule emptying the lake.
const MAX_TRANSFORM_INVOCATIONS: usize = 1_000;
/// The Lambda deadline the handlers see (their polling budgets stop short of it).
const INVOCATION_SECONDS: u64 = 900;

/// Which engine runs the transform stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// gold-transform's DataFusion, inside the Lambda handler.
    Datafusion,
    /// The EMR path: emr-launch and jobs/spark/run_models.py on local PySpark.
    Spark,
}

#[derive(Debug, Clone)]
pub struct BatchOptions {
    pub engine: Engine,
    pub warehouse: WarehouseTarget,
    /// gold-transform's `MAX_BATCH_ROWS` (a bigger batch is routed to EMR, which the local run
    /// does not start: it is reported and fails the accounting).
    pub max_batch_rows: u64,
    /// s3-cleanup's `GOLD_RETENTION_DAYS` and `SILVER_RETENTION_DAYS`; 0 deletes a batch's
    /// files as soon as it is loaded.
    pub cleanup_retention_days: u32,
}

/// One batch gold-transform wrote.
#[derive(Debug, Clone, Serialize)]
pub struct GoldBatch {
    pub batch_id: String,
    pub manifest_key: String,
    pub silver_rows: u64,
    pub duplicates_dropped: u64,
    pub bad_inputs: u64,
    pub table_rows: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GoldStage {
    pub engine: Engine,
    pub invocations: u64,
    pub batches: Vec<GoldBatch>,
    /// Silver transaction rows read by every batch.
    pub silver_rows: u64,
    /// Rows of `final_fact` over every batch: one per distinct accepted `event_id`.
    pub fact_rows: u64,
    /// Silver rows whose `event_id` was already in the batch or in gold.
    pub duplicates_dropped: u64,
    /// Silver or quarantine objects that could not be read (each in its manifest).
    pub bad_inputs: u64,
    pub table_rows: BTreeMap<String, u64>,
    /// Batches over `MAX_BATCH_ROWS` / `MAX_BATCH_BYTES`, routed to EMR.
    pub too_large: Vec<String>,
    pub seconds: f64,
}

impl GoldStage {
    fn add(&mut self, batch: GoldBatch) {
        self.silver_rows += batch.silver_rows;
        self.fact_rows += batch
            .table_rows
            .get("final_fact")
            .copied()
            .unwrap_or_default();
        self.duplicates_dropped += batch.duplicates_dropped;
        self.bad_inputs += batch.bad_inputs;
        for (table, rows) in &batch.table_rows {
            *self.table_rows.entry(table.clone()).or_default() += rows;
        }
        self.batches.push(batch);
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanupStage {
    pub retention_days: u32,
    /// What the dry run listed.
    pub dry_run_objects: u64,
    pub dry_run_bytes: u64,
    /// What the real run deleted.
    pub deleted_objects: u64,
    pub deleted_bytes: u64,
    pub failed: u64,
    pub batches_cleaned: u64,
    /// Outcome per batch of the real run (`cleaned`, `partly_cleaned`, `not_due`, ...).
    pub outcomes: BTreeMap<String, String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchHalf {
    pub gold: GoldStage,
    /// Every KPI, answered by DataFusion over gold (before cleanup).
    pub kpis: Vec<KpiAnswer>,
    /// Fact rows per tenth of the fraud score (for the report).
    pub fraud_scores: Vec<(String, f64)>,
    pub kpi_seconds: f64,
    pub warehouse: Option<WarehouseStage>,
    pub cleanup: Option<CleanupStage>,
}

pub(super) fn env_for(
    resources: &Resources,
    services: &SdkConfig,
    extra: &[(&str, String)],
) -> Env {
    let endpoint = services.endpoint_url().unwrap_or_default().to_owned();
    let mut pairs: Vec<(String, String)> = vec![
        ("LAKE_BUCKET".into(), resources.bucket.clone()),
        ("BATCHES_TABLE".into(), resources.batches_table.clone()),
        ("LEDGER_TABLE".into(), resources.batches_table.clone()),
        ("EVENT_BUS_NAME".into(), resources.bus.clone()),
        ("AWS_ENDPOINT_URL".into(), endpoint),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Env::from_pairs(pairs)
}

/// A Lambda context whose deadline is [`INVOCATION_SECONDS`] away.
pub(super) fn context() -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
    context.deadline = now_ms + INVOCATION_SECONDS * 1_000;
    context.request_id = format!("local-{now_ms}");
    context
}

pub(super) fn ledger(endpoints: &Endpoints, resources: &Resources) -> Ledger {
    Ledger::new(
        aws_sdk_dynamodb::Client::new(&endpoints.tables),
        shopstream::aws::s3_client(&endpoints.services),
        &resources.batches_table,
        &resources.bucket,
    )
}

/// Runs the batch half after the streaming stages have filled silver and quarantine
/// (`silver_transaction_rows` of them read back: what gold-transform's progress counts to).
pub async fn run_batch_half(
    endpoints: &Endpoints,
    resources: &Resources,
    options: &BatchOptions,
    silver_transaction_rows: u64,
) -> Result<BatchHalf> {
    let gold = transform_all(endpoints, resources, options, silver_transaction_rows).await?;
    eprintln!(
        "  gold-transform: {} batches, {} fact rows, {} duplicates dropped, in {:.1} s",
        gold.batches.len(),
        gold.fact_rows,
        gold.duplicates_dropped,
        gold.seconds
    );
    let gold_lake = Lake::s3(
        &resources.bucket,
        &env_for(resources, &endpoints.services, &[]),
    )
    .context("opening the gold lake")?;
    let kpi_started = Instant::now();
    let (kpis, fraud_scores) = crate::report::gold_answers(&gold_lake).await?;
    let kpi_seconds = kpi_started.elapsed().as_secs_f64();
    eprintln!(
        "  KPIs: {} answered by DataFusion over gold in {kpi_seconds:.1} s",
        kpis.len()
    );
    let warehouse = match &options.warehouse {
        WarehouseTarget::None => None,
        target => {
            let stage =
                warehouse::load_and_compare(endpoints, resources, target, &gold, &kpis).await?;
            eprintln!(
                "  redshift-copy: {} batches loaded, {} fact rows in the warehouse, in {:.1} s; {} of {} KPIs identical on both engines",
                stage.batches_loaded,
                stage.table_rows.get("final_fact").copied().unwrap_or_default(),
                stage.load_seconds,
                stage.kpis.iter().filter(|k| k.identical).count(),
                stage.kpis.len()
            );
            Some(stage)
        }
    };
    let cleanup = match &warehouse {
        Some(stage) if stage.batches_loaded > 0 => {
            let cleanup = clean_loaded(endpoints, resources, options).await?;
            eprintln!(
                "  s3-cleanup: dry run {} objects, then {} deleted ({} batches cleaned), in {:.1} s",
                cleanup.dry_run_objects,
                cleanup.deleted_objects,
                cleanup.batches_cleaned,
                cleanup.seconds
            );
            Some(cleanup)
        }
        _ => None,
    };
    Ok(BatchHalf {
        gold,
        kpis,
        fraud_scores,
        kpi_seconds,
        warehouse,
        cleanup,
    })
}

/// gold-transform on its schedule until it answers that nothing is left to do.
async fn transform_all(
    endpoints: &Endpoints,
    resources: &Resources,
    options: &BatchOptions,
    silver_transaction_rows: u64,
) -> Result<GoldStage> {
    let started = Instant::now();
    // On the EMR path every batch (of more than one row) is too large for the Lambda.
    let max_batch_rows = match options.engine {
        Engine::Datafusion => options.max_batch_rows,
        Engine::Spark => 1,
    };
    let env = env_for(
        resources,
        &endpoints.services,
        &[("MAX_BATCH_ROWS", max_batch_rows.to_string())],
    );
    let deps = gold_transform::Deps {
        ledger: ledger(endpoints, resources),
        lake: Lake::s3(&resources.bucket, &env).context("opening the lake")?,
        events: aws_sdk_eventbridge::Client::new(&endpoints.services),
        config: gold_transform::Config::from_env(&env)?,
    };
    let schedule: Value = serde_json::from_str(TRANSFORM_DUE)?;
    let spark = match options.engine {
        Engine::Datafusion => None,
        Engine::Spark => Some((
            shopstream_emulators::PySpark::locate()
                .context("PySpark for --engine spark (scripts/install-emulators.sh spark)")?,
            super::spark::emr_launch_deps(endpoints, resources, ledger(endpoints, resources))?,
        )),
    };
    let mut stage = GoldStage {
        engine: options.engine,
        invocations: 0,
        batches: Vec::new(),
        silver_rows: 0,
        fact_rows: 0,
        duplicates_dropped: 0,
        bad_inputs: 0,
        table_rows: BTreeMap::new(),
        too_large: Vec::new(),
        seconds: 0.0,
    };
    // The number of batches is known only when the schedule finds nothing left: the bar
    // counts silver rows against those read back.
    let progress = StageProgress::new("gold-transform", silver_transaction_rows, "rows");
    for _ in 0..MAX_TRANSFORM_INVOCATIONS {
        progress.set(stage.silver_rows);
        stage.invocations += 1;
        let outcome = gold_transform::handler(&deps, LambdaEvent::new(schedule.clone(), context()))
            .await
            .context("gold-transform")?;
        match outcome {
            Outcome::Transformed {
                batch_id,
                manifest_key,
                table_rows,
                silver_rows,
                duplicates_dropped,
                bad_inputs,
            } => stage.add(GoldBatch {
                batch_id,
                manifest_key,
                silver_rows,
                duplicates_dropped,
                bad_inputs,
                table_rows,
            }),
            Outcome::TooLarge { batch_id, .. } => match &spark {
                None => stage.too_large.push(batch_id),
                Some((pyspark, emr)) => {
                    // The event gold-transform published, as the bus delivers it to
                    // emr-launch.
                    let too_large =
                        super::setup::drain_batch_events(&endpoints.services, resources)
                            .await?
                            .into_iter()
                            .find(|e| {
                                e["detail-type"] == "TransformTooLarge"
                                    && e["detail"]["batch_id"] == batch_id.as_str()
                            })
                            .with_context(|| {
                                format!("no TransformTooLarge event for {batch_id}")
                            })?;
                    let batch =
                        super::spark::transform_on_spark(&deps.lake, emr, pyspark, too_large)
                            .await?;
                    stage.add(batch);
                }
            },
            Outcome::NothingToDo => {
                progress.finish();
                stage.seconds = started.elapsed().as_secs_f64();
                return Ok(stage);
            }
            Outcome::AlreadyTransformed { .. } | Outcome::Skipped { .. } => {}
        }
    }
    bail!("gold-transform still had work after {MAX_TRANSFORM_INVOCATIONS} invocations")
}

/// The `Object Created` event S3 sends through EventBridge for `key` in `bucket`.
pub(super) fn manifest_created(bucket: &str, key: &str) -> Result<Value> {
    let mut event: Value = serde_json::from_str(MANIFEST_CREATED)?;
    event["detail"]["bucket"]["name"] = Value::from(bucket);
    event["detail"]["object"]["key"] = Value::from(key);
    event["resources"] = serde_json::json!([format!("arn:aws:s3:::{bucket}")]);
    event["time"] = Value::from(chrono::Utc::now().to_rfc3339());
    Ok(event)
}

/// s3-cleanup for every `BatchLoaded` event on the run's batch-event queue: a dry run of each,
/// then the real run.
async fn clean_loaded(
    endpoints: &Endpoints,
    resources: &Resources,
    options: &BatchOptions,
) -> Result<CleanupStage> {
    let started = Instant::now();
    let days = options.cleanup_retention_days.to_string();
    let env = env_for(
        resources,
        &endpoints.services,
        &[
            ("GOLD_RETENTION_DAYS", days.clone()),
            ("SILVER_RETENTION_DAYS", days),
        ],
    );
    let deps = s3_cleanup::Deps::new(
        s3_cleanup::Config::from_env(&env)?,
        shopstream::aws::s3_client(&endpoints.services),
        aws_sdk_dynamodb::Client::new(&endpoints.tables),
        aws_sdk_eventbridge::Client::new(&endpoints.services),
    );
    let loaded: Vec<Value> = super::setup::drain_batch_events(&endpoints.services, resources)
        .await?
        .into_iter()
        .filter(|event| event["detail-type"] == "BatchLoaded")
        .collect();
    let mut stage = CleanupStage {
        retention_days: options.cleanup_retention_days,
        ..CleanupStage::default()
    };
    for event in &loaded {
        // The manual request's form (as from the console), for the batch the event names.
        let batch_id = event["detail"]["batch_id"].clone();
        let dry_run = serde_json::json!({"batchId": batch_id, "dryRun": true});
        let report = s3_cleanup::handler(&deps, LambdaEvent::new(dry_run, context()))
            .await
            .context("s3-cleanup (dry run)")?;
        stage.dry_run_objects += report.objects as u64;
        stage.dry_run_bytes += report.bytes;
    }
    for event in loaded {
        let report = s3_cleanup::handler(&deps, LambdaEvent::new(event, context()))
            .await
            .context("s3-cleanup")?;
        stage.deleted_objects += report.objects as u64;
        stage.deleted_bytes += report.bytes;
        stage.failed += report.failed as u64;
        for batch in report.batches {
            if batch.outcome == "cleaned" {
                stage.batches_cleaned += 1;
            }
            stage
                .outcomes
                .insert(batch.batch_id, batch.outcome.to_owned());
        }
    }
    stage.seconds = started.elapsed().as_secs_f64();
    Ok(stage)
}
