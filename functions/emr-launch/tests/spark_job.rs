//! jobs/spark/run_models.py, the job emr-launch starts, on local PySpark (`local[2]`, the
//! machine's Java): a small silver batch with duplicates, a refund, 56-digit-style position
//! ordering, a quarantined record, an unreadable line and an unreadable object, then a second
//! batch repeating an event of the first. The expected figures are worked out by hand from the
//! fixture below; the manifest is read back with `shopstream::manifest` (format, checksum) and
//! every file it lists is checked against its size and SHA-256.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{TimeZone, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::json;
use shopstream::ledger::{InputObject, Plan};
use shopstream::manifest::{verify_file, Manifest};
use shopstream::quarantine::{to_jsonl, QuarantineEntry, RecordPosition};
use shopstream::reason::{RejectReason, Rejection};
use shopstream_emulators::PySpark;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(20 * 60);
const TABLES: [&str; 11] = [
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
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write_silver(lake: &Path, objects: serde_json::Value) -> anyhow::Result<()> {
    let status = std::process::Command::new(shopstream_emulators::venv_python()?)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spark_fixture.py"))
        .arg(lake)
        .arg(json!({ "objects": objects }).to_string())
        .status()?;
    anyhow::ensure!(status.success(), "spark_fixture.py failed: {status}");
    Ok(())
}

fn plan(lake: &Path, keys: &[&str]) -> anyhow::Result<Plan> {
    let inputs = keys
        .iter()
        .map(|key| {
            Ok(InputObject {
                key: (*key).to_owned(),
                size_bytes: std::fs::metadata(lake.join(key))?.len(),
                etag: String::new(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let plan = Plan::new(inputs);
    let path = lake.join(plan.key());
    std::fs::create_dir_all(path.parent().expect("plan dir"))?;
    std::fs::write(&path, plan.to_json())?;
    Ok(plan)
}

fn run_models(spark: &PySpark, lake: &Path, plan: &Plan) -> anyhow::Result<Manifest> {
    let path = |p: &Path| OsString::from(p.as_os_str());
    let args: Vec<OsString> = vec![
        "--silver".into(),
        path(&lake.join("silver")),
        "--gold".into(),
        path(&lake.join("gold")),
        "--batch-id".into(),
        plan.batch_id.clone().into(),
        "--models".into(),
        path(&repo().join("jobs/sql")),
        "--inputs".into(),
        path(&lake.join(plan.key())),
        "--master".into(),
        "local[2]".into(),
        "--shuffle-partitions".into(),
        "2".into(),
    ];
    let run = spark
        .run(&repo().join("jobs/spark/run_models.py"), &args, TIMEOUT)?
        .check()?;
    eprintln!("run_models.py: {:?}, {}", run.wall, run.stdout.trim());
    let bytes = std::fs::read(lake.join(format!("gold/_manifests/{}.json", plan.batch_id)))?;
    let manifest = Manifest::from_json(&bytes)?;
    for file in manifest
        .files()
        .map(|(_, f)| f)
        .chain(&manifest.event_index)
    {
        verify_file(file, &std::fs::read(lake.join(&file.key))?)?;
    }
    Ok(manifest)
}

/// Every row of a gold table as column → text (decimals exactly as stored).
fn rows(
    lake: &Path,
    manifest: &Manifest,
    table: &str,
) -> anyhow::Result<Vec<BTreeMap<String, String>>> {
    let mut out = Vec::new();
    for file in &manifest.tables[table].files {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(lake.join(&file.key))?)?
                .build()?;
        for batch in reader {
            let batch: RecordBatch = batch?;
            let options = FormatOptions::default().with_null("NULL");
            // UTC timestamps shown as their UTC wall time (arrow formats named zones only with
            // chrono-tz, which the workspace does not build).
            let columns: Vec<ArrayRef> = batch
                .columns()
                .iter()
                .map(|c| match c.data_type() {
                    DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => Arc::new(
                        c.as_primitive::<TimestampMicrosecondType>()
                            .clone()
                            .with_timezone_opt(None::<String>),
                    )
                        as ArrayRef,
                    _ => c.clone(),
                })
                .collect();
            let formatters = columns
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            for i in 0..batch.num_rows() {
                let mut row = BTreeMap::new();
                for (field, formatter) in batch.schema().fields().iter().zip(&formatters) {
                    row.insert(field.name().clone(), formatter.value(i).to_string());
                }
                out.push(row);
            }
        }
    }
    Ok(out)
}

#[test]
fn run_models_writes_the_gold_layout_and_a_manifest_that_checks_out() -> anyhow::Result<()> {
    let spark = PySpark::locate()?;
    let dir = tempfile::tempdir()?;
    let lake = dir.path();
    let a = "silver/transaction/dt=2026-12-02/hour=10/shardId-000000000000-1-10.parquet";
    let b = "silver/transaction/dt=2026-12-02/hour=10/shardId-000000000000-11-12.parquet";
    let junk = "silver/transaction/dt=2026-12-02/hour=10/shardId-000000000001-1-1.parquet";
    let quarantine = "quarantine/transaction/dt=2026-12-02/hour=10/shardId-000000000000-1-10.jsonl";
    let early = "2026-12-02T10:05:00+00:00";
    let late = "2026-12-02T10:05:01+00:00";
    write_silver(
        lake,
        json!({
            a: [
                {"event_id": "e1", "_arrival_time": early, "_position": "1"},
                {"event_id": "e2", "_arrival_time": early, "_position": "2", "quantity": -1},
                {"event_id": "e3", "_arrival_time": early, "_position": "3"},
                // The same event twice in one object: position 9 is earlier than 10 as a
                // number, though not as text.
                {"event_id": "e4", "_arrival_time": early, "_position": "10", "quantity": 5},
                {"event_id": "e4", "_arrival_time": early, "_position": "9", "quantity": 3},
            ],
            b: [
                {"event_id": "e3", "_arrival_time": late, "_position": "11", "quantity": 7},
                {"event_id": "e5", "_arrival_time": late, "_position": "12", "product_id": 7, "product_price": "0.10"},
            ],
        }),
    )?;
    std::fs::write(lake.join(junk), b"not parquet")?;
    let entry = QuarantineEntry::new(
        b"{\"event_id\":\"q1\",\"quantity\":0}",
        vec![Rejection::new(RejectReason::BadQuantity, "quantity 0")],
        RecordPosition::Kinesis {
            shard_id: "shardId-000000000000".into(),
            sequence_number: "4".into(),
        },
        Utc.with_ymd_and_hms(2026, 12, 2, 10, 5, 0)
            .single()
            .expect("time"),
    );
    let mut jsonl = to_jsonl(&[entry]);
    jsonl.extend_from_slice(b"this line is not a quarantine entry\n");
    std::fs::create_dir_all(lake.join(quarantine).parent().expect("dir"))?;
    std::fs::write(lake.join(quarantine), jsonl)?;

    let first = plan(lake, &[a, b, junk, quarantine])?;
    let manifest = run_models(&spark, lake, &first)?;
    assert_eq!(manifest.engine, "spark");
    assert_eq!(manifest.batch_id, first.batch_id);
    assert_eq!(manifest.counts.silver_rows, 7);
    assert_eq!(manifest.counts.duplicates_in_batch, 2, "e3 and e4 twice");
    assert_eq!(manifest.counts.duplicates_from_gold, 0);
    assert_eq!(manifest.counts.quarantine_rows, 1);
    let tables: Vec<&str> = manifest.tables.keys().map(String::as_str).collect();
    assert_eq!(tables, TABLES);
    let bad: Vec<&str> = manifest.bad_inputs.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(bad, [junk, quarantine], "{:?}", manifest.bad_inputs);
    let read: Vec<&str> = manifest
        .silver_inputs
        .iter()
        .map(|i| i.key.as_str())
        .collect();
    assert_eq!(read, [quarantine, a, b]);
    assert_eq!(manifest.model_versions.len(), 15);
    for (table, output) in &manifest.tables {
        assert_eq!(
            output.rows,
            output.files.iter().map(|f| f.rows).sum::<u64>(),
            "{table}"
        );
        for file in &output.files {
            assert!(
                file.key
                    .starts_with(&format!("gold/{table}/batch_id={}/part-", first.batch_id)),
                "{}",
                file.key
            );
        }
    }
    assert_eq!(
        manifest
            .event_index
            .iter()
            .map(|f| f.key.as_str())
            .collect::<Vec<_>>(),
        [format!(
            "gold/_event_index/dt=2026-12-02/batch_id={}.parquet",
            first.batch_id
        )]
    );

    let fact = rows(lake, &manifest, "final_fact")?;
    let by_event: BTreeMap<&str, &BTreeMap<String, String>> =
        fact.iter().map(|r| (r["event_id"].as_str(), r)).collect();
    assert_eq!(
        by_event.keys().copied().collect::<Vec<_>>(),
        ["e1", "e2", "e3", "e4", "e5"]
    );
    assert_eq!(fact.len(), 5, "one fact row per event_id");
    assert_eq!(by_event["e2"]["quantity"], "-1");
    assert_eq!(
        by_event["e2"]["total_amount"], "-19.99",
        "refunds stay negative"
    );
    assert_eq!(
        by_event["e3"]["_position"], "3",
        "the earliest arrival wins"
    );
    assert_eq!(by_event["e3"]["quantity"], "2");
    assert_eq!(
        by_event["e4"]["_position"], "9",
        "positions compare as numbers"
    );
    assert_eq!(by_event["e4"]["total_amount"], "59.97");
    assert_eq!(by_event["e5"]["total_amount"], "0.20");
    assert_eq!(by_event["e1"]["date_time_key"], "2026120210");
    let products = rows(lake, &manifest, "dim_product")?;
    assert_eq!(products.len(), 2, "one row per product id");
    let rejected = rows(lake, &manifest, "rejected")?;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["reasons"], "BAD_QUANTITY");
    assert_eq!(rejected[0]["_position"], "4");

    // A later batch repeating e1: exactly once across batches.
    let c = "silver/transaction/dt=2026-12-02/hour=11/shardId-000000000000-13-14.parquet";
    write_silver(
        lake,
        json!({ c: [
            {"event_id": "e1", "_arrival_time": "2026-12-02T11:00:00+00:00", "_position": "13"},
            {"event_id": "e6", "_arrival_time": "2026-12-02T11:00:00+00:00", "_position": "14"},
        ]}),
    )?;
    let second = plan(lake, &[c])?;
    let manifest = run_models(&spark, lake, &second)?;
    assert_eq!(
        manifest.counts.duplicates_from_gold, 1,
        "e1 is already in gold"
    );
    let fact = rows(lake, &manifest, "final_fact")?;
    assert_eq!(
        fact.iter()
            .map(|r| r["event_id"].as_str())
            .collect::<Vec<_>>(),
        ["e6"]
    );
    assert!(
        manifest.tables["rejected"].files.is_empty(),
        "no rows, no files"
    );
    Ok(())
}
