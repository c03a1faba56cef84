//! Parquet encoding of clean rows: one stable Arrow schema per entity, snappy-compressed,
//! row groups sized for Redshift COPY. Amounts are DECIMAL(18,2), times are UTC microseconds.
//!
//! Every silver schema ends with the row's provenance ([`PROVENANCE_COLUMNS`]): `_source`
//! (shard, `<topic>-<partition>`, request or file), `_position` (sequence number, offset or
//! index, as text), `_arrival_time` (when the source received it) and `_object` (the key the
//! row was written in). Silver is at-least-once; these columns are what identifies a
//! duplicate row and what gold's exactly-once rule orders by.

use crate::clean::{date_parts, CleanClickstream, CleanInventory, CleanTransaction};
use crate::quarantine::RecordPosition;
use crate::record::Entity;
use arrow::array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{Datelike, Timelike};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::sync::{Arc, OnceLock};
use thiserror::Error;

/// Rows per row group: large enough for efficient COPY scans, small enough to keep a Lambda's
/// memory bounded.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
pub const AMOUNT_PRECISION: u8 = 18;
pub const AMOUNT_SCALE: i8 = 2;

/// The provenance columns every silver schema ends with, in order.
pub const PROVENANCE_COLUMNS: [&str; 4] = ["_source", "_position", "_arrival_time", "_object"];

/// Where one silver row came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub position: &'a RecordPosition,
    /// When the source received the record (Kinesis approximate arrival, Kafka timestamp,
    /// stream record creation), so a retried batch writes identical bytes.
    pub arrival_time: chrono::DateTime<chrono::Utc>,
}

/// The provenance of an object's rows: the object's key and each row's origin, parallel to
/// the rows.
#[derive(Debug, Clone, Copy)]
pub struct Provenance<'a> {
    pub object: &'a str,
    pub origins: &'a [Origin<'a>],
}

impl<'a> Provenance<'a> {
    fn slice(&self, range: std::ops::Range<usize>) -> Provenance<'a> {
        Provenance {
            object: self.object,
            origins: &self.origins[range],
        }
    }
}

#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("{rows} rows but {origins} provenance entries")]
    ProvenanceMismatch { rows: usize, origins: usize },
    #[error("building the Arrow batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn amount() -> DataType {
    DataType::Decimal128(AMOUNT_PRECISION, AMOUNT_SCALE)
}

fn field(name: &str, data_type: DataType, nullable: bool) -> Field {
    Field::new(name, data_type, nullable)
}

