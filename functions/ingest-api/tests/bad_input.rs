//! Bad input: every case must get a 4xx with a machine-readable error or per-record reasons,
//! never a 5xx, never a panic, and nothing may reach the stream. Each case runs in both API
//! Gateway payload formats (REST v1 and HTTP v2) against moto's Kinesis.

mod common;

use base64::Engine;
use common::*;
use ingest_api::config::SinkConfig;
use ingest_api::sink::KinesisSink;
use ingest_api::Deps;
use serde_json::{json, Value};
use shopstream_emulators::MotoServer;
use std::sync::Arc;

const STREAM: &str = "bad-input";

#[derive(Clone)]
enum Body {
    None,
    Text(String),
    Bytes(Vec<u8>),
    /// Marked base64 but not base64.
    BadBase64,
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Body,
    headers: Vec<(&'static str, String)>,
    /// The exact status expected.
    status: u16,
}

fn case(name: &'static str, body: impl Into<String>, status: u16) -> Case {
    Case {
        name,
        method: "POST",
        path: "/v1/events",
        content_type: Some("application/json"),
        body: Body::Text(body.into()),
        headers: vec![],
        status,
    }
}

fn good() -> Value {
    json!({"event_id": "e-1", "user_id": "u-1", "event_timestamp": "2024-11-05T07:15:00Z",
           "action_type": "purchase", "product_id": 7, "quantity": 1, "product_price": 10.0,
           "shipping_address": "1 Main St"})
}

/// A valid record with one field replaced (raw JSON text, so any value can be written).
fn with(field: &str, raw: &str) -> String {
    let mut record = good();
    record[field] = Value::from("__X__");
    format!("[{}]", record.to_string().replace("\"__X__\"", raw))
}

fn good_order() -> Value {
    json!({"buyer_id": "b-1", "product_id": 7, "number_of_installments": 2, "total_amount": 20.0,
           "purchase_date": "2024-11-05T07:15:00Z", "shipping_address": "1 Main St"})
}

fn order_with(field: &str, raw: &str) -> Case {
    let mut order = good_order();
    order[field] = Value::from("__X__");
    Case {
        path: "/v1/orders",
        ..case(
            "order field",
            order.to_string().replace("\"__X__\"", raw),
            422,
        )
    }
}

fn cases() -> Vec<Case> {
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_field = with(
        "campaign",
        &format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)),
    );
    let unclosed_deep = "[".repeat(1_000_000);
    let six_mb = format!(
        "[{}]",
        vec![good().to_string(); 6 * 1024 * 1024 / 200].join(",")
    );
    let records_501 = Value::Array(vec![good(); 501]).to_string();
    let lines_501 = vec![good().to_string(); 501].join("\n");
    let dup_user = good().to_string().replacen(
        "\"user_id\":\"u-1\"",
        "\"user_id\":\"u-1\",\"user_id\":\"u-2\"",
        1,
    );
    let dup_event = good().to_string().replacen(
        "\"event_id\":\"e-1\"",
        "\"event_id\":\"e-1\",\"event_id\":\"e-2\"",
        1,
    );
    let list = vec![
        // Wrong types.
        case("user_id is a number", with("user_id", "12345"), 422),
        case("quantity is a word", with("quantity", "\"two\""), 422),
        case("quantity is fractional", with("quantity", "2.5"), 422),
        case("product_price is a boolean", with("product_price", "true"), 422),
        case("product_price is an object", with("product_price", "{\"amount\":1}"), 422),
        case("event_timestamp is a number", with("event_timestamp", "1730790900"), 422),
        case("action_type is a number", with("action_type", "42"), 422),
        case("product_id is text", with("product_id", "\"abc\""), 422),
        case("is_first_purchase is text", with("is_first_purchase", "\"yes\""), 422),
        case("event_id is a number", with("event_id", "123"), 422),
        case("shipping_address is an array", with("shipping_address", "[\"1\",\"Main\"]"), 422),
        case("record is an array", "[[1,2]]", 422),
        case("record is a string", "[\"hello\"]", 422),
        case("record is null", "[null]", 422),
        case("record is a number", "[42]", 422),
        case("body is a number", "42", 422),
        case("body is a string", "\"event\"", 422),
        case("body is true", "true", 422),
        case("body is null", "null", 422),
        // Huge numbers.
        case("quantity 1e400", with("quantity", "1e400"), 422),
        case("quantity beyond u64", with("quantity", "99999999999999999999999"), 422),
        case("product_price 1e308", with("product_price", "1e308"), 422),
        case("product_id beyond i64", with("product_id", "-99999999999999999999"), 422),
        case("quantity zero", with("quantity", "0"), 422),
        // A negative purchase is repaired downstream under the default policy
        // (NEGATIVE_PURCHASE_QUANTITY=repair), so only its magnitude can make it bad input.
        case("quantity negative beyond the maximum", with("quantity", "-1000000"), 422),
        case("quantity over the maximum", with("quantity", "1000000"), 422),
        case("product_price negative", with("product_price", "-5"), 422),
        case("product_price unparseable text", with("product_price", "\"$1.2.3\""), 422),
        case("body is a huge exponent", "1e99999", 422),
        // Deep nesting.
        case("record nested 100k deep", deep_array, 422),
        case("field nested 5k deep", deep_field, 422),
        case("unclosed nesting 1M deep", unclosed_deep, 400),
        // Invalid UTF-8 and encodings.
        Case {
            body: Body::Bytes(b"[{\"user_id\": \"\xff\xfe\"}]".to_vec()),
            ..case("invalid UTF-8 bytes", "", 400)
        },
        Case {
            body: Body::Bytes(b"[{\"user_id\": \"\xc0\xaf\"}]".to_vec()),
            ..case("overlong UTF-8 encoding", "", 400)
        },
        Case {
            body: Body::Bytes(b"[{\"user_id\": \"\xed\xa0\x80\"}]".to_vec()),
            ..case("UTF-8 encoded surrogate", "", 400)
        },
        Case {
            body: Body::BadBase64,
            ..case("body marked base64 is not base64", "", 400)
        },
        case("escaped lone surrogate", with("user_id", "\"\\ud800\""), 422),
        // Empty bodies.
        case("empty body", "", 400),
        case("whitespace body", "  \n\t ", 400),
        Case {
            body: Body::None,
            ..case("no body at all", "", 400)
        },
        case("empty array", "[]", 400),
        case("empty object", "{}", 422),
        Case {
            content_type: Some("application/x-ndjson"),
            ..case("NDJSON of blank lines", "\n\n\r\n", 400)
        },
        // Size limits.
        case("6 MB body", six_mb.clone(), 413),
        Case {
            body: Body::Bytes(six_mb.into_bytes()),
            ..case("6 MB body, base64", "", 413)
        },
        case("501 records", records_501, 413),
        Case {
            content_type: Some("application/x-ndjson"),
            ..case("501 NDJSON lines", lines_501, 413)
        },
        // Content types.
        Case {
            content_type: Some("text/plain"),
            ..case("text/plain", with("quantity", "1"), 415)
        },
        Case {
            content_type: None,
            ..case("no content type", with("quantity", "1"), 415)
        },
        Case {
            content_type: Some("application/xml"),
            ..case("application/xml", "<event/>", 415)
        },
        Case {
            content_type: Some("application/json; charset=iso-8859-1"),
            ..case("latin-1 charset", with("quantity", "1"), 415)
        },
        Case {
            content_type: Some("multipart/form-data; boundary=x"),
            ..case("multipart", "--x--", 415)
        },
        // Duplicated keys.
        case("duplicated user_id", format!("[{dup_user}]"), 422),
        case("duplicated event_id", dup_event, 422),
        Case {
            path: "/v1/orders",
            ..case("order with duplicated buyer_id", "{\"buyer_id\":\"a\",\"buyer_id\":\"b\"}", 422)
        },
        // Malformed JSON.
        case("trailing comma", "[{\"a\":1},]", 400),
        case("unterminated string", "[{\"user_id\": \"u-1}]", 400),
        case("single quotes", "[{'user_id': 'u-1'}]", 400),
        case("NaN", with("quantity", "NaN"), 400),
        case("truncated", "[{", 400),
        case("two objects as application/json", "{}{}", 400),
        case("comment in JSON", "[/* hi */ {}]", 400),
        Case {
            content_type: Some("application/x-ndjson"),
            ..case("NDJSON of garbage lines", "not json\n{also not\n]", 422)
        },
        // Validation.
        case("future timestamp", with("event_timestamp", "\"2999-01-01T00:00:00Z\""), 422),
        case("system user", with("user_id", "\"test_user\""), 422),
        case("unknown action", with("action_type", "\"teleport\""), 422),
        case("purchase without shipping", with("shipping_address", "null"), 422),
        case("unknown record_type", with("record_type", "\"widget\""), 422),
        case("clickstream with unknown event_type", "[{\"event_id\":\"c\",\"user_id\":\"u\",\"event_type\":\"fly\",\"event_timestamp\":\"2024-11-05T07:15:00Z\"}]", 422),
        case("inventory sale with positive change", "[{\"event_id\":\"i\",\"action_type\":\"sale\",\"product_id\":1,\"warehouse_id\":\"W\",\"quantity_change\":5,\"event_timestamp\":\"2024-11-05T07:15:00Z\"}]", 422),
        // Orders.
        order_with("number_of_installments", "\"three\""),
        order_with("number_of_installments", "0"),
        order_with("total_amount", "\"abc\""),
        order_with("buyer_id", "null"),
        order_with("purchase_date", "\"not a date\""),
        Case {
            path: "/v1/orders",
            ..case("orders: empty array", "[]", 400)
        },
        Case {
            path: "/v1/orders",
            ..case("orders: array of arrays", "[[1]]", 422)
        },
        // Routes, methods, headers.
        Case {
            method: "PUT",
            ..case("PUT on events", "[]", 405)
        },
        Case {
            method: "GET",
            ..case("GET on events", "", 405)
        },
        Case {
            method: "POST",
            path: "/v1/health",
            ..case("POST on health", "", 405)
        },
        Case {
            path: "/v1/unknown",
            ..case("unknown route", "[]", 404)
        },
        Case {
            path: "/../../etc/passwd",
            ..case("path traversal", "[]", 404)
        },
        Case {
            headers: vec![("idempotency-key", "k".repeat(300))],
            ..case("idempotency key too long", with("quantity", "1"), 400)
        },
    ];
    list
}

