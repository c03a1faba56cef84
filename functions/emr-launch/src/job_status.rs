//! Where a launched job stands: EMR step and EMR Serverless job-run states mapped to one
//! outcome, and the reads (DescribeStep, GetJobRun) that give a failure its reason.

use crate::launch::Launch;
use aws_sdk_emr::types::StepState;
use aws_sdk_emrserverless::types::JobRunState;

/// A job's outcome, as far as the ledger cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Not finished yet (pending, running, being cancelled).
    Running,
    Succeeded,
    /// Failed, cancelled or interrupted, with the best reason available.
    Failed {
        reason: String,
    },
}

/// The outcome of an EMR step state name (`COMPLETED`, `FAILED`, ...) as events and
/// DescribeStep spell it.
pub fn step_outcome(state: &str, reason: impl FnOnce() -> String) -> JobOutcome {
    match StepState::from(state) {
        StepState::Completed => JobOutcome::Succeeded,
        StepState::Failed | StepState::Cancelled | StepState::Interrupted => JobOutcome::Failed {
            reason: format!("step {state}: {}", reason()),
        },
        // PENDING, CANCEL_PENDING, RUNNING and states this SDK does not know yet.
        _ => JobOutcome::Running,
    }
}

/// The outcome of an EMR Serverless job-run state name (`SUCCESS`, `FAILED`, ...).
pub fn job_run_outcome(state: &str, reason: impl FnOnce() -> String) -> JobOutcome {
    match JobRunState::from(state) {
        JobRunState::Success => JobOutcome::Succeeded,
        JobRunState::Failed | JobRunState::Cancelled => JobOutcome::Failed {
            reason: format!("job run {state}: {}", reason()),
        },
        _ => JobOutcome::Running,
    }
}

/// What EMR says about a step: its state and the failure text (reason, message, log file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    pub state: String,
    pub failure: Option<String>,
}

/// What EMR Serverless says about a job run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRunReport {
    pub state: String,
    pub details: String,
}

pub async fn describe_step(
    emr: &aws_sdk_emr::Client,
    cluster_id: &str,
    step_id: &str,
) -> Result<StepReport, String> {
    let output = emr
        .describe_step()
        .cluster_id(cluster_id)
        .step_id(step_id)
        .send()
        .await
        .map_err(|e| {
            format!(
                "DescribeStep {step_id}: {}",
                aws_sdk_emr::error::DisplayErrorContext(e)
            )
        })?;
    let status = output.step().and_then(|s| s.status());
    let state = status
        .and_then(|s| s.state())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let failure = status.and_then(|status| {
        let mut parts: Vec<String> = Vec::new();
        if let Some(details) = status.failure_details() {
            parts.extend(details.reason().map(str::to_owned));
            parts.extend(details.message().map(str::to_owned));
            parts.extend(details.log_file().map(|log| format!("log {log}")));
        }
        if parts.is_empty() {
            parts.extend(
                status
                    .state_change_reason()
                    .and_then(|r| r.message())
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned),
            );
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    });
    Ok(StepReport { state, failure })
}

pub async fn get_job_run(
    serverless: &aws_sdk_emrserverless::Client,
    application_id: &str,
    job_run_id: &str,
) -> Result<JobRunReport, String> {
    let output = serverless
        .get_job_run()
        .application_id(application_id)
        .job_run_id(job_run_id)
        .send()
        .await
        .map_err(|e| {
            format!(
                "GetJobRun {job_run_id}: {}",
                aws_sdk_emrserverless::error::DisplayErrorContext(e)
            )
        })?;
    let run = output.job_run();
    Ok(JobRunReport {
        state: run
            .map(|r| r.state().as_str().to_owned())
            .unwrap_or_default(),
        details: run
            .map(|r| r.state_details().to_owned())
            .unwrap_or_default(),
    })
}

/// The outcome of `launch` as EMR reports it now (the sweep's view).
pub async fn current_outcome(
    emr: &aws_sdk_emr::Client,
    serverless: &aws_sdk_emrserverless::Client,
    launch: &Launch,
) -> Result<JobOutcome, String> {
    match launch {
        Launch::Step {
            cluster_id,
            step_id,
        } => {
            let report = describe_step(emr, cluster_id, step_id).await?;
            let failure = report.failure.clone();
            Ok(step_outcome(&report.state, || {
                failure.unwrap_or_else(|| "EMR gave no reason".into())
            }))
        }
        Launch::JobRun {
            application_id,
            job_run_id,
        } => {
            let report = get_job_run(serverless, application_id, job_run_id).await?;
            let details = report.details.clone();
            Ok(job_run_outcome(&report.state, || {
                if details.is_empty() {
                    "EMR Serverless gave no reason".into()
                } else {
                    details
                }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_states_map_to_outcomes() {
        assert_eq!(
            step_outcome("COMPLETED", || unreachable!()),
            JobOutcome::Succeeded
        );
        for state in ["PENDING", "RUNNING", "CANCEL_PENDING", "SOMETHING_NEW"] {
            assert_eq!(
                step_outcome(state, String::new),
                JobOutcome::Running,
                "{state}"
            );
        }
        for state in ["FAILED", "CANCELLED", "INTERRUPTED"] {
            assert_eq!(
                step_outcome(state, || "OutOfMemoryError".into()),
                JobOutcome::Failed {
                    reason: format!("step {state}: OutOfMemoryError")
                }
            );
        }
    }

    #[test]
    fn job_run_states_map_to_outcomes() {
        assert_eq!(
            job_run_outcome("SUCCESS", || unreachable!()),
            JobOutcome::Succeeded
        );
        for state in [
            "SUBMITTED",
            "PENDING",
            "SCHEDULED",
            "RUNNING",
            "QUEUED",
            "CANCELLING",
        ] {
            assert_eq!(
                job_run_outcome(state, String::new),
                JobOutcome::Running,
                "{state}"
            );
        }
        assert!(matches!(
            job_run_outcome("FAILED", || "driver exited 1".into()),
            JobOutcome::Failed { reason } if reason.contains("driver exited 1")
        ));
    }
}
