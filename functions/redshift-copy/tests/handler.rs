//! The handler with the real event samples (`events/redshift-copy/`) against moto (S3, the
//! DynamoDB ledger, EventBridge) and the Data API scripted by `aws-smithy-mocks`.

use aws_sdk_redshiftdata::operation::batch_execute_statement::BatchExecuteStatementOutput;
use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
use aws_sdk_redshiftdata::operation::execute_statement::ExecuteStatementOutput;
use aws_sdk_redshiftdata::operation::get_statement_result::GetStatementResultOutput;
use aws_sdk_redshiftdata::types::{Field, StatusString};
use aws_sdk_redshiftdata::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use lambda_runtime::{Context, LambdaEvent};
use redshift_copy::data_api::DataApi;
use redshift_copy::{handler, BatchOutcome, Config, Deps};
use serde_json::Value;
use shopstream::config::Env;
use shopstream::ledger::{
    create_table, BatchRecord, BatchState, InputObject, Ledger, PlanOutcome, TransitionFields,
};
use shopstream::manifest::{describe_file, write_manifest, Manifest, TableOutput};
use shopstream_emulators::MotoServer;
use std::collections::BTreeMap;

const BUCKET: &str = "lake";
const TABLE: &str = "batches";
const STATEMENT: &str = "d9b6c0c9-0747-4bf4-b142-e8883122f766";
const AUDIT_QUERY: &str = "1e2d3c4b-0747-4bf4-b142-e8883122f766";

fn sample(name: &str) -> String {
    let path = format!(
        "{}/../../events/redshift-copy/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// A sample event with the sample batch id replaced by `batch_id`.
fn event(name: &str, batch_id: &str) -> Value {
    let text = sample(name).replace("20261202T10-20261202T11-3f2a9c0d11b7e4a5", batch_id);
    serde_json::from_str(&text).expect("sample is JSON")
}

fn invocation(payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
    context.deadline = now + 30_000;
    LambdaEvent::new(payload, context)
}

struct World {
    _moto: MotoServer,
    s3: aws_sdk_s3::Client,
    ledger: Ledger,
    events: aws_sdk_eventbridge::Client,
    batch_id: String,
}

/// moto with a lake bucket, the ledger table, the bus, and one TRANSFORMED batch whose gold
/// files and manifest are in the lake (`tables` edits the manifest before it is sealed).
async fn world(edit: impl FnOnce(&mut BTreeMap<String, TableOutput>)) -> World {
    let moto = MotoServer::start().await.expect("moto");
    let sdk = moto.sdk_config();
    let s3 = moto.s3_client();
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&dynamodb, TABLE).await.expect("ledger table");
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    events
        .create_event_bus()
        .name("shopstream")
        .send()
        .await
        .expect("bus");
    let ledger = Ledger::new(dynamodb, s3.clone(), TABLE, BUCKET);

    let inputs = vec![InputObject {
        key: "silver/transaction/dt=2026-12-02/hour=10/shardId-000-1-2.parquet".into(),
        size_bytes: 10,
        etag: "e".into(),
    }];
    let now = chrono::Utc::now();
    let planned = match ledger.plan(inputs, 10, now).await.expect("plan") {
        PlanOutcome::Planned(batch) => batch.record,
        other => panic!("{other:?}"),
    };
    let batch_id = planned.batch_id.clone();
    ledger
        .transition(
            &batch_id,
            BatchState::Planned,
            BatchState::Transformed,
            &TransitionFields::default(),
            now,
        )
        .await
        .expect("transformed");

    let mut tables = BTreeMap::new();
    for table in redshift_copy::warehouse::table_names() {
        let key = shopstream::lake::gold_key(table, &batch_id, 0);
        let bytes = format!("PAR1 {table} PAR1").into_bytes();
        s3.put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(bytes.clone().into())
            .send()
            .await
            .expect("gold file");
        tables.insert(
            table.to_owned(),
            TableOutput {
                rows: 1,
                files: vec![describe_file(key, &bytes, 1)],
            },
        );
    }
    edit(&mut tables);
    let manifest = Manifest {
        format_version: shopstream::manifest::FORMAT_VERSION,
        batch_id: batch_id.clone(),
        engine: "datafusion".into(),
        window: planned.window.clone(),
        tables,
        event_index: Vec::new(),
        silver_inputs: Vec::new(),
        bad_inputs: Vec::new(),
        model_versions: BTreeMap::new(),
        counts: Default::default(),
        checksum: String::new(),
    }
    .seal();
    write_manifest(&s3, BUCKET, &manifest)
        .await
        .expect("manifest");
    World {
        _moto: moto,
        s3,
        ledger,
        events,
        batch_id,
    }
}

fn deps(world: &World, rules: &[&Rule], poll_budget_seconds: &str) -> Deps {
    let config = Config::from_env(&Env::from_pairs([
        ("LAKE_BUCKET", BUCKET),
        ("LEDGER_TABLE", TABLE),
        ("EVENT_BUS_NAME", "shopstream"),
        ("REDSHIFT_WORKGROUP", "analytics"),
        (
            "REDSHIFT_COPY_ROLE_ARN",
            "arn:aws:iam::123456789012:role/copy",
        ),
        ("POLL_INTERVAL_MS", "5"),
        ("POLL_BUDGET_SECONDS", poll_budget_seconds),
        ("DEADLINE_MARGIN_MS", "100"),
    ]))
    .expect("config");
    let client: Client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, rules);
    Deps {
        s3: world.s3.clone(),
        ledger: world.ledger.clone(),
        events: world.events.clone(),
        data_api: DataApi {
            client,
            warehouse: config.warehouse.clone(),
            database: config.database.clone(),
        },
        config,
    }
}

