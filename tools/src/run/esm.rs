//! The enrich stage, driven like a Kinesis event source mapping: each shard is read with
//! GetRecords in batches of `batch_size`, each batch handed to stream-enrich as a Kinesis event,
//! and a partial batch response makes the next read start again at the lowest failed record.

use super::ingest::percentiles;
use super::Resources;
use anyhow::{bail, Context, Result};
use aws_config::SdkConfig;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;
use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use serde_json::{json, Value};
use shopstream::config::{CoreConfig, Env};
use std::time::{Duration, Instant};
use stream_enrich::alerts::FraudAlerter;
use stream_enrich::enrich::{DynamoProfiles, Enricher, ProfileCache};
use stream_enrich::writer::LakeWriter;
use stream_enrich::{handle, Config, Deps};

/// Retries of one batch before the run gives up (the mapping's MaximumRetryAttempts).
const MAX_RETRIES: u32 = 3;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EnrichStage {
    pub invocations: u64,
    pub records_in: u64,
    pub retried_batches: u64,
    pub reported_failures: u64,
    pub seconds: f64,
    /// From the record's arrival on the stream to the end of the invocation that wrote it.
    pub arrival_to_silver_ms_p50: f64,
    pub arrival_to_silver_ms_p99: f64,
}

fn deps(sdk: &SdkConfig, resources: &Resources) -> Result<Deps> {
    let config = Config {
        core: CoreConfig::from_env(&Env::from_process())?,
        lake_bucket: resources.bucket.clone(),
        profile_table: resources.profile_table.clone(),
        profile_key: "user_id".into(),
        event_bus: resources.bus.clone(),
        alert_source: stream_enrich::config::DEFAULT_ALERT_SOURCE.into(),
        cache_capacity: stream_enrich::config::DEFAULT_CACHE_CAPACITY,
        cache_ttl: Duration::from_secs(u64::from(stream_enrich::config::DEFAULT_CACHE_TTL_SECONDS)),
    };
    Ok(Deps {
        writer: LakeWriter::new(shopstream::aws::s3_client(sdk), config.lake_bucket.clone()),
        enricher: Enricher::new(
            ProfileCache::new(config.cache_capacity, config.cache_ttl),
            DynamoProfiles::new(aws_sdk_dynamodb::Client::new(sdk), config.profile_table.clone(), config.profile_key.clone()),
        ),
        alerter: FraudAlerter::new(aws_sdk_eventbridge::Client::new(sdk), config.event_bus.clone(), config.alert_source.clone()),
        config,
    })
}

pub async fn drain_stream(sdk: &SdkConfig, resources: &Resources, batch_size: usize) -> Result<EnrichStage> {
    let deps = deps(sdk, resources)?;
    let kinesis = aws_sdk_kinesis::Client::new(sdk);
    let shards = kinesis.list_shards().stream_name(&resources.stream).send().await?;
    let stream_arn = format!("arn:aws:kinesis:us-east-1:000000000000:stream/{}", resources.stream);
    let mut stage = EnrichStage::default();
    let mut latencies = Vec::new();
    let started = Instant::now();
    for shard in shards.shards() {
        let shard_id = shard.shard_id();
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(&resources.stream)
            .shard_id(shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await?
            .shard_iterator
            .context("no shard iterator")?;
        let mut retries = 0;
        loop {
            let page = kinesis.get_records().shard_iterator(&iterator).limit(batch_size as i32).send().await?;
            let records = page.records();
            if records.is_empty() {
                break;
            }
            let event = kinesis_event(shard_id, &stream_arn, records);
            let (response, _metrics) = handle(&deps, LambdaEvent::new(event, LambdaContext::default()))
                .await
                .map_err(|e| anyhow::anyhow!("stream-enrich failed the whole batch: {e}"))?;
            let finished = chrono::Utc::now();
            stage.invocations += 1;
            let failures = response.failures();
            let lowest_failure = failures
                .iter()
                .filter_map(|(_, sequence)| sequence.parse::<u128>().ok().map(|n| (n, sequence.clone())))
                .min()
                .map(|(_, sequence)| sequence);
            for record in records {
                let done = lowest_failure
                    .as_ref()
                    .and_then(|low| low.parse::<u128>().ok())
                    .zip(record.sequence_number().parse::<u128>().ok())
                    .is_none_or(|(low, seq)| seq < low);
                if done {
                    stage.records_in += 1;
                    if let Some(arrival) = record.approximate_arrival_timestamp() {
                        let arrival_ms = arrival.secs() as f64 * 1000.0 + f64::from(arrival.subsec_nanos()) / 1e6;
                        latencies.push(finished.timestamp_millis() as f64 - arrival_ms);
                    }
                }
            }
            match lowest_failure {
                None => {
                    retries = 0;
                    match page.next_shard_iterator() {
                        Some(next) => iterator = next.to_owned(),
                        None => break,
                    }
                }
                Some(sequence) => {
                    stage.reported_failures += failures.len() as u64;
                    stage.retried_batches += 1;
                    retries += 1;
                    if retries > MAX_RETRIES {
                        bail!("shard {shard_id}: record {sequence} still failing after {MAX_RETRIES} retries");
                    }
                    iterator = kinesis
                        .get_shard_iterator()
                        .stream_name(&resources.stream)
                        .shard_id(shard_id)
                        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                        .starting_sequence_number(sequence)
                        .send()
                        .await?
                        .shard_iterator
                        .context("no shard iterator")?;
                }
            }
        }
    }
    stage.seconds = started.elapsed().as_secs_f64();
    (stage.arrival_to_silver_ms_p50, stage.arrival_to_silver_ms_p99) = percentiles(&mut latencies);
    Ok(stage)
}

/// The event a Kinesis event source mapping delivers for these records.
fn kinesis_event(shard_id: &str, stream_arn: &str, records: &[aws_sdk_kinesis::types::Record]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            let arrival = r
                .approximate_arrival_timestamp()
                .map(|t| t.secs() as f64 + f64::from(t.subsec_nanos()) / 1e9)
                .unwrap_or(0.0);
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key(),
                    "sequenceNumber": r.sequence_number(),
                    "data": base64::engine::general_purpose::STANDARD.encode(r.data().as_ref()),
                    "approximateArrivalTimestamp": arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{shard_id}:{}", r.sequence_number()),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::000000000000:role/stream-enrich",
                "awsRegion": "us-east-1",
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    json!({ "Records": records })
}
