//! A Redshift Data API on PostgreSQL, on 127.0.0.1: the JSON protocol of
//! `BatchExecuteStatement`, `ExecuteStatement`, `DescribeStatement` and `GetStatementResult`,
//! enough for redshift-copy's client to run unchanged against a local warehouse (the
//! `shopstream run` pipeline, and tests of the whole load path).
//!
//! - Statements run asynchronously, as on Redshift: a submission answers with an id at once,
//!   `DescribeStatement` says `STARTED` until psql ends, then `FINISHED` or `FAILED` with
//!   PostgreSQL's error text.
//! - A batch runs in one psql session inside `BEGIN … COMMIT` (TRANSACTION mode: all or
//!   nothing; temporary tables live for the batch). `ClientToken` is honoured: a second
//!   submission with the same token answers with the first statement's id and runs nothing.
//! - SQL goes through [`crate::redshift_sql::to_postgres`]. `COPY … FROM 's3://…' FORMAT AS
//!   PARQUET` reads every object under the prefix from S3 (the lake emulator) and sends its
//!   rows as CSV (`COPY … FROM STDIN`), column by position as Redshift matches Parquet.
//! - Named parameters are bound by psql as quoted literals (`:name` → `:'name'`).
//! - `Database`, `WorkgroupName`, `ClusterIdentifier`, `SecretArn`, `DbUser` are accepted and
//!   ignored: every statement goes to the one database of the [`Psql`] client. Requests are
//!   not authenticated (bound to loopback only).

use crate::http::{read_request, Request};
use crate::postgres::{Psql, Row};
use crate::redshift_sql::{bind_parameters, parse_copy, to_postgres, S3ParquetCopy};
use anyhow::{Context, Result};
use arrow::array::Array;
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long one statement or batch may run before it is failed.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(3_600);

/// Where a statement is, in the Data API's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementStatus {
    Started,
    Finished,
    Failed,
}

impl StatementStatus {
    fn as_str(self) -> &'static str {
        match self {
            StatementStatus::Started => "STARTED",
            StatementStatus::Finished => "FINISHED",
            StatementStatus::Failed => "FAILED",
        }
    }
}

/// One submitted statement or batch, as the emulator keeps it.
#[derive(Debug, Clone)]
pub struct StatementRecord {
    pub id: String,
    /// `StatementName` as given (redshift-copy names its loads `shopstream-load:<batch>`).
    pub name: Option<String>,
    /// Statements in it (1 for `ExecuteStatement`).
    pub statements: usize,
    pub status: StatementStatus,
    pub error: Option<String>,
    /// Rows a query returned (every field as PostgreSQL's text).
    pub rows: Vec<Row>,
    /// Rows sent by the COPY statements of a batch.
    pub rows_copied: u64,
    /// From submission to the end of psql.
    pub duration: Option<Duration>,
}

struct State {
    psql: Psql,
    s3: aws_sdk_s3::Client,
    statements: Mutex<HashMap<String, StatementRecord>>,
    tokens: Mutex<HashMap<String, String>>,
    next_id: AtomicU64,
}

