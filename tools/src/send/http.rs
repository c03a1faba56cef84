//! `--to http(s)://...`: NDJSON `POST`s to the ingest API, answered the way ingest-api
//! answers (see `functions/ingest-api/src/response.rs`):
//!
//! - 2xx / 422 with `accepted` and `rejected[]`: the records are accounted for by the body;
//! - 503 with `failed[]` (ingest-api's sink failure): the others are in, the failed ones are
//!   resent; any other 503, a 429, another 5xx, a timeout or a connection error: the whole
//!   request is resent; both with exponential backoff and jitter (honouring `Retry-After`),
//!   and what still fails after [`MAX_ATTEMPTS`] counts as failed;
//! - any other status (4xx): every record of the request is rejected with that status.

use super::{BatchSender, LineBatch, Tally};
use crate::run::reasons_of;
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use hyper::{HeaderMap, Request, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 5;
const BASE_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait a `Retry-After` header may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// One request, connect to last byte of the response (API Gateway gives up after 29 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const NDJSON: &str = "application/x-ndjson";
/// How much of an unexpected response body is quoted in errors.
const MAX_QUOTED_CHARS: usize = 200;

/// Parses `--header 'Name: value'`.
pub fn parse_header(spec: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) = spec
        .split_once(':')
        .with_context(|| format!("header {spec:?} is not \"Name: value\""))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .with_context(|| format!("{:?} is not a valid header name", name.trim()))?;
    // The value is not quoted back: it may be a secret.
    let value = HeaderValue::from_str(value.trim())
        .with_context(|| format!("the value of header {name} is not a valid header value"))?;
    Ok((name, value))
}

pub struct HttpSender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    headers: HeaderMap,
}

impl HttpSender {
    /// A pooled HTTP/1.1 client for `url`, TLS through rustls (ring) with the system's roots,
    /// sending `headers` (e.g. an API key) with every request.
    pub fn new(url: &str, headers: Vec<(HeaderName, HeaderValue)>) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("{url:?} is not a valid URL"))?;
        let builder = HttpsConnectorBuilder::new();
        let builder = match uri.scheme_str() {
            Some("https") => builder
                .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
                .context("loading the system's trusted root certificates")?,
            Some("http") => builder.with_tls_config(plain_http_tls_config()?),
            _ => bail!("{url:?} is not an http:// or https:// URL"),
        };
        let connector = builder.https_or_http().enable_http1().build();
        let mut header_map = HeaderMap::new();
        header_map.insert(CONTENT_TYPE, HeaderValue::from_static(NDJSON));
        header_map.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("shopstream-generate/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in headers {
            header_map.insert(name, value);
        }
        Ok(HttpSender {
            client: Client::builder(TokioExecutor::new()).build(connector),
            uri,
            headers: header_map,
        })
    }

    async fn post(&self, body: Bytes) -> Result<Answer> {
        let mut request = Request::post(self.uri.clone()).body(Full::new(body))?;
        request.headers_mut().extend(self.headers.clone());
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|seconds| Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok(Answer {
                status,
                retry_after,
                body,
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(answer) => answer,
            Err(_) => bail!("no response within {} s", REQUEST_TIMEOUT.as_secs()),
        }
    }
}

/// rustls needs a configuration even when every URL is plain HTTP: one that trusts nothing.
fn plain_http_tls_config() -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

/// A response, read in full.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// `HTTP 403: message` with the body's `message` / `error`, or the start of the body.
    fn describe(&self) -> String {
        let json = self.json();
        let text = json["message"]
            .as_str()
            .or_else(|| json["error"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(MAX_QUOTED_CHARS)
                    .collect()
            });
        format!("HTTP {}: {}", self.status, text.trim())
    }
}

/// What to do after a response.
enum Next {
    Done,
    /// Resend the records still pending, after at least `wait`.
    Retry {
        wait: Option<Duration>,
        error: String,
    },
}

/// Accounts for the `pending` records (batch positions, in the order they were sent) from a
/// response, leaving in `pending` those to resend.
fn account(answer: &Answer, pending: &mut Vec<usize>, tally: &mut Tally) -> Next {
    let json = answer.json();
    let accounted_by_body = json["accepted"].as_u64().is_some();
    match answer.status {
        200..=299 | 422 | 503 if accounted_by_body => {
            account_by_body(&json, pending, tally, answer)
        }
        // Not ingest-api's answer, but a success: everything went in.
        200..=299 => {
            tally.accepted += pending.len() as u64;
            pending.clear();
            Next::Done
        }
        429 | 500..=599 => Next::Retry {
            wait: answer.retry_after,
            error: answer.describe(),
        },
        status => {
            let count = pending.len() as u64;
            tally.rejected += count;
            *tally.rejected_by_status.entry(status).or_default() += count;
            tally.note_error(answer.describe());
            pending.clear();
            Next::Done
        }
    }
}

