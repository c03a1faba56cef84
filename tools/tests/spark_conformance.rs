//! Conformance of the two engines that run `jobs/sql`: the same silver batches through
//! gold-transform's DataFusion engine and through `jobs/spark/run_models.py` on local
//! PySpark (`local[2]`, the machine's Java) give identical gold tables — the same columns
//! and types, and the same rows compared as stored (decimals exact, keys equal) — and the same
//! event index and batch counts. Two inputs: the hand-checked fixture of the gold issue (two
//! batches), and a generated batch of 100,000 transactions with every anomaly, duplicates
//! across objects, and a second batch that repeats events of the first.

#[path = "../../functions/gold-transform/tests/common/mod.rs"]
mod gold_fixture;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, TimeDelta, Utc};
use gold_transform::engine::EngineLimits;
use gold_transform::lake::Lake;
use gold_transform::transform::{transform, TransformLimits, TransformOutcome};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use shopstream::config::CoreConfig;
use shopstream::ledger::{InputObject, Plan};
use shopstream::manifest::{verify_file, Manifest};
use shopstream_cli::enrich::{enrich_slice, lines_of, InputFile};
use shopstream_cli::generate::{Generator, GeneratorConfig};
use shopstream_emulators::PySpark;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const SPARK_TIMEOUT: Duration = Duration::from_secs(20 * 60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One engine's lake: the silver inputs, and the gold it writes.
struct EngineLake {
    root: PathBuf,
    lake: Lake,
}

impl EngineLake {
    fn new(root: PathBuf) -> EngineLake {
        std::fs::create_dir_all(&root).unwrap();
        let lake = Lake::open(root.to_str().unwrap(), &shopstream::config::Env::default())
            .expect("local lake");
        EngineLake { root, lake }
    }
}

async fn datafusion(lake: &EngineLake, plan: &Plan) -> Manifest {
    let limits = TransformLimits {
        max_rows: u64::MAX,
        max_bytes: u64::MAX,
        part_rows: 40_000,
        engine: EngineLimits {
            memory_bytes: Some(512 * 1024 * 1024),
            partitions: 2,
        },
    };
    match transform(&lake.lake, &lake.lake, plan, &limits, &|_| {})
        .await
        .expect("DataFusion transform")
    {
        TransformOutcome::Transformed(manifest) => *manifest,
        other => panic!("not transformed: {other:?}"),
    }
}

fn spark(spark: &PySpark, lake: &EngineLake, plan: &Plan) -> Manifest {
    let plan_path = lake.root.join(plan.key());
    std::fs::create_dir_all(plan_path.parent().unwrap()).unwrap();
    std::fs::write(&plan_path, plan.to_json()).unwrap();
    let path = |p: PathBuf| p.into_os_string();
    let args: Vec<OsString> = vec![
        "--silver".into(),
        path(lake.root.join("silver")),
        "--gold".into(),
        path(lake.root.join("gold")),
        "--batch-id".into(),
        plan.batch_id.clone().into(),
        "--models".into(),
        path(repo().join("jobs/sql")),
        "--inputs".into(),
        path(plan_path),
        "--master".into(),
        "local[2]".into(),
        "--shuffle-partitions".into(),
        "2".into(),
    ];
    let run = spark
        .run(
            &repo().join("jobs/spark/run_models.py"),
            &args,
            SPARK_TIMEOUT,
        )
        .expect("spark-submit")
        .check()
        .expect("run_models.py succeeds");
    eprintln!("run_models.py {}: {:?}", plan.batch_id, run.wall);
    let bytes = std::fs::read(
        lake.root
            .join(format!("gold/_manifests/{}.json", plan.batch_id)),
    )
    .expect("Spark's manifest");
    Manifest::from_json(&bytes).expect("Spark's manifest parses")
}

/// A column's type with the timestamp zone spelled one way (`UTC` and `+00:00` are one zone).
fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Timestamp(unit, Some(_)) => format!("Timestamp({unit:?}, UTC)"),
        other => format!("{other}"),
    }
}

/// The files' schema (name: type) and every row as text, sorted.
fn table(lake: &EngineLake, keys: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut schema = Vec::new();
    let mut rows = Vec::new();
    for key in keys {
        let file = std::fs::File::open(lake.root.join(key)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch: RecordBatch = batch.unwrap();
            schema = batch
                .schema()
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), type_name(f.data_type())))
                .collect();
            // UTC timestamps shown as their UTC wall time (arrow formats named zones only
            // with chrono-tz, which the workspace does not build).
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
            let options = FormatOptions::default().with_null("NULL");
            let formatters: Vec<ArrayFormatter> = columns
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for i in 0..batch.num_rows() {
                let cells: Vec<String> =
                    formatters.iter().map(|f| f.value(i).to_string()).collect();
                rows.push(cells.join(" | "));
            }
        }
    }
    rows.sort();
    (schema, rows)
}

