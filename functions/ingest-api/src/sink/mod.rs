//! Where accepted records go, and delivery with bounded retries.
//!
//! A sink reports one [`Outcome`] per record. [`deliver`] sends everything, then re-sends only
//! the records reported as retryable failures, with exponential backoff and jitter, until they
//! are all in or the attempts are spent. What is still failing is returned, never dropped,
//! with whether a later retry could help (a throttled or unreachable sink) or not (a missing
//! stream, access denied). [`deliver_with_progress`] also reports each attempt's delivered
//! records as they land, so that an idempotent request can remember them.

pub mod dynamodb;
pub mod kafka;
pub mod kinesis;

use crate::config::RetryPolicy;
use crate::records::Prepared;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use dynamodb::DynamoDbSink;
pub use kafka::KafkaSink;
pub use kinesis::KinesisSink;

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The sink already holds a record with this `event_id` and kept it (DynamoDB's
    /// conditional put); nothing was written.
    Duplicate,
    Failed {
        error: String,
        retryable: bool,
    },
}

impl Outcome {
    pub fn retryable(error: impl Into<String>) -> Self {
        Outcome::Failed {
            error: error.into(),
            retryable: true,
        }
    }

    pub fn permanent(error: impl Into<String>) -> Self {
        Outcome::Failed {
            error: error.into(),
            retryable: false,
        }
    }
}

/// A destination for accepted records.
pub trait Sink: Send + Sync {
    /// For logs and metrics: `kinesis`, `kafka`, `dynamodb`.
    fn name(&self) -> &'static str;
    /// The largest payload plus partition key one record may have.
    fn max_record_bytes(&self) -> usize;
    /// Writes the records; returns exactly one outcome per record, in order.
    fn put(&self, records: &[Prepared]) -> impl Future<Output = Vec<Outcome>> + Send;
}

impl<T: Sink> Sink for &T {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn max_record_bytes(&self) -> usize {
        (**self).max_record_bytes()
    }

    fn put(&self, records: &[Prepared]) -> impl Future<Output = Vec<Outcome>> + Send {
        (**self).put(records)
    }
}

impl<T: Sink> Sink for Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn max_record_bytes(&self) -> usize {
        (**self).max_record_bytes()
    }

    fn put(&self, records: &[Prepared]) -> impl Future<Output = Vec<Outcome>> + Send {
        (**self).put(records)
    }
}

/// The sink chosen by configuration for one route. A Kafka connection is shared by the routes
/// that both use Kafka.
pub enum AnySink {
    Kinesis(KinesisSink),
    Kafka(Arc<KafkaSink>),
    DynamoDb(DynamoDbSink),
}

impl Sink for AnySink {
    fn name(&self) -> &'static str {
        match self {
            AnySink::Kinesis(s) => s.name(),
            AnySink::Kafka(s) => s.name(),
            AnySink::DynamoDb(s) => s.name(),
        }
    }

    fn max_record_bytes(&self) -> usize {
        match self {
            AnySink::Kinesis(s) => s.max_record_bytes(),
            AnySink::Kafka(s) => s.max_record_bytes(),
            AnySink::DynamoDb(s) => s.max_record_bytes(),
        }
    }

    async fn put(&self, records: &[Prepared]) -> Vec<Outcome> {
        match self {
            AnySink::Kinesis(s) => s.put(records).await,
            AnySink::Kafka(s) => s.put(records).await,
            AnySink::DynamoDb(s) => s.put(records).await,
        }
    }
}

/// The sinks of `POST /v1/events` and `POST /v1/orders` as configured, built once at cold
/// start. Routes that both use Kafka share one connection (and one set of credentials, read
/// from Secrets Manager when SASL is on).
pub async fn for_routes(
    config: &crate::config::IngestConfig,
    sdk: &aws_config::SdkConfig,
) -> Result<(AnySink, AnySink), kafka::KafkaSetupError> {
    let mut kafka = None;
    let events = route_sink(&config.events_sink, sdk, &mut kafka).await?;
    let orders = route_sink(&config.orders_sink, sdk, &mut kafka).await?;
    Ok((events, orders))
}

