//! The run's summary: stage by stage, printed for people and serialised for machines.

use super::batch::BatchHalf;
use super::esm::EnrichStage;
use super::faults::{FaultCounts, FaultSpec};
use super::ingest::IngestStage;
use super::live::LiveReport;
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
    /// Stage counts that disagree (must be empty): records consumed vs accepted by the API,
    /// silver rows / quarantine lines / objects read back vs what stream-enrich reports, alerts
    /// archived vs published.
    pub disagreements: Vec<String>,
    /// With the batch half: the accounting to the last table, `in = rejected_by_api +
    /// quarantined + fact_rows + duplicates_dropped + other_silver_rows - retried_rows`
    /// (nothing lost when `lost` is 0).
    pub record_account: Option<RecordAccount>,
    /// `FraudSuspected` alerts that reached the bus (its archive's event count) ...
    pub fraud_alerts: u64,
    /// ... of the alerts stream-enrich reports it published.
    pub fraud_alerts_published: u64,
    /// Creating the stream, table (with its seeded profiles), bucket, bus and archive.
    pub setup_seconds: f64,
    pub wall_seconds: f64,
}

/// Every record generated, accounted for down to the last table.
#[derive(Debug, Clone, Serialize)]
pub struct RecordAccount {
    pub r#in: u64,
    pub rejected_by_api: u64,
    pub quarantined: u64,
    /// Rows of `final_fact` (one per distinct accepted transaction `event_id`).
    pub fact_rows: u64,
    /// Silver transaction rows gold dropped as an `event_id` already in the batch or in gold.
    pub duplicates_dropped: u64,
    /// Silver rows of the entities gold does not model (clickstream, inventory).
    pub other_silver_rows: u64,
    /// Rows written twice for one source position by a retried invocation (they are among
    /// `duplicates_dropped` or `other_silver_rows`).
    pub retried_rows: u64,
    /// `in` minus the rest: must be 0.
    pub lost: i64,
}

impl RecordAccount {
    fn new(generated: u64, ingest: &IngestStage, lake: &LakeContents, batch: &BatchHalf) -> Self {
        let transactions = lake
            .silver_rows_by_entity
            .get("transaction")
            .copied()
            .unwrap_or_default();
        let other_silver_rows = lake.silver_rows - transactions;
        let accounted = ingest.rejected
            + lake.quarantine_only_positions
            + batch.gold.fact_rows
            + batch.gold.duplicates_dropped
            + other_silver_rows;
        RecordAccount {
            r#in: generated,
            rejected_by_api: ingest.rejected,
            quarantined: lake.quarantine_only_positions,
            fact_rows: batch.gold.fact_rows,
            duplicates_dropped: batch.gold.duplicates_dropped,
            other_silver_rows,
            retried_rows: lake.silver_retry_duplicates,
            lost: generated as i64 - (accounted as i64 - lake.silver_retry_duplicates as i64),
        }
    }
}

