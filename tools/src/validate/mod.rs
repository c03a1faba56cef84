//! `shopstream validate FILE`: decode, validate and clean every record of a file and report on
//! its quality: counts, acceptance rate, reasons, completeness per field.

mod input;
mod report;

pub use input::{container_entity, InputFormat};
pub use report::{QualityReport, RejectLine};

use anyhow::Result;
use chrono::{DateTime, Utc};
use shopstream::clean::accept;
use shopstream::decode::AvroSchemas;
use shopstream::dedupe::Deduplicator;
use shopstream::validate::ValidationRules;
use std::io::Write;
use std::path::Path;

pub struct ValidateOptions<'a> {
    pub format: InputFormat,
    pub schemas: AvroSchemas,
    pub rules: ValidationRules,
    pub now: DateTime<Utc>,
    /// Where to write one JSON line per refused record.
    pub rejects: Option<&'a mut dyn Write>,
}

/// Reads every record of `path` and reports on it.
pub fn validate_file(path: &Path, mut options: ValidateOptions<'_>) -> Result<QualityReport> {
    let mut report = QualityReport::new(path, options.format, options.now);
    let mut dedupe = Deduplicator::new();
    input::for_each_record(
        path,
        options.format,
        &options.schemas,
        |position, decoded| {
            let outcome = decoded.map(|decoded| {
                report.observe_fields(&decoded.record);
                let event_id = decoded.record.event_id().map(str::to_owned);
                let entity = decoded.record.entity();
                let result = accept(decoded, options.now, &options.rules).and_then(|clean| {
                    dedupe
                        .admit(clean.event_id())
                        .map(|()| clean)
                        .map_err(|r| vec![r])
                });
                (entity, event_id, result)
            });
            let line = report.count(position, outcome);
            if let (Some(line), Some(rejects)) = (line, options.rejects.as_deref_mut()) {
                serde_json::to_writer(&mut *rejects, &line)?;
                rejects.write_all(b"\n")?;
            }
            Ok(())
        },
    )?;
    report.finish();
    Ok(report)
}
