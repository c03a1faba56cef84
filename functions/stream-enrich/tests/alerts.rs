//! The alert publisher's call flow against a mocked EventBridge: chunks of 10, entries the
//! service rejects retried alone, positions of what still fails reported in the caller's
//! numbering, and the time each alert was accepted.

use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_eventbridge::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use chrono::{TimeDelta, Utc};
use shopstream::quarantine::RecordPosition;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use stream_enrich::alerts::{FraudAlert, FraudAlerter, PUT_EVENTS_LIMIT};

fn alert(n: usize) -> FraudAlert {
    FraudAlert {
        event_id: format!("tx-{n:02}"),
        user_id: "user_0042".into(),
        event_timestamp: Utc::now(),
        score: 0.7,
        risk_level: "MEDIUM",
        matched_rules: vec!["amount_over_1000".into()],
        total_amount: "6000.00".into(),
        currency: Some("EUR".into()),
        payment_method: Some("gift_card".into()),
        country_name: None,
        profile_country: None,
        summary: "score 0.70".into(),
        position: RecordPosition::Kinesis {
            shard_id: "shardId-000000000000".into(),
            sequence_number: format!("{n}"),
        },
        arrived_at: Utc::now() - TimeDelta::milliseconds(50),
    }
}

/// The event ids a PutEvents request carries, in order.
fn ids(request: &aws_sdk_eventbridge::operation::put_events::PutEventsInput) -> Vec<String> {
    request
        .entries()
        .iter()
        .filter_map(|e| e.detail())
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|d| d["event_id"].as_str().map(str::to_owned))
        .collect()
}

/// An answer accepting every entry except those whose id is in `reject`.
fn answer(ids: &[String], reject: &[&str]) -> PutEventsOutput {
    let entries: Vec<PutEventsResultEntry> = ids
        .iter()
        .map(|id| {
            if reject.contains(&id.as_str()) {
                PutEventsResultEntry::builder()
                    .error_code("ThrottlingException")
                    .error_message("rate exceeded")
                    .build()
            } else {
                PutEventsResultEntry::builder()
                    .event_id(format!("eb-{id}"))
                    .build()
            }
        })
        .collect();
    let failed = entries.iter().filter(|e| e.error_code().is_some()).count();
    PutEventsOutput::builder()
        .set_entries(Some(entries))
        .failed_entry_count(failed as i32)
        .build()
}

#[tokio::test]
async fn rejected_entries_are_retried_alone_and_failures_keep_the_callers_positions() {
    let alerts: Vec<FraudAlert> = (0..25).map(alert).collect();
    let requests: Arc<std::sync::Mutex<Vec<Vec<String>>>> = Arc::default();
    let throttled_once = Arc::new(AtomicUsize::new(0));
    let rule = {
        let requests = requests.clone();
        let throttled_once = throttled_once.clone();
        mock!(Client::put_events).then_compute_output(move |request| {
            let sent = ids(request);
            if let Ok(mut log) = requests.lock() {
                log.push(sent.clone());
            }
            // tx-13 is throttled on its first attempt only; tx-21 on every attempt.
            let mut reject = vec!["tx-21"];
            if sent.contains(&"tx-13".to_owned())
                && throttled_once.fetch_add(1, Ordering::SeqCst) == 0
            {
                reject.push("tx-13");
            }
            answer(&sent, &reject)
        })
    };
    let client: Client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[&rule]);
    let alerter = FraudAlerter::new(client, "bus", "shopstream.stream-enrich");

    let published = alerter.publish(&alerts).await;

    assert_eq!(published.failed, vec![21], "the caller's position of tx-21");
    for (n, at) in published.accepted_at.iter().enumerate() {
        assert_eq!(at.is_some(), n != 21, "alert {n}");
    }
    let log = requests.lock().map(|l| l.clone()).unwrap_or_default();
    // Three chunks of at most 10, then tx-13 alone once, then tx-21 alone until attempts run out.
    let mut first_attempts: Vec<&Vec<String>> = log.iter().filter(|ids| ids.len() > 1).collect();
    first_attempts.sort();
    assert_eq!(first_attempts.len(), 3);
    assert!(first_attempts
        .iter()
        .all(|ids| ids.len() <= PUT_EVENTS_LIMIT));
    assert_eq!(
        first_attempts.iter().map(|ids| ids.len()).sum::<usize>(),
        25
    );
    assert_eq!(
        log.iter().filter(|ids| ids.as_slice() == ["tx-13"]).count(),
        1
    );
    assert_eq!(
        log.iter().filter(|ids| ids.as_slice() == ["tx-21"]).count(),
        3,
        "four attempts in all"
    );
    let timings = published.timings(&alerts);
    assert_eq!(timings.len(), 24);
    assert!(timings.iter().all(|t| t.latency_ms() >= 50));
}
