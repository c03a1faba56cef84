//! s3-cleanup against moto (S3, DynamoDB ledger, EventBridge) with ≥ 2,500 objects: two loaded
//! batches (one past both retentions, one past only the silver one), one batch not loaded yet
//! whose plan also lists one of the loaded batches' silver inputs, and unrelated objects under
//! bronze/, quarantine/, silver/ (in no batch), the gold event index, manifests and plans.
//! Acceptance: the dry run lists exactly the expired objects and deletes nothing; the run
//! deletes exactly that list and moves the fully expired batch to CLEANED; a second run
//! deletes nothing.

use chrono::{TimeDelta, Utc};
use futures::stream::{self, StreamExt};
use lambda_runtime::{Context, LambdaEvent};
use s3_cleanup::{handler, Config, Deps, Report};
use serde_json::{json, Value};
use shopstream::config::Env;
use shopstream::ledger::{
    create_table, BatchState, InputObject, Ledger, PlanOutcome, TransitionFields,
};
use shopstream::manifest::{
    describe_file, write_manifest, BatchCounts, Manifest, TableOutput, FORMAT_VERSION,
};
use shopstream_emulators::MotoServer;
use std::collections::{BTreeMap, BTreeSet};

const BUCKET: &str = "lake";
const TABLE: &str = "batches";
const BUS: &str = "shopstream";

fn sample(name: &str) -> Value {
    let path = format!(
        "{}/../../events/s3-cleanup/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("json")
}

struct Lake {
    moto: MotoServer,
    s3: aws_sdk_s3::Client,
    ledger: Ledger,
    deps: Deps,
}

async fn lake() -> anyhow::Result<Lake> {
    lake_with(&[]).await
}

async fn lake_with(extra_env: &[(&str, &str)]) -> anyhow::Result<Lake> {
    let moto = MotoServer::start().await?;
    let sdk = moto.sdk_config();
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&dynamodb, TABLE).await?;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    events.create_event_bus().name(BUS).send().await?;
    let mut env = vec![
        ("LAKE_BUCKET", BUCKET),
        ("BATCHES_TABLE", TABLE),
        ("EVENT_BUS_NAME", BUS),
        ("GOLD_RETENTION_DAYS", "30"),
        ("SILVER_RETENTION_DAYS", "14"),
    ];
    env.extend_from_slice(extra_env);
    let config = Config::from_env(&Env::from_pairs(env))?;
    let ledger = Ledger::new(dynamodb.clone(), s3.clone(), TABLE, BUCKET);
    let deps = Deps::new(config, s3.clone(), dynamodb, events);
    Ok(Lake {
        moto,
        s3,
        ledger,
        deps,
    })
}

async fn put_all(s3: &aws_sdk_s3::Client, keys: Vec<String>) {
    stream::iter(keys)
        .for_each_concurrent(16, |key| async move {
            s3.put_object()
                .bucket(BUCKET)
                .key(&key)
                .body(key.as_bytes().to_vec().into())
                .send()
                .await
                .expect("put");
        })
        .await;
}

async fn all_keys(s3: &aws_sdk_s3::Client) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut pages = s3.list_objects_v2().bucket(BUCKET).into_paginator().send();
    while let Some(page) = pages.next().await {
        keys.extend(
            page.expect("page")
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys
}

fn silver(tag: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            format!(
                "silver/transaction/dt=2024-11-05/hour={:02}/shardId-{tag}-{i:04}.parquet",
                i % 24
            )
        })
        .collect()
}