async fn route_sink(
    sink: &crate::config::SinkConfig,
    sdk: &aws_config::SdkConfig,
    kafka: &mut Option<Arc<KafkaSink>>,
) -> Result<AnySink, kafka::KafkaSetupError> {
    use crate::config::SinkConfig;
    Ok(match sink {
        SinkConfig::Kinesis { stream } => {
            AnySink::Kinesis(KinesisSink::new(aws_sdk_kinesis::Client::new(sdk), stream))
        }
        SinkConfig::DynamoDb { table } => {
            AnySink::DynamoDb(DynamoDbSink::new(aws_sdk_dynamodb::Client::new(sdk), table))
        }
        SinkConfig::Kafka(config) => {
            if let Some(shared) = kafka {
                return Ok(AnySink::Kafka(Arc::clone(shared)));
            }
            let secrets = config
                .sasl
                .as_ref()
                .map(|_| aws_sdk_secretsmanager::Client::new(sdk));
            let connected = Arc::new(KafkaSink::connect(config, secrets).await?);
            *kafka = Some(Arc::clone(&connected));
            AnySink::Kafka(connected)
        }
    })
}

/// A sink that accepts everything and keeps nothing: for benchmarks and dry runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardSink;

impl Sink for DiscardSink {
    fn name(&self) -> &'static str {
        "discard"
    }

    fn max_record_bytes(&self) -> usize {
        1_048_576
    }

    async fn put(&self, records: &[Prepared]) -> Vec<Outcome> {
        vec![Outcome::Delivered; records.len()]
    }
}

/// A record the sink does not hold after the retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Position in the slice given to [`deliver`].
    pub position: usize,
    /// The last error seen for it.
    pub error: String,
    /// Whether a later retry may succeed (throttling, timeouts, an unreachable endpoint) or
    /// not (a missing stream, access denied, a record the sink cannot take).
    pub retryable: bool,
}

/// The result of delivering a request's records; positions index the slice given to
/// [`deliver`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: Vec<usize>,
    pub duplicates: Vec<usize>,
    /// Records that are not in the sink.
    pub failed: Vec<Failure>,
    /// Calls made to the sink.
    pub attempts: u32,
    /// Record re-sends (a record sent three times counts two).
    pub retried: usize,
}

/// Told which records an attempt delivered, before the next attempt starts.
pub trait Progress: Sync {
    /// `positions` index the slice given to [`deliver_with_progress`].
    fn delivered(&self, positions: &[usize]) -> impl Future<Output = ()> + Send;
}

/// No one to tell.
pub struct NoProgress;

impl Progress for NoProgress {
    async fn delivered(&self, _positions: &[usize]) {}
}

/// Sends `records`, retrying retryable failures per `policy`.
pub async fn deliver<S: Sink>(sink: &S, records: &[Prepared], policy: RetryPolicy) -> Delivery {
    deliver_with_progress(sink, records, policy, &NoProgress).await
}

/// [`deliver`], telling `progress` after each attempt which records it delivered.
pub async fn deliver_with_progress<S: Sink, P: Progress>(
    sink: &S,
    records: &[Prepared],
    policy: RetryPolicy,
    progress: &P,
) -> Delivery {
    let mut delivery = Delivery::default();
    let mut pending: Vec<usize> = (0..records.len()).collect();
    while !pending.is_empty() {
        delivery.attempts += 1;
        let outcomes = if pending.len() == records.len() {
            sink.put(records).await
        } else {
            let batch: Vec<Prepared> = pending.iter().map(|&i| records[i].clone()).collect();
            sink.put(&batch).await
        };
        let mut retry = Vec::new();
        let mut last_errors = Vec::new();
        let mut landed = Vec::new();
        for (slot, &position) in pending.iter().enumerate() {
            let outcome = outcomes.get(slot).cloned().unwrap_or_else(|| {
                Outcome::retryable("the sink returned no outcome for this record")
            });
            match outcome {
                Outcome::Delivered => landed.push(position),
                Outcome::Duplicate => delivery.duplicates.push(position),
                Outcome::Failed {
                    error,
                    retryable: true,
                } => {
                    retry.push(position);
                    last_errors.push(error);
                }
                Outcome::Failed {
                    error,
                    retryable: false,
                } => delivery.failed.push(Failure {
                    position,
                    error,
                    retryable: false,
                }),
            }
        }
        if !landed.is_empty() {
            progress.delivered(&landed).await;
            delivery.delivered.extend(landed);
        }
        if retry.is_empty() {
            break;
        }
        if delivery.attempts >= policy.max_attempts {
            delivery
                .failed
                .extend(
                    retry
                        .into_iter()
                        .zip(last_errors)
                        .map(|(position, error)| Failure {
                            position,
                            error,
                            retryable: true,
                        }),
                );
            break;
        }
        tracing::warn!(
            sink = sink.name(),
            attempt = delivery.attempts,
            failed = retry.len(),
            first_error = last_errors.first().map(String::as_str).unwrap_or_default(),
            "sink refused records; retrying them"
        );
        tokio::time::sleep(jittered(policy.ceiling(delivery.attempts))).await;
        delivery.retried += retry.len();
        pending = retry;
    }
    delivery.delivered.sort_unstable();
    delivery.duplicates.sort_unstable();
    delivery.failed.sort_unstable_by_key(|f| f.position);
    delivery
}

