//! The enrich stage, driven like a Kinesis event source mapping: each shard is read in order
//! with GetRecords in batches of `batch_size` records (the mapping's BatchSize, at most 10,000),
//! each batch handed to stream-enrich as a Kinesis event of at most 6 MB (Lambda's synchronous
//! payload limit: a page that would make a larger event is split), and a partial batch
//! response makes the next read start again at the lowest failed record. Shards are drained
//! concurrently, `concurrency` at a time (the mapping runs one invocation per shard at once).
//! In a live run ([`Follow`]) every shard is followed at once while the producer writes: an
//! empty read waits the poll interval and reads again, until the producer is done and a read
//! that started after that finds nothing new.

use super::faults::Faults;
use super::ingest::{percentiles, StreamTurn};
use super::{Endpoints, Resources};
use anyhow::{bail, Context, Result};
use aws_config::SdkConfig;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use serde_json::{json, Value};
use shopstream::config::{CoreConfig, Env};
use shopstream_emulators::FaultProxy;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream_enrich::alerts::FraudAlerter;
use stream_enrich::enrich::{DynamoProfiles, Enricher, ProfileCache};
use stream_enrich::velocity::VelocityStore;
use stream_enrich::writer::LakeWriter;
use stream_enrich::{handle, Config, Deps};

/// Retries of one batch before the run gives up (the mapping's MaximumRetryAttempts).
const MAX_RETRIES: u32 = 3;
/// The largest BatchSize a Kinesis event source mapping takes (and GetRecords' own limit).
pub const MAX_BATCH_SIZE: usize = 10_000;
/// Lambda's limit on a synchronous invocation's payload: the mapping never builds a larger event.
pub const MAX_INVOCATION_BYTES: usize = 6 * 1024 * 1024;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EnrichStage {
    pub shards: u64,
    /// Shards drained at the same time.
    pub concurrency: u64,
    pub batch_size: u64,
    pub get_records_calls: u64,
    pub invocations: u64,
    /// Invocations that carried fewer records than the GetRecords page because the event
    /// would have exceeded 6 MB.
    pub payload_limited_invocations: u64,
    pub largest_event_bytes: u64,
    pub records_in: u64,
    pub retried_batches: u64,
    pub reported_failures: u64,
    /// stream-enrich's own counts, summed from its metrics (`RecordsAccepted`,
    /// `RecordsRejected`, `FraudAlertsPublished`, `ObjectsWritten`).
    pub handler_accepted: u64,
    pub handler_rejected: u64,
    pub alerts_published: u64,
    pub objects_written: u64,
    pub seconds: f64,
    /// Summed over the shards (which overlap, so the sum can exceed `seconds`): waiting for
    /// GetRecords, and inside the stream-enrich handler.
    pub get_records_seconds: f64,
    pub handler_seconds: f64,
    /// From the record's arrival on the stream to the end of the invocation that wrote it.
    pub arrival_to_silver_ms_p50: f64,
    pub arrival_to_silver_ms_p99: f64,
    /// Every record's arrival → silver latency, counted into buckets.
    pub arrival_to_silver_ms_histogram: Vec<super::LatencyBucket>,
    /// From a flagged record's arrival on the stream to EventBridge accepting its alert, as
    /// stream-enrich measures it (per alert, over the whole run).
    pub arrival_to_alert_ms_p50: f64,
    pub arrival_to_alert_ms_p99: f64,
    pub arrival_to_alert_ms_max: f64,
    /// From the start of the invocation that scored the record to EventBridge accepting its
    /// alert: the part of the alert latency spent in stream-enrich (the rest is waiting to
    /// be read and for the shard's earlier invocations).
    pub invocation_to_alert_ms_p50: f64,
    pub invocation_to_alert_ms_p99: f64,
    /// Every alert's arrival → alert latency, counted into buckets.
    pub arrival_to_alert_ms_histogram: Vec<super::LatencyBucket>,
    /// Every alert's latency, in the order the shards reported them.
    #[serde(skip)]
    pub alert_latencies_ms: Vec<f64>,
    /// Every alert's time inside its invocation.
    #[serde(skip)]
    pub alert_in_invocation_ms: Vec<f64>,
}

