//! The Redshift Data API flow against the SDK's own mock interceptor (`aws-smithy-mocks`):
//! there is no local emulator of the Data API (moto's never finishes a statement and has no
//! BatchExecuteStatement). The client is the real generated client; only its HTTP answers are
//! scripted, including throttling that the standard retry strategy must ride out.

use aws_sdk_redshiftdata::config::retry::RetryConfig;
use aws_sdk_redshiftdata::operation::batch_execute_statement::BatchExecuteStatementOutput;
use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
use aws_sdk_redshiftdata::types::{ExecutionMode, StatusString};
use aws_sdk_redshiftdata::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use redshift_copy::config::{ClusterAuth, PollPolicy, ServerlessAuth, Warehouse};
use redshift_copy::data_api::{DataApi, StatementState};
use std::time::{Duration, Instant};

const BATCH: &str = "20261202T10-20261202T11-3f2a9c0d11b7e4a5";
const STATEMENT: &str = "d9b6c0c9-0747-4bf4-b142-e8883122f766";
const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

fn serverless() -> Warehouse {
    Warehouse::Serverless {
        workgroup: "analytics".into(),
        auth: ServerlessAuth::Iam,
    }
}

fn api(rules: &[&Rule], warehouse: Warehouse) -> DataApi {
    let client: Client = mock_client!(
        aws_sdk_redshiftdata,
        RuleMode::Sequential,
        rules,
        |config| config.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        )
    );
    DataApi {
        client,
        warehouse,
        database: "dev".into(),
    }
}

fn described(status: StatusString, error: Option<&str>) -> DescribeStatementOutput {
    let mut builder = DescribeStatementOutput::builder()
        .id(STATEMENT)
        .status(status);
    if let Some(error) = error {
        builder = builder.error(error);
    }
    builder.build().expect("id is set")
}

fn poll(interval_ms: u64, budget_ms: u64) -> PollPolicy {
    PollPolicy {
        interval: Duration::from_millis(interval_ms),
        budget: Duration::from_millis(budget_ms),
        deadline_margin: Duration::ZERO,
    }
}

fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn submission_is_one_transaction_with_event_token_and_name() {
    let submit = mock!(Client::batch_execute_statement)
        .match_requests(|request| {
            request.execution_mode() == Some(&ExecutionMode::Transaction)
                && request.with_event() == Some(true)
                && request.client_token() == Some(BATCH)
                && request.statement_name() == Some(&format!("shopstream-load:{BATCH}"))
                && request.workgroup_name() == Some("analytics")
                && request.database() == Some("dev")
                && request.cluster_identifier().is_none()
                && request.sqls().len() == 2
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id(STATEMENT).build());
    let api = api(&[&submit], serverless());
    let id = api
        .submit(BATCH, vec!["SELECT 1".into(), "SELECT 2".into()])
        .await
        .expect("submitted");
    assert_eq!(id, STATEMENT);
    assert_eq!(submit.num_calls(), 1);
}

#[tokio::test]
async fn provisioned_clusters_are_addressed_with_their_user_or_secret() {
    let with_user = mock!(Client::batch_execute_statement)
        .match_requests(|request| {
            request.cluster_identifier() == Some("warehouse")
                && request.db_user() == Some("loader")
                && request.workgroup_name().is_none()
                && request.secret_arn().is_none()
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id(STATEMENT).build());
    let api_user = api(
        &[&with_user],
        Warehouse::Provisioned {
            cluster_id: "warehouse".into(),
            auth: ClusterAuth::DbUser("loader".into()),
        },
    );
    api_user
        .submit(BATCH, vec!["SELECT 1".into()])
        .await
        .expect("submitted");
    assert_eq!(with_user.num_calls(), 1);

    let with_secret = mock!(Client::batch_execute_statement)
        .match_requests(|request| {
            request.cluster_identifier() == Some("warehouse")
                && request.secret_arn() == Some("arn:aws:secretsmanager:eu-west-1:1:secret:s")
                && request.db_user().is_none()
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id(STATEMENT).build());
    let api_secret = api(
        &[&with_secret],
        Warehouse::Provisioned {
            cluster_id: "warehouse".into(),
            auth: ClusterAuth::Secret("arn:aws:secretsmanager:eu-west-1:1:secret:s".into()),
        },
    );
    api_secret
        .submit(BATCH, vec!["SELECT 1".into()])
        .await
        .expect("submitted");
    assert_eq!(with_secret.num_calls(), 1);
}

#[tokio::test]
async fn polling_follows_the_statement_to_finished() {
    let describe = mock!(Client::describe_statement)
        .match_requests(|request| request.id() == Some(STATEMENT))
        .sequence()
        .output(|| described(StatusString::Submitted, None))
        .output(|| described(StatusString::Started, None))
        .output(|| described(StatusString::Finished, None))
        .build();
    let api = api(&[&describe], serverless());
    let state = api
        .follow(STATEMENT, poll(5, 5_000), far_deadline())
        .await
        .expect("followed");
    assert_eq!(state, StatementState::Finished);
    assert_eq!(describe.num_calls(), 3);
}

#[tokio::test]
async fn failed_and_aborted_statements_carry_the_redshift_error() {
    let failed = mock!(Client::describe_statement).then_output(|| {
        described(
            StatusString::Failed,
            Some("ERROR: Spectrum Scan Error: column 3 is incompatible"),
        )
    });
    let api_failed = api(&[&failed], serverless());
    assert_eq!(
        api_failed
            .follow(STATEMENT, poll(5, 5_000), far_deadline())
            .await
            .expect("followed"),
        StatementState::Failed("ERROR: Spectrum Scan Error: column 3 is incompatible".into())
    );

    let aborted = mock!(Client::describe_statement).then_output(|| {
        described(
            StatusString::Aborted,
            Some("Query cancelled on user's request"),
        )
    });
    let api_aborted = api(&[&aborted], serverless());
    let state = api_aborted
        .follow(STATEMENT, poll(5, 5_000), far_deadline())
        .await
        .expect("followed");
    assert_eq!(
        state,
        StatementState::Aborted("Query cancelled on user's request".into())
    );
    assert!(state.is_terminal());
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_and_reported_transient_when_it_persists() {
    let describe = mock!(Client::describe_statement)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(|| described(StatusString::Finished, None))
        .build();
    let api_ok = api(&[&describe], serverless());
    assert_eq!(
        api_ok.describe(STATEMENT).await.expect("retried through"),
        StatementState::Finished
    );
    assert_eq!(
        describe.num_calls(),
        3,
        "two throttled attempts, then the answer"
    );

    let submit = mock!(Client::batch_execute_statement)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(3)
        .build();
    let api_throttled = api(&[&submit], serverless());
    let error = api_throttled
        .submit(BATCH, vec!["SELECT 1".into()])
        .await
        .expect_err("still throttled after 3 attempts");
    assert!(error.transient, "{error}");
    assert_eq!(submit.num_calls(), 3);

    let invalid = mock!(Client::batch_execute_statement)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ValidationException","message":"Sqls exceeds 40 items"}"#.into()),
        )
        .build();
    let api_invalid = api(&[&invalid], serverless());
    let error = api_invalid
        .submit(BATCH, vec!["SELECT 1".into()])
        .await
        .expect_err("invalid");
    assert!(!error.transient, "{error}");
    assert_eq!(invalid.num_calls(), 1, "a validation error is not retried");
}

#[tokio::test]
async fn polling_stops_at_its_budget_and_before_the_deadline() {
    let running = mock!(Client::describe_statement)
        .sequence()
        .output(|| described(StatusString::Started, None))
        .repeatedly()
        .build();
    let api_budget = api(&[&running], serverless());
    let started = Instant::now();
    let state = api_budget
        .follow(STATEMENT, poll(20, 100), far_deadline())
        .await
        .expect("followed");
    assert_eq!(state, StatementState::Running("STARTED".into()));
    assert!(started.elapsed() < Duration::from_secs(5));
    let calls = running.num_calls();
    assert!(
        (2..=7).contains(&calls),
        "{calls} DescribeStatement calls in a 100 ms budget"
    );

    let once = mock!(Client::describe_statement)
        .sequence()
        .output(|| described(StatusString::Started, None))
        .repeatedly()
        .build();
    let api_deadline = api(&[&once], serverless());
    let state = api_deadline
        .follow(STATEMENT, poll(20, 10_000), Instant::now())
        .await
        .expect("followed");
    assert_eq!(state, StatementState::Running("STARTED".into()));
    assert_eq!(
        once.num_calls(),
        1,
        "a deadline already reached allows one look only"
    );
}