/// A batch of `silver_keys` planned, transformed (gold files and manifest written) and, when
/// `loaded_days_ago` is given, loaded that many days ago. Returns its id and its gold keys.
async fn batch(
    lake: &Lake,
    silver_keys: &[String],
    parts: &[(&str, usize)],
    loaded_days_ago: Option<i64>,
) -> (String, Vec<String>) {
    let at = Utc::now() - TimeDelta::days(loaded_days_ago.unwrap_or(0));
    let inputs: Vec<InputObject> = silver_keys
        .iter()
        .map(|k| InputObject {
            key: k.clone(),
            size_bytes: k.len() as u64,
            etag: String::new(),
        })
        .collect();
    let planned = match lake
        .ledger
        .plan(inputs.clone(), inputs.len(), at)
        .await
        .expect("plan")
    {
        PlanOutcome::Planned(batch) => batch,
        other => panic!("{other:?}"),
    };
    let id = planned.record.batch_id.clone();
    let mut tables = BTreeMap::new();
    let mut gold = Vec::new();
    for (table, count) in parts {
        let files: Vec<_> = (0..*count)
            .map(|p| {
                let key = shopstream::lake::gold_key(table, &id, p as u32);
                gold.push(key.clone());
                describe_file(key.clone(), key.as_bytes(), 1)
            })
            .collect();
        tables.insert(
            (*table).to_owned(),
            TableOutput {
                rows: *count as u64,
                files,
            },
        );
    }
    let index_key = format!("gold/_event_index/dt=2024-11-05/batch_id={id}.parquet");
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        batch_id: id.clone(),
        engine: "datafusion".into(),
        window: planned.plan.window.clone(),
        tables,
        event_index: vec![describe_file(index_key.clone(), index_key.as_bytes(), 1)],
        silver_inputs: inputs,
        bad_inputs: Vec::new(),
        model_versions: BTreeMap::new(),
        counts: BatchCounts::default(),
        checksum: String::new(),
    }
    .seal();
    let mut objects = gold.clone();
    objects.push(index_key);
    put_all(&lake.s3, objects).await;
    let manifest_key = write_manifest(&lake.s3, BUCKET, &manifest)
        .await
        .expect("manifest");
    let fields = TransitionFields {
        manifest_key: Some(manifest_key),
        ..TransitionFields::default()
    };
    let ledger = &lake.ledger;
    ledger
        .transition(
            &id,
            BatchState::Planned,
            BatchState::Transformed,
            &fields,
            at,
        )
        .await
        .expect("transformed");
    if loaded_days_ago.is_some() {
        let none = TransitionFields::default();
        ledger
            .transition(&id, BatchState::Transformed, BatchState::Loading, &none, at)
            .await
            .expect("loading");
        ledger
            .transition(&id, BatchState::Loading, BatchState::Loaded, &none, at)
            .await
            .expect("loaded");
    }
    (id, gold)
}

async fn invoke(deps: &Deps, event: Value) -> Report {
    handler(deps, LambdaEvent::new(event, Context::default()))
        .await
        .expect("cleanup")
}

fn keys_of(report: &Report) -> BTreeSet<String> {
    report
        .batches
        .iter()
        .flat_map(|b| b.keys.iter().cloned())
        .collect()
}

