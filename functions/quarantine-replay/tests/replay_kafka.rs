//! quarantine-replay with a Kafka target besides the Kinesis stream, against tansu (a
//! Kafka-protocol broker) and moto: corrected quarantine entries from Kafka go back to the
//! topic exactly once (read back), a second replay sends nothing; a DLQ'd Kafka range is read back by offset and put on the topic again with
//! its keys and headers, and a range the log does not hold is recorded under
//! `quarantine/_dlq/` with its reason.

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use serde_json::{json, Value};
use shopstream::quarantine::{to_jsonl, QuarantineEntry, RecordPosition};
use shopstream::reason::{RejectReason, Rejection};
use shopstream_emulators::TansuBroker;
use std::collections::BTreeMap;

const TOPIC: &str = "shopstream-events";
const PARTITIONS: i32 = 2;

/// moto for the lake and the queue, tansu for the topic, and the handler replaying to Kafka.
async fn kafka_setup() -> anyhow::Result<(Setup, TansuBroker)> {
    let broker = TansuBroker::start().await?;
    broker.create_topic(TOPIC, PARTITIONS).await?;
    let bootstrap = broker.bootstrap().to_owned();
    let setup = setup_with(&[
        ("KAFKA_BOOTSTRAP_SERVERS", bootstrap.as_str()),
        ("KAFKA_TOPIC", TOPIC),
    ])
    .await?;
    Ok((setup, broker))
}

/// Every record of the topic: (partition, offset, key, value, event_id header).
async fn read_topic(
    broker: &TansuBroker,
) -> anyhow::Result<Vec<(i32, i64, String, Vec<u8>, String)>> {
    let client = broker.client().await?;
    let mut out = Vec::new();
    for partition in 0..PARTITIONS {
        let partition_client = client
            .partition_client(TOPIC, partition, UnknownTopicHandling::Retry)
            .await?;
        let (records, _) = partition_client
            .fetch_records(0, 1..10_000_000, 1_000)
            .await?;
        for r in records {
            let header = r
                .record
                .headers
                .get("event_id")
                .cloned()
                .unwrap_or_default();
            out.push((
                partition,
                r.offset,
                String::from_utf8(r.record.key.unwrap_or_default())?,
                r.record.value.unwrap_or_default(),
                String::from_utf8(header)?,
            ));
        }
    }
    Ok(out)
}

