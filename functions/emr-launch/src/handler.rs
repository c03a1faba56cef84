//! One invocation: launch a batch, settle a finished job, or sweep the ledger.
//!
//! Launching is idempotent per batch. The ledger is read first: a batch already `LAUNCHED`
//! launches nothing and the answer says what runs it. Otherwise what an earlier invocation may
//! have started without recording it (it died between the two) is looked up by name before
//! anything new is started, and `PLANNED → LAUNCHED` is a conditional write holding the
//! cluster and step (or application and job run) ids. The loser of a race cancels what it
//! started.
//!
//! Settling moves `LAUNCHED → TRANSFORMED` only when the manifest exists, verifies (format,
//! checksum, batch id) and every gold file it lists is in the lake with its size; otherwise,
//! and for a failed, cancelled or interrupted job, `LAUNCHED → TRANSFORM_FAILED` with the
//! reason. Events name their step or job run; an event for a step the ledger does not hold
//! for that batch (an earlier attempt's) changes nothing.

use crate::config::{Config, Target};
use crate::job_status::{self, JobOutcome};
use crate::launch::{self, batch_id_from_name, Clients, Launch, LaunchError};
use crate::manifest_check::{self, Verified};
use crate::trigger::{Trigger, TriggerError};
use chrono::{DateTime, TimeDelta, Utc};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use shopstream::ledger::events::{publish, BatchTransformed};
use shopstream::ledger::{
    plan_key, truncate_utf8, BatchRecord, BatchState, Ledger, LedgerError, TransitionFields,
    MAX_ERROR_BYTES,
};
use shopstream::metrics::{MetricSet, Unit};
use thiserror::Error;

pub const FUNCTION: &str = "emr-launch";
/// `route` of a batch run on an EMR cluster; its `cluster_id`/`step_id` are the cluster's.
pub const ROUTE_EMR: &str = "emr";
/// `route` of a batch run on EMR Serverless; `cluster_id` holds the application id and
/// `step_id` the job-run id.
pub const ROUTE_EMR_SERVERLESS: &str = "emr-serverless";
/// A `PLANNED` batch routed to EMR that nobody launched for this long (its TransformTooLarge
/// event was lost) is launched by the sweep.
pub const REDRIVE_AFTER: TimeDelta = TimeDelta::minutes(5);

#[derive(Debug)]
pub struct Deps {
    pub config: Config,
    pub clients: Clients,
    pub s3: aws_sdk_s3::Client,
    pub ledger: Ledger,
    pub events: aws_sdk_eventbridge::Client,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error("batch {0} is not in the ledger")]
    UnknownBatch(String),
}

/// What an invocation did, one entry per batch it touched (also the invocation's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Outcome {
    /// Started a job for the batch.
    Launched {
        batch_id: String,
        launch: Launch,
    },
    /// Found a job an earlier invocation started but did not record, and recorded it.
    Adopted {
        batch_id: String,
        launch: Launch,
    },
    /// The ledger already holds a launch for the batch: nothing was started.
    AlreadyLaunched {
        batch_id: String,
        launch: Launch,
    },
    /// The batch is in a state that is not launched from (e.g. already transformed).
    NotLaunchable {
        batch_id: String,
        state: BatchState,
    },
    /// Another invocation recorded its launch first; this one cancelled its own.
    LostRace {
        batch_id: String,
        cancelled: Launch,
    },
    Transformed {
        batch_id: String,
        manifest_key: String,
    },
    TransformFailed {
        batch_id: String,
        reason: String,
    },
    /// The job has not finished.
    StillRunning {
        batch_id: String,
        launch: Launch,
    },
    /// An event about a job the ledger does not hold for its batch (or not ours at all).
    Ignored {
        detail: String,
    },
    /// The sweep could not check this batch; it is checked again on the next schedule.
    SweepError {
        batch_id: String,
        error: String,
    },
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    pub outcomes: Vec<Outcome>,
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Response, HandlerError> {
    let started = Utc::now();
    let mut metrics = MetricSet::for_function(FUNCTION);
    metrics.property("requestId", event.context.request_id.clone());
    metrics.property("mode", deps.config.target.mode());
    let result = dispatch(deps, &event.payload, started).await;
    match &result {
        Ok(response) => {
            for outcome in &response.outcomes {
                tracing::info!(outcome = %serde_json::to_string(outcome).unwrap_or_default(), "batch");
            }
            count_outcomes(&mut metrics, &response.outcomes);
        }
        Err(error) => {
            tracing::error!(%error, "emr-launch failed");
            metrics.count("InvocationErrors", 1);
        }
    }
    metrics.put(
        "InvocationLatency",
        (Utc::now() - started).num_milliseconds() as f64,
        Unit::Milliseconds,
    );
    metrics.emit();
    result
}

