//! One invocation: read every stream record, write one gzipped JSONL object per (dt, hour)
//! plus a quarantine object for unreadable records, answer with a partial batch response.
//!
//! Object names carry the batch's first sequence number. Lambda retries from the lowest
//! reported record, so reporting from a later record would give the retry a different
//! first sequence and new names next to the objects already written. When a write fails,
//! every record of the batch is therefore reported: the retry starts at the same record,
//! rewrites the same keys with (a superset of) the same lines, and nothing is duplicated.

use crate::bronze::{self, CONTENT_ENCODING, CONTENT_TYPE};
use crate::change::{read_record, BronzeLine, Operation, StreamRecord};
use crate::config::Config;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Timelike, Utc};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;
use shopstream::batch::dynamodb_response;
use shopstream::lake::{bronze_key, quarantine_key, SourceRange};
use shopstream::metrics::{MetricSet, Unit};
use shopstream::quarantine::{to_jsonl, QuarantineEntry};
use std::collections::BTreeMap;
use thiserror::Error;
use tokio::task::JoinSet;

pub const FUNCTION: &str = "orders-to-bronze";
const QUARANTINE_CONTENT_TYPE: &str = "application/x-ndjson";

#[derive(Debug)]
pub struct Deps {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error("not a DynamoDB Streams event: {0}")]
    Malformed(#[source] serde_json::Error),
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Records", default)]
    records: Vec<Value>,
}

/// An object to write.
#[derive(Debug, Clone)]
pub struct BronzeObject {
    pub key: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub content_encoding: Option<&'static str>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub inserts: usize,
    pub modifies: usize,
    pub tombstones: usize,
    pub quarantined: usize,
}

/// Plans the objects of a batch (pure: the same records always give the same objects).
pub fn plan(
    table: &str,
    records: &[StreamRecord],
) -> Result<(Vec<BronzeObject>, Counts), std::io::Error> {
    let mut counts = Counts::default();
    let first_sequence = records
        .iter()
        .map(|r| r.sequence_number.as_str())
        .find(|s| !s.is_empty())
        .unwrap_or("noseq")
        .to_owned();
    let stream = records
        .first()
        .map(|r| r.stream.clone())
        .unwrap_or_default();
    let range = SourceRange::DynamoDb {
        shard_id: stream,
        first_sequence,
    };
    let mut lines: BTreeMap<(chrono::NaiveDate, u32), Vec<&BronzeLine>> = BTreeMap::new();
    let mut refused: Vec<QuarantineEntry> = Vec::new();
    for record in records {
        match &record.outcome {
            Ok(line) => {
                match line.op {
                    Operation::Insert => counts.inserts += 1,
                    Operation::Modify => counts.modifies += 1,
                    Operation::Remove => counts.tombstones += 1,
                }
                let at = line.approximate_creation_time;
                lines
                    .entry((at.date_naive(), at.hour()))
                    .or_default()
                    .push(line);
            }
            Err(entry) => refused.push(entry.clone()),
        }
    }
    counts.quarantined = refused.len();
    let mut objects = Vec::with_capacity(lines.len() + 1);
    for ((dt, hour), group) in lines {
        objects.push(BronzeObject {
            key: bronze_key(table, dt, hour, &range),
            bytes: bronze::encode(&group)?,
            content_type: CONTENT_TYPE,
            content_encoding: Some(CONTENT_ENCODING),
        });
    }
    if let Some(first) = refused.first() {
        let at: DateTime<Utc> = records
            .iter()
            .find_map(|r| r.created_at)
            .unwrap_or(first.received_at);
        objects.push(BronzeObject {
            key: quarantine_key(None, at.date_naive(), at.hour(), &range),
            bytes: to_jsonl(&refused),
            content_type: QUARANTINE_CONTENT_TYPE,
            content_encoding: None,
        });
    }
    Ok((objects, counts))
}

pub async fn handler(
    deps: &Deps,
    event: LambdaEvent<Value>,
) -> Result<DynamoDbEventResponse, HandlerError> {
    let started = Utc::now();
    let envelope: Envelope =
        serde_json::from_value(event.payload).map_err(HandlerError::Malformed)?;
    let records: Vec<StreamRecord> = envelope
        .records
        .iter()
        .map(|r| read_record(r, started))
        .collect();
    let mut failed = false;
    let mut bytes_written = 0;
    let mut objects_written = 0;
    let counts = match plan(&deps.config.bronze_table, &records) {
        Ok((objects, counts)) => {
            let sizes: Vec<usize> = objects.iter().map(|o| o.bytes.len()).collect();
            for (result, size) in put_all(&deps.s3, &deps.config.lake_bucket, objects)
                .await
                .into_iter()
                .zip(sizes)
            {
                match result {
                    Ok(()) => {
                        bytes_written += size;
                        objects_written += 1;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "bronze object not written; the batch will be retried");
                        failed = true;
                    }
                }
            }
            counts
        }
        Err(error) => {
            tracing::error!(%error, "encoding the batch failed");
            failed = true;
            Counts::default()
        }
    };
    let failures: Vec<String> = if failed {
        records
            .iter()
            .map(|r| r.sequence_number.clone())
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    let mut metrics = MetricSet::for_function(FUNCTION);
    metrics.property("requestId", event.context.request_id.clone());
    metrics.count("RecordsIn", records.len());
    metrics.count("Inserts", counts.inserts);
    metrics.count("Modifies", counts.modifies);
    metrics.count("Tombstones", counts.tombstones);
    metrics.count("RecordsQuarantined", counts.quarantined);
    metrics.count("RecordsFailed", failures.len());
    metrics.count("ObjectsWritten", objects_written);
    metrics.put("BytesWritten", bytes_written as f64, Unit::Bytes);
    if let Some(oldest) = records.iter().filter_map(|r| r.created_at).min() {
        metrics.put(
            "MaxChangeToWriteLatency",
            (Utc::now() - oldest).num_milliseconds() as f64,
            Unit::Milliseconds,
        );
    }
    metrics.put(
        "BatchLatency",
        (Utc::now() - started).num_milliseconds() as f64,
        Unit::Milliseconds,
    );
    metrics.emit();
    Ok(dynamodb_response(failures))
}

async fn put_all(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: Vec<BronzeObject>,
) -> Vec<Result<(), String>> {
    let mut tasks = JoinSet::new();
    let count = objects.len();
    for (position, object) in objects.into_iter().enumerate() {
        let s3 = s3.clone();
        let bucket = bucket.to_owned();
        tasks.spawn(async move {
            let result = s3
                .put_object()
                .bucket(&bucket)
                .key(&object.key)
                .content_type(object.content_type)
                .set_content_encoding(object.content_encoding.map(str::to_owned))
                .body(ByteStream::from(object.bytes))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    format!(
                        "PutObject s3://{bucket}/{}: {}",
                        object.key,
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    )
                });
            (position, result)
        });
    }
    let mut results: Vec<Result<(), String>> = (0..count)
        .map(|_| Err("write task did not complete".to_owned()))
        .collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((position, result)) = joined {
            if let Some(slot) = results.get_mut(position) {
                *slot = result;
            }
        }
    }
    results
}
