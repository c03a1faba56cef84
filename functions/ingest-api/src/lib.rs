//! ingest-api: the Lambda behind API Gateway that validates e-commerce events and puts the valid
//! ones in each route's sink: `POST /v1/events` on Kinesis (default) or Kafka, `POST /v1/orders`
//! in the DynamoDB orders table (default), Kinesis or Kafka.
//!
//! [`handler`] is what `main` hands to the Lambda runtime; tests, benchmarks and the local
//! runner call the same function. Modules, by responsibility:
//! [`routing`], [`request`] (both API Gateway payload formats), [`principal`] (the caller),
//! [`body`] (content type, size, splitting), [`records`] / [`orders`] (judging records with the
//! core), [`response`], [`sink`] (Kinesis, Kafka, DynamoDB, and retries), [`secrets`] (Kafka
//! credentials from Secrets Manager), [`idempotency`], [`metrics`].

pub mod body;
pub mod config;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod orders;
pub mod principal;
pub mod records;
pub mod request;
pub mod response;
pub mod routing;
pub mod sink;
/// The Kafka SASL credentials from Secrets Manager (`shopstream::kafka::secrets`).
pub use shopstream::kafka::secrets;

use chrono::{DateTime, Utc};
use error::ApiError;
use idempotency::{Begin, IdempotencyStore, Lease, StoredResponse};
use lambda_runtime::LambdaEvent;
use metrics::RequestMetrics;
use records::{IdSource, Judge, Prepared, Refused};
use request::HttpRequest;
use response::HttpResponse;
use routing::Route;
use shopstream::metrics::MetricSet;
use shopstream::reason::{RejectReason, Rejection};
use sink::{Failure, Progress, Sink};
use std::time::Instant;

pub use config::IngestConfig;
pub use request::ApiEvent;
pub use response::ApiResponse;

/// Everything built once at cold start.
pub struct Deps<S> {
    pub config: IngestConfig,
    /// Where `POST /v1/events` puts its records.
    pub events_sink: S,
    /// Where `POST /v1/orders` puts its records.
    pub orders_sink: S,
    /// Present when `IDEMPOTENCY_TABLE` is set; without it the header is accepted but not
    /// enforced.
    pub idempotency: Option<IdempotencyStore>,
}

impl<S: Sink> Deps<S> {
    /// The sink of a record route.
    pub fn sink(&self, route: Route) -> &S {
        match route {
            Route::Orders => &self.orders_sink,
            Route::Events | Route::Health => &self.events_sink,
        }
    }
}

/// The Lambda handler: answers the request and emits its EMF metrics. Bad input never makes
/// it fail; it returns `Err` only if the runtime itself is broken.
pub async fn handler<S: Sink>(
    deps: &Deps<S>,
    event: LambdaEvent<ApiEvent>,
) -> Result<ApiResponse, lambda_runtime::Error> {
    let fallback_id = event.context.request_id.clone();
    let (response, metrics) = handle(deps, event.payload, Some(fallback_id), Utc::now()).await;
    metrics.emit();
    Ok(response)
}

/// The request → response logic, with the metrics returned instead of printed.
pub async fn handle<S: Sink>(
    deps: &Deps<S>,
    event: ApiEvent,
    fallback_request_id: Option<String>,
    now: DateTime<Utc>,
) -> (ApiResponse, MetricSet) {
    let request = HttpRequest::from_event(event);
    let request_id = request.request_id.clone().or(fallback_request_id);
    let mut metrics = RequestMetrics::new();
    if let Some(id) = &request_id {
        metrics.request_id(id);
    }
    let response = match process(deps, &request, now, &mut metrics).await {
        Ok(response) => response,
        Err(error) => HttpResponse::from_error(&error),
    };
    metrics.response(response.status);
    tracing::info!(
        method = %request.method,
        path = %request.path,
        status = response.status,
        request_id = request_id.as_deref().unwrap_or_default(),
        "request handled"
    );
    (
        response.into_api(request.version, request_id.as_deref()),
        metrics.into_set(),
    )
}

fn idempotency_key(request: &HttpRequest) -> Result<Option<&str>, ApiError> {
    match request.headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Ok(key) if idempotency::valid_key(key) => Ok(Some(key)),
            _ => Err(ApiError::BadIdempotencyKey),
        },
    }
}

/// Tells the lease which records (by body index) each sink attempt delivered.
struct LeaseProgress<'a> {
    store: &'a IdempotencyStore,
    lease: &'a Lease,
    records: &'a [Prepared],
}

impl Progress for LeaseProgress<'_> {
    async fn delivered(&self, positions: &[usize]) {
        let indices: Vec<usize> = positions
            .iter()
            .filter_map(|&p| self.records.get(p).map(|r| r.index))
            .collect();
        if let Err(error) = self.store.record_delivered(self.lease, &indices).await {
            // This response stays right; only a crash before it completes would re-send them.
            tracing::warn!(%error, "could not record delivered records in the lease");
        }
    }
}

