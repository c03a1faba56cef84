//! The Kafka client: acks=all, TLS through rustls, SASL PLAIN / SCRAM-SHA-256 /
//! SCRAM-SHA-512, no idempotent producer (rskafka has none; a retried produce can duplicate,
//! which downstream `event_id` deduplication absorbs).
//!
//! Records are keyed and spread with the Java client's default partitioner (murmur2 of the
//! key, modulo the partition count), so a key lands on the same partition as it would from
//! any standard producer.
//!
//! SASL credentials come from Secrets Manager ([`SecretSource`]) at connect time. When the
//! brokers refuse them later (the secret was rotated), the secret is read again and, if it
//! changed, the client reconnects with the new value and the records are retried; if it did
//! not change, the failure is permanent (no retry fixes wrong credentials).

use super::config::{KafkaCompression, KafkaConfig, SaslCredentials, SaslMechanism};
use super::secrets::{SecretError, SecretSource};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, Credentials, SaslConfig};
use rskafka::record::Record;
use rskafka::BackoffConfig;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Mutex;

/// Brokers refuse record batches over `message.max.bytes` (1 MiB by default): batches stay
/// under this, and one record never exceeds it.
pub const MAX_BATCH_BYTES: usize = 900 * 1024;
/// Bytes asked for per fetch when a range is read back.
const FETCH_BYTES: i32 = 1024 * 1024;
/// How long the broker may wait for records on a fetch.
const FETCH_MAX_WAIT_MS: i32 = 500;

#[derive(Debug, Error)]
pub enum KafkaSetupError {
    #[error("cannot read the TLS CA bundle {path}: {source}")]
    CaFile {
        path: String,
        source: rustls::pki_types::pem::Error,
    },
    #[error("no trusted TLS root certificates were found")]
    NoRoots,
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot connect to the Kafka brokers: {0}")]
    Connect(#[from] rskafka::client::error::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("SASL is configured but no Secrets Manager client was given to read {0}")]
    NoSecretSource(String),
}

/// Partition count and partition clients of the topic, found on first use.
#[derive(Default)]
struct Partitions {
    count: Option<i32>,
    clients: HashMap<i32, Arc<PartitionClient>>,
}

/// A record to produce: its key (the partitioner's input), value and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub headers: BTreeMap<String, Vec<u8>>,
}

/// Where a produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    pub partition: i32,
    pub offset: i64,
}

/// Why a record was not produced, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceFailure {
    pub error: String,
    pub retryable: bool,
}

impl ProduceFailure {
    pub fn retryable(error: impl Into<String>) -> Self {
        ProduceFailure {
            error: error.into(),
            retryable: true,
        }
    }

    pub fn permanent(error: impl Into<String>) -> Self {
        ProduceFailure {
            error: error.into(),
            retryable: false,
        }
    }
}

/// An offset range of one partition as far as it could be read back.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedRange {
    /// (offset, record) in offset order.
    pub records: Vec<(i64, KafkaRecord)>,
    /// Why some or all of the range is missing (retention, compaction, a range beyond the
    /// log); `None` when it is complete.
    pub gap: Option<String>,
}

pub struct KafkaClient {
    config: KafkaConfig,
    secrets: Option<SecretSource>,
    /// Replaced when the credentials are re-read and changed.
    client: tokio::sync::RwLock<Arc<Client>>,
    credentials: std::sync::Mutex<Option<SaslCredentials>>,
    topic: String,
    compression: Compression,
    partitions: Mutex<Partitions>,
}

/// Whether a client error is the brokers refusing our credentials.
pub fn is_authentication_failure(error: &str) -> bool {
    let error = error.to_ascii_lowercase();
    error.contains("sasl") || error.contains("authentication")
}

