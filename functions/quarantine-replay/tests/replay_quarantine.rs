//! replay-quarantine against moto: corrected records reach the stream exactly once (read
//! back), the rest stay quarantined with their current reasons, a second replay sends nothing,
//! and bad corrections are refused before anything changes.

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use serde_json::{json, Value};
use shopstream::quarantine::{from_jsonl, to_jsonl, QuarantineEntry, RecordPosition};
use shopstream::reason::{RejectReason, Rejection};

/// The object the `replay-quarantine-merge-patch.json` sample names.
const KEY: &str = "quarantine/transaction/dt=2024-11-05/hour=07/shardId-000000000000-100-104.jsonl";
const REPLAYED: &str =
    "quarantine/replayed/transaction/dt=2024-11-05/hour=07/shardId-000000000000-100-104.jsonl";

fn entry(
    sequence: u32,
    payload: &[u8],
    rejections: Vec<Rejection>,
    event_id: Option<&str>,
) -> QuarantineEntry {
    let at = Utc.with_ymd_and_hms(2024, 11, 5, 7, 15, 0).unwrap();
    let position = RecordPosition::Kinesis {
        shard_id: "shardId-000000000000".into(),
        sequence_number: sequence.to_string(),
    };
    let entry = QuarantineEntry::new(payload, rejections, position, at);
    match event_id {
        Some(id) => entry.with_record(shopstream::Entity::Transaction, Some(id)),
        None => entry,
    }
}

fn purchase(event_id: &str, quantity: i64) -> Vec<u8> {
    json!({"event_id": event_id, "user_id": null, "event_timestamp": "2024-11-05T07:15:00Z",
           "action_type": "purchase", "product_id": 7, "quantity": quantity,
           "product_price": "12.50"})
    .to_string()
    .into_bytes()
}

fn null_user() -> Rejection {
    Rejection::on_field(RejectReason::NullUserId, "user_id", "user_id is null")
}

/// q-1 lacks a user and a shipping address (the sample's patch adds both), q-2 also has a zero
/// quantity (a negative one would be repaired, not refused), q-3 is not JSON at all.
fn quarantined() -> Vec<QuarantineEntry> {
    let missing_shipping = Rejection::on_field(
        RejectReason::MissingShippingForPurchase,
        "shipping_address",
        "no shipping address",
    );
    vec![
        entry(
            100,
            &purchase("q-1", 1),
            vec![null_user(), missing_shipping.clone()],
            Some("q-1"),
        ),
        entry(
            101,
            &purchase("q-2", 0),
            vec![
                null_user(),
                missing_shipping,
                Rejection::on_field(RejectReason::BadQuantity, "quantity", "0"),
            ],
            Some("q-2"),
        ),
        entry(
            102,
            &[0xff, 0x00, 0x13],
            vec![Rejection::new(RejectReason::DecodeError, "not JSON")],
            None,
        ),
    ]
}

