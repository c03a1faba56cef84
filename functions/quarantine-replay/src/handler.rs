//! The invocation: a manual (or API) request in one of two modes.
//!
//! ```json
//! {"mode": "replay-quarantine", "prefix": "quarantine/transaction/dt=2024-11-05/",
//!  "correction": {"mergePatch": {...}} | {"fixes": [...]}, "dryRun": true}
//! {"mode": "replay-dlq", "queueUrl": "...", "maxMessages": 100, "dryRun": false}
//! ```
//! `mode` defaults to `replay-quarantine`.

use crate::config::Config;
use crate::dlq::{self, DlqContext, DlqError, DlqRequest};
use crate::replay::{self, QuarantineRequest, ReplayContext, RequestError};
use crate::report::Report;
use crate::sink::{KafkaSink, KinesisSink, ReplaySinks};
use crate::store::Store;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shopstream::kafka::{KafkaClient, KafkaSetupError};
use thiserror::Error;

const DEFAULT_MAX_MESSAGES: usize = 100;

pub struct Deps {
    pub config: Config,
    pub store: Store,
    pub sinks: ReplaySinks,
    pub kinesis: aws_sdk_kinesis::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Deps {
    pub fn new(
        config: Config,
        s3: aws_sdk_s3::Client,
        kinesis: aws_sdk_kinesis::Client,
        sqs: aws_sdk_sqs::Client,
        sinks: ReplaySinks,
    ) -> Self {
        Deps {
            store: Store {
                s3,
                bucket: config.lake_bucket.clone(),
            },
            sinks,
            kinesis,
            sqs,
            config,
        }
    }
}

/// The configured streams: Kinesis through `kinesis`, and, when a Kafka target is configured,
/// a Kafka client connected now (at cold start), its SASL credentials read from Secrets
/// Manager through `secrets`.
pub async fn replay_sinks(
    config: &Config,
    kinesis: &aws_sdk_kinesis::Client,
    secrets: Option<aws_sdk_secretsmanager::Client>,
) -> Result<ReplaySinks, KafkaSetupError> {
    let kafka = match &config.kafka {
        Some(kafka) => Some(KafkaSink {
            client: KafkaClient::connect(kafka, secrets).await?,
            retry: config.retry,
        }),
        None => None,
    };
    Ok(ReplaySinks {
        kinesis: KinesisSink {
            client: kinesis.clone(),
            stream: config.stream_name.clone(),
            retry: config.retry,
        },
        kafka,
    })
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Replay(#[from] RequestError),
    #[error(transparent)]
    Dlq(#[from] DlqError),
    #[error("replay-dlq needs a queue: set DLQ_QUEUE_URL or give queueUrl")]
    NoQueue,
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Report, HandlerError> {
    let now = chrono::Utc::now();
    let mode = event
        .payload
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or(replay::MODE);
    let report = match mode {
        replay::MODE => {
            let request: QuarantineRequest = serde_json::from_value(event.payload)
                .map_err(|e| HandlerError::BadRequest(e.to_string()))?;
            let ctx = ReplayContext {
                store: &deps.store,
                sinks: &deps.sinks,
                core: &deps.config.core,
                now,
            };
            replay::replay_quarantine(&ctx, request, deps.config.dry_run).await?
        }
        dlq::MODE => {
            let request: DlqRequest = serde_json::from_value(event.payload)
                .map_err(|e| HandlerError::BadRequest(e.to_string()))?;
            let queue = request
                .queue_url
                .or_else(|| deps.config.dlq_queue_url.clone())
                .ok_or(HandlerError::NoQueue)?;
            let ctx = DlqContext {
                sqs: &deps.sqs,
                kinesis: &deps.kinesis,
                sinks: &deps.sinks,
                store: &deps.store,
                now,
            };
            let max = request.max_messages.unwrap_or(DEFAULT_MAX_MESSAGES);
            dlq::replay_dlq(
                &ctx,
                &queue,
                max,
                request.dry_run.unwrap_or(deps.config.dry_run),
            )
            .await?
        }
        other => {
            return Err(HandlerError::BadRequest(format!(
                "unknown mode {other:?}: use {} or {}",
                replay::MODE,
                dlq::MODE
            )))
        }
    };
    tracing::info!(report = %serde_json::to_string(&report).unwrap_or_default(), "replay finished");
    report.emit_metrics();
    Ok(report)
}
