//! The batch ledger against moto's DynamoDB (table with its state index) and S3 (plans):
//! claims, conditional transitions, listing by state, concurrent planners, stale plans.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use shopstream::ledger::events::{publish, BatchTransformed};
use shopstream::ledger::{
    create_table, BatchState, InputObject, Ledger, LedgerError, PlanOutcome, TransitionFields,
    PLAN_LEASE,
};
use shopstream_emulators::MotoServer;
use std::collections::{BTreeMap, HashMap};

const TABLE: &str = "batches";
const BUCKET: &str = "lake";

async fn ledger(moto: &MotoServer) -> anyhow::Result<(Ledger, aws_sdk_dynamodb::Client)> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    create_table(&dynamodb, TABLE).await?;
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    Ok((Ledger::new(dynamodb.clone(), s3, TABLE, BUCKET), dynamodb))
}

fn objects(hour: u32, range: std::ops::Range<u32>) -> Vec<InputObject> {
    range
        .map(|i| InputObject {
            key: format!(
                "silver/transaction/dt=2026-12-02/hour={hour:02}/shardId-000-{i:04}.parquet"
            ),
            size_bytes: 100 + u64::from(i),
            etag: format!("etag{i}"),
        })
        .collect()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn planned(outcome: PlanOutcome) -> shopstream::ledger::PlannedBatch {
    match outcome {
        PlanOutcome::Planned(batch) => *batch,
        other => panic!("expected a planned batch, got {other:?}"),
    }
}

#[tokio::test]
async fn planning_claims_every_input_once_and_late_objects_join_the_next_batch(
) -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (ledger, _) = ledger(&moto).await?;
    let first = planned(ledger.plan(objects(10, 0..5), 100, t0()).await?);
    assert_eq!(first.record.state, BatchState::Planned);
    assert!(first.record.inputs_claimed);
    assert_eq!(first.record.input_objects, 5);
    assert_eq!(first.record.input_bytes, 100 + 101 + 102 + 103 + 104);
    assert_eq!(first.record.window.first_partition, "20261202T10");
    assert_eq!(ledger.read_plan(&first.record.batch_id).await?, first.plan);
    assert_eq!(
        ledger.get(&first.record.batch_id).await?,
        Some(first.record.clone())
    );

    let keys: Vec<String> = first.plan.inputs.iter().map(|i| i.key.clone()).collect();
    let claims = ledger.claims_of(&keys).await?;
    assert_eq!(claims.len(), 5);
    assert!(claims.values().all(|b| *b == first.record.batch_id));

    // The same listing again: nothing new. A late object for an old hour: its own batch.
    assert_eq!(
        ledger.plan(objects(10, 0..5), 100, t0()).await?,
        PlanOutcome::NothingToPlan
    );
    let mut with_late = objects(10, 0..5);
    with_late.extend(objects(9, 7..8));
    let second = planned(ledger.plan(with_late, 100, t0()).await?);
    assert_eq!(second.plan.inputs, objects(9, 7..8));
    assert_ne!(second.record.batch_id, first.record.batch_id);

    // A cap on objects per batch leaves the rest for the next one.
    let third = planned(ledger.plan(objects(11, 0..4), 3, t0()).await?);
    assert_eq!(third.plan.inputs, objects(11, 0..3));
    let fourth = planned(ledger.plan(objects(11, 0..4), 3, t0()).await?);
    assert_eq!(fourth.plan.inputs, objects(11, 3..4));
    Ok(())
}