/// What the batch half must show: gold read every silver transaction row and kept one fact
/// per event_id, nothing was too large or unreadable, the warehouse holds exactly gold's facts
/// and answers every KPI as DataFusion does, and cleanup deleted what it listed.
fn batch_disagreements(lake: &LakeContents, batch: &BatchHalf) -> Vec<String> {
    let mut found = Vec::new();
    let gold = &batch.gold;
    let transactions = lake
        .silver_rows_by_entity
        .get("transaction")
        .copied()
        .unwrap_or_default();
    if gold.silver_rows != transactions {
        found.push(format!(
            "gold read {} silver transaction rows, silver holds {transactions}",
            gold.silver_rows
        ));
    }
    if gold.silver_rows != gold.fact_rows + gold.duplicates_dropped {
        found.push(format!(
            "gold: {} silver rows != {} fact rows + {} duplicates dropped",
            gold.silver_rows, gold.fact_rows, gold.duplicates_dropped
        ));
    }
    if !gold.too_large.is_empty() {
        found.push(format!(
            "batches over MAX_BATCH_ROWS, routed to EMR and not transformed here: {:?}",
            gold.too_large
        ));
    }
    if gold.bad_inputs > 0 {
        found.push(format!("{} unreadable silver inputs", gold.bad_inputs));
    }
    if let Some(warehouse) = &batch.warehouse {
        let facts = warehouse
            .table_rows
            .get("final_fact")
            .copied()
            .unwrap_or_default();
        if facts != gold.fact_rows {
            found.push(format!(
                "the warehouse holds {facts} fact rows, gold {}",
                gold.fact_rows
            ));
        }
        for (batch_id, error) in &warehouse.batches_failed {
            found.push(format!("load of {batch_id} failed: {error}"));
        }
        for kpi in warehouse.kpis.iter().filter(|k| !k.identical) {
            found.push(format!(
                "KPI {} differs between DataFusion and the warehouse: {}",
                kpi.name,
                kpi.difference.as_deref().unwrap_or_default()
            ));
        }
    }
    if let Some(cleanup) = &batch.cleanup {
        if cleanup.failed > 0 {
            found.push(format!(
                "s3-cleanup could not delete {} keys",
                cleanup.failed
            ));
        }
        if cleanup.deleted_objects != cleanup.dry_run_objects {
            found.push(format!(
                "s3-cleanup deleted {} objects, its dry run listed {}",
                cleanup.deleted_objects, cleanup.dry_run_objects
            ));
        }
    }
    found
}

/// The faults injected and what silver holds because of them.
#[derive(Debug, Clone, Serialize)]
pub struct FaultsReport {
    pub spec: FaultSpec,
    pub injected: FaultCounts,
    pub silver_rows: u64,
    pub silver_distinct_event_ids: u64,
    /// Rows whose source position is in another row too (caused by retries).
    pub retry_duplicates: u64,
    /// The most retry duplicates the injected faults can cause: the records of the
    /// invocations that timed out after writing (every other fault is repaired by the
    /// handler or rewrites the same keys).
    pub retry_duplicate_bound: u64,
    /// Rows whose event_id another position carries (the producer sent it twice).
    pub producer_duplicates: u64,
    /// Records the stream held that are neither in silver nor in quarantine.
    pub lost: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub generate: GenerateStage,
    pub ingest: IngestStage,
    pub enrich: EnrichStage,
    pub lake: LakeContents,
    pub totals: Totals,
    pub faults: FaultsReport,
    /// A live run's alert latencies and seeded-fraud check.
    pub live: Option<LiveReport>,
    /// Gold, warehouse, KPIs and cleanup (not in a live run).
    pub batch: Option<BatchHalf>,
}