fn count_outcomes(metrics: &mut MetricSet, outcomes: &[Outcome]) {
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    metrics.count(
        "BatchesLaunched",
        count(|o| matches!(o, Outcome::Launched { .. } | Outcome::Adopted { .. })),
    );
    metrics.count(
        "LaunchesSkipped",
        count(|o| {
            matches!(
                o,
                Outcome::AlreadyLaunched { .. }
                    | Outcome::NotLaunchable { .. }
                    | Outcome::LostRace { .. }
            )
        }),
    );
    metrics.count(
        "TransformsSucceeded",
        count(|o| matches!(o, Outcome::Transformed { .. })),
    );
    metrics.count(
        "TransformsFailed",
        count(|o| matches!(o, Outcome::TransformFailed { .. })),
    );
    metrics.count(
        "SweepErrors",
        count(|o| matches!(o, Outcome::SweepError { .. })),
    );
    metrics.count(
        "JobsRunning",
        count(|o| matches!(o, Outcome::StillRunning { .. })),
    );
}

async fn dispatch(
    deps: &Deps,
    payload: &Value,
    now: DateTime<Utc>,
) -> Result<Response, HandlerError> {
    let outcomes = match Trigger::from_event(payload)? {
        Trigger::TooLarge(event) => vec![launch_batch(deps, &event.batch_id, now).await?],
        Trigger::Launch { batch_id } => vec![launch_batch(deps, &batch_id, now).await?],
        Trigger::Sweep => sweep(deps, now).await?,
        Trigger::StepStatus(change) => {
            let Some(batch_id) = batch_id_from_name(&deps.config.job, &change.name) else {
                return Ok(ignored(format!(
                    "step {} ({:?}) is not a shopstream gold step",
                    change.step_id, change.name
                )));
            };
            let launch = Launch::Step {
                cluster_id: change.cluster_id.clone(),
                step_id: change.step_id.clone(),
            };
            let outcome = job_status::step_outcome(&change.state, String::new);
            let outcome = match outcome {
                // The event's message is generic; DescribeStep has the failure details.
                JobOutcome::Failed { .. } => {
                    let report = job_status::describe_step(
                        &deps.clients.emr,
                        &change.cluster_id,
                        &change.step_id,
                    )
                    .await;
                    let detail = report
                        .ok()
                        .and_then(|r| r.failure)
                        .unwrap_or_else(|| change.message.clone());
                    job_status::step_outcome(&change.state, || detail)
                }
                other => other,
            };
            vec![settle(deps, batch_id, &launch, outcome, now).await?]
        }
        Trigger::JobRunState(change) => {
            let Some(batch_id) = batch_id_from_name(&deps.config.job, &change.job_run_name) else {
                return Ok(ignored(format!(
                    "job run {} ({:?}) is not a shopstream gold job run",
                    change.job_run_id, change.job_run_name
                )));
            };
            let launch = Launch::JobRun {
                application_id: change.application_id.clone(),
                job_run_id: change.job_run_id.clone(),
            };
            let outcome = match job_status::job_run_outcome(&change.state, String::new) {
                JobOutcome::Failed { .. } => {
                    let details = job_status::get_job_run(
                        &deps.clients.serverless,
                        &change.application_id,
                        &change.job_run_id,
                    )
                    .await
                    .map(|r| r.details)
                    .unwrap_or_default();
                    job_status::job_run_outcome(&change.state, || details)
                }
                other => other,
            };
            vec![settle(deps, batch_id, &launch, outcome, now).await?]
        }
    };
    Ok(Response { outcomes })
}

fn ignored(detail: String) -> Response {
    Response {
        outcomes: vec![Outcome::Ignored { detail }],
    }
}

fn route(config: &Config) -> &'static str {
    match config.target {
        Target::Serverless(_) => ROUTE_EMR_SERVERLESS,
        _ => ROUTE_EMR,
    }
}