#[tokio::test]
async fn transitions_are_conditional_and_carry_their_fields() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (ledger, _) = ledger(&moto).await?;
    let batch = planned(ledger.plan(objects(10, 0..2), 100, t0()).await?);
    let id = batch.record.batch_id.as_str();

    let later = t0() + TimeDelta::seconds(30);
    let fields = TransitionFields {
        route: Some("lambda".into()),
        manifest_key: Some(format!("gold/_manifests/{id}.json")),
        input_rows: Some(42),
        output_rows: Some(40),
        bad_inputs: Some(1),
        ..TransitionFields::default()
    };
    let transformed = ledger
        .transition(
            id,
            BatchState::Planned,
            BatchState::Transformed,
            &fields,
            later,
        )
        .await?;
    assert_eq!(transformed.state, BatchState::Transformed);
    assert_eq!(transformed.fields, fields);
    assert_eq!(transformed.updated_at, later);
    assert_eq!(
        transformed.state_times.get(&BatchState::Planned),
        Some(&t0())
    );
    assert_eq!(
        transformed.state_times.get(&BatchState::Transformed),
        Some(&later)
    );
    assert_eq!(transformed.version, batch.record.version + 1);

    // A second worker expecting PLANNED loses, and learns the actual state.
    let again = ledger
        .transition(
            id,
            BatchState::Planned,
            BatchState::Transformed,
            &fields,
            later,
        )
        .await;
    assert!(
        matches!(
            again,
            Err(LedgerError::WrongState {
                actual: Some(BatchState::Transformed),
                ..
            })
        ),
        "{again:?}"
    );
    // Transitions outside the table never reach DynamoDB.
    let skip = ledger
        .transition(
            id,
            BatchState::Transformed,
            BatchState::Cleaned,
            &fields,
            later,
        )
        .await;
    assert!(
        matches!(skip, Err(LedgerError::NotAllowed { .. })),
        "{skip:?}"
    );
    let missing = ledger
        .transition(
            "nope",
            BatchState::Planned,
            BatchState::Transformed,
            &fields,
            later,
        )
        .await;
    assert!(
        matches!(missing, Err(LedgerError::NotFound { .. })),
        "{missing:?}"
    );

    let loading = ledger
        .transition(
            id,
            BatchState::Transformed,
            BatchState::Loading,
            &TransitionFields {
                statement_id: Some("stmt-1".into()),
                ..TransitionFields::default()
            },
            later,
        )
        .await?;
    assert_eq!(
        loading.fields.manifest_key, fields.manifest_key,
        "earlier fields are kept"
    );
    let long_error = "é".repeat(5000);
    let failed = ledger
        .transition(
            id,
            BatchState::Loading,
            BatchState::LoadFailed,
            &TransitionFields {
                error: Some(long_error.clone()),
                ..TransitionFields::default()
            },
            later,
        )
        .await?;
    let error = failed.fields.error.unwrap_or_default();
    assert!(error.len() <= shopstream::ledger::MAX_ERROR_BYTES && long_error.starts_with(&error));
    assert_eq!(failed.fields.statement_id.as_deref(), Some("stmt-1"));

    let listed = ledger.list_by_state(BatchState::LoadFailed).await?;
    assert_eq!(
        listed
            .iter()
            .map(|r| r.batch_id.as_str())
            .collect::<Vec<_>>(),
        vec![id]
    );
    assert!(ledger.list_by_state(BatchState::Planned).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn annotations_keep_the_state() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (ledger, _) = ledger(&moto).await?;
    let batch = planned(ledger.plan(objects(10, 0..1), 100, t0()).await?);
    let fields = TransitionFields {
        route: Some("emr".into()),
        input_rows: Some(9_000_000),
        ..TransitionFields::default()
    };
    let record = ledger
        .annotate(&batch.record.batch_id, BatchState::Planned, &fields, t0())
        .await?;
    assert_eq!(record.state, BatchState::Planned);
    assert_eq!(record.fields.route.as_deref(), Some("emr"));
    let wrong = ledger
        .annotate(&batch.record.batch_id, BatchState::Loaded, &fields, t0())
        .await;
    assert!(matches!(wrong, Err(LedgerError::WrongState { .. })));
    Ok(())
}

