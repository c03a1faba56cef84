//! Request-level refusals: everything that stops a request before any record is judged. Each
//! maps to one 4xx status and a stable machine-readable code.

use serde_json::{json, Value};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    #[error("no route for {method} {path}")]
    NotFound { method: String, path: String },
    #[error("{method} is not allowed on {path}; allowed: {allow}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: &'static str,
    },
    #[error("the request body is empty")]
    EmptyBody,
    #[error("the body holds no records")]
    NoRecords,
    #[error("the body is {bytes} bytes; the limit is {limit}")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the body holds {count} records; the limit is {limit}")]
    TooManyRecords { count: usize, limit: usize },
    #[error(
        "unsupported content type {found:?}; send application/json or application/x-ndjson (UTF-8)"
    )]
    UnsupportedMediaType { found: Option<String> },
    #[error("the body is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("the body is marked base64 but does not decode: {0}")]
    BadBase64(String),
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    MalformedJson {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("the Idempotency-Key header must be 1 to 255 visible ASCII characters")]
    BadIdempotencyKey,
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still in progress; retry later")]
    IdempotencyInProgress,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::TooLarge { .. } | ApiError::TooManyRecords { .. } => 413,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::IdempotencyInProgress => 409,
            ApiError::IdempotencyKeyReused => 422,
            ApiError::EmptyBody
            | ApiError::NoRecords
            | ApiError::InvalidUtf8 { .. }
            | ApiError::BadBase64(_)
            | ApiError::MalformedJson { .. }
            | ApiError::BadIdempotencyKey => 400,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::EmptyBody => "empty_body",
            ApiError::NoRecords => "no_records",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::TooManyRecords { .. } => "too_many_records",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::InvalidUtf8 { .. } => "invalid_utf8",
            ApiError::BadBase64(_) => "invalid_base64",
            ApiError::MalformedJson { .. } => "malformed_json",
            ApiError::BadIdempotencyKey => "invalid_idempotency_key",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyInProgress => "idempotency_key_in_progress",
        }
    }

    /// The JSON error document: `{"error": code, "message": ..., <details>}`.
    pub fn body(&self) -> Value {
        let mut body = json!({"error": self.code(), "message": self.to_string()});
        let details = match self {
            ApiError::MalformedJson { line, column, .. } => json!({"line": line, "column": column}),
            ApiError::InvalidUtf8 { offset } => json!({"offset": offset}),
            ApiError::TooLarge { bytes, limit } => json!({"bytes": bytes, "limit": limit}),
            ApiError::TooManyRecords { count, limit } => json!({"count": count, "limit": limit}),
            ApiError::MethodNotAllowed { allow, .. } => json!({"allow": allow}),
            _ => Value::Null,
        };
        if let (Some(body), Value::Object(details)) = (body.as_object_mut(), details) {
            body.extend(details);
        }
        body
    }
}
