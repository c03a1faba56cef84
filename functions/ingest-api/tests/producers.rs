//! Several producers against moto: each route writes its own sink, Idempotency-Keys are scoped
//! by the authenticated principal, a retry after a crash sends only what was not delivered,
//! and sink failures say whether a retry can help.

mod common;

use common::*;
use ingest_api::config::{IdempotencyConfig, IngestConfig};
use ingest_api::idempotency::{IdempotencyStore, KEY_ATTRIBUTE};
use ingest_api::records::Prepared;
use ingest_api::sink::{AnySink, KinesisSink, Outcome, Sink};
use ingest_api::{handle, Deps};
use serde_json::{json, Value};
use shopstream::config::Env;
use shopstream_emulators::MotoServer;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const STREAM: &str = "shopstream-events";
const ORDERS: &str = "purchase_orders";
const IDEMPOTENCY: &str = "ingest-idempotency";
const LOCK: Duration = Duration::from_secs(60);

fn store(dynamodb: &aws_sdk_dynamodb::Client) -> IdempotencyStore {
    IdempotencyStore::new(
        dynamodb.clone(),
        IdempotencyConfig {
            table: IDEMPOTENCY.into(),
            window: Duration::from_secs(3_600),
            lock: LOCK,
        },
    )
}

/// The idempotent fixture sent by the JWT subject `subject`.
fn idempotent_from(subject: &str) -> Value {
    let mut json = fixture_json("apigw-v2-events-idempotent.json");
    json["requestContext"]["authorizer"]["jwt"]["claims"] =
        json!({"sub": subject, "iss": "https://idp.example.com"});
    json
}

/// Event ids on the stream, with how often each occurs.
async fn stream_ids(kinesis: &aws_sdk_kinesis::Client) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for (_, payload) in read_stream(kinesis, STREAM).await {
        let id = payload["event_id"].as_str().unwrap_or_default().to_owned();
        *ids.entry(id).or_default() += 1;
    }
    ids
}