/// An entity's columns followed by the provenance columns.
fn with_provenance(fields: Vec<Field>) -> SchemaRef {
    let mut fields = fields;
    fields.extend([
        field(PROVENANCE_COLUMNS[0], DataType::Utf8, false),
        field(PROVENANCE_COLUMNS[1], DataType::Utf8, false),
        field(PROVENANCE_COLUMNS[2], utc_micros(), false),
        field(PROVENANCE_COLUMNS[3], DataType::Utf8, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// The silver schema of an entity.
pub fn schema(entity: Entity) -> SchemaRef {
    static SCHEMAS: OnceLock<[SchemaRef; 3]> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        [
            transaction_schema(),
            clickstream_schema(),
            inventory_schema(),
        ]
    });
    match entity {
        Entity::Transaction => schemas[0].clone(),
        Entity::Clickstream => schemas[1].clone(),
        Entity::Inventory => schemas[2].clone(),
    }
}

fn transaction_schema() -> SchemaRef {
    use DataType::{Boolean, Float64, Int32, Int64, Utf8};
    with_provenance(vec![
        field("event_id", Utf8, false),
        field("event_timestamp", utc_micros(), false),
        field("dt_date", Utf8, false),
        field("year", Int32, false),
        field("month", Int32, false),
        field("day", Int32, false),
        field("hour", Int32, false),
        field("user_id", Utf8, false),
        field("user_name", Utf8, true),
        field("user_email", Utf8, false),
        field("user_phone", Utf8, false),
        field("is_first_purchase", Boolean, false),
        field("language", Utf8, true),
        field("currency", Utf8, true),
        field("city_name", Utf8, true),
        field("country_name", Utf8, true),
        field("product_id", Int64, false),
        field("product_name", Utf8, true),
        field("product_category", Utf8, true),
        field("product_brand", Utf8, true),
        field("product_price", amount(), false),
        field("quantity", Int32, false),
        field("total_amount", amount(), false),
        field("feedback_score", Int32, true),
        field("shipping_address", Utf8, true),
        field("postal_code", Utf8, true),
        field("device_type", Utf8, true),
        field("browser", Utf8, true),
        field("referral_source", Utf8, false),
        field("campaign", Utf8, false),
        field("coupon_code", Utf8, false),
        field("coupon_code_flag", Boolean, false),
        field("payment_method", Utf8, true),
        field("payment_status", Utf8, true),
        field("transaction_status", Utf8, true),
        field("action_type", Utf8, false),
        field("fraud_score", Float64, false),
        field("risk_level", Utf8, false),
        field("fraud_review", Boolean, false),
        field("fraud_rules", Utf8, false),
        field("customer_segment", Utf8, true),
        field("profile_country", Utf8, true),
        field("repairs", Utf8, false),
    ])
}

fn clickstream_schema() -> SchemaRef {
    use DataType::{Int32, Int64, Utf8};
    with_provenance(vec![
        field("event_id", Utf8, false),
        field("event_type", Utf8, false),
        field("event_timestamp", utc_micros(), false),
        field("dt_date", Utf8, false),
        field("hour", Int32, false),
        field("user_id", Utf8, false),
        field("session_id", Utf8, true),
        field("page_url", Utf8, true),
        field("product_id", Int64, true),
        field("search_query", Utf8, true),
        field("device_type", Utf8, true),
        field("browser", Utf8, true),
        field("referral_source", Utf8, false),
        field("country_name", Utf8, true),
    ])
}

fn inventory_schema() -> SchemaRef {
    use DataType::{Int32, Int64, Utf8};
    with_provenance(vec![
        field("event_id", Utf8, false),
        field("action_type", Utf8, false),
        field("event_timestamp", utc_micros(), false),
        field("dt_date", Utf8, false),
        field("hour", Int32, false),
        field("product_id", Int64, false),
        field("warehouse_id", Utf8, false),
        field("quantity_change", Int64, false),
        field("stock_level", Int64, true),
        field("unit_cost", amount(), true),
        field("reason", Utf8, true),
    ])
}

fn strings<'a, T: 'a>(rows: &'a [T], get: impl Fn(&'a T) -> &'a str) -> ArrayRef {
    optional_strings(rows, |r| Some(get(r)))
}

fn optional_strings<'a, T: 'a>(rows: &'a [T], get: impl Fn(&'a T) -> Option<&'a str>) -> ArrayRef {
    // Sized up front: growing the value buffer by doubling copied every string again.
    let bytes = rows.iter().filter_map(&get).map(str::len).sum();
    let mut builder = StringBuilder::with_capacity(rows.len(), bytes);
    for row in rows {
        builder.append_option(get(row));
    }
    Arc::new(builder.finish())
}

/// `dt_date` (`YYYY-MM-DD`, UTC) of each row's event time. Rows of an object share a few
/// dates, so each is formatted once per run of equal dates, not once per row.
fn dates<T>(rows: &[T], get: impl Fn(&T) -> chrono::DateTime<chrono::Utc>) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(rows.len(), rows.len() * 10);
    let mut last: Option<(chrono::NaiveDate, String)> = None;
    for row in rows {
        let time = get(row);
        let date = time.date_naive();
        let text = match &mut last {
            Some((last_date, text)) if *last_date == date => text,
            slot => &slot.insert((date, date_parts(time).0)).1,
        };
        builder.append_value(text);
    }
    Arc::new(builder.finish())
}

