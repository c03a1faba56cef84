//! Writing lake objects to S3. The SDK already retries throttling and transient errors; what
//! still fails here is reported back as a transient failure of the records in the object.

use aws_sdk_s3::primitives::ByteStream;
use thiserror::Error;
use tokio::task::JoinSet;

#[derive(Debug, Error)]
pub enum WriteError {
    #[error("S3 {operation} s3://{bucket}/{key} failed: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        message: String,
    },
    #[error("S3 write task failed: {0}")]
    Task(String),
    /// Not attempted: the invocation was too close to its deadline.
    #[error("not started: too close to the invocation deadline")]
    NotStarted,
}

/// One object to put.
#[derive(Debug, Clone)]
pub struct PutRequest {
    pub key: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

#[derive(Debug, Clone)]
pub struct LakeWriter {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl LakeWriter {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        LakeWriter {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub async fn put(&self, request: PutRequest) -> Result<(), WriteError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&request.key)
            .content_type(request.content_type)
            .body(ByteStream::from(request.bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                self.error(
                    "PutObject",
                    &request.key,
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })
    }

    pub async fn delete(&self, key: &str) -> Result<(), WriteError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                self.error(
                    "DeleteObject",
                    key,
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })
    }

    /// Puts every object concurrently; the results are in request order.
    pub async fn put_all(&self, requests: Vec<PutRequest>) -> Vec<Result<(), WriteError>> {
        let count = requests.len();
        let mut tasks = JoinSet::new();
        for (position, request) in requests.into_iter().enumerate() {
            let writer = self.clone();
            tasks.spawn(async move { (position, writer.put(request).await) });
        }
        let mut results: Vec<Option<Result<(), WriteError>>> = (0..count).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((position, result)) => {
                    if let Some(slot) = results.get_mut(position) {
                        *slot = Some(result);
                    }
                }
                Err(e) => tracing::error!(error = %e, "S3 write task did not complete"),
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(WriteError::Task("write task did not complete".to_owned())))
            })
            .collect()
    }

    fn error(
        &self,
        operation: &'static str,
        key: &str,
        error: impl std::fmt::Display,
    ) -> WriteError {
        WriteError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message: error.to_string(),
        }
    }
}
