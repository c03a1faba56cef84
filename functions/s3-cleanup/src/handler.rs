//! The invocation: which batches to look at, then [`clean_batch`] for each.

use crate::clean::{clean_batch, protected_inputs, BatchReport, CleanContext, CleanError};
use crate::config::Config;
use crate::delete::Deleter;
use crate::plan::Retention;
use crate::request::{parse, RequestError, Scope};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use shopstream::ledger::{BatchState, Ledger};
use thiserror::Error;

pub struct Deps {
    pub config: Config,
    pub ledger: Ledger,
    pub deleter: Deleter,
    pub events: aws_sdk_eventbridge::Client,
}

impl Deps {
    pub fn new(
        config: Config,
        s3: aws_sdk_s3::Client,
        dynamodb: aws_sdk_dynamodb::Client,
        events: aws_sdk_eventbridge::Client,
    ) -> Self {
        Deps {
            ledger: Ledger::new(
                dynamodb,
                s3.clone(),
                &config.batches_table,
                &config.lake_bucket,
            ),
            deleter: Deleter {
                s3,
                bucket: config.lake_bucket.clone(),
                guard: config.guard.clone(),
                retry: config.retry,
            },
            events,
            config,
        }
    }
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Clean(#[from] CleanError),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dry_run: bool,
    pub batches: Vec<BatchReport>,
    /// Objects deleted (or that a dry run would delete) over all batches.
    pub objects: usize,
    pub bytes: u64,
    /// Keys that could not be deleted, over all batches.
    pub failed: usize,
}

impl Report {
    fn emit_metrics(&self) {
        let mut metrics = shopstream::metrics::MetricSet::for_function("s3-cleanup");
        let count = |outcome: &str| self.batches.iter().filter(|b| b.outcome == outcome).count();
        metrics.count(
            if self.dry_run {
                "ObjectsWouldDelete"
            } else {
                "ObjectsDeleted"
            },
            self.objects,
        );
        metrics.put(
            "BytesDeleted",
            if self.dry_run { 0.0 } else { self.bytes as f64 },
            shopstream::metrics::Unit::Bytes,
        );
        metrics.count("DeleteFailures", self.failed);
        metrics.count("BatchesCleaned", count("cleaned"));
        metrics.count("BatchesIncomplete", count("incomplete"));
        metrics.emit();
    }
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Report, HandlerError> {
    let request = parse(&event.payload)?;
    let dry_run = request.dry_run.unwrap_or(deps.config.dry_run);
    let records = match &request.scope {
        Scope::AllLoaded => deps
            .ledger
            .list_by_state(BatchState::Loaded)
            .await
            .map_err(CleanError::from)?,
        Scope::Batch(id) => match deps.ledger.get(id).await.map_err(CleanError::from)? {
            Some(record) => vec![record],
            None => {
                let report = Report {
                    dry_run,
                    batches: vec![BatchReport {
                        batch_id: id.clone(),
                        outcome: "unknown",
                        ..BatchReport::default()
                    }],
                    ..Report::default()
                };
                return Ok(report);
            }
        },
    };
    let protected = if records.iter().any(|r| r.state == BatchState::Loaded) {
        protected_inputs(&deps.ledger).await?
    } else {
        Default::default()
    };
    let ctx = CleanContext {
        ledger: &deps.ledger,
        deleter: &deps.deleter,
        events: &deps.events,
        event_bus: &deps.config.event_bus_name,
        retention: Retention {
            gold: deps.config.gold_retention,
            silver: deps.config.silver_retention,
        },
        now: chrono::Utc::now(),
        dry_run,
    };
    let mut report = Report {
        dry_run,
        ..Report::default()
    };
    for record in &records {
        let batch = clean_batch(&ctx, record, &protected).await?;
        report.objects += batch.keys.len();
        report.bytes += batch.bytes;
        report.failed += batch.failed.len();
        report.batches.push(batch);
    }
    tracing::info!(
        dry_run,
        batches = report.batches.len(),
        objects = report.objects,
        failed = report.failed,
        "cleanup finished"
    );
    report.emit_metrics();
    Ok(report)
}
