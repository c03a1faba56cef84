//! `--to kinesis://STREAM`: PutRecords through ingest-api's own Kinesis sink and its retries.

use super::stream_records::{deliver_lines, PayloadEncoding};
use super::{BatchSender, LineBatch, Tally};
use anyhow::{bail, Result};
use aws_config::SdkConfig;
use ingest_api::config::RetryPolicy;
use ingest_api::sink::KinesisSink;
use shopstream::config::Env;

/// The AWS configuration of the environment (region, credentials, `AWS_ENDPOINT_URL`), with
/// `endpoint` in place of `AWS_ENDPOINT_URL` when given.
pub async fn load_aws_config(endpoint: Option<&str>) -> Result<SdkConfig> {
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    if let Some(endpoint) = endpoint {
        vars.push((
            shopstream::aws::ENDPOINT_VAR.to_owned(),
            endpoint.to_owned(),
        ));
    }
    let config = shopstream::aws::load_sdk_config(&Env::from_pairs(vars)).await;
    if config.region().is_none() {
        bail!("no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile)");
    }
    Ok(config)
}

pub struct KinesisSender {
    sink: KinesisSink,
    encoding: PayloadEncoding,
    retry: RetryPolicy,
}

impl KinesisSender {
    pub fn new(sdk: &SdkConfig, stream: &str, encoding: PayloadEncoding) -> Self {
        KinesisSender {
            sink: KinesisSink::new(aws_sdk_kinesis::Client::new(sdk), stream),
            encoding,
            retry: RetryPolicy::default(),
        }
    }
}

impl BatchSender for KinesisSender {
    async fn send(&self, batch: LineBatch) -> Tally {
        deliver_lines(&self.sink, &batch, &self.encoding, self.retry).await
    }
}
