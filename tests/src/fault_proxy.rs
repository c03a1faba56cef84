//! An HTTP proxy in front of an emulator that injects the failures a real network and
//! service produce: a request refused before it reaches the service, or a request the
//! service carried out whose answer is lost (the client sees an error, the change is made).
//!
//! ```no_run
//! # async fn example(moto: &shopstream_emulators::MotoServer) -> anyhow::Result<()> {
//! use shopstream_emulators::{Fault, FaultProxy};
//! let proxy = FaultProxy::start(moto.port(), |request| {
//!     if request.method == "PUT" && request.path.contains("hour=07") {
//!         Fault::LoseAnswer
//!     } else {
//!         Fault::Pass
//!     }
//! })
//! .await?;
//! // Point an SDK client at proxy.endpoint_url().
//! # Ok(())
//! # }
//! ```

use crate::http::{read_request, Request};
use anyhow::{Context, Result};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward it and relay the answer.
    Pass,
    /// Do not forward it; answer 500 InternalError.
    Refuse,
    /// Forward it (the service carries it out), then answer 500 instead of the real answer.
    LoseAnswer,
}

/// The parts of a request a rule decides on.
#[derive(Debug, Clone)]
pub struct ProxiedRequest {
    pub method: String,
    /// Path and query, URL-encoded as sent.
    pub path: String,
    pub body: Vec<u8>,
}

/// One request the proxy saw and what it did with it.
#[derive(Debug, Clone)]
pub struct ProxyLogEntry {
    pub method: String,
    pub path: String,
    pub fault: Fault,
}

type Rule = dyn Fn(&ProxiedRequest) -> Fault + Send + Sync;

/// The proxy, listening on a free port of 127.0.0.1 until dropped.
pub struct FaultProxy {
    port: u16,
    endpoint: String,
    log: Arc<Mutex<Vec<ProxyLogEntry>>>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `127.0.0.1:upstream_port` applying `rule` to every request.
    pub async fn start(
        upstream_port: u16,
        rule: impl Fn(&ProxiedRequest) -> Fault + Send + Sync + 'static,
    ) -> Result<Self> {
        let listener = TcpListener::bind((crate::port::LOOPBACK, 0))
            .await
            .context("binding the fault proxy")?;
        let port = listener.local_addr()?.port();
        let log: Arc<Mutex<Vec<ProxyLogEntry>>> = Arc::default();
        let rule: Arc<Rule> = Arc::new(rule);
        let accept = {
            let log = log.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (rule, log) = (rule.clone(), log.clone());
                    tokio::spawn(async move {
                        let _ = serve(client, upstream_port, rule, log).await;
                    });
                }
            })
        };
        Ok(FaultProxy {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            accept,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint_url(&self) -> &str {
        &self.endpoint
    }

    /// Every request seen so far, in arrival order.
    pub fn log(&self) -> Vec<ProxyLogEntry> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// How many requests got `fault`.
    pub fn count(&self, fault: Fault) -> usize {
        self.log().iter().filter(|e| e.fault == fault).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// One request per connection: the answer carries `Connection: close`.
async fn serve(
    client: TcpStream,
    upstream_port: u16,
    rule: Arc<Rule>,
    log: Arc<Mutex<Vec<ProxyLogEntry>>>,
) -> Result<()> {
    let mut reader = BufReader::new(client);
    let Some(request) = read_request(&mut reader).await? else {
        return Ok(());
    };
    let mut parts = request.request_line.split_whitespace();
    let proxied = ProxiedRequest {
        method: parts.next().unwrap_or_default().to_owned(),
        path: parts.next().unwrap_or_default().to_owned(),
        body: request.body.clone(),
    };
    let fault = rule(&proxied);
    if let Ok(mut log) = log.lock() {
        log.push(ProxyLogEntry {
            method: proxied.method.clone(),
            path: proxied.path.clone(),
            fault,
        });
    }
    let answer = match fault {
        Fault::Refuse => internal_error(),
        Fault::Pass => forward(upstream_port, &request).await?,
        Fault::LoseAnswer => {
            forward(upstream_port, &request).await?;
            internal_error()
        }
    };
    let mut client = reader.into_inner();
    client.write_all(&answer).await?;
    client.shutdown().await?;
    Ok(())
}

fn internal_error() -> Vec<u8> {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>\
                <Message>injected by the fault proxy</Message></Error>";
    format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends the request to the emulator (`Connection: close`) and returns its raw answer.
async fn forward(upstream_port: u16, request: &Request) -> Result<Vec<u8>> {
    let mut upstream = TcpStream::connect((crate::port::LOOPBACK, upstream_port))
        .await
        .context("connecting to the emulator")?;
    let mut out = request.request_line.clone();
    for (name, value) in &request.head {
        let lower = name.to_ascii_lowercase();
        if lower != "content-length" && lower != "connection" {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    upstream.write_all(out.as_bytes()).await?;
    upstream.write_all(&request.body).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    Ok(answer)
}
