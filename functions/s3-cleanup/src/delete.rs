//! The deletion engine: ListObjectsV2 with pagination, DeleteObjects in chunks of 1,000 keys
//! (quiet mode: the answer lists only failures), and retries of exactly the keys the answer's
//! `Errors` names, with capped exponential backoff. What still fails is reported by key.

use crate::guard::PrefixGuard;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;
use thiserror::Error;

/// The DeleteObjects limit.
pub const MAX_KEYS_PER_CALL: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: i64,
    pub last_modified: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedKey {
    pub key: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionReport {
    pub requested: usize,
    pub deleted: usize,
    /// Keys outside every configured prefix: never sent to S3.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// Keys still not deleted after the last attempt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedKey>,
    /// Keys per DeleteObjects call, in order.
    pub calls: Vec<usize>,
}

impl DeletionReport {
    pub fn absorb(&mut self, other: DeletionReport) {
        self.requested += other.requested;
        self.deleted += other.deleted;
        self.refused.extend(other.refused);
        self.failed.extend(other.failed);
        self.calls.extend(other.calls);
    }
}

#[derive(Debug, Error)]
pub enum ListError {
    #[error("prefix {0:?} is outside the configured cleanup prefixes")]
    OutsideGuard(String),
    #[error("ListObjectsV2 s3://{bucket}/{prefix}: {message}")]
    S3 {
        bucket: String,
        prefix: String,
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct Deleter {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub guard: PrefixGuard,
    pub retry: RetryPolicy,
}

fn to_datetime(time: &aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

impl Deleter {
    /// Every object under `prefix` (inside the guard), all pages.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, ListError> {
        if !self.guard.covers(prefix) {
            return Err(ListError::OutsideGuard(prefix.to_owned()));
        }
        let mut objects = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ListError::S3 {
                bucket: self.bucket.clone(),
                prefix: prefix.to_owned(),
                message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            })?;
            objects.extend(page.contents().iter().filter_map(|o| {
                Some(ListedObject {
                    key: o.key()?.to_owned(),
                    size: o.size().unwrap_or(0),
                    last_modified: o.last_modified().and_then(to_datetime),
                })
            }));
        }
        Ok(objects)
    }

    /// Deletes `keys` (those the guard allows), in chunks of 1,000.
    pub async fn delete(&self, mut keys: Vec<String>) -> DeletionReport {
        keys.sort();
        keys.dedup();
        let mut report = DeletionReport {
            requested: keys.len(),
            ..DeletionReport::default()
        };
        let (allowed, refused): (Vec<String>, Vec<String>) =
            keys.into_iter().partition(|k| self.guard.allows(k));
        report.refused = refused;
        for chunk in allowed.chunks(MAX_KEYS_PER_CALL) {
            let (deleted, failed, calls) = self.delete_chunk(chunk.to_vec()).await;
            report.deleted += deleted;
            report.failed.extend(failed);
            report.calls.extend(calls);
        }
        report
    }

    async fn delete_chunk(&self, keys: Vec<String>) -> (usize, Vec<FailedKey>, Vec<usize>) {
        let mut pending = keys;
        let mut deleted = 0;
        let mut calls = Vec::new();
        let mut failed = Vec::new();
        for attempt in 1..=self.retry.max_attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
            }
            calls.push(pending.len());
            (deleted, failed) = {
                let (now_deleted, now_failed) = self.delete_call(&pending).await;
                (deleted + now_deleted, now_failed)
            };
            if failed.is_empty() {
                break;
            }
            pending = failed.iter().map(|f| f.key.clone()).collect();
        }
        (deleted, failed, calls)
    }

    /// One DeleteObjects call: how many were deleted, and which failed with what.
    async fn delete_call(&self, keys: &[String]) -> (usize, Vec<FailedKey>) {
        let objects: Vec<ObjectIdentifier> = keys
            .iter()
            .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
            .collect();
        let request = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build();
        let answer = match request {
            Ok(delete) => {
                self.s3
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(delete)
                    .send()
                    .await
            }
            Err(err) => {
                return (
                    0,
                    whole_call_failed(keys, "InvalidRequest", &err.to_string()),
                );
            }
        };
        match answer {
            Err(err) => {
                let message = aws_sdk_s3::error::DisplayErrorContext(err).to_string();
                (0, whole_call_failed(keys, "RequestFailed", &message))
            }
            Ok(output) => {
                let requested: std::collections::HashSet<&str> =
                    keys.iter().map(String::as_str).collect();
                let failed: Vec<FailedKey> = output
                    .errors()
                    .iter()
                    .filter_map(|e| {
                        let key = e.key()?;
                        // Only keys of this call can be retried; anything else is noise.
                        requested.contains(key).then(|| FailedKey {
                            key: key.to_owned(),
                            code: e.code().unwrap_or("Unknown").to_owned(),
                            message: e.message().unwrap_or_default().to_owned(),
                        })
                    })
                    .collect();
                (keys.len() - failed.len(), failed)
            }
        }
    }
}

fn whole_call_failed(keys: &[String], code: &str, message: &str) -> Vec<FailedKey> {
    keys.iter()
        .map(|key| FailedKey {
            key: key.clone(),
            code: code.to_owned(),
            message: message.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(150),
        };
        let waits: Vec<u128> = (1..=3).map(|r| policy.backoff(r).as_millis()).collect();
        assert_eq!(waits, vec![50, 100, 150]);
    }
}
