//! Gold Parquet: each output model's rows in their ORDER BY, cut into parts of a fixed row
//! count and written in fixed slices, so the bytes depend on the rows only (a rerun of a batch
//! writes identical files, whatever batch sizes the engine produced).

use crate::engine::Output;
use crate::inputs::event_index_key;
use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use parquet::arrow::ArrowWriter;
use shopstream::columnar::writer_properties;
use shopstream::lake::gold_key;
use shopstream::manifest::{describe_file, GoldFile};
use std::collections::BTreeMap;

/// Rows handed to the Parquet writer per call.
const WRITE_SLICE_ROWS: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("encoding {table}: {message}")]
    Encode { table: String, message: String },
}

/// One encoded file and its row count.
#[derive(Debug, Clone)]
pub struct EncodedFile {
    pub key: String,
    pub bytes: Vec<u8>,
    pub rows: u64,
}

impl EncodedFile {
    pub fn describe(&self) -> GoldFile {
        describe_file(self.key.clone(), &self.bytes, self.rows)
    }
}

fn encode(table: &str, batch: &RecordBatch) -> Result<Vec<u8>, OutputError> {
    let error = |message: String| OutputError::Encode {
        table: table.to_owned(),
        message,
    };
    let mut bytes = Vec::with_capacity(batch.get_array_memory_size() / 3);
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(writer_properties()))
        .map_err(|e| error(e.to_string()))?;
    let mut offset = 0;
    while offset < batch.num_rows() {
        let length = WRITE_SLICE_ROWS.min(batch.num_rows() - offset);
        writer
            .write(&batch.slice(offset, length))
            .map_err(|e| error(e.to_string()))?;
        offset += length;
    }
    writer.close().map_err(|e| error(e.to_string()))?;
    Ok(bytes)
}

fn whole(output: &Output) -> Result<RecordBatch, OutputError> {
    concat_batches(&output.schema, &output.batches).map_err(|e| OutputError::Encode {
        table: output.table.clone(),
        message: e.to_string(),
    })
}

/// `gold/<table>/batch_id=<id>/part-NNNNN.parquet`, at most `part_rows` rows each; none for
/// an empty table.
pub fn table_files(
    output: &Output,
    batch_id: &str,
    part_rows: usize,
) -> Result<Vec<EncodedFile>, OutputError> {
    let all = whole(output)?;
    let part_rows = part_rows.max(1);
    let mut files = Vec::new();
    let mut offset = 0;
    let mut part = 0u32;
    while offset < all.num_rows() {
        let length = part_rows.min(all.num_rows() - offset);
        let slice = all.slice(offset, length);
        files.push(EncodedFile {
            key: gold_key(&output.table, batch_id, part),
            bytes: encode(&output.table, &slice)?,
            rows: length as u64,
        });
        offset += length;
        part += 1;
    }
    Ok(files)
}

/// `gold/_event_index/dt=<date>/batch_id=<id>.parquet`, one per event date (the rows are
/// ordered by date, so each date is one contiguous run).
pub fn event_index_files(output: &Output, batch_id: &str) -> Result<Vec<EncodedFile>, OutputError> {
    let all = whole(output)?;
    let error = |message: String| OutputError::Encode {
        table: output.table.clone(),
        message,
    };
    let dates = all
        .column_by_name("dt_date")
        .and_then(|c| {
            c.as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .cloned()
        })
        .ok_or_else(|| error("no text column dt_date".into()))?;
    let mut runs: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut start = 0;
    for row in 1..=all.num_rows() {
        if row == all.num_rows() || dates.value(row) != dates.value(start) {
            let date = dates.value(start).to_owned();
            if runs.insert(date.clone(), (start, row - start)).is_some() {
                return Err(error(format!("rows of {date} are not contiguous")));
            }
            start = row;
        }
    }
    runs.into_iter()
        .map(|(date, (offset, length))| {
            let slice = all.slice(offset, length);
            Ok(EncodedFile {
                key: event_index_key(&date, batch_id),
                bytes: encode(&output.table, &slice)?,
                rows: length as u64,
            })
        })
        .collect()
}