#[tokio::test]
async fn concurrent_planners_get_disjoint_batches() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (ledger, _) = ledger(&moto).await?;
    // Three planners with overlapping views of the lake, all at once.
    let views = [objects(10, 0..12), objects(10, 6..18), objects(10, 0..18)];
    let outcomes = futures::future::join_all(views.iter().map(|view| {
        let ledger = ledger.clone();
        let view = view.clone();
        async move { ledger.plan(view, 100, t0()).await }
    }))
    .await;
    // Whatever the interleaving, each object is in at most one planned batch, and the claims
    // agree with the plans.
    let mut owner: HashMap<String, String> = HashMap::new();
    for outcome in outcomes {
        if let PlanOutcome::Planned(batch) = outcome? {
            for input in &batch.plan.inputs {
                let previous = owner.insert(input.key.clone(), batch.record.batch_id.clone());
                assert_eq!(previous, None, "{} planned twice", input.key);
            }
        }
    }
    assert!(!owner.is_empty());
    let all: Vec<String> = objects(10, 0..18).into_iter().map(|o| o.key).collect();
    let claims = ledger.claims_of(&all).await?;
    assert_eq!(
        claims.into_iter().collect::<BTreeMap<_, _>>(),
        owner.into_iter().collect()
    );
    // Whatever was left unclaimed by the race is planned by the next run.
    loop {
        match ledger.plan(objects(10, 0..18), 100, t0()).await? {
            PlanOutcome::NothingToPlan => break,
            PlanOutcome::Planned(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ledger.claims_of(&all).await?.len(), all.len());
    Ok(())
}

#[tokio::test]
async fn a_dead_planners_unfinished_plan_is_released_after_the_lease() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (ledger, dynamodb) = ledger(&moto).await?;
    let inputs = objects(10, 0..3);
    let batch = planned(ledger.plan(inputs.clone(), 100, t0()).await?);
    let id = batch.record.batch_id.clone();
    // Make it look like its planner died after one claim: unfinished, two claims gone.
    dynamodb
        .update_item()
        .table_name(TABLE)
        .key("batch_id", AttributeValue::S(id.clone()))
        .update_expression("SET inputs_claimed = :false")
        .expression_attribute_values(":false", AttributeValue::Bool(false))
        .send()
        .await?;
    for input in &inputs[1..] {
        dynamodb
            .delete_item()
            .table_name(TABLE)
            .key(
                "batch_id",
                AttributeValue::S(format!("claim#{}", input.key)),
            )
            .send()
            .await?;
    }
    // Within the lease its claim is left alone (its planner may still be working): the
    // objects it had not claimed yet go to another batch, whose claims it cannot take.
    let within = planned(
        ledger
            .plan(inputs.clone(), 100, t0() + TimeDelta::minutes(1))
            .await?,
    );
    assert_eq!(within.plan.inputs, inputs[1..].to_vec());
    assert_eq!(
        ledger.get(&id).await?.map(|r| r.inputs_claimed),
        Some(false)
    );
    // After the lease: released and deleted, and its object planned again.
    let after = t0() + PLAN_LEASE + TimeDelta::minutes(1);
    let replanned = planned(ledger.plan(inputs.clone(), 100, after).await?);
    assert_eq!(replanned.plan.inputs, inputs[..1].to_vec());
    assert_eq!(ledger.get(&id).await?, None);
    let keys: Vec<String> = inputs.iter().map(|i| i.key.clone()).collect();
    let claims = ledger.claims_of(&keys).await?;
    assert_eq!(claims[&keys[0]], replanned.record.batch_id);
    assert_eq!(claims[&keys[1]], within.record.batch_id);
    assert_eq!(
        ledger.plan(inputs, 100, after).await?,
        PlanOutcome::NothingToPlan
    );
    Ok(())
}

#[tokio::test]
async fn batch_events_are_accepted_by_eventbridge() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let events = aws_sdk_eventbridge::Client::new(&moto.sdk_config());
    events.create_event_bus().name("shopstream").send().await?;
    let event = BatchTransformed {
        batch_id: "b".into(),
        bucket: BUCKET.into(),
        manifest_key: "gold/_manifests/b.json".into(),
        engine: "datafusion".into(),
        table_rows: BTreeMap::from([("final_fact".into(), 3)]),
        duplicates_dropped: 1,
        bad_inputs: 0,
    };
    publish(&events, "shopstream", &event).await?;
    assert!(publish(&events, "no-such-bus", &event).await.is_err());
    Ok(())
}
