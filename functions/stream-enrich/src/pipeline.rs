//! Per-record processing of one slice: decode → validate + clean → deduplicate. Everything here
//! is pure; what cannot succeed becomes a quarantine entry and never a retry.

use crate::source::{Slice, SourceRecord};
use shopstream::clean::{accept, CleanRecord};
use shopstream::config::CoreConfig;
use shopstream::decode::decode_payload;
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
    /// `(first, duplicate)` slice indices of every record refused as `DUPLICATE_EVENT`: the
    /// handler keeps each pair on the same side of a failure cut, so a retry cannot accept
    /// the twin of a record this attempt kept.
    pub duplicates: Vec<(usize, usize)>,
}

/// Decodes, validates, cleans and deduplicates (first occurrence of an `event_id` wins) the
/// records of a slice. Validation runs against each record's arrival time, so the outcome is
/// a pure function of the slice.
pub fn triage<'a>(slice: &'a Slice, core: &CoreConfig) -> Triage<'a> {
    let mut triage = Triage {
        accepted: Vec::with_capacity(slice.records.len()),
        refused: Vec::new(),
        duplicates: Vec::new(),
    };
    let mut first_seen =
        FirstSeen::with_capacity_and_hasher(slice.records.len(), Default::default());
    for (index, source) in slice.records.iter().enumerate() {
        match process(source, index, core, &mut first_seen) {
            Ok(record) => triage.accepted.push(Accepted { index, record }),
            Err((entry, first)) => {
                if let Some(first) = first {
                    triage.duplicates.push((first, index));
                }
                triage.refused.push(Refused {
                    index,
                    entry: *entry,
                })
            }
        }
    }
    triage
}

/// The slice index of the first record of each `event_id`.
type FirstSeen = foldhash::HashMap<String, usize>;

/// `Ok` for the first record of an id; the `DUPLICATE_EVENT` refusal and the first
/// record's index after that.
fn admit(
    first_seen: &mut FirstSeen,
    event_id: &str,
    index: usize,
) -> Result<(), (Rejection, usize)> {
    match first_seen.get(event_id) {
        Some(first) => Err((
            Rejection::on_field(
                shopstream::reason::RejectReason::DuplicateEvent,
                "event_id",
                format!("event_id {event_id:?} already appeared earlier in this batch"),
            ),
            *first,
        )),
        None => {
            first_seen.insert(event_id.to_owned(), index);
            Ok(())
        }
    }
}

/// A refused record's quarantine entry and, for a duplicate, the first record's index.
type Refusal = (Box<QuarantineEntry>, Option<usize>);

fn process<'a>(
    source: &'a SourceRecord,
    index: usize,
    core: &CoreConfig,
    first_seen: &mut FirstSeen,
) -> Result<CleanRecord<'a>, Refusal> {
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
        Err(rejection) => return Err((refuse(&source.raw, vec![rejection.clone()]), None)),
    };
    let decoded = decode_payload(payload, &core.avro_schemas)
        .map_err(|rejection| (refuse(payload, vec![rejection]), None))?;
    let entity = decoded.record.entity();
    let event_id = decoded.record.event_id_text();
    let clean = accept(decoded, source.arrival, &core.validation).map_err(|rejections| {
        (
            Box::new(refuse(payload, rejections).with_record(entity, event_id.as_deref())),
            None,
        )
    })?;
    if let Err((rejection, first)) = admit(first_seen, clean.event_id(), index) {
        return Err((
            Box::new(refuse(payload, vec![rejection]).with_record(entity, Some(clean.event_id()))),
            Some(first),
        ));
    }
    Ok(clean)
}