fn timestamps<T>(rows: &[T], get: impl Fn(&T) -> chrono::DateTime<chrono::Utc>) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| get(r).timestamp_micros()))
            .with_timezone("UTC"),
    )
}

fn amounts<T>(rows: &[T], get: impl Fn(&T) -> Option<i64>) -> Result<ArrayRef, EncodeError> {
    let array = Decimal128Array::from_iter(rows.iter().map(|r| get(r).map(i128::from)))
        .with_precision_and_scale(AMOUNT_PRECISION, AMOUNT_SCALE)?;
    // Parquet stores DECIMAL(18,2) as INT64 without checking: an amount beyond 18 digits
    // would be written wrong, so it is an encode error instead.
    array.validate_decimal_precision(AMOUNT_PRECISION)?;
    Ok(Arc::new(array))
}

fn int32s<T>(rows: &[T], get: impl Fn(&T) -> Option<i32>) -> ArrayRef {
    Arc::new(Int32Array::from_iter(rows.iter().map(get)))
}

fn int64s<T>(rows: &[T], get: impl Fn(&T) -> Option<i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter(rows.iter().map(get)))
}

fn booleans<T>(rows: &[T], get: impl Fn(&T) -> bool) -> ArrayRef {
    Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(get(r)))))
}

/// The provenance columns of a batch's rows.
fn provenance_columns(rows: usize, provenance: &Provenance) -> Result<[ArrayRef; 4], EncodeError> {
    let origins = provenance.origins;
    if origins.len() != rows {
        return Err(EncodeError::ProvenanceMismatch {
            rows,
            origins: origins.len(),
        });
    }
    let mut sources = StringBuilder::with_capacity(rows, rows * 24);
    let mut positions = StringBuilder::with_capacity(rows, rows * 56);
    for origin in origins {
        // Writing into a StringBuilder cannot fail.
        let _ = origin.position.write_source(&mut sources);
        sources.append_value("");
        let _ = origin.position.write_position(&mut positions);
        positions.append_value("");
    }
    let object: ArrayRef = Arc::new(arrow::array::StringArray::from_iter_values(
        std::iter::repeat_n(provenance.object, rows),
    ));
    Ok([
        Arc::new(sources.finish()),
        Arc::new(positions.finish()),
        timestamps(origins, |o| o.arrival_time),
        object,
    ])
}

/// The repairs of each transaction (`""` when none).
fn repairs(rows: &[CleanTransaction]) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(rows.len(), 0);
    for row in rows {
        if row.repairs.is_empty() {
            builder.append_value("");
        } else {
            builder.append_value(row.repairs.codes());
        }
    }
    Arc::new(builder.finish())
}

/// The fraud rules each transaction matched, comma-separated (no string per row).
fn matched_rules(rows: &[CleanTransaction]) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
    let mut text = String::new();
    for row in rows {
        text.clear();
        for (i, rule) in row.fraud.matched_rules.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(rule);
        }
        builder.append_value(&text);
    }
    Arc::new(builder.finish())
}

