//! AWS SDK configuration that honours `AWS_ENDPOINT_URL`, so the same code talks to AWS in
//! production and to local emulators in tests and `shopstream run`.

use crate::config::Env;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

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
    async fn local_config_has_fake_credentials_and_region() {
        let config = local_sdk_config("http://127.0.0.1:5000").await;
        assert_eq!(config.region().map(|r| r.as_ref()), Some(LOCAL_REGION));
        assert!(config.credentials_provider().is_some());
    }
}
