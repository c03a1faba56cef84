//! Per-invocation metrics (CloudWatch EMF): records in / accepted / rejected by reason,
//! rejection rate, fraud flagged, bytes written, latencies.

use crate::alerts::AlertTiming;
use chrono::{DateTime, Utc};
use shopstream::clean::Repair;
use shopstream::metrics::{MetricSet, Unit};
use shopstream::reason::RejectReason;
use std::collections::BTreeMap;

pub const FUNCTION: &str = "stream-enrich";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchStats {
    pub records_in: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub rejected_by_reason: BTreeMap<RejectReason, usize>,
    /// Accepted records cleaning repaired, by repair.
    pub repaired: BTreeMap<Repair, usize>,
    /// Slices (or their writes) not started because the invocation was near its deadline.
    pub deadline_stops: usize,
    pub fraud_flagged: usize,
    pub alerts_published: usize,
    pub bytes_written: usize,
    pub objects_written: usize,
    /// Records reported back to the event source for a retry.
    pub failed: usize,
    pub earliest_arrival: Option<DateTime<Utc>>,
    pub max_write_latency_ms: Option<i64>,
    /// Arrival and acceptance by EventBridge, per published alert.
    pub alert_timings: Vec<AlertTiming>,
}

impl BatchStats {
    pub fn arrived(&mut self, at: DateTime<Utc>) {
        self.earliest_arrival = Some(self.earliest_arrival.map_or(at, |e| e.min(at)));
    }

    pub fn merge(&mut self, other: BatchStats) {
        self.records_in += other.records_in;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        for (reason, n) in other.rejected_by_reason {
            *self.rejected_by_reason.entry(reason).or_default() += n;
        }
        for (repair, n) in other.repaired {
            *self.repaired.entry(repair).or_default() += n;
        }
        self.deadline_stops += other.deadline_stops;
        self.fraud_flagged += other.fraud_flagged;
        self.alerts_published += other.alerts_published;
        self.bytes_written += other.bytes_written;
        self.objects_written += other.objects_written;
        self.failed += other.failed;
        if let Some(at) = other.earliest_arrival {
            self.arrived(at);
        }
        self.max_write_latency_ms = max_opt(self.max_write_latency_ms, other.max_write_latency_ms);
        self.alert_timings.extend(other.alert_timings);
    }

    pub fn rejection_rate(&self) -> f64 {
        let decided = self.accepted + self.rejected;
        if decided == 0 {
            0.0
        } else {
            100.0 * self.rejected as f64 / decided as f64
        }
    }

    pub fn to_metric_set(&self, source: &str, batch_latency_ms: i64) -> MetricSet {
        let mut metrics = MetricSet::for_function(FUNCTION);
        metrics.property("source", source);
        metrics.count("RecordsIn", self.records_in);
        metrics.count("RecordsAccepted", self.accepted);
        metrics.count("RecordsRejected", self.rejected);
        for (reason, n) in &self.rejected_by_reason {
            metrics.count(&format!("Rejected_{}", reason.as_str()), *n);
        }
        metrics.put("RejectionRate", self.rejection_rate(), Unit::Percent);
        for (repair, n) in &self.repaired {
            metrics.count(&format!("Repaired_{}", repair.as_str()), *n);
        }
        metrics.count("DeadlineStops", self.deadline_stops);
        metrics.count("FraudFlagged", self.fraud_flagged);
        metrics.count("FraudAlertsPublished", self.alerts_published);
        metrics.put("BytesWritten", self.bytes_written as f64, Unit::Bytes);
        metrics.count("ObjectsWritten", self.objects_written);
        metrics.count("RecordsFailed", self.failed);
        metrics.put("BatchLatency", batch_latency_ms as f64, Unit::Milliseconds);
        if let Some(ms) = self.max_write_latency_ms {
            metrics.put("MaxArrivalToWriteLatency", ms as f64, Unit::Milliseconds);
        }
        let mut latencies: Vec<i64> = self
            .alert_timings
            .iter()
            .map(AlertTiming::latency_ms)
            .collect();
        if let Some(max) = latencies.iter().max() {
            metrics.put("MaxArrivalToAlertLatency", *max as f64, Unit::Milliseconds);
        }
        if let (Some(p50), Some(p99)) = (
            nearest_rank(&mut latencies, 50),
            nearest_rank(&mut latencies, 99),
        ) {
            // The templates alarm on the p99 of an invocation above 500 ms.
            metrics.put("ArrivalToAlertLatencyP50", p50 as f64, Unit::Milliseconds);
            metrics.put("ArrivalToAlertLatencyP99", p99 as f64, Unit::Milliseconds);
        }
        metrics
    }
}

/// The nearest-rank `percent`th percentile (the smallest value with at least `percent` % of
/// the values at or below it); `None` for no values.
pub fn nearest_rank(values: &mut [i64], percent: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * percent.min(100)).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_has_counts_reasons_and_rate() {
        let mut stats = BatchStats {
            records_in: 4,
            accepted: 3,
            rejected: 1,
            ..Default::default()
        };
        stats
            .rejected_by_reason
            .insert(RejectReason::DecodeError, 1);
        let doc = stats.to_metric_set("kinesis", 12).to_emf(0);
        assert_eq!(doc["RecordsIn"], 4.0);
        assert_eq!(doc["Rejected_DECODE_ERROR"], 1.0);
        assert_eq!(doc["RejectionRate"], 25.0);
        assert_eq!(doc["Function"], "stream-enrich");
        assert!(
            doc.get("ArrivalToAlertLatencyP99").is_none(),
            "no alerts, no latency"
        );
    }

    #[test]
    fn alert_latency_percentiles_are_nearest_rank_over_every_alert() {
        let arrived = Utc::now();
        let after = |ms: i64| AlertTiming {
            arrived_at: arrived,
            accepted_at: arrived + chrono::TimeDelta::milliseconds(ms),
        };
        let mut stats = BatchStats {
            alert_timings: (1..=200).rev().map(after).collect(),
            ..Default::default()
        };
        stats.merge(BatchStats {
            alert_timings: vec![after(1_000)],
            ..Default::default()
        });
        let doc = stats.to_metric_set("kinesis", 12).to_emf(0);
        // 201 values: the 101st is 101; the 199th (ceil(0.99 × 201)) is 199.
        assert_eq!(doc["ArrivalToAlertLatencyP50"], 101.0);
        assert_eq!(doc["ArrivalToAlertLatencyP99"], 199.0);
    }

    #[test]
    fn nearest_rank_edges() {
        assert_eq!(nearest_rank(&mut [], 99), None);
        assert_eq!(nearest_rank(&mut [7], 50), Some(7));
        assert_eq!(nearest_rank(&mut [3, 1, 2], 100), Some(3));
        assert_eq!(nearest_rank(&mut [3, 1, 2], 1), Some(1));
        assert_eq!(nearest_rank(&mut [10, 20], 50), Some(10));
    }
}
