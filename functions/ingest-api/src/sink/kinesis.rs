//! Kinesis Data Streams: PutRecords in chunks within its limits (500 records, 5 MiB per call,
//! 1 MiB per record including the partition key).

use super::{Outcome, Sink};
use crate::records::Prepared;
use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

pub const MAX_RECORDS_PER_CALL: usize = 500;
pub const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Service error codes of a whole PutRecords call that are worth retrying.
const RETRYABLE_CODES: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "KMSThrottlingException",
    "LimitExceededException",
    "ThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
];

#[derive(Clone)]
pub struct KinesisSink {
    client: aws_sdk_kinesis::Client,
    /// A stream name, or an ARN (`arn:aws:kinesis:...`).
    stream: String,
}

impl KinesisSink {
    pub fn new(client: aws_sdk_kinesis::Client, stream: impl Into<String>) -> Self {
        KinesisSink {
            client,
            stream: stream.into(),
        }
    }

    async fn put_chunk(&self, chunk: &[Prepared]) -> Vec<Outcome> {
        let entries: Result<Vec<_>, _> = chunk
            .iter()
            .map(|r| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(r.payload.to_vec()))
                    .partition_key(&r.partition_key)
                    .build()
            })
            .collect();
        let entries = match entries {
            Ok(entries) => entries,
            Err(e) => {
                return vec![
                    Outcome::permanent(format!("cannot build the request: {e}"));
                    chunk.len()
                ]
            }
        };
        let mut request = self.client.put_records().set_records(Some(entries));
        request = if self.stream.starts_with("arn:") {
            request.stream_arn(&self.stream)
        } else {
            request.stream_name(&self.stream)
        };
        match request.send().await {
            Ok(output) => {
                let results = output.records();
                (0..chunk.len())
                    .map(|i| match results.get(i) {
                        Some(entry) => match entry.error_code() {
                            None => Outcome::Delivered,
                            Some(code) => Outcome::retryable(format!(
                                "{code}: {}",
                                entry.error_message().unwrap_or_default()
                            )),
                        },
                        None => {
                            Outcome::retryable("PutRecords returned fewer results than records")
                        }
                    })
                    .collect()
            }
            Err(err) => {
                let retryable = match &err {
                    SdkError::ServiceError(service) => service
                        .err()
                        .code()
                        .is_some_and(|code| RETRYABLE_CODES.contains(&code)),
                    // Timeouts, connection and response errors: the call may work next time.
                    _ => true,
                };
                let error = format!("PutRecords failed: {}", DisplayErrorContext(&err));
                tracing::error!(stream = %self.stream, retryable, %error, "kinesis put failed");
                vec![
                    Outcome::Failed {
                        error: summary(&err),
                        retryable
                    };
                    chunk.len()
                ]
            }
        }
    }
}

/// A short error text for the API response (the full one is logged).
fn summary<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("KinesisServiceError");
            match service.err().message() {
                Some(message) if !message.is_empty() => format!("{code}: {message}"),
                _ => code.to_owned(),
            }
        }
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "connection failure".to_owned(),
        _ => "unexpected response".to_owned(),
    }
}

/// Splits records into PutRecords calls within the count and size limits.
pub fn chunks(records: &[Prepared]) -> Vec<&[Prepared]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, record) in records.iter().enumerate() {
        let size = record.payload.len() + record.partition_key.len();
        if i > start && (i - start == MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
            chunks.push(&records[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < records.len() {
        chunks.push(&records[start..]);
    }
    chunks
}

impl Sink for KinesisSink {
    fn name(&self) -> &'static str {
        "kinesis"
    }

    fn max_record_bytes(&self) -> usize {
        MAX_RECORD_BYTES
    }

    async fn put(&self, records: &[Prepared]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(records.len());
        for chunk in chunks(records) {
            outcomes.extend(self.put_chunk(chunk).await);
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn record(size: usize) -> Prepared {
        Prepared {
            index: 0,
            event_id: "e".into(),
            partition_key: "k".into(),
            payload: Bytes::from(vec![b'x'; size - 1]),
        }
    }

    #[test]
    fn chunks_respect_count_and_size() {
        let many: Vec<_> = (0..1_201).map(|_| record(10)).collect();
        let sizes: Vec<_> = chunks(&many).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![500, 500, 201]);
        let big: Vec<_> = (0..6).map(|_| record(MAX_RECORD_BYTES)).collect();
        let sizes: Vec<_> = chunks(&big).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![5, 1]);
        assert!(chunks(&[]).is_empty());
    }
}
