//! Minimal HTTP/1.1: a client for the emulators' control endpoints (no body, `Connection:
//! close`), and the request reader of the servers this crate runs (the fault proxy, the local
//! Data API).

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
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

/// A request as a server reads it: the request line, the headers in order, the whole body.
pub(crate) struct Request {
    pub(crate) request_line: String,
    pub(crate) head: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request (Content-Length or chunked body); `None` when the peer closed first.
pub(crate) async fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await? == 0 {
        return Ok(None);
    }
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            head.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = Request {
        request_line,
        head,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        request.body = read_chunked(reader).await?;
        request
            .head
            .retain(|(n, _)| !n.eq_ignore_ascii_case("transfer-encoding"));
    } else {
        let length: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        request.body = vec![0; length];
        reader.read_exact(&mut request.body).await?;
    }
    Ok(Some(request))
}

async fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).await?;
        let size_text = size_line.trim().split(';').next().unwrap_or("0");
        let size = usize::from_str_radix(size_text, 16).context("chunk size")?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).await?;
    }
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