fn accepted_ids(body: &Value) -> Vec<String> {
    body["accepted_records"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["event_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn events_go_to_kinesis_and_orders_to_dynamodb_by_default() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let sdk = moto.sdk_config();
    let kinesis = create_stream(&sdk, STREAM, 1).await;
    let dynamodb = create_table(&sdk, ORDERS, "event_id").await;
    // The configuration a deployment gets from the templates' defaults.
    let config = IngestConfig::from_env(&Env::from_pairs([("KINESIS_STREAM_NAME", STREAM)]))?;
    let (events_sink, orders_sink) = ingest_api::sink::for_routes(&config, &sdk).await?;
    assert!(matches!(events_sink, AnySink::Kinesis(_)));
    assert!(matches!(orders_sink, AnySink::DynamoDb(_)));
    let deps = Deps {
        config,
        events_sink,
        orders_sink,
        idempotency: None,
    };

    let (response, metrics) = call(&deps, fixture("apigw-v2-events-valid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert_eq!(metrics.value("RecordsAccepted"), Some(3.0));
    let (response, _) = call(&deps, fixture("apigw-v2-orders-valid.json")).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    let order_ids = accepted_ids(&response.body_json());
    assert_eq!(order_ids.len(), 2);

    let on_stream = stream_ids(&kinesis).await;
    assert_eq!(
        on_stream.len(),
        3,
        "the events, and only them: {on_stream:?}"
    );
    for id in &order_ids {
        assert!(
            !on_stream.contains_key(id),
            "order {id} is not on the stream"
        );
    }
    let items = dynamodb.scan().table_name(ORDERS).send().await?;
    let mut in_table: Vec<String> = items
        .items()
        .iter()
        .filter_map(|item| item.get("event_id").and_then(|v| v.as_s().ok()).cloned())
        .collect();
    in_table.sort();
    let mut expected = order_ids.clone();
    expected.sort();
    assert_eq!(in_table, expected, "the orders, and only them");

    let (response, _) = call(&deps, fixture("apigw-v2-health.json")).await;
    assert_eq!(
        response.body_json()["sinks"],
        json!({"events": "kinesis", "orders": "dynamodb"})
    );
    Ok(())
}

#[tokio::test]
async fn two_principals_with_the_same_key_and_body_do_not_collide() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let sdk = moto.sdk_config();
    let kinesis = create_stream(&sdk, STREAM, 1).await;
    let dynamodb = create_table(&sdk, IDEMPOTENCY, KEY_ATTRIBUTE).await;
    let sink = KinesisSink::new(kinesis.clone(), STREAM);
    let deps = Deps {
        config: config(ingest_api::config::SinkConfig::Kinesis {
            stream: STREAM.into(),
        }),
        events_sink: sink.clone(),
        orders_sink: sink,
        idempotency: Some(store(&dynamodb)),
    };

    let (alice, _) = call(&deps, event(idempotent_from("producer-a"))).await;
    let (bob, _) = call(&deps, event(idempotent_from("producer-b"))).await;
    assert_eq!(alice.status(), 202, "{}", alice.body_text());
    assert_eq!(bob.status(), 202, "{}", bob.body_text());
    assert_eq!(
        bob.header("idempotent-replayed"),
        None,
        "not the other producer's replay"
    );
    let (alice_ids, bob_ids) = (
        accepted_ids(&alice.body_json()),
        accepted_ids(&bob.body_json()),
    );
    // Record 0 carries the producer's own event_id; record 1 gets one derived from the key,
    // the body and the principal.
    assert_eq!(alice_ids[0], bob_ids[0]);
    assert_ne!(
        alice_ids[1], bob_ids[1],
        "derived ids include the principal"
    );
    assert_eq!(read_stream(&kinesis, STREAM).await.len(), 4);

    // Each replays its own response.
    let (again, _) = call(&deps, event(idempotent_from("producer-a"))).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body_json(), alice.body_json());
    let (again, _) = call(&deps, event(idempotent_from("producer-b"))).await;
    assert_eq!(again.body_json(), bob.body_json());
    assert_eq!(
        read_stream(&kinesis, STREAM).await.len(),
        4,
        "nothing sent twice"
    );

    // Same subject, another issuer: another principal.
    let mut other_issuer = idempotent_from("producer-a");
    other_issuer["requestContext"]["authorizer"]["jwt"]["claims"]["iss"] =
        json!("https://other-idp.example.com");
    let (carol, _) = call(&deps, event(other_issuer)).await;
    assert_eq!(carol.header("idempotent-replayed"), None);
    assert_ne!(accepted_ids(&carol.body_json())[1], alice_ids[1]);

    let items = dynamodb.scan().table_name(IDEMPOTENCY).send().await?;
    assert_eq!(items.items().len(), 3, "one key per principal");
    Ok(())
}

/// Delivers the first half of the first call's records and refuses the rest as throttled;
/// the retry that follows never returns, as if the function crashed there.
struct CrashesMidway {
    inner: KinesisSink,
    calls: AtomicU32,
}

impl Sink for CrashesMidway {
    fn name(&self) -> &'static str {
        "kinesis"
    }

    fn max_record_bytes(&self) -> usize {
        self.inner.max_record_bytes()
    }

    async fn put(&self, records: &[Prepared]) -> Vec<Outcome> {
        if self.calls.fetch_add(1, Ordering::SeqCst) > 0 {
            std::future::pending::<()>().await;
        }
        let half = records.len() / 2;
        let mut outcomes = self.inner.put(&records[..half]).await;
        outcomes.resize(records.len(), Outcome::retryable("throttled"));
        outcomes
    }
}

#[tokio::test]
async fn a_retry_after_a_crash_sends_only_what_was_not_delivered() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let sdk = moto.sdk_config();
    let kinesis = create_stream(&sdk, STREAM, 1).await;
    let dynamodb = create_table(&sdk, IDEMPOTENCY, KEY_ATTRIBUTE).await;
    let base = fixture_json("apigw-v2-events-valid.json");
    let lines: Vec<Value> = serde_json::from_str(base["body"].as_str().unwrap_or("[]"))?;
    // Six records without producer ids: all get ids derived from the key.
    let mut records = Vec::new();
    for (i, mut record) in lines.into_iter().cycle().take(6).enumerate() {
        record["event_id"] = Value::Null;
        record["user_id"] = json!(format!("crash-user-{i}"));
        records.push(record);
    }
    let mut request = base.clone();
    request["body"] = Value::String(Value::Array(records).to_string());
    request["headers"]["idempotency-key"] = json!("crash-test-1");

    let crashing = Deps {
        config: config(ingest_api::config::SinkConfig::Kinesis {
            stream: STREAM.into(),
        }),
        events_sink: CrashesMidway {
            inner: KinesisSink::new(kinesis.clone(), STREAM),
            calls: AtomicU32::new(0),
        },
        orders_sink: CrashesMidway {
            inner: KinesisSink::new(kinesis.clone(), STREAM),
            calls: AtomicU32::new(0),
        },
        idempotency: Some(store(&dynamodb)),
    };
    let started = chrono::Utc::now();
    let crashed = tokio::time::timeout(
        Duration::from_secs(3),
        handle(&crashing, event(request.clone()), None, started),
    )
    .await;
    assert!(crashed.is_err(), "the first attempt never answers");
    assert_eq!(stream_ids(&kinesis).await.len(), 3, "half was delivered");
    let lease = dynamodb.scan().table_name(IDEMPOTENCY).send().await?;
    let item = &lease.items()[0];
    assert_eq!(item["status"].as_s().map(String::as_str), Ok("IN_PROGRESS"));
    let mut delivered: Vec<String> = item["delivered"].as_ns().cloned().unwrap_or_default();
    delivered.sort();
    assert_eq!(delivered, vec!["0", "1", "2"], "the lease knows what is in");

    // The caller retries once the lease has expired.
    let sink = KinesisSink::new(kinesis.clone(), STREAM);
    let healthy = Deps {
        config: crashing.config.clone(),
        events_sink: sink.clone(),
        orders_sink: sink,
        idempotency: Some(store(&dynamodb)),
    };
    let later = started + chrono::TimeDelta::seconds(LOCK.as_secs() as i64 + 1);
    let (response, metrics) = handle(&healthy, event(request.clone()), None, later).await;
    assert_eq!(response.status(), 202, "{}", response.body_text());
    assert_eq!(response.body_json()["accepted"], 6);
    assert_eq!(metrics.value("RecordsAlreadyDelivered"), Some(3.0));
    assert_eq!(
        metrics.value("RecordsAccepted"),
        Some(3.0),
        "only the rest was sent"
    );

    let on_stream = stream_ids(&kinesis).await;
    assert_eq!(on_stream.len(), 6);
    assert!(
        on_stream.values().all(|&n| n == 1),
        "each record once: {on_stream:?}"
    );
    let mut reported = accepted_ids(&response.body_json());
    reported.sort();
    assert_eq!(reported, on_stream.keys().cloned().collect::<Vec<_>>());

    // And the completed response is replayed from now on.
    let (replay, _) = handle(&healthy, event(request), None, later).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(stream_ids(&kinesis).await.len(), 6);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_sink_is_a_503_with_retry_after() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    // Nothing listens on this port: every call fails to connect, which may pass.
    let closed = shopstream_emulators::free_port()?;
    let unreachable = aws_sdk_kinesis::config::Builder::from(&moto.sdk_config())
        .endpoint_url(format!("http://127.0.0.1:{closed}"))
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    let sink = KinesisSink::new(aws_sdk_kinesis::Client::from_conf(unreachable), STREAM);
    let mut config = config(ingest_api::config::SinkConfig::Kinesis {
        stream: STREAM.into(),
    });
    config.retry.max_attempts = 2;
    let deps = Deps {
        config,
        events_sink: sink.clone(),
        orders_sink: sink,
        idempotency: None,
    };
    let (response, metrics) = call(&deps, fixture("apigw-v2-events-valid.json")).await;
    assert_eq!(response.status(), 503, "{}", response.body_text());
    assert_eq!(response.header("retry-after"), Some("1"));
    let body = response.body_json();
    assert_eq!(body["error"], "sink_unavailable");
    assert_eq!(indices(&body, "failed"), vec![0, 1, 2]);
    assert!(body["failed"]
        .as_array()
        .is_some_and(|f| f.iter().all(|e| e["retryable"] == true)));
    assert_eq!(metrics.value("SinkAttempts"), Some(2.0), "retried");
    Ok(())
}