/// Equal jitter: half the ceiling plus a random share of the other half, so retries of
/// concurrent invocations spread out.
fn jittered(ceiling: Duration) -> Duration {
    let half = ceiling / 2;
    let random = (uuid::Uuid::new_v4().as_u128() % 1_000) as u32;
    half + half.mul_f64(f64::from(random) / 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::Mutex;

    /// Fails the records whose event id is listed, for the first `times` calls.
    struct Flaky {
        fail: Vec<&'static str>,
        permanent: Vec<&'static str>,
        times: u32,
        calls: Mutex<Vec<usize>>,
    }

    impl Sink for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn max_record_bytes(&self) -> usize {
            1024
        }
        async fn put(&self, records: &[Prepared]) -> Vec<Outcome> {
            let call = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(records.len());
                calls.len() as u32
            };
            records
                .iter()
                .map(|r| {
                    if self.permanent.contains(&r.event_id.as_str()) {
                        Outcome::permanent("no")
                    } else if call <= self.times && self.fail.contains(&r.event_id.as_str()) {
                        Outcome::retryable("throttled")
                    } else {
                        Outcome::Delivered
                    }
                })
                .collect()
        }
    }

    fn records(n: usize) -> Vec<Prepared> {
        (0..n)
            .map(|i| Prepared {
                index: i,
                event_id: format!("e{i}"),
                partition_key: "k".into(),
                payload: Bytes::from_static(b"{}"),
            })
            .collect()
    }

    fn fast(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn only_failed_records_are_retried() {
        let sink = Flaky {
            fail: vec!["e1", "e3"],
            permanent: vec![],
            times: 2,
            calls: Mutex::new(vec![]),
        };
        let delivery = deliver(&sink, &records(5), fast(4)).await;
        assert_eq!(delivery.delivered, vec![0, 1, 2, 3, 4]);
        assert!(delivery.failed.is_empty());
        assert_eq!(delivery.attempts, 3);
        assert_eq!(delivery.retried, 4);
        assert_eq!(*sink.calls.lock().unwrap(), vec![5, 2, 2]);
    }

    #[tokio::test]
    async fn what_still_fails_is_reported_not_dropped() {
        let sink = Flaky {
            fail: vec!["e0"],
            permanent: vec!["e2"],
            times: 99,
            calls: Mutex::new(vec![]),
        };
        let delivery = deliver(&sink, &records(3), fast(3)).await;
        assert_eq!(delivery.delivered, vec![1]);
        assert_eq!(
            delivery.failed,
            vec![
                Failure {
                    position: 0,
                    error: "throttled".to_owned(),
                    retryable: true
                },
                Failure {
                    position: 2,
                    error: "no".to_owned(),
                    retryable: false
                }
            ]
        );
        assert_eq!(delivery.attempts, 3);
    }

    /// Remembers what it is told.
    #[derive(Default)]
    struct Log(Mutex<Vec<Vec<usize>>>);

    impl Progress for Log {
        async fn delivered(&self, positions: &[usize]) {
            self.0.lock().unwrap().push(positions.to_vec());
        }
    }

    #[tokio::test]
    async fn progress_hears_each_attempt_before_the_next() {
        let sink = Flaky {
            fail: vec!["e1", "e3"],
            permanent: vec!["e4"],
            times: 1,
            calls: Mutex::new(vec![]),
        };
        let log = Log::default();
        let delivery = deliver_with_progress(&sink, &records(5), fast(4), &log).await;
        assert_eq!(delivery.delivered, vec![0, 1, 2, 3]);
        assert_eq!(*log.0.lock().unwrap(), vec![vec![0, 2], vec![1, 3]]);
    }

    #[test]
    fn jitter_stays_within_the_ceiling() {
        for _ in 0..100 {
            let wait = jittered(Duration::from_millis(100));
            assert!(wait >= Duration::from_millis(50) && wait <= Duration::from_millis(100));
        }
    }
}