impl RunSummary {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        generated: GeneratedCounts,
        generate_seconds: f64,
        bytes: usize,
        setup_seconds: f64,
        ingest: IngestStage,
        enrich: EnrichStage,
        lake: LakeContents,
        fraud_alerts: u64,
        (spec, injected): (FaultSpec, FaultCounts),
        live: Option<LiveReport>,
        batch: Option<BatchHalf>,
        wall_seconds: f64,
    ) -> Self {
        // Records, not rows: a position written twice by a retry counts once.
        let accepted = lake.silver_distinct_positions;
        let rejected = ingest.rejected + lake.quarantine_only_positions;
        let lost = generated.events as i64 - accepted as i64 - rejected as i64;
        let mut disagreements = if spec.any() {
            // Retried and redelivered invocations count their records again in the
            // handler's metrics: the fault report's figures replace those cross-checks.
            fault_disagreements(&ingest, &enrich, &lake, &injected, lost)
        } else {
            disagreements(&ingest, &enrich, &lake, fraud_alerts)
        };
        if let Some(live) = &live {
            disagreements.extend(live_disagreements(live, fraud_alerts, spec.any()));
        }
        let record_account = batch.as_ref().map(|batch| {
            disagreements.extend(batch_disagreements(&lake, batch));
            RecordAccount::new(generated.events, &ingest, &lake, batch)
        });
        if let Some(account) = &record_account {
            if account.lost != 0 {
                disagreements.push(format!(
                    "{} records are neither refused, quarantined, fact rows, dropped duplicates nor other silver rows",
                    account.lost
                ));
            }
        }
        let faults = FaultsReport {
            spec,
            silver_rows: lake.silver_rows,
            silver_distinct_event_ids: lake.silver_distinct_event_ids,
            retry_duplicates: lake.silver_retry_duplicates,
            retry_duplicate_bound: injected.timed_out_records,
            producer_duplicates: lake.silver_producer_duplicates,
            lost,
            injected,
        };
        let totals = Totals {
            r#in: generated.events,
            accepted,
            rejected,
            rejected_by_api: ingest.rejected,
            quarantined: lake.quarantine_only_positions,
            lost,
            disagreements,
            record_account,
            fraud_alerts,
            fraud_alerts_published: enrich.alerts_published,
            setup_seconds,
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
            faults,
            live,
            batch,
        }
    }
}

/// What a live run must show: an alert received for every seeded fraud transaction, and (when
/// nothing is retried) one message for every alert the bus archived.
fn live_disagreements(live: &LiveReport, archived: u64, faults: bool) -> Vec<String> {
    let mut found = Vec::new();
    if !live.seeded_fraud_missing.is_empty() {
        found.push(format!(
            "{} of {} seeded fraud transactions raised no alert (first: {})",
            live.seeded_fraud_missing.len(),
            live.seeded_fraud,
            live.seeded_fraud_missing[0]
        ));
    }
    if !faults && live.alerts_received != archived {
        found.push(format!(
            "alert messages received ({}) != fraud alerts archived by the bus ({archived})",
            live.alerts_received
        ));
    }
    found
}

/// What must hold under faults: every record on the stream consumed and accounted for, and
/// no more retry duplicates than the injected timeouts can explain.
fn fault_disagreements(
    ingest: &IngestStage,
    enrich: &EnrichStage,
    lake: &LakeContents,
    injected: &FaultCounts,
    lost: i64,
) -> Vec<String> {
    let mut found = Vec::new();
    if enrich.records_in != ingest.accepted {
        found.push(format!(
            "records consumed from the stream ({}) != records the API accepted ({})",
            enrich.records_in, ingest.accepted
        ));
    }
    if lost != 0 {
        found.push(format!("{lost} records lost"));
    }
    if lake.silver_retry_duplicates > injected.timed_out_records {
        found.push(format!(
            "retry duplicates in silver ({}) exceed the records of timed-out invocations ({})",
            lake.silver_retry_duplicates, injected.timed_out_records
        ));
    }
    found
}

