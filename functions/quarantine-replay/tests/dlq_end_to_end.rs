//! A batch forced to the DLQ ends in silver or quarantine after the replay, nothing lost.
//!
//! The Kinesis mapping is played by the test, as Lambda plays it: stream-enrich is invoked with
//! a batch read from moto's stream while the lake bucket does not exist, so every attempt
//! reports every record as a transient failure; when the retries are exhausted the mapping's
//! on-failure record (the `events/` sample, with this batch's range) goes to the SQS queue.
//! Then the bucket is restored, replay-dlq puts the range back on the stream, and the mapping
//! delivers the new records to stream-enrich, which writes them to silver and quarantine.

mod common;

use arrow::array::{Array, StringArray};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{json, Value};
use shopstream::config::Env;
use stream_enrich::alerts::FraudAlerter;
use stream_enrich::enrich::{DynamoProfiles, Enricher, ProfileCache};
use stream_enrich::writer::LakeWriter;

const PROFILES: &str = "customer_profiles";
const ALERT_BUS: &str = "shopstream-alerts";
/// The mapping's MaximumRetryAttempts.
const RETRIES: usize = 2;

fn stream_enrich_deps(setup: &Setup) -> stream_enrich::Deps {
    let env = Env::from_pairs([
        ("LAKE_BUCKET", BUCKET),
        ("PROFILE_TABLE", PROFILES),
        ("EVENT_BUS_NAME", ALERT_BUS),
    ]);
    let config = stream_enrich::Config::from_env(&env).expect("stream-enrich config");
    let sdk = setup.moto.sdk_config();
    stream_enrich::Deps {
        writer: LakeWriter::new(setup.s3.clone(), BUCKET),
        enricher: Enricher::new(
            ProfileCache::new(config.cache_capacity, config.cache_ttl),
            DynamoProfiles::new(aws_sdk_dynamodb::Client::new(&sdk), PROFILES, "user_id"),
        ),
        alerter: FraudAlerter::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            ALERT_BUS,
            config.alert_source.clone(),
        ),
        config,
    }
}

/// Records of shard 0 after `after` (exclusive; all when `None`), as a mapping event.
async fn mapping_event(setup: &Setup, after: Option<&str>) -> (Value, Vec<String>) {
    let iterator = match after {
        Some(sequence) => setup
            .kinesis
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(sequence),
        None => setup
            .kinesis
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::TrimHorizon),
    }
    .send()
    .await
    .expect("iterator");
    let page = setup
        .kinesis
        .get_records()
        .shard_iterator(iterator.shard_iterator().unwrap_or_default())
        .send()
        .await
        .expect("records");
    let arn = format!("arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM}");
    let mut sequences = Vec::new();
    let records: Vec<Value> = page
        .records()
        .iter()
        .map(|r| {
            sequences.push(r.sequence_number().to_owned());
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key().unwrap_or_default(),
                    "sequenceNumber": r.sequence_number(),
                    "data": BASE64.encode(r.data().as_ref()),
                    "approximateArrivalTimestamp": r.approximate_arrival_timestamp().map(|t| t.as_secs_f64()).unwrap_or(1730791200.0),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{}", r.sequence_number()),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/stream-enrich",
                "awsRegion": "us-east-1",
                "eventSourceARN": arn,
            })
        })
        .collect();
    (json!({ "Records": records }), sequences)
}

async fn objects(setup: &Setup, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let listed = setup
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .expect("list");
    let mut out = Vec::new();
    for object in listed.contents() {
        let key = object.key().unwrap_or_default().to_owned();
        let bytes = get(&setup.s3, &key).await.expect("object");
        out.push((key, bytes));
    }
    out
}

fn silver_event_ids(objects: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (_, bytes) in objects {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let column = batch.column_by_name("event_id").expect("event_id column");
            let strings = column
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("strings");
            ids.extend((0..strings.len()).map(|i| strings.value(i).to_owned()));
        }
    }
    ids.sort();
    ids
}

