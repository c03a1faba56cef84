//! `shopstream run` end to end on the emulators (moto, PostgreSQL behind the local Data API),
//! with the summary JSON checked against what each stage independently counted: nothing lost,
//! every refusal accounted for, to the last table; and the HTML report parsed and opened in
//! headless Chromium.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// Runs `shopstream run` with `args` and returns its summary.
fn run(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path(), args)
}

/// Runs `shopstream run` with `args`, its report and summary going into `out`.
fn run_into(out: &Path, args: &[&str]) -> Value {
    let summary_path = out.join("summary.json");
    let output = Command::new(env!("CARGO_BIN_EXE_shopstream"))
        .arg("run")
        .args(args)
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "run failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap()
}

/// What every run must satisfy: nothing lost, and the lake read back agrees with what
/// stream-enrich reports it wrote and published.
fn assert_accounted(summary: &Value, events: u64) {
    let (ingest, enrich, lake, totals) = (
        &summary["ingest"],
        &summary["enrich"],
        &summary["lake"],
        &summary["totals"],
    );
    assert_eq!(count(&summary["generate"]["events"]), events);
    assert_eq!(count(&ingest["records"]), events);
    assert_eq!(
        count(&ingest["accepted"]) + count(&ingest["rejected"]),
        events
    );
    assert_eq!(
        count(&enrich["records_in"]),
        count(&ingest["accepted"]),
        "everything put on the stream was consumed"
    );
    assert_eq!(
        count(&lake["silver_rows"]) + count(&lake["quarantine_lines"]),
        count(&enrich["records_in"])
    );
    assert_eq!(
        count(&lake["silver_rows"]),
        count(&enrich["handler_accepted"])
    );
    assert_eq!(
        count(&lake["quarantine_lines"]),
        count(&enrich["handler_rejected"])
    );
    assert_eq!(
        count(&lake["silver_objects"]) + count(&lake["quarantine_objects"]),
        count(&enrich["objects_written"])
    );
    assert_eq!(
        count(&totals["in"]),
        count(&totals["accepted"]) + count(&totals["rejected"])
    );
    assert_eq!(totals["lost"], 0);
    assert_eq!(totals["disagreements"], serde_json::json!([]));
    assert_eq!(count(&enrich["reported_failures"]), 0);
    assert_eq!(
        count(&totals["fraud_alerts"]),
        count(&totals["fraud_alerts_published"]),
        "every alert stream-enrich published reached the bus"
    );
}

/// The charts the report must draw, each with data, for a 20,000-event run.
const REPORT_CHARTS: [&str; 16] = [
    "funnel",
    "rejection_reasons",
    "rejections_over_time",
    "latency_arrival_to_silver",
    "latency_arrival_to_alert",
    "fraud_score",
    "fraud_risk_mix",
    "revenue_by_day",
    "revenue_by_country",
    "revenue_by_category",
    "first_time_vs_repeat",
    "orders_by_device",
    "transaction_status_mix",
    "feedback_distribution",
    "hour_by_weekday",
    "top_products",
];

/// The batch half: gold read every silver transaction, the warehouse holds exactly gold's
/// facts and answers every KPI as DataFusion does, cleanup deleted what its dry run listed,
/// and every record is accounted for to the last table.
fn assert_accounted_to_the_warehouse(summary: &Value) {
    let (lake, batch, totals) = (&summary["lake"], &summary["batch"], &summary["totals"]);
    let gold = &batch["gold"];
    assert!(!gold["batches"].as_array().unwrap().is_empty());
    assert_eq!(
        count(&gold["silver_rows"]),
        count(&lake["silver_rows_by_entity"]["transaction"])
    );
    assert_eq!(
        count(&gold["silver_rows"]),
        count(&gold["fact_rows"]) + count(&gold["duplicates_dropped"])
    );
    assert_eq!(count(&gold["bad_inputs"]), 0);
    let warehouse = &batch["warehouse"];
    assert_eq!(
        count(&warehouse["batches_loaded"]),
        gold["batches"].as_array().unwrap().len() as u64
    );
    assert_eq!(
        count(&warehouse["table_rows"]["final_fact"]),
        count(&gold["fact_rows"]),
        "exactly gold's facts in the warehouse"
    );
    let kpis = warehouse["kpis"].as_array().unwrap();
    assert_eq!(kpis.len(), 17);
    for kpi in kpis {
        assert_eq!(kpi["identical"], true, "{kpi}");
    }
    let cleanup = &batch["cleanup"];
    assert!(count(&cleanup["deleted_objects"]) > 0);
    assert_eq!(
        count(&cleanup["deleted_objects"]),
        count(&cleanup["dry_run_objects"])
    );
    assert_eq!(
        count(&cleanup["batches_cleaned"]),
        count(&warehouse["batches_loaded"])
    );
    // in = refused + quarantined + fact rows + duplicates dropped + other silver rows
    //      - rows a retry wrote twice
    let account = &totals["record_account"];
    assert_eq!(account["lost"], 0, "{account}");
    assert_eq!(
        count(&account["in"]) + count(&account["retried_rows"]),
        count(&account["rejected_by_api"])
            + count(&account["quarantined"])
            + count(&account["fact_rows"])
            + count(&account["duplicates_dropped"])
            + count(&account["other_silver_rows"]),
        "{account}"
    );
}

