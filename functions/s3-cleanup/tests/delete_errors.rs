//! DeleteObjects per-key failures, injected at the HTTP layer: a small proxy between the SDK
//! and moto removes some keys from a DeleteObjects request (so they really stay in moto) and
//! answers for them with `<Error>` entries, exactly as S3 reports keys it could not delete in
//! quiet mode. The engine must retry exactly those keys, and report what still fails.

use s3_cleanup::delete::{Deleter, RetryPolicy, MAX_KEYS_PER_CALL};
use s3_cleanup::guard::PrefixGuard;
use shopstream_emulators::MotoServer;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const BUCKET: &str = "lake";

/// Which keys fail in which DeleteObjects call (1-based), and what each call asked for.
#[derive(Default)]
struct Plan {
    /// (call number, keys that fail in it)
    failures: Vec<(usize, BTreeSet<String>)>,
    calls: Vec<Vec<String>>,
}

struct Request {
    request_line: String,
    head: Vec<(String, String)>,
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
        request_line,
        head,
        body,
    })
}

/// Sends the request with `body` to moto and returns status line, headers and body. Checksum
/// headers are dropped when the body was changed.
async fn forward(
    moto_port: u16,
    request: &Request,
    body: &[u8],
    changed: bool,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut upstream = TcpStream::connect(("127.0.0.1", moto_port))
        .await
        .expect("moto");
    let mut out = request.request_line.clone();
    for (name, value) in &request.head {
        let lower = name.to_ascii_lowercase();
        let checksum = lower == "content-md5" || lower.starts_with("x-amz-checksum-");
        let dropped =
            ["content-length", "connection"].contains(&lower.as_str()) || (changed && checksum);
        if !dropped {
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
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(n, v): &(String, String)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")
    }) {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    out
}

/// The `<Key>`s of a DeleteObjects request body.
fn keys_of(body: &str) -> Vec<String> {
    body.split("<Key>")
        .skip(1)
        .filter_map(|part| part.split_once("</Key>").map(|(k, _)| k.to_owned()))
        .collect()
}

async fn delete_objects(
    moto_port: u16,
    request: &Request,
    plan: &Mutex<Plan>,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let body = String::from_utf8_lossy(&request.body).to_string();
    let keys = keys_of(&body);
    let failing: BTreeSet<String> = {
        let mut plan = plan.lock().expect("plan");
        plan.calls.push(keys.clone());
        let call = plan.calls.len();
        plan.failures
            .iter()
            .filter(|(n, _)| *n == call)
            .flat_map(|(_, keys)| keys.iter().cloned())
            .collect()
    };
    // Remove the failing keys' <Object> elements so moto keeps those objects.
    let mut kept = String::new();
    let mut rest = body.as_str();
    while let Some(start) = rest.find("<Object>") {
        kept.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("</Object>") else {
            break;
        };
        let element = &rest[start..start + end + "</Object>".len()];
        let fails = keys_of(element).iter().any(|k| failing.contains(k));
        if !fails {
            kept.push_str(element);
        }
        rest = &rest[start + end + "</Object>".len()..];
    }
    kept.push_str(rest);
    // S3 refuses a Delete without objects: when every key fails, answer without asking moto.
    let (status, headers, answer) = if kept.contains("<Object>") {
        forward(moto_port, request, kept.as_bytes(), !failing.is_empty()).await
    } else {
        (
            "HTTP/1.1 200 OK".to_owned(),
            vec![("Content-Type".to_owned(), "application/xml".to_owned())],
            br#"<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>"#.to_vec(),
        )
    };
    let mut answer = String::from_utf8_lossy(&answer).to_string();
    let errors: String = failing
        .iter()
        .map(|k| format!("<Error><Key>{k}</Key><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>"))
        .collect();
    if let Some(close) = answer.rfind("</DeleteResult>") {
        answer.insert_str(close, &errors);
    }
    (status, headers, answer.into_bytes())
}

async fn serve(connection: TcpStream, moto_port: u16, plan: Arc<Mutex<Plan>>) {
    let mut reader = BufReader::new(connection);
    while let Some(request) = read_request(&mut reader).await {
        let is_delete =
            request.request_line.starts_with("POST ") && request.request_line.contains("?delete");
        let (status, headers, body) = if is_delete {
            delete_objects(moto_port, &request, &plan).await
        } else {
            forward(moto_port, &request, &request.body, false).await
        };
        let mut out = format!("{status}\r\n");
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if ![
                "content-length",
                "connection",
                "transfer-encoding",
                "content-md5",
            ]
            .contains(&lower.as_str())
                && !lower.starts_with("x-amz-checksum")
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

fn deleter(moto: &MotoServer, endpoint: &str, max_attempts: u32) -> Deleter {
    let config = aws_sdk_s3::config::Builder::from(&moto.sdk_config())
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    Deleter {
        s3: aws_sdk_s3::Client::from_conf(config),
        bucket: BUCKET.into(),
        guard: PrefixGuard::new(vec!["gold/".into()]).expect("guard"),
        retry: RetryPolicy {
            max_attempts,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
        },
    }
}

async fn seed(moto: &MotoServer, count: usize) -> Vec<String> {
    let s3 = moto.s3_client();
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let mut keys = Vec::new();
    for i in 0..count {
        let key = format!("gold/final_fact/batch_id=b1/part-{i:05}.parquet");
        s3.put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .expect("put");
        keys.push(key);
    }
    s3.put_object()
        .bucket(BUCKET)
        .key("bronze/orders/keep.jsonl.gz")
        .body(b"x".to_vec().into())
        .send()
        .await
        .expect("put");
    keys
}

async fn remaining(moto: &MotoServer) -> Vec<String> {
    let listed = moto
        .s3_client()
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list");
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn keys_reported_in_errors_are_retried_and_only_those() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let keys = seed(&moto, 1_205).await;
    let failing = |positions: &[usize]| -> BTreeSet<String> {
        positions.iter().map(|&i| keys[i].clone()).collect()
    };
    let plan = Arc::new(Mutex::new(Plan {
        // Call 1 is chunk 1 (keys 0..1000): keys 3, 500 and 999 fail; call 2 retries those
        // three and 500 fails again; call 3 retries 500; call 4 is chunk 2 (keys 1000..1205):
        // 1204 fails; call 5 retries it.
        failures: vec![
            (1, failing(&[3, 500, 999])),
            (2, failing(&[500])),
            (4, failing(&[1_204])),
        ],
        ..Plan::default()
    }));
    let endpoint = proxy(&moto, Arc::clone(&plan)).await;
    let deleter = deleter(&moto, &endpoint, 4);

    let mut request = keys.clone();
    request.push("bronze/orders/keep.jsonl.gz".into());
    let report = deleter.delete(request).await;
    assert_eq!(report.refused, vec!["bronze/orders/keep.jsonl.gz"]);
    assert_eq!(report.deleted, 1_205);
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    let calls = plan.lock().map(|p| p.calls.clone()).unwrap_or_default();
    let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
    // Chunk 1: 1000, retry of its 3 failures, retry of the one that failed again; chunk 2: 205, retry of 1.
    assert_eq!(sizes, vec![MAX_KEYS_PER_CALL, 3, 1, 205, 1]);
    assert_eq!(report.calls, sizes);
    let retried: BTreeSet<String> = calls[1].iter().cloned().collect();
    assert_eq!(
        retried,
        [keys[3].clone(), keys[500].clone(), keys[999].clone()].into()
    );
    assert_eq!(calls[2], vec![keys[500].clone()]);
    assert_eq!(calls[4], vec![keys[1_204].clone()]);
    assert_eq!(remaining(&moto).await, vec!["bronze/orders/keep.jsonl.gz"]);
    Ok(())
}

#[tokio::test]
async fn what_still_fails_after_the_last_attempt_is_reported_by_key() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let keys = seed(&moto, 10).await;
    let stubborn: BTreeSet<String> = [keys[7].clone()].into();
    let plan = Arc::new(Mutex::new(Plan {
        failures: (1..=3).map(|call| (call, stubborn.clone())).collect(),
        ..Plan::default()
    }));
    let endpoint = proxy(&moto, Arc::clone(&plan)).await;
    let report = deleter(&moto, &endpoint, 3).delete(keys.clone()).await;
    assert_eq!(report.deleted, 9);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].key, keys[7]);
    assert_eq!(report.failed[0].code, "InternalError");
    assert_eq!(report.calls, vec![10, 1, 1]);
    let left = remaining(&moto).await;
    assert!(left.contains(&keys[7]), "still there: {left:?}");
    assert_eq!(left.len(), 2);
    Ok(())
}
