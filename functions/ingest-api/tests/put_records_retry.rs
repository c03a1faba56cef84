//! PutRecords partial failures, injected at the HTTP layer: a small proxy between the SDK and
//! moto drops some entries of a PutRecords call (they never reach moto) and answers for them
//! with `ProvisionedThroughputExceededException`, exactly as Kinesis reports throttled entries.
//! The handler must retry only those, and report what still fails as a 503 — losing nothing.

mod common;

use common::*;
use ingest_api::config::{RetryPolicy, SinkConfig};
use ingest_api::sink::KinesisSink;
use ingest_api::Deps;
use serde_json::{json, Value};
use shopstream_emulators::MotoServer;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const STREAM: &str = "throttled-events";

/// What the proxy does to PutRecords calls: entries at odd positions of each of the first
/// `failing_calls` calls fail.
#[derive(Default)]
struct Plan {
    failing_calls: usize,
    /// Entries per PutRecords call seen, in order.
    calls: Vec<usize>,
}

struct Request {
    head: Vec<(String, String)>,
    request_line: String,
    body: Vec<u8>,
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.ok()? == 0 {
        return None;
    }
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.ok()?;
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        head.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = head
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(Request {
        head,
        request_line,
        body,
    })
}

/// Sends one request to moto (`Connection: close`) and returns status line, headers, body.
async fn forward(
    moto_port: u16,
    request: &Request,
    body: &[u8],
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut upstream = TcpStream::connect(("127.0.0.1", moto_port))
        .await
        .expect("moto");
    let mut out = request.request_line.clone();
    for (name, value) in &request.head {
        if !["content-length", "connection"].contains(&name.to_ascii_lowercase().as_str()) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    upstream
        .write_all(out.as_bytes())
        .await
        .expect("write head");
    upstream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    upstream.read_to_end(&mut raw).await.expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

/// Drops the odd entries from the request and answers them as throttled.
async fn throttle_put_records(
    moto_port: u16,
    request: &Request,
    plan: &Mutex<Plan>,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut call: Value =
        serde_json::from_slice(&request.body).expect("PutRecords is JSON (awsJson1.1)");
    let entries = call["Records"].as_array().cloned().unwrap_or_default();
    let failing = {
        let mut plan = plan.lock().expect("plan");
        plan.calls.push(entries.len());
        plan.calls.len() <= plan.failing_calls
    };
    let fails = |position: usize| failing && position % 2 == 1;
    let kept: Vec<Value> = entries
        .iter()
        .enumerate()
        .filter(|(p, _)| !fails(*p))
        .map(|(_, e)| e.clone())
        .collect();
    call["Records"] = Value::Array(kept);
    let forwarded = serde_json::to_vec(&call).expect("json");
    let (status, headers, body) = forward(moto_port, request, &forwarded).await;
    let answer: Value = serde_json::from_slice(&body).expect("moto answers JSON");
    let mut stored = answer["Records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter();
    let mut failed = 0;
    let results: Vec<Value> = (0..entries.len())
        .map(|position| {
            if fails(position) {
                failed += 1;
                json!({"ErrorCode": "ProvisionedThroughputExceededException",
                       "ErrorMessage": format!("Rate exceeded for shard shardId-000000000000 in stream {STREAM}")})
            } else {
                stored.next().unwrap_or(Value::Null)
            }
        })
        .collect();
    let merged = json!({"FailedRecordCount": failed, "Records": results, "EncryptionType": "NONE"});
    (status, headers, serde_json::to_vec(&merged).expect("json"))
}

async fn serve(connection: TcpStream, moto_port: u16, plan: Arc<Mutex<Plan>>) {
    let mut reader = BufReader::new(connection);
    while let Some(request) = read_request(&mut reader).await {
        let target = request
            .head
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-target"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let (status, headers, body) = if target.ends_with(".PutRecords") {
            throttle_put_records(moto_port, &request, &plan).await
        } else {
            forward(moto_port, &request, &request.body).await
        };
        let mut out = format!("{status}\r\n");
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if ![
                "content-length",
                "connection",
                "transfer-encoding",
                "x-amz-crc32",
            ]
            .contains(&lower.as_str())
            {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let connection = reader.get_mut();
        if connection.write_all(out.as_bytes()).await.is_err()
            || connection.write_all(&body).await.is_err()
        {
            return;
        }
    }
}

/// Starts the proxy; returns its endpoint URL.
async fn proxy(moto: &MotoServer, plan: Arc<Mutex<Plan>>) -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let moto_port = moto.port();
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            tokio::spawn(serve(connection, moto_port, Arc::clone(&plan)));
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn ten_records() -> String {
    let records: Vec<Value> = (0..10)
        .map(|i| {
            json!({"event_id": format!("retry-{i}"), "user_id": format!("user-{i}"),
                   "event_timestamp": "2024-11-05T07:15:00Z", "action_type": "purchase", "product_id": i,
                   "quantity": 1, "product_price": 10.0, "shipping_address": "1 Main St"})
        })
        .collect();
    Value::Array(records).to_string()
}

async fn deps_through_proxy(
    moto: &MotoServer,
    plan: Arc<Mutex<Plan>>,
    max_attempts: u32,
) -> (Deps<KinesisSink>, aws_sdk_kinesis::Client) {
    let direct = create_stream(&moto.sdk_config(), STREAM, 1).await;
    let endpoint = proxy(moto, plan).await;
    let via_proxy = moto
        .sdk_config()
        .into_builder()
        .endpoint_url(endpoint)
        .build();
    let mut config = config(SinkConfig::Kinesis {
        stream: STREAM.into(),
    });
    config.retry = RetryPolicy {
        max_attempts,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
    };
    let deps = Deps {
        config,
        events_sink: KinesisSink::new(aws_sdk_kinesis::Client::new(&via_proxy), STREAM),
        orders_sink: KinesisSink::new(aws_sdk_kinesis::Client::new(&via_proxy), STREAM),
        idempotency: None,
    };
    (deps, direct)
}

fn stream_ids(stream: &[(String, Value)]) -> Vec<String> {
    let mut ids: Vec<String> = stream
        .iter()
        .filter_map(|(_, p)| p["event_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn throttled_entries_are_retried_until_everything_is_in() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let plan = Arc::new(Mutex::new(Plan {
        failing_calls: 2,
        ..Plan::default()
    }));
    let (deps, direct) = deps_through_proxy(&moto, Arc::clone(&plan), 4).await;

    let (response, metrics) =
        call(&deps, v2_events(&ten_records(), Some("application/json"))).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert_eq!(response.body_json()["accepted"], 10);
    // 10 sent; 5 throttled and re-sent; 2 of those throttled again and re-sent.
    assert_eq!(
        plan.lock().map(|p| p.calls.clone()).unwrap_or_default(),
        vec![10, 5, 2]
    );
    assert_eq!(metrics.value("SinkAttempts"), Some(3.0));
    assert_eq!(metrics.value("SinkRetriedRecords"), Some(7.0));

    let stream = read_stream(&direct, STREAM).await;
    let expected: Vec<String> = (0..10).map(|i| format!("retry-{i}")).collect();
    assert_eq!(stream_ids(&stream), expected, "every record exactly once");
    Ok(())
}

#[tokio::test]
async fn what_still_fails_after_the_retries_is_a_503_with_its_indices() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let plan = Arc::new(Mutex::new(Plan {
        failing_calls: 3,
        ..Plan::default()
    }));
    let (deps, direct) = deps_through_proxy(&moto, Arc::clone(&plan), 3).await;

    let (response, metrics) =
        call(&deps, v2_events(&ten_records(), Some("application/json"))).await;
    assert_eq!(response.status(), 503, "{}", response.body_text());
    let body = response.body_json();
    assert_eq!(body["error"], "sink_unavailable");
    // Odd of [0..10) → odd of [1,3,5,7,9] → odd of [3,7]: record 7 never got in.
    assert_eq!(indices(&body, "failed"), vec![7]);
    assert_eq!(body["failed"][0]["event_id"], "retry-7");
    assert!(body["failed"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("ProvisionedThroughputExceeded"));
    assert_eq!(body["accepted"], 9);
    assert_eq!(
        indices(&body, "accepted_records"),
        vec![0, 1, 2, 3, 4, 5, 6, 8, 9]
    );
    assert_eq!(metrics.value("SinkFailedRecords"), Some(1.0));
    assert_eq!(
        plan.lock().map(|p| p.calls.clone()).unwrap_or_default(),
        vec![10, 5, 2]
    );

    // The stream has exactly the nine the response says are in.
    let stream = read_stream(&direct, STREAM).await;
    assert_eq!(stream.len(), 9);
    assert!(!stream_ids(&stream).contains(&"retry-7".to_owned()));

    // The caller resends what failed; now nothing valid is missing, nothing is doubled.
    let resend: Vec<Value> = serde_json::from_str::<Vec<Value>>(&ten_records())?
        .into_iter()
        .skip(7)
        .take(1)
        .collect();
    let (response, _) = call(
        &deps,
        v2_events(&Value::Array(resend).to_string(), Some("application/json")),
    )
    .await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    let expected: Vec<String> = (0..10).map(|i| format!("retry-{i}")).collect();
    assert_eq!(stream_ids(&read_stream(&direct, STREAM).await), expected);
    Ok(())
}