fn build(case: &Case, v1: bool) -> ingest_api::ApiEvent {
    let mut json = if v1 {
        fixture_json("apigw-v1-events-valid.json")
    } else {
        fixture_json("apigw-v2-events-valid.json")
    };
    let (body, b64) = match &case.body {
        Body::None => (Value::Null, false),
        Body::Text(text) => (Value::from(text.as_str()), false),
        Body::Bytes(bytes) => (
            Value::from(base64::engine::general_purpose::STANDARD.encode(bytes)),
            true,
        ),
        Body::BadBase64 => (Value::from("!!!not base64!!!"), true),
    };
    json["body"] = body;
    json["isBase64Encoded"] = Value::from(b64);
    let headers = json["headers"].as_object_mut().expect("headers");
    headers.retain(|name, _| !name.eq_ignore_ascii_case("content-type"));
    if let Some(ct) = case.content_type {
        headers.insert("content-type".into(), Value::from(ct));
    }
    for (name, value) in &case.headers {
        headers.insert((*name).into(), Value::from(value.as_str()));
    }
    if v1 {
        let multi: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()])))
            .collect();
        json["multiValueHeaders"] = Value::Object(multi);
        json["httpMethod"] = Value::from(case.method);
        json["path"] = Value::from(case.path);
    } else {
        json["requestContext"]["http"]["method"] = Value::from(case.method);
        json["rawPath"] = Value::from(case.path);
    }
    event(json)
}

