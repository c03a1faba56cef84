//! stream-enrich on Kinesis events, against moto (S3, DynamoDB, EventBridge → SQS).

mod common;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use common::*;
use serde_json::Value;
use std::time::Duration;
use stream_enrich::{handler, StreamResponse};

fn sequences(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            r["kinesis"]["sequenceNumber"]
                .as_str()
                .expect("sequence")
                .to_owned()
        })
        .collect()
}

const STEM: &str = "shardId-000000000000-49656000000000000000000000000000000000000000000000000000-49656000000000000000000000000000000000000000000000000192";

#[tokio::test]
async fn kinesis_batch_lands_in_silver_quarantine_and_alerts() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let deps = stack.deps();
    let response = handler(&deps, invoke_event(fixture("kinesis-batch.json"))).await?;
    assert_eq!(response.failures(), Vec::<(String, String)>::new());
    assert_eq!(
        serde_json::to_value(&response)?,
        serde_json::json!({"batchItemFailures": []})
    );

    let objects = stack.objects("").await?;
    let keys: Vec<&str> = objects.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            format!("quarantine/transaction/dt=2024-11-05/hour=07/{STEM}.jsonl"),
            format!("quarantine/unknown/dt=2024-11-05/hour=07/{STEM}.jsonl"),
            format!("silver/clickstream/dt=2024-11-05/hour=07/{STEM}.parquet"),
            format!("silver/inventory/dt=2024-11-05/hour=07/{STEM}.parquet"),
            format!("silver/transaction/dt=2024-11-05/hour=06/{STEM}.parquet"),
            format!("silver/transaction/dt=2024-11-05/hour=07/{STEM}.parquet"),
        ]
    );
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
    let hour7 = &objects[&format!("silver/transaction/dt=2024-11-05/hour=07/{STEM}.parquet")];
    assert_eq!(parquet_strings(hour7, "event_id").len(), 3);
    let segments = parquet_strings(hour7, "customer_segment");
    let risks = parquet_strings(hour7, "risk_level");
    let countries = parquet_strings(hour7, "profile_country");
    let ids = parquet_strings(hour7, "event_id");
    let fraud = ids
        .iter()
        .position(|id| id.as_deref() == Some("tx-fraud-0001"))
        .expect("fraud row");
    assert_eq!(segments[fraud].as_deref(), Some("new"));
    assert_eq!(
        countries[fraud].as_deref(),
        Some("Brazil"),
        "profile country normalised"
    );
    assert_eq!(risks[fraud].as_deref(), Some("HIGH"));
    let avro = ids
        .iter()
        .position(|id| id.as_deref() == Some("avro-0001"))
        .expect("avro row");
    assert_eq!(countries[avro].as_deref(), Some("Japan"));
    assert_eq!(risks[avro].as_deref(), Some("LOW"));

    let entries = quarantine_entries(&objects);
    assert_eq!(entries.len(), 7);
    let reasons = |id: &str| -> Vec<Value> {
        entries
            .iter()
            .find(|e| e["event_id"] == id)
            .map(|e| e["reasons"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default()
    };
    assert_eq!(reasons("tx-0001"), ["DUPLICATE_EVENT"]);
    assert_eq!(reasons("tx-bad-0001"), ["NULL_USER_ID", "BAD_PRICE"]);
    assert_eq!(reasons("tx-sys-0001"), ["SYSTEM_RECORD"]);
    assert_eq!(reasons("tx-future-0001"), ["FUTURE_TIMESTAMP"]);
    let binary = entries
        .iter()
        .find(|e| e["payload_encoding"] == "base64")
        .expect("binary payload kept");
    assert_eq!(binary["position"]["source"], "kinesis");
    assert_eq!(binary["received_at"], "2024-11-05T07:20:00.110Z");

    let alerts = stack.fraud_alerts(1, Duration::from_secs(5)).await?;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["event_id"], "tx-fraud-0001");
    assert_eq!(alerts[0]["risk_level"], "HIGH");
    assert_eq!(alerts[0]["total_amount"], "5999.98");

    // The same batch again: the same object set, byte for byte.
    let again = handler(&deps, invoke_event(fixture("kinesis-batch.json"))).await?;
    assert!(again.failures().is_empty());
    assert_eq!(stack.objects("").await?, objects);
    Ok(())
}

