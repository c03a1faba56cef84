//! `shopstream validate` on a hand-checked fixture, in all three input formats.
//!
//! fixtures/sample.jsonl, line by line: 1 valid purchase; 2 valid refund with a "$1,299.99"
//! price; 3 null user (NULL_USER_ID); 4 future timestamp and zero quantity
//! (FUTURE_TIMESTAMP + BAD_QUANTITY); 5 cut-off JSON (DECODE_ERROR); 6 line 1 again
//! (DUPLICATE_EVENT); 7 valid page view; 8 restock with a negative change (BAD_QUANTITY);
//! 9 valid sale; 10 numeric user_id (SCHEMA_MISMATCH).

use serde_json::Value;
use shopstream::decode::avro::{bundled_schema, encode_confluent, json_to_avro};
use shopstream::decode::decode_json;
use shopstream::record::Entity;
use std::path::{Path, PathBuf};
use std::process::Command;

const NOW: &str = "2026-01-01T00:00:00Z";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample.jsonl")
}

fn fixture_lines() -> Vec<Vec<u8>> {
    std::fs::read(fixture())
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn validate(file: &Path, format: &str, extra: &[&str]) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_shopstream"))
        .args([
            "validate",
            file.to_str().unwrap(),
            "--format",
            format,
            "--json",
            "--now",
            NOW,
        ])
        .args(extra)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap_or(-1), report)
}

