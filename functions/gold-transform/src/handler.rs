//! The invocation: choose a batch (an explicit one, a planned one left by an earlier
//! invocation, or a new plan), transform it, record it in the ledger and announce it.

use crate::config::Config;
use crate::engine::EngineLimits;
use crate::lake::{Lake, LakeError};
use crate::transform::{
    list_candidates, transform, TransformError, TransformLimits, TransformOutcome, ENGINE,
};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use shopstream::ledger::events::{publish, BatchTransformed, PublishError, TransformTooLarge};
use shopstream::ledger::{
    BatchRecord, BatchState, Ledger, LedgerError, PlanOutcome, TransitionFields,
};
use shopstream::metrics::{MetricSet, Unit};
use std::collections::BTreeMap;
use std::time::Instant;

pub const FUNCTION: &str = "gold-transform";
pub const ROUTE_LAMBDA: &str = "lambda";
pub const ROUTE_EMR: &str = "emr";

pub struct Deps {
    pub ledger: Ledger,
    /// The lake bucket through object_store.
    pub lake: Lake,
    pub events: aws_sdk_eventbridge::Client,
    pub config: Config,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("batch {batch_id}: {source}")]
    Transform {
        batch_id: String,
        #[source]
        source: TransformError,
    },
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("batch {0} is not in the ledger")]
    UnknownBatch(String),
}

/// What the invocation did (its response).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Transformed {
        batch_id: String,
        manifest_key: String,
        table_rows: BTreeMap<String, u64>,
        silver_rows: u64,
        duplicates_dropped: u64,
        bad_inputs: u64,
    },
    /// Another invocation recorded the same batch first (its files are the same bytes).
    AlreadyTransformed { batch_id: String },
    TooLarge {
        batch_id: String,
        input_objects: u64,
        input_bytes: u64,
        input_rows: u64,
    },
    /// Nothing to transform: every silver object is in a batch, or another planner is at it.
    NothingToDo,
    /// The requested batch is not waiting for a transform.
    Skipped { batch_id: String, state: BatchState },
}