fn submit_rule(batch_id: &str) -> Rule {
    let token = batch_id.to_owned();
    mock!(Client::batch_execute_statement)
        .match_requests(move |request| request.client_token() == Some(token.as_str()))
        .then_output(|| BatchExecuteStatementOutput::builder().id(STATEMENT).build())
}

fn describe(status: StatusString, error: Option<&'static str>) -> DescribeStatementOutput {
    let mut builder = DescribeStatementOutput::builder()
        .id(STATEMENT)
        .status(status);
    if let Some(error) = error {
        builder = builder.error(error);
    }
    builder.build().expect("id")
}

/// The audit-count query and its rows (one table).
fn audit_rules() -> (Rule, Rule, Rule) {
    let run = mock!(Client::execute_statement)
        .match_requests(|request| {
            request
                .sql()
                .is_some_and(|sql| sql.starts_with("SELECT table_name"))
        })
        .then_output(|| ExecuteStatementOutput::builder().id(AUDIT_QUERY).build());
    let done = mock!(Client::describe_statement)
        .match_requests(|request| request.id() == Some(AUDIT_QUERY))
        .then_output(|| {
            DescribeStatementOutput::builder()
                .id(AUDIT_QUERY)
                .status(StatusString::Finished)
                .build()
                .expect("id")
        });
    let rows = mock!(Client::get_statement_result).then_output(|| {
        GetStatementResultOutput::builder()
            .records(vec![
                Field::StringValue("final_fact".into()),
                Field::LongValue(3),
                Field::LongValue(3),
                Field::LongValue(3),
                Field::LongValue(0),
            ])
            .build()
            .expect("records")
    });
    (run, done, rows)
}

/// The world's batch as the ledger holds it now.
async fn ledger_record(world: &World) -> BatchRecord {
    world
        .ledger
        .get(&world.batch_id)
        .await
        .expect("get")
        .expect("record")
}

fn outcome(report: &redshift_copy::Report) -> &BatchOutcome {
    &report.batches.first().expect("one batch").outcome
}

