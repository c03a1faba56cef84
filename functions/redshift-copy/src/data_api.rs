//! The Redshift Data API calls: submit the batch, follow it with bounded DescribeStatement
//! polling, run the small audit statements. Throttling and 5xx answers are retried by the
//! SDK's standard retry strategy (configured in `main.rs`); what is still failing after that
//! is a [`DataApiError`] whose [`transient`](DataApiError::transient) flag tells the handler to
//! leave the batch for the retry schedule rather than fail it.

use crate::config::{ClusterAuth, PollPolicy, ServerlessAuth, Warehouse};
use aws_sdk_redshiftdata::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_redshiftdata::types::{ExecutionMode, Field, SqlParameter, StatusString};
use std::time::{Duration, Instant};
use thiserror::Error;

/// `StatementName` of every load: `shopstream-load:<batch_id>`; the status-change event
/// carries it back.
pub const STATEMENT_NAME_PREFIX: &str = "shopstream-load:";

/// Error codes that mean "later", not "never".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ActiveStatementsExceededException",
    "ActiveSessionsExceededException",
    "ActiveWaitingRequestsExceededException",
    "InternalServerException",
    "ServiceUnavailable",
    "DatabaseConnectionException",
];

#[derive(Debug, Error)]
#[error("Redshift Data API {operation}: {message}")]
pub struct DataApiError {
    pub operation: &'static str,
    pub message: String,
    /// Throttling, capacity or a service fault: retry later, the batch is not at fault.
    pub transient: bool,
}

fn api_error<E>(operation: &'static str, error: SdkError<E>) -> DataApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    let transient = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => code
            .as_deref()
            .is_some_and(|code| TRANSIENT_CODES.contains(&code)),
    };
    DataApiError {
        operation,
        message: DisplayErrorContext(error).to_string(),
        transient,
    }
}

/// Where a statement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementState {
    /// SUBMITTED, PICKED or STARTED.
    Running(String),
    Finished,
    /// FAILED, with Redshift's error text.
    Failed(String),
    /// ABORTED (cancelled, or the session ended), with whatever error text there is.
    Aborted(String),
}

impl StatementState {
    pub fn is_terminal(&self) -> bool {
        !matches!(self, StatementState::Running(_))
    }

    fn from_status(status: Option<&StatusString>, error: Option<&str>) -> Self {
        let error = || error.unwrap_or("no error text").to_owned();
        match status {
            Some(StatusString::Finished) => StatementState::Finished,
            Some(StatusString::Failed) => StatementState::Failed(error()),
            Some(StatusString::Aborted) => StatementState::Aborted(error()),
            Some(other) => StatementState::Running(other.as_str().to_owned()),
            None => StatementState::Running("UNKNOWN".into()),
        }
    }
}

/// The Data API client with the warehouse it addresses.
#[derive(Debug, Clone)]
pub struct DataApi {
    pub client: aws_sdk_redshiftdata::Client,
    pub warehouse: Warehouse,
    pub database: String,
}

macro_rules! target {
    ($request:expr, $warehouse:expr, $database:expr) => {{
        let request = $request.database($database);
        match $warehouse {
            Warehouse::Serverless { workgroup, auth } => {
                let request = request.workgroup_name(workgroup);
                match auth {
                    ServerlessAuth::Iam => request,
                    ServerlessAuth::Secret(arn) => request.secret_arn(arn),
                }
            }
            Warehouse::Provisioned { cluster_id, auth } => {
                let request = request.cluster_identifier(cluster_id);
                match auth {
                    ClusterAuth::DbUser(user) => request.db_user(user),
                    ClusterAuth::Iam => request,
                    ClusterAuth::Secret(arn) => request.secret_arn(arn),
                }
            }
        }
    }};
}

impl DataApi {
    /// Submits the load as one BatchExecuteStatement in TRANSACTION mode with an EventBridge
    /// event on completion. `ClientToken` is the batch id, so a retried submission of the same
    /// batch returns the statement already running instead of starting a second one.
    pub async fn submit(&self, batch_id: &str, sqls: Vec<String>) -> Result<String, DataApiError> {
        let request = self
            .client
            .batch_execute_statement()
            .set_sqls(Some(sqls))
            .execution_mode(ExecutionMode::Transaction)
            .with_event(true)
            .statement_name(format!("{STATEMENT_NAME_PREFIX}{batch_id}"))
            .client_token(batch_id);
        let output = target!(request, &self.warehouse, &self.database)
            .send()
            .await
            .map_err(|e| api_error("BatchExecuteStatement", e))?;
        output.id.ok_or_else(|| DataApiError {
            operation: "BatchExecuteStatement",
            message: "the answer has no statement id".into(),
            transient: true,
        })
    }

