//! Putting records back on the stream stream-enrich reads. Kinesis: PutRecords in calls of at
//! most 500 entries and 5 MiB, retrying exactly the entries Kinesis reports as failed. Kafka:
//! produced keyed (the Java client's partitioner, so a user's records keep their partition),
//! retrying the records whose failure a retry can fix. Both with capped exponential backoff;
//! what still fails is reported per record, never dropped.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use shopstream::kafka::{KafkaClient, KafkaRecord};
use std::collections::BTreeMap;
use std::time::Duration;

const MAX_ENTRIES_PER_CALL: usize = 500;
const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// Sends `count` records through `attempt`, which sends the positions given and answers,
    /// per position, its result and whether a failure may be retried; the retryable failures
    /// are sent again, with backoff, until the attempts run out. One answer per record, in
    /// order.
    async fn send_all(
        &self,
        count: usize,
        mut attempt: impl AsyncFnMut(&[usize]) -> Vec<(usize, Sent, bool)>,
    ) -> Vec<Sent> {
        let mut results: Vec<Sent> = vec![Err("not sent".to_owned()); count];
        let mut pending: Vec<usize> = (0..count).collect();
        let mut attempts = 0;
        while !pending.is_empty() && attempts < self.max_attempts.max(1) {
            attempts += 1;
            if attempts > 1 {
                tokio::time::sleep(self.backoff(attempts - 1)).await;
            }
            let mut failed = Vec::new();
            for (position, result, retryable) in attempt(&pending).await {
                if result.is_err() && retryable {
                    failed.push(position);
                }
                if let Some(slot) = results.get_mut(position) {
                    *slot = result;
                }
            }
            pending = failed;
        }
        results
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub partition_key: String,
    pub data: Vec<u8>,
    /// Kafka headers to carry (a DLQ'd record's own); Kinesis records have none.
    pub headers: BTreeMap<String, Vec<u8>>,
}

/// Where a record landed (shard and sequence number, or partition and offset), or why it did
/// not.
pub type Sent = Result<(String, String), String>;

/// Which stream a record goes back to: the one it came from (records from the API went to
/// Kinesis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Kinesis,
    Kafka,
}

impl Destination {
    /// Where a quarantined record came from.
    pub fn of(position: &shopstream::quarantine::RecordPosition) -> Self {
        match position {
            shopstream::quarantine::RecordPosition::Kafka { .. } => Destination::Kafka,
            _ => Destination::Kinesis,
        }
    }
}

/// The streams records go back to: the Kinesis stream, and the Kafka topic when configured.
pub struct ReplaySinks {
    pub kinesis: KinesisSink,
    pub kafka: Option<KafkaSink>,
}

impl ReplaySinks {
    /// The stream's name or the topic (`None`: no Kafka target configured).
    pub fn name(&self, to: Destination) -> Option<&str> {
        match to {
            Destination::Kinesis => Some(&self.kinesis.stream),
            Destination::Kafka => self.kafka.as_ref().map(|k| k.client.topic()),
        }
    }

    /// Sends every record to `to`; the answer has one entry per record, in order.
    pub async fn send_to(&self, to: Destination, records: &[Outgoing]) -> Vec<Sent> {
        match (to, &self.kafka) {
            (Destination::Kinesis, _) => self.kinesis.send(records).await,
            (Destination::Kafka, Some(kafka)) => kafka.send(records).await,
            (Destination::Kafka, None) => vec![
                Err("a record from Kafka, but no Kafka target is configured (KAFKA_BOOTSTRAP_SERVERS)".to_owned());
                records.len()
            ],
        }
    }

    /// Sends each record to its destination; the answer has one entry per record, in order.
    pub async fn send(&self, records: &[(Destination, Outgoing)]) -> Vec<Sent> {
        let mut results: Vec<Sent> = vec![Err("not sent".to_owned()); records.len()];
        for to in [Destination::Kinesis, Destination::Kafka] {
            let (positions, batch): (Vec<usize>, Vec<Outgoing>) = records
                .iter()
                .enumerate()
                .filter(|(_, (d, _))| *d == to)
                .map(|(p, (_, outgoing))| (p, outgoing.clone()))
                .unzip();
            if batch.is_empty() {
                continue;
            }
            let sent = self.send_to(to, &batch).await;
            for (p, result) in positions.into_iter().zip(sent) {
                results[p] = result;
            }
        }
        results
    }
}

/// Records produced to the Kafka topic.
pub struct KafkaSink {
    pub client: KafkaClient,
    pub retry: RetryPolicy,
}

