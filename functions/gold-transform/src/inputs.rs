//! The three input views of the engine contract (jobs/sql/README.md, "Engine contract"):
//! `silver_transactions` from silver Parquet, `quarantine_records` from quarantine JSONL, and
//! `gold_event_index` from the index files of committed batches. An input that cannot be read
//! is reported with its reason, never dropped silently.

use crate::lake::{Lake, LakeError};
use arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use shopstream::lake::{manifest_key, parse_partitioned_key};
use shopstream::manifest::BadInput;
use shopstream::quarantine::{PayloadEncoding, QuarantineEntry, RecordPosition};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

pub const EVENT_INDEX_PREFIX: &str = "gold/_event_index/";

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// `silver_transactions` as the models read it: the silver transaction schema's columns, by
/// name and type. Columns a silver file has beyond these are not read (additive changes to
/// silver do not break gold); a missing column or another type is schema drift.
pub fn silver_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use DataType::{Boolean, Float64, Int32, Int64, Utf8};
            let amount = DataType::Decimal128(18, 2);
            let columns: Vec<(&str, DataType)> = vec![
                ("event_id", Utf8),
                ("event_timestamp", utc_micros()),
                ("dt_date", Utf8),
                ("year", Int32),
                ("month", Int32),
                ("day", Int32),
                ("hour", Int32),
                ("user_id", Utf8),
                ("user_name", Utf8),
                ("user_email", Utf8),
                ("user_phone", Utf8),
                ("is_first_purchase", Boolean),
                ("language", Utf8),
                ("currency", Utf8),
                ("city_name", Utf8),
                ("country_name", Utf8),
                ("product_id", Int64),
                ("product_name", Utf8),
                ("product_category", Utf8),
                ("product_brand", Utf8),
                ("product_price", amount.clone()),
                ("quantity", Int32),
                ("total_amount", amount),
                ("feedback_score", Int32),
                ("shipping_address", Utf8),
                ("postal_code", Utf8),
                ("device_type", Utf8),
                ("browser", Utf8),
                ("referral_source", Utf8),
                ("campaign", Utf8),
                ("coupon_code", Utf8),
                ("coupon_code_flag", Boolean),
                ("payment_method", Utf8),
                ("payment_status", Utf8),
                ("transaction_status", Utf8),
                ("action_type", Utf8),
                ("fraud_score", Float64),
                ("risk_level", Utf8),
                ("fraud_review", Boolean),
                ("fraud_rules", Utf8),
                ("customer_segment", Utf8),
                ("profile_country", Utf8),
                ("repairs", Utf8),
                ("_source", Utf8),
                ("_position", Utf8),
                ("_arrival_time", utc_micros()),
                ("_object", Utf8),
            ];
            Arc::new(Schema::new(
                columns
                    .into_iter()
                    .map(|(name, data_type)| Field::new(name, data_type, true))
                    .collect::<Vec<_>>(),
            ))
        })
        .clone()
}

/// `quarantine_records`.
pub fn quarantine_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use DataType::{Int64, Utf8};
            Arc::new(Schema::new(vec![
                Field::new("event_id", Utf8, true),
                Field::new("entity", Utf8, true),
                Field::new("reasons", Utf8, false),
                Field::new("payload", Utf8, false),
                Field::new("payload_encoding", Utf8, false),
                Field::new("received_at", utc_micros(), false),
                Field::new("dt_date", Utf8, false),
                Field::new("_source", Utf8, false),
                Field::new("_position", Utf8, false),
                Field::new("_object", Utf8, false),
                Field::new("_line", Int64, false),
            ]))
        })
        .clone()
}

/// `gold_event_index`.
pub fn event_index_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new("event_id", DataType::Utf8, true),
                Field::new("dt_date", DataType::Utf8, true),
            ]))
        })
        .clone()
}

/// Rows in a silver Parquet file, from its footer (for the batch-size limit).
pub fn parquet_rows(bytes: &Bytes) -> Result<u64, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
        .map_err(|e| format!("not a Parquet file: {e}"))?;
    Ok(u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// Reads a Parquet file into batches of `schema` (columns matched by name; the file may have
/// more). A missing column or another type is an error naming it.
pub fn read_parquet(bytes: Bytes, schema: &SchemaRef) -> Result<Vec<RecordBatch>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| format!("not a Parquet file: {e}"))?;
    let file_schema = builder.schema().clone();
    let mut indices = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let (index, found) = file_schema
            .column_with_name(field.name())
            .ok_or_else(|| format!("schema drift: no column {}", field.name()))?;
        if found.data_type() != field.data_type() {
            return Err(format!(
                "schema drift: column {} is {}, expected {}",
                field.name(),
                found.data_type(),
                field.data_type()
            ));
        }
        indices.push(index);
    }
    let reader = builder
        .with_batch_size(8192)
        .build()
        .map_err(|e| format!("reading Parquet: {e}"))?;
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("reading Parquet: {e}"))?;
        let columns: Vec<ArrayRef> = indices.iter().map(|&i| batch.column(i).clone()).collect();
        batches.push(
            RecordBatch::try_new(schema.clone(), columns)
                .map_err(|e| format!("reading Parquet: {e}"))?,
        );
    }
    Ok(batches)
}

