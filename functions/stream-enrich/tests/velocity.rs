//! The velocity rule across batches, against moto's DynamoDB: seven orders of one user within
//! five minutes arrive in seven separate Kinesis batches, each scored by a fresh enricher (as a
//! new container would be), and "more than 5 orders in 10 minutes" fires from the sixth on; an
//! order after the window does not fire it. Once through the enricher's steps, once through the
//! handler (each batch a fresh `Deps`, the fraud rules read back from the silver rows).

mod common;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use base64::Engine;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{json, Value};
use shopstream::clean::CleanRecord;
use shopstream::config::{CoreConfig, Env};
use shopstream_emulators::{Fault, FaultProxy, MotoServer};
use stream_enrich::enrich::{
    enrich_with_history, order_marks, DynamoProfiles, Enricher, ProfileCache,
};
use stream_enrich::pipeline::triage;
use stream_enrich::source::parse_event;
use stream_enrich::velocity::{VelocityStore, KEY_ATTRIBUTE};

const PROFILES: &str = "customer_profiles";
const VELOCITY: &str = "order_velocity";
const USER: &str = "user_velocity_1";

async fn table(client: &aws_sdk_dynamodb::Client, name: &str, key: &str) -> anyhow::Result<()> {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// A Kinesis event of one purchase by [`USER`] at `at`, the `n`th record of the shard.
/// How many orders the scanned items of the order-velocity table hold.
fn orders_in(scan: &aws_sdk_dynamodb::operation::scan::ScanOutput) -> usize {
    scan.items()
        .iter()
        .filter_map(|item| item.get("orders").and_then(|v| v.as_ss().ok()))
        .map(Vec::len)
        .sum()
}

fn batch_of_one(n: u64, at: DateTime<Utc>) -> Value {
    let order = json!({
        "event_id": format!("velocity-order-{n}"),
        "user_id": USER,
        "event_timestamp": at.to_rfc3339(),
        "action_type": "purchase",
        "product_id": 7,
        "quantity": 1,
        "product_price": 20.0,
        "currency": "EUR",
        "payment_method": "credit_card",
        "shipping_address": "1 Main St",
        "country_name": "Germany",
    });
    let data = base64::engine::general_purpose::STANDARD.encode(order.to_string());
    let sequence = format!("4965600000000000000000000000000000000000000000000000{n:04}");
    json!({"Records": [{
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:{sequence}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/stream-enrich",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/shopstream-events",
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": USER,
            "sequenceNumber": sequence,
            "approximateArrivalTimestamp": (at + TimeDelta::seconds(1)).timestamp() as f64,
            "data": data,
        }
    }]})
}

/// Scores one batch with a fresh enricher; returns whether the velocity rule fired.
async fn velocity_fires(
    moto: &MotoServer,
    core: &CoreConfig,
    n: u64,
    at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let sdk = &moto.sdk_config();
    let enricher = Enricher::new(
        ProfileCache::new(16, std::time::Duration::from_secs(60)),
        DynamoProfiles::new(aws_sdk_dynamodb::Client::new(sdk), PROFILES, "user_id"),
    )
    .with_velocity(VelocityStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        VELOCITY,
        60,
    ));
    let batch = parse_event(batch_of_one(n, at))?;
    let slice = &batch.slices[0];
    let mut accepted = triage(slice, core).accepted;
    assert_eq!(accepted.len(), 1, "order {n} is valid");
    let profiles = enricher.profiles_for(&accepted).await?;
    let marks = order_marks(&accepted);
    let history = enricher.order_history(&marks, &core.fraud).await?;
    assert!(history.is_some(), "the store is consulted");
    enrich_with_history(&mut accepted, &profiles, &core.fraud, history.as_ref());
    enricher.record_orders(&marks, &core.fraud).await?;
    let CleanRecord::Transaction(tx) = &accepted[0].record else {
        anyhow::bail!("a transaction");
    };
    Ok(tx
        .fraud
        .matched_rules
        .iter()
        .any(|rule| rule.as_ref() == "order_velocity"))
}

#[tokio::test]
async fn the_sixth_order_in_ten_minutes_fires_whatever_the_batching() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    table(&dynamodb, PROFILES, "user_id").await?;
    table(&dynamodb, VELOCITY, KEY_ATTRIBUTE).await?;
    let core = CoreConfig::from_env(&Env::default())?;
    let start = Utc
        .with_ymd_and_hms(2024, 11, 5, 7, 0, 10)
        .single()
        .expect("a time");

    // Seven orders 45 s apart (4.5 minutes in all), one batch each.
    let mut fired = Vec::new();
    for n in 0..7 {
        let at = start + TimeDelta::seconds(45 * n as i64);
        fired.push(velocity_fires(&moto, &core, n, at).await?);
    }
    assert_eq!(
        fired,
        vec![false, false, false, false, false, true, true],
        "fires from the 6th order on"
    );

    // A redelivered batch (the same order again) does not count twice.
    velocity_fires(&moto, &core, 6, start + TimeDelta::seconds(45 * 6)).await?;
    let items = dynamodb.scan().table_name(VELOCITY).send().await?;
    assert_eq!(orders_in(&items), 7, "each order once in the store");
    assert!(items
        .items()
        .iter()
        .all(|item| item.contains_key("expires_at")));
    let seventh_at = start + TimeDelta::seconds(45 * 6);
    // Ten minutes and a second after the 7th order, the window holds only the new one.
    let late = velocity_fires(&moto, &core, 7, seventh_at + TimeDelta::seconds(601)).await?;
    assert!(!late, "not after the window");
    Ok(())
}