async fn process<S: Sink>(
    deps: &Deps<S>,
    request: &HttpRequest,
    now: DateTime<Utc>,
    metrics: &mut RequestMetrics,
) -> Result<HttpResponse, ApiError> {
    let config = &deps.config;
    let route = routing::route(&request.method, &request.path)?;
    metrics.route(route);
    if route == Route::Health {
        return Ok(HttpResponse::health(
            deps.events_sink.name(),
            deps.orders_sink.name(),
        ));
    }
    let sink = deps.sink(route);
    metrics.sink(sink.name());
    let format = body::body_format(request.header("content-type"))?;
    let bytes = request.body_bytes(config.max_body_bytes)?;
    let text = body::body_text(&bytes)?;
    let items = body::split_records(text, format, config.max_records)?;
    let key = idempotency_key(request)?;
    let fingerprint = key.map(|_| idempotency::fingerprint(&request.method, &request.path, &bytes));

    let ids = match (key, &fingerprint) {
        // The principal is part of the seed: two producers never get each other's ids.
        (Some(key), Some(fingerprint)) => IdSource::Derived {
            seed: format!("{}\n{key}\n{fingerprint}", request.principal.scope()),
        },
        _ => IdSource::Random,
    };
    let judge = Judge {
        now,
        rules: &config.validation,
        ids,
        max_record_bytes: sink.max_record_bytes(),
    };
    let judged = match route {
        Route::Orders => judge.orders(items, config.max_installments),
        _ => judge.events(items),
    };
    metrics.judged(&judged);
    if judged.accepted.is_empty() {
        return Ok(HttpResponse::outcome(&[], &judged.refused));
    }

    let lease = match (&deps.idempotency, key, &fingerprint) {
        (Some(store), Some(key), Some(fingerprint)) => {
            match store
                .begin(
                    route.name(),
                    &request.principal,
                    key,
                    fingerprint,
                    now.timestamp(),
                )
                .await
            {
                Ok(Begin::Proceed(lease)) => Some((store, lease, fingerprint)),
                Ok(Begin::Replay(stored)) => {
                    metrics.replay();
                    let body = serde_json::from_str(&stored.body)
                        .unwrap_or(serde_json::Value::String(stored.body));
                    return Ok(HttpResponse::json(stored.status, body)
                        .with_header("idempotent-replayed", "true"));
                }
                Ok(Begin::InProgress) => return Err(ApiError::IdempotencyInProgress),
                Ok(Begin::KeyReused) => return Err(ApiError::IdempotencyKeyReused),
                Err(error) => return Ok(HttpResponse::idempotency_unavailable(&error)),
            }
        }
        _ => None,
    };

    // Records an earlier attempt of this request delivered are not sent again.
    let (previous, to_send): (Vec<Prepared>, Vec<Prepared>) = match &lease {
        Some((_, lease, _)) if !lease.delivered.is_empty() => judged
            .accepted
            .iter()
            .cloned()
            .partition(|r| lease.delivered.contains(&r.index)),
        _ => (Vec::new(), judged.accepted.clone()),
    };
    metrics.resumed(previous.len());

    let started = Instant::now();
    let delivery = match &lease {
        Some((store, lease, _)) => {
            let progress = LeaseProgress {
                store,
                lease,
                records: &to_send,
            };
            sink::deliver_with_progress(sink, &to_send, config.retry, &progress).await
        }
        None => sink::deliver(sink, &to_send, config.retry).await,
    };
    metrics.delivery(&delivery, started.elapsed());

    let mut refused = judged.refused.clone();
    for &position in &delivery.duplicates {
        let record = &to_send[position];
        refused.push(Refused::new(
            record.index,
            None,
            Some(record.event_id.clone()),
            vec![Rejection::on_field(
                RejectReason::DuplicateEvent,
                "event_id",
                "an event with this event_id is already stored; it was not overwritten",
            )],
        ));
    }
    refused.sort_by_key(|r| r.index);
    let mut delivered: Vec<&Prepared> = previous
        .iter()
        .chain(delivery.delivered.iter().map(|&p| &to_send[p]))
        .collect();
    delivered.sort_by_key(|r| r.index);
    let response = if delivery.failed.is_empty() {
        HttpResponse::outcome(&delivered, &refused)
    } else {
        let failed: Vec<(&Prepared, &Failure)> = delivery
            .failed
            .iter()
            .map(|failure| (&to_send[failure.position], failure))
            .collect();
        tracing::error!(
            sink = sink.name(),
            failed = failed.len(),
            permanent = failed.iter().filter(|(_, f)| !f.retryable).count(),
            "records could not be written"
        );
        HttpResponse::sink_failure(&delivered, &failed, &refused)
    };

    if let Some((store, lease, fingerprint)) = lease {
        // A failed request releases its key, keeping what it delivered, so that the caller's
        // retry runs again (with the same derived event ids) and sends only the rest; anything
        // else is kept and replayed.
        let finished = if response.status >= 500 {
            store.release(&lease, now.timestamp()).await
        } else {
            let stored = StoredResponse {
                status: response.status,
                body: response.body.to_string(),
            };
            store
                .complete(&lease, fingerprint, &stored, now.timestamp())
                .await
        };
        if let Err(error) = finished {
            tracing::error!(%error, "could not record the idempotent response");
        }
    }
    Ok(response)
}