/// ingest-api's `{accepted, rejected[], failed[]?}`: rejected records with their reasons,
/// and the records listed in `failed[]` (by index in the request sent) left to resend.
fn account_by_body(
    json: &Value,
    pending: &mut Vec<usize>,
    tally: &mut Tally,
    answer: &Answer,
) -> Next {
    let sent = pending.len() as u64;
    let accepted = json["accepted"].as_u64().unwrap_or(0);
    let rejected = json["rejected"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    tally.accepted += accepted;
    tally.rejected += rejected.len() as u64;
    for entry in rejected {
        let reasons = reasons_of(entry);
        if reasons.is_empty() {
            *tally
                .rejected_by_reason
                .entry("UNSPECIFIED".to_owned())
                .or_default() += 1;
        }
        for reason in reasons {
            *tally.rejected_by_reason.entry(reason).or_default() += 1;
        }
    }
    let to_resend: Vec<usize> = json["failed"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| entry["index"].as_u64())
        .filter_map(|index| usize::try_from(index).ok())
        .filter_map(|index| pending.get(index).copied())
        .collect();
    let accounted = accepted + rejected.len() as u64 + to_resend.len() as u64;
    if accounted != sent {
        // Should not happen with ingest-api; keep the totals honest if it does.
        tally.failed += sent.saturating_sub(accounted);
        tally.note_error(format!(
            "HTTP {}: the response accounts for {accounted} of the {sent} records sent",
            answer.status
        ));
    }
    *pending = to_resend;
    if pending.is_empty() {
        Next::Done
    } else {
        Next::Retry {
            wait: answer.retry_after,
            error: answer.describe(),
        }
    }
}

/// Equal jitter around `BASE_BACKOFF × 2^(attempt-1)`, capped at `MAX_BACKOFF`.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let random = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 1_000)
        .unwrap_or(500);
    ceiling / 2 + (ceiling / 2).mul_f64(f64::from(random) / 1_000.0)
}

impl BatchSender for HttpSender {
    async fn send(&self, batch: LineBatch) -> Tally {
        let mut tally = Tally::for_records(batch.len());
        let whole = Bytes::copy_from_slice(&batch.bytes);
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let body = if pending.len() == batch.len() {
                whole.clone()
            } else {
                Bytes::from(batch.select(&pending).bytes)
            };
            tally.requests += 1;
            if attempt > 1 {
                tally.retried_requests += 1;
            }
            let next = match self.post(body).await {
                Ok(answer) => {
                    *tally.responses_by_status.entry(answer.status).or_default() += 1;
                    account(&answer, &mut pending, &mut tally)
                }
                Err(error) => Next::Retry {
                    wait: None,
                    error: format!("{error:#}"),
                },
            };
            let Next::Retry { wait, error } = next else {
                break;
            };
            if attempt >= MAX_ATTEMPTS {
                tally.failed += pending.len() as u64;
                tally.note_error(format!(
                    "{} records failed after {attempt} attempts; last error: {error}",
                    pending.len()
                ));
                break;
            }
            tokio::time::sleep(backoff(attempt).max(wait.unwrap_or_default())).await;
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn headers_parse_without_quoting_secrets() {
        let (name, value) = parse_header("X-Api-Key:  s3cret ").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("x-api-key", "s3cret")
        );
        assert!(parse_header("no colon").is_err());
        let error = parse_header("x-api-key: bad\nvalue").unwrap_err();
        assert!(!format!("{error:#}").contains("bad"));
    }

    #[test]
    fn ingest_api_bodies_account_for_every_record() {
        let mut tally = Tally::for_records(4);
        let mut pending = vec![0, 1, 2, 3];
        let body = json!({"accepted": 2, "rejected": [
            {"index": 1, "reasons": [{"reason": "NULL_USER_ID"}, {"reason": "BAD_PRICE"}]},
            {"index": 3, "reasons": ["DECODE_ERROR"]}
        ]});
        assert!(matches!(
            account(&answer(202, body), &mut pending, &mut tally),
            Next::Done
        ));
        assert_eq!(
            (tally.accepted, tally.rejected, tally.unaccounted()),
            (2, 2, 0)
        );
        assert_eq!(tally.rejected_by_reason.len(), 3);
    }

    #[test]
    fn sink_failures_resend_only_the_failed_records() {
        let mut tally = Tally::for_records(5);
        let mut pending = vec![0, 1, 2, 3, 4];
        let body = json!({"error": "sink_unavailable", "accepted": 2, "rejected": [{"index": 0, "reasons": ["BAD_QUANTITY"]}],
            "failed": [{"index": 2, "error": "x"}, {"index": 4, "error": "x"}]});
        assert!(matches!(
            account(&answer(503, body), &mut pending, &mut tally),
            Next::Retry { .. }
        ));
        assert_eq!(pending, vec![2, 4]);
        // The resend carries positions 2 and 4 as its indices 0 and 1.
        let body = json!({"accepted": 1, "rejected": [], "failed": [{"index": 1, "error": "x"}]});
        assert!(matches!(
            account(&answer(503, body), &mut pending, &mut tally),
            Next::Retry { .. }
        ));
        assert_eq!(pending, vec![4]);
    }

    #[test]
    fn plain_503s_retry_everything_and_other_4xx_reject_with_the_status() {
        let mut tally = Tally::for_records(3);
        let mut pending = vec![0, 1, 2];
        let next = account(
            &answer(503, json!({"message": "Service Unavailable"})),
            &mut pending,
            &mut tally,
        );
        assert!(matches!(next, Next::Retry { .. }));
        assert_eq!(pending.len(), 3);
        let next = account(
            &answer(403, json!({"message": "Forbidden"})),
            &mut pending,
            &mut tally,
        );
        assert!(matches!(next, Next::Done));
        assert_eq!((tally.rejected, tally.rejected_by_status[&403]), (3, 3));
        assert_eq!(tally.errors, vec!["HTTP 403: Forbidden".to_owned()]);
    }

    #[test]
    fn backoff_grows_and_stays_capped() {
        assert!(backoff(1) <= BASE_BACKOFF && backoff(1) >= BASE_BACKOFF / 2);
        assert!(backoff(3) >= BASE_BACKOFF * 2);
        assert!(backoff(30) <= MAX_BACKOFF);
    }
}
