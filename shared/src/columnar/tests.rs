use super::*;
use crate::testdata::{cleaned, iti_transaction};
use arrow::array::Array;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};

fn clean_sample(n: usize) -> Vec<CleanTransaction<'static>> {
    (0..n)
        .map(|i| {
            let mut t = iti_transaction();
            t.event_id = Some(format!("e-{i}").into());
            t.quantity = Some(1 + (i as i64 % 5));
            cleaned(&t)
        })
        .collect()
}

#[test]
fn transactions_round_trip_through_parquet() {
    let rows = clean_sample(10);
    let bytes = transactions_to_parquet(&rows).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(
        batch.schema().fields(),
        schema(Entity::Transaction).fields()
    );
    assert_eq!(batch.num_rows(), 10);
    let totals = batch
        .column_by_name("total_amount")
        .unwrap()
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(totals.value(2), 3 * 19_999);
    assert_eq!(totals.value_as_string(2), "599.97");
    let file = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
    let column = file.metadata().row_group(0).column(0);
    assert_eq!(column.compression(), Compression::SNAPPY);
}

#[test]
fn every_entity_schema_matches_its_batch() {
    let empty_transactions = transactions_batch(&[]).unwrap();
    assert_eq!(empty_transactions.num_rows(), 0);
    assert_eq!(
        clickstream_batch(&[]).unwrap().schema(),
        schema(Entity::Clickstream)
    );
    assert_eq!(
        inventory_batch(&[]).unwrap().schema(),
        schema(Entity::Inventory)
    );
}

#[test]
fn nullable_columns_carry_nulls() {
    let mut rows = clean_sample(2);
    rows[1].feedback_score = None;
    rows[1].customer_segment = Some("vip".into());
    let batch = transactions_batch(&rows).unwrap();
    let feedback = batch.column_by_name("feedback_score").unwrap();
    assert_eq!(feedback.null_count(), 1);
    let segment = batch.column_by_name("customer_segment").unwrap();
    assert_eq!(segment.null_count(), 1);
}
