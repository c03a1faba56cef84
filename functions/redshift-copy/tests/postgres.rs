//! The warehouse SQL executed on a real database: PostgreSQL ≥ 15 (MERGE) from `shopstream-emulators`.
//!
//! The DDL and the load transaction are the statements redshift-copy sends, changed only by
//! `shopstream_emulators::redshift_sql::to_postgres` (the translation `shopstream run` uses
//! too), and COPY (which reads S3) is replaced by `COPY … FROM STDIN` of the
//! fixture batch (`tests/fixtures/batch/<table>.csv`, the gold tables' columns in order). The
//! same transaction runs twice; every table must be identical after the second run.

use redshift_copy::plan::{plan, LoadBatch, StepKind};
use redshift_copy::warehouse;
use shopstream_emulators::redshift_sql::to_postgres;
use shopstream_emulators::{PostgresRow, PostgresServer};

const SCHEMA: &str = "shopstream";
const BATCH: &str = "20261202T10-20261202T11-3f2a9c0d11b7e4a5";

fn fixture(table: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/batch/{table}.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The load as one psql script: BEGIN, every statement (COPY replaced by the fixture rows),
/// COMMIT.
fn load_script() -> String {
    load_script_of(BATCH, fixture)
}

/// The load of `batch_id` as one psql script, each COPY replaced by `csv(table)` (a header
/// line and the table's rows in its column order).
fn load_script_of(batch_id: &str, csv: impl Fn(&str) -> String) -> String {
    let tables = warehouse::tables();
    let manifest_key = format!("gold/_manifests/{batch_id}.json");
    let batch = LoadBatch {
        schema: SCHEMA,
        bucket: "lake",
        batch_id,
        manifest_key: &manifest_key,
        manifest_checksum: &"ab".repeat(32),
        copy_role_arn: "arn:aws:iam::123456789012:role/copy",
        region: None,
        tables: tables.iter().collect(),
    };
    let mut script = String::from("BEGIN;\n");
    for statement in plan(&batch).expect("plan") {
        match (statement.kind, statement.table) {
            (StepKind::Copy, Some(table)) => {
                script.push_str(&format!(
                    "COPY stage_{table} FROM STDIN WITH (FORMAT csv, HEADER true);\n{}\\.\n",
                    csv(table)
                ));
            }
            _ => {
                script.push_str(&to_postgres(&statement.sql));
                script.push_str(";\n");
            }
        }
    }
    script.push_str("COMMIT;\n");
    script
}

async fn snapshot(server: &PostgresServer) -> Vec<(String, Vec<PostgresRow>)> {
    let mut out = Vec::new();
    for table in warehouse::tables() {
        let rows = server
            .query(&format!(
                "SELECT * FROM {SCHEMA}.{} ORDER BY {}",
                table.name, table.key
            ))
            .await
            .expect("select");
        out.push((table.name.to_owned(), rows));
    }
    out
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

#[tokio::test]
async fn the_load_transaction_runs_twice_on_postgresql_with_the_same_result() {
    let server = PostgresServer::start().await.expect("postgres starts");
    server
        .execute(&to_postgres(&warehouse::ddl(SCHEMA)))
        .await
        .expect("DDL runs");

    let script = load_script();
    server.execute(&script).await.expect("first load");
    let first = snapshot(&server).await;
    server.execute(&script).await.expect("second load");
    let second = snapshot(&server).await;
    assert_eq!(first, second, "a second load of the batch changed a table");

    let rows = |name: &str| -> &Vec<PostgresRow> {
        &first
            .iter()
            .find(|(table, _)| table == name)
            .expect("table")
            .1
    };
    // Staging duplicates are gone: e1 was staged twice, France twice, u1 twice.
    assert_eq!(rows("final_fact").len(), 3);
    assert_eq!(rows("dim_country").len(), 2);
    assert_eq!(rows("dim_user").len(), 2);
    // Of u1's two staged versions, the first by every column ("Alice" < "Alicia") is kept.
    assert!(rows("dim_user").iter().any(|row| row[2] == text("Alice")));
    assert!(!rows("dim_user").iter().any(|row| row[2] == text("Alicia")));
    // Refunds keep their sign; amounts keep two decimals; microseconds survive.
    let e2 = rows("final_fact")
        .iter()
        .find(|row| row[0] == text("e2"))
        .expect("e2");
    assert_eq!(
        (e2[11].as_deref(), e2[13].as_deref()),
        (Some("-1"), Some("-40.00"))
    );
    let e1 = rows("final_fact")
        .iter()
        .find(|row| row[0] == text("e1"))
        .expect("e1");
    assert_eq!(e1[1].as_deref(), Some("2026-12-02 10:15:00.123456"));
    assert_eq!(
        e1[20].as_deref().map(str::len),
        Some(56),
        "56-digit position kept as text"
    );

    // Every KPI view runs; two are checked by hand against the fixture (e1 France 51.00 and
    // e3 France 120.00 on mobile/Chrome, e2 a Germany refund of -40.00 on desktop/Firefox).
    for (name, _) in warehouse::KPIS {
        server
            .query(&format!("SELECT * FROM {SCHEMA}.kpi_{name}"))
            .await
            .unwrap_or_else(|e| panic!("kpi_{name}: {e:#}"));
    }
    let by_country = server
        .query(&format!(
            "SELECT country_name, revenue, transactions FROM {SCHEMA}.kpi_revenue_by_country"
        ))
        .await
        .expect("revenue by country");
    let expected: Vec<PostgresRow> = [["France", "171.00", "2"], ["Germany", "-40.00", "1"]]
        .iter()
        .map(|row| row.iter().map(|v| text(v)).collect())
        .collect();
    assert_eq!(by_country, expected);
    let by_device = server
        .query(&format!(
            "SELECT device_type, browser, transactions, revenue FROM {SCHEMA}.kpi_orders_by_device"
        ))
        .await
        .expect("orders by device");
    let expected: Vec<PostgresRow> = [
        ["mobile", "Chrome", "2", "171.00"],
        ["desktop", "Firefox", "1", "-40.00"],
    ]
    .iter()
    .map(|row| row.iter().map(|v| text(v)).collect())
    .collect();
    assert_eq!(by_device, expected);

    // Two attempts audited: the first inserted everything, the second nothing and updated the
    // upsert tables' rows in place.
    let audits = server
        .query(&format!(
            "SELECT batch_id, state, manifest_key FROM {SCHEMA}.load_audit ORDER BY started_at"
        ))
        .await
        .expect("audit");
    assert_eq!(audits.len(), 2);
    assert!(audits
        .iter()
        .all(|a| a[1] == text("LOADED") && a[0] == text(BATCH)));
    let counts = server
        .query(&format!(
            "SELECT table_name, rows_staged, rows_unique, rows_inserted, rows_updated \
             FROM {SCHEMA}.load_audit_table WHERE table_name IN ('final_fact', 'dim_user') \
             ORDER BY started_at, table_name"
        ))
        .await
        .expect("audit tables");
    let expected: Vec<PostgresRow> = [
        ["dim_user", "3", "2", "2", "0"],
        ["final_fact", "4", "3", "3", "0"],
        ["dim_user", "3", "2", "0", "2"],
        ["final_fact", "4", "3", "0", "0"],
    ]
    .iter()
    .map(|row| row.iter().map(|v| text(v)).collect())
    .collect();
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn a_failing_statement_rolls_the_whole_load_back() {
    let server = PostgresServer::start().await.expect("postgres starts");
    server
        .execute(&to_postgres(&warehouse::ddl(SCHEMA)))
        .await
        .expect("DDL runs");
    // The fact's rows are loaded, then the audit statement fails: nothing may remain.
    let script = load_script().replace(
        &format!("INSERT INTO {SCHEMA}.load_audit ("),
        &format!("INSERT INTO {SCHEMA}.no_such_table ("),
    );
    let error = server.execute(&script).await.expect_err("the load fails");
    assert!(format!("{error:#}").contains("no_such_table"), "{error:#}");
    for (table, rows) in snapshot(&server).await {
        assert!(rows.is_empty(), "{table} kept rows of a failed load");
    }
}

/// The gold issue's hand-written fixture (`jobs/sql/fixtures/expected_gold.json`) and the
/// hand-derived KPI answers over it (`expected_kpi.json`).
const GOLD_FIXTURE: &str = include_str!("../../../jobs/sql/fixtures/expected_gold.json");
const EXPECTED_KPI: &str = include_str!("../../../jobs/sql/fixtures/expected_kpi.json");

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One CSV cell of a fixture value: "md5:<text>" expanded, times without the `T`/`Z` of the
/// fixture's notation (timestamps are UTC), NULL unquoted-empty, text quoted.
fn csv_cell(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let s = match s.strip_prefix("md5:") {
                Some(natural_key) => md5_hex(natural_key),
                None => s.clone(),
            };
            let is_time = s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T') && s.ends_with('Z');
            let s = if is_time {
                s.trim_end_matches('Z').replacen('T', " ", 1)
            } else {
                s
            };
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        other => panic!("fixture cell {other} is not a gold value"),
    }
}

/// The CSV of `table` in batch `index` of the gold fixture, in the warehouse column order.
fn gold_fixture_csv(fixture: &serde_json::Value, index: usize, table: &str) -> String {
    let columns = warehouse::tables()
        .into_iter()
        .find(|t| t.name == table)
        .expect("warehouse table")
        .columns;
    let mut out = columns.join(",");
    out.push('\n');
    let rows = fixture["batches"][index]["tables"][table]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for row in rows {
        let cells: Vec<String> = columns.iter().map(|c| csv_cell(&row[c.as_str()])).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A PostgreSQL cell in the expected file's notation (booleans as true / false).
fn kpi_cell(cell: &Option<String>) -> Option<String> {
    cell.as_deref().map(|v| match v {
        "t" => "true".to_owned(),
        "f" => "false".to_owned(),
        other => other.to_owned(),
    })
}

#[tokio::test]
async fn the_kpi_views_over_the_gold_fixture_give_the_hand_checked_answers() {
    let server = PostgresServer::start().await.expect("postgres starts");
    server
        .execute(&to_postgres(&warehouse::ddl(SCHEMA)))
        .await
        .expect("DDL runs");
    let fixture: serde_json::Value = serde_json::from_str(GOLD_FIXTURE).expect("gold fixture");
    let batches = fixture["batches"].as_array().expect("batches").len();
    for index in 0..batches {
        let script = load_script_of(&format!("fixture-batch-{index}"), |table| {
            gold_fixture_csv(&fixture, index, table)
        });
        server
            .execute(&script)
            .await
            .unwrap_or_else(|e| panic!("load of fixture batch {index}: {e:#}"));
    }
    let answers: serde_json::Value = serde_json::from_str(EXPECTED_KPI).expect("answers");
    for (name, _) in warehouse::KPIS {
        let expected = &answers[name];
        assert!(expected.is_object(), "{name}: no hand-checked answer");
        let columns: Vec<&str> = expected["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        // Column names are checked by selecting them: a view without one fails here.
        let got = server
            .query(&format!(
                "SELECT {} FROM {SCHEMA}.kpi_{name}",
                columns.join(", ")
            ))
            .await
            .unwrap_or_else(|e| panic!("kpi_{name}: {e:#}"));
        let mut got: Vec<Vec<Option<String>>> = got
            .iter()
            .map(|row| row.iter().map(kpi_cell).collect())
            .collect();
        let mut want: Vec<Vec<Option<String>>> = expected["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| {
                row.as_array()
                    .expect("row")
                    .iter()
                    .map(|cell| cell.as_str().map(str::to_owned))
                    .collect()
            })
            .collect();
        if expected["unordered"] == serde_json::Value::Bool(true) {
            got.sort();
            want.sort();
        }
        assert_eq!(got, want, "kpi_{name}: {}", expected["derivation"]);
    }
}
