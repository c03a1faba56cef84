//! The handler against moto (S3 through object_store, the DynamoDB ledger, EventBridge), fed
//! the sample events of events/gold-transform: manifest last and only on success, the ledger
//! moved and the event published, a failure before the manifest changing nothing, identical
//! bytes on a rerun, batches over the limits routed to EMR, bad objects reported, concurrent
//! invocations with disjoint batches.

mod common;

use common::faulty::FailingPuts;
use common::upload_batch;
use gold_transform::lake::Lake;
use gold_transform::{Config, Deps, Outcome};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use shopstream::config::Env;
use shopstream::ledger::{create_table, BatchState, Ledger};
use shopstream::metrics::MetricSet;
use shopstream_emulators::MotoServer;
use std::sync::Arc;

const BUCKET: &str = "lake";
const TABLE: &str = "batches";
const BUS: &str = "shopstream";

fn sample(name: &str) -> Value {
    let path = format!(
        "{}/../../events/gold-transform/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn env(moto: &MotoServer, extra: &[(&str, &str)]) -> Env {
    let mut pairs: Vec<(String, String)> = vec![
        ("LAKE_BUCKET".into(), BUCKET.into()),
        ("BATCHES_TABLE".into(), TABLE.into()),
        ("EVENT_BUS_NAME".into(), BUS.into()),
        ("AWS_ENDPOINT_URL".into(), moto.endpoint_url().into()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("GOLD_PART_ROWS".into(), "4".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Env::from_pairs(pairs)
}

async fn setup(moto: &MotoServer) -> aws_sdk_s3::Client {
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    create_table(&aws_sdk_dynamodb::Client::new(&moto.sdk_config()), TABLE)
        .await
        .unwrap();
    aws_sdk_eventbridge::Client::new(&moto.sdk_config())
        .create_event_bus()
        .name(BUS)
        .send()
        .await
        .unwrap();
    s3
}

fn deps(moto: &MotoServer, env: &Env, lake: Option<Lake>) -> Deps {
    let config = Config::from_env(env).unwrap();
    let sdk = moto.sdk_config();
    Deps {
        ledger: Ledger::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            moto.s3_client(),
            TABLE,
            BUCKET,
        ),
        lake: lake.unwrap_or_else(|| Lake::s3(BUCKET, env).unwrap()),
        events: aws_sdk_eventbridge::Client::new(&sdk),
        config,
    }
}

async fn invoke(deps: &Deps, event: Value) -> Result<Outcome, gold_transform::HandlerError> {
    gold_transform::handler(deps, LambdaEvent::new(event, Context::default())).await
}

async fn keys(s3: &aws_sdk_s3::Client, prefix: &str) -> Vec<String> {
    let listed = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

async fn object(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let got = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn the_schedule_transforms_a_new_batch_manifest_last_and_records_it() {
    let moto = MotoServer::start().await.unwrap();
    let s3 = setup(&moto).await;
    let env = env(&moto, &[]);
    let deps = deps(&moto, &env, None);
    upload_batch(&deps.lake, 0).await;

    let outcome = invoke(&deps, sample("transform-due.json")).await.unwrap();
    let Outcome::Transformed {
        batch_id,
        manifest_key,
        table_rows,
        silver_rows,
        duplicates_dropped,
        bad_inputs,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!((silver_rows, duplicates_dropped, bad_inputs), (8, 3, 0));
    assert_eq!(table_rows["final_fact"], 5);
    assert_eq!(table_rows["rejected"], 2);

    let manifest = shopstream::manifest::read_manifest(&s3, BUCKET, &manifest_key)
        .await
        .unwrap();
    shopstream::manifest::verify_objects(&s3, BUCKET, &manifest)
        .await
        .unwrap();
    assert_eq!(manifest.silver_inputs.len(), 7);
    let record = deps.ledger.get(&batch_id).await.unwrap().unwrap();
    assert_eq!(record.state, BatchState::Transformed);
    assert_eq!(
        record.fields.manifest_key.as_deref(),
        Some(manifest_key.as_str())
    );
    assert_eq!(record.fields.output_rows, Some(5));
    assert_eq!(record.fields.route.as_deref(), Some("lambda"));

    // Nothing new: nothing to do. Late objects (batch 2) form the next batch.
    assert_eq!(
        invoke(&deps, sample("transform-due.json")).await.unwrap(),
        Outcome::NothingToDo
    );
    upload_batch(&deps.lake, 1).await;
    let Outcome::Transformed {
        duplicates_dropped,
        table_rows,
        ..
    } = invoke(&deps, sample("transform-due.json")).await.unwrap()
    else {
        panic!("second batch not transformed");
    };
    assert_eq!(duplicates_dropped, 1, "e2 was already in gold");
    assert_eq!(table_rows["final_fact"], 2);
    assert_eq!(keys(&s3, "gold/_manifests/").await.len(), 2);
}

#[tokio::test]
async fn a_failure_before_the_manifest_changes_nothing_and_the_rerun_is_byte_identical() {
    let moto = MotoServer::start().await.unwrap();
    let s3 = setup(&moto).await;
    let env = env(&moto, &[]);
    let healthy = Lake::s3(BUCKET, &env).unwrap();
    upload_batch(&healthy, 0).await;
    // The dimension files cannot be written: the fact and others may be, the manifest never.
    let failing = Lake::new(
        Arc::new(FailingPuts {
            inner: healthy.store(),
            prefix: "gold/dim_user/".into(),
        }),
        "failing",
    );
    let broken = deps(&moto, &env, Some(failing));
    let error = invoke(&broken, sample("transform-due.json"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("injected failure"), "{error}");
    assert!(
        keys(&s3, "gold/_manifests/").await.is_empty(),
        "no manifest after a failure"
    );
    let planned = broken
        .ledger
        .list_by_state(BatchState::Planned)
        .await
        .unwrap();
    assert_eq!(planned.len(), 1);
    let before = planned[0].clone();
    assert!(before.inputs_claimed);
    assert_eq!(
        before.fields,
        Default::default(),
        "the ledger item is as the planner left it"
    );

    // The next invocation finishes the same batch.
    let deps = deps(&moto, &env, None);
    let Outcome::Transformed { batch_id, .. } =
        invoke(&deps, sample("transform-due.json")).await.unwrap()
    else {
        panic!("not transformed");
    };
    assert_eq!(batch_id, before.batch_id);
    let gold = keys(&s3, "gold/").await;
    let first: Vec<(String, Vec<u8>)> = {
        let mut files = Vec::new();
        for key in gold.iter().filter(|k| !k.starts_with("gold/_plans/")) {
            files.push((key.clone(), object(&s3, key).await));
        }
        files
    };
    // A rerun of the same batch id (explicit request) is skipped by the ledger; the transform
    // itself rewrites identical bytes.
    let mut request = sample("transform-requested.json");
    request["detail"]["batch_id"] = Value::String(batch_id.clone());
    assert!(matches!(
        invoke(&deps, request).await.unwrap(),
        Outcome::Skipped {
            state: BatchState::Transformed,
            ..
        }
    ));
    let plan = deps.ledger.read_plan(&batch_id).await.unwrap();
    let limits = gold_transform::transform::TransformLimits {
        max_rows: 1_000,
        max_bytes: 1_000_000,
        part_rows: 4,
        engine: Default::default(),
    };
    gold_transform::transform::transform(&deps.lake, &deps.lake, &plan, &limits, &|_| {})
        .await
        .unwrap();
    for (key, bytes) in first {
        assert_eq!(object(&s3, &key).await, bytes, "{key} changed on rerun");
    }
}

#[tokio::test]
async fn batches_over_the_limits_go_to_emr_and_bad_objects_are_reported() {
    let moto = MotoServer::start().await.unwrap();
    let s3 = setup(&moto).await;
    let small = env(&moto, &[("MAX_BATCH_ROWS", "3")]);
    let deps_small = deps(&moto, &small, None);
    upload_batch(&deps_small.lake, 0).await;
    let outcome = invoke(&deps_small, sample("transform-due.json"))
        .await
        .unwrap();
    let Outcome::TooLarge {
        batch_id,
        input_rows,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(input_rows, 8);
    assert!(keys(&s3, "gold/_manifests/").await.is_empty());
    let record = deps_small.ledger.get(&batch_id).await.unwrap().unwrap();
    assert_eq!(
        (record.state, record.fields.route.as_deref()),
        (BatchState::Planned, Some("emr"))
    );
    // Routed to EMR: the Lambda does not pick it up again.
    assert_eq!(
        invoke(&deps_small, sample("transform-due.json"))
            .await
            .unwrap(),
        Outcome::NothingToDo
    );

    // Batch 2 with an unreadable object and a schema-drifted one.
    let deps = deps(&moto, &env(&moto, &[]), None);
    upload_batch(&deps.lake, 1).await;
    deps.lake
        .put(
            "silver/transaction/dt=2026-12-02/hour=09/shardId-000000000009-1-1.parquet",
            b"not parquet".to_vec(),
        )
        .await
        .unwrap();
    let drifted = arrow::array::RecordBatch::try_new(
        Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("event_id", arrow::datatypes::DataType::Utf8, false),
        ])),
        vec![Arc::new(arrow::array::StringArray::from(vec!["e99"]))],
    )
    .unwrap();
    deps.lake
        .put(
            "silver/transaction/dt=2026-12-02/hour=09/shardId-000000000009-2-2.parquet",
            shopstream::columnar::to_parquet_bytes(&drifted).unwrap(),
        )
        .await
        .unwrap();
    let mut metrics = MetricSet::for_function("gold-transform");
    let outcome = gold_transform::handler::run(
        &deps,
        &sample("transform-due.json"),
        chrono::Utc::now(),
        &mut metrics,
    )
    .await
    .unwrap();
    let Outcome::Transformed {
        batch_id,
        bad_inputs,
        manifest_key,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(bad_inputs, 2);
    assert_eq!(metrics.value("BadSilverObjects"), Some(2.0));
    let manifest = shopstream::manifest::read_manifest(&s3, BUCKET, &manifest_key)
        .await
        .unwrap();
    let reasons: Vec<&str> = manifest
        .bad_inputs
        .iter()
        .map(|b| b.error.as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("not a Parquet file")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("schema drift")),
        "{reasons:?}"
    );
    assert_eq!(
        deps.ledger
            .get(&batch_id)
            .await
            .unwrap()
            .unwrap()
            .fields
            .bad_inputs,
        Some(2)
    );
}

#[tokio::test]
async fn concurrent_invocations_transform_disjoint_batches() {
    let moto = MotoServer::start().await.unwrap();
    let s3 = setup(&moto).await;
    let env = env(&moto, &[("MAX_BATCH_OBJECTS", "4")]);
    let deps = deps(&moto, &env, None);
    upload_batch(&deps.lake, 0).await;
    let (a, b) = tokio::join!(
        invoke(&deps, sample("transform-due.json")),
        invoke(&deps, sample("transform-due.json"))
    );
    let mut transformed = Vec::new();
    for outcome in [a.unwrap(), b.unwrap()] {
        if let Outcome::Transformed { batch_id, .. } = outcome {
            transformed.push(batch_id);
        }
    }
    while let Outcome::Transformed { batch_id, .. } =
        invoke(&deps, sample("transform-due.json")).await.unwrap()
    {
        transformed.push(batch_id);
    }
    let mut seen = std::collections::BTreeSet::new();
    for batch_id in &transformed {
        let manifest = shopstream::manifest::read_manifest(
            &s3,
            BUCKET,
            &shopstream::lake::manifest_key(batch_id),
        )
        .await
        .unwrap();
        for input in manifest.silver_inputs {
            assert!(
                seen.insert(input.key.clone()),
                "{} in two batches",
                input.key
            );
        }
    }
    assert_eq!(seen.len(), 7, "every object in exactly one batch");
}
