//! The run's summary: stage by stage, printed for people and serialised for machines.

use super::esm::EnrichStage;
use super::ingest::IngestStage;
use super::readback::LakeContents;
use crate::generate::GeneratedCounts;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Serialize)]
pub struct GenerateStage {
    pub events: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub detail: GeneratedCounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// Events generated and sent to the API.
    pub r#in: u64,
    /// Rows that reached silver.
    pub accepted: u64,
    /// Refused by the API (answered to the caller) plus quarantined by stream-enrich.
    pub rejected: u64,
    pub rejected_by_api: u64,
    pub quarantined: u64,
    /// in − accepted − rejected: records unaccounted for (must be 0).
    pub lost: i64,
    pub fraud_alerts: u64,
    pub wall_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub generate: GenerateStage,
    pub ingest: IngestStage,
    pub enrich: EnrichStage,
    pub lake: LakeContents,
    pub totals: Totals,
}

impl RunSummary {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        generated: GeneratedCounts,
        generate_seconds: f64,
        bytes: usize,
        ingest: IngestStage,
        enrich: EnrichStage,
        lake: LakeContents,
        fraud_alerts: u64,
        wall_seconds: f64,
    ) -> Self {
        let accepted = lake.silver_rows;
        let rejected = ingest.rejected + lake.quarantine_lines;
        let totals = Totals {
            r#in: generated.events,
            accepted,
            rejected,
            rejected_by_api: ingest.rejected,
            quarantined: lake.quarantine_lines,
            lost: generated.events as i64 - accepted as i64 - rejected as i64,
            fraud_alerts,
            wall_seconds,
        };
        RunSummary {
            generate: GenerateStage {
                events: generated.events,
                bytes: bytes as u64,
                seconds: generate_seconds,
                events_per_second: generated.events as f64 / generate_seconds.max(1e-9),
                detail: generated,
            },
            ingest,
            enrich,
            lake,
            totals,
        }
    }
}

fn rate(count: u64, seconds: f64) -> f64 {
    count as f64 / seconds.max(1e-9)
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (g, i, e, l, t) = (
            &self.generate,
            &self.ingest,
            &self.enrich,
            &self.lake,
            &self.totals,
        );
        writeln!(f, "shopstream run — streaming half on local emulators")?;
        writeln!(
            f,
            "  stage          records in   records out   rejected     seconds    records/s"
        )?;
        writeln!(
            f,
            "  generate       {:>10}   {:>11}   {:>8}   {:>9.2}   {:>10.0}",
            g.events, g.events, 0, g.seconds, g.events_per_second
        )?;
        writeln!(
            f,
            "  ingest-api     {:>10}   {:>11}   {:>8}   {:>9.2}   {:>10.0}",
            i.records,
            i.accepted,
            i.rejected,
            i.seconds,
            rate(i.records, i.seconds)
        )?;
        writeln!(
            f,
            "  stream-enrich  {:>10}   {:>11}   {:>8}   {:>9.2}   {:>10.0}",
            e.records_in,
            l.silver_rows,
            l.quarantine_lines,
            e.seconds,
            rate(e.records_in, e.seconds)
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  API requests: {} ({} per status: {:?}); latency p50 {:.1} ms, p99 {:.1} ms",
            i.requests,
            i.requests,
            i.responses_by_status,
            i.request_latency_ms_p50,
            i.request_latency_ms_p99
        )?;
        writeln!(f, "  refused by the API: {:?}", i.rejected_by_reason)?;
        writeln!(f, "  enrich invocations: {} (retried batches {}, reported failures {}); {:.1} s in the handler, {:.1} s in GetRecords",
            e.invocations, e.retried_batches, e.reported_failures, e.handler_seconds, e.get_records_seconds)?;
        writeln!(f, "  arrival-to-silver latency: p50 {:.0} ms, p99 {:.0} ms (reading the stream after ingestion finished)",
            e.arrival_to_silver_ms_p50, e.arrival_to_silver_ms_p99)?;
        writeln!(
            f,
            "  silver: {} rows in {} objects ({:.1} MB) {:?}; duplicate event_ids: {}",
            l.silver_rows,
            l.silver_objects,
            l.silver_bytes as f64 / 1e6,
            l.silver_rows_by_entity,
            l.silver_duplicate_event_ids
        )?;
        writeln!(
            f,
            "  quarantine: {} lines in {} objects {:?}",
            l.quarantine_lines, l.quarantine_objects, l.quarantine_by_reason
        )?;
        writeln!(f, "  fraud alerts published: {}", t.fraud_alerts)?;
        writeln!(f)?;
        writeln!(
            f,
            "  in {} = accepted {} + rejected {} (API {} + quarantine {}); lost {}; wall {:.1} s",
            t.r#in,
            t.accepted,
            t.rejected,
            t.rejected_by_api,
            t.quarantined,
            t.lost,
            t.wall_seconds
        )
    }
}
