//! orders-to-bronze against moto S3 with DynamoDB Streams fixtures.

use anyhow::Context;
use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use orders_to_bronze::bronze;
use orders_to_bronze::{handler, Config, Deps};
use serde_json::Value;
use shopstream::config::Env;
use shopstream_emulators::MotoServer;
use std::collections::{BTreeMap, BTreeSet};

const BUCKET: &str = "lake";
const STEM: &str = "2024-11-05T00_00_00.000-1405400000000002063282810-1405400000000002063282840";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../events/orders-to-bronze/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn deps(moto: &MotoServer) -> Deps {
    Deps {
        config: Config::from_env(&Env::from_pairs([("LAKE_BUCKET", BUCKET)])).expect("config"),
        s3: moto.s3_client(),
    }
}

async fn objects(s3: &aws_sdk_s3::Client) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for object in s3.list_objects_v2().bucket(BUCKET).send().await?.contents() {
        let key = object.key().context("key")?.to_owned();
        let body = s3
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await?
            .body
            .collect()
            .await?;
        out.insert(key, body.into_bytes().to_vec());
    }
    Ok(out)
}

fn lines(gz: &[u8]) -> Vec<Value> {
    bronze::decode(gz)
        .expect("gzip")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test]
async fn changes_land_in_bronze_partitioned_by_hour_with_tombstones() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    let deps = deps(&moto);
    let response = handler(
        &deps,
        LambdaEvent::new(fixture("dynamodb-stream.json"), LambdaContext::default()),
    )
    .await?;
    assert!(response.batch_item_failures.is_empty());
    let written = objects(&s3).await?;
    let keys: Vec<&str> = written.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            format!("bronze/orders/dt=2024-11-05/hour=05/{STEM}.jsonl.gz"),
            format!("bronze/orders/dt=2024-11-05/hour=07/{STEM}.jsonl.gz"),
        ]
    );
    let hour7 = lines(&written[&format!("bronze/orders/dt=2024-11-05/hour=07/{STEM}.jsonl.gz")]);
    let ops: Vec<&str> = hour7
        .iter()
        .map(|l| l["op"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ops, ["INSERT", "MODIFY", "REMOVE"]);
    assert_eq!(hour7[2]["tombstone"], true);
    assert_eq!(hour7[2]["image"], Value::Null);
    assert_eq!(hour7[2]["keys"]["order_id"], "o-0999");
    assert_eq!(hour7[0]["event_id"], "evt-o-1001-created");
    assert_eq!(hour7[1]["event_id"], "evt-o-1001-paid");
    assert_eq!(
        hour7[2]["event_id"],
        Value::Null,
        "a tombstone keyed by order_id has none"
    );
    assert!(hour7[0]["stream_event_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(hour7[1]["image"]["status"], "paid");
    assert_eq!(hour7[1]["image"]["total_amount"], 399.98);
    assert_eq!(hour7[1]["image"]["items"][0]["quantity"], 2);
    let hour5 = lines(&written[&format!("bronze/orders/dt=2024-11-05/hour=05/{STEM}.jsonl.gz")]);
    assert_eq!(hour5.len(), 1);
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(format!(
            "bronze/orders/dt=2024-11-05/hour=07/{STEM}.jsonl.gz"
        ))
        .send()
        .await?;
    assert_eq!(head.content_encoding(), Some("gzip"));

    // A redelivered batch rewrites the same keys with the same bytes.
    let again = handler(
        &deps,
        LambdaEvent::new(fixture("dynamodb-stream.json"), LambdaContext::default()),
    )
    .await?;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(objects(&s3).await?, written);
    Ok(())
}

#[tokio::test]
async fn poison_pills_are_quarantined_not_retried() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    let response = handler(
        &deps(&moto),
        LambdaEvent::new(
            fixture("dynamodb-stream-poison-pills.json"),
            LambdaContext::default(),
        ),
    )
    .await?;
    assert!(response.batch_item_failures.is_empty());
    let written = objects(&s3).await?;
    let bronze_lines: usize = written
        .iter()
        .filter(|(k, _)| k.starts_with("bronze/"))
        .map(|(_, v)| lines(v).len())
        .sum();
    assert_eq!(bronze_lines, 2);
    let quarantine: Vec<Value> = written
        .iter()
        .filter(|(k, _)| k.starts_with("quarantine/unknown/"))
        .flat_map(|(_, v)| shopstream::quarantine::from_jsonl(v).expect("jsonl"))
        .map(|e| serde_json::to_value(e).expect("json"))
        .collect();
    assert_eq!(quarantine.len(), 3, "{quarantine:#?}");
    assert!(quarantine
        .iter()
        .all(|e| e["position"]["source"] == "dynamo_db"));
    Ok(())
}

#[tokio::test]
async fn a_failed_write_reports_the_whole_batch_and_the_retry_completes_it() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let s3 = moto.s3_client();
    let deps = deps(&moto);
    let event = fixture("dynamodb-stream.json");
    // No bucket yet: every PutObject fails.
    let response = handler(
        &deps,
        LambdaEvent::new(event.clone(), LambdaContext::default()),
    )
    .await?;
    let reported: Vec<String> = response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect();
    let all: Vec<String> = event["Records"]
        .as_array()
        .context("records")?
        .iter()
        .filter_map(|r| r["dynamodb"]["SequenceNumber"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(reported, all);
    s3.create_bucket().bucket(BUCKET).send().await?;
    let retry = handler(&deps, LambdaEvent::new(event, LambdaContext::default())).await?;
    assert!(retry.batch_item_failures.is_empty());
    let total: usize = objects(&s3).await?.values().map(|v| lines(v).len()).sum();
    assert_eq!(total, 4);
    Ok(())
}

/// Six changes across two hours (07 and 08), keyed by `event_id` as ingest-api writes them.
fn hourly_batch() -> Value {
    let records: Vec<Value> = (0..6)
        .map(|i| {
            let created = 1_730_790_000 + i * 1_200; // 07:00, 07:20, 07:40, 08:00, ...
            let event_id = format!("evt-{i}");
            serde_json::json!({
                "eventID": format!("stream-record-{i}"),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": created,
                    "Keys": {"event_id": {"S": event_id}},
                    "NewImage": {"event_id": {"S": event_id}, "status": {"S": "paid"}},
                    "SequenceNumber": format!("{}", 500 + i),
                    "SizeBytes": 64,
                    "StreamViewType": "NEW_IMAGE"
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/purchase_orders/stream/2024-11-05T00:00:00.000"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

fn halves(event: &Value, at: usize) -> (Value, Value) {
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    (
        serde_json::json!({"Records": records[..at].to_vec()}),
        serde_json::json!({"Records": records[at..].to_vec()}),
    )
}

/// (sequence_number, key) of every bronze line.
fn bronze_lines(written: &BTreeMap<String, Vec<u8>>) -> Vec<(String, String, String)> {
    written
        .iter()
        .filter(|(k, _)| k.starts_with("bronze/"))
        .flat_map(|(k, v)| {
            lines(v).into_iter().map(move |l| {
                (
                    l["sequence_number"].as_str().unwrap_or_default().to_owned(),
                    l["event_id"].as_str().unwrap_or_default().to_owned(),
                    k.clone(),
                )
            })
        })
        .collect()
}

#[tokio::test]
async fn a_bisect_across_an_hour_boundary_loses_nothing_and_its_duplicates_carry_their_position(
) -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    let deps = deps(&moto);
    let event = hourly_batch();
    // The first attempt writes both hours, then times out: Lambda bisects and retries each
    // half; the first half (07:00-07:40) has no change of hour 08.
    handler(
        &deps,
        LambdaEvent::new(event.clone(), LambdaContext::default()),
    )
    .await?;
    let (first, second) = halves(&event, 3);
    for half in [first, second] {
        let response = handler(&deps, LambdaEvent::new(half, LambdaContext::default())).await?;
        assert!(response.batch_item_failures.is_empty());
    }
    let written = objects(&s3).await?;
    let lines = bronze_lines(&written);
    let sequences: BTreeSet<&str> = lines.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(sequences.len(), 6, "every change is in bronze");
    // Every change is there twice: once from the timed-out attempt (full range in the key),
    // once from its half; the two copies share the stream position and differ in the key.
    let mut by_sequence: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (sequence, event_id, key) in &lines {
        assert_eq!(
            event_id,
            &format!("evt-{}", sequence.parse::<usize>()? - 500)
        );
        by_sequence.entry(sequence).or_default().push(key);
    }
    for (sequence, keys) in by_sequence {
        assert_eq!(keys.len(), 2, "{sequence}");
        assert!(
            keys.iter().any(|k| k.ends_with("-500-505.jsonl.gz")),
            "{keys:?}"
        );
        assert!(
            keys.iter()
                .any(|k| k.ends_with("-500-502.jsonl.gz") || k.ends_with("-503-505.jsonl.gz")),
            "{keys:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_failed_hour_reports_from_its_first_change_and_the_earlier_hour_stays_once(
) -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    // The hour-08 object is committed by moto but its answer is lost.
    let proxy = shopstream_emulators::FaultProxy::start(moto.port(), |request| {
        if request.method == "PUT"
            && (request.path.contains("hour%3D08") || request.path.contains("hour=08"))
        {
            shopstream_emulators::Fault::LoseAnswer
        } else {
            shopstream_emulators::Fault::Pass
        }
    })
    .await?;
    let flaky = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto.sdk_config())
            .endpoint_url(proxy.endpoint_url())
            .force_path_style(true)
            .build(),
    );
    let flaky_deps = Deps {
        config: Config::from_env(&Env::from_pairs([("LAKE_BUCKET", BUCKET)]))?,
        s3: flaky,
    };
    let event = hourly_batch();
    let response = handler(
        &flaky_deps,
        LambdaEvent::new(event.clone(), LambdaContext::default()),
    )
    .await?;
    let reported: Vec<String> = response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, ["503", "504", "505"]);
    let after_failure = objects(&s3).await?;
    assert!(
        !after_failure.keys().any(|k| k.contains("hour=08")),
        "the unconfirmed hour-08 object was removed: {:?}",
        after_failure.keys()
    );
    // Lambda's retry starts at the first reported change.
    let (_, rest) = halves(&event, 3);
    let retry = handler(
        &deps(&moto),
        LambdaEvent::new(rest, LambdaContext::default()),
    )
    .await?;
    assert!(retry.batch_item_failures.is_empty());
    let lines = bronze_lines(&objects(&s3).await?);
    let sequences: Vec<&str> = lines.iter().map(|(s, _, _)| s.as_str()).collect();
    let distinct: BTreeSet<&str> = sequences.iter().copied().collect();
    assert_eq!(sequences.len(), 6, "each change exactly once: {lines:?}");
    assert_eq!(distinct.len(), 6);
    Ok(())
}

#[tokio::test]
async fn near_the_deadline_nothing_is_written_and_everything_is_reported() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    let mut context = LambdaContext::default();
    context.deadline = (chrono::Utc::now().timestamp_millis() + 500) as u64;
    let response = handler(&deps(&moto), LambdaEvent::new(hourly_batch(), context)).await?;
    assert_eq!(response.batch_item_failures.len(), 6);
    assert!(objects(&s3).await?.is_empty());
    Ok(())
}