#[tokio::test]
async fn bad_input_gets_4xx_with_reasons_and_nothing_reaches_the_stream() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let kinesis = create_stream(&moto.sdk_config(), STREAM, 1).await;
    let deps = Arc::new(Deps {
        config: config(SinkConfig::Kinesis {
            stream: STREAM.into(),
        }),
        events_sink: KinesisSink::new(kinesis.clone(), STREAM),
        orders_sink: KinesisSink::new(kinesis.clone(), STREAM),
        idempotency: None,
    });
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        for v1 in [false, true] {
            let event = build(case, v1);
            let deps = Arc::clone(&deps);
            // A panic would surface as a JoinError instead of aborting the suite.
            let joined = tokio::spawn(async move { call(&deps, event).await }).await;
            let label = format!("{} ({})", case.name, if v1 { "v1" } else { "v2" });
            let Ok((response, _)) = joined else {
                failures.push(format!("{label}: PANICKED"));
                continue;
            };
            let status = response.status();
            let body = response.body_json();
            if status != case.status {
                failures.push(format!(
                    "{label}: expected {} got {status}: {}",
                    case.status,
                    response.body_text().chars().take(300).collect::<String>()
                ));
                continue;
            }
            if !(400..500).contains(&status) || body["error"].as_str().is_none() {
                failures.push(format!("{label}: {status} without an error code: {body}"));
                continue;
            }
            if status == 422 && body["error"] == "all_records_rejected" {
                let rejected = body["rejected"].as_array().cloned().unwrap_or_default();
                let explained = !rejected.is_empty()
                    && rejected.iter().all(|r| {
                        r["reasons"].as_array().is_some_and(|reasons| {
                            !reasons.is_empty()
                                && reasons
                                    .iter()
                                    .all(|x| x["reason"].is_string() && x["detail"].is_string())
                        })
                    });
                if !explained {
                    failures.push(format!("{label}: 422 without reasons: {body}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len() * 2,
        failures.join("\n")
    );
    assert!(
        read_stream(&kinesis, STREAM).await.is_empty(),
        "bad input reached the stream"
    );
    Ok(())
}
