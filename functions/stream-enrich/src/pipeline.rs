//! Per-record processing of one slice: decode → validate + clean → deduplicate. Everything here
//! is pure; what cannot succeed becomes a quarantine entry and never a retry.

use crate::source::{Slice, SourceRecord};
use shopstream::clean::{accept, CleanRecord};
use shopstream::config::CoreConfig;
use shopstream::decode::decode_payload;
use shopstream::dedupe::Deduplicator;
use shopstream::quarantine::QuarantineEntry;
use shopstream::reason::Rejection;

/// A kept record and its index in the slice.
#[derive(Debug, Clone)]
pub struct Accepted<'a> {
    pub index: usize,
    pub record: CleanRecord<'a>,
}

/// A refused record and its index in the slice.
#[derive(Debug, Clone)]
pub struct Refused {
    pub index: usize,
    pub entry: QuarantineEntry,
}

/// The outcome of a slice's records, each list in slice order.
#[derive(Debug, Clone, Default)]
pub struct Triage<'a> {
    pub accepted: Vec<Accepted<'a>>,
    pub refused: Vec<Refused>,
}

/// Decodes, validates, cleans and deduplicates (first occurrence of an `event_id` wins) the
/// records of a slice. Validation runs against each record's arrival time, so the outcome is
/// a pure function of the slice.
pub fn triage<'a>(slice: &'a Slice, core: &CoreConfig) -> Triage<'a> {
    let mut triage = Triage {
        accepted: Vec::with_capacity(slice.records.len()),
        refused: Vec::new(),
    };
    let mut dedupe = Deduplicator::with_capacity(slice.records.len());
    for (index, source) in slice.records.iter().enumerate() {
        match process(source, core, &mut dedupe) {
            Ok(record) => triage.accepted.push(Accepted { index, record }),
            Err(entry) => triage.refused.push(Refused {
                index,
                entry: *entry,
            }),
        }
    }
    triage
}

fn process<'a>(
    source: &'a SourceRecord,
    core: &CoreConfig,
    dedupe: &mut Deduplicator,
) -> Result<CleanRecord<'a>, Box<QuarantineEntry>> {
    let refuse = |payload: &[u8], rejections: Vec<Rejection>| {
        Box::new(QuarantineEntry::new(
            payload,
            rejections,
            source.position.clone(),
            source.arrival,
        ))
    };
    let payload = match &source.payload {
        Ok(payload) => payload.as_slice(),
        Err(rejection) => return Err(refuse(&source.raw, vec![rejection.clone()])),
    };
    let decoded = decode_payload(payload, &core.avro_schemas)
        .map_err(|rejection| refuse(payload, vec![rejection]))?;
    let entity = decoded.record.entity();
    let event_id = decoded.record.event_id_text();
    let clean = accept(decoded, source.arrival, &core.validation).map_err(|rejections| {
        Box::new(refuse(payload, rejections).with_record(entity, event_id.as_deref()))
    })?;
    if let Err(rejection) = dedupe.admit(clean.event_id()) {
        return Err(Box::new(
            refuse(payload, vec![rejection]).with_record(entity, Some(clean.event_id())),
        ));
    }
    Ok(clean)
}