/// The profile table and the alert bus stream-enrich needs.
async fn create_profiles_and_bus(setup: &Setup) -> anyhow::Result<()> {
    let sdk = setup.moto.sdk_config();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    dynamodb
        .create_table()
        .table_name(PROFILES)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("user_id")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("user_id")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await?;
    aws_sdk_eventbridge::Client::new(&sdk)
        .create_event_bus()
        .name(ALERT_BUS)
        .send()
        .await?;
    Ok(())
}

/// The mapping's on-failure record for the range `first..=last` of the stream, on the DLQ.
async fn send_on_failure_record(setup: &Setup, first: &str, last: &str) -> anyhow::Result<()> {
    let mut failure = sample("sqs-kinesis-on-failure-message.json");
    failure["KinesisBatchInfo"]["startSequenceNumber"] = json!(first);
    failure["KinesisBatchInfo"]["endSequenceNumber"] = json!(last);
    failure["KinesisBatchInfo"]["streamArn"] = json!(format!(
        "arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM}"
    ));
    setup
        .sqs
        .send_message()
        .queue_url(&setup.queue_url)
        .message_body(failure.to_string())
        .send()
        .await?;
    Ok(())
}

/// Two good purchases and one refused on its merits, put on shard 0.
async fn put_payloads(setup: &Setup) -> anyhow::Result<()> {
    let payloads = [
        json!({"event_id": "e2e-1", "user_id": "u-1", "event_timestamp": "2024-11-05T07:15:00Z",
               "action_type": "purchase", "product_id": 1, "quantity": 1, "product_price": "12.50",
               "shipping_address": "1 Main St"}),
        json!({"event_id": "e2e-2", "user_id": "u-2", "event_timestamp": "2024-11-05T07:16:00Z",
               "action_type": "purchase", "product_id": 2, "quantity": 2, "product_price": "3.00",
               "shipping_address": "2 Main St"}),
        // Refused on its merits: it must end in quarantine, not back in the DLQ.
        json!({"event_id": "e2e-3", "user_id": null, "event_timestamp": "2024-11-05T07:17:00Z",
               "action_type": "purchase", "product_id": 3, "quantity": 1, "product_price": "1.00",
               "shipping_address": "3 Main St"}),
    ];
    for payload in &payloads {
        setup
            .kinesis
            .put_record()
            .stream_name(STREAM)
            .partition_key(payload["user_id"].as_str().unwrap_or("none"))
            .data(Blob::new(payload.to_string().into_bytes()))
            .send()
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_batch_forced_to_the_dlq_ends_in_silver_or_quarantine() -> anyhow::Result<()> {
    // A lake without its bucket yet: every stream-enrich write fails.
    let setup = setup().await?;
    setup.s3.delete_bucket().bucket(BUCKET).send().await?;
    create_profiles_and_bus(&setup).await?;
    put_payloads(&setup).await?;

    // The mapping: first attempt plus RETRIES retries, each failing every record.
    let enrich = stream_enrich_deps(&setup);
    let (event, sequences) = mapping_event(&setup, None).await;
    assert_eq!(sequences.len(), 3);
    for attempt in 0..=RETRIES {
        let response =
            stream_enrich::handler(&enrich, LambdaEvent::new(event.clone(), Context::default()))
                .await?;
        assert!(
            !response.failures().is_empty(),
            "attempt {attempt} should fail"
        );
    }
    send_on_failure_record(&setup, &sequences[0], &sequences[2]).await?;

    // The cause is fixed; the operator replays the DLQ.
    setup.s3.create_bucket().bucket(BUCKET).send().await?;
    let report = invoke(&setup.deps, sample("replay-dlq.json")).await?;
    assert_eq!(report.outcome("recovered"), 1, "{report:?}");
    assert_eq!(report.outcome("records_replayed"), 3);

    // The mapping delivers the re-driven records as new arrivals.
    let (event, replayed) = mapping_event(&setup, Some(&sequences[2])).await;
    assert_eq!(replayed.len(), 3);
    let response =
        stream_enrich::handler(&enrich, LambdaEvent::new(event, Context::default())).await?;
    assert!(response.failures().is_empty(), "{:?}", response.failures());

    assert_eq!(
        silver_event_ids(&objects(&setup, "silver/").await),
        ["e2e-1", "e2e-2"]
    );
    let quarantined: Vec<Value> = objects(&setup, "quarantine/")
        .await
        .iter()
        .flat_map(|(_, bytes)| {
            bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice::<Value>(l).expect("entry"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0]["event_id"], "e2e-3");
    assert_eq!(quarantined[0]["reasons"], json!(["NULL_USER_ID"]));
    Ok(())
}

/// The DLQ path that does write twice: every attempt's writes land but its answer is lost
/// (a timeout after the writes), so the retries are exhausted and the range goes to the DLQ
/// although silver already holds it. The replay re-drives the range as new records, which
/// stream-enrich writes again under their new positions: silver holds each record twice,
/// identifiable by provenance, and gold (gold-transform over the whole lake) holds it once.
#[tokio::test]
async fn a_replayed_range_that_was_already_written_is_in_gold_once() -> anyhow::Result<()> {
    let setup = setup().await?;
    create_profiles_and_bus(&setup).await?;
    put_payloads(&setup).await?;
    let enrich = stream_enrich_deps(&setup);
    let (event, sequences) = mapping_event(&setup, None).await;
    let response =
        stream_enrich::handler(&enrich, LambdaEvent::new(event, Context::default())).await?;
    assert!(response.failures().is_empty(), "{:?}", response.failures());
    // The mapping saw only timeouts: its on-failure record for the whole range.
    send_on_failure_record(&setup, &sequences[0], &sequences[2]).await?;
    let report = invoke(&setup.deps, sample("replay-dlq.json")).await?;
    assert_eq!(report.outcome("records_replayed"), 3, "{report:?}");
    let (event, _) = mapping_event(&setup, Some(&sequences[2])).await;
    let response =
        stream_enrich::handler(&enrich, LambdaEvent::new(event, Context::default())).await?;
    assert!(response.failures().is_empty(), "{:?}", response.failures());

    let silver = objects(&setup, "silver/").await;
    assert_eq!(
        silver_event_ids(&silver),
        ["e2e-1", "e2e-1", "e2e-2", "e2e-2"],
        "at-least-once silver: the replayed twins"
    );

    let env = Env::from_pairs([
        ("AWS_ENDPOINT_URL", setup.moto.endpoint_url()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ]);
    let lake = gold_transform::lake::Lake::open(&format!("s3://{BUCKET}"), &env)?;
    let inputs = gold_transform::transform::list_candidates(&lake).await?;
    let plan = shopstream::ledger::Plan::new(inputs);
    let limits = gold_transform::transform::TransformLimits {
        max_rows: 1_000,
        max_bytes: 10_000_000,
        part_rows: 1_000,
        engine: gold_transform::engine::EngineLimits::default(),
    };
    let outcome =
        gold_transform::transform::transform(&lake, &lake, &plan, &limits, &|_| {}).await?;
    let gold_transform::transform::TransformOutcome::Transformed(manifest) = outcome else {
        anyhow::bail!("not transformed: {outcome:?}");
    };
    assert_eq!(manifest.counts.silver_rows, 4);
    assert_eq!(manifest.counts.duplicates_in_batch, 2);
    assert_eq!(
        manifest.tables["final_fact"].rows, 2,
        "one fact row per event_id"
    );
    let facts: Vec<(String, Vec<u8>)> = objects(&setup, "gold/final_fact/").await;
    assert_eq!(silver_event_ids(&facts), ["e2e-1", "e2e-2"]);
    // The rejected table is keyed by source position: e2e-3 was refused at each of its two.
    assert_eq!(manifest.tables["rejected"].rows, 2);
    Ok(())
}