fn event_ids(stream: &[(String, String, Vec<u8>)]) -> Vec<String> {
    stream
        .iter()
        .map(|(_, _, data)| {
            serde_json::from_slice::<Value>(data).expect("JSON")["event_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn corrected_records_reach_the_stream_once_and_the_rest_stay() -> anyhow::Result<()> {
    let setup = setup().await?;
    let original = to_jsonl(&quarantined());
    put(&setup.s3, KEY, original.clone()).await;

    // Without a correction nothing passes.
    let report = invoke(&setup.deps, sample("replay-quarantine-prefix.json")).await?;
    assert!(report.dry_run);
    assert_eq!((report.inputs, report.records), (1, 3));
    assert_eq!(report.outcome("still_refused"), 3);
    assert_eq!(report.outcome("would_replay"), 0);

    // Dry run of the correction: would replay q-1, changes nothing.
    let mut dry = sample("replay-quarantine-merge-patch.json");
    dry["dryRun"] = json!(true);
    let report = invoke(&setup.deps, dry).await?;
    assert_eq!(report.outcome("would_replay"), 1);
    assert_eq!(report.outcome("still_refused"), 2);
    assert!(read_stream(&setup.kinesis).await.is_empty());
    assert_eq!(get(&setup.s3, KEY).await, Some(original.clone()));
    assert_eq!(get(&setup.s3, REPLAYED).await, None);

    // The replay.
    let report = invoke(&setup.deps, sample("replay-quarantine-merge-patch.json")).await?;
    assert_eq!(report.outcome("replayed"), 1, "{report:?}");
    assert_eq!(report.outcome("still_refused"), 2);
    assert_eq!(report.reasons.get("BAD_QUANTITY"), Some(&1));
    assert_eq!(report.reasons.get("DECODE_ERROR"), Some(&1));
    assert_eq!(
        report.reasons.get("NULL_USER_ID"),
        None,
        "the patch fixed it everywhere"
    );

    let stream = read_stream(&setup.kinesis).await;
    assert_eq!(event_ids(&stream), vec!["q-1"]);
    let sent: Value = serde_json::from_slice(&stream[0].2)?;
    assert_eq!(sent["user_id"], "u-1042");
    assert_eq!(sent["shipping_address"], "1 Main St");
    assert_eq!(stream[0].1, "u-1042", "keyed by user like ingest-api");

    // What stays, with its current reasons.
    let left =
        from_jsonl(&get(&setup.s3, KEY).await.expect("still there")).map_err(anyhow::Error::msg)?;
    assert_eq!(left.len(), 2);
    assert_eq!(left[0].event_id.as_deref(), Some("q-2"));
    assert_eq!(left[0].reasons, vec![RejectReason::BadQuantity]);
    assert_eq!(left[1].reasons, vec![RejectReason::DecodeError]);
    assert_eq!(
        left[1].raw_payload()?,
        vec![0xff, 0x00, 0x13],
        "raw bytes kept"
    );

    // What moved, with its outcome.
    let replayed_text =
        String::from_utf8(get(&setup.s3, REPLAYED).await.expect("replayed object"))?;
    let replayed: Vec<Value> = replayed_text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0]["event_id"], "q-1");
    assert_eq!(replayed[0]["replay"]["outcome"], "replayed");
    assert_eq!(
        replayed[0]["replay"]["sequence_number"],
        stream[0].0.as_str()
    );
    assert!(replayed[0]["replay"]["corrected_payload"]
        .as_str()
        .unwrap_or_default()
        .contains("u-1042"));

    // A second replay of the same selection sends nothing.
    let report = invoke(&setup.deps, sample("replay-quarantine-merge-patch.json")).await?;
    assert_eq!(report.outcome("replayed"), 0);
    assert_eq!(report.outcome("still_refused"), 2);
    assert_eq!(read_stream(&setup.kinesis).await.len(), 1);

    // A run that stopped after recording the replay but before rewriting the source: the entry
    // is recognised, not sent again, and leaves the source.
    put(&setup.s3, KEY, original).await;
    let report = invoke(&setup.deps, sample("replay-quarantine-merge-patch.json")).await?;
    assert_eq!(report.outcome("already_replayed"), 1);
    assert_eq!(report.outcome("replayed"), 0);
    assert_eq!(event_ids(&read_stream(&setup.kinesis).await), vec!["q-1"]);
    let left =
        from_jsonl(&get(&setup.s3, KEY).await.expect("still there")).map_err(anyhow::Error::msg)?;
    assert_eq!(left.len(), 2);
    Ok(())
}

#[tokio::test]
async fn an_object_whose_entries_all_pass_leaves_the_quarantine() -> anyhow::Result<()> {
    let setup = setup().await?;
    let key = "quarantine/transaction/dt=2024-11-05/hour=08/shardId-000000000000-200-200.jsonl";
    let fine = json!({"event_id": "q-9", "user_id": "u-9", "event_timestamp": "2024-11-05T08:00:00Z",
                      "action_type": "purchase", "product_id": 7, "quantity": 1,
                      "product_price": "12.50", "shipping_address": "1 Main St"});
    // Refused under an earlier rule (say, a lower price limit) that no longer applies.
    let old = entry(
        200,
        fine.to_string().as_bytes(),
        vec![Rejection::on_field(
            RejectReason::BadPrice,
            "product_price",
            "over the limit",
        )],
        Some("q-9"),
    );
    put(&setup.s3, key, to_jsonl(&[old])).await;
    let report = invoke(
        &setup.deps,
        json!({"mode": "replay-quarantine", "prefix": "quarantine/", "dryRun": false}),
    )
    .await?;
    assert_eq!(report.outcome("replayed"), 1);
    assert_eq!(get(&setup.s3, key).await, None, "nothing left to keep");
    assert_eq!(event_ids(&read_stream(&setup.kinesis).await), vec!["q-9"]);
    // Listing "quarantine/" again skips the replayed record.
    let report = invoke(&setup.deps, json!({"prefix": "quarantine/"})).await?;
    assert_eq!(report.inputs, 0);
    Ok(())
}

#[tokio::test]
async fn bad_corrections_and_selections_are_refused_before_anything_changes() -> anyhow::Result<()>
{
    let setup = setup().await?;
    let original = to_jsonl(&quarantined());
    put(&setup.s3, KEY, original.clone()).await;

    let err = invoke(&setup.deps, sample("replay-quarantine-bad-patch.json"))
        .await
        .expect_err("event_id patch");
    assert!(err.to_string().contains("event_id"), "{err}");

    for (request, expected) in [
        (
            json!({"prefix": "quarantine/", "correction": {"mergePatch": [1, 2]}}),
            "must be a JSON object",
        ),
        (
            json!({"prefix": "quarantine/", "correction": {"fixes": [{"op": "rename", "from": "id", "to": "event_id"}]}}),
            "event_id",
        ),
        (
            json!({"prefix": "quarantine/", "correction": {"fixes": [{"op": "upsert", "field": "a"}]}}),
            "invalid request",
        ),
        (
            json!({"prefix": "silver/"}),
            "not a quarantine entry location",
        ),
        (
            json!({"keys": ["quarantine/replayed/transaction/x.jsonl"]}),
            "not a quarantine entry location",
        ),
        (json!({}), "either prefix or keys"),
        (json!({"mode": "replay-everything"}), "unknown mode"),
    ] {
        let err = invoke(&setup.deps, request.clone())
            .await
            .expect_err("refused");
        assert!(err.to_string().contains(expected), "{request}: {err}");
    }
    assert!(read_stream(&setup.kinesis).await.is_empty());
    assert_eq!(get(&setup.s3, KEY).await, Some(original));
    assert_eq!(get(&setup.s3, REPLAYED).await, None);
    Ok(())
}

#[tokio::test]
async fn dry_run_from_the_environment_sends_nothing_unless_a_request_says_otherwise(
) -> anyhow::Result<()> {
    let setup = setup_with(&[("DRY_RUN", "true")]).await?;
    put(&setup.s3, KEY, to_jsonl(&quarantined())).await;
    let mut request = sample("replay-quarantine-merge-patch.json");
    request.as_object_mut().map(|r| r.remove("dryRun"));
    let report = invoke(&setup.deps, request.clone()).await?;
    assert!(report.dry_run);
    assert_eq!(report.outcome("would_replay"), 1);
    assert!(read_stream(&setup.kinesis).await.is_empty());
    request["dryRun"] = json!(false);
    let report = invoke(&setup.deps, request).await?;
    assert_eq!(report.outcome("replayed"), 1);
    assert_eq!(event_ids(&read_stream(&setup.kinesis).await), vec!["q-1"]);
    Ok(())
}
