//! replay-dlq against moto: an on-failure message built from a real range of the stream (as the
//! Kinesis mapping sends it when a batch's retries are exhausted) puts exactly that range back
//! on the stream and is deleted; a range that cannot be read is recorded under
//! quarantine/_dlq/ with its reason; nothing is lost either way.

mod common;

use aws_sdk_kinesis::primitives::Blob;
use common::*;
use serde_json::{json, Value};

async fn put_record(setup: &Setup, key: &str, payload: &Value) -> String {
    setup
        .kinesis
        .put_record()
        .stream_name(STREAM)
        .partition_key(key)
        .data(Blob::new(payload.to_string().into_bytes()))
        .send()
        .await
        .expect("put record")
        .sequence_number()
        .to_owned()
}

fn record(i: usize) -> Value {
    json!({"event_id": format!("dlq-{i}"), "user_id": format!("u-{i}"),
           "event_timestamp": "2024-11-05T07:15:00Z", "action_type": "purchase",
           "product_id": i, "quantity": 1, "product_price": "12.50",
           "shipping_address": "1 Main St"})
}

/// The sample on-failure message, pointing at `shard`'s `[start, end]` of this stream.
fn failure_message(shard: &str, start: &str, end: &str) -> String {
    let mut message = sample("sqs-kinesis-on-failure-message.json");
    let info = &mut message["KinesisBatchInfo"];
    info["shardId"] = json!(shard);
    info["startSequenceNumber"] = json!(start);
    info["endSequenceNumber"] = json!(end);
    info["streamArn"] = json!(format!(
        "arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM}"
    ));
    message.to_string()
}

/// Messages in the queue, visible or not.
async fn queue_depth(setup: &Setup) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let attributes = setup
        .sqs
        .get_queue_attributes()
        .queue_url(&setup.queue_url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes");
    let count = |name: Name| -> usize {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|n| n.parse().ok())
            .expect("attribute")
    };
    count(Name::ApproximateNumberOfMessages) + count(Name::ApproximateNumberOfMessagesNotVisible)
}

fn payload_ids(stream: &[(String, String, Vec<u8>)]) -> Vec<String> {
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
async fn a_failed_batch_goes_back_on_the_stream_and_its_message_is_deleted() -> anyhow::Result<()> {
    let setup = setup().await?;
    let mut sequences = Vec::new();
    for i in 0..5 {
        sequences.push(put_record(&setup, &format!("u-{i}"), &record(i)).await);
    }
    // The failed batch is records 1..=3.
    setup
        .sqs
        .send_message()
        .queue_url(&setup.queue_url)
        .message_body(failure_message(
            "shardId-000000000000",
            &sequences[1],
            &sequences[3],
        ))
        .send()
        .await?;

    let mut dry = sample("replay-dlq.json");
    dry["dryRun"] = json!(true);
    let report = invoke(&setup.deps, dry).await?;
    assert_eq!(report.outcome("would_recover"), 1, "{report:?}");
    assert_eq!(report.outcome("would_replay_records"), 3);
    assert_eq!(
        read_stream(&setup.kinesis).await.len(),
        5,
        "dry run puts nothing"
    );
    assert_eq!(queue_depth(&setup).await, 1, "dry run keeps the message");

    let report = invoke(&setup.deps, sample("replay-dlq.json")).await?;
    assert_eq!(report.outcome("recovered"), 1, "{report:?}");
    assert_eq!(report.outcome("records_replayed"), 3);
    let stream = read_stream(&setup.kinesis).await;
    assert_eq!(
        payload_ids(&stream),
        ["dlq-0", "dlq-1", "dlq-2", "dlq-3", "dlq-4", "dlq-1", "dlq-2", "dlq-3"]
    );
    // Same bytes, same partition keys: stream-enrich sees the records as they first arrived.
    for (original, again) in stream[1..4].iter().zip(&stream[5..]) {
        assert_eq!((&original.1, &original.2), (&again.1, &again.2));
    }
    assert_eq!(queue_depth(&setup).await, 0, "message deleted");

    // The queue is empty now: a second run does nothing.
    let report = invoke(&setup.deps, sample("replay-dlq.json")).await?;
    assert_eq!(report.inputs, 0);
    assert_eq!(read_stream(&setup.kinesis).await.len(), 8);
    Ok(())
}

#[tokio::test]
async fn an_unreadable_range_is_quarantined_with_its_reason() -> anyhow::Result<()> {
    let setup = setup().await?;
    let sequence = put_record(&setup, "u-1", &record(1)).await;
    let unreadable = failure_message("shardId-000000000007", &sequence, &sequence);
    let foreign = failure_message("shardId-000000000000", &sequence, &sequence)
        .replace(STREAM, "someone-elses-stream");
    for body in [
        unreadable.as_str(),
        foreign.as_str(),
        "{\"not\": \"a batch\"}",
    ] {
        setup
            .sqs
            .send_message()
            .queue_url(&setup.queue_url)
            .message_body(body)
            .send()
            .await?;
    }
    let report = invoke(&setup.deps, sample("replay-dlq.json")).await?;
    assert_eq!(report.inputs, 3, "{report:?}");
    assert_eq!(report.outcome("unrecoverable"), 1);
    assert_eq!(report.outcome("other_stream"), 1);
    assert_eq!(report.outcome("not_a_stream_batch"), 1);
    assert_eq!(
        read_stream(&setup.kinesis).await.len(),
        1,
        "nothing put back"
    );

    let listed = setup
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("quarantine/_dlq/")
        .send()
        .await?;
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("quarantine/_dlq/dt=2024-11-05/hour=07/shardId-000000000007-"));
    let kept: Value = serde_json::from_slice(&get(&setup.s3, keys[0]).await.expect("object"))?;
    assert_eq!(kept["reason"], "RANGE_UNREADABLE");
    assert_eq!(kept["records_recovered"], 0);
    assert_eq!(kept["batch"]["shardId"], "shardId-000000000007");
    // The unreadable range's message is done with; the two it could not act on stay.
    assert_eq!(queue_depth(&setup).await, 2);
    Ok(())
}