fn disagreements(
    ingest: &IngestStage,
    enrich: &EnrichStage,
    lake: &LakeContents,
    fraud_alerts: u64,
) -> Vec<String> {
    [
        (
            "records consumed from the stream",
            enrich.records_in,
            "records the API accepted",
            ingest.accepted,
        ),
        (
            "silver rows read back",
            lake.silver_rows,
            "records stream-enrich accepted",
            enrich.handler_accepted,
        ),
        (
            "quarantine lines read back",
            lake.quarantine_lines,
            "records stream-enrich rejected",
            enrich.handler_rejected,
        ),
        (
            "objects read back",
            lake.silver_objects + lake.quarantine_objects,
            "objects stream-enrich wrote",
            enrich.objects_written,
        ),
        (
            "fraud alerts archived by the bus",
            fraud_alerts,
            "alerts stream-enrich published",
            enrich.alerts_published,
        ),
    ]
    .into_iter()
    .filter(|(_, a, _, b)| a != b)
    .map(|(what, a, other, b)| format!("{what} ({a}) != {other} ({b})"))
    .collect()
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
        writeln!(
            f,
            "shopstream run — {} on local emulators",
            if self.batch.is_some() {
                "the whole pipeline"
            } else {
                "streaming half"
            }
        )?;
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
        writeln!(
            f,
            "  read back      {:>10}   {:>11}   {:>8}   {:>9.2}   {:>10.0}",
            l.silver_rows + l.quarantine_lines,
            l.silver_rows,
            l.quarantine_lines,
            l.seconds,
            rate(l.silver_rows + l.quarantine_lines, l.seconds)
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  API requests: {} ({} at a time; per status: {:?}); latency p50 {:.1} ms, p99 {:.1} ms; {:.1} s in PutRecords",
            i.requests,
            i.concurrency,
            i.responses_by_status,
            i.request_latency_ms_p50,
            i.request_latency_ms_p99,
            i.put_records_seconds
        )?;
        writeln!(f, "  refused by the API: {:?}", i.rejected_by_reason)?;
        writeln!(f, "  enrich: {} shards, {} at a time, batch size {}; {} GetRecords calls, {} invocations ({} cut short by the 6 MB payload limit, largest event {:.1} MB; retried batches {}, reported failures {}); summed over shards {:.1} s in the handler, {:.1} s in GetRecords",
            e.shards, e.concurrency, e.batch_size, e.get_records_calls, e.invocations, e.payload_limited_invocations,
            e.largest_event_bytes as f64 / 1e6, e.retried_batches, e.reported_failures, e.handler_seconds, e.get_records_seconds)?;
        match &self.live {
            None => writeln!(f, "  arrival-to-silver latency: p50 {:.0} ms, p99 {:.0} ms (reading the stream after ingestion finished)",
                e.arrival_to_silver_ms_p50, e.arrival_to_silver_ms_p99)?,
            Some(v) => {
                writeln!(f, "  live: {} events/s asked, {:.0} sent (latest request {:.0} ms behind schedule); shards polled every {} ms when idle",
                    v.rate, v.records_per_second, v.schedule_lag_ms_max, v.poll_interval_ms)?;
                writeln!(f, "  arrival-to-silver latency: p50 {:.0} ms, p99 {:.0} ms",
                    e.arrival_to_silver_ms_p50, e.arrival_to_silver_ms_p99)?;
                writeln!(f, "  arrival-to-alert latency (accepted by EventBridge): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} alerts",
                    e.arrival_to_alert_ms_p50, e.arrival_to_alert_ms_p99, e.arrival_to_alert_ms_max, e.alert_latencies_ms.len())?;
                writeln!(f, "    of which inside the invocation that scored it: p50 {:.0} ms, p99 {:.0} ms (the rest: waiting to be read, and for the shard's earlier invocations)",
                    e.invocation_to_alert_ms_p50, e.invocation_to_alert_ms_p99)?;
                writeln!(f, "  arrival-to-delivery latency (alert received from the bus's queue): p50 {:.0} ms, p99 {:.0} ms; {} messages, {} distinct event_ids",
                    v.arrival_to_delivery_ms_p50, v.arrival_to_delivery_ms_p99, v.alerts_received, v.alerts_received_distinct)?;
                writeln!(f, "  seeded fraud: {} transactions, {} alerted",
                    v.seeded_fraud, v.seeded_fraud_alerted)?;
            }
        }
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
        writeln!(
            f,
            "  stream-enrich's own counts: accepted {}, rejected {}, {} objects written",
            e.handler_accepted, e.handler_rejected, e.objects_written
        )?;
        writeln!(
            f,
            "  fraud alerts: {} published by stream-enrich, {} archived by the bus",
            t.fraud_alerts_published, t.fraud_alerts
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "  in {} = accepted {} + rejected {} (API {} + quarantine {}); lost {}; wall {:.1} s (setup {:.1} s)",
            t.r#in,
            t.accepted,
            t.rejected,
            t.rejected_by_api,
            t.quarantined,
            t.lost,
            t.wall_seconds,
            t.setup_seconds
        )?;
        if let Some(batch) = &self.batch {
            write_batch_half(f, batch)?;
        }
        if let Some(a) = &t.record_account {
            writeln!(
                f,
                "  to the last table: in {} = refused by the API {} + quarantined {} + fact rows {} + duplicates dropped {} + clickstream/inventory rows {} - rows written twice by retries {}; lost {}",
                a.r#in, a.rejected_by_api, a.quarantined, a.fact_rows, a.duplicates_dropped, a.other_silver_rows, a.retried_rows, a.lost
            )?;
        }
        let x = &self.faults;
        if x.spec.any() {
            let n = &x.injected;
            writeln!(
                f,
                "  faults injected: {} timeouts after write ({} records), {} bisects, {} PUTs failed, {} PUT answers lost, {} redeliveries",
                n.timeouts_after_write, n.timed_out_records, n.bisects, n.put_failures, n.put_lost_answers, n.redeliveries
            )?;
            writeln!(
                f,
                "  silver under faults: {} rows, {} distinct event_ids; duplicates: {} from retries (at most {}), {} from producers; lost {}",
                x.silver_rows, x.silver_distinct_event_ids, x.retry_duplicates, x.retry_duplicate_bound, x.producer_duplicates, x.lost
            )?;
        }
        if t.disagreements.is_empty() {
            writeln!(f, "  every stage's counts agree with what was read back")
        } else {
            writeln!(f, "  DISAGREEMENTS: {}", t.disagreements.join("; "))
        }
    }
}