/// `data-points` of the report's figure `id`, if it has one.
fn chart_points(html: &str, id: &str) -> Option<u64> {
    let marker = format!("data-chart=\"{id}\" data-points=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next()?.parse().ok()
}

/// The figure element of chart `id`.
fn figure<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("data-chart=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let end = html[start..].find("</figure>").unwrap() + start;
    &html[start..end]
}

/// Opens `report` in headless Chromium, takes a screenshot into `screenshot`, and returns
/// what Chromium logged about the page's console.
fn open_in_chromium(report: &Path, screenshot: &Path) -> String {
    let chromium = std::env::var("SHOPSTREAM_CHROMIUM")
        .ok()
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .expect("no Chromium: scripts/install-emulators.sh chromium installs it");
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,9000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.contains("CONSOLE") || line.contains("Uncaught"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn twenty_thousand_events_through_every_stage_to_the_warehouse_and_the_report() {
    // The report and its screenshot stay in the build's temporary directory for a person to
    // look at (target/tmp/run-report/, not committed).
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-report");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    // Four shards (not the default 40): a generated duplicate then often shares a slice with
    // its original, so stream-enrich quarantines it and the rejected table has rows.
    let summary = run_into(
        &out,
        &["--events", "20000", "--shards", "4", "--fraud-rate", "0.01"],
    );
    assert_accounted(&summary, 20_000);
    assert_accounted_to_the_warehouse(&summary);
    for kpi in summary["batch"]["warehouse"]["kpis"].as_array().unwrap() {
        assert!(count(&kpi["rows"]) > 0, "every KPI has an answer: {kpi}");
    }

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for id in REPORT_CHARTS {
        let points = chart_points(&html, id).unwrap_or_else(|| panic!("no chart {id}"));
        assert!(points > 0, "chart {id} has no data");
        let figure = figure(&html, id);
        assert!(
            figure.contains("<svg") && figure.contains("<rect"),
            "{id} is not drawn"
        );
    }
    assert_eq!(html.matches("data-kpi=").count(), 17, "a table per KPI");
    assert!(html.contains("17 of 17 identical"));
    assert!(html.contains("lost 0</span>"));
    assert!(!html.contains("<script") && !html.contains(" src=") && !html.contains(" href="));

    // `shopstream report` draws the same report again from the summary alone.
    let again = out.join("again.html");
    let status = Command::new(env!("CARGO_BIN_EXE_shopstream"))
        .args(["report", "--summary"])
        .arg(out.join("summary.json"))
        .arg("--out")
        .arg(&again)
        .status()
        .unwrap();
    assert!(status.success());
    let redrawn = std::fs::read_to_string(&again).unwrap();
    for id in REPORT_CHARTS {
        assert_eq!(chart_points(&redrawn, id), chart_points(&html, id), "{id}");
    }

    let screenshot = out.join("report.png");
    let console = open_in_chromium(&out.join("report.html"), &screenshot);
    assert!(console.is_empty(), "console messages: {console}");
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    eprintln!(
        "report: {}, screenshot: {}",
        out.join("report.html").display(),
        screenshot.display()
    );
    assert_eq!(count(&summary["enrich"]["shards"]), 4);
    assert!(count(&summary["lake"]["quarantine_lines"]) > 0);
    let (generate, ingest, lake, totals) = (
        &summary["generate"],
        &summary["ingest"],
        &summary["lake"],
        &summary["totals"],
    );

    // Every broken record the generator made was refused by the API with its own reason,
    // except duplicates, which only the stream side can see, and missing event ids, which the
    // API fills in server-side.
    let injected = generate["detail"]["anomalies"].as_object().unwrap();
    let refused = ingest["rejected_by_reason"].as_object().unwrap();
    let mut injected_at_api = 0;
    for (reason, made) in injected {
        if reason == "DUPLICATE_EVENT" {
            // A duplicate is either refused by stream-enrich (same slice) or a producer
            // duplicate in silver (another shard or batch), never both; one whose original the
            // API refused is no duplicate at all.
            let found = count(&lake["quarantine_by_reason"]["DUPLICATE_EVENT"])
                + count(&lake["silver_producer_duplicates"]);
            assert!(
                found <= count(made),
                "duplicates: {found} found of {made} made"
            );
            assert!(found * 10 >= count(made) * 9, "{found} of {made}");
            continue;
        }
        if reason == "MISSING_EVENT_ID" {
            assert_eq!(
                refused.get(reason),
                None,
                "the API assigns missing event ids"
            );
            continue;
        }
        injected_at_api += count(made);
        assert_eq!(
            refused.get(reason).map(count),
            Some(count(made)),
            "{reason}"
        );
    }
    assert_eq!(count(&ingest["rejected"]), injected_at_api);
    let silver = lake["silver_rows_by_entity"].as_object().unwrap();
    assert!(
        count(&silver["transaction"]) > 14_000
            && count(&silver["clickstream"]) > 2_000
            && count(&silver["inventory"]) > 500
    );
    assert!(count(&totals["fraud_alerts"]) > 0);
}

/// The transform stage on the EMR path: gold-transform routes every batch to EMR, the real
/// emr-launch handler launches it (on moto, whose steps never run), jobs/spark/run_models.py
/// runs on local PySpark as the step, and emr-launch settles the batch on the step's
/// COMPLETED event; then the warehouse, the KPIs and cleanup as usual.
#[test]
fn the_emr_path_with_spark_carries_a_run_to_the_warehouse() {
    let summary = run(&["--events", "3000", "--engine", "spark", "--no-report"]);
    assert_accounted(&summary, 3_000);
    assert_accounted_to_the_warehouse(&summary);
    let gold = &summary["batch"]["gold"];
    assert_eq!(gold["engine"], "spark");
    assert_eq!(gold["too_large"], serde_json::json!([]));
}

/// One shard holding every record: GetRecords pages of 10,000 whose events would pass 6 MB,
/// so a page is cut into several invocations, in order, and still nothing is lost.
#[test]
fn pages_larger_than_six_megabytes_are_cut_into_several_invocations() {
    let summary = run(&[
        "--events",
        "12000",
        "--shards",
        "1",
        "--shard-concurrency",
        "1",
    ]);
    assert_accounted(&summary, 12_000);
    let enrich = &summary["enrich"];
    assert_eq!(count(&enrich["shards"]), 1);
    assert!(count(&enrich["payload_limited_invocations"]) >= 2);
    // More invocations than GetRecords calls (the last of which finds the shard's end).
    assert!(count(&enrich["invocations"]) > count(&enrich["get_records_calls"]));
    assert!(count(&enrich["largest_event_bytes"]) <= 6 * 1024 * 1024);
    // One shard: a duplicate the generator makes (the previous transaction's event_id, sent
    // next) shares a slice with its original unless a batch boundary falls between them, so
    // stream-enrich refuses nearly all of them; without its dedupe none would be refused.
    let made = count(&summary["generate"]["detail"]["anomalies"]["DUPLICATE_EVENT"]);
    let caught = count(&summary["lake"]["quarantine_by_reason"]["DUPLICATE_EVENT"]);
    let boundaries = count(&enrich["invocations"]);
    // The seeded generator makes 10 here; without the dedupe at most `boundaries` (≈ 4)
    // + made / 10 of them would be accounted for.
    assert!(made >= 8, "the generator made {made} duplicates");
    // Each boundary can separate one pair; an original refused by the API leaves its copy
    // without a twin (about 3.4 % of records carry an anomaly).
    assert!(
        caught + boundaries + made / 10 >= made,
        "{caught} of {made} duplicates refused across {boundaries} invocations"
    );
}

/// Lambda's failures injected into the local event source mapping and S3: invocations that
/// time out after their writes (bisected on retry), PUTs that fail or lose their answer,
/// redelivered batches. Nothing may be lost, and every retry duplicate in silver must be
/// explained by an injected timeout.
#[test]
fn faults_lose_nothing_and_duplicates_stay_within_what_the_timeouts_explain() {
    let events = std::env::var("SHOPSTREAM_FAULT_RUN_EVENTS").unwrap_or_else(|_| "20000".into());
    let summary = run(&[
        "--events",
        &events,
        "--batch-size",
        "500",
        "--faults",
        // Rates above the (0.02/0.01) so that a CI-sized run injects every kind;
        // `shopstream run --events 200000` with the rates is the larger figure.
        "timeout-after-write=0.1,bisect=on,put-fail=0.03,put-lost-answer=0.03,redeliver=0.05",
    ]);
    let (ingest, enrich, lake, totals, faults) = (
        &summary["ingest"],
        &summary["enrich"],
        &summary["lake"],
        &summary["totals"],
        &summary["faults"],
    );
    let events: u64 = events.parse().unwrap();
    assert_eq!(count(&enrich["records_in"]), count(&ingest["accepted"]));
    assert_eq!(totals["lost"], 0);
    assert_eq!(faults["lost"], 0);
    assert_eq!(
        count(&totals["in"]),
        count(&totals["accepted"]) + count(&totals["rejected"])
    );
    assert_eq!(count(&totals["in"]), events);
    assert_eq!(totals["disagreements"], serde_json::json!([]));
    let injected = &faults["injected"];
    for kind in [
        "timeouts_after_write",
        "bisects",
        "put_failures",
        "put_lost_answers",
        "redeliveries",
    ] {
        assert!(count(&injected[kind]) > 0, "no {kind} injected: {injected}");
    }
    // Retry duplicates: at most the records of the timed-out invocations (each written under
    // the full range and again under its half's), and some, since a bisected retry writes
    // under new names.
    let retry = count(&faults["retry_duplicates"]);
    assert!(retry <= count(&injected["timed_out_records"]), "{faults}");
    assert!(retry > 0, "{faults}");
    assert!(count(&lake["silver_rows"]) > count(&lake["silver_distinct_positions"]));
}

/// A live run: 600 events a second for five seconds while the stream is followed, 2 % of the
/// transactions seeded as fraud. Every seeded transaction raises an alert that reaches the
/// bus's consumer, and the arrival → alert latency is measured (printed, not asserted: a
/// figure, not a test of this machine's speed).
#[test]
fn a_live_run_alerts_on_every_seeded_fraud_transaction_and_measures_the_latency() {
    let summary = run(&["--rate", "600", "--seconds", "5", "--fraud-rate", "0.02"]);
    assert_accounted(&summary, 3_000);
    let live = &summary["live"];
    assert!(count(&live["seeded_fraud"]) > 20, "{live}");
    assert_eq!(
        live["seeded_fraud_missing"],
        serde_json::json!([]),
        "{live}"
    );
    assert_eq!(
        count(&live["seeded_fraud_alerted"]),
        count(&live["seeded_fraud"])
    );
    // Each alert the bus archived was delivered to the consumer once (no retries here).
    assert_eq!(
        count(&live["alerts_received"]),
        count(&summary["totals"]["fraud_alerts"])
    );
    assert_eq!(
        count(&live["alerts_received_distinct"]),
        count(&live["alerts_received"])
    );
    // The stream was read while it was written: more reads than a drain after the fact.
    assert!(
        count(&summary["enrich"]["get_records_calls"]) > count(&summary["enrich"]["shards"]) * 2
    );
    let enrich = &summary["enrich"];
    for (section, figure) in [
        (enrich, "arrival_to_alert_ms_p50"),
        (enrich, "arrival_to_alert_ms_p99"),
        (live, "arrival_to_delivery_ms_p99"),
    ] {
        assert!(
            section[figure].as_f64().is_some_and(|ms| ms > 0.0),
            "{figure}: {section}"
        );
    }
    eprintln!(
        "live run at {} events/s ({:.0} sent): arrival → alert p50 {} ms, p99 {} ms, max {} ms; delivered p99 {} ms",
        live["rate"],
        live["records_per_second"].as_f64().unwrap_or(0.0),
        enrich["arrival_to_alert_ms_p50"],
        enrich["arrival_to_alert_ms_p99"],
        enrich["arrival_to_alert_ms_max"],
        live["arrival_to_delivery_ms_p99"],
    );
}
