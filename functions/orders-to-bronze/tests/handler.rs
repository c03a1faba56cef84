//! orders-to-bronze against moto S3 with DynamoDB Streams fixtures.

use anyhow::Context;
use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use orders_to_bronze::bronze;
use orders_to_bronze::{handler, Config, Deps};
use serde_json::Value;
use shopstream::config::Env;
use shopstream_testkit::MotoServer;
use std::collections::BTreeMap;

const BUCKET: &str = "lake";
const STEM: &str = "2024-11-05T00_00_00.000-1405400000000002063282810";

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
