//! The HTML report of a run: one self-contained file (inline CSS and SVG, no script, nothing
//! fetched at view time) with the stage funnel and accounting, rejection reasons, latency
//! distributions, fraud scores, and the KPIs as charts and tables.
//!
//! Its inputs are the run's summary (as JSON, the `--summary-json` document, so
//! `shopstream report` can draw it again later) and answers over gold: the KPIs of
//! `jobs/sql/kpi` and the fraud-score distribution. Every chart is a `<figure
//! data-chart="<id>" data-points="<n>">`, so a test (or a person with a parser) can check that
//! each one is there and has data.

mod charts;

use crate::run::warehouse::{datafusion_kpis, KpiAnswer};
use anyhow::{Context, Result};
use arrow::array::{Array, Int64Array};
use datafusion::prelude::SessionContext;
use gold_transform::lake::Lake;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Everything the report shows.
pub struct ReportData {
    pub title: String,
    /// The run's summary JSON (`Value::Null` when there is none: KPIs only).
    pub summary: Value,
    pub kpis: Vec<KpiAnswer>,
    /// Fact rows per fraud-score tenth (`0.0–0.1`, …, `0.9–1.0`).
    pub fraud_scores: Vec<(String, f64)>,
}

/// The answers over gold the report needs: every KPI and the fraud-score distribution.
/// Gold is read once, into one session, for both.
pub async fn gold_answers(gold: &Lake) -> Result<(Vec<KpiAnswer>, Vec<(String, f64)>)> {
    let ctx = gold_transform::kpi::gold_session(gold)
        .await
        .context("registering the gold tables")?;
    let kpis = datafusion_kpis(&ctx).await?;
    Ok((kpis, fraud_score_distribution(&ctx).await?))
}

/// Fact rows per tenth of the fraud score, over the gold session (every tenth present, 0
/// when empty; a lake without facts has an empty `final_fact`).
pub async fn fraud_score_distribution(ctx: &SessionContext) -> Result<Vec<(String, f64)>> {
    let mut counts = [0_i64; 10];
    let frame = ctx
        .sql(
            "SELECT LEAST(CAST(FLOOR(CAST(fraud_score AS DOUBLE) * 10) AS BIGINT), 9) AS tenth, \
             COUNT(*) AS n FROM final_fact GROUP BY 1",
        )
        .await?;
    for batch in frame.collect().await? {
        let tenths = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .context("fraud-score tenth is not BIGINT")?;
        let rows = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .context("fraud-score count is not BIGINT")?;
        for i in 0..batch.num_rows() {
            if tenths.is_valid(i) {
                let tenth = tenths.value(i).clamp(0, 9) as usize;
                counts[tenth] += rows.value(i);
            }
        }
    }
    Ok(counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                format!("{:.1}–{:.1}", i as f64 / 10.0, (i + 1) as f64 / 10.0),
                *n as f64,
            )
        })
        .collect())
}

/// A chart drawing: labelled values and the value axis's label to an `<svg>`.
type Draw = fn(&[(String, f64)], &str) -> Result<String, charts::ChartError>;

/// One chart of the report.
struct Chart {
    id: &'static str,
    title: String,
    note: String,
    points: usize,
    svg: String,
}

fn chart(
    id: &'static str,
    title: impl Into<String>,
    note: impl Into<String>,
    items: &[(String, f64)],
    draw: Draw,
    unit: &str,
) -> Result<Chart> {
    let points = items.len();
    let svg = if points == 0 {
        String::new()
    } else {
        draw(items, unit)?
    };
    Ok(Chart {
        id,
        title: title.into(),
        note: note.into(),
        points,
        svg,
    })
}