/// Clean transactions as one Arrow batch in the silver schema.
pub fn transactions_batch(
    rows: &[CleanTransaction],
    provenance: &Provenance,
) -> Result<RecordBatch, EncodeError> {
    let columns: Vec<ArrayRef> = vec![
        strings(rows, |r| &r.event_id),
        timestamps(rows, |r| r.event_time),
        dates(rows, |r| r.event_time),
        int32s(rows, |r| Some(r.event_time.year())),
        int32s(rows, |r| Some(r.event_time.month() as i32)),
        int32s(rows, |r| Some(r.event_time.day() as i32)),
        int32s(rows, |r| Some(r.event_time.hour() as i32)),
        strings(rows, |r| &r.user_id),
        optional_strings(rows, |r| r.user_name.as_deref()),
        strings(rows, |r| &r.user_email),
        strings(rows, |r| &r.user_phone),
        booleans(rows, |r| r.is_first_purchase),
        optional_strings(rows, |r| r.language.as_deref()),
        optional_strings(rows, |r| r.currency.as_deref()),
        optional_strings(rows, |r| r.city_name.as_deref()),
        optional_strings(rows, |r| r.country_name.as_deref()),
        int64s(rows, |r| Some(r.product_id)),
        optional_strings(rows, |r| r.product_name.as_deref()),
        optional_strings(rows, |r| r.product_category.as_deref()),
        optional_strings(rows, |r| r.product_brand.as_deref()),
        amounts(rows, |r| Some(r.unit_price_cents))?,
        int32s(rows, |r| Some(r.quantity)),
        amounts(rows, |r| Some(r.total_amount_cents))?,
        int32s(rows, |r| r.feedback_score),
        optional_strings(rows, |r| r.shipping_address.as_deref()),
        optional_strings(rows, |r| r.postal_code.as_deref()),
        optional_strings(rows, |r| r.device_type.as_deref()),
        optional_strings(rows, |r| r.browser.as_deref()),
        strings(rows, |r| &r.referral_source),
        strings(rows, |r| &r.campaign),
        strings(rows, |r| &r.coupon_code),
        booleans(rows, |r| r.coupon_code_flag),
        optional_strings(rows, |r| r.payment_method.as_deref()),
        optional_strings(rows, |r| r.payment_status.as_deref()),
        optional_strings(rows, |r| r.transaction_status.as_deref()),
        strings(rows, |r| &r.action_type),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.fraud.score),
        )),
        strings(rows, |r| r.fraud.risk_level.as_str()),
        booleans(rows, |r| r.fraud.review),
        matched_rules(rows),
        optional_strings(rows, |r| r.customer_segment.as_deref()),
        optional_strings(rows, |r| r.profile_country.as_deref()),
        repairs(rows),
    ];
    let mut columns = columns;
    columns.extend(provenance_columns(rows.len(), provenance)?);
    Ok(RecordBatch::try_new(schema(Entity::Transaction), columns)?)
}

/// Clean clickstream events as one Arrow batch in the silver schema.
pub fn clickstream_batch(
    rows: &[CleanClickstream],
    provenance: &Provenance,
) -> Result<RecordBatch, EncodeError> {
    let columns: Vec<ArrayRef> = vec![
        strings(rows, |r| &r.event_id),
        strings(rows, |r| &r.event_type),
        timestamps(rows, |r| r.event_time),
        dates(rows, |r| r.event_time),
        int32s(rows, |r| Some(r.event_time.hour() as i32)),
        strings(rows, |r| &r.user_id),
        optional_strings(rows, |r| r.session_id.as_deref()),
        optional_strings(rows, |r| r.page_url.as_deref()),
        int64s(rows, |r| r.product_id),
        optional_strings(rows, |r| r.search_query.as_deref()),
        optional_strings(rows, |r| r.device_type.as_deref()),
        optional_strings(rows, |r| r.browser.as_deref()),
        strings(rows, |r| &r.referral_source),
        optional_strings(rows, |r| r.country_name.as_deref()),
    ];
    let mut columns = columns;
    columns.extend(provenance_columns(rows.len(), provenance)?);
    Ok(RecordBatch::try_new(schema(Entity::Clickstream), columns)?)
}

/// Clean inventory events as one Arrow batch in the silver schema.
pub fn inventory_batch(
    rows: &[CleanInventory],
    provenance: &Provenance,
) -> Result<RecordBatch, EncodeError> {
    let columns: Vec<ArrayRef> = vec![
        strings(rows, |r| &r.event_id),
        strings(rows, |r| &r.action_type),
        timestamps(rows, |r| r.event_time),
        dates(rows, |r| r.event_time),
        int32s(rows, |r| Some(r.event_time.hour() as i32)),
        int64s(rows, |r| Some(r.product_id)),
        strings(rows, |r| &r.warehouse_id),
        int64s(rows, |r| Some(r.quantity_change)),
        int64s(rows, |r| r.stock_level),
        amounts(rows, |r| r.unit_cost_cents)?,
        optional_strings(rows, |r| r.reason.as_deref()),
    ];
    let mut columns = columns;
    columns.extend(provenance_columns(rows.len(), provenance)?);
    Ok(RecordBatch::try_new(schema(Entity::Inventory), columns)?)
}