fn tls_config(config: &KafkaConfig) -> Result<Arc<rustls::ClientConfig>, KafkaSetupError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match &config.tls_ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|source| KafkaSetupError::CaFile {
                    path: path.clone(),
                    source,
                })?;
            roots.add_parsable_certificates(certs);
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for error in &native.errors {
                tracing::warn!(%error, "skipping an unreadable system certificate");
            }
            roots.add_parsable_certificates(native.certs);
        }
    }
    if roots.is_empty() {
        return Err(KafkaSetupError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// What the client is built from besides the configuration: where the credentials come from,
/// and the credentials read from there.
#[derive(Debug)]
pub struct ClientSettings {
    pub source: Option<SecretSource>,
    pub credentials: Option<SaslCredentials>,
}

/// Reads the SASL credentials `config` asks for (none without SASL) through `secrets`.
pub async fn client_settings(
    config: &KafkaConfig,
    secrets: Option<aws_sdk_secretsmanager::Client>,
) -> Result<ClientSettings, KafkaSetupError> {
    let source = match (&config.sasl, secrets) {
        (Some(sasl), Some(client)) => Some(SecretSource::new(client, sasl.clone())),
        (Some(sasl), None) => return Err(KafkaSetupError::NoSecretSource(sasl.secret_arn.clone())),
        (None, _) => None,
    };
    let credentials = match &source {
        Some(source) => Some(source.read().await?),
        None => None,
    };
    Ok(ClientSettings {
        source,
        credentials,
    })
}

/// An rskafka client for `config`, with `credentials` when SASL is on.
async fn build_client(
    config: &KafkaConfig,
    credentials: Option<&SaslCredentials>,
) -> Result<Client, KafkaSetupError> {
    let backoff = BackoffConfig {
        init_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        base: 2.0,
        deadline: Some(config.request_deadline),
    };
    let mut builder = ClientBuilder::new(config.bootstrap_servers.clone())
        .client_id(config.client_id.as_str())
        .backoff_config(backoff);
    if config.tls {
        builder = builder.tls_config(tls_config(config)?);
    }
    if let Some(sasl) = credentials {
        let credentials = Credentials::new(sasl.username.clone(), sasl.password.clone());
        builder = builder.sasl_config(match sasl.mechanism {
            SaslMechanism::Plain => SaslConfig::Plain(credentials),
            SaslMechanism::ScramSha256 => SaslConfig::ScramSha256(credentials),
            SaslMechanism::ScramSha512 => SaslConfig::ScramSha512(credentials),
        });
    }
    Ok(builder.build().await?)
}

impl KafkaClient {
    /// Connects to the bootstrap brokers (at cold start), with the SASL credentials read from
    /// Secrets Manager through `secrets` when the configuration asks for SASL.
    pub async fn connect(
        config: &KafkaConfig,
        secrets: Option<aws_sdk_secretsmanager::Client>,
    ) -> Result<Self, KafkaSetupError> {
        let ClientSettings {
            source,
            credentials,
        } = client_settings(config, secrets).await?;
        let client = build_client(config, credentials.as_ref()).await?;
        Ok(KafkaClient {
            config: config.clone(),
            secrets: source,
            client: tokio::sync::RwLock::new(Arc::new(client)),
            credentials: std::sync::Mutex::new(credentials),
            topic: config.topic.clone(),
            compression: match config.compression {
                KafkaCompression::None => Compression::NoCompression,
                KafkaCompression::Snappy => Compression::Snappy,
            },
            partitions: Mutex::new(Partitions::default()),
        })
    }

    /// The SASL credentials the client is configured with (`None` without SASL).
    pub fn credentials(&self) -> Option<SaslCredentials> {
        self.credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the secret again; when it changed, reconnects with the new credentials. Returns
    /// whether the client now uses other credentials.
    pub async fn refresh_credentials(&self) -> Result<bool, KafkaSetupError> {
        let Some(source) = &self.secrets else {
            return Ok(false);
        };
        let fresh = source.read().await?;
        if self.credentials().as_ref() == Some(&fresh) {
            return Ok(false);
        }
        let client = build_client(&self.config, Some(&fresh)).await?;
        *self.client.write().await = Arc::new(client);
        *self.credentials.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
        *self.partitions.lock().await = Partitions::default();
        tracing::info!(
            secret = source.arn(),
            "Kafka credentials re-read and changed; reconnected"
        );
        Ok(true)
    }

    /// The topic records are produced to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// What to report for records whose send failed with `error`: after an authentication
    /// failure the secret is re-read, and the records are retried only if it changed.
    /// `sent_with` are the credentials in use when the send started: if they have been
    /// replaced since, the retry will use the new ones.
    async fn failure(&self, error: String, sent_with: &Option<SaslCredentials>) -> ProduceFailure {
        if self.secrets.is_none() || !is_authentication_failure(&error) {
            return ProduceFailure::retryable(error);
        }
        if self.credentials() != *sent_with {
            return ProduceFailure::retryable(format!("{error} (credentials since re-read)"));
        }
        match self.refresh_credentials().await {
            Ok(true) => ProduceFailure::retryable(format!(
                "{error} (the secret held new credentials; reconnected)"
            )),
            Ok(false) => ProduceFailure::permanent(format!(
                "the brokers refused the credentials of secret {}: {error}",
                self.secrets
                    .as_ref()
                    .map(SecretSource::arn)
                    .unwrap_or_default()
            )),
            Err(refresh) => ProduceFailure::retryable(format!(
                "{error}; re-reading the secret failed: {refresh}"
            )),
        }
    }

    async fn partition_count(
        &self,
        sent_with: &Option<SaslCredentials>,
    ) -> Result<i32, ProduceFailure> {
        let mut partitions = self.partitions.lock().await;
        if let Some(count) = partitions.count {
            return Ok(count);
        }
        let client = Arc::clone(&*self.client.read().await);
        let topics = match client.list_topics().await {
            Ok(topics) => topics,
            Err(e) => {
                drop(partitions);
                return Err(self
                    .failure(format!("Kafka metadata request failed: {e}"), sent_with)
                    .await);
            }
        };
        let count = topics
            .iter()
            .find(|t| t.name == self.topic)
            .map(|t| t.partitions.len())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ProduceFailure::permanent(format!("Kafka topic {} does not exist", self.topic))
            })?;
        let count =
            i32::try_from(count).map_err(|_| ProduceFailure::permanent("too many partitions"))?;
        partitions.count = Some(count);
        Ok(count)
    }

    async fn partition_client(&self, partition: i32) -> Result<Arc<PartitionClient>, String> {
        let mut partitions = self.partitions.lock().await;
        if let Some(client) = partitions.clients.get(&partition) {
            return Ok(Arc::clone(client));
        }
        let client = Arc::clone(&*self.client.read().await);
        let client = client
            .partition_client(self.topic.clone(), partition, UnknownTopicHandling::Error)
            .await
            .map_err(|e| format!("no leader for {}-{partition}: {e}", self.topic))?;
        let client = Arc::new(client);
        partitions.clients.insert(partition, Arc::clone(&client));
        Ok(client)
    }

    /// Forgets the metadata so the next attempt looks the topic and leaders up again.
    async fn forget(&self, partition: i32) {
        let mut partitions = self.partitions.lock().await;
        partitions.clients.remove(&partition);
        partitions.count = None;
    }
}

/// Kafka's murmur2 (as in the Java client's `Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's default partition for a keyed record.
pub fn partition_for(key: &[u8], partitions: i32) -> i32 {
    let positive = murmur2(key) & 0x7fff_ffff;
    positive % partitions.max(1)
}

fn to_rskafka(record: &KafkaRecord, now: chrono::DateTime<chrono::Utc>) -> Record {
    Record {
        key: Some(record.key.clone()),
        value: Some(record.value.clone()),
        headers: record.headers.clone(),
        timestamp: now,
    }
}

fn from_rskafka(record: Record) -> KafkaRecord {
    KafkaRecord {
        key: record.key.unwrap_or_default(),
        value: record.value.unwrap_or_default(),
        headers: record.headers,
    }
}

impl KafkaClient {
    /// Produces the records (acks=all), batched per partition under [`MAX_BATCH_BYTES`];
    /// the answer has one entry per record, in order: where it landed, or why not.
    pub async fn produce(&self, records: &[KafkaRecord]) -> Vec<Result<Produced, ProduceFailure>> {
        let sent_with = self.credentials();
        let count = match self.partition_count(&sent_with).await {
            Ok(count) => count,
            Err(failure) => return vec![Err(failure); records.len()],
        };
        // Positions grouped by partition, then cut into batches under the size limit.
        let mut by_partition: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (position, record) in records.iter().enumerate() {
            let partition = partition_for(&record.key, count);
            by_partition.entry(partition).or_default().push(position);
        }
        let now = chrono::Utc::now();
        let mut outcomes = vec![Err(ProduceFailure::retryable("not sent")); records.len()];
        let mut tasks = tokio::task::JoinSet::new();
        for (partition, positions) in by_partition {
            let client = match self.partition_client(partition).await {
                Ok(client) => client,
                Err(error) => {
                    self.forget(partition).await;
                    let failure = self.failure(error, &sent_with).await;
                    for position in positions {
                        outcomes[position] = Err(failure.clone());
                    }
                    continue;
                }
            };
            let mut batches: Vec<(Vec<usize>, Vec<Record>)> = vec![(Vec::new(), Vec::new())];
            let mut bytes = 0;
            for position in positions {
                let record = to_rskafka(&records[position], now);
                let size = record.approximate_size();
                if bytes + size > MAX_BATCH_BYTES
                    && batches.last().is_some_and(|(p, _)| !p.is_empty())
                {
                    batches.push((Vec::new(), Vec::new()));
                    bytes = 0;
                }
                bytes += size;
                if let Some((batch_positions, batch_records)) = batches.last_mut() {
                    batch_positions.push(position);
                    batch_records.push(record);
                }
            }
            let compression = self.compression;
            tasks.spawn(async move {
                let mut results = Vec::new();
                for (positions, batch) in batches {
                    let result = client
                        .produce(batch, compression)
                        .await
                        .map_err(|e| e.to_string());
                    results.push((positions, result));
                }
                (partition, results)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((partition, results)) = joined else {
                continue; // A panicked task leaves its records as "not sent": retried.
            };
            for (positions, result) in results {
                match result {
                    Ok(offsets) => {
                        for (position, offset) in positions.into_iter().zip(offsets) {
                            outcomes[position] = Ok(Produced { partition, offset });
                        }
                    }
                    Err(error) => {
                        tracing::error!(topic = %self.topic, partition, %error, "kafka produce failed");
                        self.forget(partition).await;
                        let failure = self
                            .failure(
                                format!("produce to partition {partition} failed: {error}"),
                                &sent_with,
                            )
                            .await;
                        for position in positions {
                            outcomes[position] = Err(failure.clone());
                        }
                    }
                }
            }
        }
        outcomes
    }

    /// Reads offsets `first..=last` of `topic`-`partition` back. Errors a later attempt could
    /// fix (the network, a leader election) are `Err`; offsets the log no longer holds (past
    /// retention) or never held (beyond its end) make the range's `gap`.
    pub async fn fetch_range(
        &self,
        topic: &str,
        partition: i32,
        first: i64,
        last: i64,
    ) -> Result<FetchedRange, String> {
        let client = Arc::clone(&*self.client.read().await);
        let partition_client = client
            .partition_client(topic.to_owned(), partition, UnknownTopicHandling::Error)
            .await
            .map_err(|e| format!("no leader for {topic}-{partition}: {e}"))?;
        let earliest = partition_client
            .get_offset(OffsetAt::Earliest)
            .await
            .map_err(|e| format!("earliest offset of {topic}-{partition}: {e}"))?;
        let mut records = Vec::new();
        let mut gaps = Vec::new();
        if first < earliest {
            gaps.push(format!(
                "offsets {first}..{} are no longer in {topic}-{partition} (its log starts at {earliest})",
                (earliest - 1).min(last)
            ));
        }
        let start = first.max(earliest);
        let mut next = start;
        // Read until past `last`, or until the log has nothing more: the broker answers an
        // offset beyond its end with OFFSET_OUT_OF_RANGE (or, some brokers, nothing).
        while next <= last {
            let batch = match partition_client
                .fetch_records(next, 1..FETCH_BYTES, FETCH_MAX_WAIT_MS)
                .await
            {
                Ok((batch, _high_watermark)) => batch,
                Err(rskafka::client::error::Error::ServerError {
                    protocol_error: rskafka::client::error::ProtocolError::OffsetOutOfRange,
                    ..
                }) => break,
                Err(e) => return Err(format!("fetch of {topic}-{partition} at {next}: {e}")),
            };
            let before = next;
            for item in batch {
                if item.offset < next || item.offset > last {
                    continue;
                }
                next = item.offset + 1;
                records.push((item.offset, from_rskafka(item.record)));
            }
            if next == before {
                break;
            }
        }
        if next <= last {
            gaps.push(format!(
                "offsets {next}..{last} were never in {topic}-{partition} (its log ends before {next})"
            ));
        }
        // Offsets a compacted or transactional log skipped are gaps too.
        let read = records.len() as i64;
        let expected = (last - start + 1).max(0);
        if gaps.is_empty() && read < expected {
            gaps.push(format!(
                "{} of offsets {first}..{last} of {topic}-{partition} were not in the log",
                expected - read
            ));
        }
        Ok(FetchedRange {
            records,
            gap: (!gaps.is_empty()).then(|| gaps.join("; ")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from Kafka's `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_the_java_client() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (input, expected) in cases {
            assert_eq!(
                murmur2(input),
                expected,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn authentication_failures_are_recognised() {
        assert!(is_authentication_failure(
            "Connection error: Sasl handshake failed: API error: SaslAuthenticationFailed"
        ));
        assert!(!is_authentication_failure(
            "Request error: broker closed the connection"
        ));
    }

    #[test]
    fn partitions_are_stable_and_in_range() {
        for key in ["u-1", "u-2", "", "a much longer user id"] {
            let p = partition_for(key.as_bytes(), 6);
            assert!((0..6).contains(&p));
            assert_eq!(p, partition_for(key.as_bytes(), 6));
        }
    }
}