/// The report as one HTML document.
pub fn render(data: &ReportData) -> Result<String> {
    let s = &data.summary;
    let kpi = |name: &str| data.kpis.iter().find(|k| k.name == name);
    let mut figures = Vec::new();

    figures.push(chart(
        "funnel",
        "Stage funnel",
        "Records at each stage; the accounting below says where every other record went.",
        &funnel(s),
        charts::horizontal_bars,
        "records",
    )?);
    figures.push(chart(
        "rejection_reasons",
        "Rejection reasons",
        "Refused by ingest-api (answered to the caller) and quarantined by stream-enrich; a record can have several reasons.",
        &rejection_reasons(s),
        charts::horizontal_bars,
        "records",
    )?);
    figures.push(chart(
        "rejections_over_time",
        "Rejections over time",
        "Quarantined records per day and reason (gold's rejected table).",
        &kpi("rejection_reasons_over_time")
            .map(|k| labelled(k, &["received_date", "reasons"], "records"))
            .unwrap_or_default(),
        charts::horizontal_bars,
        "records",
    )?);
    figures.push(chart(
        "latency_arrival_to_silver",
        "Latency: arrival → silver",
        "From the stream's arrival time to the object's write, per record.",
        &histogram(&s["enrich"]["arrival_to_silver_ms_histogram"]),
        charts::vertical_bars,
        "records",
    )?);
    figures.push(chart(
        "latency_arrival_to_alert",
        "Latency: arrival → fraud alert",
        "From the stream's arrival time to EventBridge accepting the alert.",
        &histogram(&s["enrich"]["arrival_to_alert_ms_histogram"]),
        charts::vertical_bars,
        "alerts",
    )?);
    figures.push(chart(
        "fraud_score",
        "Fraud score distribution",
        "Fact rows per tenth of the score.",
        &data.fraud_scores,
        charts::vertical_bars,
        "transactions",
    )?);
    figures.push(chart(
        "fraud_risk_mix",
        "Fraud risk mix",
        "Transactions per risk level and review flag.",
        &kpi("fraud_risk_mix")
            .map(|k| labelled(k, &["risk_level", "fraud_review"], "transactions"))
            .unwrap_or_default(),
        charts::horizontal_bars,
        "transactions",
    )?);
    figures.push(chart(
        "revenue_by_day",
        "Revenue by day",
        "Refunds and returns count negative.",
        &kpi("revenue_by_day")
            .map(|k| labelled(k, &["event_date"], "revenue"))
            .unwrap_or_default(),
        charts::vertical_bars,
        "revenue",
    )?);
    figures.push(chart(
        "revenue_by_country",
        "Revenue by country (top 15)",
        "",
        &top(
            kpi("revenue_by_country").map(|k| labelled(k, &["country_name"], "revenue")),
            15,
        ),
        charts::horizontal_bars,
        "revenue",
    )?);
    figures.push(chart(
        "revenue_by_category",
        "Revenue by category",
        "",
        &top(
            kpi("revenue_by_category").map(|k| labelled(k, &["product_category"], "revenue")),
            20,
        ),
        charts::horizontal_bars,
        "revenue",
    )?);
    figures.push(chart(
        "first_time_vs_repeat",
        "First-time vs repeat customers",
        "Transactions by whether the purchase was the customer's first.",
        &kpi("first_time_vs_repeat_customers")
            .map(|k| labelled(k, &["is_first_purchase"], "transactions"))
            .unwrap_or_default()
            .into_iter()
            .map(|(label, n)| {
                let label = match label.as_str() {
                    "true" => "first purchase".to_owned(),
                    "false" => "repeat".to_owned(),
                    _ => label,
                };
                (label, n)
            })
            .collect::<Vec<_>>(),
        charts::horizontal_bars,
        "transactions",
    )?);
    figures.push(chart(
        "orders_by_device",
        "Orders by device and browser",
        "",
        &top(
            kpi("orders_by_device")
                .map(|k| labelled(k, &["device_type", "browser"], "transactions")),
            20,
        ),
        charts::horizontal_bars,
        "transactions",
    )?);
    figures.push(chart(
        "transaction_status_mix",
        "Transaction status mix",
        "",
        &kpi("transaction_status_mix")
            .map(|k| labelled(k, &["transaction_status", "action_type"], "transactions"))
            .unwrap_or_default(),
        charts::horizontal_bars,
        "transactions",
    )?);
    figures.push(chart(
        "feedback_distribution",
        "Feedback distribution",
        "Transactions per feedback score (none: no feedback given).",
        &kpi("feedback_distribution")
            .map(|k| labelled(k, &["feedback_score"], "transactions"))
            .unwrap_or_default(),
        charts::vertical_bars,
        "transactions",
    )?);
    figures.push(heat_map(kpi("hour_of_day_by_day_of_week"))?);
    figures.push(chart(
        "top_products",
        "Top products by revenue",
        "",
        &kpi("top_products")
            .map(|k| labelled(k, &["product_name"], "revenue"))
            .unwrap_or_default(),
        charts::horizontal_bars,
        "revenue",
    )?);

    let mut html = String::with_capacity(256 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&data.title),
        escape(&data.title)
    );
    write_overview(&mut html, s);
    html.push_str("<section id=\"charts\">\n");
    for figure in &figures {
        let _ = write!(
            html,
            "<figure data-chart=\"{}\" data-points=\"{}\">\n<figcaption><strong>{}</strong>{}</figcaption>\n{}\n</figure>\n",
            figure.id,
            figure.points,
            escape(&figure.title),
            if figure.note.is_empty() {
                String::new()
            } else {
                format!("<br><span class=\"note\">{}</span>", escape(&figure.note))
            },
            if figure.points == 0 {
                "<p class=\"empty\">No data in this run.</p>".to_owned()
            } else {
                figure.svg.clone()
            }
        );
    }
    html.push_str("</section>\n");
    write_kpi_tables(&mut html, &data.kpis);
    html.push_str("</body>\n</html>\n");
    Ok(html)
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:960px;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f2f4f7}td:first-child,th:first-child{text-align:left}\
figure{margin:1.5em 0;border:1px solid #e3e6ea;padding:8px}\
figcaption{margin-bottom:6px}.note{color:#666;font-size:0.85em}\
.empty{color:#999}.ok{color:#1e7b34}.bad{color:#b3261e;font-weight:bold}\
svg{max-width:100%;height:auto}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0.0)
}

/// The records at each stage, from generation to the warehouse.
fn funnel(s: &Value) -> Vec<(String, f64)> {
    if s.is_null() {
        return Vec::new();
    }
    let mut stages = vec![
        ("generated".to_owned(), number(&s["generate"]["events"])),
        (
            "accepted by ingest-api".to_owned(),
            number(&s["ingest"]["accepted"]),
        ),
        (
            "accepted into silver".to_owned(),
            number(&s["totals"]["accepted"]),
        ),
        (
            "silver transactions".to_owned(),
            number(&s["lake"]["silver_rows_by_entity"]["transaction"]),
        ),
    ];
    if !s["batch"].is_null() {
        stages.push((
            "gold fact rows".to_owned(),
            number(&s["batch"]["gold"]["fact_rows"]),
        ));
        if !s["batch"]["warehouse"].is_null() {
            stages.push((
                "warehouse fact rows".to_owned(),
                number(&s["batch"]["warehouse"]["table_rows"]["final_fact"]),
            ));
        }
    }
    stages
}

fn rejection_reasons(s: &Value) -> Vec<(String, f64)> {
    let mut reasons: BTreeMap<String, f64> = BTreeMap::new();
    let counts = [
        ("API", &s["ingest"]["rejected_by_reason"]),
        ("quarantine", &s["lake"]["quarantine_by_reason"]),
    ];
    for (source, counts) in counts {
        if let Some(map) = counts.as_object() {
            for (reason, count) in map {
                *reasons.entry(format!("{reason} ({source})")).or_default() += number(count);
            }
        }
    }
    let mut items: Vec<(String, f64)> = reasons.into_iter().collect();
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    items
}

/// A KPI's rows as (label from `label_columns` joined by " · ", value of `value_column`).
fn labelled(kpi: &KpiAnswer, label_columns: &[&str], value_column: &str) -> Vec<(String, f64)> {
    let index = |name: &str| kpi.columns.iter().position(|c| c == name);
    let labels: Vec<usize> = label_columns.iter().filter_map(|c| index(c)).collect();
    let Some(value) = index(value_column) else {
        return Vec::new();
    };
    kpi.rows
        .iter()
        .map(|row| {
            let label = labels
                .iter()
                .map(|i| {
                    row.get(*i)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| "none".into())
                })
                .collect::<Vec<_>>()
                .join(" · ");
            let value = row
                .get(value)
                .cloned()
                .flatten()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            (label, value)
        })
        .collect()
}

