//! The exact statements for a fixture manifest: a batch with files in every table. A change to
//! the SQL shows up as a diff of `tests/golden/load-all-tables.sql`; regenerate it with
//! `UPDATE_GOLDEN=1 cargo test -p redshift-copy --test golden` and review the diff.

use redshift_copy::plan::{plan, LoadBatch, StepKind, MAX_STATEMENTS};
use redshift_copy::warehouse;

const BATCH: &str = "20261202T10-20261202T11-3f2a9c0d11b7e4a5";

fn render(statements: &[redshift_copy::plan::Statement]) -> String {
    let mut out = String::new();
    for (index, statement) in statements.iter().enumerate() {
        out.push_str(&format!(
            "-- {:02} {:?} {}\n{};\n\n",
            index + 1,
            statement.kind,
            statement.table.unwrap_or("-"),
            statement.sql
        ));
    }
    out
}

#[test]
fn statements_for_the_fixture_manifest_match_the_golden_file() {
    let tables = warehouse::tables();
    let manifest_key = format!("gold/_manifests/{BATCH}.json");
    let batch = LoadBatch {
        schema: "shopstream",
        bucket: "shopstream-dev-lake-123456789012-eu-west-1",
        batch_id: BATCH,
        manifest_key: &manifest_key,
        manifest_checksum: "9f2c4a1b0e7d6c5b4a3928171605f4e3d2c1b0a9f8e7d6c5b4a39281716050f4",
        copy_role_arn: "arn:aws:iam::123456789012:role/shopstream-dev-redshift-copy",
        region: None,
        tables: tables.iter().collect(),
    };
    let statements = plan(&batch).expect("plan");
    assert_eq!(statements.len(), 37);
    assert!(statements.len() <= MAX_STATEMENTS);
    assert_eq!(
        statements
            .iter()
            .filter(|s| s.kind == StepKind::Copy)
            .count(),
        tables.len()
    );
    let rendered = render(&statements);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/load-all-tables.sql"
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &rendered).expect("write golden file");
    }
    let golden = std::fs::read_to_string(path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(rendered, golden, "statements differ from {path}");
}
