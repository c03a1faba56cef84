//! The handler against moto's Kinesis (and DynamoDB for Idempotency-Key), fed real API Gateway
//! v1 and v2 events from `events/ingest-api/`.

mod common;

use common::*;
use ingest_api::config::{IdempotencyConfig, SinkConfig};
use ingest_api::idempotency::{IdempotencyStore, KEY_ATTRIBUTE};
use ingest_api::sink::KinesisSink;
use ingest_api::Deps;
use serde_json::Value;
use shopstream_emulators::MotoServer;
use std::time::Duration;

const STREAM: &str = "shopstream-events";

async fn setup(moto: &MotoServer) -> (Deps<KinesisSink>, aws_sdk_kinesis::Client) {
    let sdk = moto.sdk_config();
    let kinesis = create_stream(&sdk, STREAM, 2).await;
    let deps = Deps {
        config: config(SinkConfig::Kinesis {
            stream: STREAM.into(),
        }),
        events_sink: KinesisSink::new(kinesis.clone(), STREAM),
        orders_sink: KinesisSink::new(kinesis.clone(), STREAM),
        idempotency: None,
    };
    (deps, kinesis)
}

#[tokio::test]
async fn valid_v2_and_v1_events_reach_the_stream_with_user_partition_keys() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (deps, kinesis) = setup(&moto).await;

    let (response, metrics) = call(&deps, fixture("apigw-v2-events-valid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.body_json();
    assert_eq!(body["accepted"], 3);
    assert_eq!(body["rejected"], serde_json::json!([]));
    assert_eq!(metrics.value("RecordsAccepted"), Some(3.0));
    assert!(metrics.value("SinkLatency").is_some());

    let (response, _) = call(&deps, fixture("apigw-v1-events-valid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert!(matches!(response, ingest_api::ApiResponse::V1(_)));

    let stream = read_stream(&kinesis, STREAM).await;
    assert_eq!(stream.len(), 6);
    for (key, payload) in &stream {
        let expected = payload["user_id"]
            .as_str()
            .or(payload["event_id"].as_str())
            .unwrap_or_default();
        assert_eq!(key, expected, "partition key is user_id, else event_id");
        assert!(payload["ingested_at"].is_string());
        assert!(payload["record_type"].is_string());
    }
    // The inventory event has no user: its key is its event_id.
    assert!(stream
        .iter()
        .any(|(key, p)| key == "inv-0001" && p["record_type"] == "inventory"));
    assert!(stream
        .iter()
        .any(|(key, p)| key == "user-101" && p["record_type"] == "clickstream"));
    // What is on the stream decodes and validates again with the core, as stream-enrich does.
    for (_, payload) in &stream {
        let text = payload.to_string();
        let decoded = shopstream::decode_json(text.as_bytes()).expect("decodes");
        let problems =
            shopstream::validate::validate(&decoded, chrono::Utc::now(), &Default::default());
        assert!(problems.is_empty(), "{problems:?}");
    }
    Ok(())
}

#[tokio::test]
async fn refused_records_are_reported_and_not_on_the_stream() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (deps, kinesis) = setup(&moto).await;

    let (response, metrics) = call(&deps, fixture("apigw-v2-events-partly-invalid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    let body = response.body_json();
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(indices(&body, "accepted_records"), vec![0, 4]);
    assert_eq!(indices(&body, "rejected"), vec![1, 2, 3]);
    assert_eq!(reasons_of(&body, 1), vec!["NULL_USER_ID"]);
    assert_eq!(reasons_of(&body, 2), vec!["BAD_QUANTITY", "BAD_PRICE"]);
    let r3 = reasons_of(&body, 3);
    assert!(
        r3.contains(&"BAD_TIMESTAMP".to_owned())
            && r3.contains(&"MISSING_SHIPPING_FOR_PURCHASE".to_owned()),
        "{r3:?}"
    );
    assert_eq!(body["rejected"][0]["event_id"], "evt-2024-11-05-0003");
    assert_eq!(metrics.value("Rejected_NULL_USER_ID"), Some(1.0));
    assert_eq!(metrics.value("RecordsRejected"), Some(3.0));

    // Record 4 had no event_id: it got a UUID, reported back and used on the stream.
    let assigned = body["accepted_records"][1]["event_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&assigned).is_ok(), "{assigned}");

    let stream = read_stream(&kinesis, STREAM).await;
    let ids: Vec<&str> = stream
        .iter()
        .filter_map(|(_, p)| p["event_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"evt-2024-11-05-0002"));
    assert!(ids.contains(&assigned.as_str()));

    // NDJSON over REST (v1): line 2 is a system record.
    let (response, _) = call(&deps, fixture("apigw-v1-events-partly-invalid.json")).await;
    assert_eq!(response.status(), 202);
    let body = response.body_json();
    assert_eq!(reasons_of(&body, 1), vec!["SYSTEM_RECORD"]);
    assert_eq!(body["rejected"][0]["line"], 2);
    assert_eq!(read_stream(&kinesis, STREAM).await.len(), 4);
    Ok(())
}

#[tokio::test]
async fn contract_statuses_for_whole_requests() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (deps, kinesis) = setup(&moto).await;

    let (response, _) = call(&deps, fixture("apigw-v2-events-all-invalid.json")).await;
    assert_eq!(response.status(), 422);
    let body = response.body_json();
    assert_eq!(body["error"], "all_records_rejected");
    assert_eq!(body["accepted"], 0);
    assert_eq!(indices(&body, "rejected"), vec![0, 1]);
    assert_eq!(reasons_of(&body, 1), vec!["UNKNOWN_EVENT_TYPE"]);

    let (response, _) = call(&deps, fixture("apigw-v2-events-malformed.json")).await;
    assert_eq!(response.status(), 400);
    let body = response.body_json();
    assert_eq!(body["error"], "malformed_json");
    assert_eq!(body["line"], 2);
    assert!(body["column"].as_u64().is_some_and(|c| c > 0));

    let (response, _) = call(&deps, fixture("apigw-v1-events-malformed.json")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.body_json()["line"], 1);

    let (response, _) = call(&deps, fixture("apigw-v2-events-wrong-content-type.json")).await;
    assert_eq!(response.status(), 415);

    let (response, _) = call(&deps, fixture("apigw-v1-unknown-route.json")).await;
    assert_eq!(response.status(), 404);

    let mut get_events = fixture_json("apigw-v2-events-valid.json");
    get_events["requestContext"]["http"]["method"] = Value::from("GET");
    let (response, _) = call(&deps, event(get_events)).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.header("allow"), Some("POST"));

    let (response, _) = call(&deps, fixture("apigw-v2-health.json")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body_json()["sinks"]["events"], "kinesis");
    assert_eq!(response.body_json()["sinks"]["orders"], "kinesis");

    let (response, _) = call(&deps, fixture("apigw-v2-events-ndjson-base64.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert_eq!(response.body_json()["accepted"], 2);

    // Only the two NDJSON records were written.
    assert_eq!(read_stream(&kinesis, STREAM).await.len(), 2);
    Ok(())
}

#[tokio::test]
async fn orders_become_purchases_on_the_stream() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (deps, kinesis) = setup(&moto).await;
    let (response, _) = call(&deps, fixture("apigw-v2-orders-valid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert_eq!(response.body_json()["accepted"], 2);
    let (response, _) = call(&deps, fixture("apigw-v1-orders-valid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());

    let stream = read_stream(&kinesis, STREAM).await;
    assert_eq!(stream.len(), 3);
    let order = stream
        .iter()
        .find(|(_, p)| p["event_id"] == "6f1c1a7e-2f55-4d0c-9a3e-3b7a1f0c0001")
        .map(|(k, p)| (k.clone(), p.clone()))
        .expect("the order with a uuid");
    assert_eq!(order.0, "4711");
    assert_eq!(order.1["action_type"], "purchase");
    assert_eq!(order.1["number_of_installments"], 3);
    assert!(stream.iter().any(|(k, _)| k == "user-202"));
    Ok(())
}

#[tokio::test]
async fn idempotency_key_replays_the_first_response_and_puts_nothing_twice() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let (mut deps, kinesis) = setup(&moto).await;
    let sdk = moto.sdk_config();
    let dynamodb = create_table(&sdk, "ingest-idempotency", KEY_ATTRIBUTE).await;
    deps.idempotency = Some(IdempotencyStore::new(
        dynamodb.clone(),
        IdempotencyConfig {
            table: "ingest-idempotency".into(),
            window: Duration::from_secs(3_600),
            lock: Duration::from_secs(60),
        },
    ));

    let (first, _) = call(&deps, fixture("apigw-v2-events-idempotent.json")).await;
    assert_eq!(first.status(), 202, "{}", first.body_text());
    assert_eq!(first.header("idempotent-replayed"), None);
    let (second, metrics) = call(&deps, fixture("apigw-v2-events-idempotent.json")).await;
    assert_eq!(second.status(), 202);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        second.body_json(),
        first.body_json(),
        "the stored response, server-assigned ids included"
    );
    assert_eq!(metrics.value("IdempotentReplays"), Some(1.0));
    assert_eq!(
        read_stream(&kinesis, STREAM).await.len(),
        2,
        "nothing was put twice"
    );

    // The item has a TTL.
    let items = dynamodb
        .scan()
        .table_name("ingest-idempotency")
        .send()
        .await?;
    let item = &items.items()[0];
    assert_eq!(item["status"].as_s().map(String::as_str), Ok("COMPLETED"));
    let ttl: i64 = item["expires_at"]
        .as_n()
        .map(|n| n.parse().unwrap_or(0))
        .unwrap_or(0);
    assert!(ttl > chrono::Utc::now().timestamp() + 3_000);

    // Same key, other body: refused, nothing written.
    let mut other = fixture_json("apigw-v2-events-idempotent.json");
    other["body"] = fixture_json("apigw-v2-events-valid.json")["body"].clone();
    let (response, _) = call(&deps, event(other)).await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.body_json()["error"], "idempotency_key_reused");

    // A malformed key is a 400.
    let bad = with_header(
        fixture_json("apigw-v2-events-valid.json"),
        "idempotency-key",
        "has spaces in it",
    );
    let (response, _) = call(&deps, event(bad)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(read_stream(&kinesis, STREAM).await.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_missing_stream_is_a_500_without_retry_after_listing_every_valid_record(
) -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let sdk = moto.sdk_config();
    let deps = Deps {
        config: config(SinkConfig::Kinesis {
            stream: "nope".into(),
        }),
        events_sink: KinesisSink::new(aws_sdk_kinesis::Client::new(&sdk), "nope"),
        orders_sink: KinesisSink::new(aws_sdk_kinesis::Client::new(&sdk), "nope"),
        idempotency: None,
    };
    let (response, metrics) = call(&deps, fixture("apigw-v2-events-partly-invalid.json")).await;
    assert_eq!(response.status(), 500, "{}", response.body_text());
    assert_eq!(response.header("retry-after"), None, "no retry fixes it");
    let body = response.body_json();
    assert_eq!(body["error"], "sink_rejected");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ResourceNotFoundException"),
        "{body}"
    );
    assert_eq!(body["failed"][0]["retryable"], false);
    assert_eq!(indices(&body, "failed"), vec![0, 4]);
    assert_eq!(indices(&body, "rejected"), vec![1, 2, 3]);
    assert_eq!(body["accepted"], 0);
    assert_eq!(
        metrics.value("SinkAttempts"),
        Some(1.0),
        "a missing stream is not retried"
    );
    Ok(())
}
