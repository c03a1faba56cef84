//! Every model in jobs/sql and every KPI query in jobs/sql/kpi keeps to the portable subset,
//! and models.json agrees with the files.

use serde::Deserialize;
use shopstream::sql_subset::{blank_comments_and_literals, check};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Models {
    format_version: u32,
    inputs: Vec<String>,
    models: Vec<Model>,
}

#[derive(Deserialize)]
struct Model {
    name: String,
    file: String,
    depends_on: Vec<String>,
    output: Option<String>,
}

fn sql_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobs/sql")
}

fn sql_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .collect()
}

fn assert_portable(path: &Path) {
    let sql = std::fs::read_to_string(path).unwrap();
    let violations = check(&sql);
    assert!(
        violations.is_empty(),
        "{}: {:?}",
        path.display(),
        violations
            .iter()
            .map(|v| format!("{} at line {}", v.rule, sql[..v.offset].lines().count()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn models_json_lists_every_model_in_dependency_order() {
    let dir = sql_dir();
    let models: Models =
        serde_json::from_slice(&std::fs::read(dir.join("models.json")).unwrap()).unwrap();
    assert_eq!(models.format_version, 1);
    let mut known: BTreeSet<String> = models.inputs.iter().cloned().collect();
    let mut outputs = BTreeSet::new();
    for model in &models.models {
        for dependency in &model.depends_on {
            assert!(
                known.contains(dependency),
                "{} depends on {dependency}, not defined before it",
                model.name
            );
        }
        let sql = std::fs::read_to_string(dir.join(&model.file)).unwrap();
        let text = blank_comments_and_literals(&sql).to_ascii_lowercase();
        for dependency in &model.depends_on {
            assert!(
                text.contains(dependency.as_str()),
                "{} does not read {dependency}",
                model.file
            );
        }
        if let Some(output) = &model.output {
            assert!(outputs.insert(output.clone()), "{output} written twice");
            assert!(
                text.contains("\norder by"),
                "{}: an output model ends with ORDER BY its key",
                model.file
            );
        }
        assert!(
            known.insert(model.name.clone()),
            "{} defined twice",
            model.name
        );
    }
    let listed: BTreeSet<String> = models.models.iter().map(|m| m.file.clone()).collect();
    assert_eq!(
        listed,
        sql_files(&dir),
        "models.json and the .sql files differ"
    );
    let expected_tables = [
        "dim_city",
        "dim_country",
        "dim_date_time",
        "dim_device",
        "dim_marketing",
        "dim_order_flags",
        "dim_product",
        "dim_shipping_address",
        "dim_user",
        "final_fact",
        "rejected",
        "_event_index",
    ];
    assert_eq!(
        outputs,
        expected_tables.iter().map(|t| t.to_string()).collect()
    );
}

#[test]
fn every_model_keeps_to_the_portable_subset() {
    let dir = sql_dir();
    for file in sql_files(&dir) {
        assert_portable(&dir.join(file));
    }
}

#[test]
fn every_kpi_query_keeps_to_the_portable_subset() {
    let dir = sql_dir().join("kpi");
    let files = sql_files(&dir);
    assert!(files.len() >= 16, "{files:?}");
    for file in files {
        assert_portable(&dir.join(file));
    }
}
