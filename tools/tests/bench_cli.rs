//! `shopstream bench` runs every measurement and reports sane figures (the figures themselves
//! are for release builds; this checks the command, not the machine).

use serde_json::Value;
use std::process::Command;

#[test]
fn bench_measures_the_four_paths_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let output = Command::new(env!("CARGO_BIN_EXE_shopstream"))
        .args([
            "bench",
            "--seconds",
            "0.1",
            "--json",
            json_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let names: Vec<&str> = report["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["generate", "core_pipeline", "ingest_api", "stream_enrich"]
    );
    for m in report["measurements"].as_array().unwrap() {
        assert!(m["records_per_second"].as_f64().unwrap() > 0.0, "{m}");
        assert!(m["megabytes_per_second"].as_f64().unwrap() > 0.0, "{m}");
        assert!(
            m["iteration_ms_p99"].as_f64().unwrap() >= m["iteration_ms_p50"].as_f64().unwrap(),
            "{m}"
        );
        assert!(table.contains(m["name"].as_str().unwrap()));
    }
}
