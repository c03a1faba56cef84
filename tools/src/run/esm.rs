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
    /// Of `seconds`: waiting for GetRecords, and inside the stream-enrich handler.
    pub get_records_seconds: f64,
    pub handler_seconds: f64,
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
            DynamoProfiles::new(
                aws_sdk_dynamodb::Client::new(sdk),
                config.profile_table.clone(),
                config.profile_key.clone(),
            ),
        ),
        alerter: FraudAlerter::new(
            aws_sdk_eventbridge::Client::new(sdk),
            config.event_bus.clone(),
            config.alert_source.clone(),
        ),
        config,
    })
}

pub async fn drain_stream(
    sdk: &SdkConfig,
    resources: &Resources,
    batch_size: usize,
) -> Result<EnrichStage> {
    let deps = deps(sdk, resources)?;
    let kinesis = aws_sdk_kinesis::Client::new(sdk);
    let shards = kinesis
        .list_shards()
        .stream_name(&resources.stream)
        .send()
        .await?;
    let stream_arn = format!(
        "arn:aws:kinesis:us-east-1:000000000000:stream/{}",
        resources.stream
    );
    let started = Instant::now();
    // Like the event source mapping, every shard is consumed concurrently, each in order.
    let per_shard = futures::future::try_join_all(shards.shards().iter().map(|shard| {
        drain_shard(
            &kinesis,
            &deps,
            &resources.stream,
            &stream_arn,
            shard.shard_id(),
            batch_size,
        )
    }))
    .await?;
    let mut stage = EnrichStage::default();
    let mut latencies = Vec::new();
    for (shard_stage, shard_latencies) in per_shard {
        stage.invocations += shard_stage.invocations;
        stage.records_in += shard_stage.records_in;
        stage.retried_batches += shard_stage.retried_batches;
        stage.reported_failures += shard_stage.reported_failures;
        stage.get_records_seconds += shard_stage.get_records_seconds;
        stage.handler_seconds += shard_stage.handler_seconds;
        latencies.extend(shard_latencies);
    }
    stage.seconds = started.elapsed().as_secs_f64();
    (
        stage.arrival_to_silver_ms_p50,
        stage.arrival_to_silver_ms_p99,
    ) = percentiles(&mut latencies);
    Ok(stage)
}

/// Reads one shard to its end, invoking stream-enrich per batch; returns the shard's counts
/// and the arrival-to-silver latency (ms) of each record.
async fn drain_shard(
    kinesis: &aws_sdk_kinesis::Client,
    deps: &Deps,
    stream: &str,
    stream_arn: &str,
    shard_id: &str,
    batch_size: usize,
) -> Result<(EnrichStage, Vec<f64>)> {
    let mut stage = EnrichStage::default();
    let mut latencies = Vec::new();
    let mut iterator = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard_id)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await?
        .shard_iterator
        .context("no shard iterator")?;
    let mut retries = 0;
    loop {
        let reading = Instant::now();
        let page = kinesis
            .get_records()
            .shard_iterator(&iterator)
            .limit(batch_size as i32)
            .send()
            .await?;
        stage.get_records_seconds += reading.elapsed().as_secs_f64();
        let records = page.records();
        if records.is_empty() {
            break;
        }
        let event = kinesis_event(shard_id, stream_arn, records);
        let invoked = Instant::now();
        let (response, _metrics) = handle(deps, LambdaEvent::new(event, LambdaContext::default()))
            .await
            .map_err(|e| anyhow::anyhow!("stream-enrich failed the whole batch: {e}"))?;
        let finished = chrono::Utc::now();
        stage.handler_seconds += invoked.elapsed().as_secs_f64();
        stage.invocations += 1;
        let failures = response.failures();
        let lowest_failure = failures
            .iter()
            .filter_map(|(_, sequence)| sequence.parse::<u128>().ok())
            .min();
        for record in records {
            let sequence = record.sequence_number().parse::<u128>().ok();
            let processed = match (lowest_failure, sequence) {
                (Some(low), Some(sequence)) => sequence < low,
                _ => true,
            };
            if processed {
                stage.records_in += 1;
                if let Some(arrival) = record.approximate_arrival_timestamp() {
                    let arrival_ms =
                        arrival.secs() as f64 * 1000.0 + f64::from(arrival.subsec_nanos()) / 1e6;
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
                    .stream_name(stream)
                    .shard_id(shard_id)
                    .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                    .starting_sequence_number(sequence.to_string())
                    .send()
                    .await?
                    .shard_iterator
                    .context("no shard iterator")?;
            }
        }
    }
    Ok((stage, latencies))
}

/// The event a Kinesis event source mapping delivers for these records.
fn kinesis_event(
    shard_id: &str,
    stream_arn: &str,
    records: &[aws_sdk_kinesis::types::Record],
) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            let arrival = r
                .approximate_arrival_timestamp()
                .map(|t| t.secs() as f64 + f64::from(t.subsec_nanos()) / 1e9)
                .unwrap_or(0.0);
            kinesis_record(
                shard_id,
                stream_arn,
                r.partition_key().unwrap_or_default(),
                r.sequence_number(),
                r.data().as_ref(),
                arrival,
            )
        })
        .collect();
    json!({ "Records": records })
}

/// One record of a Kinesis event as the event source mapping delivers it (`data` base64,
/// arrival time in epoch seconds).
pub fn kinesis_record(
    shard_id: &str,
    stream_arn: &str,
    partition_key: &str,
    sequence_number: &str,
    data: &[u8],
    arrival_seconds: f64,
) -> Value {
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "approximateArrivalTimestamp": arrival_seconds,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{shard_id}:{sequence_number}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::000000000000:role/stream-enrich",
        "awsRegion": "us-east-1",
        "eventSourceARN": stream_arn,
    })
}