/// Writer settings shared by every silver and gold file.
pub fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        // Min/max per row group is what COPY and DataFusion prune on; per-page statistics
        // cost a comparison per value for a page index nothing here reads.
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by("shopstream".to_owned());
    for column in NEARLY_UNIQUE_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    builder.build()
}

/// Columns whose values rarely repeat within a file: a dictionary costs time (every value
/// interned) and overflows into plain encoding anyway, so they are written plain from the start.
const NEARLY_UNIQUE_COLUMNS: &[&str] = &[
    "event_id",
    "event_timestamp",
    "user_email",
    "user_phone",
    "user_name",
    "shipping_address",
    "session_id",
    "page_url",
    "search_query",
];

/// Encodes one batch as a complete Parquet file in memory.
pub fn to_parquet_bytes(batch: &RecordBatch) -> Result<Vec<u8>, EncodeError> {
    // Compressed Parquet is well under the in-memory size: start there instead of doubling up.
    let mut bytes = Vec::with_capacity(batch.get_array_memory_size() / 2);
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(writer_properties()))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(bytes)
}

/// Rows per Arrow batch handed to the Parquet writer when encoding rows. Building a column
/// walks every row, and there are ~40 columns: in batches this size the rows, and the payload
/// text they borrow, stay in cache from one column to the next. Row groups still hold up to
/// [`ROW_GROUP_ROWS`] rows.
pub const ENCODE_BATCH_ROWS: usize = 1024;

/// Encodes rows with their provenance as a complete Parquet file in memory,
/// [`ENCODE_BATCH_ROWS`] at a time.
pub fn rows_to_parquet<T>(
    rows: &[T],
    provenance: &Provenance,
    entity: Entity,
    batch: impl Fn(&[T], &Provenance) -> Result<RecordBatch, EncodeError>,
) -> Result<Vec<u8>, EncodeError> {
    if provenance.origins.len() != rows.len() {
        return Err(EncodeError::ProvenanceMismatch {
            rows: rows.len(),
            origins: provenance.origins.len(),
        });
    }
    let mut bytes = Vec::with_capacity(rows.len() * 160);
    let mut writer = ArrowWriter::try_new(&mut bytes, schema(entity), Some(writer_properties()))?;
    for start in (0..rows.len()).step_by(ENCODE_BATCH_ROWS) {
        let end = (start + ENCODE_BATCH_ROWS).min(rows.len());
        writer.write(&batch(&rows[start..end], &provenance.slice(start..end))?)?;
    }
    writer.close()?;
    Ok(bytes)
}

/// Clean transactions straight to Parquet bytes.
pub fn transactions_to_parquet(
    rows: &[CleanTransaction],
    provenance: &Provenance,
) -> Result<Vec<u8>, EncodeError> {
    rows_to_parquet(rows, provenance, Entity::Transaction, transactions_batch)
}

pub fn clickstream_to_parquet(
    rows: &[CleanClickstream],
    provenance: &Provenance,
) -> Result<Vec<u8>, EncodeError> {
    rows_to_parquet(rows, provenance, Entity::Clickstream, clickstream_batch)
}

pub fn inventory_to_parquet(
    rows: &[CleanInventory],
    provenance: &Provenance,
) -> Result<Vec<u8>, EncodeError> {
    rows_to_parquet(rows, provenance, Entity::Inventory, inventory_batch)
}

#[cfg(test)]
mod tests;