/// The `n` largest items, largest first.
fn top(items: Option<Vec<(String, f64)>>, n: usize) -> Vec<(String, f64)> {
    let mut items = items.unwrap_or_default();
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    items.truncate(n);
    items
}

/// A histogram from the summary (`[{"upper_ms": …, "count": …}]`), labelled by bucket.
fn histogram(buckets: &Value) -> Vec<(String, f64)> {
    let Some(buckets) = buckets.as_array() else {
        return Vec::new();
    };
    if buckets.iter().all(|b| number(&b["count"]) == 0.0) {
        return Vec::new();
    }
    buckets
        .iter()
        .map(|b| {
            let label = match b["upper_ms"].as_f64() {
                Some(upper) => format!("≤ {}", crate::run::format_ms(upper)),
                None => "more".to_owned(),
            };
            (label, number(&b["count"]))
        })
        .collect()
}

fn heat_map(kpi: Option<&KpiAnswer>) -> Result<Chart> {
    let days = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let mut values = vec![vec![0.0; 24]; 7];
    let mut points = 0;
    if let Some(kpi) = kpi {
        let index = |name: &str| kpi.columns.iter().position(|c| c == name);
        if let (Some(day), Some(hour), Some(count)) = (
            index("iso_day_of_week"),
            index("hour"),
            index("transactions"),
        ) {
            for row in &kpi.rows {
                let cell = |i: usize| {
                    row.get(i)
                        .cloned()
                        .flatten()
                        .and_then(|v| v.parse::<f64>().ok())
                };
                if let (Some(d), Some(h), Some(n)) = (cell(day), cell(hour), cell(count)) {
                    let (d, h) = (d as usize, h as usize);
                    if (1..=7).contains(&d) && h < 24 {
                        values[d - 1][h] += n;
                        points += 1;
                    }
                }
            }
        }
    }
    let rows: Vec<String> = days.iter().map(|d| d[..3].to_owned()).collect();
    let columns: Vec<String> = (0..24).map(|h| h.to_string()).collect();
    Ok(Chart {
        id: "hour_by_weekday",
        title: "Transactions by hour of day × day of week".into(),
        note: "UTC; darker is more.".into(),
        points,
        svg: if points == 0 {
            String::new()
        } else {
            charts::heat_map(&rows, &columns, &values)?
        },
    })
}

