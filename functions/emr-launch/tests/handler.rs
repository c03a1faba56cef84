//! emr-launch against moto (EMR, EMR Serverless, S3, DynamoDB, EventBridge) with the sample
//! events in events/emr-launch/.
//!
//! moto's EMR steps stay RUNNING for ever, so what RunJobFlow asked for is read back with
//! DescribeCluster / ListSteps / ListInstanceGroups / ListBootstrapActions, and completion is
//! driven with the sample step-status events (their ids replaced by moto's).

use aws_sdk_emr::types::{ClusterState, StepState};
use chrono::Utc;
use emr_launch::launch::{self, BATCH_TAG};
use emr_launch::{handler, Clients, Config, Deps, Launch, Outcome};
use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use serde_json::Value;
use shopstream::config::Env;
use shopstream::ledger::{
    create_table, BatchState, InputObject, Ledger, PlanOutcome, TransitionFields,
};
use shopstream::manifest::{describe_file, manifest_key, Manifest, TableOutput, FORMAT_VERSION};
use shopstream_emulators::MotoServer;
use std::collections::BTreeMap;

const BUCKET: &str = "lake";
const TABLE: &str = "batches";
const BUS: &str = "shopstream";
const SCRIPT: &str = "s3://lake/artifacts/jobs/spark/run_models.py";
const MODELS: &str = "s3://lake/artifacts/jobs/sql";

fn sample(name: &str) -> Value {
    let path = format!(
        "{}/../../events/emr-launch/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn cluster_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("LAKE_BUCKET", BUCKET),
        ("BATCHES_TABLE", TABLE),
        ("EVENT_BUS_NAME", BUS),
        ("JOB_SCRIPT_URI", SCRIPT),
        ("MODELS_URI", MODELS),
        ("EMR_RELEASE_LABEL", "emr-7.9.0"),
        ("EMR_SERVICE_ROLE", "shopstream-test-emr-service"),
        ("EMR_JOB_FLOW_ROLE", "shopstream-test-emr-instance"),
        ("EMR_LOG_URI", "s3://lake/emr-logs/"),
        ("EMR_SUBNET_IDS", "subnet-0123abcd"),
        (
            "EMR_INSTANCE_GROUPS_JSON",
            r#"[{"Name":"primary","InstanceRole":"MASTER","InstanceType":"m5.xlarge","InstanceCount":1},
                {"Name":"workers","InstanceRole":"CORE","InstanceType":"r5.2xlarge","InstanceCount":3}]"#,
        ),
        (
            "EMR_BOOTSTRAP_ACTIONS_JSON",
            r#"[{"Name":"python-deps","Path":"s3://lake/artifacts/bootstrap.sh","Args":["--quiet"]}]"#,
        ),
        (
            "EMR_CONFIGURATIONS_JSON",
            r#"[{"Classification":"spark-defaults","Properties":{"spark.dynamicAllocation.enabled":"true"}}]"#,
        ),
        ("EMR_IDLE_TIMEOUT_SECONDS", "900"),
        ("EMR_TAGS_JSON", r#"{"team":"data"}"#),
        (
            "SPARK_SUBMIT_ARGS_JSON",
            r#"["--conf","spark.executor.memory=8g"]"#,
        ),
    ]
}

struct Harness {
    moto: MotoServer,
    deps: Deps,
    ledger: Ledger,
}

async fn harness(env: Vec<(&str, &str)>) -> anyhow::Result<Harness> {
    let moto = MotoServer::start().await?;
    let sdk = moto.sdk_config();
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&dynamodb, TABLE).await?;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    events.create_event_bus().name(BUS).send().await?;
    let ledger = Ledger::new(dynamodb, s3.clone(), TABLE, BUCKET);
    let deps = Deps {
        config: Config::from_env(&Env::from_pairs(env))?,
        clients: Clients {
            emr: aws_sdk_emr::Client::new(&sdk),
            serverless: aws_sdk_emrserverless::Client::new(&sdk),
        },
        s3,
        ledger: ledger.clone(),
        events,
    };
    Ok(Harness { moto, deps, ledger })
}

