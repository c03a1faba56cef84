//! `shopstream generate --to TARGET` against real targets: a Kinesis stream on moto, Kafka
//! topics on tansu, and a local HTTP server that hands each request to the real ingest-api
//! handler (Kinesis sink on moto). What reached each target is read back and compared with
//! what `generate` writes to a file with the same seed.

use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};
use ingest_api::config::{IngestConfig, SinkConfig};
use ingest_api::sink::KinesisSink;
use ingest_api::{handle, ApiEvent, Deps};
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
use serde_json::{json, Value};
use shopstream::decode::{decode_json, decode_payload, AvroSchemas};
use shopstream_emulators::{MotoServer, TansuBroker};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const API_KEY: &str = "local-test-key";

/// Runs `shopstream ARGS` with fake AWS credentials and a region in its environment (and no
/// endpoint or profile inherited from the caller's).
async fn shopstream(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_shopstream"))
        .args(args)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .await
        .expect("the shopstream binary runs")
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("summary written")).expect("summary JSON")
}

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// The `event_id` of a payload: from the JSON object, or, for a cut-off line, from its start
/// (`{"event_id":"...`); empty when there is none.
fn event_id_of(payload: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<Value>(payload) {
        return json["event_id"].as_str().unwrap_or_default().to_owned();
    }
    let text = String::from_utf8_lossy(payload);
    text.strip_prefix(r#"{"event_id":""#)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// The lines `shopstream generate -n EVENTS` writes to a file (default seed).
async fn generated_lines(events: u64, dir: &Path) -> Vec<Vec<u8>> {
    let path = dir.join(format!("events-{events}.jsonl"));
    let output = shopstream(&[
        "generate",
        "-n",
        &events.to_string(),
        "--out",
        path.to_str().unwrap(),
    ])
    .await;
    assert_success(&output, "generate to a file");
    std::fs::read(&path)
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn sorted_ids<'a>(payloads: impl IntoIterator<Item = &'a Vec<u8>>) -> Vec<String> {
    let mut ids: Vec<String> = payloads.into_iter().map(|p| event_id_of(p)).collect();
    ids.sort();
    ids
}

async fn create_stream(kinesis: &aws_sdk_kinesis::Client, name: &str, shards: i32) {
    kinesis
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap();
    for _ in 0..100 {
        let summary = kinesis
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap();
        if summary
            .stream_description_summary()
            .map(|s| s.stream_status() == &StreamStatus::Active)
            .unwrap_or(false)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stream {name} never became active");
}

/// Every record of every shard, as (partition key, data).
async fn read_stream(kinesis: &aws_sdk_kinesis::Client, name: &str) -> Vec<(String, Vec<u8>)> {
    let shards = kinesis
        .list_shards()
        .stream_name(name)
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for shard in shards.shards() {
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(current) = iterator {
            let page = kinesis
                .get_records()
                .shard_iterator(current)
                .limit(10_000)
                .send()
                .await
                .unwrap();
            if page.records().is_empty() {
                break;
            }
            for record in page.records() {
                records.push((
                    record.partition_key().unwrap_or_default().to_owned(),
                    record.data().as_ref().to_vec(),
                ));
            }
            iterator = page.next_shard_iterator().map(str::to_owned);
        }
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_target_puts_every_generated_event_on_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let moto = MotoServer::start().await.unwrap();
    let kinesis = aws_sdk_kinesis::Client::new(&moto.sdk_config());
    create_stream(&kinesis, "generated-events", 2).await;

    let summary_path = dir.path().join("summary.json");
    // One request at a time: moto numbers a shard's records by reading the highest sequence
    // number and adding one, unlocked, so concurrent PutRecords calls can overwrite each
    // other's records (a few of 2,000 go missing at --concurrency 4). Real Kinesis does not.
    let output = shopstream(&[
        "generate",
        "-n",
        "2000",
        "--concurrency",
        "1",
        "--to",
        "kinesis://generated-events",
        "--endpoint",
        moto.endpoint_url(),
        "--summary-json",
        summary_path.to_str().unwrap(),
    ])
    .await;
    assert_success(&output, "generate --to kinesis://");
    let summary = read_json(&summary_path);
    assert_eq!(
        (
            count(&summary["records"]),
            count(&summary["accepted"]),
            count(&summary["failed"])
        ),
        (2000, 2000, 0),
        "{summary:#}"
    );

    let on_stream = read_stream(&kinesis, "generated-events").await;
    assert_eq!(on_stream.len(), 2000);
    let lines = generated_lines(2000, dir.path()).await;
    let payloads: Vec<Vec<u8>> = on_stream.iter().map(|(_, data)| data.clone()).collect();
    assert_eq!(sorted_ids(&payloads), sorted_ids(&lines));

    // Clean records travel in ingest-api's stream form, keyed by user.
    let mut in_stream_form = 0;
    for (key, data) in &on_stream {
        let Ok(json) = serde_json::from_slice::<Value>(data) else {
            continue; // a cut-off line, sent as generated
        };
        if json.get("record_type").is_some() {
            in_stream_form += 1;
            assert!(json["ingested_at"].is_string());
            if let Some(user) = json["user_id"].as_str() {
                assert_eq!(key, user);
            }
        }
    }
    assert!(in_stream_form > 1_900, "{in_stream_form} in stream form");
}

/// Every record of every partition of `topic`, as values.
async fn read_topic(tansu: &TansuBroker, topic: &str, partitions: i32) -> Vec<Vec<u8>> {
    let client = tansu.client().await.unwrap();
    let mut values = Vec::new();
    for partition in 0..partitions {
        let partition_client = client
            .partition_client(topic, partition, UnknownTopicHandling::Retry)
            .await
            .unwrap();
        let end = partition_client.get_offset(OffsetAt::Latest).await.unwrap();
        let mut offset = partition_client
            .get_offset(OffsetAt::Earliest)
            .await
            .unwrap();
        while offset < end {
            let (records, _high_watermark) = partition_client
                .fetch_records(offset, 1..10_000_000, 1_000)
                .await
                .unwrap();
            assert!(
                !records.is_empty(),
                "{topic}-{partition}: no records at {offset} < {end}"
            );
            for record in records {
                offset = record.offset + 1;
                values.push(record.record.value.unwrap_or_default());
            }
        }
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_target_produces_json_and_confluent_avro() {
    let dir = tempfile::tempdir().unwrap();
    let tansu = TansuBroker::start().await.unwrap();
    tansu.create_topic("generated-json", 3).await.unwrap();
    tansu.create_topic("generated-avro", 2).await.unwrap();
    let lines = generated_lines(2000, dir.path()).await;

    let summary_path = dir.path().join("summary.json");
    let target = format!("kafka://{}/generated-json", tansu.bootstrap());
    let output = shopstream(&[
        "generate",
        "-n",
        "2000",
        "--to",
        &target,
        "--summary-json",
        summary_path.to_str().unwrap(),
    ])
    .await;
    assert_success(&output, "generate --to kafka://");
    let summary = read_json(&summary_path);
    assert_eq!(
        (count(&summary["accepted"]), count(&summary["failed"])),
        (2000, 0),
        "{summary:#}"
    );
    let values = read_topic(&tansu, "generated-json", 3).await;
    assert_eq!(values.len(), 2000);
    assert_eq!(sorted_ids(&values), sorted_ids(&lines));

    // Confluent-framed Avro: every value framed; the clean records decode to the same ids.
    let target = format!("kafka://{}/generated-avro", tansu.bootstrap());
    let output = shopstream(&[
        "generate",
        "-n",
        "2000",
        "--format",
        "confluent",
        "--to",
        &target,
    ])
    .await;
    assert_success(&output, "generate --format confluent --to kafka://");
    let values = read_topic(&tansu, "generated-avro", 2).await;
    assert_eq!(values.len(), 2000);
    assert!(values.iter().all(|v| v.first() == Some(&0)), "magic byte 0");
    let schemas = AvroSchemas::bundled_defaults();
    let mut decoded_ids: Vec<String> = values
        .iter()
        .filter_map(|v| decode_payload(v, &schemas).ok())
        .map(|d| d.record.event_id().unwrap_or_default().to_owned())
        .collect();
    decoded_ids.sort();
    let mut clean_ids: Vec<String> = lines
        .iter()
        .filter_map(|line| decode_json(line).ok())
        .filter(|d| d.problems.is_empty())
        .map(|d| d.record.event_id().unwrap_or_default().to_owned())
        .collect();
    clean_ids.sort();
    assert!(clean_ids.len() > 1_990);
    assert_eq!(decoded_ids, clean_ids);
}

/// A local stand-in for API Gateway in front of ingest-api: HTTP/1.1 on 127.0.0.1, an API
/// key, `503 Service Unavailable` for the very first request, and every other request handed
/// to the real ingest-api handler as an HTTP API (payload v2) event.
struct IngestGateway {
    deps: Deps<KinesisSink>,
    /// Requests arrive concurrently but reach the handler one at a time: moto's PutRecords is
    /// not safe under concurrency (see the Kinesis test).
    handler: tokio::sync::Mutex<()>,
    requests: AtomicU64,
    largest_request_records: AtomicUsize,
}

/// A parsed request.
struct HttpRequest {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl IngestGateway {
    async fn answer(&self, request: HttpRequest) -> (u16, Vec<(String, String)>, String) {
        let number = self.requests.fetch_add(1, Ordering::SeqCst);
        if number == 0 {
            return (
                503,
                vec![],
                json!({"message": "Service Unavailable"}).to_string(),
            );
        }
        if request.headers.get("x-api-key").map(String::as_str) != Some(API_KEY) {
            return (403, vec![], json!({"message": "Forbidden"}).to_string());
        }
        let records = request
            .body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        self.largest_request_records
            .fetch_max(records, Ordering::SeqCst);
        let event: ApiEvent = serde_json::from_value(json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": request.path,
            "rawQueryString": "",
            "headers": request.headers,
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": {"method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": request.headers.get("user-agent")},
                "requestId": format!("gateway-{number}"),
                "routeKey": "$default",
                "stage": "$default",
                "time": chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S %z").to_string(),
                "timeEpoch": chrono::Utc::now().timestamp_millis()
            },
            "isBase64Encoded": false,
            "body": String::from_utf8(request.body).expect("generated events are UTF-8"),
        }))
        .expect("a valid API Gateway v2 event");
        let (response, _metrics) = {
            let _one_at_a_time = self.handler.lock().await;
            handle(&self.deps, event, None, chrono::Utc::now()).await
        };
        let headers = response
            .header("retry-after")
            .map(|v| vec![("retry-after".to_owned(), v.to_owned())])
            .unwrap_or_default();
        (response.status(), headers, response.body_text().to_owned())
    }

    async fn serve(self: Arc<Self>, listener: TcpListener) {
        while let Ok((connection, _)) = listener.accept().await {
            let gateway = Arc::clone(&self);
            tokio::spawn(async move {
                // A broken connection only ends that connection; the client's retries see it.
                let _ = gateway.serve_connection(connection).await;
            });
        }
    }

    /// Requests of one keep-alive connection, one after another.
    async fn serve_connection(&self, connection: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(connection);
        while let Some(request) = read_request(&mut reader).await? {
            let (status, headers, body) = self.answer(request).await;
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                reason_phrase(status),
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let stream = reader.get_mut();
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.flush().await?;
        }
        Ok(())
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        202 => "Accepted",
        403 => "Forbidden",
        422 => "Unprocessable Entity",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// One HTTP/1.1 request with a `content-length` body; `None` at the end of the connection.
async fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<HttpRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    assert!(
        !headers.contains_key("transfer-encoding"),
        "the client sends bodies with a content-length"
    );
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(HttpRequest {
        method,
        path,
        headers,
        body,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_target_goes_through_the_real_ingest_api_to_kinesis() {
    let dir = tempfile::tempdir().unwrap();
    let moto = MotoServer::start().await.unwrap();
    let kinesis = aws_sdk_kinesis::Client::new(&moto.sdk_config());
    create_stream(&kinesis, "api-events", 2).await;
    let gateway = Arc::new(IngestGateway {
        deps: Deps {
            config: IngestConfig::with_sink(SinkConfig::Kinesis {
                stream: "api-events".into(),
            }),
            events_sink: KinesisSink::new(kinesis.clone(), "api-events"),
            orders_sink: KinesisSink::new(kinesis.clone(), "api-events"),
            idempotency: None,
        },
        handler: tokio::sync::Mutex::new(()),
        requests: AtomicU64::new(0),
        largest_request_records: AtomicUsize::new(0),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/events", listener.local_addr().unwrap());
    tokio::spawn(Arc::clone(&gateway).serve(listener));

    let summary_path = dir.path().join("summary.json");
    let output = shopstream(&[
        "generate",
        "-n",
        "3000",
        "--to",
        &url,
        "--header",
        &format!("x-api-key: {API_KEY}"),
        "--request-size",
        "250",
        "--concurrency",
        "3",
        "--summary-json",
        summary_path.to_str().unwrap(),
    ])
    .await;
    assert_success(&output, "generate --to http://");
    let summary = read_json(&summary_path);
    let (records, accepted, rejected) = (
        count(&summary["records"]),
        count(&summary["accepted"]),
        count(&summary["rejected"]),
    );
    assert_eq!(records, 3000, "{summary:#}");
    assert_eq!(accepted + rejected, records, "{summary:#}");
    assert_eq!(count(&summary["failed"]), 0, "{summary:#}");
    // The first request was answered 503 and sent again.
    assert_eq!(
        count(&summary["responses_by_status"]["503"]),
        1,
        "{summary:#}"
    );
    assert_eq!(count(&summary["retried_requests"]), 1, "{summary:#}");
    assert_eq!(
        count(&summary["requests"]),
        gateway.requests.load(Ordering::SeqCst)
    );
    assert_eq!(count(&summary["requests"]), 3000 / 250 + 1);
    assert_eq!(gateway.largest_request_records.load(Ordering::SeqCst), 250);

    // Every injected anomaly the API can see was rejected with its own reason. Duplicates only
    // the stream side can see, and the API fills in missing event ids.
    let injected = summary["generated"]["anomalies"].as_object().unwrap();
    let refused = summary["rejected_by_reason"].as_object().unwrap();
    let mut refused_at_api = 0;
    for (reason, made) in injected {
        if reason == "DUPLICATE_EVENT" || reason == "MISSING_EVENT_ID" {
            assert_eq!(refused.get(reason), None, "{reason}");
            continue;
        }
        refused_at_api += count(made);
        assert_eq!(
            refused.get(reason).map(count),
            Some(count(made)),
            "{reason}"
        );
    }
    assert!(refused_at_api > 0, "default anomaly rates inject anomalies");
    assert_eq!(rejected, refused_at_api, "{summary:#}");

    // What the API accepted is on the stream.
    assert_eq!(
        read_stream(&kinesis, "api-events").await.len() as u64,
        accepted
    );

    // Without the API key, every record is rejected with the status (not failed).
    let output = shopstream(&[
        "generate",
        "-n",
        "20",
        "--to",
        &url,
        "--summary-json",
        summary_path.to_str().unwrap(),
    ])
    .await;
    assert_success(&output, "generate --to http:// without the API key");
    let summary = read_json(&summary_path);
    assert_eq!(
        count(&summary["rejected_by_status"]["403"]),
        20,
        "{summary:#}"
    );
    assert_eq!(count(&summary["accepted"]), 0);
}

#[tokio::test]
async fn unreachable_http_target_fails_fast_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, then let it go.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/events", listener.local_addr().unwrap());
    drop(listener);
    let summary_path = dir.path().join("summary.json");
    let output = shopstream(&[
        "generate",
        "-n",
        "100000",
        "--to",
        &url,
        "--concurrency",
        "2",
        "--summary-json",
        summary_path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let summary = read_json(&summary_path);
    assert!(summary["stopped_early"].is_string(), "{summary:#}");
    let records = count(&summary["records"]);
    assert!(
        records <= 1_000,
        "stopped after the batches in flight: {records}"
    );
    assert_eq!(count(&summary["failed"]), records);
    assert_eq!(
        count(&summary["requests"]),
        2 * 5,
        "five attempts per request"
    );
}