#[tokio::test]
async fn a_manifest_loads_once_and_repeated_or_late_events_change_nothing() {
    let world = world(|_| {}).await;
    let submit = submit_rule(&world.batch_id);
    let finished = mock!(Client::describe_statement)
        .match_requests(|request| request.id() == Some(STATEMENT))
        .sequence()
        .output(|| describe(StatusString::Started, None))
        .output(|| describe(StatusString::Finished, None))
        .repeatedly()
        .build();
    let (run, done, rows) = audit_rules();
    let deps = deps(&world, &[&submit, &finished, &run, &done, &rows], "10");

    let manifest_event = event("manifest-created.json", &world.batch_id);
    let first = handler(&deps, invocation(manifest_event.clone()))
        .await
        .expect("load");
    match outcome(&first) {
        BatchOutcome::Loaded {
            statement_id,
            table_rows,
        } => {
            assert_eq!(statement_id, STATEMENT);
            assert_eq!(table_rows.get("final_fact"), Some(&3));
        }
        other => panic!("{other:?}"),
    }
    let record = ledger_record(&world).await;
    assert_eq!(record.state, BatchState::Loaded);
    assert_eq!(record.fields.statement_id.as_deref(), Some(STATEMENT));

    // The same S3 event again, then the statement's own status event: no second statement.
    let again = handler(&deps, invocation(manifest_event))
        .await
        .expect("again");
    assert!(
        matches!(outcome(&again), BatchOutcome::Skipped { .. }),
        "{again:?}"
    );
    let late = handler(
        &deps,
        invocation(event("statement-finished.json", &world.batch_id)),
    )
    .await
    .expect("late event");
    assert!(
        matches!(outcome(&late), BatchOutcome::Skipped { .. }),
        "{late:?}"
    );
    assert_eq!(submit.num_calls(), 1, "one BatchExecuteStatement in all");
}

#[tokio::test]
async fn the_status_event_settles_a_load_the_poller_left_running() {
    let world = world(|_| {}).await;
    let submit = submit_rule(&world.batch_id);
    let describe_rule = mock!(Client::describe_statement)
        .match_requests(|request| request.id() == Some(STATEMENT))
        .sequence()
        .output(|| describe(StatusString::Started, None))
        .output(|| describe(StatusString::Finished, None))
        .repeatedly()
        .build();
    let (run, done, rows) = audit_rules();
    // A zero polling budget: one look, then the event has to finish the job.
    let deps = deps(&world, &[&submit, &describe_rule, &run, &done, &rows], "0");

    let first = handler(
        &deps,
        invocation(event("manifest-created.json", &world.batch_id)),
    )
    .await
    .expect("submit");
    assert!(
        matches!(outcome(&first), BatchOutcome::Pending { .. }),
        "{first:?}"
    );
    let record = ledger_record(&world).await;
    assert_eq!(record.state, BatchState::Loading);

    let settled = handler(
        &deps,
        invocation(event("statement-finished.json", &world.batch_id)),
    )
    .await
    .expect("event");
    assert!(
        matches!(outcome(&settled), BatchOutcome::Loaded { .. }),
        "{settled:?}"
    );
    // The sweep then finds nothing LOADING or TRANSFORMED.
    let sweep = handler(&deps, invocation(event("load-due.json", &world.batch_id)))
        .await
        .expect("sweep");
    assert!(sweep.batches.is_empty(), "{sweep:?}");
    assert_eq!(submit.num_calls(), 1);
}

/// The status event can outrun the invocation that submitted the statement: it arrives while
/// the ledger says LOADING but does not yet hold the statement id. The event settles the batch
/// (its statement is described, not trusted), and a repeated manifest event then finds the
/// batch settled and sends nothing.
#[tokio::test]
async fn a_status_event_before_the_ledger_knows_the_statement_settles_the_batch_once() {
    let world = world(|_| {}).await;
    let submit = submit_rule(&world.batch_id);
    let finished = mock!(Client::describe_statement)
        .match_requests(|request| request.id() == Some(STATEMENT))
        .then_output(|| describe(StatusString::Finished, None));
    let (run, done, rows) = audit_rules();
    let deps = deps(&world, &[&submit, &finished, &run, &done, &rows], "10");
    // The submitting invocation's first step: TRANSFORMED -> LOADING, no statement id yet.
    world
        .ledger
        .transition(
            &world.batch_id,
            BatchState::Transformed,
            BatchState::Loading,
            &TransitionFields {
                manifest_key: Some(shopstream::lake::manifest_key(&world.batch_id)),
                ..TransitionFields::default()
            },
            chrono::Utc::now(),
        )
        .await
        .expect("loading");

    let early = handler(
        &deps,
        invocation(event("statement-finished.json", &world.batch_id)),
    )
    .await
    .expect("early event");
    assert!(
        matches!(outcome(&early), BatchOutcome::Loaded { .. }),
        "{early:?}"
    );
    let record = ledger_record(&world).await;
    assert_eq!(record.state, BatchState::Loaded);

    let manifest = handler(
        &deps,
        invocation(event("manifest-created.json", &world.batch_id)),
    )
    .await
    .expect("manifest event");
    assert!(
        matches!(outcome(&manifest), BatchOutcome::Skipped { .. }),
        "{manifest:?}"
    );
    assert_eq!(
        submit.num_calls(),
        0,
        "the event settled it; nothing submitted"
    );
}

