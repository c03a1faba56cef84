//! moto server: a local emulator of S3, Kinesis, DynamoDB (+ Streams), EventBridge, SQS, ...

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use crate::http;
use crate::process::{self, Invocation, LaunchOptions, ServerProcess};

/// Environment variable naming the `moto_server` binary; overrides the cache default.
pub const MOTO_BIN_ENV: &str = "SHOPSTREAM_MOTO_BIN";
/// Where `scripts/install-emulators.sh` puts `moto_server`, relative to the emulator cache.
const DEFAULT_RELATIVE_PATH: &str = "venv/bin/moto_server";
/// The region every client built by [`MotoServer`] uses.
pub const MOTO_REGION: &str = "us-east-1";
/// How long moto may take to start (it usually needs well under a second).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A moto server on a private 127.0.0.1 port, running for as long as this value lives.
///
/// Each instance is its own process with its own state, so tests can run in parallel. Dropping
/// it kills the server. The server is also killed if the thread that started it exits, so keep
/// it owned by the test that uses it rather than sharing it through a `static`.
#[derive(Debug)]
pub struct MotoServer {
    process: ServerProcess,
    port: u16,
    endpoint_url: String,
}

impl MotoServer {
    /// Starts `moto_server` (from `$SHOPSTREAM_MOTO_BIN`, else the emulator cache) on a free
    /// port and waits until it serves requests.
    ///
    /// Fails with a hint to run `scripts/install-emulators.sh` if the binary is missing, and
    /// with the tail of the server log if it exits or is not ready within 30 seconds.
    pub async fn start() -> Result<Self> {
        let program = process::locate_binary(MOTO_BIN_ENV, DEFAULT_RELATIVE_PATH)?;
        let options = LaunchOptions {
            name: "moto",
            program,
            startup_timeout: STARTUP_TIMEOUT,
            attempts: 3,
        };
        let (process, port) = process::launch(&options, invocation, probe).await?;
        Ok(Self {
            process,
            port,
            endpoint_url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// The base URL of the server, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared AWS SDK configuration pointing at this server: region `us-east-1`, static fake
    /// credentials, `endpoint_url` set. Nothing is read from the environment or `~/.aws`.
    ///
    /// For S3 use [`s3_client`](Self::s3_client), or set `force_path_style(true)` yourself:
    /// virtual-hosted bucket addressing does not work against an IP endpoint.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(MOTO_REGION))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "shopstream-emulators",
            )))
            .endpoint_url(self.endpoint_url.clone())
            .build()
    }

    /// An S3 client for this server, with path-style addressing.
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk_config())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Deletes all state in the server (every service), via `POST /moto-api/reset`.
    pub async fn reset(&self) -> Result<()> {
        let response = http::request(self.port, "POST", "/moto-api/reset")
            .await
            .context("resetting moto")?;
        if response.status != 200 {
            anyhow::bail!(
                "moto reset answered HTTP {}: {}",
                response.status,
                response.body
            );
        }
        Ok(())
    }

    /// The server's process id (the leader of its own process group).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The file the server's output goes to; removed when the server is dropped.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }
}

fn invocation(port: u16, _dir: &Path) -> Invocation {
    Invocation {
        args: vec![
            "-H".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string().into(),
        ],
        envs: Vec::new(),
        env_remove: Vec::new(),
        run_as: None,
    }
}

/// Ready once our child logged that it runs on the port (so it, not a stranger, owns it) and
/// its control API answers.
async fn probe(port: u16, log: String) -> bool {
    let marker = format!("Running on http://127.0.0.1:{port}");
    if !log.contains(&marker) {
        return false;
    }
    matches!(http::request(port, "GET", "/moto-api/").await, Ok(response) if response.status == 200)
}