fn write_batch_half(f: &mut fmt::Formatter<'_>, batch: &BatchHalf) -> fmt::Result {
    let g = &batch.gold;
    writeln!(
        f,
        "  gold-transform ({}): {} batches in {} invocations, {} silver transaction rows → {} fact rows, {} duplicates dropped, {} bad inputs, in {:.1} s; rows per table {:?}",
        match g.engine {
            super::batch::Engine::Datafusion => "DataFusion in the handler",
            super::batch::Engine::Spark => "routed to EMR: emr-launch, run_models.py on local PySpark",
        },
        g.batches.len(), g.invocations, g.silver_rows, g.fact_rows, g.duplicates_dropped, g.bad_inputs, g.seconds, g.table_rows
    )?;
    writeln!(
        f,
        "  KPIs: {} answered by DataFusion over gold in {:.1} s",
        batch.kpis.len(),
        batch.kpi_seconds
    )?;
    match &batch.warehouse {
        None => writeln!(f, "  warehouse: skipped (--warehouse none)")?,
        Some(w) => {
            writeln!(
                f,
                "  redshift-copy → {} (schema {}): {} batches loaded, {} failed, {} Data API statements, in {:.1} s; rows per table {:?}",
                w.target, w.schema, w.batches_loaded, w.batches_failed.len(), w.statements, w.load_seconds, w.table_rows
            )?;
            let identical = w.kpis.iter().filter(|k| k.identical).count();
            writeln!(
                f,
                "  KPI views in the warehouse vs DataFusion: {identical} of {} identical, compared in {:.1} s",
                w.kpis.len(),
                w.kpi_seconds
            )?;
        }
    }
    if let Some(c) = &batch.cleanup {
        writeln!(
            f,
            "  s3-cleanup (retention {} days): dry run listed {} objects ({:.1} MB); deleted {} ({:.1} MB), {} failed; {} batches cleaned, in {:.1} s",
            c.retention_days,
            c.dry_run_objects,
            c.dry_run_bytes as f64 / 1e6,
            c.deleted_objects,
            c.deleted_bytes as f64 / 1e6,
            c.failed,
            c.batches_cleaned,
            c.seconds
        )?;
    }
    Ok(())
}
