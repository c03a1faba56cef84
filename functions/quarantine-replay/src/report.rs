//! What an invocation did, counted by outcome; the handler's answer and its metrics.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub mode: &'static str,
    pub dry_run: bool,
    /// Objects (quarantine mode) or SQS messages (DLQ mode) looked at.
    pub inputs: usize,
    /// Entries or stream records looked at.
    pub records: usize,
    pub outcomes: BTreeMap<&'static str, usize>,
    /// Reasons of the entries that stay quarantined.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reasons: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn new(mode: &'static str, dry_run: bool) -> Self {
        Report {
            mode,
            dry_run,
            ..Report::default()
        }
    }

    pub fn count(&mut self, outcome: &'static str, n: usize) {
        if n > 0 {
            *self.outcomes.entry(outcome).or_default() += n;
        }
    }

    pub fn outcome(&self, outcome: &str) -> usize {
        self.outcomes.get(outcome).copied().unwrap_or(0)
    }

    pub fn problem(&mut self, subject: impl Into<String>, detail: impl Into<String>) {
        self.problems.push(Problem {
            subject: subject.into(),
            detail: detail.into(),
        });
    }

    /// One EMF line: every outcome as a count.
    pub fn emit_metrics(&self) {
        let mut metrics = shopstream::metrics::MetricSet::for_function("quarantine-replay")
            .dimension("Mode", self.mode);
        metrics.count("Inputs", self.inputs);
        metrics.count("Records", self.records);
        for (outcome, n) in &self.outcomes {
            metrics.count(outcome, *n);
        }
        metrics.emit();
    }
}