fn purchase(event_id: &str, user: Option<&str>) -> Vec<u8> {
    json!({"event_id": event_id, "user_id": user, "event_timestamp": "2024-11-05T07:15:00Z",
           "action_type": "purchase", "product_id": 7, "quantity": 1,
           "product_price": "12.50", "shipping_address": "1 Main St"})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn corrected_entries_reach_the_topic_once() -> anyhow::Result<()> {
    let (setup, broker) = kafka_setup().await?;
    let at = Utc.with_ymd_and_hms(2024, 11, 5, 7, 15, 0).unwrap();
    let key = format!("quarantine/transaction/dt=2024-11-05/hour=07/{TOPIC}-0-10-11.jsonl");
    let entries: Vec<QuarantineEntry> = ["k-1", "k-2"]
        .iter()
        .enumerate()
        .map(|(n, id)| {
            QuarantineEntry::new(
                &purchase(id, None),
                vec![Rejection::on_field(
                    RejectReason::NullUserId,
                    "user_id",
                    "user_id is null",
                )],
                RecordPosition::Kafka {
                    topic: TOPIC.into(),
                    partition: 0,
                    offset: 10 + n as i64,
                },
                at,
            )
            .with_record(shopstream::Entity::Transaction, Some(id))
        })
        .collect();
    put(&setup.s3, &key, to_jsonl(&entries)).await;
    // An entry that came from Kinesis goes back to Kinesis.
    let kinesis_key = "quarantine/transaction/dt=2024-11-05/hour=07/shardId-000000000000-5-5.jsonl";
    let from_kinesis = QuarantineEntry::new(
        &purchase("k-3", None),
        vec![Rejection::on_field(
            RejectReason::NullUserId,
            "user_id",
            "user_id is null",
        )],
        RecordPosition::Kinesis {
            shard_id: "shardId-000000000000".into(),
            sequence_number: "5".into(),
        },
        at,
    )
    .with_record(shopstream::Entity::Transaction, Some("k-3"));
    put(&setup.s3, kinesis_key, to_jsonl(&[from_kinesis])).await;
    let request = json!({
        "mode": "replay-quarantine",
        "keys": [key, kinesis_key],
        "correction": {"mergePatch": {"user_id": "user_0042"}},
        "dryRun": false,
    });

    let report = invoke(&setup.deps, request.clone()).await?;
    assert_eq!(report.outcomes.get("replayed"), Some(&3), "{report:?}");
    let on_kinesis = read_stream(&setup.kinesis).await;
    assert_eq!(
        on_kinesis.len(),
        1,
        "the Kinesis entry went back to Kinesis"
    );
    let kinesis_value: Value = serde_json::from_slice(&on_kinesis[0].2)?;
    assert_eq!(kinesis_value["event_id"], "k-3");
    let topic = read_topic(&broker).await?;
    let mut ids: Vec<&str> = topic.iter().map(|r| r.4.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["k-1", "k-2"], "each corrected record once");
    for (_, _, key, value, _) in &topic {
        assert_eq!(key, "user_0042", "keyed by the corrected user");
        let value: Value = serde_json::from_slice(value)?;
        assert_eq!(value["user_id"], "user_0042");
    }
    // The replayed entries say where they went: the topic, a partition and an offset.
    let replayed = get(
        &setup.s3,
        &key.replace("quarantine/", "quarantine/replayed/"),
    )
    .await
    .expect("the replayed object");
    let first: Value =
        serde_json::from_slice(replayed.split(|b| *b == b'\n').next().unwrap_or_default())?;
    assert_eq!(first["replay"]["stream"], TOPIC);

    let again = invoke(&setup.deps, request).await?;
    assert_eq!(again.outcomes.get("replayed"), None, "{again:?}");
    assert_eq!(read_topic(&broker).await?.len(), 2, "nothing sent twice");
    assert_eq!(read_stream(&setup.kinesis).await.len(), 1);
    Ok(())
}

/// The on-failure message of a Kafka batch covering `first..=last` of `partition`.
fn kafka_failure(partition: i32, first: i64, last: i64) -> Value {
    let mut message = sample("sqs-kafka-on-failure-message.json");
    let info = json!({
        "firstRecordOffset": first.to_string(),
        "lastRecordOffset": last.to_string(),
        "firstRecordTimestamp": "2024-11-05T07:15:04.835Z",
        "lastRecordTimestamp": "2024-11-05T07:15:05.112Z",
    });
    message["KafkaBatchInfo"]["recordsInfo"] = json!({ format!("{TOPIC}-{partition}"): info });
    message
}

#[tokio::test]
async fn a_dlqd_kafka_range_goes_back_on_the_topic_and_a_missing_one_is_recorded(
) -> anyhow::Result<()> {
    let (setup, broker) = kafka_setup().await?;
    // Three records the mapping gave up on, on partition 1, where a standard producer puts
    // their keys (so the replay, keyed the same way, lands there too).
    let client = broker.client().await?;
    let partition = client
        .partition_client(TOPIC, 1, UnknownTopicHandling::Retry)
        .await?;
    let users: Vec<String> = (0..)
        .map(|n| format!("user_{n}"))
        .filter(|user| shopstream::kafka::partition_for(user.as_bytes(), PARTITIONS) == 1)
        .take(3)
        .collect();
    let originals: Vec<Record> = users
        .iter()
        .enumerate()
        .map(|(n, user)| Record {
            key: Some(user.clone().into_bytes()),
            value: Some(purchase(&format!("dlq-{n}"), Some(user))),
            headers: BTreeMap::from([("event_id".to_owned(), format!("dlq-{n}").into_bytes())]),
            timestamp: Utc::now(),
        })
        .collect();
    let offsets = partition
        .produce(originals, Compression::NoCompression)
        .await?;
    assert_eq!(offsets, [0, 1, 2]);
    for message in [kafka_failure(1, 0, 2), kafka_failure(1, 40, 42)] {
        setup
            .sqs
            .send_message()
            .queue_url(&setup.queue_url)
            .message_body(message.to_string())
            .send()
            .await?;
    }

    let report = invoke(&setup.deps, json!({"mode": "replay-dlq", "dryRun": false})).await?;
    assert_eq!(report.outcomes.get("recovered"), Some(&1), "{report:?}");
    assert_eq!(report.outcomes.get("unrecoverable"), Some(&1), "{report:?}");
    assert_eq!(
        report.outcomes.get("records_replayed"),
        Some(&3),
        "{report:?}"
    );

    // The range was put back (by key the same partition), after the originals.
    let topic = read_topic(&broker).await?;
    let on_partition_1: Vec<_> = topic.iter().filter(|r| r.0 == 1).collect();
    let placed: Vec<(i32, i64, &str)> = topic.iter().map(|r| (r.0, r.1, r.4.as_str())).collect();
    assert_eq!(on_partition_1.len(), 6, "{placed:?}");
    assert_eq!(topic.len(), 6, "{placed:?}");
    for n in 0..3 {
        let (original, replayed) = (on_partition_1[n], on_partition_1[n + 3]);
        assert_eq!(
            (&original.2, &original.3, &original.4),
            (&replayed.2, &replayed.3, &replayed.4),
            "key, value and event_id header kept"
        );
    }
    // The range the log never held is recorded with the reason, and both messages are gone.
    let dlq_key = format!("quarantine/_dlq/dt=2024-11-05/hour=07/{TOPIC}-1-40-42.json");
    let recorded: Value = serde_json::from_slice(
        &get(&setup.s3, &dlq_key)
            .await
            .expect("the unrecoverable range is recorded"),
    )?;
    assert_eq!(recorded["reason"], "RANGE_UNREADABLE");
    assert_eq!(recorded["batch"]["partition"], 1);
    assert!(recorded["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("never"));
    let left = setup
        .sqs
        .receive_message()
        .queue_url(&setup.queue_url)
        .send()
        .await?;
    assert!(left.messages().is_empty(), "both messages handled");
    Ok(())
}
