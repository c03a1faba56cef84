//! The data-quality report and its human rendering.

use super::input::InputFormat;
use chrono::{DateTime, Utc};
use serde::Serialize;
use shopstream::clean::CleanRecord;
use shopstream::reason::{distinct_reasons, RejectReason, Rejection};
use shopstream::record::{Entity, Record};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct EntityCounts {
    pub records: u64,
    pub accepted: u64,
    pub rejected: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QualityReport {
    pub input: String,
    pub format: InputFormat,
    pub now: DateTime<Utc>,
    pub records: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub acceptance_rate: f64,
    pub rejection_rate: f64,
    /// Records of unknown entity (undecodable) are counted under "unknown".
    pub by_entity: BTreeMap<String, EntityCounts>,
    /// How many refused records had each reason (a record with two reasons counts in both).
    pub reasons: BTreeMap<RejectReason, u64>,
    /// How many accepted records cleaning repaired, by repair (e.g.
    /// `NEGATIVE_PURCHASE_QUANTITY`): nothing is changed silently.
    pub repairs: BTreeMap<String, u64>,
    /// Per entity, per field: the fraction of decoded records where the field is not null.
    pub completeness: BTreeMap<Entity, BTreeMap<String, f64>>,
    #[serde(skip)]
    present: BTreeMap<Entity, (u64, BTreeMap<String, u64>)>,
}

/// One line of `--rejects`.
#[derive(Debug, Clone, Serialize)]
pub struct RejectLine {
    pub position: usize,
    pub event_id: Option<String>,
    pub reasons: Vec<RejectReason>,
    pub rejections: Vec<Rejection>,
}

type Outcome<'a> = Result<
    (
        Entity,
        Option<String>,
        Result<CleanRecord<'a>, Vec<Rejection>>,
    ),
    Rejection,
>;

impl QualityReport {
    pub fn new(path: &Path, format: InputFormat, now: DateTime<Utc>) -> Self {
        QualityReport {
            input: path.display().to_string(),
            format,
            now,
            records: 0,
            accepted: 0,
            rejected: 0,
            acceptance_rate: 0.0,
            rejection_rate: 0.0,
            by_entity: BTreeMap::new(),
            reasons: BTreeMap::new(),
            repairs: BTreeMap::new(),
            completeness: BTreeMap::new(),
            present: BTreeMap::new(),
        }
    }

    /// Notes which fields of a decoded record are present.
    pub fn observe_fields(&mut self, record: &Record) {
        let (seen, fields) = self.present.entry(record.entity()).or_default();
        *seen += 1;
        if let serde_json::Value::Object(object) = record.to_json_value() {
            for (field, value) in object {
                let count = fields.entry(field).or_default();
                if !value.is_null() {
                    *count += 1;
                }
            }
        }
    }

    /// Counts one record's outcome; returns the reject line when it was refused.
    pub fn count(&mut self, position: usize, outcome: Outcome<'_>) -> Option<RejectLine> {
        self.records += 1;
        let (entity_name, event_id, rejections) = match outcome {
            Ok((entity, _, Ok(clean))) => {
                self.accepted += 1;
                if let CleanRecord::Transaction(transaction) = &clean {
                    for repair in transaction.repairs.iter() {
                        *self.repairs.entry(repair.as_str().to_owned()).or_default() += 1;
                    }
                }
                let counts = self
                    .by_entity
                    .entry(entity.as_str().to_owned())
                    .or_default();
                counts.records += 1;
                counts.accepted += 1;
                return None;
            }
            Ok((entity, event_id, Err(rejections))) => (entity.as_str(), event_id, rejections),
            Err(rejection) => ("unknown", None, vec![rejection]),
        };
        self.rejected += 1;
        let counts = self.by_entity.entry(entity_name.to_owned()).or_default();
        counts.records += 1;
        counts.rejected += 1;
        let reasons = distinct_reasons(&rejections);
        for reason in &reasons {
            *self.reasons.entry(*reason).or_default() += 1;
        }
        Some(RejectLine {
            position,
            event_id,
            reasons,
            rejections,
        })
    }

    pub fn finish(&mut self) {
        if self.records > 0 {
            self.acceptance_rate = self.accepted as f64 / self.records as f64;
            self.rejection_rate = self.rejected as f64 / self.records as f64;
        }
        self.completeness = self
            .present
            .iter()
            .map(|(entity, (seen, fields))| {
                let shares = fields
                    .iter()
                    .map(|(field, present)| {
                        (field.clone(), *present as f64 / (*seen).max(1) as f64)
                    })
                    .collect();
                (*entity, shares)
            })
            .collect();
    }
}

impl fmt::Display for QualityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Data quality of {} ({:?}, clock {})",
            self.input,
            self.format,
            self.now.to_rfc3339()
        )?;
        writeln!(f, "  records   {:>10}", self.records)?;
        writeln!(
            f,
            "  accepted  {:>10}  ({:.2} %)",
            self.accepted,
            self.acceptance_rate * 100.0
        )?;
        writeln!(
            f,
            "  rejected  {:>10}  ({:.2} %)",
            self.rejected,
            self.rejection_rate * 100.0
        )?;
        writeln!(
            f,
            "\n  by entity               records   accepted   rejected"
        )?;
        for (entity, c) in &self.by_entity {
            writeln!(
                f,
                "    {entity:<18} {:>10} {:>10} {:>10}",
                c.records, c.accepted, c.rejected
            )?;
        }
        if !self.reasons.is_empty() {
            writeln!(f, "\n  rejection reasons (records)")?;
            let mut reasons: Vec<_> = self.reasons.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (reason, count) in reasons {
                writeln!(f, "    {:<32} {count:>10}", reason.as_str())?;
            }
        }
        if !self.repairs.is_empty() {
            writeln!(f, "\n  repairs of accepted records")?;
            for (repair, count) in &self.repairs {
                writeln!(f, "    {repair:<32} {count:>10}")?;
            }
        }
        for (entity, fields) in &self.completeness {
            writeln!(f, "\n  completeness of {entity} fields (non-null share)")?;
            let mut fields: Vec<_> = fields.iter().collect();
            fields.sort_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)));
            for (field, share) in fields {
                writeln!(f, "    {field:<24} {:>7.2} %", share * 100.0)?;
            }
        }
        Ok(())
    }
}
