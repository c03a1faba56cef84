use super::*;
use crate::testdata::{cleaned, iti_transaction};
use arrow::array::Array;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};

const OBJECT: &str = "silver/transaction/dt=2024-11-05/hour=20/shardId-000000000001-10-19.parquet";

fn positions(n: usize) -> Vec<RecordPosition> {
    (0..n)
        .map(|i| RecordPosition::Kinesis {
            shard_id: "shardId-000000000001".into(),
            sequence_number: format!("{}", 10 + i),
        })
        .collect()
}

fn origins(positions: &[RecordPosition]) -> Vec<Origin<'_>> {
    positions
        .iter()
        .enumerate()
        .map(|(i, position)| Origin {
            position,
            arrival_time: chrono::DateTime::from_timestamp_micros(1_730_838_000_000_000 + i as i64)
                .unwrap(),
        })
        .collect()
}

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
    let positions = positions(10);
    let origins = origins(&positions);
    let provenance = Provenance {
        object: OBJECT,
        origins: &origins,
    };
    let bytes = transactions_to_parquet(&rows, &provenance).unwrap();
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
    let none = Provenance {
        object: OBJECT,
        origins: &[],
    };
    let empty_transactions = transactions_batch(&[], &none).unwrap();
    assert_eq!(empty_transactions.num_rows(), 0);
    assert_eq!(
        clickstream_batch(&[], &none).unwrap().schema(),
        schema(Entity::Clickstream)
    );
    assert_eq!(
        inventory_batch(&[], &none).unwrap().schema(),
        schema(Entity::Inventory)
    );
}

#[test]
fn nullable_columns_carry_nulls() {
    let mut rows = clean_sample(2);
    rows[1].feedback_score = None;
    rows[1].customer_segment = Some("vip".into());
    let positions = positions(2);
    let origins = origins(&positions);
    let provenance = Provenance {
        object: OBJECT,
        origins: &origins,
    };
    let batch = transactions_batch(&rows, &provenance).unwrap();
    let feedback = batch.column_by_name("feedback_score").unwrap();
    assert_eq!(feedback.null_count(), 1);
    let segment = batch.column_by_name("customer_segment").unwrap();
    assert_eq!(segment.null_count(), 1);
}

#[test]
fn every_silver_schema_ends_with_the_provenance_columns() {
    for entity in [Entity::Transaction, Entity::Clickstream, Entity::Inventory] {
        let schema = schema(entity);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names[names.len() - 4..], PROVENANCE_COLUMNS, "{entity:?}");
        let arrival = schema.field_with_name("_arrival_time").unwrap();
        assert_eq!(arrival.data_type(), &utc_micros());
        assert!(schema
            .fields()
            .iter()
            .rev()
            .take(4)
            .all(|f| !f.is_nullable()));
    }
    let transaction = schema(Entity::Transaction);
    let names: Vec<&str> = transaction
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names[names.len() - 5], "repairs");
}

#[test]
fn provenance_columns_carry_each_rows_origin_and_the_object_key() {
    let rows = clean_sample(3);
    let kafka: Vec<RecordPosition> = (0..3)
        .map(|i| RecordPosition::Kafka {
            topic: "events".into(),
            partition: 4,
            offset: 1_000 + i,
        })
        .collect();
    let origins = origins(&kafka);
    let provenance = Provenance {
        object: OBJECT,
        origins: &origins,
    };
    let batch = transactions_batch(&rows, &provenance).unwrap();
    let text = |name: &str, row: usize| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap()
            .value(row)
            .to_owned()
    };
    assert_eq!(text("_source", 2), "events-4");
    assert_eq!(text("_position", 2), "1002");
    assert_eq!(text("_object", 0), OBJECT);
    let arrivals = batch
        .column_by_name("_arrival_time")
        .unwrap()
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(arrivals.value(1), 1_730_838_000_000_001);
}

#[test]
fn provenance_must_match_the_rows_one_to_one() {
    let rows = clean_sample(3);
    let positions = positions(2);
    let origins = origins(&positions);
    let provenance = Provenance {
        object: OBJECT,
        origins: &origins,
    };
    assert!(matches!(
        transactions_to_parquet(&rows, &provenance),
        Err(EncodeError::ProvenanceMismatch {
            rows: 3,
            origins: 2
        })
    ));
}

#[test]
fn an_amount_beyond_eighteen_digits_is_an_encode_error_not_a_wrong_value() {
    let mut rows = clean_sample(2);
    rows[1].total_amount_cents = i64::MAX;
    let positions = positions(2);
    let origins = origins(&positions);
    let provenance = Provenance {
        object: OBJECT,
        origins: &origins,
    };
    assert!(matches!(
        transactions_to_parquet(&rows, &provenance),
        Err(EncodeError::Arrow(_))
    ));
    assert!(transactions_to_parquet(&rows[..1], &provenance.slice(0..1)).is_ok());
}

#[test]
fn repairs_are_written_as_codes() {
    let mut rows = clean_sample(2);
    rows[1]
        .repairs
        .insert(crate::clean::Repair::NegativePurchaseQuantity);
    let positions = positions(2);
    let origins = origins(&positions);
    let provenance = Provenance {
        object: OBJECT,
        origins: &origins,
    };
    let batch = transactions_batch(&rows, &provenance).unwrap();
    let repairs = batch
        .column_by_name("repairs")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    assert_eq!(repairs.value(0), "");
    assert_eq!(repairs.value(1), "NEGATIVE_PURCHASE_QUANTITY");
}
