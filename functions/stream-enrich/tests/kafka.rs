//! stream-enrich on Kafka events: MSK and self-managed fixtures, and records produced to a
//! real broker (tansu), consumed back and shaped the way the event source mapping does.

mod common;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::TimeZone;
use common::*;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use serde_json::{json, Value};
use shopstream_emulators::TansuBroker;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use stream_enrich::{handler, StreamResponse};

const TOPIC: &str = "shopstream.events";

#[tokio::test]
async fn msk_and_self_managed_fixtures() -> anyhow::Result<()> {
    for (round, name) in ["msk.json", "self-managed-kafka.json"]
        .into_iter()
        .enumerate()
    {
        let stack = Stack::start().await?;
        let response = handler(&stack.deps(), invoke_event(fixture(name))).await?;
        let StreamResponse::Kafka(kafka) = &response else {
            panic!("a Kafka response for {name}");
        };
        assert!(kafka.is_complete_success(), "{name}: {kafka:?}");
        let objects = stack.objects("").await?;
        assert!(
            objects.keys().any(|k| k
                == &format!(
                    "silver/transaction/dt=2024-11-05/hour=07/{TOPIC}-1-1000-1005.parquet"
                )),
            "round {round}: {:?}",
            objects.keys()
        );
        assert!(objects
            .keys()
            .any(|k| k.ends_with(&format!("{TOPIC}-0-1000-1004.parquet"))));
        assert_eq!(
            silver_event_ids(&objects),
            [
                "avro-0001",
                "clk-0001",
                "inv-0001",
                "tx-0001",
                "tx-0002",
                "tx-fraud-0001"
            ]
        );
        let entries = quarantine_entries(&objects);
        assert_eq!(entries.len(), 5, "{entries:#?}");
        assert!(entries
            .iter()
            .any(|e| e["position"]["offset"] == 1005 && e["reasons"][0] == "DECODE_ERROR"));
        assert_eq!(
            stack.fraud_alerts(1, Duration::from_secs(5)).await?.len(),
            1
        );
    }
    Ok(())
}

/// The payloads of some records of the Kinesis fixture: ITI JSON from ingest-api, a
/// clickstream event, Confluent-framed Avro, a truncated JSON document.
fn payloads() -> Vec<Vec<u8>> {
    let event = fixture("kinesis-batch.json");
    [0usize, 2, 4, 7]
        .iter()
        .map(|i| {
            let data = event["Records"][*i]["kinesis"]["data"]
                .as_str()
                .expect("data");
            BASE64.decode(data).expect("base64")
        })
        .collect()
}

#[tokio::test]
async fn records_produced_to_a_broker_are_processed() -> anyhow::Result<()> {
    let (stack, broker) = tokio::try_join!(Stack::start(), TansuBroker::start())?;
    broker.create_topic(TOPIC, 2).await?;
    let client = broker.client().await?;
    let produced_at = chrono::Utc
        .with_ymd_and_hms(2024, 11, 5, 7, 20, 0)
        .single()
        .expect("time");
    let payloads = payloads();
    let mut records: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (partition, values) in [(0, &payloads[..2]), (1, &payloads[2..])] {
        let partition_client = client
            .partition_client(TOPIC, partition, UnknownTopicHandling::Retry)
            .await?;
        let batch = values
            .iter()
            .map(|value| Record {
                key: Some(b"user_0042".to_vec()),
                value: Some(value.clone()),
                headers: BTreeMap::from([(
                    "content-type".to_owned(),
                    b"application/json".to_vec(),
                )]),
                timestamp: produced_at,
            })
            .collect();
        partition_client
            .produce(batch, Compression::NoCompression)
            .await?;
        // Consume what the broker stored and shape it like the event source mapping does.
        let mut consumed = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while consumed.len() < values.len() && Instant::now() < deadline {
            let (fetched, _) = partition_client
                .fetch_records(consumed.len() as i64, 1..1_000_000, 500)
                .await?;
            consumed.extend(fetched);
        }
        assert_eq!(consumed.len(), values.len());
        let shaped = consumed
            .into_iter()
            .map(|r| {
                let headers: Vec<Value> = r
                    .record
                    .headers
                    .iter()
                    .map(|(k, v)| json!({ k: v.iter().map(|b| *b as i8).collect::<Vec<i8>>() }))
                    .collect();
                json!({
                    "topic": TOPIC,
                    "partition": partition,
                    "offset": r.offset,
                    "timestamp": r.record.timestamp.timestamp_millis(),
                    "timestampType": "CREATE_TIME",
                    "key": r.record.key.as_ref().map(|k| BASE64.encode(k)),
                    "value": r.record.value.as_ref().map(|v| BASE64.encode(v)),
                    "headers": headers,
                })
            })
            .collect();
        records.insert(format!("{TOPIC}-{partition}"), shaped);
    }
    let event = json!({
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": broker.bootstrap(),
        "records": records,
    });
    let response = handler(&stack.deps(), invoke_event(event)).await?;
    assert!(response.failures().is_empty(), "{response:?}");
    let objects = stack.objects("").await?;
    let keys: Vec<&str> = objects.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            format!("quarantine/unknown/dt=2024-11-05/hour=07/{TOPIC}-1-0-1.jsonl"),
            format!("silver/clickstream/dt=2024-11-05/hour=07/{TOPIC}-0-0-1.parquet"),
            format!("silver/transaction/dt=2024-11-05/hour=07/{TOPIC}-0-0-1.parquet"),
            format!("silver/transaction/dt=2024-11-05/hour=07/{TOPIC}-1-0-1.parquet"),
        ]
    );
    assert_eq!(
        silver_event_ids(&objects),
        ["avro-0001", "clk-0001", "tx-0001"]
    );
    let entries = quarantine_entries(&objects);
    assert_eq!(
        entries[0]["position"],
        json!({"source": "kafka", "topic": TOPIC, "partition": 1, "offset": 1})
    );
    Ok(())
}
