//! `replay-quarantine`: quarantine entries → correction → current rules → back on the stream
//! with their original `event_id`; replayed entries move to `quarantine/replayed/…` with the
//! outcome, the rest stay where they were with their current reasons.
//!
//! Order of effects, so a failure at any point loses nothing: every entry is judged before
//! anything is sent (a refused correction stops the request with nothing changed); records are
//! sent; the replayed object is written (merged with what an earlier run recorded there); only
//! then is the source object rewritten without the replayed entries. An entry already recorded
//! as replayed is never sent again, so replaying the same prefix twice sends nothing the second
//! time. A crash between sending and recording can send a record twice: its `event_id` makes
//! the twin a no-op in gold.

use crate::correction::{Correction, CorrectionError, CorrectionSpec};
use crate::report::Report;
use crate::revalidate::{corrected_payload, judge, with_new_reasons, EventIdChanged, Verdict};
use crate::sink::{Destination, Outgoing, ReplaySinks};
use crate::store::{
    entry_identity, is_entry_key, replayed_jsonl, replayed_key, ReplayRecord, ReplayedEntry, Store,
    StoreError, REPLAYED_PREFIX, UNRECOVERABLE_PREFIX,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shopstream::config::CoreConfig;
use shopstream::lake::QUARANTINE;
use shopstream::quarantine::{to_jsonl, QuarantineEntry};
use shopstream::reason::{RejectReason, Rejection};
use std::collections::HashSet;
use thiserror::Error;

pub const MODE: &str = "replay-quarantine";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuarantineRequest {
    #[serde(default)]
    pub mode: Option<String>,
    /// Every entry object under this prefix (which must be inside `quarantine/`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Or exactly these entry objects.
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub correction: Option<CorrectionSpec>,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Error)]
pub enum RequestError {
    #[error("give either prefix or keys")]
    NoSelection,
    #[error("give either prefix or keys, not both")]
    BothSelections,
    #[error("{0:?} is not a quarantine entry location: use a prefix or .jsonl key under quarantine/ (not {REPLAYED_PREFIX} or {UNRECOVERABLE_PREFIX})")]
    OutsideQuarantine(String),
    #[error(transparent)]
    Correction(#[from] CorrectionError),
    #[error(transparent)]
    EventIdChanged(#[from] EventIdChanged),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn check_prefix(prefix: &str) -> Result<(), RequestError> {
    let inside = prefix.starts_with(&format!("{QUARANTINE}/"))
        && !prefix.starts_with(REPLAYED_PREFIX)
        && !prefix.starts_with(UNRECOVERABLE_PREFIX)
        && !prefix.split('/').any(|part| part == "..");
    // Listing skips the replayed and DLQ records, so "quarantine/" itself is a valid prefix.
    if inside {
        Ok(())
    } else {
        Err(RequestError::OutsideQuarantine(prefix.to_owned()))
    }
}

pub struct ReplayContext<'a> {
    pub store: &'a Store,
    pub sinks: &'a ReplaySinks,
    pub core: &'a CoreConfig,
    pub now: DateTime<Utc>,
}

/// One entry and what was decided for it.
struct Judged {
    entry: QuarantineEntry,
    verdict: Judgement,
}

enum Judgement {
    AlreadyReplayed,
    Replay {
        outgoing: Outgoing,
        corrected: Option<String>,
    },
    Refused(Vec<Rejection>),
    Duplicate,
}

struct ObjectPlan {
    key: String,
    /// The object as read, so an object nothing changed in is not rewritten.
    original: Vec<QuarantineEntry>,
    judged: Vec<Judged>,
    replayed_before: Vec<ReplayedEntry>,
}

async fn plan_object(
    ctx: &ReplayContext<'_>,
    key: &str,
    entries: Vec<QuarantineEntry>,
    correction: Option<&Correction>,
) -> Result<ObjectPlan, RequestError> {
    let replayed_before = ctx.store.replayed(&replayed_key(key)).await?;
    let done: HashSet<(Option<String>, String)> = replayed_before
        .iter()
        .map(ReplayedEntry::identity)
        .collect();
    let mut judged = Vec::with_capacity(entries.len());
    let original = entries.clone();
    for entry in entries {
        let verdict = if done.contains(&entry_identity(&entry)) {
            Judgement::AlreadyReplayed
        } else {
            match entry.raw_payload() {
                Err(err) => Judgement::Refused(vec![Rejection::new(
                    RejectReason::DecodeError,
                    format!("quarantined payload is not valid base64: {err}"),
                )]),
                Ok(raw) => {
                    let corrected = corrected_payload(&entry, &raw, correction)?;
                    let was_corrected = corrected.is_some();
                    let payload = corrected.unwrap_or(raw);
                    match judge(&entry, payload, was_corrected, ctx.now, ctx.core) {
                        Verdict::Duplicate => Judgement::Duplicate,
                        Verdict::Refused(rejections) => Judgement::Refused(rejections),
                        Verdict::Replay {
                            payload,
                            partition_key,
                            corrected,
                            event_id,
                        } => Judgement::Replay {
                            corrected: corrected
                                .then(|| String::from_utf8_lossy(&payload).into_owned()),
                            outgoing: Outgoing {
                                partition_key,
                                data: payload,
                                // As ingest-api's Kafka sink sends it (Kinesis has no headers).
                                headers: std::collections::BTreeMap::from([(
                                    "event_id".to_owned(),
                                    event_id.into_bytes(),
                                )]),
                            },
                        },
                    }
                }
            }
        };
        judged.push(Judged { entry, verdict });
    }
    Ok(ObjectPlan {
        key: key.to_owned(),
        original,
        judged,
        replayed_before,
    })
}

pub async fn replay_quarantine(
    ctx: &ReplayContext<'_>,
    request: QuarantineRequest,
    default_dry_run: bool,
) -> Result<Report, RequestError> {
    let dry_run = request.dry_run.unwrap_or(default_dry_run);
    let correction = match request.correction {
        Some(spec) => Correction::from_spec(spec)?,
        None => None,
    };
    let keys = match (request.prefix.as_deref(), request.keys.is_empty()) {
        (Some(_), false) => return Err(RequestError::BothSelections),
        (None, true) => return Err(RequestError::NoSelection),
        (Some(prefix), true) => {
            check_prefix(prefix)?;
            ctx.store.list_entry_objects(prefix).await?
        }
        (None, false) => {
            if let Some(bad) = request.keys.iter().find(|k| !is_entry_key(k)) {
                return Err(RequestError::OutsideQuarantine(bad.clone()));
            }
            request.keys.clone()
        }
    };

    let mut report = Report::new(MODE, dry_run);
    let mut plans = Vec::new();
    for key in keys {
        report.inputs += 1;
        match ctx.store.entries(&key).await {
            Ok(Some(entries)) => {
                report.records += entries.len();
                plans.push(plan_object(ctx, &key, entries, correction.as_ref()).await?);
            }
            Ok(None) => {
                report.count("missing_object", 1);
                report.problem(key, "no such object");
            }
            Err(err @ StoreError::Unreadable { .. }) => {
                report.count("unreadable_object", 1);
                report.problem(key, err.to_string());
            }
            Err(err) => return Err(err.into()),
        }
    }

    // Each record goes back to the stream it came from.
    let outgoing: Vec<(Destination, Outgoing)> = plans
        .iter()
        .flat_map(|p| &p.judged)
        .filter_map(|j| match &j.verdict {
            Judgement::Replay { outgoing, .. } => {
                Some((Destination::of(&j.entry.position), outgoing.clone()))
            }
            _ => None,
        })
        .collect();
    let mut sent = if dry_run {
        Vec::new()
    } else {
        ctx.sinks.send(&outgoing).await
    }
    .into_iter();

    for plan in plans {
        let mut replayed = plan.replayed_before;
        let replayed_before = replayed.len();
        let mut remaining = Vec::new();
        for judged in plan.judged {
            match judged.verdict {
                Judgement::AlreadyReplayed => report.count("already_replayed", 1),
                Judgement::Duplicate => {
                    report.count("duplicate", 1);
                    remaining.push(judged.entry);
                }
                Judgement::Refused(rejections) => {
                    report.count("still_refused", 1);
                    let updated = with_new_reasons(&judged.entry, rejections);
                    for reason in &updated.reasons {
                        *report.reasons.entry(reason.to_string()).or_default() += 1;
                    }
                    remaining.push(updated);
                }
                Judgement::Replay { .. } if dry_run => report.count("would_replay", 1),
                Judgement::Replay { corrected, .. } => match sent.next() {
                    Some(Ok((shard_id, sequence_number))) => {
                        report.count("replayed", 1);
                        let stream = ctx
                            .sinks
                            .name(Destination::of(&judged.entry.position))
                            .unwrap_or_default()
                            .to_owned();
                        replayed.push(ReplayedEntry {
                            entry: judged.entry,
                            replay: ReplayRecord {
                                outcome: "replayed".into(),
                                replayed_at: ctx.now,
                                stream,
                                shard_id,
                                sequence_number,
                                corrected_payload: corrected,
                            },
                        });
                    }
                    failed => {
                        let error = match failed {
                            Some(Err(error)) => error,
                            _ => "no answer from the stream".to_owned(),
                        };
                        report.count("send_failed", 1);
                        report.problem(format!("{} {:?}", plan.key, judged.entry.event_id), error);
                        remaining.push(judged.entry);
                    }
                },
            }
        }
        if dry_run {
            continue;
        }
        if replayed.len() > replayed_before {
            ctx.store
                .put(
                    &replayed_key(&plan.key),
                    replayed_jsonl(&replayed),
                    "application/x-ndjson",
                )
                .await?;
        }
        if remaining.is_empty() {
            ctx.store.delete(&plan.key).await?;
        } else if remaining != plan.original {
            ctx.store
                .put(&plan.key, to_jsonl(&remaining), "application/x-ndjson")
                .await?;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_stay_inside_the_quarantine() {
        for ok in [
            "quarantine/",
            "quarantine/transaction/",
            "quarantine/transaction/dt=2024-11-05/",
            "quarantine/unknown/dt=2024-11-05/hour=07/x.jsonl",
        ] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "silver/",
            "quarantine",
            "quarantine/replayed/",
            "quarantine/_dlq/",
            "quarantine/../silver/",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
