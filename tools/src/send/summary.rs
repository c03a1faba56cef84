//! What sending did: per batch ([`Tally`]) and for the whole run ([`SendSummary`]).

use super::Target;
use crate::generate::GeneratedCounts;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Error texts kept as examples (the first ones seen).
const MAX_ERROR_SAMPLES: usize = 5;

/// Counts for some records. Every record is accepted, rejected or failed, exactly once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Records generated and sent.
    pub records: u64,
    /// Requests made (HTTP requests, or sink calls for Kinesis and Kafka), retries included.
    pub requests: u64,
    /// Of `requests`: those that resent records after a retryable failure.
    pub retried_requests: u64,
    /// Taken by the target (202, or the `accepted` count of a 422).
    pub accepted: u64,
    /// Refused by the target, with a reason or an HTTP status.
    pub rejected: u64,
    /// Rejections by reason (a record refused for two reasons counts in both).
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Records refused as a whole request with a 4xx status other than 422, by status.
    pub rejected_by_status: BTreeMap<u16, u64>,
    /// Records that could not be delivered after every retry.
    pub failed: u64,
    /// HTTP responses by status (HTTP targets only).
    pub responses_by_status: BTreeMap<u16, u64>,
    /// The first few errors seen (failures and whole-request refusals).
    pub errors: Vec<String>,
}

impl Tally {
    /// A tally for a batch of `records` records, none accounted for yet.
    pub fn for_records(records: usize) -> Self {
        Tally {
            records: records as u64,
            ..Tally::default()
        }
    }

    pub fn absorb(&mut self, other: Tally) {
        self.records += other.records;
        self.requests += other.requests;
        self.retried_requests += other.retried_requests;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.failed += other.failed;
        for (reason, count) in other.rejected_by_reason {
            *self.rejected_by_reason.entry(reason).or_default() += count;
        }
        for (status, count) in other.rejected_by_status {
            *self.rejected_by_status.entry(status).or_default() += count;
        }
        for (status, count) in other.responses_by_status {
            *self.responses_by_status.entry(status).or_default() += count;
        }
        for error in other.errors {
            self.note_error(error);
        }
    }

    /// Keeps `error` as an example if there is room and it is not already kept.
    pub fn note_error(&mut self, error: impl Into<String>) {
        let error = error.into();
        if self.errors.len() < MAX_ERROR_SAMPLES && !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    /// Records not yet accepted, rejected or failed (zero once a batch is done).
    pub fn unaccounted(&self) -> u64 {
        self.records
            .saturating_sub(self.accepted + self.rejected + self.failed)
    }
}

/// The summary printed at the end of `generate --to` (and written by `--summary-json`).
#[derive(Debug, Clone, Serialize)]
pub struct SendSummary {
    /// The target as given, e.g. `kinesis://events` (headers are never included).
    pub target: String,
    /// `http`, `kinesis` or `kafka`.
    pub kind: &'static str,
    #[serde(flatten)]
    pub tally: Tally,
    pub seconds: f64,
    pub records_per_second: f64,
    /// Why generation stopped before every event was generated, if it did.
    pub stopped_early: Option<String>,
    /// What the generator made, including the anomalies it injected.
    pub generated: GeneratedCounts,
}

impl SendSummary {
    pub fn new(
        target: &Target,
        tally: Tally,
        seconds: f64,
        generated: GeneratedCounts,
        stopped_early: Option<String>,
    ) -> Self {
        SendSummary {
            target: target.to_string(),
            kind: target.kind(),
            records_per_second: tally.records as f64 / seconds.max(1e-9),
            tally,
            seconds,
            stopped_early,
            generated,
        }
    }
}

impl fmt::Display for SendSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tally;
        writeln!(
            f,
            "sent {} records to {} in {:.2} s ({:.0} records/s), {} requests ({} retries)",
            t.records,
            self.target,
            self.seconds,
            self.records_per_second,
            t.requests,
            t.retried_requests
        )?;
        writeln!(
            f,
            "  accepted {}, rejected {}, failed {}",
            t.accepted, t.rejected, t.failed
        )?;
        if !t.rejected_by_reason.is_empty() {
            let reasons: Vec<String> = t
                .rejected_by_reason
                .iter()
                .map(|(reason, count)| format!("{reason} {count}"))
                .collect();
            writeln!(f, "  rejected by reason: {}", reasons.join(", "))?;
        }
        if !t.rejected_by_status.is_empty() {
            let statuses: Vec<String> = t
                .rejected_by_status
                .iter()
                .map(|(status, count)| format!("HTTP {status}: {count}"))
                .collect();
            writeln!(f, "  rejected whole requests: {}", statuses.join(", "))?;
        }
        if !t.responses_by_status.is_empty() {
            let statuses: Vec<String> = t
                .responses_by_status
                .iter()
                .map(|(status, count)| format!("{status} x{count}"))
                .collect();
            writeln!(f, "  responses: {}", statuses.join(", "))?;
        }
        for error in &t.errors {
            writeln!(f, "  error: {error}")?;
        }
        if let Some(why) = &self.stopped_early {
            writeln!(f, "  stopped early: {why}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_add_up_and_keep_a_few_distinct_errors() {
        let mut total = Tally::default();
        for i in 0..10 {
            let mut batch = Tally::for_records(5);
            batch.requests = 1;
            batch.accepted = 3;
            batch.rejected = 1;
            batch.failed = 1;
            batch.rejected_by_reason.insert("NULL_USER_ID".into(), 1);
            batch.responses_by_status.insert(202, 1);
            batch.note_error(format!("error {}", i % 7));
            batch.note_error(format!("error {}", i % 7));
            assert_eq!(batch.errors.len(), 1);
            assert_eq!(batch.unaccounted(), 0);
            total.absorb(batch);
        }
        assert_eq!(
            (total.records, total.accepted, total.rejected, total.failed),
            (50, 30, 10, 10)
        );
        assert_eq!(total.rejected_by_reason["NULL_USER_ID"], 10);
        assert_eq!(total.responses_by_status[&202], 10);
        assert_eq!(total.errors.len(), MAX_ERROR_SAMPLES);
    }
}