/// The launch the ledger holds for a batch, if any.
pub fn recorded_launch(record: &BatchRecord) -> Option<Launch> {
    let fields = &record.fields;
    let (Some(cluster_id), Some(step_id)) = (&fields.cluster_id, &fields.step_id) else {
        return None;
    };
    Some(match fields.route.as_deref() {
        Some(ROUTE_EMR_SERVERLESS) => Launch::JobRun {
            application_id: cluster_id.clone(),
            job_run_id: step_id.clone(),
        },
        _ => Launch::Step {
            cluster_id: cluster_id.clone(),
            step_id: step_id.clone(),
        },
    })
}

fn launch_fields(config: &Config, launch: &Launch) -> TransitionFields {
    let (cluster_id, step_id) = match launch {
        Launch::Step {
            cluster_id,
            step_id,
        } => (cluster_id, step_id),
        Launch::JobRun {
            application_id,
            job_run_id,
        } => (application_id, job_run_id),
    };
    TransitionFields {
        route: Some(route(config).to_owned()),
        cluster_id: Some(cluster_id.clone()),
        step_id: Some(step_id.clone()),
        ..TransitionFields::default()
    }
}

/// Launches `batch_id` from `PLANNED` (or `TRANSFORM_FAILED`, a retry) unless the ledger
/// already holds a launch for it.
pub async fn launch_batch(
    deps: &Deps,
    batch_id: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, HandlerError> {
    let record = deps
        .ledger
        .get(batch_id)
        .await?
        .ok_or_else(|| HandlerError::UnknownBatch(batch_id.to_owned()))?;
    match record.state {
        BatchState::Launched => {
            return Ok(match recorded_launch(&record) {
                Some(launch) => Outcome::AlreadyLaunched {
                    batch_id: batch_id.to_owned(),
                    launch,
                },
                None => Outcome::NotLaunchable {
                    batch_id: batch_id.to_owned(),
                    state: record.state,
                },
            })
        }
        BatchState::Planned if record.inputs_claimed => {}
        BatchState::TransformFailed => {}
        state => {
            return Ok(Outcome::NotLaunchable {
                batch_id: batch_id.to_owned(),
                state,
            })
        }
    }
    let inputs_uri = format!("s3://{}/{}", deps.config.lake_bucket, plan_key(batch_id));
    // A retry must not adopt the failed attempt's job, even where EMR still lists it.
    let superseded = match record.state {
        BatchState::TransformFailed => recorded_launch(&record),
        _ => None,
    };
    let started = launch::start(
        &deps.clients,
        &deps.config,
        batch_id,
        &inputs_uri,
        superseded.as_ref(),
    )
    .await?;
    let fields = launch_fields(&deps.config, &started.launch);
    match deps
        .ledger
        .transition(batch_id, record.state, BatchState::Launched, &fields, now)
        .await
    {
        Ok(_) if started.found_existing => Ok(Outcome::Adopted {
            batch_id: batch_id.to_owned(),
            launch: started.launch,
        }),
        Ok(_) => Ok(Outcome::Launched {
            batch_id: batch_id.to_owned(),
            launch: started.launch,
        }),
        Err(LedgerError::WrongState { .. }) => {
            let winner = deps
                .ledger
                .get(batch_id)
                .await?
                .and_then(|r| recorded_launch(&r));
            if winner.as_ref() == Some(&started.launch) {
                return Ok(Outcome::AlreadyLaunched {
                    batch_id: batch_id.to_owned(),
                    launch: started.launch,
                });
            }
            // Serverless answers a repeated client token with the winner's run: never cancel that.
            if !started.found_existing && !matches!(started.launch, Launch::JobRun { .. }) {
                launch::cancel(&deps.clients, &deps.config, &started.launch).await?;
            }
            Ok(Outcome::LostRace {
                batch_id: batch_id.to_owned(),
                cancelled: started.launch,
            })
        }
        Err(other) => Err(other.into()),
    }
}

/// Applies a job's outcome to its batch, if the ledger holds that job for the batch.
pub async fn settle(
    deps: &Deps,
    batch_id: &str,
    launch: &Launch,
    outcome: JobOutcome,
    now: DateTime<Utc>,
) -> Result<Outcome, HandlerError> {
    let Some(record) = deps.ledger.get(batch_id).await? else {
        return Ok(Outcome::Ignored {
            detail: format!("{launch} names batch {batch_id}, which is not in the ledger"),
        });
    };
    if record.state != BatchState::Launched || recorded_launch(&record).as_ref() != Some(launch) {
        return Ok(Outcome::Ignored {
            detail: format!(
                "{launch}: batch {batch_id} is {} with {}",
                record.state,
                recorded_launch(&record)
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "no launch".into())
            ),
        });
    }
    match outcome {
        JobOutcome::Running => Ok(Outcome::StillRunning {
            batch_id: batch_id.to_owned(),
            launch: launch.clone(),
        }),
        JobOutcome::Failed { reason } => fail(deps, batch_id, &reason, now).await,
        JobOutcome::Succeeded => {
            match manifest_check::verify(&deps.s3, &deps.config.lake_bucket, batch_id).await {
                Ok(verified) => transformed(deps, batch_id, verified, now).await,
                Err(problem) => {
                    fail(
                        deps,
                        batch_id,
                        &format!(
                            "{launch} completed but its manifest does not check out: {problem}"
                        ),
                        now,
                    )
                    .await
                }
            }
        }
    }
}