/// The handler with a velocity store, one fresh set of dependencies per batch (as separate
/// containers would have): the order's silver row carries `order_velocity` from the sixth on.
#[tokio::test]
async fn the_handler_scores_velocity_across_invocations() -> anyhow::Result<()> {
    let stack = common::Stack::start().await?;
    table(&stack.dynamodb, VELOCITY, KEY_ATTRIBUTE).await?;
    let start = Utc
        .with_ymd_and_hms(2024, 11, 5, 7, 0, 10)
        .single()
        .expect("a time");
    for n in 0..7u64 {
        let mut deps = stack.deps();
        deps.enricher =
            deps.enricher
                .with_velocity(VelocityStore::new(stack.dynamodb.clone(), VELOCITY, 60));
        let at = start + TimeDelta::seconds(45 * n as i64);
        let response =
            stream_enrich::handler(&deps, common::invoke_event(batch_of_one(n, at))).await?;
        assert!(response.failures().is_empty(), "batch {n}: {response:?}");
    }
    let silver = stack.objects("silver/transaction/").await?;
    let mut velocity_by_order: Vec<(String, bool)> = Vec::new();
    for bytes in silver.values() {
        let ids = common::parquet_strings(bytes, "event_id");
        let rules = common::parquet_strings(bytes, "fraud_rules");
        for (id, rules) in ids.into_iter().zip(rules) {
            let fired = rules.is_some_and(|r| r.contains("order_velocity"));
            velocity_by_order.push((id.unwrap_or_default(), fired));
        }
    }
    velocity_by_order.sort();
    let fired: Vec<bool> = velocity_by_order.iter().map(|(_, fired)| *fired).collect();
    assert_eq!(
        fired,
        vec![false, false, false, false, false, true, true],
        "{velocity_by_order:?}"
    );
    Ok(())
}

/// The order history is recorded alongside the lake writes, off the alert path: when that
/// write fails the slice is reported for a retry and its objects are removed; the retry
/// records the order once and writes its row once.
#[tokio::test]
async fn a_failed_history_write_retries_the_slice_and_the_retry_counts_the_order_once(
) -> anyhow::Result<()> {
    let stack = common::Stack::start().await?;
    table(&stack.dynamodb, VELOCITY, KEY_ATTRIBUTE).await?;
    // UpdateItem (the history write) refused; reads and every other call pass.
    let proxy = FaultProxy::start(stack.moto.port(), |request| {
        if String::from_utf8_lossy(&request.body).contains("UpdateExpression") {
            Fault::Refuse
        } else {
            Fault::Pass
        }
    })
    .await?;
    let through_proxy = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&stack.moto.sdk_config())
            .endpoint_url(proxy.endpoint_url())
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(1),
            )
            .build(),
    );
    let at = Utc
        .with_ymd_and_hms(2024, 11, 5, 7, 0, 10)
        .single()
        .expect("a time");
    let event = batch_of_one(0, at);

    let mut failing = stack.deps();
    failing.enricher =
        failing
            .enricher
            .with_velocity(VelocityStore::new(through_proxy, VELOCITY, 60));
    let response = stream_enrich::handler(&failing, common::invoke_event(event.clone())).await?;
    assert_eq!(
        response.failures().len(),
        1,
        "the order is reported: {response:?}"
    );
    assert!(proxy.count(Fault::Refuse) >= 1);
    assert!(
        stack.objects("silver/").await?.is_empty(),
        "the slice's objects were removed for the retry"
    );

    let mut deps = stack.deps();
    deps.enricher =
        deps.enricher
            .with_velocity(VelocityStore::new(stack.dynamodb.clone(), VELOCITY, 60));
    for attempt in 0..2 {
        let response = stream_enrich::handler(&deps, common::invoke_event(event.clone())).await?;
        assert!(
            response.failures().is_empty(),
            "attempt {attempt}: {response:?}"
        );
    }
    let items = stack.dynamodb.scan().table_name(VELOCITY).send().await?;
    assert_eq!(orders_in(&items), 1, "the order once in the store");
    let silver = stack.objects("silver/transaction/").await?;
    let rows: usize = silver
        .values()
        .map(|bytes| common::parquet_strings(bytes, "event_id").len())
        .sum();
    assert_eq!(rows, 1, "its row once in silver");
    Ok(())
}