impl KafkaSink {
    /// Sends every record; the answer has one entry per record, in order
    /// (`Ok((partition, offset))`).
    pub async fn send(&self, records: &[Outgoing]) -> Vec<Sent> {
        self.retry
            .send_all(records.len(), async |pending: &[usize]| {
                let batch: Vec<KafkaRecord> = pending
                    .iter()
                    .map(|&p| KafkaRecord {
                        key: records[p].partition_key.as_bytes().to_vec(),
                        value: records[p].data.clone(),
                        headers: records[p].headers.clone(),
                    })
                    .collect();
                let produced = self.client.produce(&batch).await;
                pending
                    .iter()
                    .zip(produced)
                    .map(|(&p, outcome)| match outcome {
                        Ok(at) => (
                            p,
                            Ok((at.partition.to_string(), at.offset.to_string())),
                            false,
                        ),
                        Err(failure) => (p, Err(failure.error), failure.retryable),
                    })
                    .collect()
            })
            .await
    }
}

#[derive(Debug, Clone)]
pub struct KinesisSink {
    pub client: aws_sdk_kinesis::Client,
    pub stream: String,
    pub retry: RetryPolicy,
}

/// Splits positions into calls under both PutRecords limits.
fn calls(records: &[Outgoing], positions: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &position in positions {
        let size = records[position].data.len() + records[position].partition_key.len();
        let start_new = out.last().is_none_or(|call| {
            call.len() >= MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL
        });
        if start_new {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(call) = out.last_mut() {
            call.push(position);
        }
    }
    out
}

impl KinesisSink {
    /// Sends every record; the answer has one entry per record, in order. Entries Kinesis
    /// reports as failed (or leaves unanswered) are retried.
    pub async fn send(&self, records: &[Outgoing]) -> Vec<Sent> {
        self.retry
            .send_all(records.len(), async |pending: &[usize]| {
                let mut answers = Vec::with_capacity(pending.len());
                for call in calls(records, pending) {
                    answers.extend(self.put_call(records, &call).await);
                }
                answers
            })
            .await
    }

    /// One PutRecords call of the records at `call`: per position, its result and whether a
    /// failure may be retried (always: PutRecords failures are throttling or service errors).
    async fn put_call(&self, records: &[Outgoing], call: &[usize]) -> Vec<(usize, Sent, bool)> {
        let entries: Vec<PutRecordsRequestEntry> = call
            .iter()
            .filter_map(|&p| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(records[p].data.clone()))
                    .partition_key(&records[p].partition_key)
                    .build()
                    .ok()
            })
            .collect();
        let answer = self
            .client
            .put_records()
            .stream_name(&self.stream)
            .set_records(Some(entries))
            .send()
            .await;
        let output = match answer {
            Err(err) => {
                let message = aws_sdk_kinesis::error::DisplayErrorContext(err).to_string();
                return call
                    .iter()
                    .map(|&p| (p, Err(message.clone()), true))
                    .collect();
            }
            Ok(output) => output,
        };
        let mut answers: Vec<(usize, Sent, bool)> = call
            .iter()
            .zip(output.records())
            .map(|(&p, entry)| {
                match (
                    entry.shard_id(),
                    entry.sequence_number(),
                    entry.error_code(),
                ) {
                    (Some(shard), Some(sequence), None) => {
                        (p, Ok((shard.to_owned(), sequence.to_owned())), false)
                    }
                    (_, _, code) => (
                        p,
                        Err(format!(
                            "{}: {}",
                            code.unwrap_or("NoResult"),
                            entry.error_message().unwrap_or_default()
                        )),
                        true,
                    ),
                }
            })
            .collect();
        // An answer shorter than the call leaves the rest unconfirmed.
        answers.extend(
            call.iter()
                .skip(output.records().len())
                .map(|&p| (p, Err("no result from PutRecords".to_owned()), true)),
        );
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_respect_both_limits() {
        let small = Outgoing {
            partition_key: "k".into(),
            data: vec![0; 10],
            headers: BTreeMap::new(),
        };
        let records = vec![small; 1_200];
        let positions: Vec<usize> = (0..records.len()).collect();
        let sizes: Vec<usize> = calls(&records, &positions).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![500, 500, 200]);
        let big = Outgoing {
            partition_key: "k".into(),
            data: vec![0; 1024 * 1024],
            headers: BTreeMap::new(),
        };
        let records = vec![big; 12];
        let positions: Vec<usize> = (0..records.len()).collect();
        let sizes: Vec<usize> = calls(&records, &positions).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![4, 4, 4]);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        let waits: Vec<u128> = (1..=4).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 350, 350]);
    }
}
