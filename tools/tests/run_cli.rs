//! `shopstream run --events 20000` end to end on moto, with the summary JSON checked against
//! what each stage independently counted: nothing lost, every refusal accounted for.

use serde_json::Value;
use std::process::Command;

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

#[test]
fn twenty_thousand_events_through_the_streaming_half() {
    let dir = tempfile::tempdir().unwrap();
    let summary_path = dir.path().join("summary.json");
    let output = Command::new(env!("CARGO_BIN_EXE_shopstream"))
        .args([
            "run",
            "--events",
            "20000",
            "--summary-json",
            summary_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "run failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    let (generate, ingest, enrich, lake, totals) = (
        &summary["generate"],
        &summary["ingest"],
        &summary["enrich"],
        &summary["lake"],
        &summary["totals"],
    );

    // in = accepted + rejected, stage by stage.
    assert_eq!(count(&generate["events"]), 20_000);
    assert_eq!(count(&ingest["records"]), 20_000);
    assert_eq!(
        count(&ingest["accepted"]) + count(&ingest["rejected"]),
        20_000
    );
    assert_eq!(
        count(&enrich["records_in"]),
        count(&ingest["accepted"]),
        "everything put on the stream was consumed"
    );
    // Silver rows read back = accepted by stream-enrich; quarantine lines = refused by it.
    assert_eq!(
        count(&lake["silver_rows"]) + count(&lake["quarantine_lines"]),
        count(&enrich["records_in"])
    );
    assert_eq!(
        count(&totals["in"]),
        count(&totals["accepted"]) + count(&totals["rejected"])
    );
    assert_eq!(totals["lost"], 0);
    assert_eq!(count(&enrich["reported_failures"]), 0);

    // Every broken record the generator made was refused by the API with its own reason,
    // except duplicates, which only the stream side can see, and missing event ids, which the
    // API fills in server-side.
    let injected = generate["detail"]["anomalies"].as_object().unwrap();
    let refused = ingest["rejected_by_reason"].as_object().unwrap();
    let mut injected_at_api = 0;
    for (reason, made) in injected {
        if reason == "DUPLICATE_EVENT" {
            let caught = count(&lake["quarantine_by_reason"]["DUPLICATE_EVENT"])
                + count(&lake["silver_duplicate_event_ids"]);
            assert!(
                caught <= count(made),
                "duplicates: {caught} caught of {made} made"
            );
            continue;
        }
        if reason == "MISSING_EVENT_ID" {
            assert_eq!(
                refused.get(reason),
                None,
                "the API assigns missing event ids"
            );
            continue;
        }
        injected_at_api += count(made);
        assert_eq!(
            refused.get(reason).map(count),
            Some(count(made)),
            "{reason}"
        );
    }
    assert_eq!(count(&ingest["rejected"]), injected_at_api);
    let silver = lake["silver_rows_by_entity"].as_object().unwrap();
    assert!(
        count(&silver["transaction"]) > 14_000
            && count(&silver["clickstream"]) > 2_000
            && count(&silver["inventory"]) > 500
    );
    assert!(count(&totals["fraud_alerts"]) > 0);
}
