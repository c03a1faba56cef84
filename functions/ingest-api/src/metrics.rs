//! CloudWatch EMF metrics of one request: requests, records in / accepted / rejected (in total
//! and by reason), sink latency, retries and failures, response class.

use crate::records::Judged;
use crate::routing::Route;
use crate::sink::Delivery;
use shopstream::metrics::{MetricSet, Unit};
use shopstream::reason::distinct_reasons;
use std::time::Duration;

pub const FUNCTION: &str = "ingest-api";

pub struct RequestMetrics {
    set: MetricSet,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics::new()
    }
}

impl RequestMetrics {
    pub fn new() -> Self {
        let mut set = MetricSet::for_function(FUNCTION);
        set.count("Requests", 1);
        RequestMetrics { set }
    }

    pub fn sink(&mut self, sink: &str) {
        self.set.property("sink", sink);
    }

    /// Records an earlier attempt of the same idempotent request already delivered.
    pub fn resumed(&mut self, records: usize) {
        if records > 0 {
            self.set.count("RecordsAlreadyDelivered", records);
        }
    }

    pub fn route(&mut self, route: Route) {
        self.set.property("route", route.name());
    }

    pub fn request_id(&mut self, request_id: &str) {
        self.set.property("request_id", request_id);
    }

    pub fn judged(&mut self, judged: &Judged) {
        let total = judged.accepted.len() + judged.refused.len();
        self.set.count("RecordsIn", total);
        self.set.count("RecordsValid", judged.accepted.len());
        self.set.count("RecordsRejected", judged.refused.len());
        for refused in &judged.refused {
            for reason in distinct_reasons(&refused.reasons) {
                self.set.count(&format!("Rejected_{reason}"), 1);
            }
        }
        if total > 0 {
            let rate = judged.refused.len() as f64 * 100.0 / total as f64;
            self.set.put("RejectionRate", rate, Unit::Percent);
        }
    }

    pub fn delivery(&mut self, delivery: &Delivery, latency: Duration) {
        self.set.put(
            "SinkLatency",
            latency.as_secs_f64() * 1_000.0,
            Unit::Milliseconds,
        );
        self.set.count("RecordsAccepted", delivery.delivered.len());
        self.set.count("SinkAttempts", delivery.attempts as usize);
        self.set.count("SinkRetriedRecords", delivery.retried);
        self.set.count("SinkFailedRecords", delivery.failed.len());
        let permanent = delivery.failed.iter().filter(|f| !f.retryable).count();
        if permanent > 0 {
            self.set.count("SinkRejectedRecords", permanent);
        }
        if !delivery.duplicates.is_empty() {
            self.set
                .count("Rejected_DUPLICATE_EVENT", delivery.duplicates.len());
            self.set.count("RecordsRejected", delivery.duplicates.len());
        }
    }

    pub fn replay(&mut self) {
        self.set.count("IdempotentReplays", 1);
    }

    pub fn response(&mut self, status: u16) {
        self.set.property("status", status);
        let class = match status {
            200..=299 => "Responses2xx",
            400..=499 => "Responses4xx",
            _ => "Responses5xx",
        };
        self.set.count(class, 1);
    }

    pub fn into_set(self) -> MetricSet {
        self.set
    }
}