/// A `PLANNED` batch routed to EMR, as gold-transform leaves one it finds too large.
async fn planned_batch(ledger: &Ledger, hour: u32) -> anyhow::Result<String> {
    let inputs = (0..3)
        .map(|i| InputObject {
            key: format!("silver/transaction/dt=2026-12-02/hour={hour:02}/shardId-00000000000{i}-1-9.parquet"),
            size_bytes: 1_000_000 + i,
            etag: format!("etag-{i}"),
        })
        .collect();
    let PlanOutcome::Planned(planned) = ledger.plan(inputs, 100, Utc::now()).await? else {
        anyhow::bail!("nothing planned");
    };
    let batch_id = planned.record.batch_id.clone();
    ledger
        .annotate(
            &batch_id,
            BatchState::Planned,
            &TransitionFields {
                route: Some("emr".into()),
                ..TransitionFields::default()
            },
            Utc::now(),
        )
        .await?;
    Ok(batch_id)
}

fn too_large(batch_id: &str) -> Value {
    let mut event = sample("transform-too-large.json");
    event["detail"]["batch_id"] = batch_id.into();
    event["detail"]["plan_key"] = format!("gold/_plans/{batch_id}.json").into();
    event
}

fn step_event(file: &str, launch: &Launch, batch_id: &str) -> Value {
    let Launch::Step {
        cluster_id,
        step_id,
    } = launch
    else {
        panic!("not a step: {launch:?}");
    };
    let mut event = sample(file);
    event["detail"]["clusterId"] = cluster_id.as_str().into();
    event["detail"]["stepId"] = step_id.as_str().into();
    event["detail"]["name"] = format!("shopstream-gold-{batch_id}").into();
    event
}

async fn invoke(deps: &Deps, event: Value) -> anyhow::Result<Vec<Outcome>> {
    Ok(
        handler(deps, LambdaEvent::new(event, LambdaContext::default()))
            .await?
            .outcomes,
    )
}

fn launched(outcomes: &[Outcome]) -> Launch {
    match outcomes {
        [Outcome::Launched { launch, .. }] => launch.clone(),
        other => panic!("expected one launch, got {other:?}"),
    }
}

