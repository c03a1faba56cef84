//! Where accepted records go, and delivery with bounded retries.
//!
//! A sink reports one [`Outcome`] per record. [`deliver`] sends everything, then re-sends only
//! the records reported as retryable failures, with exponential backoff and jitter, until they
//! are all in or the attempts are spent. What is still failing is returned, never dropped.

pub mod dynamodb;
pub mod kafka;
pub mod kinesis;

use crate::config::RetryPolicy;
use crate::records::Prepared;
use std::future::Future;
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

/// The sink chosen by configuration.
pub enum AnySink {
    Kinesis(KinesisSink),
    Kafka(KafkaSink),
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

/// The result of delivering a request's records; positions index the slice given to
/// [`deliver`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub delivered: Vec<usize>,
    pub duplicates: Vec<usize>,
    /// Records that are not in the sink, with the last error seen for each.
    pub failed: Vec<(usize, String)>,
    /// Calls made to the sink.
    pub attempts: u32,
    /// Record re-sends (a record sent three times counts two).
    pub retried: usize,
}

/// Sends `records`, retrying retryable failures per `policy`.
pub async fn deliver<S: Sink>(sink: &S, records: &[Prepared], policy: RetryPolicy) -> Delivery {
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
        for (slot, &position) in pending.iter().enumerate() {
            let outcome = outcomes.get(slot).cloned().unwrap_or_else(|| {
                Outcome::retryable("the sink returned no outcome for this record")
            });
            match outcome {
                Outcome::Delivered => delivery.delivered.push(position),
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
                } => delivery.failed.push((position, error)),
            }
        }
        if retry.is_empty() {
            break;
        }
        if delivery.attempts >= policy.max_attempts {
            delivery.failed.extend(retry.into_iter().zip(last_errors));
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
    delivery
        .failed
        .sort_unstable_by_key(|(position, _)| *position);
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
            vec![(0, "throttled".to_owned()), (2, "no".to_owned())]
        );
        assert_eq!(delivery.attempts, 3);
    }

    #[test]
    fn jitter_stays_within_the_ceiling() {
        for _ in 0..100 {
            let wait = jittered(Duration::from_millis(100));
            assert!(wait >= Duration::from_millis(50) && wait <= Duration::from_millis(100));
        }
    }
}
