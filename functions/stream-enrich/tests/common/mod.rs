//! Shared set-up for the integration tests: a moto server with the lake bucket, the profile
//! table, the alert bus (with a rule forwarding FraudSuspected to an SQS queue we can read),
//! handler dependencies pointing at it, and readers for what landed in the lake.
#![allow(dead_code)]

use anyhow::{Context, Result};
use arrow::array::{Array, StringArray};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use shopstream::config::{CoreConfig, Env};
use shopstream_emulators::MotoServer;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use stream_enrich::alerts::FraudAlerter;
use stream_enrich::enrich::{DynamoProfiles, Enricher, ProfileCache};
use stream_enrich::writer::LakeWriter;
use stream_enrich::{Config, Deps};

pub const BUCKET: &str = "lake";
pub const TABLE: &str = "customer_profiles";
pub const BUS: &str = "shopstream-alerts";

pub struct Stack {
    pub moto: MotoServer,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Stack {
    pub async fn start() -> Result<Self> {
        let moto = MotoServer::start().await?;
        let sdk = moto.sdk_config();
        let s3 = moto.s3_client();
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        s3.create_bucket().bucket(BUCKET).send().await?;
        dynamodb
            .create_table()
            .table_name(TABLE)
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
        for (user, country, segment, orders) in [
            ("user_0042", "Brazil", "loyal", "12"),
            ("user_0099", "brasil", "new", "0"),
            ("user_0007", "JP", "regular", "3"),
        ] {
            dynamodb
                .put_item()
                .table_name(TABLE)
                .item("user_id", AttributeValue::S(user.into()))
                .item("country", AttributeValue::S(country.into()))
                .item("segment", AttributeValue::S(segment.into()))
                .item("lifetime_orders", AttributeValue::N(orders.into()))
                .send()
                .await?;
        }
        events.create_event_bus().name(BUS).send().await?;
        let queue_url = sqs
            .create_queue()
            .queue_name("fraud-alerts")
            .send()
            .await?
            .queue_url
            .context("queue url")?;
        let queue_arn = "arn:aws:sqs:us-east-1:123456789012:fraud-alerts";
        events
            .put_rule()
            .name("fraud-to-sqs")
            .event_bus_name(BUS)
            .event_pattern(r#"{"detail-type":["FraudSuspected"]}"#)
            .send()
            .await?;
        events
            .put_targets()
            .rule("fraud-to-sqs")
            .event_bus_name(BUS)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("q")
                    .arn(queue_arn)
                    .build()?,
            )
            .send()
            .await?;
        Ok(Stack {
            moto,
            s3,
            dynamodb,
            sqs,
            queue_url,
        })
    }

    pub fn config(&self, table: &str) -> Config {
        let env = Env::from_pairs([
            ("LAKE_BUCKET", BUCKET),
            ("PROFILE_TABLE", table),
            ("EVENT_BUS_NAME", BUS),
        ]);
        Config::from_env(&env).expect("test configuration is valid")
    }

    /// Handler dependencies on this server, S3 through `s3` (so a test can inject failures).
    pub fn deps_with(&self, s3: aws_sdk_s3::Client, table: &str) -> Deps {
        let config = self.config(table);
        let sdk = self.moto.sdk_config();
        Deps {
            writer: LakeWriter::new(s3, BUCKET),
            enricher: Enricher::new(
                ProfileCache::new(config.cache_capacity, config.cache_ttl),
                DynamoProfiles::new(aws_sdk_dynamodb::Client::new(&sdk), table, "user_id"),
            ),
            alerter: FraudAlerter::new(
                aws_sdk_eventbridge::Client::new(&sdk),
                BUS,
                config.alert_source.clone(),
            ),
            config,
        }
    }

    pub fn deps(&self) -> Deps {
        self.deps_with(self.s3.clone(), TABLE)
    }

    /// Every object under `prefix`, key → bytes.
    pub async fn objects(&self, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut out = BTreeMap::new();
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await?;
        for object in listed.contents() {
            let key = object.key().context("key")?.to_owned();
            let body = self
                .s3
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

    /// The `detail` of every FraudSuspected event delivered to the queue, waiting up to
    /// `wait` for at least `expected` of them.
    pub async fn fraud_alerts(&self, expected: usize, wait: Duration) -> Result<Vec<Value>> {
        let deadline = Instant::now() + wait;
        let mut details = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            for message in received.messages() {
                let body: Value = serde_json::from_str(message.body().unwrap_or("{}"))?;
                assert_eq!(body["detail-type"], "FraudSuspected");
                details.push(body["detail"].clone());
            }
            if details.len() >= expected
                && (received.messages().is_empty() || Instant::now() > deadline)
            {
                return Ok(details);
            }
            if Instant::now() > deadline {
                return Ok(details);
            }
        }
    }
}

/// A fixture under `events/stream-enrich/`.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../events/stream-enrich/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

pub fn invoke_event(payload: Value) -> lambda_runtime::LambdaEvent<Value> {
    lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// Column `column` (strings) of every row of a Parquet object.
pub fn parquet_strings(bytes: &[u8], column: &str) -> Vec<Option<String>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .expect("parquet")
        .build()
        .expect("reader");
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let array = batch
            .column_by_name(column)
            .unwrap_or_else(|| panic!("column {column}"));
        let strings = array
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("string column");
        for i in 0..strings.len() {
            out.push(strings.is_valid(i).then(|| strings.value(i).to_owned()));
        }
    }
    out
}

/// Every silver row's event_id, sorted.
pub fn silver_event_ids(objects: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut ids: Vec<String> = objects
        .iter()
        .filter(|(k, _)| k.starts_with("silver/"))
        .flat_map(|(_, bytes)| parquet_strings(bytes, "event_id"))
        .flatten()
        .collect();
    ids.sort();
    ids
}

/// Every quarantine entry, as JSON.
pub fn quarantine_entries(objects: &BTreeMap<String, Vec<u8>>) -> Vec<Value> {
    objects
        .iter()
        .filter(|(k, _)| k.starts_with("quarantine/"))
        .flat_map(|(_, bytes)| {
            bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice::<Value>(l).expect("jsonl line"))
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn core_config() -> CoreConfig {
    CoreConfig::from_env(&Env::default()).expect("defaults")
}