/// A live run's consumer: the stream is followed while the producer writes.
pub struct Follow<'a> {
    /// Set once the producer has sent everything.
    pub producer_done: &'a AtomicBool,
    /// Wait after a read that found nothing new (the mapping's polling).
    pub poll_interval: Duration,
    /// Reads take turns with the producer's writes on the emulator.
    pub turn: &'a StreamTurn,
}

/// The handler's dependencies; lake writes go to `lake_endpoint` when given (the fault
/// proxy), with one attempt per call so an injected failure reaches the handler instead of
/// being hidden by the SDK's retries.
fn deps(endpoints: &Endpoints, resources: &Resources, lake_endpoint: Option<&str>) -> Result<Deps> {
    let (sdk, tables) = (&endpoints.services, &endpoints.tables);
    let config = Config {
        core: CoreConfig::from_env(&Env::from_process())?,
        lake_bucket: resources.bucket.clone(),
        profile_table: resources.profile_table.clone(),
        profile_key: "user_id".into(),
        event_bus: resources.bus.clone(),
        alert_source: stream_enrich::config::DEFAULT_ALERT_SOURCE.into(),
        cache_capacity: stream_enrich::config::DEFAULT_CACHE_CAPACITY,
        cache_ttl: Duration::from_secs(u64::from(stream_enrich::config::DEFAULT_CACHE_TTL_SECONDS)),
        deadline_margin: Duration::from_millis(stream_enrich::config::DEFAULT_DEADLINE_MARGIN_MS),
        sdk_timeouts: shopstream::aws::SdkTimeouts::default(),
        velocity_table: Some(resources.velocity_table.clone()),
        velocity_bucket_seconds: stream_enrich::velocity::DEFAULT_BUCKET_SECONDS,
        slice_concurrency: stream_enrich::config::DEFAULT_SLICE_CONCURRENCY,
    };
    Ok(Deps {
        writer: LakeWriter::new(lake_client(sdk, lake_endpoint), config.lake_bucket.clone()),
        enricher: Enricher::new(
            ProfileCache::new(config.cache_capacity, config.cache_ttl),
            DynamoProfiles::new(
                aws_sdk_dynamodb::Client::new(tables),
                config.profile_table.clone(),
                config.profile_key.clone(),
            ),
        )
        .with_velocity(VelocityStore::new(
            aws_sdk_dynamodb::Client::new(tables),
            resources.velocity_table.clone(),
            config.velocity_bucket_seconds,
        )),
        alerter: FraudAlerter::new(
            aws_sdk_eventbridge::Client::new(sdk),
            config.event_bus.clone(),
            config.alert_source.clone(),
        ),
        config,
    })
}

fn lake_client(sdk: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let Some(endpoint) = endpoint else {
        return shopstream::aws::s3_client(sdk);
    };
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .force_path_style(true)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .build(),
    )
}