async fn fail(
    deps: &Deps,
    batch_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, HandlerError> {
    let fields = TransitionFields {
        error: Some(truncate_utf8(reason, MAX_ERROR_BYTES).to_owned()),
        ..TransitionFields::default()
    };
    deps.ledger
        .transition(
            batch_id,
            BatchState::Launched,
            BatchState::TransformFailed,
            &fields,
            now,
        )
        .await?;
    tracing::warn!(batch_id, reason, "batch transform failed on EMR");
    Ok(Outcome::TransformFailed {
        batch_id: batch_id.to_owned(),
        reason: reason.to_owned(),
    })
}

async fn transformed(
    deps: &Deps,
    batch_id: &str,
    verified: Verified,
    now: DateTime<Utc>,
) -> Result<Outcome, HandlerError> {
    let manifest = &verified.manifest;
    let fields = TransitionFields {
        manifest_key: Some(verified.key.clone()),
        input_rows: Some(manifest.counts.silver_rows),
        output_rows: manifest.tables.get("final_fact").map(|t| t.rows),
        bad_inputs: Some(manifest.bad_inputs.len() as u64),
        ..TransitionFields::default()
    };
    deps.ledger
        .transition(
            batch_id,
            BatchState::Launched,
            BatchState::Transformed,
            &fields,
            now,
        )
        .await?;
    let event = BatchTransformed {
        batch_id: batch_id.to_owned(),
        bucket: deps.config.lake_bucket.clone(),
        manifest_key: verified.key.clone(),
        engine: manifest.engine.clone(),
        table_rows: manifest
            .tables
            .iter()
            .map(|(table, output)| (table.clone(), output.rows))
            .collect(),
        duplicates_dropped: manifest.duplicates_dropped(),
        bad_inputs: manifest.bad_inputs.len() as u64,
    };
    // The ledger is the record; a lost event is logged, and loading starts from the manifest.
    if let Err(error) = publish(&deps.events, &deps.config.event_bus_name, &event).await {
        tracing::error!(%error, batch_id, "BatchTransformed not published");
    }
    Ok(Outcome::Transformed {
        batch_id: batch_id.to_owned(),
        manifest_key: verified.key,
    })
}

/// The schedule's work: settle every `LAUNCHED` batch whose job has finished (events are
/// delivered at best effort), and launch `PLANNED` batches routed to EMR that nobody launched.
pub async fn sweep(deps: &Deps, now: DateTime<Utc>) -> Result<Vec<Outcome>, HandlerError> {
    let mut outcomes = Vec::new();
    for record in deps.ledger.list_by_state(BatchState::Launched).await? {
        let Some(launch) = recorded_launch(&record) else {
            continue;
        };
        let settled =
            match job_status::current_outcome(&deps.clients.emr, &deps.clients.serverless, &launch)
                .await
            {
                Ok(outcome) => settle(deps, &record.batch_id, &launch, outcome, now)
                    .await
                    .map_err(|e| e.to_string()),
                Err(error) => Err(error),
            };
        outcomes.push(settled.unwrap_or_else(|error| Outcome::SweepError {
            batch_id: record.batch_id.clone(),
            error,
        }));
    }
    for record in deps.ledger.list_by_state(BatchState::Planned).await? {
        let routed_here = matches!(
            record.fields.route.as_deref(),
            Some(ROUTE_EMR) | Some(ROUTE_EMR_SERVERLESS)
        );
        if routed_here && record.inputs_claimed && now - record.updated_at >= REDRIVE_AFTER {
            let launched = launch_batch(deps, &record.batch_id, now).await;
            outcomes.push(launched.unwrap_or_else(|error| Outcome::SweepError {
                batch_id: record.batch_id.clone(),
                error: error.to_string(),
            }));
        }
    }
    Ok(outcomes)
}