/// An explicit batch: `{"batch_id": "..."}` or an EventBridge event with `detail.batch_id`.
pub fn requested_batch(event: &Value) -> Option<String> {
    event
        .get("batch_id")
        .or_else(|| event.get("detail").and_then(|d| d.get("batch_id")))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn waiting_for_lambda(record: &BatchRecord) -> bool {
    record.state == BatchState::Planned
        && record.inputs_claimed
        && record.fields.route.as_deref() != Some(ROUTE_EMR)
}

async fn choose(
    deps: &Deps,
    event: &Value,
    now: DateTime<Utc>,
) -> Result<Result<BatchRecord, Outcome>, HandlerError> {
    if let Some(batch_id) = requested_batch(event) {
        let record = deps
            .ledger
            .get(&batch_id)
            .await?
            .ok_or_else(|| HandlerError::UnknownBatch(batch_id.clone()))?;
        if record.state == BatchState::Planned && record.inputs_claimed {
            return Ok(Ok(record));
        }
        return Ok(Err(Outcome::Skipped {
            batch_id,
            state: record.state,
        }));
    }
    // A batch an earlier invocation planned but did not finish comes first.
    if let Some(record) = deps
        .ledger
        .list_by_state(BatchState::Planned)
        .await?
        .into_iter()
        .find(waiting_for_lambda)
    {
        return Ok(Ok(record));
    }
    let candidates = list_candidates(&deps.lake).await?;
    match deps
        .ledger
        .plan(candidates, deps.config.max_batch_objects, now)
        .await?
    {
        PlanOutcome::Planned(batch) => Ok(Ok(batch.record)),
        PlanOutcome::NothingToPlan | PlanOutcome::PlannedElsewhere { .. } => {
            Ok(Err(Outcome::NothingToDo))
        }
    }
}

fn limits(config: &Config) -> TransformLimits {
    TransformLimits {
        max_rows: config.max_batch_rows,
        max_bytes: config.max_batch_bytes,
        part_rows: config.gold_part_rows,
        engine: EngineLimits {
            memory_bytes: config.memory_limit_bytes,
            ..EngineLimits::default()
        },
    }
}

/// Handles one invocation at `now`.
pub async fn run(
    deps: &Deps,
    event: &Value,
    now: DateTime<Utc>,
    metrics: &mut MetricSet,
) -> Result<Outcome, HandlerError> {
    let record = match choose(deps, event, now).await? {
        Ok(record) => record,
        Err(outcome) => return Ok(outcome),
    };
    let batch_id = record.batch_id.clone();
    let plan = deps.ledger.read_plan(&batch_id).await?;
    let started = Instant::now();
    let outcome = transform(
        &deps.lake,
        &deps.lake,
        &plan,
        &limits(&deps.config),
        &|_| {},
    )
    .await
    .map_err(|source| HandlerError::Transform {
        batch_id: batch_id.clone(),
        source,
    })?;
    match outcome {
        TransformOutcome::TooLarge {
            input_objects,
            input_bytes,
            input_rows,
        } => {
            tracing::warn!(
                batch_id = %batch_id, input_objects, input_bytes, input_rows,
                max_rows = deps.config.max_batch_rows, max_bytes = deps.config.max_batch_bytes,
                "batch over the Lambda's limits: routed to EMR"
            );
            metrics.count("TransformTooLarge", 1);
            deps.ledger
                .annotate(
                    &batch_id,
                    BatchState::Planned,
                    &TransitionFields {
                        route: Some(ROUTE_EMR.into()),
                        input_rows: (input_rows > 0).then_some(input_rows),
                        ..TransitionFields::default()
                    },
                    now,
                )
                .await?;
            let event = TransformTooLarge {
                batch_id: batch_id.clone(),
                bucket: deps.config.lake_bucket.clone(),
                plan_key: plan.key(),
                input_objects,
                input_bytes,
                input_rows,
                max_rows: deps.config.max_batch_rows,
                max_bytes: deps.config.max_batch_bytes,
            };
            publish(&deps.events, &deps.config.event_bus, &event).await?;
            Ok(Outcome::TooLarge {
                batch_id,
                input_objects,
                input_bytes,
                input_rows,
            })
        }
        TransformOutcome::Transformed(manifest) => {
            let manifest_key = shopstream::lake::manifest_key(&batch_id);
            let table_rows: BTreeMap<String, u64> = manifest
                .tables
                .iter()
                .map(|(table, output)| (table.clone(), output.rows))
                .collect();
            let bad_inputs = manifest.bad_inputs.len() as u64;
            metrics.count("SilverRows", manifest.counts.silver_rows as usize);
            metrics.count("QuarantineRows", manifest.counts.quarantine_rows as usize);
            metrics.count(
                "FactRows",
                table_rows.get("final_fact").copied().unwrap_or(0) as usize,
            );
            metrics.count("DuplicatesDropped", manifest.duplicates_dropped() as usize);
            metrics.count("BadSilverObjects", bad_inputs as usize);
            metrics.put(
                "BatchLatency",
                started.elapsed().as_secs_f64() * 1000.0,
                Unit::Milliseconds,
            );
            for bad in &manifest.bad_inputs {
                tracing::warn!(batch_id = %batch_id, key = %bad.key, error = %bad.error, "bad input left out of the batch");
            }
            let fields = TransitionFields {
                route: Some(ROUTE_LAMBDA.into()),
                manifest_key: Some(manifest_key.clone()),
                input_rows: Some(manifest.counts.silver_rows),
                output_rows: table_rows.get("final_fact").copied(),
                bad_inputs: Some(bad_inputs),
                ..TransitionFields::default()
            };
            match deps
                .ledger
                .transition(
                    &batch_id,
                    BatchState::Planned,
                    BatchState::Transformed,
                    &fields,
                    now,
                )
                .await
            {
                Ok(_) => {}
                Err(LedgerError::WrongState { .. }) => {
                    return Ok(Outcome::AlreadyTransformed { batch_id });
                }
                Err(e) => return Err(e.into()),
            }
            let event = BatchTransformed {
                batch_id: batch_id.clone(),
                bucket: deps.config.lake_bucket.clone(),
                manifest_key: manifest_key.clone(),
                engine: ENGINE.into(),
                table_rows: table_rows.clone(),
                duplicates_dropped: manifest.duplicates_dropped(),
                bad_inputs,
            };
            publish(&deps.events, &deps.config.event_bus, &event).await?;
            tracing::info!(batch_id = %batch_id, silver_rows = manifest.counts.silver_rows, "batch transformed");
            Ok(Outcome::Transformed {
                batch_id,
                manifest_key,
                table_rows,
                silver_rows: manifest.counts.silver_rows,
                duplicates_dropped: manifest.duplicates_dropped(),
                bad_inputs,
            })
        }
    }
}

/// The Lambda entry point: the schedule (`TransformDue`) or an explicit batch.
pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Outcome, HandlerError> {
    let mut metrics = MetricSet::for_function(FUNCTION);
    let result = run(deps, &event.payload, Utc::now(), &mut metrics).await;
    if result.is_err() {
        metrics.count("TransformFailed", 1);
    }
    metrics.emit();
    result
}