/// `_source` and `_position` of a quarantined record's position.
fn source_and_position(position: &RecordPosition) -> (String, String) {
    match position {
        RecordPosition::Kinesis {
            shard_id,
            sequence_number,
        }
        | RecordPosition::DynamoDb {
            shard_id,
            sequence_number,
        } => (shard_id.clone(), sequence_number.clone()),
        RecordPosition::Kafka {
            topic,
            partition,
            offset,
        } => (format!("{topic}-{partition}"), offset.to_string()),
        RecordPosition::Api { request_id, index } => {
            (format!("api:{request_id}"), index.to_string())
        }
        RecordPosition::File { path, index } => (format!("file:{path}"), index.to_string()),
    }
}

/// Reads a quarantine JSONL object into `quarantine_records` rows; lines that are not
/// quarantine entries come back as bad inputs (`<key>#line=<n>`).
pub fn read_quarantine(key: &str, bytes: &[u8]) -> (Option<RecordBatch>, Vec<BadInput>) {
    let dt_date = parse_partitioned_key(key)
        .map(|k| k.dt.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let mut bad = Vec::new();
    let mut event_id = StringBuilder::new();
    let mut entity = StringBuilder::new();
    let mut reasons = StringBuilder::new();
    let mut payload = StringBuilder::new();
    let mut encoding = StringBuilder::new();
    let mut received = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut dates = StringBuilder::new();
    let mut sources = StringBuilder::new();
    let mut positions = StringBuilder::new();
    let mut objects = StringBuilder::new();
    let mut lines = Int64Builder::new();
    for (line_number, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry: QuarantineEntry = match serde_json::from_slice(line) {
            Ok(entry) => entry,
            Err(e) => {
                bad.push(BadInput {
                    key: format!("{key}#line={line_number}"),
                    error: format!("not a quarantine entry: {e}"),
                });
                continue;
            }
        };
        let (source, position) = source_and_position(&entry.position);
        event_id.append_option(entry.event_id.as_deref());
        entity.append_option(entry.entity.map(|e| e.as_str()));
        let codes: Vec<&str> = entry.reasons.iter().map(|r| r.as_str()).collect();
        reasons.append_value(codes.join(","));
        payload.append_value(&entry.payload);
        encoding.append_value(match entry.payload_encoding {
            PayloadEncoding::Utf8 => "utf8",
            PayloadEncoding::Base64 => "base64",
        });
        received.append_value(entry.received_at.timestamp_micros());
        dates.append_value(&dt_date);
        sources.append_value(source);
        positions.append_value(position);
        objects.append_value(key);
        lines.append_value(i64::try_from(line_number).unwrap_or(i64::MAX));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(event_id.finish()),
        Arc::new(entity.finish()),
        Arc::new(reasons.finish()),
        Arc::new(payload.finish()),
        Arc::new(encoding.finish()),
        Arc::new(received.finish()),
        Arc::new(dates.finish()),
        Arc::new(sources.finish()),
        Arc::new(positions.finish()),
        Arc::new(objects.finish()),
        Arc::new(lines.finish()),
    ];
    match RecordBatch::try_new(quarantine_schema(), columns) {
        Ok(batch) if batch.num_rows() > 0 => (Some(batch), bad),
        Ok(_) => (None, bad),
        Err(e) => {
            bad.push(BadInput {
                key: key.to_owned(),
                error: format!("building quarantine rows: {e}"),
            });
            (None, bad)
        }
    }
}

/// `gold/_event_index/dt=<date>/batch_id=<id>.parquet`
pub fn event_index_key(dt_date: &str, batch_id: &str) -> String {
    format!(
        "{EVENT_INDEX_PREFIX}dt={}/batch_id={}.parquet",
        shopstream::lake::safe_segment(dt_date),
        shopstream::lake::safe_segment(batch_id)
    )
}

/// The index rows of committed batches (manifest present) other than `batch_id`, for the
/// given event dates. Reading an index file that exists must succeed: a gap in the index
/// would let duplicates through, so any error fails the transform.
pub async fn read_event_index(
    lake: &Lake,
    dates: &BTreeSet<String>,
    batch_id: &str,
) -> Result<Vec<RecordBatch>, IndexError> {
    let mut batches = Vec::new();
    for date in dates {
        let prefix = format!(
            "{EVENT_INDEX_PREFIX}dt={}/",
            shopstream::lake::safe_segment(date)
        );
        for listed in lake.list(&prefix).await? {
            let Some(other) = listed
                .key
                .rsplit('/')
                .next()
                .and_then(|name| name.strip_prefix("batch_id="))
                .and_then(|name| name.strip_suffix(".parquet"))
            else {
                continue;
            };
            if other == batch_id || !lake.exists(&manifest_key(other)).await? {
                continue;
            }
            let bytes = lake.get(&listed.key).await?;
            let read = read_parquet(bytes, &event_index_schema()).map_err(|problem| {
                IndexError::Unreadable {
                    key: listed.key.clone(),
                    problem,
                }
            })?;
            batches.extend(read);
        }
    }
    Ok(batches)
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("event index {key} is unreadable: {problem}")]
    Unreadable { key: String, problem: String },
}
