//! `--to kafka://BOOTSTRAP/TOPIC`: produce through ingest-api's own Kafka sink (rskafka,
//! acks=all, the Java client's partitioner) and its retries. Plaintext connections, no SASL.

use super::stream_records::{deliver_lines, PayloadEncoding};
use super::{BatchSender, LineBatch, Tally};
use anyhow::{Context, Result};
use ingest_api::config::{KafkaCompression, KafkaConfig, RetryPolicy};
use ingest_api::sink::KafkaSink;
use std::time::Duration;

/// How long one produce may retry inside rskafka before its records count as failed.
const PRODUCE_DEADLINE: Duration = Duration::from_secs(10);

pub struct KafkaSender {
    sink: KafkaSink,
    encoding: PayloadEncoding,
    retry: RetryPolicy,
}

impl KafkaSender {
    /// Connects to the bootstrap brokers.
    pub async fn connect(
        bootstrap: &[String],
        topic: &str,
        encoding: PayloadEncoding,
    ) -> Result<Self> {
        let config = KafkaConfig {
            bootstrap_servers: bootstrap.to_vec(),
            topic: topic.to_owned(),
            client_id: "shopstream-generate".to_owned(),
            tls: false,
            tls_ca_file: None,
            sasl: None,
            compression: KafkaCompression::None,
            request_deadline: PRODUCE_DEADLINE,
        };
        let sink = KafkaSink::connect(&config, None)
            .await
            .with_context(|| format!("connecting to Kafka at {}", bootstrap.join(",")))?;
        Ok(KafkaSender {
            sink,
            encoding,
            retry: RetryPolicy::default(),
        })
    }
}

impl BatchSender for KafkaSender {
    async fn send(&self, batch: LineBatch) -> Tally {
        deliver_lines(&self.sink, &batch, &self.encoding, self.retry).await
    }
}