    /// One DescribeStatement.
    pub async fn describe(&self, statement_id: &str) -> Result<StatementState, DataApiError> {
        let output = self
            .client
            .describe_statement()
            .id(statement_id)
            .send()
            .await
            .map_err(|e| api_error("DescribeStatement", e))?;
        Ok(StatementState::from_status(output.status(), output.error()))
    }

    /// Polls until the statement ends, `poll.budget` has passed, or `deadline` (the Lambda's,
    /// less `poll.deadline_margin`) would be crossed by the next pause — whichever is first.
    /// Returns the last state seen.
    pub async fn follow(
        &self,
        statement_id: &str,
        poll: PollPolicy,
        deadline: Instant,
    ) -> Result<StatementState, DataApiError> {
        let started = Instant::now();
        let stop = deadline
            .checked_sub(poll.deadline_margin)
            .unwrap_or(started)
            .min(started + poll.budget);
        loop {
            let state = self.describe(statement_id).await?;
            if state.is_terminal() || Instant::now() + poll.interval > stop {
                return Ok(state);
            }
            tokio::time::sleep(poll.interval).await;
        }
    }

    /// Runs one statement with named string parameters and waits (bounded as in
    /// [`follow`](Self::follow)) for it to finish; returns its id and final state.
    pub async fn run(
        &self,
        sql: String,
        parameters: &[(&str, &str)],
        poll: PollPolicy,
        deadline: Instant,
    ) -> Result<(String, StatementState), DataApiError> {
        let id = self.execute(sql, parameters).await?;
        let state = self.follow(&id, poll, deadline).await?;
        Ok((id, state))
    }

    /// Submits one statement with named string parameters (bound by the Data API, never
    /// pasted into the SQL) without waiting for it; returns its id.
    pub async fn execute(
        &self,
        sql: String,
        parameters: &[(&str, &str)],
    ) -> Result<String, DataApiError> {
        let mut request = self.client.execute_statement().sql(sql);
        for (name, value) in parameters {
            request = request.parameters(
                SqlParameter::builder()
                    .name(*name)
                    .value(*value)
                    .build()
                    .map_err(|e| DataApiError {
                        operation: "ExecuteStatement",
                        message: e.to_string(),
                        transient: false,
                    })?,
            );
        }
        let output = target!(request, &self.warehouse, &self.database)
            .send()
            .await
            .map_err(|e| api_error("ExecuteStatement", e))?;
        output.id.ok_or_else(|| DataApiError {
            operation: "ExecuteStatement",
            message: "the answer has no statement id".into(),
            transient: true,
        })
    }

    /// The rows of a finished statement, every field as text (`None` for NULL).
    pub async fn rows(&self, statement_id: &str) -> Result<Vec<Vec<Option<String>>>, DataApiError> {
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .get_statement_result()
                .id(statement_id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api_error("GetStatementResult", e))?;
            for record in output.records() {
                rows.push(record.iter().map(field_text).collect());
            }
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(rows),
            }
        }
    }
}

fn field_text(field: &Field) -> Option<String> {
    match field {
        Field::IsNull(true) => None,
        Field::StringValue(text) => Some(text.clone()),
        Field::LongValue(value) => Some(value.to_string()),
        Field::DoubleValue(value) => Some(value.to_string()),
        Field::BooleanValue(value) => Some(value.to_string()),
        _ => None,
    }
}

/// The batch id a statement name carries, if it is one of ours.
pub fn batch_of_statement_name(name: &str) -> Option<&str> {
    name.strip_prefix(STATEMENT_NAME_PREFIX)
}

/// How long until `deadline_ms` (epoch milliseconds, from the Lambda context) as an
/// [`Instant`]; a deadline in the past is now.
pub fn deadline_instant(deadline_ms: u64, now_ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
