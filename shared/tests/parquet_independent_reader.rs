//! Silver Parquet written by the core, read back by an independent implementation (pyarrow
//! from the project venv) to check the schema and values are what other tools will see.

use shopstream::clean::{accept, CleanRecord, CleanTransaction};
use shopstream::columnar::{transactions_to_parquet, Origin, Provenance};
use shopstream::decode::decode_json;
use shopstream::quarantine::RecordPosition;
use shopstream::validate::ValidationRules;
use std::process::Command;

const PYARROW_SCRIPT: &str = r#"
import json, sys
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
table = f.read()
rows = table.to_pylist()
print(json.dumps({
    "schema": [[field.name, str(field.type), field.nullable] for field in table.schema],
    "num_rows": table.num_rows,
    "compression": f.metadata.row_group(0).column(0).compression,
    "rows": [{
        "event_id": r["event_id"],
        "event_timestamp": r["event_timestamp"].isoformat(),
        "product_price": str(r["product_price"]),
        "total_amount": str(r["total_amount"]),
        "quantity": r["quantity"],
        "product_category": r["product_category"],
        "user_phone": r["user_phone"],
        "feedback_score": r["feedback_score"],
        "coupon_code": r["coupon_code"],
        "fraud_score": r["fraud_score"],
        "risk_level": r["risk_level"],
        "_source": r["_source"],
        "_position": r["_position"],
        "_arrival_time": r["_arrival_time"].isoformat(),
        "_object": r["_object"],
    } for r in rows],
}))
"#;

fn clean(json: &str) -> CleanTransaction<'_> {
    let now = chrono::DateTime::parse_from_rfc3339("2024-11-06T00:00:00Z")
        .unwrap()
        .to_utc();
    match accept(
        decode_json(json.as_bytes()).unwrap(),
        now,
        &ValidationRules::default(),
    ) {
        Ok(CleanRecord::Transaction(t)) => t,
        other => panic!("sample must be accepted: {other:?}"),
    }
}

#[test]
fn pyarrow_reads_back_schema_and_values() -> anyhow::Result<()> {
    let purchase = clean(
        r#"{"event_id":"e-1","user_id":"u-1","quantity":3,"product_id":7,"product_price":"$1,299.99",
            "product_category":" electronics","user_phone":"+1 415 555 0100","feedback_score":7,
            "action_type":"purchase","shipping_address":"1 Main St","payment_method":"gift_card",
            "event_timestamp":"2024-11-05T20:30:00.250Z"}"#,
    );
    let mut refund = clean(
        r#"{"event_id":"e-2","user_id":"u-2","quantity":1,"product_id":8,"product_price":19.99,
            "action_type":"refund","event_timestamp":"2024-11-05T21:00:00Z","coupon_code":"SAVE5"}"#,
    );
    refund.fraud.score = 0.25;
    let mut rows = vec![purchase, refund];
    let rules = shopstream::fraud::FraudRules::default();
    rows[0].fraud = rules.assess(&rows[0], &shopstream::fraud::FraudContext::default());

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("silver.parquet");
    let positions = [7, 8].map(|offset| RecordPosition::Kafka {
        topic: "events".into(),
        partition: 2,
        offset,
    });
    let arrival = chrono::DateTime::parse_from_rfc3339("2024-11-05T21:00:01.5Z")?.to_utc();
    let origins: Vec<Origin> = positions
        .iter()
        .map(|position| Origin {
            position,
            arrival_time: arrival,
        })
        .collect();
    let provenance = Provenance {
        object: "silver/transaction/dt=2024-11-05/hour=20/events-2-7-8.parquet",
        origins: &origins,
    };
    std::fs::write(&path, transactions_to_parquet(&rows, &provenance)?)?;

    let python = shopstream_emulators::venv_python()?;
    let output = Command::new(python)
        .arg("-c")
        .arg(PYARROW_SCRIPT)
        .arg(&path)
        .output()?;
    assert!(
        output.status.success(),
        "pyarrow failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;

    assert_eq!(report["num_rows"], 2);
    assert_eq!(report["compression"], "SNAPPY");
    let schema = report["schema"].as_array().unwrap();
    let field = |name: &str| {
        schema
            .iter()
            .find(|f| f[0] == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    assert_eq!(field("event_timestamp")[1], "timestamp[us, tz=UTC]");
    assert_eq!(field("total_amount")[1], "decimal128(18, 2)");
    assert_eq!(field("product_price")[1], "decimal128(18, 2)");
    assert_eq!(field("quantity")[1], "int32");
    assert_eq!(field("event_id")[2], false);
    assert_eq!(field("feedback_score")[2], true);
    assert_eq!(schema.len(), 47);
    assert_eq!(field("_arrival_time")[1], "timestamp[us, tz=UTC]");
    assert_eq!(field("_position")[1], "string");

    let first = &report["rows"][0];
    assert_eq!(first["event_id"], "e-1");
    assert_eq!(first["event_timestamp"], "2024-11-05T20:30:00.250000+00:00");
    assert_eq!(first["product_price"], "1299.99");
    assert_eq!(first["total_amount"], "3899.97");
    assert_eq!(first["product_category"], "ELECTRONICS");
    assert_eq!(first["user_phone"], "+14155550100");
    assert_eq!(first["feedback_score"], 5);
    assert_eq!(first["coupon_code"], "no_coupon");
    assert_eq!(first["fraud_score"], 0.5);
    assert_eq!(first["risk_level"], "MEDIUM");
    let second = &report["rows"][1];
    assert_eq!(second["total_amount"], "-19.99");
    assert_eq!(second["coupon_code"], "SAVE5");
    assert_eq!(second["fraud_score"], 0.25);
    assert_eq!(second["quantity"], -1);
    assert_eq!(second["_source"], "events-2");
    assert_eq!(second["_position"], "8");
    assert_eq!(second["_arrival_time"], "2024-11-05T21:00:01.500000+00:00");
    assert_eq!(
        second["_object"],
        "silver/transaction/dt=2024-11-05/hour=20/events-2-7-8.parquet"
    );
    Ok(())
}
