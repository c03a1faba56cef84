//! Shared by the integration tests: API Gateway events from the fixtures in
//! `events/ingest-api/`, and readers for what the emulators hold.
#![allow(dead_code)]

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::Utc;
use ingest_api::config::{IngestConfig, RetryPolicy, SinkConfig};
use ingest_api::sink::Sink;
use ingest_api::{handle, ApiEvent, ApiResponse, Deps};
use serde_json::Value;
use shopstream::metrics::MetricSet;
use std::path::PathBuf;
use std::time::Duration;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/ingest-api")
        .join(name)
}

/// A fixture as JSON, to be adjusted before it becomes an event.
pub fn fixture_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn event(json: Value) -> ApiEvent {
    serde_json::from_value(json).expect("fixture deserialises into an API Gateway event")
}

pub fn fixture(name: &str) -> ApiEvent {
    event(fixture_json(name))
}

/// The v2 POST /v1/events fixture with another body (and content type).
pub fn v2_events(body: &str, content_type: Option<&str>) -> ApiEvent {
    let mut json = fixture_json("apigw-v2-events-valid.json");
    json["body"] = Value::String(body.to_owned());
    match content_type {
        Some(ct) => json["headers"]["content-type"] = Value::String(ct.to_owned()),
        None => {
            json["headers"]
                .as_object_mut()
                .map(|h| h.remove("content-type"));
        }
    }
    event(json)
}

/// The v1 POST /v1/events fixture with another body and content type.
pub fn v1_events(body: &str, content_type: &str) -> ApiEvent {
    let mut json = fixture_json("apigw-v1-events-valid.json");
    json["body"] = Value::String(body.to_owned());
    json["headers"]["Content-Type"] = Value::String(content_type.to_owned());
    json["multiValueHeaders"]["Content-Type"] = serde_json::json!([content_type]);
    event(json)
}

pub fn with_header(mut json: Value, name: &str, value: &str) -> Value {
    json["headers"][name] = Value::String(value.to_owned());
    json
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

pub fn config(sink: SinkConfig) -> IngestConfig {
    let mut config = IngestConfig::with_sink(sink);
    config.retry = fast_retry();
    config
}

pub async fn call<S: Sink>(deps: &Deps<S>, event: ApiEvent) -> (ApiResponse, MetricSet) {
    handle(deps, event, Some("test-request".into()), Utc::now()).await
}

pub async fn create_stream(sdk: &SdkConfig, name: &str, shards: i32) -> aws_sdk_kinesis::Client {
    let kinesis = aws_sdk_kinesis::Client::new(sdk);
    kinesis
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .expect("create stream");
    kinesis
}

/// Every record in the stream: (partition key, JSON payload).
pub async fn read_stream(kinesis: &aws_sdk_kinesis::Client, name: &str) -> Vec<(String, Value)> {
    let shards = kinesis
        .list_shards()
        .stream_name(name)
        .send()
        .await
        .expect("list shards");
    let mut out = Vec::new();
    for shard in shards.shards() {
        let iterator = kinesis
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator");
        let mut iterator = iterator.shard_iterator().map(str::to_owned);
        while let Some(it) = iterator {
            let page = kinesis
                .get_records()
                .shard_iterator(it)
                .limit(10_000)
                .send()
                .await
                .expect("get records");
            for record in page.records() {
                let payload: Value = serde_json::from_slice(record.data().as_ref())
                    .expect("stream records are JSON");
                out.push((
                    record.partition_key().unwrap_or_default().to_owned(),
                    payload,
                ));
            }
            if page.records().is_empty() {
                break;
            }
            iterator = page.next_shard_iterator().map(str::to_owned);
        }
    }
    out
}

/// A table with one string partition key.
pub async fn create_table(sdk: &SdkConfig, name: &str, key: &str) -> aws_sdk_dynamodb::Client {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create table");
    dynamodb
}

/// Indices listed under `field` ("rejected", "accepted_records", "failed").
pub fn indices(body: &Value, field: &str) -> Vec<u64> {
    body[field]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["index"].as_u64()).collect())
        .unwrap_or_default()
}

/// Reason codes of the rejected record at `index`.
pub fn reasons_of(body: &Value, index: u64) -> Vec<String> {
    body["rejected"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["index"].as_u64() == Some(index)))
        .and_then(|item| item["reasons"].as_array())
        .map(|reasons| {
            reasons
                .iter()
                .filter_map(|r| r["reason"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