/// The local Data API, serving until dropped.
pub struct RedshiftDataApi {
    endpoint: String,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl RedshiftDataApi {
    /// Serves on a free port of 127.0.0.1; statements go to `psql`'s database, COPY reads S3
    /// through `s3`.
    pub async fn start(psql: Psql, s3: aws_sdk_s3::Client) -> Result<Self> {
        let listener = TcpListener::bind((crate::port::LOOPBACK, 0))
            .await
            .context("binding the local Redshift Data API")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State {
            psql: psql.with_timeout(STATEMENT_TIMEOUT),
            s3,
            statements: Mutex::default(),
            tokens: Mutex::default(),
            next_id: AtomicU64::new(1),
        });
        let accept = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let _ = serve(client, state).await;
                    });
                }
            })
        };
        Ok(RedshiftDataApi {
            endpoint: format!("http://127.0.0.1:{port}"),
            state,
            accept,
        })
    }

    /// The endpoint for an SDK client (`endpoint_url`).
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint
    }

    /// Every statement submitted so far, in submission order.
    pub fn statements(&self) -> Vec<StatementRecord> {
        let mut all: Vec<StatementRecord> = self
            .state
            .statements
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by_key(|s| s.id.parse::<u64>().unwrap_or(u64::MAX));
        all
    }

    /// Waits until statement `id` has ended (or `timeout` passed) and returns it.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Option<StatementRecord> {
        let started = Instant::now();
        loop {
            let record = self.state.record(id)?;
            if record.status != StatementStatus::Started || started.elapsed() > timeout {
                return Some(record);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RedshiftDataApi {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl State {
    fn record(&self, id: &str) -> Option<StatementRecord> {
        self.statements.lock().ok()?.get(id).cloned()
    }

    fn submit(self: &Arc<Self>, name: Option<String>, work: Work) -> String {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let record = StatementRecord {
            id: id.clone(),
            name,
            statements: work.statements(),
            status: StatementStatus::Started,
            error: None,
            rows: Vec::new(),
            rows_copied: 0,
            duration: None,
        };
        if let Ok(mut statements) = self.statements.lock() {
            statements.insert(id.clone(), record);
        }
        let state = self.clone();
        let run_id = id.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = state.run(work).await;
            if let Ok(mut statements) = state.statements.lock() {
                if let Some(record) = statements.get_mut(&run_id) {
                    record.duration = Some(started.elapsed());
                    match result {
                        Ok((rows, copied)) => {
                            record.status = StatementStatus::Finished;
                            record.rows = rows;
                            record.rows_copied = copied;
                        }
                        Err(error) => {
                            record.status = StatementStatus::Failed;
                            record.error = Some(format!("{error:#}"));
                        }
                    }
                }
            }
        });
        id
    }

    async fn run(&self, work: Work) -> Result<(Vec<Row>, u64)> {
        match work {
            Work::Batch(sqls) => {
                let mut script = String::from("BEGIN;\n");
                let mut copied = 0;
                for sql in &sqls {
                    match parse_copy(sql) {
                        Some(copy) => copied += self.copy_from_s3(&copy, &mut script).await?,
                        None => {
                            script.push_str(&to_postgres(sql));
                            script.push_str(";\n");
                        }
                    }
                }
                script.push_str("COMMIT;\n");
                self.psql.execute(&script).await?;
                Ok((Vec::new(), copied))
            }
            Work::Single { sql, parameters } => {
                let names: Vec<&str> = parameters.iter().map(|(n, _)| n.as_str()).collect();
                let bound = bind_parameters(&to_postgres(&sql), &names);
                let variables: Vec<(&str, &str)> = parameters
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let rows = self.psql.query_with(&bound, &variables).await?;
                Ok((rows, 0))
            }
        }
    }

    /// Appends `COPY <table> FROM STDIN` with the rows of every Parquet object under the
    /// prefix; returns the rows sent.
    async fn copy_from_s3(&self, copy: &S3ParquetCopy, script: &mut String) -> Result<u64> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&copy.bucket)
            .prefix(&copy.prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .with_context(|| format!("COPY: listing s3://{}/{}", copy.bucket, copy.prefix))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys.sort();
        let _ = writeln!(script, "COPY {} FROM STDIN WITH (FORMAT csv);", copy.table);
        let mut rows = 0;
        for key in keys {
            let object = self
                .s3
                .get_object()
                .bucket(&copy.bucket)
                .key(&key)
                .send()
                .await
                .with_context(|| format!("COPY: reading s3://{}/{key}", copy.bucket))?;
            let bytes = object
                .body
                .collect()
                .await
                .with_context(|| format!("COPY: reading s3://{}/{key}", copy.bucket))?
                .into_bytes();
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .and_then(|builder| builder.build())
                .with_context(|| format!("COPY: s3://{}/{key} is not Parquet", copy.bucket))?;
            for batch in reader {
                let batch = batch.with_context(|| format!("COPY: decoding {key}"))?;
                rows +=
                    csv_rows(&batch, script).with_context(|| format!("COPY: a value of {key}"))?;
            }
        }
        script.push_str("\\.\n");
        Ok(rows)
    }
}

/// Appends the batch's rows as CSV: NULL unquoted-empty, text always quoted (so an empty
/// string stays one), every other type in arrow's display form, which PostgreSQL reads
/// (ISO dates and times, plain decimals).
fn csv_rows(batch: &arrow::record_batch::RecordBatch, out: &mut String) -> Result<u64> {
    let options = FormatOptions::default();
    let columns: Vec<(bool, &dyn Array, ArrayFormatter)> = batch
        .columns()
        .iter()
        .map(|column| {
            let text = matches!(
                column.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            );
            ArrayFormatter::try_new(column.as_ref(), &options)
                .map(|formatter| (text, column.as_ref(), formatter))
        })
        .collect::<Result<_, _>>()?;
    let mut cell = String::new();
    for row in 0..batch.num_rows() {
        for (index, (text, array, formatter)) in columns.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            if array.is_null(row) {
                continue;
            }
            cell.clear();
            write!(cell, "{}", formatter.value(row))?;
            if *text {
                out.push('"');
                out.push_str(&cell.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&cell);
            }
        }
        out.push('\n');
    }
    Ok(batch.num_rows() as u64)
}

