use super::*;
use crate::ledger::{window_of, InputObject};

fn sample() -> Manifest {
    let part = b"PAR1 not really parquet PAR1";
    let mut tables = BTreeMap::new();
    tables.insert(
        "final_fact".to_owned(),
        TableOutput {
            rows: 3,
            files: vec![describe_file(
                "gold/final_fact/batch_id=b/part-00000.parquet",
                part,
                3,
            )],
        },
    );
    tables.insert("dim_user".to_owned(), TableOutput::default());
    Manifest {
        format_version: FORMAT_VERSION,
        batch_id: "b".into(),
        engine: "datafusion".into(),
        window: window_of(["silver/transaction/dt=2026-12-02/hour=10/a.parquet"]),
        tables,
        event_index: vec![describe_file(
            "gold/_event_index/dt=2026-12-02/batch_id=b.parquet",
            b"index",
            3,
        )],
        silver_inputs: vec![InputObject {
            key: "silver/transaction/dt=2026-12-02/hour=10/a.parquet".into(),
            size_bytes: 10,
            etag: "e".into(),
        }],
        bad_inputs: vec![BadInput {
            key: "silver/transaction/dt=2026-12-02/hour=10/b.parquet".into(),
            error: "not Parquet: \"ü\"\n".into(),
        }],
        model_versions: BTreeMap::from([("final_fact".into(), "abc".into())]),
        counts: BatchCounts {
            silver_rows: 4,
            quarantine_rows: 1,
            duplicates_in_batch: 1,
            duplicates_from_gold: 0,
        },
        checksum: String::new(),
    }
    .seal()
}

#[test]
fn sealed_manifest_round_trips_and_verifies() {
    let manifest = sample();
    assert_eq!(manifest.checksum.len(), 64);
    let parsed = Manifest::from_json(&manifest.to_json()).unwrap();
    assert_eq!(parsed, manifest);
    assert_eq!(parsed.duplicates_dropped(), 1);
    assert_eq!(parsed.files().count(), 1);
}

#[test]
fn any_edit_breaks_the_checksum() {
    let mut edited = sample();
    edited.counts.silver_rows += 1;
    assert!(matches!(
        edited.verify(),
        Err(ManifestError::Checksum { .. })
    ));
    let text = String::from_utf8(sample().to_json()).unwrap();
    let tampered = text.replace("\"rows\": 3", "\"rows\": 4");
    assert_ne!(text, tampered);
    assert!(Manifest::from_json(tampered.as_bytes()).is_err());
}

#[test]
fn unknown_format_versions_are_refused() {
    let mut manifest = sample();
    manifest.format_version = 2;
    let manifest = manifest.seal();
    assert!(matches!(manifest.verify(), Err(ManifestError::Version(2))));
}

#[test]
fn checksum_is_over_sorted_compact_json() {
    // The documented recipe, computed independently of compute_checksum's code path.
    let manifest = sample();
    let mut value = serde_json::to_value(&manifest).unwrap();
    value["checksum"] = serde_json::Value::String(String::new());
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let ordered: BTreeMap<String, serde_json::Value> =
                    map.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
                serde_json::to_value(ordered).unwrap()
            }
            serde_json::Value::Array(items) => items.iter().map(sorted).collect(),
            other => other.clone(),
        }
    }
    let text = serde_json::to_string(&sorted(&value)).unwrap();
    assert!(text.starts_with("{\"bad_inputs\":[{\"error\":"), "{text}");
    assert_eq!(sha256_hex(text.as_bytes()), manifest.checksum);
}

#[test]
fn files_are_verified_by_size_and_digest() {
    let manifest = sample();
    let (_, file) = manifest.files().next().unwrap();
    assert!(verify_file(file, b"PAR1 not really parquet PAR1").is_ok());
    assert!(verify_file(file, b"PAR1 not really parquet PAR2").is_err());
    assert!(verify_file(file, b"short").is_err());
}

#[test]
fn manifest_key_is_the_lake_layout() {
    assert_eq!(manifest_key("b-1"), "gold/_manifests/b-1.json");
}