#[tokio::test]
async fn a_failed_statement_marks_the_batch_load_failed_with_the_redshift_error() {
    let world = world(|_| {}).await;
    let submit = submit_rule(&world.batch_id);
    let failed = mock!(Client::describe_statement)
        .match_requests(|request| request.id() == Some(STATEMENT))
        .then_output(|| {
            describe(
                StatusString::Failed,
                Some("ERROR: column 3 of final_fact is incompatible"),
            )
        });
    // The LOAD_FAILED audit row carries the error as a parameter, not in the SQL text.
    let audit_failure = mock!(Client::execute_statement)
        .match_requests(|request| {
            request.sql().is_some_and(|sql| {
                sql.contains("'LOAD_FAILED', :error") && !sql.contains("incompatible")
            }) && request
                .parameters()
                .iter()
                .any(|p| p.name() == "error" && p.value().contains("incompatible"))
        })
        .then_output(|| ExecuteStatementOutput::builder().id(AUDIT_QUERY).build());
    let deps = deps(&world, &[&submit, &failed, &audit_failure], "10");

    let report = handler(
        &deps,
        invocation(event("manifest-created.json", &world.batch_id)),
    )
    .await
    .expect("handled");
    match outcome(&report) {
        BatchOutcome::Failed { error, .. } => assert!(error.contains("incompatible"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(audit_failure.num_calls(), 1);
    let record = ledger_record(&world).await;
    assert_eq!(record.state, BatchState::LoadFailed);
    assert!(record
        .fields
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("incompatible"));
}

#[tokio::test]
async fn a_hostile_manifest_is_refused_before_any_sql() {
    let world = world(|tables| {
        let output = tables.remove("dim_user").expect("dim_user");
        tables.insert("dim_user; DROP TABLE final_fact; --".into(), output);
    })
    .await;
    let submit = submit_rule(&world.batch_id);
    let deps = deps(&world, &[&submit], "10");
    let report = handler(
        &deps,
        invocation(event("manifest-created.json", &world.batch_id)),
    )
    .await
    .expect("handled");
    match outcome(&report) {
        BatchOutcome::Refused { error } => assert!(error.contains("refused table"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(submit.num_calls(), 0, "nothing reached the Data API");
    let record = ledger_record(&world).await;
    assert_eq!(record.state, BatchState::LoadFailed);
}

#[tokio::test]
async fn an_unlisted_file_under_a_prefix_fails_the_load_before_copy() {
    let world = world(|_| {}).await;
    world
        .s3
        .put_object()
        .bucket(BUCKET)
        .key(shopstream::lake::gold_key("final_fact", &world.batch_id, 7))
        .body(b"stray".to_vec().into())
        .send()
        .await
        .expect("stray file");
    let submit = submit_rule(&world.batch_id);
    let deps = deps(&world, &[&submit], "10");
    let report = handler(
        &deps,
        invocation(event("manifest-created.json", &world.batch_id)),
    )
    .await
    .expect("handled");
    match outcome(&report) {
        BatchOutcome::Failed { error, .. } => assert!(error.contains("unlisted"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(submit.num_calls(), 0);
}