pub async fn drain_stream(
    endpoints: &Endpoints,
    resources: &Resources,
    batch_size: usize,
    concurrency: usize,
    faults: &Arc<Faults>,
    follow: Option<&Follow<'_>>,
    progress: &super::progress::StageProgress,
) -> Result<EnrichStage> {
    // S3 faults are injected by a proxy in front of the lake's emulator.
    let proxy = match (faults.spec.touches_s3(), endpoints.services.endpoint_url()) {
        (true, Some(url)) => {
            let port = url
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
                .context("the lake emulator's port")?;
            Some(FaultProxy::start(port, faults.s3_rule()).await?)
        }
        _ => None,
    };
    let deps = deps(
        endpoints,
        resources,
        proxy.as_ref().map(FaultProxy::endpoint_url),
    )?;
    let kinesis = aws_sdk_kinesis::Client::new(&endpoints.stream);
    let shards = list_shards(&kinesis, &resources.stream).await?;
    let stream_arn = format!(
        "arn:aws:kinesis:us-east-1:000000000000:stream/{}",
        resources.stream
    );
    let batch_size = batch_size.clamp(1, MAX_BATCH_SIZE);
    // A followed shard is never finished while the producer writes: all are read at once.
    let concurrency = match follow {
        Some(_) => shards.len().max(1),
        None => concurrency.max(1),
    };
    let started = Instant::now();
    // Like the event source mapping, shards are consumed concurrently, each in order. All of
    // them at once would only make the emulator juggle threads: `concurrency` at a time.
    let per_shard: Vec<(EnrichStage, Vec<f64>)> = futures::stream::iter(&shards)
        .map(|shard| {
            let target = ShardTarget {
                deps: &deps,
                shard_id: shard.shard_id(),
                stream_arn: &stream_arn,
                faults,
                progress,
            };
            drain_shard(&kinesis, target, &resources.stream, batch_size, follow)
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let mut stage = EnrichStage {
        shards: per_shard.len() as u64,
        concurrency: concurrency as u64,
        batch_size: batch_size as u64,
        ..EnrichStage::default()
    };
    let mut latencies = Vec::new();
    for (shard_stage, shard_latencies) in per_shard {
        stage.get_records_calls += shard_stage.get_records_calls;
        stage.invocations += shard_stage.invocations;
        stage.payload_limited_invocations += shard_stage.payload_limited_invocations;
        stage.largest_event_bytes = stage
            .largest_event_bytes
            .max(shard_stage.largest_event_bytes);
        stage.records_in += shard_stage.records_in;
        stage.retried_batches += shard_stage.retried_batches;
        stage.reported_failures += shard_stage.reported_failures;
        stage.handler_accepted += shard_stage.handler_accepted;
        stage.handler_rejected += shard_stage.handler_rejected;
        stage.alerts_published += shard_stage.alerts_published;
        stage.objects_written += shard_stage.objects_written;
        stage.get_records_seconds += shard_stage.get_records_seconds;
        stage.handler_seconds += shard_stage.handler_seconds;
        stage
            .alert_latencies_ms
            .extend(shard_stage.alert_latencies_ms);
        stage
            .alert_in_invocation_ms
            .extend(shard_stage.alert_in_invocation_ms);
        latencies.extend(shard_latencies);
    }
    stage.seconds = started.elapsed().as_secs_f64();
    stage.arrival_to_silver_ms_histogram = super::latency_histogram(&latencies);
    (
        stage.arrival_to_silver_ms_p50,
        stage.arrival_to_silver_ms_p99,
    ) = percentiles(&mut latencies);
    stage.arrival_to_alert_ms_histogram = super::latency_histogram(&stage.alert_latencies_ms);
    let mut alert_latencies = stage.alert_latencies_ms.clone();
    (stage.arrival_to_alert_ms_p50, stage.arrival_to_alert_ms_p99) =
        percentiles(&mut alert_latencies);
    stage.arrival_to_alert_ms_max = alert_latencies.iter().copied().fold(0.0, f64::max);
    let mut in_invocation = stage.alert_in_invocation_ms.clone();
    (
        stage.invocation_to_alert_ms_p50,
        stage.invocation_to_alert_ms_p99,
    ) = percentiles(&mut in_invocation);
    Ok(stage)
}

/// Every shard of the stream (ListShards pages hold up to 1,000).
async fn list_shards(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<Vec<aws_sdk_kinesis::types::Shard>> {
    let mut shards = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        // A page after the first is asked for by its token alone.
        let request = match &next_token {
            Some(token) => kinesis.list_shards().next_token(token),
            None => kinesis.list_shards().stream_name(stream),
        };
        let page = request.send().await.context("listing the shards")?;
        shards.extend_from_slice(page.shards());
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            return Ok(shards);
        }
    }
}

/// Reads one shard to its end (or, followed, until the producer is done), invoking
/// stream-enrich per batch; returns the shard's counts and the arrival-to-silver latency (ms)
/// of each record.
async fn drain_shard(
    kinesis: &aws_sdk_kinesis::Client,
    shard: ShardTarget<'_>,
    stream: &str,
    batch_size: usize,
    follow: Option<&Follow<'_>>,
) -> Result<(EnrichStage, Vec<f64>)> {
    let (shard_id, stream_arn) = (shard.shard_id, shard.stream_arn);
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
        let producer_was_done = follow.is_none_or(|f| f.producer_done.load(Ordering::Acquire));
        let reading = Instant::now();
        let page = {
            let _turn = match follow {
                Some(f) => Some(f.turn.lock().await),
                None => None,
            };
            kinesis
                .get_records()
                .shard_iterator(&iterator)
                .limit(batch_size as i32)
                .send()
                .await?
        };
        stage.get_records_seconds += reading.elapsed().as_secs_f64();
        stage.get_records_calls += 1;
        let records = page.records();
        if records.is_empty() {
            match (follow, page.next_shard_iterator()) {
                (Some(follow), Some(next)) if !producer_was_done => {
                    iterator = next.to_owned();
                    tokio::time::sleep(follow.poll_interval).await;
                    continue;
                }
                _ => break,
            }
        }
        // One page is one batch, unless its event would pass 6 MB: then consecutive
        // invocations, in order, each as large as the limit allows.
        let mut start = 0;
        let mut failed = None;
        while start < records.len() {
            let (_, taken, bytes) = kinesis_event(shard_id, stream_arn, &records[start..]);
            if start + taken < records.len() {
                stage.payload_limited_invocations += 1;
            }
            stage.largest_event_bytes = stage.largest_event_bytes.max(bytes as u64);
            let batch = &records[start..start + taken];
            if let Some(sequence) = shard.deliver(batch, &mut stage, &mut latencies).await? {
                failed = Some(sequence);
                break;
            }
            start += taken;
        }
        match failed {
            None => {
                retries = 0;
                match page.next_shard_iterator() {
                    Some(next) => iterator = next.to_owned(),
                    None => break,
                }
            }
            Some(sequence) => {
                // The rest of the page is dropped and read again from the failed record.
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

/// One shard's invocations of stream-enrich, with the run's faults.
struct ShardTarget<'a> {
    deps: &'a Deps,
    shard_id: &'a str,
    stream_arn: &'a str,
    faults: &'a Faults,
    progress: &'a super::progress::StageProgress,
}

impl ShardTarget<'_> {
    /// Delivers a batch as the event source mapping does: a function error or timeout is
    /// retried (bisected into halves when bisect is on), a success may be delivered again,
    /// and a partial batch response ends the delivery. Returns the lowest reported sequence
    /// number, from which the shard is read again.
    async fn deliver(
        &self,
        batch: &[aws_sdk_kinesis::types::Record],
        stage: &mut EnrichStage,
        latencies: &mut Vec<f64>,
    ) -> Result<Option<u128>> {
        let mut pending: VecDeque<(&[aws_sdk_kinesis::types::Record], u32)> =
            VecDeque::from([(batch, 0)]);
        while let Some((records, attempts)) = pending.pop_front() {
            let failures = self.invoke(records, stage).await?;
            if self.faults.time_out(records.len()) {
                if attempts >= MAX_RETRIES {
                    bail!(
                        "shard {}: a batch of {} records timed out {} times",
                        self.shard_id,
                        records.len(),
                        attempts + 1
                    );
                }
                if self.faults.spec.bisect && records.len() > 1 {
                    self.faults.bisected();
                    let (first, second) = records.split_at(records.len() / 2);
                    pending.push_front((second, attempts + 1));
                    pending.push_front((first, attempts + 1));
                } else {
                    pending.push_front((records, attempts + 1));
                }
                continue;
            }
            let lowest = match failures {
                None if self.faults.redeliver() => self.invoke(records, stage).await?,
                failures => failures,
            };
            let finished = chrono::Utc::now();
            for record in records {
                let sequence = record.sequence_number().parse::<u128>().ok();
                let processed = match (lowest, sequence) {
                    (Some(low), Some(sequence)) => sequence < low,
                    _ => true,
                };
                if processed {
                    stage.records_in += 1;
                    self.progress.inc(1);
                    if let Some(arrival) = record.approximate_arrival_timestamp() {
                        let arrival_ms = arrival.secs() as f64 * 1000.0
                            + f64::from(arrival.subsec_nanos()) / 1e6;
                        latencies.push(finished.timestamp_millis() as f64 - arrival_ms);
                    }
                }
            }
            if lowest.is_some() {
                return Ok(lowest);
            }
        }
        Ok(None)
    }

    /// One invocation; returns the lowest sequence number it reported as failed.
    async fn invoke(
        &self,
        records: &[aws_sdk_kinesis::types::Record],
        stage: &mut EnrichStage,
    ) -> Result<Option<u128>> {
        let (event, _, _) = kinesis_event(self.shard_id, self.stream_arn, records);
        let invoked = Instant::now();
        let invoked_at = chrono::Utc::now();
        let stream_enrich::Invocation {
            response,
            metrics,
            alert_timings,
        } = handle(self.deps, LambdaEvent::new(event, LambdaContext::default()))
            .await
            .map_err(|e| anyhow::anyhow!("stream-enrich failed the whole batch: {e}"))?;
        for timing in &alert_timings {
            stage.alert_latencies_ms.push(timing.latency_ms() as f64);
            stage
                .alert_in_invocation_ms
                .push((timing.accepted_at - invoked_at).num_milliseconds() as f64);
        }
        stage.handler_seconds += invoked.elapsed().as_secs_f64();
        stage.invocations += 1;
        let counted = |name: &str| metrics.value(name).unwrap_or(0.0) as u64;
        stage.handler_accepted += counted("RecordsAccepted");
        stage.handler_rejected += counted("RecordsRejected");
        stage.alerts_published += counted("FraudAlertsPublished");
        stage.objects_written += counted("ObjectsWritten");
        let failures = response.failures();
        stage.reported_failures += failures.len() as u64;
        Ok(failures
            .iter()
            .filter_map(|(_, sequence)| sequence.parse::<u128>().ok())
            .min())
    }
}

/// The event a Kinesis event source mapping delivers for the first of these records: as many
/// as fit in [`MAX_INVOCATION_BYTES`] of JSON (at least one). Returns the event, how many
/// records it holds and its size in bytes.
fn kinesis_event(
    shard_id: &str,
    stream_arn: &str,
    records: &[aws_sdk_kinesis::types::Record],
) -> (Value, usize, usize) {
    // `{"Records":[` ... `]}`, and a comma between records.
    let mut bytes = r#"{"Records":[]}"#.len();
    let mut items = Vec::with_capacity(records.len());
    for r in records {
        let arrival = r
            .approximate_arrival_timestamp()
            .map(|t| t.secs() as f64 + f64::from(t.subsec_nanos()) / 1e9)
            .unwrap_or(0.0);
        let item = kinesis_record(
            shard_id,
            stream_arn,
            r.partition_key().unwrap_or_default(),
            r.sequence_number(),
            r.data().as_ref(),
            arrival,
        );
        let size = json_len(&item) + usize::from(!items.is_empty());
        if !items.is_empty() && bytes + size > MAX_INVOCATION_BYTES {
            break;
        }
        bytes += size;
        items.push(item);
    }
    let taken = items.len();
    (json!({ "Records": items }), taken, bytes)
}

/// Length of `value` serialised as compact JSON.
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("a JSON value always serialises");
    count.0
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::Record;

    fn records(count: usize, bytes: usize) -> Vec<Record> {
        (0..count)
            .map(|i| {
                Record::builder()
                    .sequence_number(format!("{}", 1_000 + i))
                    .partition_key(format!("user_{i}"))
                    .data(Blob::new(vec![b'x'; bytes]))
                    .build()
                    .unwrap()
            })
            .collect()
    }

    fn split(records: &[Record]) -> Vec<(usize, usize)> {
        let mut events = Vec::new();
        let mut start = 0;
        while start < records.len() {
            let (event, taken, bytes) = kinesis_event("shardId-000", "arn", &records[start..]);
            assert_eq!(serde_json::to_vec(&event).unwrap().len(), bytes);
            assert_eq!(event["Records"].as_array().unwrap().len(), taken);
            events.push((taken, bytes));
            start += taken;
        }
        events
    }

    #[test]
    fn a_small_page_is_one_event() {
        let events = split(&records(1_000, 800));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, 1_000);
    }

    #[test]
    fn a_large_page_is_cut_into_events_under_six_megabytes() {
        // 10,000 records of 1 KB make about 15 MB of event: three invocations.
        let page = records(10_000, 1_000);
        let events = split(&page);
        assert_eq!(events.iter().map(|(n, _)| n).sum::<usize>(), 10_000);
        assert_eq!(events.len(), 3);
        for (taken, bytes) in &events[..events.len() - 1] {
            assert!(*bytes <= MAX_INVOCATION_BYTES);
            // Full: one more record would not have fitted.
            assert!(bytes + bytes / taken > MAX_INVOCATION_BYTES);
        }
    }

    #[test]
    fn a_record_larger_than_the_limit_still_goes_alone() {
        let events = split(&records(2, MAX_INVOCATION_BYTES));
        assert_eq!(events.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 1]);
    }
}