#[tokio::test]
async fn run_job_flow_carries_every_configured_field_and_a_second_invocation_launches_nothing(
) -> anyhow::Result<()> {
    let h = harness(cluster_env()).await?;
    let batch_id = planned_batch(&h.ledger, 10).await?;
    let launch = launched(&invoke(&h.deps, too_large(&batch_id)).await?);
    let Launch::Step {
        cluster_id,
        step_id,
    } = &launch
    else {
        panic!("a cluster step");
    };
    let emr = &h.deps.clients.emr;

    let cluster = emr.describe_cluster().cluster_id(cluster_id).send().await?;
    let cluster = cluster.cluster().expect("cluster");
    assert_eq!(
        cluster.name(),
        Some(format!("shopstream-gold-{batch_id}").as_str())
    );
    assert_eq!(cluster.release_label(), Some("emr-7.9.0"));
    assert_eq!(cluster.log_uri(), Some("s3://lake/emr-logs/"));
    assert_eq!(cluster.service_role(), Some("shopstream-test-emr-service"));
    assert_eq!(
        cluster
            .ec2_instance_attributes()
            .and_then(|a| a.iam_instance_profile()),
        Some("shopstream-test-emr-instance")
    );
    assert_eq!(
        cluster
            .ec2_instance_attributes()
            .and_then(|a| a.ec2_subnet_id()),
        Some("subnet-0123abcd")
    );
    assert_eq!(
        cluster.auto_terminate(),
        Some(true),
        "KeepJobFlowAliveWhenNoSteps=false"
    );
    let tags: BTreeMap<&str, &str> = cluster
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect();
    assert_eq!(tags.get(BATCH_TAG), Some(&batch_id.as_str()));
    assert_eq!(
        tags.get("for-use-with-amazon-emr-managed-policies"),
        Some(&"true")
    );
    assert_eq!(tags.get("team"), Some(&"data"));
    assert!(cluster
        .applications()
        .iter()
        .any(|a| a.name() == Some("Spark")));
    let spark_defaults = cluster
        .configurations()
        .iter()
        .find(|c| c.classification() == Some("spark-defaults"))
        .expect("spark-defaults configuration");
    assert_eq!(
        spark_defaults
            .properties()
            .and_then(|p| p.get("spark.dynamicAllocation.enabled"))
            .map(String::as_str),
        Some("true")
    );

    let groups = emr
        .list_instance_groups()
        .cluster_id(cluster_id)
        .send()
        .await?;
    let mut groups: Vec<(String, String, i32)> = groups
        .instance_groups()
        .iter()
        .map(|g| {
            (
                g.name().unwrap_or_default().to_owned(),
                g.instance_type().unwrap_or_default().to_owned(),
                g.requested_instance_count().unwrap_or_default(),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            ("primary".to_owned(), "m5.xlarge".to_owned(), 1),
            ("workers".to_owned(), "r5.2xlarge".to_owned(), 3)
        ]
    );
    let actions = emr
        .list_bootstrap_actions()
        .cluster_id(cluster_id)
        .send()
        .await?;
    let action = &actions.bootstrap_actions()[0];
    assert_eq!(action.name(), Some("python-deps"));
    assert_eq!(
        action.script_path(),
        Some("s3://lake/artifacts/bootstrap.sh")
    );
    assert_eq!(action.args(), ["--quiet"]);

    let steps = emr.list_steps().cluster_id(cluster_id).send().await?;
    let [step] = steps.steps() else {
        panic!("one step: {:?}", steps.steps());
    };
    assert_eq!(step.id(), Some(step_id.as_str()));
    let jar = step.config().expect("step config");
    assert_eq!(jar.jar(), Some("command-runner.jar"));
    let args = jar.args();
    assert_eq!(
        &args[..5],
        [
            "spark-submit",
            "--deploy-mode",
            "cluster",
            "--conf",
            "spark.executor.memory=8g"
        ]
    );
    assert_eq!(args[5], SCRIPT);
    let inputs = format!("s3://lake/gold/_plans/{batch_id}.json");
    for (flag, value) in [
        ("--silver", "s3://lake/silver"),
        ("--gold", "s3://lake/gold"),
        ("--batch-id", batch_id.as_str()),
        ("--models", MODELS),
        ("--inputs", inputs.as_str()),
    ] {
        let at = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag} in {args:?}"));
        assert_eq!(args[at + 1], value, "{flag}");
    }
    assert_eq!(
        step.status().and_then(|s| s.state()),
        Some(&StepState::Running),
        "moto runs steps for ever"
    );

    let record = h.ledger.get(&batch_id).await?.expect("batch");
    assert_eq!(record.state, BatchState::Launched);
    assert_eq!(
        record.fields.cluster_id.as_deref(),
        Some(cluster_id.as_str())
    );
    assert_eq!(record.fields.step_id.as_deref(), Some(step_id.as_str()));

    // The same event again, and the schedule's sweep: nothing new is started.
    assert_eq!(
        invoke(&h.deps, too_large(&batch_id)).await?,
        [Outcome::AlreadyLaunched {
            batch_id: batch_id.clone(),
            launch: launch.clone()
        }]
    );
    assert_eq!(
        invoke(&h.deps, sample("schedule.json")).await?,
        [Outcome::StillRunning {
            batch_id: batch_id.clone(),
            launch: launch.clone()
        }]
    );
    let clusters = emr.list_clusters().send().await?;
    assert_eq!(clusters.clusters().len(), 1);
    assert_eq!(
        emr.list_steps()
            .cluster_id(cluster_id)
            .send()
            .await?
            .steps()
            .len(),
        1
    );
    drop(h.moto);
    Ok(())
}

