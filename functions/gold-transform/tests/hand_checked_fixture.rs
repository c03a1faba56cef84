//! The models against the hand-written fixture: every gold table of two batches equals the
//! hand-checked rows; keys agree across batches; duplicates in silver and across batches
//! become one fact row; a rerun writes identical bytes. Local lake directory, no AWS.

mod common;

use common::{expand, expected, read_gold, render, upload_batch};
use gold_transform::engine::EngineLimits;
use gold_transform::lake::Lake;
use gold_transform::transform::{transform, TransformLimits, TransformOutcome};
use serde_json::Value;
use shopstream::ledger::Plan;
use shopstream::manifest::Manifest;

fn limits() -> TransformLimits {
    TransformLimits {
        max_rows: 1_000,
        max_bytes: 10_000_000,
        part_rows: 4,
        engine: EngineLimits {
            memory_bytes: Some(64 * 1024 * 1024),
            partitions: 2,
        },
    }
}

/// The fixture's second batch: its silver objects not already in `first`.
async fn second_batch(lake: &Lake, first: &Plan) -> Plan {
    Plan::new(
        upload_batch(lake, 1)
            .await
            .into_iter()
            .filter(|i| !first.inputs.contains(i))
            .collect(),
    )
}

async fn run(lake: &Lake, plan: &Plan) -> Manifest {
    match transform(lake, lake, plan, &limits(), &|_| {})
        .await
        .unwrap()
    {
        TransformOutcome::Transformed(manifest) => *manifest,
        other => panic!("{other:?}"),
    }
}

fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|row| row.to_string());
    rows
}

async fn check_batch(lake: &Lake, manifest: &Manifest, expected: &Value) {
    let counts = &expected["counts"];
    assert_eq!(
        manifest.counts.silver_rows,
        counts["silver_rows"].as_u64().unwrap()
    );
    assert_eq!(
        manifest.counts.quarantine_rows,
        counts["quarantine_rows"].as_u64().unwrap()
    );
    assert_eq!(
        manifest.counts.duplicates_in_batch,
        counts["duplicates_in_batch"].as_u64().unwrap()
    );
    assert_eq!(
        manifest.counts.duplicates_from_gold,
        counts["duplicates_from_gold"].as_u64().unwrap()
    );
    assert!(manifest.bad_inputs.is_empty(), "{:?}", manifest.bad_inputs);
    let tables = expected["tables"].as_object().unwrap();
    for (table, rows) in tables {
        let keys: Vec<String> = if table == "_event_index" {
            manifest.event_index.iter().map(|f| f.key.clone()).collect()
        } else {
            let output = manifest
                .tables
                .get(table)
                .unwrap_or_else(|| panic!("manifest lacks {table}"));
            assert_eq!(
                output.rows as usize,
                rows.as_array().unwrap().len(),
                "{table} rows"
            );
            output.files.iter().map(|f| f.key.clone()).collect()
        };
        let batches = read_gold(lake, &keys).await;
        let actual = render(&batches);
        // Written in key order (first column), compared as sets of rows.
        let key_column = batches
            .first()
            .map(|b| b.schema().field(0).name().clone())
            .unwrap_or_default();
        let first_keys: Vec<String> = actual.iter().map(|r| r[&key_column].to_string()).collect();
        if table != "_event_index" {
            let mut in_order = first_keys.clone();
            in_order.sort();
            assert_eq!(first_keys, in_order, "{table} is not written in key order");
        }
        let wanted = sorted(expand(rows).as_array().unwrap().clone());
        assert_eq!(
            sorted(actual),
            wanted,
            "{table} differs from the hand-checked rows"
        );
    }
    assert_eq!(
        manifest.tables.len(),
        11,
        "every gold table is in the manifest"
    );
}

