//! The KPIs over a gold lake that lacks tables: no batch yet at all, or (as a run without
//! refusals leaves it) no `rejected` rows. Every KPI answers, with no rows where there is no
//! data, instead of failing on a missing table.

use gold_transform::kpi::{run_kpi, KPIS};
use gold_transform::lake::Lake;

#[tokio::test]
async fn every_kpi_answers_with_no_rows_over_an_empty_lake() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::local(dir.path()).unwrap();
    for (name, _) in KPIS {
        let (schema, batches) = run_kpi(&lake, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!schema.fields().is_empty(), "{name}: no columns");
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 0, "{name}");
    }
}
