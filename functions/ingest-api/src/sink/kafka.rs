//! The Kafka sink: ingest-api's records through the shared Kafka client
//! ([`shopstream::kafka`]): keyed by the partition key with the Java client's partitioner,
//! acks=all, the `event_id` and content type as headers. See the README ("Kafka client") for
//! why this client and what it does not do (no idempotent producer).

use super::{Outcome, Sink};
use crate::config::KafkaConfig;
use crate::records::Prepared;
use shopstream::kafka::{KafkaClient, KafkaRecord, MAX_BATCH_BYTES};
use std::collections::BTreeMap;

pub use shopstream::kafka::client::{client_settings, ClientSettings};
pub use shopstream::kafka::{is_authentication_failure, murmur2, partition_for, KafkaSetupError};

pub struct KafkaSink {
    client: KafkaClient,
}

impl KafkaSink {
    /// Connects to the bootstrap brokers (at cold start), with the SASL credentials read from
    /// Secrets Manager through `secrets` when the configuration asks for SASL.
    pub async fn connect(
        config: &KafkaConfig,
        secrets: Option<aws_sdk_secretsmanager::Client>,
    ) -> Result<Self, KafkaSetupError> {
        Ok(KafkaSink {
            client: KafkaClient::connect(config, secrets).await?,
        })
    }
}

fn to_kafka(record: &Prepared) -> KafkaRecord {
    KafkaRecord {
        key: record.partition_key.as_bytes().to_vec(),
        value: record.payload.to_vec(),
        headers: BTreeMap::from([
            ("event_id".to_owned(), record.event_id.as_bytes().to_vec()),
            ("content-type".to_owned(), b"application/json".to_vec()),
        ]),
    }
}

impl Sink for KafkaSink {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn max_record_bytes(&self) -> usize {
        MAX_BATCH_BYTES
    }

    async fn put(&self, records: &[Prepared]) -> Vec<Outcome> {
        let outgoing: Vec<KafkaRecord> = records.iter().map(to_kafka).collect();
        self.client
            .produce(&outgoing)
            .await
            .into_iter()
            .map(|produced| match produced {
                Ok(_) => Outcome::Delivered,
                Err(failure) if failure.retryable => Outcome::retryable(failure.error),
                Err(failure) => Outcome::permanent(failure.error),
            })
            .collect()
    }
}