#[tokio::test]
async fn poison_pills_are_quarantined_and_not_retried() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let response = handler(
        &stack.deps(),
        invoke_event(fixture("kinesis-poison-pills.json")),
    )
    .await?;
    assert!(response.failures().is_empty(), "{response:?}");
    let objects = stack.objects("").await?;
    assert!(
        objects.keys().all(|k| k.starts_with("quarantine/")),
        "{:?}",
        objects.keys()
    );
    assert_eq!(quarantine_entries(&objects).len(), 6);
    Ok(())
}

/// Fails every S3 request whose path contains `needle`, before it is sent: the injected
/// fault goes through the SDK's real error path, moto stays untouched.
#[derive(Debug)]
struct FailKeys {
    needle: &'static str,
}

impl Intercept for FailKeys {
    fn name(&self) -> &'static str {
        "FailKeys"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if context.request().uri().contains(self.needle) {
            return Err(format!("injected failure for {}", self.needle).into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn s3_failure_reports_the_affected_records_and_a_retry_completes_without_duplicates(
) -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let failing_s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.moto.sdk_config())
            .force_path_style(true)
            .interceptor(FailKeys {
                needle: "silver/clickstream/",
            })
            .build(),
    );
    let event = fixture("kinesis-batch.json");
    let all = sequences(&event);
    // Record 2 (the clickstream event) is in the failing object: Lambda restarts from it, so
    // it and every later record are reported.
    let response = handler(
        &stack.deps_with(failing_s3, TABLE),
        invoke_event(event.clone()),
    )
    .await?;
    let reported: Vec<String> = response.failures().into_iter().map(|(_, s)| s).collect();
    assert_eq!(reported, all[2..].to_vec());
    let StreamResponse::Kinesis(_) = &response else {
        panic!("a Kinesis response");
    };

    // Only records 0 and 1 (tx-0001 and its duplicate) are in the lake now.
    let after_failure = stack.objects("").await?;
    assert_eq!(silver_event_ids(&after_failure), ["tx-0001"]);
    let entries = quarantine_entries(&after_failure);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["reasons"][0], "DUPLICATE_EVENT");

    // Lambda's retry: the same shard from the lowest reported sequence number.
    let mut retry = event.clone();
    let records = retry["Records"].as_array_mut().expect("records");
    records.drain(..2);
    let response = handler(&stack.deps(), invoke_event(retry)).await?;
    assert!(response.failures().is_empty());

    let done = stack.objects("").await?;
    assert_eq!(
        silver_event_ids(&done),
        [
            "avro-0001",
            "clk-0001",
            "inv-0001",
            "tx-0001",
            "tx-0002",
            "tx-fraud-0001"
        ],
        "every row exactly once"
    );
    assert_eq!(quarantine_entries(&done).len(), 7);
    Ok(())
}

#[tokio::test]
async fn profile_table_failure_retries_the_whole_slice_and_writes_nothing() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let deps = stack.deps_with(stack.s3.clone(), "no_such_table");
    let event = fixture("kinesis-batch.json");
    let response = handler(&deps, invoke_event(event.clone())).await?;
    let reported: Vec<String> = response.failures().into_iter().map(|(_, s)| s).collect();
    assert_eq!(reported, sequences(&event));
    assert!(stack.objects("").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn events_of_other_sources_are_an_error() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let result = handler(
        &stack.deps(),
        invoke_event(serde_json::json!({"Records": [{"eventSource": "aws:sqs"}]})),
    )
    .await;
    assert!(result.is_err());
    Ok(())
}