fn write_overview(html: &mut String, s: &Value) {
    if s.is_null() {
        html.push_str("<p>No run summary: the KPIs of gold only.</p>\n");
        return;
    }
    let t = &s["totals"];
    let disagreements: Vec<String> = t["disagreements"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    html.push_str("<section id=\"overview\">\n<h2>Stages</h2>\n<table>\n<tr><th>stage</th><th>records in</th><th>out</th><th>rejected</th><th>seconds</th></tr>\n");
    let mut row = |stage: &str, records_in: f64, out: f64, rejected: f64, seconds: f64| {
        let _ = writeln!(
            html,
            "<tr><td>{stage}</td><td>{records_in:.0}</td><td>{out:.0}</td><td>{rejected:.0}</td><td>{seconds:.2}</td></tr>"
        );
    };
    row(
        "generate",
        number(&s["generate"]["events"]),
        number(&s["generate"]["events"]),
        0.0,
        number(&s["generate"]["seconds"]),
    );
    row(
        "ingest-api",
        number(&s["ingest"]["records"]),
        number(&s["ingest"]["accepted"]),
        number(&s["ingest"]["rejected"]),
        number(&s["ingest"]["seconds"]),
    );
    row(
        "stream-enrich",
        number(&s["enrich"]["records_in"]),
        number(&s["lake"]["silver_rows"]),
        number(&s["lake"]["quarantine_lines"]),
        number(&s["enrich"]["seconds"]),
    );
    let b = &s["batch"];
    if !b.is_null() {
        row(
            "gold-transform",
            number(&b["gold"]["silver_rows"]),
            number(&b["gold"]["fact_rows"]),
            number(&b["gold"]["duplicates_dropped"]),
            number(&b["gold"]["seconds"]),
        );
        if !b["warehouse"].is_null() {
            row(
                "redshift-copy",
                number(&b["gold"]["fact_rows"]),
                number(&b["warehouse"]["table_rows"]["final_fact"]),
                b["warehouse"]["batches_failed"]
                    .as_object()
                    .map_or(0.0, |m| m.len() as f64),
                number(&b["warehouse"]["load_seconds"]),
            );
        }
        if !b["cleanup"].is_null() {
            row(
                "s3-cleanup (objects)",
                number(&b["cleanup"]["dry_run_objects"]),
                number(&b["cleanup"]["deleted_objects"]),
                number(&b["cleanup"]["failed"]),
                number(&b["cleanup"]["seconds"]),
            );
        }
    }
    html.push_str("</table>\n");
    let a = &t["record_account"];
    if !a.is_null() {
        let lost = number(&a["lost"]);
        let _ = writeln!(
            html,
            "<p id=\"accounting\">in {:.0} = refused by the API {:.0} + quarantined {:.0} + fact rows {:.0} + duplicates dropped {:.0} + clickstream/inventory rows {:.0} − rows written twice by retries {:.0}; <span class=\"{}\">lost {lost:.0}</span></p>",
            number(&a["in"]),
            number(&a["rejected_by_api"]),
            number(&a["quarantined"]),
            number(&a["fact_rows"]),
            number(&a["duplicates_dropped"]),
            number(&a["other_silver_rows"]),
            number(&a["retried_rows"]),
            if lost == 0.0 { "ok" } else { "bad" }
        );
    }
    if let Some(kpis) = b["warehouse"]["kpis"].as_array() {
        let identical = kpis.iter().filter(|k| k["identical"] == true).count();
        let _ = writeln!(
            html,
            "<p id=\"kpi-comparison\" class=\"{}\">KPI views in the warehouse vs DataFusion over gold: {identical} of {} identical.</p>",
            if identical == kpis.len() { "ok" } else { "bad" },
            kpis.len()
        );
    }
    if disagreements.is_empty() {
        html.push_str("<p class=\"ok\">Every stage's counts agree.</p>\n");
    } else {
        html.push_str("<ul class=\"bad\">\n");
        for d in &disagreements {
            let _ = writeln!(html, "<li>{}</li>", escape(d));
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</section>\n");
}

fn write_kpi_tables(html: &mut String, kpis: &[KpiAnswer]) {
    html.push_str("<section id=\"kpis\">\n<h2>KPIs</h2>\n");
    for kpi in kpis {
        let _ = write!(
            html,
            "<h3 id=\"kpi-{}\">{}</h3>\n<table data-kpi=\"{}\" data-rows=\"{}\">\n<tr>",
            kpi.name,
            escape(&kpi.name.replace('_', " ")),
            kpi.name,
            kpi.rows.len()
        );
        for column in &kpi.columns {
            let _ = write!(html, "<th>{}</th>", escape(column));
        }
        html.push_str("</tr>\n");
        for row in kpi.rows.iter().take(25) {
            html.push_str("<tr>");
            for cell in row {
                let _ = write!(html, "<td>{}</td>", escape(cell.as_deref().unwrap_or("")));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</table>\n");
        if kpi.rows.len() > 25 {
            let _ = writeln!(
                html,
                "<p class=\"note\">{} more rows (shopstream query {} prints them all).</p>",
                kpi.rows.len() - 25,
                kpi.name
            );
        }
    }
    html.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kpi(name: &str, columns: &[&str], rows: &[&[&str]]) -> KpiAnswer {
        KpiAnswer {
            name: name.into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| Some((*c).to_owned())).collect())
                .collect(),
        }
    }

    #[test]
    fn a_kpi_becomes_labelled_values_and_top_keeps_the_largest() {
        let by_country = kpi(
            "revenue_by_country",
            &["country_name", "revenue", "transactions"],
            &[
                &["France", "171.00", "2"],
                &["Germany", "-40.00", "1"],
                &["Spain", "500", "3"],
            ],
        );
        let items = labelled(&by_country, &["country_name"], "revenue");
        assert_eq!(items[1], ("Germany".to_owned(), -40.0));
        let best = top(Some(items), 2);
        assert_eq!(
            best.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
            ["Spain", "France"]
        );
    }

    #[test]
    fn the_report_has_every_chart_and_escapes_text() {
        let data = ReportData {
            title: "run <1>".into(),
            summary: serde_json::json!({
                "generate": {"events": 10, "seconds": 0.1},
                "ingest": {"records": 10, "accepted": 9, "rejected": 1, "seconds": 0.1,
                           "rejected_by_reason": {"BAD_PRICE": 1}},
                "enrich": {"records_in": 9, "seconds": 0.1,
                           "arrival_to_alert_ms_histogram": [{"upper_ms": 500.0, "count": 2}],
                           "arrival_to_silver_ms_histogram": [{"upper_ms": 10.0, "count": 3}, {"upper_ms": null, "count": 1}]},
                "lake": {"silver_rows": 8, "quarantine_lines": 1, "silver_rows_by_entity": {"transaction": 8},
                         "quarantine_by_reason": {"NULL_USER_ID": 1}},
                "totals": {"accepted": 8, "disagreements": []},
            }),
            kpis: vec![kpi(
                "hour_of_day_by_day_of_week",
                &[
                    "iso_day_of_week",
                    "day_name",
                    "hour",
                    "transactions",
                    "revenue",
                ],
                &[&["2", "Tuesday", "10", "4", "159.99"]],
            )],
            fraud_scores: vec![("0.0–0.1".into(), 8.0)],
        };
        let html = render(&data).unwrap();
        assert!(html.contains("<title>run &lt;1&gt;</title>"));
        for id in [
            "funnel",
            "rejection_reasons",
            "latency_arrival_to_silver",
            "latency_arrival_to_alert",
            "fraud_score",
            "hour_by_weekday",
        ] {
            assert!(
                html.contains(&format!("data-chart=\"{id}\" data-points=\"")),
                "{id}"
            );
            assert!(
                !html.contains(&format!("data-chart=\"{id}\" data-points=\"0\"")),
                "{id} has no data"
            );
        }
        // A KPI the data lacks is drawn as "no data", not left out.
        assert!(html.contains("data-chart=\"revenue_by_day\" data-points=\"0\""));
        assert!(!html.contains("<script"), "the report runs no script");
        assert!(
            !html.contains(" src=") && !html.contains(" href="),
            "the report loads nothing"
        );
    }
}
