//! The two API Gateway proxy payload formats — REST API (v1) and HTTP API (v2) — reduced to the
//! few things the API needs: method, path, headers, body, request id and the caller.

use crate::error::ApiError;
use crate::principal::Principal;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::http::HeaderMap;
use base64::Engine;
use serde::{Deserialize, Deserializer};

/// Which proxy payload format the event came in (the response goes back in the same one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    V1,
    V2,
}

/// An API Gateway proxy event of either format.
#[derive(Debug, Clone)]
pub enum ApiEvent {
    V1(Box<ApiGatewayProxyRequest>),
    V2(Box<ApiGatewayV2httpRequest>),
}

impl<'de> Deserialize<'de> for ApiEvent {
    /// HTTP API events say `"version": "2.0"`; REST API events carry `httpMethod` (and
    /// `"version": "1.0"` when an HTTP API is set to the v1 format).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let is_v2 = value.get("version").and_then(|v| v.as_str()) == Some("2.0");
        if is_v2 {
            serde_json::from_value(value)
                .map(|e| ApiEvent::V2(Box::new(e)))
                .map_err(serde::de::Error::custom)
        } else {
            serde_json::from_value(value)
                .map(|e| ApiEvent::V1(Box::new(e)))
                .map_err(serde::de::Error::custom)
        }
    }
}

/// What the handler reads of a request.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub version: PayloadVersion,
    pub method: String,
    /// The path with the stage prefix removed and no trailing slash.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Option<String>,
    pub is_base64_encoded: bool,
    pub request_id: Option<String>,
    /// Who sent it, as the API Gateway authoriser established it.
    pub principal: Principal,
}

impl HttpRequest {
    pub fn from_event(event: ApiEvent) -> Self {
        match event {
            ApiEvent::V1(e) => {
                let e = *e;
                let stage = e.request_context.stage.clone();
                let principal = Principal::from_v1(
                    &e.request_context.authorizer,
                    e.request_context.identity.user_arn.as_deref(),
                );
                let mut headers = e.headers;
                // REST APIs send every header in multiValueHeaders too; single-value wins.
                for (name, value) in e.multi_value_headers.iter() {
                    if !headers.contains_key(name) {
                        headers.insert(name.clone(), value.clone());
                    }
                }
                HttpRequest {
                    version: PayloadVersion::V1,
                    method: e.http_method.as_str().to_ascii_uppercase(),
                    path: normalise_path(e.path.as_deref().unwrap_or("/"), stage.as_deref()),
                    headers,
                    body: e.body,
                    is_base64_encoded: e.is_base64_encoded,
                    request_id: e.request_context.request_id,
                    principal,
                }
            }
            ApiEvent::V2(e) => {
                let e = *e;
                let context = e.request_context;
                let principal = Principal::from_v2(context.authorizer.as_ref());
                let raw_path = e
                    .raw_path
                    .or(context.http.path)
                    .unwrap_or_else(|| "/".to_owned());
                HttpRequest {
                    version: PayloadVersion::V2,
                    method: context.http.method.as_str().to_ascii_uppercase(),
                    path: normalise_path(&raw_path, context.stage.as_deref()),
                    headers: e.headers,
                    body: e.body,
                    is_base64_encoded: e.is_base64_encoded,
                    request_id: context.request_id,
                    principal,
                }
            }
        }
    }

    /// A header as text (header names are case-insensitive); `None` when absent or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as bytes, base64-decoded when API Gateway encoded it, refusing anything over
    /// `max_bytes` before decoding it.
    pub fn body_bytes(&self, max_bytes: usize) -> Result<Vec<u8>, ApiError> {
        let Some(body) = self.body.as_deref() else {
            return Ok(Vec::new());
        };
        if self.is_base64_encoded {
            // Four base64 characters carry three bytes: refuse early what cannot fit.
            let estimate = body.len() / 4 * 3;
            if estimate > max_bytes.saturating_add(3) {
                return Err(ApiError::TooLarge {
                    bytes: estimate,
                    limit: max_bytes,
                });
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .map_err(|e| ApiError::BadBase64(e.to_string()))?;
            if bytes.len() > max_bytes {
                return Err(ApiError::TooLarge {
                    bytes: bytes.len(),
                    limit: max_bytes,
                });
            }
            Ok(bytes)
        } else {
            if body.len() > max_bytes {
                return Err(ApiError::TooLarge {
                    bytes: body.len(),
                    limit: max_bytes,
                });
            }
            Ok(body.as_bytes().to_vec())
        }
    }
}

/// Strips the stage (`/prod/v1/events` → `/v1/events` when the stage is `prod`) and trailing
/// slashes; `$default` stages have no prefix.
fn normalise_path(path: &str, stage: Option<&str>) -> String {
    let mut path = path;
    if let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") {
        if let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
            if rest.is_empty() || rest.starts_with('/') {
                path = rest;
            }
        }
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_prefix_and_trailing_slash_are_removed() {
        assert_eq!(
            normalise_path("/prod/v1/events/", Some("prod")),
            "/v1/events"
        );
        assert_eq!(normalise_path("/v1/events", Some("prod")), "/v1/events");
        assert_eq!(
            normalise_path("/production/v1", Some("prod")),
            "/production/v1"
        );
        assert_eq!(normalise_path("/v1/health", Some("$default")), "/v1/health");
        assert_eq!(normalise_path("", None), "/");
        assert_eq!(normalise_path("v1/events", None), "/v1/events");
    }
}