#[tokio::test]
async fn a_cluster_started_by_an_invocation_that_died_is_adopted_not_duplicated(
) -> anyhow::Result<()> {
    let h = harness(cluster_env()).await?;
    let batch_id = planned_batch(&h.ledger, 11).await?;
    // An earlier invocation got as far as RunJobFlow and died before the ledger write.
    let orphan = launch::start(
        &h.deps.clients,
        &h.deps.config,
        &batch_id,
        "s3://lake/plan.json",
        None,
    )
    .await?;
    assert!(!orphan.found_existing);
    let outcomes = invoke(&h.deps, too_large(&batch_id)).await?;
    assert_eq!(
        outcomes,
        [Outcome::Adopted {
            batch_id: batch_id.clone(),
            launch: orphan.launch.clone()
        }]
    );
    let active = h
        .deps
        .clients
        .emr
        .list_clusters()
        .cluster_states(ClusterState::Starting)
        .cluster_states(ClusterState::Running)
        .cluster_states(ClusterState::Waiting)
        .send()
        .await?;
    assert_eq!(active.clusters().len(), 1);
    Ok(())
}

/// A sealed manifest for `batch_id` listing one gold file, written as run_models.py would.
async fn write_gold(deps: &Deps, batch_id: &str) -> anyhow::Result<()> {
    let key = format!("gold/final_fact/batch_id={batch_id}/part-00000.parquet");
    let bytes = b"PAR1 stand-in gold bytes PAR1".to_vec();
    deps.s3
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .body(bytes.clone().into())
        .send()
        .await?;
    let mut tables = BTreeMap::new();
    tables.insert(
        "final_fact".to_owned(),
        TableOutput {
            rows: 7,
            files: vec![describe_file(key, &bytes, 7)],
        },
    );
    let plan = deps.ledger.read_plan(batch_id).await?;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        batch_id: batch_id.to_owned(),
        engine: "spark".into(),
        window: plan.window.clone(),
        tables,
        event_index: Vec::new(),
        silver_inputs: plan.inputs.clone(),
        bad_inputs: Vec::new(),
        model_versions: BTreeMap::new(),
        counts: Default::default(),
        checksum: String::new(),
    }
    .seal();
    deps.s3
        .put_object()
        .bucket(BUCKET)
        .key(manifest_key(batch_id))
        .body(manifest.to_json().into())
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn step_status_events_move_the_ledger() -> anyhow::Result<()> {
    let h = harness(cluster_env()).await?;

    // COMPLETED with a sound manifest: TRANSFORMED, with the manifest's figures.
    let done = planned_batch(&h.ledger, 12).await?;
    let launch = launched(&invoke(&h.deps, too_large(&done)).await?);
    write_gold(&h.deps, &done).await?;
    assert_eq!(
        invoke(
            &h.deps,
            step_event("step-status-completed.json", &launch, &done)
        )
        .await?,
        [Outcome::Transformed {
            batch_id: done.clone(),
            manifest_key: manifest_key(&done)
        }]
    );
    let record = h.ledger.get(&done).await?.expect("batch");
    assert_eq!(record.state, BatchState::Transformed);
    assert_eq!(record.fields.output_rows, Some(7));
    assert_eq!(record.fields.manifest_key, Some(manifest_key(&done)));
    // A redelivered event changes nothing.
    assert!(matches!(
        invoke(
            &h.deps,
            step_event("step-status-completed.json", &launch, &done)
        )
        .await?[..],
        [Outcome::Ignored { .. }]
    ));

    // COMPLETED but no manifest: the job did not finish its work.
    let hollow = planned_batch(&h.ledger, 13).await?;
    let launch = launched(&invoke(&h.deps, too_large(&hollow)).await?);
    let outcomes = invoke(
        &h.deps,
        step_event("step-status-completed.json", &launch, &hollow),
    )
    .await?;
    let [Outcome::TransformFailed { reason, .. }] = &outcomes[..] else {
        panic!("{outcomes:?}");
    };
    assert!(reason.contains("manifest does not check out"), "{reason}");
    assert_eq!(
        h.ledger.get(&hollow).await?.expect("batch").state,
        BatchState::TransformFailed
    );

    // FAILED and CANCELLED: TRANSFORM_FAILED with the reason, and no manifest to load.
    for (hour, file) in [
        (14, "step-status-failed.json"),
        (15, "step-status-cancelled.json"),
    ] {
        let batch_id = planned_batch(&h.ledger, hour).await?;
        let launch = launched(&invoke(&h.deps, too_large(&batch_id)).await?);
        let outcomes = invoke(&h.deps, step_event(file, &launch, &batch_id)).await?;
        let [Outcome::TransformFailed { reason, .. }] = &outcomes[..] else {
            panic!("{file}: {outcomes:?}");
        };
        let state = sample(file)["detail"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(reason.starts_with(&format!("step {state}")), "{reason}");
        let record = h.ledger.get(&batch_id).await?.expect("batch");
        assert_eq!(record.state, BatchState::TransformFailed);
        assert_eq!(record.fields.error.as_deref(), Some(reason.as_str()));
        let manifest = h
            .deps
            .s3
            .head_object()
            .bucket(BUCKET)
            .key(manifest_key(&batch_id))
            .send()
            .await;
        assert!(manifest.is_err(), "no manifest for a failed batch");
        // A failed batch may be launched again, explicitly; it gets a new cluster.
        let retry = invoke(&h.deps, serde_json::json!({ "batch_id": batch_id })).await?;
        let relaunch = launched(&retry);
        assert_ne!(relaunch, launch);
        // The old step's late event no longer concerns the batch.
        assert!(matches!(
            invoke(&h.deps, step_event(file, &launch, &batch_id)).await?[..],
            [Outcome::Ignored { .. }]
        ));
    }

    // A step that is not ours.
    let mut foreign = sample("step-status-failed.json");
    foreign["detail"]["name"] = "nightly-report".into();
    assert!(matches!(
        invoke(&h.deps, foreign).await?[..],
        [Outcome::Ignored { .. }]
    ));
    Ok(())
}

#[tokio::test]
async fn a_long_running_cluster_gets_one_step_per_batch() -> anyhow::Result<()> {
    let probe = harness(cluster_env()).await?;
    let shared = probe
        .deps
        .clients
        .emr
        .run_job_flow()
        .name("shared-analytics")
        .release_label("emr-7.9.0")
        .instances(
            aws_sdk_emr::types::JobFlowInstancesConfig::builder()
                .keep_job_flow_alive_when_no_steps(true)
                .master_instance_type("m5.xlarge")
                .instance_count(1)
                .build(),
        )
        .send()
        .await?;
    let cluster_id = shared.job_flow_id().expect("cluster id").to_owned();
    let mut env: Vec<(&str, &str)> = cluster_env();
    env.push(("EMR_MODE", "existing-cluster"));
    env.push(("EMR_CLUSTER_ID", &cluster_id));
    let deps = Deps {
        config: Config::from_env(&Env::from_pairs(env))?,
        ..probe.deps
    };
    let batch_id = planned_batch(&probe.ledger, 16).await?;
    let launch = launched(&invoke(&deps, too_large(&batch_id)).await?);
    assert!(matches!(&launch, Launch::Step { cluster_id: c, .. } if c == &cluster_id));
    assert!(matches!(
        invoke(&deps, too_large(&batch_id)).await?[..],
        [Outcome::AlreadyLaunched { .. }]
    ));
    let steps = deps
        .clients
        .emr
        .list_steps()
        .cluster_id(&cluster_id)
        .send()
        .await?;
    assert_eq!(steps.steps().len(), 1);
    assert_eq!(
        steps.steps()[0].action_on_failure(),
        Some(&aws_sdk_emr::types::ActionOnFailure::Continue),
        "a failed batch leaves the shared cluster running"
    );
    let clusters = deps.clients.emr.list_clusters().send().await?;
    assert_eq!(clusters.clusters().len(), 1, "no cluster of its own");
    Ok(())
}

#[tokio::test]
async fn emr_serverless_job_runs_carry_the_batch_as_client_token() -> anyhow::Result<()> {
    let probe = harness(cluster_env()).await?;
    let sdk = probe.moto.sdk_config();
    let serverless = aws_sdk_emrserverless::Client::new(&sdk);
    let application = serverless
        .create_application()
        .name("shopstream-gold")
        .release_label("emr-7.9.0")
        .r#type("SPARK")
        .client_token("create-app")
        .send()
        .await?;
    let application_id = application.application_id().to_owned();
    let env: Vec<(&str, &str)> = vec![
        ("LAKE_BUCKET", BUCKET),
        ("BATCHES_TABLE", TABLE),
        ("EVENT_BUS_NAME", BUS),
        ("JOB_SCRIPT_URI", SCRIPT),
        ("MODELS_URI", MODELS),
        ("EMR_MODE", "serverless"),
        ("EMR_SERVERLESS_APPLICATION_ID", &application_id),
        (
            "EMR_SERVERLESS_EXECUTION_ROLE_ARN",
            "arn:aws:iam::123456789012:role/shopstream-gold-job",
        ),
        ("EMR_LOG_URI", "s3://lake/emr-logs/"),
    ];
    let deps = Deps {
        config: Config::from_env(&Env::from_pairs(env))?,
        ..probe.deps
    };
    let batch_id = planned_batch(&probe.ledger, 17).await?;
    let launch = launched(&invoke(&deps, too_large(&batch_id)).await?);
    let Launch::JobRun {
        application_id: app,
        job_run_id,
    } = &launch
    else {
        panic!("a job run: {launch:?}");
    };
    assert_eq!(app, &application_id);
    let run = serverless
        .get_job_run()
        .application_id(&application_id)
        .job_run_id(job_run_id)
        .send()
        .await?;
    let run = run.job_run().expect("job run");
    assert_eq!(
        run.name(),
        Some(format!("shopstream-gold-{batch_id}").as_str())
    );
    assert_eq!(
        run.execution_role(),
        "arn:aws:iam::123456789012:role/shopstream-gold-job"
    );
    let record = probe.ledger.get(&batch_id).await?.expect("batch");
    assert_eq!(record.state, BatchState::Launched);
    assert_eq!(record.fields.route.as_deref(), Some("emr-serverless"));
    assert!(matches!(
        invoke(&deps, too_large(&batch_id)).await?[..],
        [Outcome::AlreadyLaunched { .. }]
    ));

    let mut failed = sample("job-run-state-failed.json");
    failed["detail"]["applicationId"] = application_id.as_str().into();
    failed["detail"]["jobRunId"] = job_run_id.as_str().into();
    failed["detail"]["jobRunName"] = format!("shopstream-gold-{batch_id}").into();
    let outcomes = invoke(&deps, failed).await?;
    assert!(
        matches!(&outcomes[..], [Outcome::TransformFailed { reason, .. }] if reason.starts_with("job run FAILED")),
        "{outcomes:?}"
    );
    assert_eq!(
        probe.ledger.get(&batch_id).await?.expect("batch").state,
        BatchState::TransformFailed
    );
    Ok(())
}

#[tokio::test]
async fn unknown_and_unready_batches_launch_nothing() -> anyhow::Result<()> {
    let h = harness(cluster_env()).await?;
    let error = handler(
        &h.deps,
        LambdaEvent::new(
            too_large("19700101T00-19700101T00-0000000000000000"),
            LambdaContext::default(),
        ),
    )
    .await
    .expect_err("unknown batch");
    assert!(error.to_string().contains("not in the ledger"), "{error}");
    let done = planned_batch(&h.ledger, 18).await?;
    h.ledger
        .transition(
            &done,
            BatchState::Planned,
            BatchState::Transformed,
            &TransitionFields::default(),
            Utc::now(),
        )
        .await?;
    assert_eq!(
        invoke(&h.deps, too_large(&done)).await?,
        [Outcome::NotLaunchable {
            batch_id: done,
            state: BatchState::Transformed
        }]
    );
    assert!(h
        .deps
        .clients
        .emr
        .list_clusters()
        .send()
        .await?
        .clusters()
        .is_empty());
    Ok(())
}
