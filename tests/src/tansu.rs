//! tansu: a Kafka-protocol broker, run with in-memory storage.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rskafka::client::{Client, ClientBuilder};
use rskafka::BackoffConfig;

use crate::process::{self, Invocation, LaunchOptions, ServerProcess};

/// Environment variable naming the `tansu` binary; overrides the cache default.
pub const TANSU_BIN_ENV: &str = "SHOPSTREAM_TANSU_BIN";
/// Where `scripts/install-emulators.sh` puts `tansu`, relative to the emulator cache.
const DEFAULT_RELATIVE_PATH: &str = "tansu/bin/tansu";
/// How long tansu may take to start (it usually needs well under a second).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one client operation may retry before it gives up (rskafka retries forever by
/// default, which would turn a dead broker into a hung test).
const CLIENT_DEADLINE: Duration = Duration::from_secs(30);
/// Server-side timeout passed with CreateTopics.
const CREATE_TOPIC_TIMEOUT_MS: i32 = 10_000;
/// Environment variables tansu reads that must not leak in from the caller's environment.
const IGNORED_ENV: &[&str] = &[
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "DATA_LAKE",
];

/// A single-node tansu broker on a private 127.0.0.1 port with in-memory storage, running for
/// as long as this value lives.
///
/// Topics are not created automatically: call [`create_topic`](Self::create_topic) first.
/// Each instance is its own process with its own state, so tests can run in parallel.
/// Dropping it kills the broker. The broker is also killed if the thread that started it exits,
/// so keep it owned by the test that uses it rather than sharing it through a `static`.
#[derive(Debug)]
pub struct TansuBroker {
    process: ServerProcess,
    bootstrap: String,
}

impl TansuBroker {
    /// Starts `tansu broker` (from `$SHOPSTREAM_TANSU_BIN`, else the emulator cache) on a free
    /// port and waits until it answers a Kafka metadata request.
    ///
    /// Fails with a hint to run `scripts/install-emulators.sh` if the binary is missing, and
    /// with the tail of the broker log if it exits or is not ready within 30 seconds.
    pub async fn start() -> Result<Self> {
        let program = process::locate_binary(TANSU_BIN_ENV, DEFAULT_RELATIVE_PATH)?;
        let options = LaunchOptions {
            name: "tansu",
            program,
            startup_timeout: STARTUP_TIMEOUT,
            attempts: 3,
        };
        let (process, port) = process::launch(&options, invocation, probe).await?;
        Ok(Self {
            process,
            bootstrap: bootstrap(port),
        })
    }

    /// The bootstrap server address, `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// A connected rskafka client for this broker whose operations give up after 30 seconds of
    /// retrying instead of forever.
    pub async fn client(&self) -> Result<Client> {
        connect(&self.bootstrap, CLIENT_DEADLINE)
            .await
            .with_context(|| format!("connecting to tansu at {}", self.bootstrap))
    }

    /// Creates `name` with `partitions` partitions (replication factor 1) through the Kafka
    /// CreateTopics API.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        let client = self.client().await?;
        client
            .controller_client()
            .context("building a Kafka controller client")?
            .create_topic(name, partitions, 1, CREATE_TOPIC_TIMEOUT_MS)
            .await
            .with_context(|| format!("creating topic {name} with {partitions} partitions"))
    }

    /// The broker's process id (the leader of its own process group).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The file the broker's output goes to; removed when the broker is dropped.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }
}

fn bootstrap(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

async fn connect(
    bootstrap: &str,
    deadline: Duration,
) -> Result<Client, rskafka::client::error::Error> {
    let backoff = BackoffConfig {
        init_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(1),
        base: 2.0,
        deadline: Some(deadline),
    };
    ClientBuilder::new(vec![bootstrap.to_owned()])
        .client_id("shopstream-emulators")
        .backoff_config(backoff)
        .build()
        .await
}

fn invocation(port: u16, _dir: &Path) -> Invocation {
    let url = format!("tcp://127.0.0.1:{port}");
    Invocation {
        args: [
            "broker",
            "--cluster-id",
            "shopstream-test",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://tansu/",
        ]
        .iter()
        .map(Into::into)
        .collect(),
        envs: Vec::new(),
        env_remove: IGNORED_ENV.to_vec(),
        run_as: None,
    }
}

/// Ready once our child logged that it is listening (so it, not a stranger, owns the port)
/// and a metadata request through rskafka succeeds.
async fn probe(port: u16, log: String) -> bool {
    if !log.contains("ready in") {
        return false;
    }
    connect(&bootstrap(port), Duration::from_millis(500))
        .await
        .is_ok()
}
