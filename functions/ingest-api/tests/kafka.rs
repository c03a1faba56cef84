//! The handler with the Kafka sink against tansu (a Kafka-protocol broker).

mod common;

use common::*;
use ingest_api::config::{KafkaCompression, KafkaConfig, SinkConfig};
use ingest_api::sink::kafka::partition_for;
use ingest_api::sink::KafkaSink;
use ingest_api::Deps;
use rskafka::client::partition::UnknownTopicHandling;
use serde_json::Value;
use shopstream_emulators::TansuBroker;
use std::sync::Arc;
use std::time::Duration;

const PARTITIONS: i32 = 3;

fn kafka_config(broker: &TansuBroker, topic: &str) -> KafkaConfig {
    KafkaConfig {
        bootstrap_servers: vec![broker.bootstrap().to_owned()],
        topic: topic.to_owned(),
        client_id: "ingest-api-test".into(),
        tls: false,
        tls_ca_file: None,
        sasl: None,
        compression: KafkaCompression::None,
        request_deadline: Duration::from_secs(5),
    }
}

/// Every record of the topic: (partition, key, JSON value, event_id header).
async fn read_topic(
    broker: &TansuBroker,
    topic: &str,
) -> anyhow::Result<Vec<(i32, String, Value, String)>> {
    let client = broker.client().await?;
    let mut out = Vec::new();
    for partition in 0..PARTITIONS {
        let partition_client = client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await?;
        let (records, _) = partition_client
            .fetch_records(0, 1..10_000_000, 1_000)
            .await?;
        for r in records {
            let key = String::from_utf8(r.record.key.unwrap_or_default())?;
            let value: Value = serde_json::from_slice(&r.record.value.unwrap_or_default())?;
            let header = String::from_utf8(
                r.record
                    .headers
                    .get("event_id")
                    .cloned()
                    .unwrap_or_default(),
            )?;
            out.push((partition, key, value, header));
        }
    }
    Ok(out)
}

#[tokio::test]
async fn accepted_records_are_on_the_topic_keyed_and_partitioned_like_the_java_client(
) -> anyhow::Result<()> {
    let broker = TansuBroker::start().await?;
    broker.create_topic("events", PARTITIONS).await?;
    let config = kafka_config(&broker, "events");
    let sink = Arc::new(KafkaSink::connect(&config, None).await?);
    let deps = Deps {
        config: common::config(SinkConfig::Kafka(config.clone())),
        events_sink: Arc::clone(&sink),
        orders_sink: sink,
        idempotency: None,
    };

    let (response, _) = call(&deps, fixture("apigw-v2-events-valid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    let (response, _) = call(&deps, fixture("apigw-v2-events-partly-invalid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert_eq!(indices(&response.body_json(), "rejected"), vec![1, 2, 3]);

    let records = read_topic(&broker, "events").await?;
    assert_eq!(
        records.len(),
        5,
        "3 valid + 2 of the partly invalid request; refused ones absent"
    );
    for (partition, key, value, header) in &records {
        assert_eq!(
            *partition,
            partition_for(key.as_bytes(), PARTITIONS),
            "murmur2 partitioning"
        );
        let expected_key = value["user_id"]
            .as_str()
            .or(value["event_id"].as_str())
            .unwrap_or_default();
        assert_eq!(key, expected_key);
        assert_eq!(value["event_id"].as_str(), Some(header.as_str()));
        assert!(value["ingested_at"].is_string());
    }
    let ids: Vec<&str> = records
        .iter()
        .filter_map(|(_, _, v, _)| v["event_id"].as_str())
        .collect();
    for refused in [
        "evt-2024-11-05-0003",
        "evt-2024-11-05-0004",
        "evt-2024-11-05-0005",
    ] {
        assert!(
            !ids.contains(&refused),
            "{refused} must not be on the topic"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_missing_topic_is_a_500_without_retry_after_not_a_loss() -> anyhow::Result<()> {
    let broker = TansuBroker::start().await?;
    let config = kafka_config(&broker, "not-created");
    let sink = Arc::new(KafkaSink::connect(&config, None).await?);
    let deps = Deps {
        config: common::config(SinkConfig::Kafka(config.clone())),
        events_sink: Arc::clone(&sink),
        orders_sink: sink,
        idempotency: None,
    };
    let (response, _) = call(&deps, fixture("apigw-v2-events-valid.json")).await;
    assert_eq!(response.status(), 500, "{}", response.body_text());
    assert_eq!(response.header("retry-after"), None);
    let body = response.body_json();
    assert_eq!(body["error"], "sink_rejected");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("does not exist"),
        "{body}"
    );
    assert_eq!(indices(&body, "failed"), vec![0, 1, 2]);
    Ok(())
}
