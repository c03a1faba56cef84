//! A minimal HTTP/1.1 client for the emulators' control endpoints (no body, `Connection: close`).

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for one control request, connect to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Status code and body of a response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// Sends `method path` with an empty body to `127.0.0.1:port` and reads the whole response.
pub(crate) async fn request(port: u16, method: &str, path: &str) -> Result<Response> {
    tokio::time::timeout(REQUEST_TIMEOUT, request_inner(port, method, path))
        .await
        .with_context(|| format!("{method} http://127.0.0.1:{port}{path} timed out"))?
}

async fn request_inner(port: u16, method: &str, path: &str) -> Result<Response> {
    let mut stream = TcpStream::connect((crate::port::LOOPBACK, port))
        .await
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .with_context(|| format!("sending {method} {path}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .with_context(|| format!("reading the response to {method} {path}"))?;
    parse_response(&raw).with_context(|| format!("parsing the response to {method} {path}"))
}

fn parse_response(raw: &[u8]) -> Result<Response> {
    let text = String::from_utf8_lossy(raw);
    let status_line = text.lines().next().context("empty response")?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("malformed status line {status_line:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok(Response { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let response =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").expect("parses");
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "{}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"nonsense\r\n").is_err());
    }
}