#[tokio::test]
async fn deletes_exactly_the_expired_objects_of_loaded_batches() -> anyhow::Result<()> {
    let lake = lake().await?;
    let old_silver = silver("old", 300);
    let recent_silver = silver("recent", 200);
    let mut pending_silver = silver("pending", 150);
    let silver_of_nobody = silver("late", 100);
    let mut unrelated: Vec<String> = silver_of_nobody.clone();
    unrelated.extend(
        (0..50).map(|i| format!("bronze/orders/dt=2024-11-05/hour=07/shardId-{i}.jsonl.gz")),
    );
    unrelated.extend(
        (0..50).map(|i| format!("quarantine/transaction/dt=2024-11-05/hour=07/shardId-{i}.jsonl")),
    );
    let mut every_silver = old_silver.clone();
    every_silver.extend(recent_silver.iter().cloned());
    every_silver.extend(pending_silver.iter().cloned());
    every_silver.extend(unrelated);
    put_all(&lake.s3, every_silver).await;

    // Loaded 40 days ago: gold (30 days) and silver (14 days) both expired.
    let (old, old_gold) = batch(
        &lake,
        &old_silver,
        &[("final_fact", 650), ("dim_user", 400)],
        Some(40),
    )
    .await;
    // Loaded 20 days ago: only silver expired.
    let (recent, _) = batch(
        &lake,
        &recent_silver,
        &[("final_fact", 300), ("dim_user", 100)],
        Some(20),
    )
    .await;
    // Transformed, not loaded; re-planned so that it also lists one of `recent`'s inputs.
    let (pending, _) = batch(&lake, &pending_silver, &[("final_fact", 200)], None).await;
    let shared = recent_silver[7].clone();
    let mut plan = lake.ledger.read_plan(&pending).await?;
    pending_silver.push(shared.clone());
    plan.inputs.push(InputObject {
        key: shared.clone(),
        size_bytes: 1,
        etag: String::new(),
    });
    lake.ledger.write_plan(&plan).await?;

    let before = all_keys(&lake.s3).await;
    assert!(before.len() >= 2_500, "{} objects", before.len());
    let mut expected: BTreeSet<String> = old_gold.into_iter().collect();
    expected.extend(old_silver.iter().cloned());
    expected.extend(recent_silver.iter().filter(|k| **k != shared).cloned());

    // Dry run: the exact list, nothing deleted.
    let dry = invoke(&lake.deps, sample("manual-dry-run.json")).await;
    assert!(dry.dry_run);
    assert_eq!(keys_of(&dry), expected);
    assert_eq!(dry.objects, expected.len());
    let by_id: BTreeMap<&str, &str> = dry
        .batches
        .iter()
        .map(|b| (b.batch_id.as_str(), b.outcome))
        .collect();
    assert_eq!(
        by_id,
        BTreeMap::from([
            (old.as_str(), "would_clean"),
            (recent.as_str(), "would_partly_clean")
        ])
    );
    assert_eq!(
        all_keys(&lake.s3).await,
        before,
        "a dry run deletes nothing"
    );

    // The scheduled run deletes exactly that list.
    let run = invoke(&lake.deps, sample("eventbridge-cleanup-due.json")).await;
    assert!(!run.dry_run);
    assert_eq!(keys_of(&run), expected);
    assert_eq!(run.failed, 0);
    let after = all_keys(&lake.s3).await;
    assert_eq!(
        before.difference(&after).cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert!(after.contains(&shared), "the unloaded batch still needs it");
    let recent_report = run
        .batches
        .iter()
        .find(|b| b.batch_id == recent)
        .expect("recent");
    assert_eq!(recent_report.protected, vec![shared.clone()]);
    for key in pending_silver.iter().chain(&silver_of_nobody) {
        assert!(after.contains(key), "{key} is not a loaded batch's");
    }
    let state = |id: String| {
        let ledger = lake.ledger.clone();
        async move { ledger.get(&id).await.expect("get").expect("record").state }
    };
    assert_eq!(state(old.clone()).await, BatchState::Cleaned);
    assert_eq!(state(recent.clone()).await, BatchState::Loaded);
    assert_eq!(state(pending.clone()).await, BatchState::Transformed);

    // Again, now also on recent's BatchLoaded event: nothing more to delete.
    let again = invoke(&lake.deps, sample("eventbridge-cleanup-due.json")).await;
    assert_eq!(again.objects, 0, "{again:?}");
    let mut loaded = sample("eventbridge-batch-loaded.json");
    loaded["detail"]["batch_id"] = json!(recent);
    let event = invoke(&lake.deps, loaded).await;
    assert_eq!(event.objects, 0);
    assert_eq!(event.batches[0].outcome, "partly_cleaned");
    let mut cleaned = sample("manual-batch.json");
    cleaned["batchId"] = json!(old);
    assert_eq!(
        invoke(&lake.deps, cleaned).await.batches[0].outcome,
        "not_loaded"
    );
    assert_eq!(all_keys(&lake.s3).await, after);
    drop(lake.moto);
    Ok(())
}

#[tokio::test]
async fn dry_run_from_the_environment_deletes_nothing_unless_a_request_says_otherwise(
) -> anyhow::Result<()> {
    let lake = lake_with(&[("DRY_RUN", "true")]).await?;
    let inputs = silver("env", 5);
    put_all(&lake.s3, inputs.clone()).await;
    let (id, gold) = batch(&lake, &inputs, &[("final_fact", 3)], Some(40)).await;
    let before = all_keys(&lake.s3).await;

    let scheduled = invoke(&lake.deps, sample("eventbridge-cleanup-due.json")).await;
    assert!(scheduled.dry_run);
    assert_eq!(scheduled.objects, 8);
    assert_eq!(all_keys(&lake.s3).await, before);
    assert_eq!(
        lake.ledger.get(&id).await?.map(|r| r.state),
        Some(BatchState::Loaded)
    );

    let mut request = sample("manual-batch.json");
    request["batchId"] = json!(id);
    let run = invoke(&lake.deps, request).await;
    assert!(!run.dry_run);
    let mut expected: BTreeSet<String> = gold.into_iter().collect();
    expected.extend(inputs);
    assert_eq!(keys_of(&run), expected);
    assert_eq!(
        lake.ledger.get(&id).await?.map(|r| r.state),
        Some(BatchState::Cleaned)
    );
    Ok(())
}