/// The two manifests describe the same gold: same tables, row counts, batch counts and
/// inputs, and every table and the event index hold the same rows with the same types.
/// Returns the fact rows compared.
fn assert_same_gold(
    df: (&EngineLake, &Manifest),
    spark: (&EngineLake, &Manifest),
    what: &str,
) -> usize {
    let ((df_lake, df_manifest), (spark_lake, spark_manifest)) = (df, spark);
    for (lake, manifest) in [(df_lake, df_manifest), (spark_lake, spark_manifest)] {
        for file in manifest
            .files()
            .map(|(_, f)| f)
            .chain(&manifest.event_index)
        {
            verify_file(file, &std::fs::read(lake.root.join(&file.key)).unwrap())
                .unwrap_or_else(|e| panic!("{what}: {} does not check out: {e}", file.key));
        }
    }
    assert_eq!(df_manifest.engine, "datafusion");
    assert_eq!(spark_manifest.engine, "spark");
    assert_eq!(
        df_manifest.counts, spark_manifest.counts,
        "{what}: batch counts"
    );
    let inputs = |m: &Manifest| {
        let mut keys: Vec<String> = m.silver_inputs.iter().map(|i| i.key.clone()).collect();
        keys.sort();
        keys
    };
    assert_eq!(
        inputs(df_manifest),
        inputs(spark_manifest),
        "{what}: inputs"
    );
    let bad = |m: &Manifest| {
        let mut keys: Vec<String> = m.bad_inputs.iter().map(|b| b.key.clone()).collect();
        keys.sort();
        keys
    };
    assert_eq!(bad(df_manifest), bad(spark_manifest), "{what}: bad inputs");
    assert_eq!(
        df_manifest.tables.keys().collect::<Vec<_>>(),
        spark_manifest.tables.keys().collect::<Vec<_>>(),
        "{what}: tables"
    );
    for (name, df_output) in &df_manifest.tables {
        let spark_output = &spark_manifest.tables[name];
        assert_eq!(df_output.rows, spark_output.rows, "{what}: {name} rows");
        let keys = |o: &shopstream::manifest::TableOutput| {
            o.files.iter().map(|f| f.key.clone()).collect::<Vec<_>>()
        };
        let df_keys = keys(df_output);
        let spark_keys = keys(spark_output);
        let (df_schema, df_rows) = table(
            df_lake,
            &df_keys.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let (spark_schema, spark_rows) = table(
            spark_lake,
            &spark_keys.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        if df_output.rows > 0 {
            assert_eq!(df_schema, spark_schema, "{what}: {name} columns and types");
        }
        assert_eq!(df_rows.len(), spark_rows.len(), "{what}: {name}");
        for (df_row, spark_row) in df_rows.iter().zip(&spark_rows) {
            assert_eq!(df_row, spark_row, "{what}: first differing row of {name}");
        }
    }
    let index = |lake: &EngineLake, m: &Manifest| {
        let keys: Vec<&str> = m.event_index.iter().map(|f| f.key.as_str()).collect();
        table(lake, &keys)
    };
    assert_eq!(
        index(df_lake, df_manifest),
        index(spark_lake, spark_manifest),
        "{what}: event index"
    );
    df_manifest.tables["final_fact"].rows as usize
}

/// Writes the same objects into both lakes; their listing as a batch's inputs.
async fn put_both(lakes: [&EngineLake; 2], objects: &[(String, Vec<u8>)]) -> Vec<InputObject> {
    for lake in lakes {
        for (key, bytes) in objects {
            lake.lake.put(key, bytes.clone()).await.unwrap();
        }
    }
    objects
        .iter()
        .map(|(key, bytes)| InputObject {
            key: key.clone(),
            size_bytes: bytes.len() as u64,
            etag: String::new(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hand_checked_fixture_gives_the_same_gold_on_both_engines() {
    let pyspark = PySpark::locate().expect("PySpark (scripts/install-emulators.sh spark)");
    let dir = tempfile::tempdir().unwrap();
    let df = EngineLake::new(dir.path().join("datafusion"));
    let sp = EngineLake::new(dir.path().join("spark"));
    for index in 0..2 {
        let inputs = gold_fixture::upload_batch(&df.lake, index).await;
        gold_fixture::upload_batch(&sp.lake, index).await;
        let plan = Plan::new(inputs);
        let df_manifest = datafusion(&df, &plan).await;
        let spark_manifest = spark(&pyspark, &sp, &plan);
        let facts = assert_same_gold(
            (&df, &df_manifest),
            (&sp, &spark_manifest),
            &format!("fixture batch {index}"),
        );
        assert!(facts > 0, "fixture batch {index} has facts");
    }
}

fn generated_transactions(seed: u64, events: u64, start: DateTime<Utc>) -> Vec<u8> {
    let mut config = GeneratorConfig {
        seed,
        events,
        start,
        span_hours: 2,
        users: 20_000,
        products: 2_000,
        ..GeneratorConfig::default()
    };
    config.mix[1].1 = 0;
    config.mix[2].1 = 0;
    let mut generator = Generator::new(config);
    let mut out = Vec::with_capacity(events as usize * 800);
    while generator.write_next(&mut out).is_some() {}
    out
}

/// The objects of `lines`, records `first_line..` of the file `name`, as `shopstream enrich`
/// writes them, sliced every `slice` records.
fn enriched(
    name: &str,
    lines: &[&[u8]],
    first_line: u64,
    slice: usize,
    arrival: DateTime<Utc>,
) -> Vec<(String, Vec<u8>)> {
    let core = CoreConfig::from_env(&shopstream::config::Env::default()).unwrap();
    let file = InputFile::new(std::path::Path::new(name), name.as_bytes());
    let mut objects = Vec::new();
    for (n, chunk) in lines.chunks(slice).enumerate() {
        let offset = first_line + (n * slice) as u64;
        for object in enrich_slice(&file, offset, chunk, arrival, &core) {
            objects.push((object.key, object.bytes));
        }
    }
    objects
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_batch_of_100k_transactions_gives_the_same_gold_on_both_engines() {
    let events: u64 = std::env::var("SHOPSTREAM_CONFORMANCE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let pyspark = PySpark::locate().expect("PySpark (scripts/install-emulators.sh spark)");
    let arrival = Utc::now();
    let text = generated_transactions(42, events, arrival - TimeDelta::hours(3));
    let lines = lines_of(&text);
    assert_eq!(lines.len() as u64, events);

    // Batch 1: every line once in slices of 10,000, and a redelivered range (the middle
    // 10 %) under its own object keys, as a retried or bisected batch writes it: the same
    // records twice in silver, in different objects.
    let mut first = enriched("traffic.jsonl", &lines, 0, 10_000, arrival);
    let middle = lines.len() * 45 / 100..lines.len() * 55 / 100;
    first.extend(enriched(
        "traffic.jsonl",
        &lines[middle.clone()],
        middle.start as u64,
        7_000,
        arrival,
    ));
    // Batch 2: a producer resend of the first 5 % (new positions, same event ids) and new
    // records.
    let resend = &lines[..lines.len() / 20];
    let mut second = enriched(
        "resend.jsonl",
        resend,
        0,
        10_000,
        arrival + TimeDelta::minutes(5),
    );
    let fresh = generated_transactions(7, events / 20, arrival - TimeDelta::minutes(30));
    second.extend(enriched(
        "fresh.jsonl",
        &lines_of(&fresh),
        0,
        10_000,
        arrival + TimeDelta::minutes(5),
    ));

    let dir = tempfile::tempdir().unwrap();
    let df = EngineLake::new(dir.path().join("datafusion"));
    let sp = EngineLake::new(dir.path().join("spark"));
    let mut duplicates = (0, 0);
    for (n, objects) in [first, second].iter().enumerate() {
        let plan = Plan::new(put_both([&df, &sp], objects).await);
        let df_manifest = datafusion(&df, &plan).await;
        let spark_manifest = spark(&pyspark, &sp, &plan);
        let facts = assert_same_gold(
            (&df, &df_manifest),
            (&sp, &spark_manifest),
            &format!("generated batch {}", n + 1),
        );
        assert!(facts > 0);
        duplicates.0 += df_manifest.counts.duplicates_in_batch;
        duplicates.1 += df_manifest.counts.duplicates_from_gold;
        assert!(
            df_manifest.counts.quarantine_rows > 0,
            "batch {}: the anomalies reach the rejected table",
            n + 1
        );
    }
    assert!(
        duplicates.0 > 0 && duplicates.1 > 0,
        "duplicates within and across batches were exercised: {duplicates:?}"
    );
}
