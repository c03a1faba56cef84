//! AWS SDK configuration that honours `AWS_ENDPOINT_URL`, so the same code talks to AWS in
//! production and to local emulators in tests and `shopstream run`.

use crate::config::{ConfigError, Env};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use std::time::Duration;

pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";
const LOCAL_REGION: &str = "us-east-1";

/// The standard credential/region chain, pointed at `AWS_ENDPOINT_URL` when it is set.
pub async fn load_sdk_config(env: &Env) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = env.optional(ENDPOINT_VAR) {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Upper bounds on SDK calls, so a slow S3, DynamoDB or EventBridge call cannot run an
/// invocation into its timeout: `SDK_OPERATION_TIMEOUT_MS` (default 10000) bounds a call with
/// all its retries, `SDK_ATTEMPT_TIMEOUT_MS` (default 4000) one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkTimeouts {
    pub operation: Duration,
    pub attempt: Duration,
}

impl Default for SdkTimeouts {
    fn default() -> Self {
        SdkTimeouts {
            operation: Duration::from_millis(10_000),
            attempt: Duration::from_millis(4_000),
        }
    }
}

impl SdkTimeouts {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = SdkTimeouts::default();
        let millis = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            let value: u64 = env.parse_or(name, default.as_millis() as u64)?;
            if value == 0 {
                return Err(ConfigError::invalid(name, "0", "must be at least 1"));
            }
            Ok(Duration::from_millis(value))
        };
        let timeouts = SdkTimeouts {
            operation: millis("SDK_OPERATION_TIMEOUT_MS", defaults.operation)?,
            attempt: millis("SDK_ATTEMPT_TIMEOUT_MS", defaults.attempt)?,
        };
        if timeouts.attempt > timeouts.operation {
            return Err(ConfigError::invalid(
                "SDK_ATTEMPT_TIMEOUT_MS",
                &timeouts.attempt.as_millis().to_string(),
                "must not exceed SDK_OPERATION_TIMEOUT_MS",
            ));
        }
        Ok(timeouts)
    }

    fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_timeout(self.operation)
            .operation_attempt_timeout(self.attempt)
            .build()
    }
}

/// [`load_sdk_config`] with operation and attempt timeouts on every client built from it.
pub async fn load_sdk_config_with_timeouts(env: &Env, timeouts: SdkTimeouts) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts.timeout_config());
    if let Some(endpoint) = env.optional(ENDPOINT_VAR) {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Configuration for a local emulator: fixed region, fake static credentials, the endpoint.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(LOCAL_REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "shopstream-local",
        ))
        .load()
        .await
}

/// An S3 client; path-style addressing whenever a custom endpoint is set, since emulators
/// cannot serve virtual-hosted bucket names.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endpoint_from_env_reaches_the_sdk_config() {
        let env = Env::from_pairs([(ENDPOINT_VAR, "http://127.0.0.1:4566")]);
        let config = load_sdk_config(&env).await;
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
    }

    #[tokio::test]
    async fn timeouts_reach_the_sdk_config_and_are_validated() {
        let env = Env::from_pairs([
            ("SDK_OPERATION_TIMEOUT_MS", "3000"),
            ("SDK_ATTEMPT_TIMEOUT_MS", "1000"),
        ]);
        let timeouts = SdkTimeouts::from_env(&env).unwrap();
        let config = load_sdk_config_with_timeouts(&env, timeouts).await;
        let applied = config.timeout_config().unwrap();
        assert_eq!(applied.operation_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(
            applied.operation_attempt_timeout(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            SdkTimeouts::from_env(&Env::default()).unwrap(),
            SdkTimeouts::default()
        );
        for (name, value) in [
            ("SDK_OPERATION_TIMEOUT_MS", "0"),
            ("SDK_ATTEMPT_TIMEOUT_MS", "soon"),
            ("SDK_ATTEMPT_TIMEOUT_MS", "20000"),
        ] {
            let err = SdkTimeouts::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(err.variable(), name, "{err}");
        }
    }

    #[tokio::test]
    async fn local_config_has_fake_credentials_and_region() {
        let config = local_sdk_config("http://127.0.0.1:5000").await;
        assert_eq!(config.region().map(|r| r.as_ref()), Some(LOCAL_REGION));
        assert!(config.credentials_provider().is_some());
    }
}
