//! The paths on which Lambda's retries can duplicate or lose silver rows, against moto:
//! a PUT whose answer is lost, a duplicate on either side of a failure cut, a row that
//! cannot be encoded, the invocation deadline, and a timeout after the writes followed by
//! a bisected retry. Nothing may be lost; every silver duplicate must be identifiable by
//! its provenance (`_source`, `_position`), and where the handler can avoid one, it does.

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use shopstream::config::Env;
use shopstream_emulators::{Fault, FaultProxy};
use std::collections::{BTreeMap, BTreeSet};
use stream_enrich::{handler, Config};

/// The sequence numbers of an event's records, in order.
fn sequences(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r["kinesis"]["sequenceNumber"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The event with only records `range` (as Lambda's bisect or a retry delivers them).
fn records_of(event: &Value, range: std::ops::Range<usize>) -> Value {
    let mut event = event.clone();
    if let Some(records) = event["Records"].as_array_mut() {
        *records = records[range].to_vec();
    }
    event
}

fn reported(response: &stream_enrich::StreamResponse) -> Vec<String> {
    response.failures().into_iter().map(|(_, s)| s).collect()
}

/// Every silver row as (event_id, _source, _position, _object).
fn silver_rows(objects: &BTreeMap<String, Vec<u8>>) -> Vec<(String, String, String, String)> {
    let mut rows = Vec::new();
    for (key, bytes) in objects.iter().filter(|(k, _)| k.starts_with("silver/")) {
        let column = |name: &str| -> Vec<String> {
            parquet_strings(bytes, name)
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect()
        };
        let (ids, sources, positions, keys) = (
            column("event_id"),
            column("_source"),
            column("_position"),
            column("_object"),
        );
        for i in 0..ids.len() {
            assert_eq!(&keys[i], key, "_object names the object the row is in");
            rows.push((
                ids[i].clone(),
                sources[i].clone(),
                positions[i].clone(),
                keys[i].clone(),
            ));
        }
    }
    rows
}

fn s3_through(stack: &Stack, endpoint: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.moto.sdk_config())
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build(),
    )
}

const EVERY_ROW: [&str; 6] = [
    "avro-0001",
    "clk-0001",
    "inv-0001",
    "tx-0001",
    "tx-0002",
    "tx-fraud-0001",
];

#[tokio::test]
async fn a_put_whose_answer_was_lost_is_repaired_like_a_written_one() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    // moto stores the clickstream object, but the handler only ever sees errors for it.
    let proxy = FaultProxy::start(stack.moto.port(), |request| {
        if request.method == "PUT" && request.path.contains("silver/clickstream/") {
            Fault::LoseAnswer
        } else {
            Fault::Pass
        }
    })
    .await?;
    let deps = stack.deps_with(s3_through(&stack, proxy.endpoint_url()), TABLE);
    let event = fixture("kinesis-batch.json");
    let all = sequences(&event);
    let response = handler(&deps, invoke_event(event.clone())).await?;
    // Record 2 (the clickstream event) is in the unconfirmed object.
    assert_eq!(reported(&response), all[2..].to_vec());
    assert!(proxy.count(Fault::LoseAnswer) >= 1);
    let after_failure = stack.objects("").await?;
    assert!(
        !after_failure
            .keys()
            .any(|k| k.starts_with("silver/clickstream/")),
        "the committed-but-unconfirmed object was removed: {:?}",
        after_failure.keys()
    );
    assert_eq!(silver_event_ids(&after_failure), ["tx-0001"]);

    let retry = handler(
        &stack.deps(),
        invoke_event(records_of(&event, 2..all.len())),
    )
    .await?;
    assert!(retry.failures().is_empty());
    let done = stack.objects("").await?;
    assert_eq!(silver_event_ids(&done), EVERY_ROW, "every row exactly once");
    Ok(())
}

#[tokio::test]
async fn a_duplicate_on_the_far_side_of_the_cut_keeps_its_twin_in_the_retry() -> anyhow::Result<()>
{
    let stack = Stack::start().await?;
    // Record 1 duplicates record 0 and is the first record of the transaction quarantine
    // object; that object's PUT fails, so the cut would fall between the twins.
    let proxy = FaultProxy::start(stack.moto.port(), |request| {
        if request.method == "PUT" && request.path.contains("quarantine/transaction/") {
            Fault::Refuse
        } else {
            Fault::Pass
        }
    })
    .await?;
    let deps = stack.deps_with(s3_through(&stack, proxy.endpoint_url()), TABLE);
    let event = fixture("kinesis-batch.json");
    let all = sequences(&event);
    let response = handler(&deps, invoke_event(event.clone())).await?;
    // The cut moves down to record 0, so the retry holds both twins and refuses the second
    // again; with the cut at 1 the retry would accept tx-0001 a second time.
    assert_eq!(reported(&response), all);
    assert!(silver_event_ids(&stack.objects("").await?).is_empty());

    let retry = handler(&stack.deps(), invoke_event(event)).await?;
    assert!(retry.failures().is_empty());
    let done = stack.objects("").await?;
    assert_eq!(silver_event_ids(&done), EVERY_ROW);
    let duplicates: Vec<Value> = quarantine_entries(&done)
        .into_iter()
        .filter(|e| e["reasons"][0] == "DUPLICATE_EVENT")
        .collect();
    assert_eq!(duplicates.len(), 1);
    Ok(())
}

