//! Shared set-up of the moto tests: a lake bucket, a one-shard stream, an SQS queue, and the
//! handler wired to them as main.rs wires it.

#![allow(dead_code)]

use aws_sdk_kinesis::types::ShardIteratorType;
use lambda_runtime::{Context, LambdaEvent};
use quarantine_replay::{handler, Config, Deps, HandlerError, Report};
use serde_json::Value;
use shopstream::config::Env;
use shopstream_emulators::MotoServer;

pub const BUCKET: &str = "lake";
pub const STREAM: &str = "shopstream-dev-events";

pub struct Setup {
    pub moto: MotoServer,
    pub deps: Deps,
    pub s3: aws_sdk_s3::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

pub async fn setup() -> anyhow::Result<Setup> {
    setup_with(&[]).await
}

pub async fn setup_with(extra_env: &[(&str, &str)]) -> anyhow::Result<Setup> {
    let moto = MotoServer::start().await?;
    let sdk = moto.sdk_config();
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(BUCKET).send().await?;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    kinesis
        .create_stream()
        .stream_name(STREAM)
        .shard_count(1)
        .send()
        .await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name("stream-enrich-dlq")
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let mut env = vec![
        ("LAKE_BUCKET", BUCKET),
        ("STREAM_NAME", STREAM),
        ("DLQ_QUEUE_URL", queue_url.as_str()),
        ("SEND_BACKOFF_MS", "10"),
    ];
    env.extend_from_slice(extra_env);
    let config = Config::from_env(&Env::from_pairs(env))?;
    let sinks = quarantine_replay::handler::replay_sinks(&config, &kinesis, None).await?;
    let deps = Deps::new(config, s3.clone(), kinesis.clone(), sqs.clone(), sinks);
    Ok(Setup {
        moto,
        deps,
        s3,
        kinesis,
        sqs,
        queue_url,
    })
}

pub fn sample(name: &str) -> Value {
    let path = format!(
        "{}/../../events/quarantine-replay/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub async fn invoke(deps: &Deps, event: Value) -> Result<Report, HandlerError> {
    handler(deps, LambdaEvent::new(event, Context::default())).await
}

/// Every record on the stream: (sequence number, partition key, payload bytes).
pub async fn read_stream(kinesis: &aws_sdk_kinesis::Client) -> Vec<(String, String, Vec<u8>)> {
    let shards = kinesis
        .list_shards()
        .stream_name(STREAM)
        .send()
        .await
        .expect("list shards");
    let mut out = Vec::new();
    for shard in shards.shards() {
        let iterator = kinesis
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator");
        let mut iterator = iterator.shard_iterator().map(str::to_owned);
        while let Some(current) = iterator {
            let page = kinesis
                .get_records()
                .shard_iterator(current)
                .limit(10_000)
                .send()
                .await
                .expect("get records");
            for record in page.records() {
                out.push((
                    record.sequence_number().to_owned(),
                    record.partition_key().unwrap_or_default().to_owned(),
                    record.data().as_ref().to_vec(),
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

pub async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    let object = s3.get_object().bucket(BUCKET).key(key).send().await.ok()?;
    Some(object.body.collect().await.ok()?.into_bytes().to_vec())
}

pub async fn put(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body.into())
        .send()
        .await
        .expect("put object");
}
