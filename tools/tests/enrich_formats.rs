//! `shopstream enrich` on the same records in its three input formats: JSON lines, an Avro
//! object container and Confluent-framed Avro. Each goes through stream-enrich's own chain
//! (`enrich_slice`: the handler's decode → triage → enrich → plan → encode functions), and
//! every format must give the same silver rows, column by column, and the same refusals.
//!
//! The records: the ITI-shaped fixture (negative quantities on purchases, refunds and
//! returns; a zero quantity) and generated ITI-shaped transactions. Only records an Avro
//! writer can express are used (every field of the schema's type), since a container cannot
//! hold the others; the JSON-only refusals have their own tests.

use arrow::array::Array;
use arrow::util::display::array_value_to_string;
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use shopstream::config::CoreConfig;
use shopstream::decode::avro::{bundled_schema, json_to_avro};
use shopstream::decode::{decode_json, AvroSchemas};
use shopstream::record::Entity;
use shopstream_cli::confluent::confluent_frame;
use shopstream_cli::enrich::{enrich_slice, lines_of, payloads_of};
use shopstream_cli::generate::{Generator, GeneratorConfig};
use shopstream_cli::validate::InputFormat;

/// Provenance columns: the same records from different files or streams differ only there.
const PROVENANCE: [&str; 4] = ["_source", "_position", "_arrival_time", "_object"];

fn arrival() -> DateTime<Utc> {
    "2025-11-06T00:00:00Z".parse().unwrap()
}

/// The records as JSON lines: the fixture's, then 300 generated transactions of 2025-11-05.
fn records() -> Vec<Vec<u8>> {
    let fixture = include_bytes!("fixtures/iti-quantity-signs.jsonl");
    let mut config = GeneratorConfig {
        seed: 11,
        events: 300,
        start: "2025-11-05T00:00:00Z".parse().unwrap(),
        span_hours: 20,
        ..GeneratorConfig::default()
    };
    config.mix[1].1 = 0;
    config.mix[2].1 = 0;
    let mut generated = Vec::new();
    let mut generator = Generator::new(config);
    while generator.write_next(&mut generated).is_some() {}
    lines_of(fixture)
        .into_iter()
        .chain(lines_of(&generated))
        .filter(|line| decode_json(line).is_ok_and(|d| d.problems.is_empty()))
        .map(<[u8]>::to_vec)
        .collect()
}

fn jsonl_file(records: &[Vec<u8>]) -> Vec<u8> {
    records
        .iter()
        .flat_map(|r| r.iter().chain(b"\n"))
        .copied()
        .collect()
}

fn avro_file(records: &[Vec<u8>]) -> Vec<u8> {
    let schema = bundled_schema(Entity::Transaction);
    let mut writer = apache_avro::Writer::new(schema, Vec::new()).unwrap();
    for record in records {
        let decoded = decode_json(record).unwrap();
        writer
            .append_value(json_to_avro(&decoded.record.to_json_value(), schema).unwrap())
            .unwrap();
    }
    writer.into_inner().unwrap()
}

fn confluent_file(records: &[Vec<u8>]) -> Vec<u8> {
    let schemas = AvroSchemas::bundled_defaults();
    let mut file = Vec::new();
    for record in records {
        let frame = confluent_frame(record, &schemas).unwrap();
        file.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        file.extend_from_slice(&frame);
    }
    file
}

/// Silver rows (every column but provenance, as text) and the quarantined count of a file.
fn enriched(file: &[u8], format: InputFormat) -> (Vec<Vec<String>>, usize) {
    let core = CoreConfig::from_env(&shopstream::config::Env::default()).unwrap();
    let payloads = payloads_of(file, format).unwrap();
    let slice: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let mut rows = Vec::new();
    let mut quarantined = 0;
    for object in enrich_slice(&slice, 0, arrival(), &core).unwrap() {
        if object.quarantine {
            quarantined += object.rows;
            continue;
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(object.bytes))
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let schema = batch.schema();
            let kept: Vec<usize> = (0..batch.num_columns())
                .filter(|i| !PROVENANCE.contains(&schema.field(*i).name().as_str()))
                .collect();
            for row in 0..batch.num_rows() {
                rows.push(
                    kept.iter()
                        .map(|i| {
                            let column = batch.column(*i);
                            if column.is_null(row) {
                                "NULL".to_owned()
                            } else {
                                array_value_to_string(column, row).unwrap()
                            }
                        })
                        .collect(),
                );
            }
        }
    }
    rows.sort();
    (rows, quarantined)
}

#[test]
fn the_three_formats_give_the_same_silver_rows_and_refusals() {
    let records = records();
    assert!(records.len() > 250, "{} records", records.len());
    let (jsonl_rows, jsonl_refused) = enriched(&jsonl_file(&records), InputFormat::Jsonl);
    assert!(jsonl_rows.len() > 200, "{} silver rows", jsonl_rows.len());
    assert!(jsonl_refused > 0, "the fixture's zero quantity is refused");
    assert_eq!(jsonl_rows.len() + jsonl_refused, records.len());
    for (format, file) in [
        (InputFormat::Avro, avro_file(&records)),
        (InputFormat::Confluent, confluent_file(&records)),
    ] {
        let (rows, refused) = enriched(&file, format);
        assert_eq!(refused, jsonl_refused, "{format:?}: refusals");
        assert_eq!(rows.len(), jsonl_rows.len(), "{format:?}: rows");
        for (got, want) in rows.iter().zip(&jsonl_rows) {
            assert_eq!(got, want, "{format:?}");
        }
    }
}

#[test]
fn a_repaired_purchase_keeps_its_repair_in_every_format() {
    let records = records();
    for (format, file) in [
        (InputFormat::Jsonl, jsonl_file(&records)),
        (InputFormat::Avro, avro_file(&records)),
        (InputFormat::Confluent, confluent_file(&records)),
    ] {
        let (rows, _) = enriched(&file, format);
        let repaired = rows
            .iter()
            .filter(|row| row.iter().any(|cell| cell == "NEGATIVE_PURCHASE_QUANTITY"))
            .count();
        assert!(repaired >= 2, "{format:?}: {repaired} repaired purchases");
    }
}