fn kinesis_record(sequence: &str, arrival: f64, payload: &Value) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(payload.to_string());
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "user_0042",
            "sequenceNumber": sequence,
            "data": data,
            "approximateArrivalTimestamp": arrival
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000007:{sequence}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/stream-enrich",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/shopstream-events"
    })
}

fn purchase(event_id: &str, price: &str, quantity: i64, timestamp: &str) -> Value {
    json!({
        "event_id": event_id, "user_id": "user_0042", "product_id": 7, "product_price": price,
        "quantity": quantity, "action_type": "purchase", "transaction_status": "completed",
        "shipping_address": "Rua Augusta 1200", "country_name": "Brazil",
        "event_timestamp": timestamp
    })
}

#[tokio::test]
async fn a_row_that_cannot_be_encoded_is_quarantined_not_retried() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    // Limits that let a total beyond DECIMAL(18,2) through validation.
    let config = Config::from_env(&Env::from_pairs([
        ("LAKE_BUCKET", BUCKET),
        ("PROFILE_TABLE", TABLE),
        ("EVENT_BUS_NAME", BUS),
        ("MAX_UNIT_PRICE", "9999999999999"),
        ("MAX_QUANTITY", "1000000000"),
    ]))?;
    let mut deps = stack.deps();
    deps.config = config;
    let event = json!({"Records": [
        kinesis_record("100", 1730791200.0, &purchase("ok-1", "10.00", 1, "2024-11-05T07:00:00Z")),
        kinesis_record("101", 1730791200.0, &purchase("huge-1", "9999999999999.00", 900000000, "2024-11-05T07:00:01Z")),
        kinesis_record("102", 1730791200.0, &purchase("ok-2", "12.50", 2, "2024-11-05T07:00:02Z")),
    ]});
    let stream_enrich::handler::Invocation {
        response, metrics, ..
    } = stream_enrich::handle(&deps, invoke_event(event.clone())).await?;
    assert!(
        response.failures().is_empty(),
        "an encode error is never retried"
    );
    let lake = stack.objects("").await?;
    assert_eq!(silver_event_ids(&lake), ["ok-1", "ok-2"]);
    let entries = quarantine_entries(&lake);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["reasons"][0], "ENCODE_ERROR");
    assert_eq!(entries[0]["event_id"], "huge-1");
    assert!(entries[0]["rejections"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("silver Parquet"));
    let emf = metrics.to_emf(0);
    assert_eq!(emf["Rejected_ENCODE_ERROR"], 1.0);
    assert_eq!(emf["RecordsAccepted"], 2.0);

    // The same batch again writes the same objects.
    handler(&deps, invoke_event(event)).await?;
    assert_eq!(stack.objects("").await?, lake);
    Ok(())
}

#[tokio::test]
async fn near_the_deadline_nothing_starts_and_everything_is_reported() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let event = fixture("kinesis-batch.json");
    let mut context = lambda_runtime::Context::default();
    // One second left, with the default two-second margin.
    context.deadline = (chrono::Utc::now().timestamp_millis() + 1_000) as u64;
    let stream_enrich::handler::Invocation {
        response, metrics, ..
    } = stream_enrich::handle(
        &stack.deps(),
        lambda_runtime::LambdaEvent::new(event.clone(), context),
    )
    .await?;
    assert_eq!(reported(&response), sequences(&event));
    assert!(stack.objects("").await?.is_empty());
    assert_eq!(metrics.to_emf(0)["DeadlineStops"], 1.0);

    // With time to spare the same batch completes.
    let mut context = lambda_runtime::Context::default();
    context.deadline = (chrono::Utc::now().timestamp_millis() + 60_000) as u64;
    let response = handler(
        &stack.deps(),
        lambda_runtime::LambdaEvent::new(event, context),
    )
    .await?;
    assert!(response.failures().is_empty());
    assert_eq!(silver_event_ids(&stack.objects("").await?), EVERY_ROW);
    Ok(())
}

#[tokio::test]
async fn a_timeout_after_the_writes_then_a_bisect_leaves_duplicates_identifiable_by_provenance(
) -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let event = fixture("kinesis-batch.json");
    let count = sequences(&event).len();
    // The first attempt writes everything, then "times out": Lambda never sees its answer,
    // bisects the batch and retries each half.
    handler(&stack.deps(), invoke_event(event.clone())).await?;
    let half = count / 2;
    for range in [0..half, half..count] {
        let response = handler(&stack.deps(), invoke_event(records_of(&event, range))).await?;
        assert!(response.failures().is_empty());
    }
    let lake = stack.objects("").await?;
    let rows = silver_rows(&lake);
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        EVERY_ROW,
        "nothing lost"
    );
    // Each accepted record is in the full-range object and in one half's object: the same
    // (_source, _position) in two objects — a retry duplicate, not a producer's.
    let mut by_position: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for (event_id, source, position, object) in &rows {
        by_position
            .entry((source.clone(), position.clone()))
            .or_default()
            .push(object);
        assert_eq!(source, "shardId-000000000000", "{event_id}");
    }
    assert_eq!(rows.len(), 2 * EVERY_ROW.len());
    for (position, objects) in &by_position {
        assert_eq!(objects.len(), 2, "{position:?}");
        assert_ne!(objects[0], objects[1]);
    }
    Ok(())
}