enum Work {
    Batch(Vec<String>),
    Single {
        sql: String,
        parameters: Vec<(String, String)>,
    },
}

impl Work {
    fn statements(&self) -> usize {
        match self {
            Work::Batch(sqls) => sqls.len(),
            Work::Single { .. } => 1,
        }
    }
}

/// One request per connection (`Connection: close`).
async fn serve(client: TcpStream, state: Arc<State>) -> Result<()> {
    let mut reader = BufReader::new(client);
    let Some(request) = read_request(&mut reader).await? else {
        return Ok(());
    };
    let (status, body) = match answer(&state, &request) {
        Ok(body) => (200, body),
        Err((code, message)) => (400, json!({"__type": code, "message": message})),
    };
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Bad Request" },
        body.len()
    );
    let mut client = reader.into_inner();
    client.write_all(head.as_bytes()).await?;
    client.write_all(body.as_bytes()).await?;
    client.shutdown().await?;
    Ok(())
}

type Refusal = (&'static str, String);

fn validation(message: impl Into<String>) -> Refusal {
    ("ValidationException", message.into())
}

fn answer(state: &Arc<State>, request: &Request) -> Result<Value, Refusal> {
    let target = request
        .header("x-amz-target")
        .ok_or_else(|| validation("no X-Amz-Target header"))?;
    let operation = target
        .strip_prefix("RedshiftData.")
        .ok_or_else(|| validation(format!("unknown target {target}")))?;
    let input: Value = serde_json::from_slice(&request.body)
        .map_err(|e| validation(format!("the body is not JSON: {e}")))?;
    let text = |name: &str| input.get(name).and_then(Value::as_str).map(str::to_owned);
    match operation {
        "BatchExecuteStatement" => {
            let sqls: Vec<String> = input
                .get("Sqls")
                .and_then(Value::as_array)
                .ok_or_else(|| validation("Sqls is required"))?
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| validation("Sqls must be strings"))?;
            if sqls.is_empty() {
                return Err(validation("Sqls must not be empty"));
            }
            let id = idempotent(state, text("ClientToken"), || {
                state.submit(text("StatementName"), Work::Batch(sqls))
            });
            Ok(json!({"Id": id}))
        }
        "ExecuteStatement" => {
            let sql = text("Sql").ok_or_else(|| validation("Sql is required"))?;
            let parameters = input
                .get("Parameters")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|p| {
                            Some((
                                p.get("name")?.as_str()?.to_owned(),
                                p.get("value")?.as_str()?.to_owned(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let id = idempotent(state, text("ClientToken"), || {
                state.submit(text("StatementName"), Work::Single { sql, parameters })
            });
            Ok(json!({"Id": id}))
        }
        "DescribeStatement" => {
            let id = text("Id").ok_or_else(|| validation("Id is required"))?;
            let record = state
                .record(&id)
                .ok_or_else(|| ("ResourceNotFoundException", format!("no statement {id}")))?;
            let mut out = json!({
                "Id": record.id,
                "Status": record.status.as_str(),
                "HasResultSet": !record.rows.is_empty(),
                "ResultRows": record.rows.len(),
            });
            if let Some(error) = &record.error {
                out["Error"] = json!(error);
            }
            if let Some(name) = &record.name {
                out["StatementName"] = json!(name);
            }
            Ok(out)
        }
        "GetStatementResult" => {
            let id = text("Id").ok_or_else(|| validation("Id is required"))?;
            let record = state
                .record(&id)
                .ok_or_else(|| ("ResourceNotFoundException", format!("no statement {id}")))?;
            if record.status != StatementStatus::Finished {
                return Err(validation(format!(
                    "statement {id} is {}, not FINISHED",
                    record.status.as_str()
                )));
            }
            let records: Vec<Value> = record
                .rows
                .iter()
                .map(|row| {
                    Value::Array(
                        row.iter()
                            .map(|cell| match cell {
                                Some(text) => json!({"stringValue": text}),
                                None => json!({"isNull": true}),
                            })
                            .collect(),
                    )
                })
                .collect();
            Ok(json!({"Records": records, "TotalNumRows": record.rows.len()}))
        }
        other => Err(validation(format!(
            "{other} is not served by the local Data API"
        ))),
    }
}

fn idempotent(state: &State, token: Option<String>, submit: impl FnOnce() -> String) -> String {
    let Some(token) = token else {
        return submit();
    };
    let Ok(mut tokens) = state.tokens.lock() else {
        return submit();
    };
    tokens.entry(token).or_insert_with(submit).clone()
}
