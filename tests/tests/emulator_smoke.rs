//! Smoke tests for the emulator fixtures: each starts its own server, exercises it through the
//! same clients the functions use, and checks the server process is gone after drop.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;
use shopstream_emulators::{MotoServer, TansuBroker};

/// True while a process with this id exists (Linux: it has a /proc entry).
fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn moto_serves_s3_and_resets() {
    let started = Instant::now();
    let moto = MotoServer::start().await.expect("moto starts");
    eprintln!(
        "moto ready in {:?} at {}",
        started.elapsed(),
        moto.endpoint_url()
    );
    let pid = moto.pid();
    assert!(process_exists(pid), "moto process {pid} is running");

    let s3 = moto.s3_client();
    s3.create_bucket()
        .bucket("smoke-lake")
        .send()
        .await
        .expect("create bucket");
    for (key, body) in [
        ("silver/a.jsonl", "{\"a\":1}\n"),
        ("silver/b.jsonl", "{\"b\":2}\n"),
    ] {
        s3.put_object()
            .bucket("smoke-lake")
            .key(key)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .expect("put object");
    }
    let listed = s3
        .list_objects_v2()
        .bucket("smoke-lake")
        .prefix("silver/")
        .send()
        .await
        .expect("list objects");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["silver/a.jsonl", "silver/b.jsonl"]);

    let body = s3
        .get_object()
        .bucket("smoke-lake")
        .key("silver/b.jsonl")
        .send()
        .await
        .expect("get object")
        .body
        .collect()
        .await
        .expect("read body")
        .into_bytes();
    assert_eq!(&body[..], b"{\"b\":2}\n");

    moto.reset().await.expect("reset");
    let buckets = s3.list_buckets().send().await.expect("list buckets");
    assert!(
        buckets.buckets().is_empty(),
        "reset removed every bucket, got {:?}",
        buckets.buckets()
    );

    drop(moto);
    assert!(
        !process_exists(pid),
        "moto process {pid} is gone after drop"
    );
}

#[tokio::test]
async fn two_moto_servers_are_independent() {
    let (first, second) = tokio::try_join!(MotoServer::start(), MotoServer::start())
        .expect("both moto servers start");
    assert_ne!(first.endpoint_url(), second.endpoint_url());
    first
        .s3_client()
        .create_bucket()
        .bucket("only-in-first")
        .send()
        .await
        .expect("create bucket");
    let in_second = second
        .s3_client()
        .list_buckets()
        .send()
        .await
        .expect("list buckets");
    assert!(in_second.buckets().is_empty());
}

#[tokio::test]
async fn tansu_round_trips_records() {
    let started = Instant::now();
    let broker = TansuBroker::start().await.expect("tansu starts");
    eprintln!(
        "tansu ready in {:?} at {}",
        started.elapsed(),
        broker.bootstrap()
    );
    let pid = broker.pid();
    assert!(process_exists(pid), "tansu process {pid} is running");

    broker
        .create_topic("smoke-events", 1)
        .await
        .expect("create topic");

    broker
        .create_topic("smoke-orders", 3)
        .await
        .expect("create topic with 3 partitions");

    let client = broker.client().await.expect("kafka client");
    let mut topics: Vec<(String, Vec<i32>)> = client
        .list_topics()
        .await
        .expect("list topics")
        .into_iter()
        .map(|topic| (topic.name, topic.partitions.into_iter().collect()))
        .collect();
    topics.sort();
    assert_eq!(
        topics,
        [
            ("smoke-events".to_owned(), vec![0]),
            ("smoke-orders".to_owned(), vec![0, 1, 2]),
        ]
    );

    let partition = client
        .partition_client("smoke-events", 0, UnknownTopicHandling::Retry)
        .await
        .expect("partition client");
    let values = ["first", "second", "third"];
    let records = values
        .iter()
        .map(|value| Record {
            key: Some(b"user-1".to_vec()),
            value: Some(value.as_bytes().to_vec()),
            headers: BTreeMap::new(),
            timestamp: chrono::Utc::now(),
        })
        .collect();
    let offsets = partition
        .produce(records, Compression::NoCompression)
        .await
        .expect("produce");
    assert_eq!(offsets, [0, 1, 2]);

    let mut consumed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while consumed.len() < values.len() && Instant::now() < deadline {
        let next = consumed.len() as i64;
        let (batch, _high_watermark) = partition
            .fetch_records(next, 1..1_000_000, 500)
            .await
            .expect("fetch");
        consumed.extend(batch.into_iter().filter(|r| r.offset >= next));
    }
    let got: Vec<(i64, String)> = consumed
        .iter()
        .map(|r| {
            let value = r.record.value.clone().expect("record has a value");
            (r.offset, String::from_utf8(value).expect("utf-8 value"))
        })
        .collect();
    let want: Vec<(i64, String)> = values
        .iter()
        .enumerate()
        .map(|(offset, value)| (offset as i64, (*value).to_owned()))
        .collect();
    assert_eq!(got, want);

    drop(partition);
    drop(client);
    drop(broker);
    assert!(
        !process_exists(pid),
        "tansu process {pid} is gone after drop"
    );
}
