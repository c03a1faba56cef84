//! N synthetic silver rows (default 1,000,000; `GOLD_BENCH_ROWS`) → every model → gold
//! Parquet bytes, in memory (no object store): silver rows per second of wall time and per
//! CPU-second, and the process's peak resident memory. Run:
//!
//! ```sh
//! GOLD_BENCH_ROWS=1000000 cargo bench -p gold-transform --bench models
//! ```

use arrow::array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::DataType;
use gold_transform::engine::{run_models, EngineInputs, EngineLimits};
use gold_transform::inputs::silver_schema;
use gold_transform::output::{event_index_files, table_files};
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COUNTRIES: [(&str, &str); 6] = [
    ("Nigeria", "Lagos"),
    ("Kenya", "Nairobi"),
    ("Egypt", "Cairo"),
    ("Ghana", "Accra"),
    ("Morocco", "Casablanca"),
    ("South Africa", "Cape Town"),
];

/// One batch of rows `start..start + len`: 2 % of event ids repeat an earlier row's (a
/// bisected or resent batch), 3 % are refunds.
fn silver_batch(start: usize, len: usize) -> RecordBatch {
    let schema = silver_schema();
    let ids: Vec<usize> = (start..start + len)
        .map(|i| if i % 50 == 7 && i > 100 { i - 100 } else { i })
        .collect();
    let base: i64 = 1_764_547_200_000_000; // 2025-12-01T00:00:00Z
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| -> ArrayRef {
            let name = field.name().as_str();
            let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
                Arc::new(StringArray::from_iter_values(ids.iter().map(|&i| f(i))))
            };
            match (name, field.data_type()) {
                ("event_id", _) => text(&|i| format!("evt-{i:012}")),
                ("event_timestamp", _) => Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        ids.iter()
                            .map(|&i| base + (i as i64 % 2_592_000) * 1_000_000),
                    )
                    .with_timezone("UTC"),
                ),
                ("_arrival_time", _) => Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        ids.iter()
                            .map(|&i| base + (i as i64 % 2_592_000) * 1_000_000 + 1_000),
                    )
                    .with_timezone("UTC"),
                ),
                ("dt_date", _) => text(&|i| format!("2025-12-{:02}", 1 + (i % 2_592_000) / 86_400)),
                ("year", _) => Arc::new(Int32Array::from_iter_values(ids.iter().map(|_| 2025))),
                ("month", _) => Arc::new(Int32Array::from_iter_values(ids.iter().map(|_| 12))),
                ("day", _) => Arc::new(Int32Array::from_iter_values(
                    ids.iter().map(|&i| 1 + ((i % 2_592_000) / 86_400) as i32),
                )),
                ("hour", _) => Arc::new(Int32Array::from_iter_values(
                    ids.iter().map(|&i| ((i % 86_400) / 3_600) as i32),
                )),
                ("user_id", _) => text(&|i| format!("user-{}", i % 350_000)),
                ("product_id", _) => Arc::new(Int64Array::from_iter_values(
                    ids.iter().map(|&i| (i % 50_000) as i64),
                )),
                ("quantity", _) => Arc::new(Int32Array::from_iter_values(ids.iter().map(|&i| {
                    if i % 33 == 0 {
                        -1
                    } else {
                        1 + (i % 4) as i32
                    }
                }))),
                ("feedback_score", _) => Arc::new(Int32Array::from_iter(
                    ids.iter()
                        .map(|&i| (i % 3 != 0).then_some(1 + (i % 5) as i32)),
                )),
                ("product_price", _) => Arc::new(
                    Decimal128Array::from_iter_values(
                        ids.iter().map(|&i| 500 + (i % 50_000) as i128 * 7),
                    )
                    .with_precision_and_scale(18, 2)
                    .unwrap_or_else(|_| Decimal128Array::from(vec![0i128; 0])),
                ),
                ("total_amount", _) => Arc::new(
                    Decimal128Array::from_iter_values(ids.iter().map(|&i| {
                        let q = if i % 33 == 0 { -1 } else { 1 + (i % 4) as i128 };
                        (500 + (i % 50_000) as i128 * 7) * q
                    }))
                    .with_precision_and_scale(18, 2)
                    .unwrap_or_else(|_| Decimal128Array::from(vec![0i128; 0])),
                ),
                ("fraud_score", _) => Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|&i| (i % 100) as f64 / 100.0),
                )),
                ("country_name" | "profile_country", _) => text(&|i| COUNTRIES[i % 6].0.to_owned()),
                ("city_name", _) => text(&|i| COUNTRIES[i % 6].1.to_owned()),
                ("action_type", _) => text(&|i| {
                    if i % 33 == 0 {
                        "refund".into()
                    } else {
                        "purchase".into()
                    }
                }),
                ("transaction_status", _) => text(&|i| {
                    if i % 33 == 0 {
                        "refunded".into()
                    } else {
                        "completed".into()
                    }
                }),
                ("_source", _) => text(&|i| format!("shardId-{:012}", i % 4)),
                ("_position", _) => text(&|i| format!("4959{:052}", i)),
                ("_object", _) => text(&|i| {
                    format!(
                        "silver/transaction/dt=2025-12-01/hour=00/shard-{}.parquet",
                        i / 10_000
                    )
                }),
                ("repairs", _) | ("fraud_rules", _) => text(&|_| String::new()),
                (_, DataType::Boolean) => Arc::new(BooleanArray::from_iter(
                    ids.iter().map(|&i| Some(i % 7 == 0)),
                )),
                (_, _) => text(&|i| format!("{name}-{}", i % 97)),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns)
        .unwrap_or_else(|e| panic!("building the bench batch: {e}"))
}

fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; it was zero-initialised.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let rows: usize = std::env::var("GOLD_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let batch_rows = 8192;
    let silver: Vec<RecordBatch> = (0..rows)
        .step_by(batch_rows)
        .map(|start| silver_batch(start, batch_rows.min(rows - start)))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let limits = EngineLimits::default();
    let rss_before = peak_rss_mib();
    let (wall, cpu) = runtime.block_on(async {
        let cpu_start = cpu_seconds();
        let start = Instant::now();
        let run = run_models(
            EngineInputs {
                silver,
                ..EngineInputs::default()
            },
            limits,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = 0usize;
        for output in &run.tables {
            for file in table_files(output, "bench", 1_000_000).unwrap_or_else(|e| panic!("{e}")) {
                bytes += file.bytes.len();
            }
        }
        for file in event_index_files(&run.event_index, "bench").unwrap_or_else(|e| panic!("{e}")) {
            bytes += file.bytes.len();
        }
        let fact = run
            .tables
            .iter()
            .find(|t| t.table == "final_fact")
            .map_or(0, |t| t.rows());
        println!("silver rows {rows}, fact rows {fact}, gold bytes {bytes}");
        (start.elapsed().as_secs_f64(), cpu_seconds() - cpu_start)
    });
    println!(
        "models + Parquet: {wall:.2} s wall, {cpu:.2} CPU-s on {} partitions: {:.0} silver rows/s, {:.0} rows per CPU-second; peak RSS {:.0} MiB (inputs built: {rss_before:.0} MiB)",
        limits.partitions,
        rows as f64 / wall,
        rows as f64 / cpu,
        peak_rss_mib(),
    );
}
