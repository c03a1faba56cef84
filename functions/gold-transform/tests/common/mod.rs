//! Test support: the hand-written fixture (tests/fixtures) as lake objects, gold rendered
//! back to JSON for comparison with the hand-written expected rows.
#![allow(dead_code)]

use arrow::array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, Utc};
use gold_transform::inputs::silver_schema;
use gold_transform::lake::Lake;
use md5::{Digest, Md5};
use serde_json::{Map, Value};
use shopstream::ledger::InputObject;
use std::sync::Arc;

pub const FIXTURE: &str = include_str!("../../../../jobs/sql/fixtures/silver_batches.json");
pub const EXPECTED: &str = include_str!("../../../../jobs/sql/fixtures/expected_gold.json");

pub fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

pub fn expected() -> Value {
    serde_json::from_str(EXPECTED).unwrap()
}

fn micros(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

fn cents(text: &str) -> i128 {
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches('-');
    let (units, fraction) = digits.split_once('.').unwrap_or((digits, "00"));
    let value = units.parse::<i128>().unwrap() * 100
        + format!("{fraction:0<2}")[..2].parse::<i128>().unwrap();
    if negative {
        -value
    } else {
        value
    }
}

/// A silver Parquet object from fixture rows (defaults overridden by each row).
pub fn silver_parquet(defaults: &Map<String, Value>, rows: &[Value], object: &str) -> Vec<u8> {
    let schema = silver_schema();
    let full: Vec<Map<String, Value>> = rows
        .iter()
        .map(|row| {
            let mut merged = defaults.clone();
            for (k, v) in row.as_object().unwrap() {
                merged.insert(k.clone(), v.clone());
            }
            merged.insert("_object".into(), Value::String(object.into()));
            for name in merged.keys() {
                assert!(
                    schema.field_with_name(name).is_ok(),
                    "fixture column {name} is not in silver"
                );
            }
            merged
        })
        .collect();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| {
            let values: Vec<&Value> = full
                .iter()
                .map(|row| {
                    row.get(field.name())
                        .unwrap_or_else(|| panic!("fixture row lacks {}", field.name()))
                })
                .collect();
            let array: ArrayRef = match field.data_type() {
                DataType::Utf8 => Arc::new(StringArray::from(
                    values.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
                )),
                DataType::Int32 => Arc::new(Int32Array::from(
                    values
                        .iter()
                        .map(|v| v.as_i64().map(|n| n as i32))
                        .collect::<Vec<_>>(),
                )),
                DataType::Int64 => Arc::new(Int64Array::from(
                    values.iter().map(|v| v.as_i64()).collect::<Vec<_>>(),
                )),
                DataType::Boolean => Arc::new(BooleanArray::from(
                    values.iter().map(|v| v.as_bool()).collect::<Vec<_>>(),
                )),
                DataType::Float64 => Arc::new(Float64Array::from(
                    values.iter().map(|v| v.as_f64()).collect::<Vec<_>>(),
                )),
                DataType::Decimal128(p, s) => Arc::new(
                    Decimal128Array::from(
                        values
                            .iter()
                            .map(|v| v.as_str().map(cents))
                            .collect::<Vec<_>>(),
                    )
                    .with_precision_and_scale(*p, *s)
                    .unwrap(),
                ),
                DataType::Timestamp(TimeUnit::Microsecond, _) => Arc::new(
                    TimestampMicrosecondArray::from(
                        values
                            .iter()
                            .map(|v| v.as_str().map(micros))
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
                other => panic!("no fixture conversion for {other}"),
            };
            array
        })
        .collect();
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    shopstream::columnar::to_parquet_bytes(&batch).unwrap()
}

/// Writes fixture batch `index` into `lake`; returns its objects.
pub async fn upload_batch(lake: &Lake, index: usize) -> Vec<InputObject> {
    let fixture = fixture();
    let defaults = fixture["defaults"].as_object().unwrap().clone();
    let batch = &fixture["batches"][index];
    let mut inputs = Vec::new();
    for (key, rows) in batch["silver"].as_object().unwrap() {
        let bytes = silver_parquet(&defaults, rows.as_array().unwrap(), key);
        inputs.push(InputObject {
            key: key.clone(),
            size_bytes: bytes.len() as u64,
            etag: String::new(),
        });
        lake.put(key, bytes).await.unwrap();
    }
    for (key, entries) in batch["quarantine"].as_object().unwrap() {
        let mut bytes = Vec::new();
        for entry in entries.as_array().unwrap() {
            bytes.extend(serde_json::to_vec(entry).unwrap());
            bytes.push(b'\n');
        }
        inputs.push(InputObject {
            key: key.clone(),
            size_bytes: bytes.len() as u64,
            etag: String::new(),
        });
        lake.put(key, bytes).await.unwrap();
    }
    inputs
}

pub fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Replaces "md5:<text>" strings by the MD5 hex of <text>.
pub fn expand(value: &Value) -> Value {
    match value {
        Value::String(s) => match s.strip_prefix("md5:") {
            Some(text) => Value::String(md5_hex(text)),
            None => value.clone(),
        },
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), expand(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(expand).collect()),
        other => other.clone(),
    }
}

/// Gold rows as JSON objects (the expected file's conventions).
pub fn render(batches: &[RecordBatch]) -> Vec<Value> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let mut object = Map::new();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let value = if column.is_null(row) {
                    Value::Null
                } else {
                    match field.data_type() {
                        DataType::Utf8 => Value::String(
                            column
                                .as_any()
                                .downcast_ref::<StringArray>()
                                .unwrap()
                                .value(row)
                                .into(),
                        ),
                        DataType::Int32 => Value::from(
                            column
                                .as_any()
                                .downcast_ref::<Int32Array>()
                                .unwrap()
                                .value(row),
                        ),
                        DataType::Int64 => Value::from(
                            column
                                .as_any()
                                .downcast_ref::<Int64Array>()
                                .unwrap()
                                .value(row),
                        ),
                        DataType::Boolean => Value::from(
                            column
                                .as_any()
                                .downcast_ref::<BooleanArray>()
                                .unwrap()
                                .value(row),
                        ),
                        DataType::Float64 => Value::from(
                            column
                                .as_any()
                                .downcast_ref::<Float64Array>()
                                .unwrap()
                                .value(row),
                        ),
                        DataType::Decimal128(_, _) => Value::String(
                            column
                                .as_any()
                                .downcast_ref::<Decimal128Array>()
                                .unwrap()
                                .value_as_string(row),
                        ),
                        DataType::Timestamp(TimeUnit::Microsecond, _) => {
                            let micros = column
                                .as_any()
                                .downcast_ref::<TimestampMicrosecondArray>()
                                .unwrap()
                                .value(row);
                            let time: DateTime<Utc> =
                                DateTime::from_timestamp_micros(micros).unwrap();
                            Value::String(time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                        }
                        other => {
                            panic!("column {} has type {other}, not a gold type", field.name())
                        }
                    }
                };
                object.insert(field.name().clone(), value);
            }
            rows.push(Value::Object(object));
        }
    }
    rows
}

/// Reads every Parquet file `keys` names from the lake.
pub async fn read_gold(lake: &Lake, keys: &[String]) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for key in keys {
        let bytes = lake.get(key).await.unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            batches.push(batch.unwrap());
        }
    }
    batches
}
pub mod faulty;