#[tokio::test]
async fn two_batches_give_the_hand_checked_gold_and_reruns_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::local(dir.path()).unwrap();
    let expected = expected();

    let first = Plan::new(upload_batch(&lake, 0).await);
    let manifest = run(&lake, &first).await;
    check_batch(&lake, &manifest, &expected["batches"][0]).await;
    assert_eq!(
        Manifest::from_json(
            &lake
                .get(&shopstream::lake::manifest_key(&first.batch_id))
                .await
                .unwrap()
        )
        .unwrap(),
        manifest
    );
    // Parts of at most 4 rows: the five fact rows are two files.
    assert_eq!(manifest.tables["final_fact"].files.len(), 2);
    assert_eq!(manifest.tables["final_fact"].files[1].rows, 1);

    let second = second_batch(&lake, &first).await;
    let manifest_2 = run(&lake, &second).await;
    check_batch(&lake, &manifest_2, &expected["batches"][1]).await;
    assert!(manifest_2.tables["rejected"].files.is_empty());

    // The same batch again: the same bytes everywhere, the same manifest.
    let before: Vec<(String, Vec<u8>)> = {
        let mut files = Vec::new();
        for (_, file) in manifest_2.files() {
            files.push((
                file.key.clone(),
                lake.get(&file.key).await.unwrap().to_vec(),
            ));
        }
        files
    };
    let again = run(&lake, &second).await;
    assert_eq!(again.to_json(), manifest_2.to_json());
    for (key, bytes) in before {
        assert_eq!(
            lake.get(&key).await.unwrap().to_vec(),
            bytes,
            "{key} changed on rerun"
        );
    }
    for (_, file) in again.files() {
        shopstream::manifest::verify_file(file, &lake.get(&file.key).await.unwrap()).unwrap();
    }
}

#[tokio::test]
async fn the_index_of_an_uncommitted_batch_drops_nothing() {
    // A batch whose manifest is missing (it failed before committing) has not put its events
    // in gold: a later batch must not drop them because of its index files.
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::local(dir.path()).unwrap();
    let first = Plan::new(upload_batch(&lake, 0).await);
    run(&lake, &first).await;
    std::fs::remove_file(
        dir.path()
            .join(shopstream::lake::manifest_key(&first.batch_id)),
    )
    .unwrap();
    let second = second_batch(&lake, &first).await;
    let manifest = run(&lake, &second).await;
    assert_eq!(manifest.counts.duplicates_from_gold, 0);
    assert_eq!(manifest.tables["final_fact"].rows, 3);
}

/// The hand-derived KPI answers for the fixture (`jobs/sql/fixtures/expected_kpi.json`).
const EXPECTED_KPI: &str = include_str!("../../../jobs/sql/fixtures/expected_kpi.json");

/// One KPI result as rows of text cells (None for NULL), the expected file's conventions.
fn kpi_rows(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Vec<Vec<Option<String>>> {
    use datafusion::arrow::util::display::array_value_to_string;
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|column| {
                        (!column.is_null(row))
                            .then(|| array_value_to_string(column, row).expect("printable cell"))
                    })
                    .collect(),
            );
        }
    }
    rows
}

fn expected_rows(expected: &Value) -> Vec<Vec<Option<String>>> {
    expected["rows"]
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
        .collect()
}

#[tokio::test]
async fn every_kpi_over_the_fixture_gold_gives_the_hand_checked_answer() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::local(dir.path()).unwrap();
    let first = Plan::new(upload_batch(&lake, 0).await);
    run(&lake, &first).await;
    let second = second_batch(&lake, &first).await;
    run(&lake, &second).await;

    let answers: Value = serde_json::from_str(EXPECTED_KPI).unwrap();
    for (name, _) in gold_transform::kpi::KPIS {
        let expected = &answers[*name];
        assert!(expected.is_object(), "{name}: no hand-checked answer");
        let (schema, batches) = gold_transform::kpi::run_kpi(&lake, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            serde_json::json!(columns),
            expected["columns"],
            "{name}: columns"
        );
        let mut got = kpi_rows(&batches);
        let mut want = expected_rows(expected);
        if expected["unordered"] == Value::Bool(true) {
            got.sort();
            want.sort();
        }
        assert_eq!(got, want, "{name}: {}", expected["derivation"]);
    }
}
