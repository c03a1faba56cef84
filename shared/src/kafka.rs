//! Kafka (MSK or self-managed) for the functions that write to or read back from a topic
//! (ingest-api's sink, quarantine-replay's re-drive): the `KAFKA_*` configuration, SASL
//! credentials from Secrets Manager, and a client over `rskafka` (pure Rust; TLS through
//! rustls; SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512) that produces keyed records with the
//! Java client's partitioner and reads an offset range back. Behind the `kafka` feature.

pub mod client;
pub mod config;
pub mod secrets;

pub use client::{
    is_authentication_failure, murmur2, partition_for, FetchedRange, KafkaClient, KafkaRecord,
    KafkaSetupError, ProduceFailure, Produced, MAX_BATCH_BYTES,
};
pub use config::{KafkaCompression, KafkaConfig, KafkaSasl, SaslCredentials, SaslMechanism};
pub use secrets::{SecretError, SecretSource};
