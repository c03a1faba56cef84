//! `shopstream enrich` on the same records in its three input formats: JSON lines, an Avro
//! object container and Confluent-framed Avro. Each goes through stream-enrich's own chain
//! (`enrich_slice`: the handler's decode → triage → enrich → plan → encode functions), and
//! every format must give the same silver rows, column by column, and the same refusals.
//!
//! The records: the ITI-shaped fixture (negative quantities on purchases, refunds and
//! returns; a zero quantity) and generated ITI-shaped transactions. Only records an Avro
//! writer can express are used (every field of the schema's type), since a container cannot
//! hold the others; the JSON-only refusals have their own tests.
//!
//! The same records sent as one Kinesis batch through the real stream-enrich handler on moto
//! (as JSON and as Confluent frames) must land as the same silver rows and refusals as
//! `shopstream enrich` gives: the file path and the stream path differ only in provenance.

use arrow::array::Array;
use arrow::util::display::array_value_to_string;
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use shopstream::config::CoreConfig;
use shopstream::decode::avro::{bundled_schema, json_to_avro};
use shopstream::decode::{decode_json, AvroSchemas};
use shopstream::record::Entity;
use shopstream_cli::confluent::confluent_frame;
use shopstream_cli::enrich::{enrich_slice, lines_of, payloads_of, InputFile};
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

/// Every row of a silver Parquet object but its provenance columns, as text.
fn silver_rows(parquet: Vec<u8>) -> Vec<Vec<String>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(parquet))
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
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
    rows
}

/// Silver rows (every column but provenance, as text, sorted) and the quarantined count of
/// a file through `shopstream enrich`'s path.
fn enriched(file: &[u8], format: InputFormat) -> (Vec<Vec<String>>, usize) {
    let core = CoreConfig::from_env(&shopstream::config::Env::default()).unwrap();
    let payloads = payloads_of(file, format).unwrap();
    let slice: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let input = InputFile::new(std::path::Path::new("fixture"), file);
    let mut rows = Vec::new();
    let mut quarantined = 0;
    for object in enrich_slice(&input, 0, &slice, arrival(), &core) {
        if object.quarantine {
            quarantined += object.rows;
        } else {
            rows.extend(silver_rows(object.bytes));
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

/// The silver rows and quarantined count the stream-enrich handler writes on moto for
/// `payloads` delivered as one Kinesis batch of one shard, all arrived at `arrival()`.
async fn streamed(payloads: &[Vec<u8>]) -> (Vec<Vec<String>>, usize) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use base64::Engine;
    use stream_enrich::alerts::FraudAlerter;
    use stream_enrich::enrich::{DynamoProfiles, Enricher, ProfileCache};
    use stream_enrich::writer::LakeWriter;

    let moto = shopstream_emulators::MotoServer::start().await.unwrap();
    let sdk = moto.sdk_config();
    let s3 = moto.s3_client();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    s3.create_bucket().bucket("lake").send().await.unwrap();
    dynamodb
        .create_table()
        .table_name("profiles")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("user_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("user_id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    aws_sdk_eventbridge::Client::new(&sdk)
        .create_event_bus()
        .name("alerts")
        .send()
        .await
        .unwrap();
    let config = stream_enrich::Config::from_env(&shopstream::config::Env::from_pairs([
        ("LAKE_BUCKET", "lake"),
        ("PROFILE_TABLE", "profiles"),
        ("EVENT_BUS_NAME", "alerts"),
    ]))
    .unwrap();
    let deps = stream_enrich::Deps {
        writer: LakeWriter::new(s3.clone(), "lake"),
        enricher: Enricher::new(
            ProfileCache::new(config.cache_capacity, config.cache_ttl),
            DynamoProfiles::new(dynamodb, "profiles", "user_id"),
        ),
        alerter: FraudAlerter::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            "alerts",
            config.alert_source.clone(),
        ),
        config,
    };
    let arrival_seconds = arrival().timestamp() as f64;
    let records: Vec<serde_json::Value> = payloads
        .iter()
        .enumerate()
        .map(|(index, payload)| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "k",
                    "sequenceNumber": format!("{}", 49_600_000_000_u64 + index as u64),
                    "data": base64::engine::general_purpose::STANDARD.encode(payload),
                    "approximateArrivalTimestamp": arrival_seconds,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{}", 49_600_000_000_u64 + index as u64),
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events",
            })
        })
        .collect();
    let event = serde_json::json!({ "Records": records });
    let response = stream_enrich::handler(
        &deps,
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert!(response.failures().is_empty(), "{:?}", response.failures());

    let mut rows = Vec::new();
    let mut quarantined = 0;
    let listed = s3
        .list_objects_v2()
        .bucket("lake")
        .max_keys(1000)
        .send()
        .await
        .unwrap();
    for object in listed.contents() {
        let key = object.key().unwrap();
        let body = s3
            .get_object()
            .bucket("lake")
            .key(key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .to_vec();
        if key.starts_with("silver/") {
            rows.extend(silver_rows(body));
        } else if key.starts_with("quarantine/") {
            quarantined += lines_of(&body).len();
        }
    }
    rows.sort();
    (rows, quarantined)
}

#[tokio::test]
async fn the_stream_handler_writes_the_same_silver_rows_as_enrich() {
    let records = records();
    let (file_rows, file_refused) = enriched(&jsonl_file(&records), InputFormat::Jsonl);
    let schemas = AvroSchemas::bundled_defaults();
    let frames: Vec<Vec<u8>> = records
        .iter()
        .map(|record| confluent_frame(record, &schemas).unwrap())
        .collect();
    for (carried_as, payloads) in [("JSON", records.clone()), ("Confluent frames", frames)] {
        let (stream_rows, stream_refused) = streamed(&payloads).await;
        assert_eq!(stream_refused, file_refused, "{carried_as}: refusals");
        assert_eq!(stream_rows.len(), file_rows.len(), "{carried_as}: rows");
        for (streamed_row, file_row) in stream_rows.iter().zip(&file_rows) {
            assert_eq!(streamed_row, file_row, "{carried_as}");
        }
    }
}

/// Every file under `dir`, path relative to it → bytes.
fn files_under(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[tokio::test]
async fn enriching_a_file_twice_rewrites_the_same_objects_and_accounts_for_every_record() {
    use shopstream_cli::enrich::{run_enrich, EnrichArgs};
    let dir = tempfile::tempdir().unwrap();
    let mut records = records();
    records.push(b"not json".to_vec());
    let input = dir.path().join("backfill 2025-11-05.jsonl");
    std::fs::write(&input, jsonl_file(&records)).unwrap();
    let lake = dir.path().join("lake");
    let args = || EnrichArgs {
        inputs: vec![input.clone()],
        format: InputFormat::Jsonl,
        lake: lake.display().to_string(),
        slice_records: 100,
        arrival: Some(arrival()),
    };
    let counts = run_enrich(args()).await.unwrap();
    assert_eq!(counts.records, records.len() as u64);
    assert_eq!(counts.silver_rows + counts.quarantined, counts.records);
    let first = files_under(&lake);
    assert_eq!(first.len() as u64, counts.objects);
    assert!(
        first
            .keys()
            .all(|key| key.contains("file-backfill_2025-11-05.jsonl-")),
        "{:?}",
        first.keys()
    );
    run_enrich(args()).await.unwrap();
    assert_eq!(
        files_under(&lake),
        first,
        "a second run writes the same objects"
    );
}
