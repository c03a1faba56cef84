//! Responses: what the caller is told, in the proxy format the request came in.
//!
//! - 202 `{accepted, accepted_records:[{index, event_id}], rejected:[{index, line?, event_id, reasons}]}`
//!   when at least one record is in the sink;
//! - 422 the same with `error: "all_records_rejected"` when every record was refused;
//! - 503 `{error: "sink_unavailable", failed:[{index, event_id, error, retryable}], ...}` with
//!   `Retry-After` when valid records could not be written for a reason a retry may fix
//!   (throttling, timeouts; they are listed, the others are in);
//! - 500 `{error: "sink_rejected", reason, failed:[...], ...}` without `Retry-After` when the
//!   sink refused them for a reason no retry fixes (a missing stream, access denied);
//! - 4xx `{error, message, ...}` for request-level refusals ([`ApiError`]).

use crate::error::ApiError;
use crate::records::{Prepared, Refused};
use crate::request::PayloadVersion;
use crate::sink::Failure;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{json, Value};

/// A response before it is put in API Gateway's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl HttpResponse {
    pub fn json(status: u16, body: Value) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn from_error(error: &ApiError) -> Self {
        let response = HttpResponse::json(error.status(), error.body());
        match error {
            ApiError::MethodNotAllowed { allow, .. } => response.with_header("allow", *allow),
            ApiError::IdempotencyInProgress => response.with_header("retry-after", "1"),
            _ => response,
        }
    }

    pub fn health(events_sink: &str, orders_sink: &str) -> Self {
        HttpResponse::json(
            200,
            json!({"status": "ok", "sinks": {"events": events_sink, "orders": orders_sink}}),
        )
    }

    /// The response for a request whose records were all judged and, if any were accepted,
    /// all delivered.
    pub fn outcome(delivered: &[&Prepared], refused: &[Refused]) -> Self {
        let mut body = json!({
            "accepted": delivered.len(),
            "accepted_records": accepted_records(delivered),
            "rejected": rejected(refused),
        });
        if delivered.is_empty() {
            if let Some(map) = body.as_object_mut() {
                map.insert("error".into(), json!("all_records_rejected"));
                map.insert(
                    "message".into(),
                    json!("every record was refused; see rejected[].reasons"),
                );
            }
            return HttpResponse::json(422, body);
        }
        HttpResponse::json(202, body)
    }

    /// Valid records the sink did not take after every retry, with their indices: 503 and
    /// `Retry-After` when a retry may help any of them, else 500 with the sink's reason.
    pub fn sink_failure(
        delivered: &[&Prepared],
        failed: &[(&Prepared, &Failure)],
        refused: &[Refused],
    ) -> Self {
        let transient = failed.iter().any(|(_, failure)| failure.retryable);
        let listed: Vec<Value> = failed
            .iter()
            .map(|(record, failure)| {
                json!({
                    "index": record.index,
                    "event_id": record.event_id,
                    "error": failure.error,
                    "retryable": failure.retryable,
                })
            })
            .collect();
        let mut body = json!({
            "accepted": delivered.len(),
            "accepted_records": accepted_records(delivered),
            "failed": listed,
            "rejected": rejected(refused),
        });
        let Some(map) = body.as_object_mut() else {
            return HttpResponse::json(500, body);
        };
        if transient {
            map.insert("error".into(), json!("sink_unavailable"));
            map.insert("message".into(), json!(format!(
                "{} valid record(s) could not be written; resend the records listed in failed[] (the others are stored)",
                failed.len()
            )));
            return HttpResponse::json(503, body).with_header("retry-after", "1");
        }
        let reason = failed
            .first()
            .map(|(_, failure)| failure.error.clone())
            .unwrap_or_default();
        map.insert("error".into(), json!("sink_rejected"));
        map.insert("message".into(), json!(format!(
            "the sink refused {} valid record(s) for a reason no retry fixes; they are listed in failed[] (the others are stored)",
            failed.len()
        )));
        map.insert("reason".into(), json!(reason));
        HttpResponse::json(500, body)
    }

    /// The idempotency table could not be used: 503 with `Retry-After` when that may pass,
    /// else 500.
    pub fn idempotency_unavailable(error: &crate::idempotency::StoreError) -> Self {
        let body = json!({"error": "idempotency_unavailable", "message": error.to_string()});
        if error.retryable {
            HttpResponse::json(503, body).with_header("retry-after", "1")
        } else {
            HttpResponse::json(500, body)
        }
    }

    /// Puts the response in the proxy format of the request.
    pub fn into_api(self, version: PayloadVersion, request_id: Option<&str>) -> ApiResponse {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
        if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            headers.insert("x-request-id", id);
        }
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        let body = Some(Body::Text(self.body.to_string()));
        match version {
            PayloadVersion::V1 => {
                let mut response = ApiGatewayProxyResponse::default();
                response.status_code = i64::from(self.status);
                response.headers = headers;
                response.body = body;
                ApiResponse::V1(response)
            }
            PayloadVersion::V2 => {
                let mut response = ApiGatewayV2httpResponse::default();
                response.status_code = i64::from(self.status);
                response.headers = headers;
                response.body = body;
                ApiResponse::V2(response)
            }
        }
    }
}

fn accepted_records(delivered: &[&Prepared]) -> Vec<Value> {
    delivered
        .iter()
        .map(|r| json!({"index": r.index, "event_id": r.event_id}))
        .collect()
}

fn rejected(refused: &[Refused]) -> Vec<Value> {
    refused
        .iter()
        .map(|r| {
            let mut entry = json!({"index": r.index, "event_id": r.event_id, "reasons": r.reasons});
            if let (Some(line), Some(map)) = (r.line, entry.as_object_mut()) {
                map.insert("line".into(), json!(line));
            }
            entry
        })
        .collect()
}

/// What the function returns to API Gateway.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ApiResponse {
    V1(ApiGatewayProxyResponse),
    V2(ApiGatewayV2httpResponse),
}

impl ApiResponse {
    pub fn status(&self) -> u16 {
        let code = match self {
            ApiResponse::V1(r) => r.status_code,
            ApiResponse::V2(r) => r.status_code,
        };
        u16::try_from(code).unwrap_or(0)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let headers = match self {
            ApiResponse::V1(r) => &r.headers,
            ApiResponse::V2(r) => &r.headers,
        };
        headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn body_text(&self) -> &str {
        let body = match self {
            ApiResponse::V1(r) => r.body.as_ref(),
            ApiResponse::V2(r) => r.body.as_ref(),
        };
        match body {
            Some(Body::Text(text)) => text,
            _ => "",
        }
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn body_json(&self) -> Value {
        serde_json::from_str(self.body_text()).unwrap_or(Value::Null)
    }
}