/// The report's reason counts, by name (the report lists them in `RejectReason` order; a
/// parsed JSON object keeps or sorts its keys depending on serde_json's features).
fn reasons(report: &Value) -> Vec<(String, u64)> {
    let mut pairs: Vec<(String, u64)> = report["reasons"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    pairs.sort();
    pairs
}

/// Expected reason counts, by name.
fn owned(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut pairs: Vec<(String, u64)> = pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    pairs.sort();
    pairs
}

#[test]
fn jsonl_counts_reasons_and_rejects_match_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let (code, report) = validate(
        &fixture(),
        "jsonl",
        &[
            "--rejects",
            rejects.to_str().unwrap(),
            "--max-rejection-rate",
            "0.7",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        (
            report["records"].as_u64(),
            report["accepted"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(10), Some(4), Some(6))
    );
    assert_eq!(
        reasons(&report),
        owned(&[
            ("FUTURE_TIMESTAMP", 1),
            ("BAD_QUANTITY", 2),
            ("NULL_USER_ID", 1),
            ("DECODE_ERROR", 1),
            ("SCHEMA_MISMATCH", 1),
            ("DUPLICATE_EVENT", 1)
        ])
    );
    assert_eq!(report["by_entity"]["inventory"]["rejected"], 1);
    assert_eq!(report["by_entity"]["unknown"]["records"], 1);
    // Six lines decode as transactions (1, 2, 3, 4, 6, 10); lines 1 and 6 have a phone.
    assert_eq!(
        report["completeness"]["transaction"]["user_phone"].as_f64(),
        Some(2.0 / 6.0)
    );
    assert_eq!(
        report["completeness"]["transaction"]["event_id"].as_f64(),
        Some(1.0)
    );
    let lines: Vec<Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let positions: Vec<u64> = lines
        .iter()
        .map(|l| l["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, vec![2, 3, 4, 5, 7, 9]);
    assert_eq!(lines[1]["event_id"], "t-4");
    assert_eq!(
        lines[1]["reasons"],
        serde_json::json!(["FUTURE_TIMESTAMP", "BAD_QUANTITY"])
    );
}

#[test]
fn exceeding_the_rejection_threshold_exits_with_2() {
    let (code, report) = validate(&fixture(), "jsonl", &[]);
    assert_eq!(report["rejection_rate"], 0.6);
    assert_eq!(code, 2);
}

#[test]
fn confluent_frames_give_the_same_counts() {
    let schemas = shopstream::decode::AvroSchemas::bundled_defaults();
    let mut file = Vec::new();
    for line in fixture_lines() {
        let frame = match decode_json(&line) {
            Ok(decoded) if decoded.problems.is_empty() => {
                let entity = decoded.record.entity();
                encode_confluent(
                    schemas.id_for(entity).unwrap(),
                    bundled_schema(entity),
                    &decoded.record,
                )
                .unwrap()
            }
            Ok(_) => vec![0, 0, 0, 0, 99, 1], // a schema id no one registered
            Err(_) => vec![0, 0, 0, 0, 1, 0x80], // an Avro body that stops short
        };
        file.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        file.extend_from_slice(&frame);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.confluent");
    std::fs::write(&path, file).unwrap();
    let (_, report) = validate(&path, "confluent", &[]);
    assert_eq!(
        (
            report["records"].as_u64(),
            report["accepted"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(10), Some(4), Some(6))
    );
    assert_eq!(report["reasons"]["DECODE_ERROR"], 1);
    assert_eq!(report["reasons"]["SCHEMA_MISMATCH"], 1);
    assert_eq!(report["reasons"]["DUPLICATE_EVENT"], 1);
    assert_eq!(report["reasons"]["BAD_QUANTITY"], 2);
}

#[test]
fn avro_container_of_transactions_gives_the_transaction_counts() {
    let schema = bundled_schema(Entity::Transaction);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.avro");
    let mut writer =
        apache_avro::Writer::new(schema, std::fs::File::create(&path).unwrap()).unwrap();
    let mut written = 0;
    for line in fixture_lines() {
        let Ok(decoded) = decode_json(&line) else {
            continue;
        };
        if decoded.record.entity() != Entity::Transaction || !decoded.problems.is_empty() {
            continue;
        }
        // The fixture's optional fields are filled the way an Avro producer must.
        let mut json = decoded.record.to_json_value();
        for field in [
            "user_name",
            "user_email",
            "language",
            "currency",
            "city_name",
            "country_name",
            "product_name",
            "product_category",
            "product_brand",
            "device_type",
            "browser",
            "payment_method",
            "payment_status",
            "transaction_status",
            "dt_date",
        ] {
            if json[field].is_null() {
                json[field] = "".into();
            }
        }
        for field in ["year", "month", "day", "hour"] {
            if json[field].is_null() {
                json[field] = 0.into();
            }
        }
        if json["is_first_purchase"].is_null() {
            json["is_first_purchase"] = false.into();
        }
        writer
            .append_value(json_to_avro(&json, schema).unwrap())
            .unwrap();
        written += 1;
    }
    writer.flush().unwrap();
    drop(writer);
    assert_eq!(written, 5);
    let (_, report) = validate(&path, "avro", &[]);
    assert_eq!(
        (
            report["records"].as_u64(),
            report["accepted"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(5), Some(2), Some(3))
    );
    assert_eq!(
        reasons(&report),
        owned(&[
            ("NULL_USER_ID", 1),
            ("FUTURE_TIMESTAMP", 1),
            ("BAD_QUANTITY", 1),
            ("DUPLICATE_EVENT", 1)
        ])
    );
}

#[test]
fn generated_files_validate_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for (format, mix) in [
        ("jsonl", "transaction=8,clickstream=1,inventory=1"),
        ("confluent", "transaction=8,clickstream=1,inventory=1"),
        ("avro", "transaction=1"),
    ] {
        let path = dir.path().join(format!("gen.{format}"));
        let status = Command::new(env!("CARGO_BIN_EXE_shopstream"))
            .args([
                "generate",
                "-n",
                "3000",
                "--format",
                format,
                "--mix",
                mix,
                "--out",
                path.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
        let (code, report) = validate(&path, format, &[]);
        assert_eq!(code, 0, "{format}: {report}");
        let records = report["records"].as_u64().unwrap();
        assert!(records >= 2_990, "{format}: {records}");
        let rate = report["rejection_rate"].as_f64().unwrap();
        assert!(
            rate > 0.005 && rate < 0.05,
            "{format}: rejection rate {rate}"
        );
    }
}

/// fixtures/iti-quantity-signs.jsonl, line by line (ITI's generator writes negative
/// quantities on about 2 % of transactions, mostly successful purchases): 1–2 purchases with
/// -2 and -1 (repaired to their absolute value); 3 refund with -3 and 4 return with -1
/// (accepted as given); 5 refund with +2 (accepted, stored as -2); 6 purchase with 0 and
/// 7 refund with -1001 (BAD_QUANTITY); 8 plain purchase.
fn quantity_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iti-quantity-signs.jsonl")
}

#[test]
fn quantity_signs_are_accepted_repaired_or_refused_as_documented() {
    let (_, report) = validate(&quantity_fixture(), "jsonl", &[]);
    assert_eq!(report["records"], 8);
    assert_eq!(report["accepted"], 6);
    assert_eq!(reasons(&report), owned(&[("BAD_QUANTITY", 2)]));
    assert_eq!(report["repairs"]["NEGATIVE_PURCHASE_QUANTITY"], 2);
}

#[test]
fn negative_purchases_are_refused_when_the_policy_says_refuse() {
    let output = Command::new(env!("CARGO_BIN_EXE_shopstream"))
        .args(["validate", quantity_fixture().to_str().unwrap()])
        .args(["--format", "jsonl", "--json", "--now", NOW])
        .env("NEGATIVE_PURCHASE_QUANTITY", "refuse")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["accepted"], 4);
    assert_eq!(reasons(&report), owned(&[("BAD_QUANTITY", 4)]));
    assert_eq!(report["repairs"], serde_json::json!({}));
}
