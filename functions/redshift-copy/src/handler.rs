//! One invocation: turn a trigger into ledger moves and at most one load statement per batch.
//!
//! A batch goes `TRANSFORMED` (or `LOAD_FAILED`, for a retry) → `LOADING` before anything is
//! submitted, and the statement id is written on the `LOADING` item right after submission.
//! Whoever sees the statement end — the submitting invocation while it polls, the
//! status-change event, or the schedule's sweep — moves `LOADING` → `LOADED` | `LOAD_FAILED`
//! with a conditional write, so exactly one of them does, and only that one publishes the
//! event. A second manifest event for the same batch finds it `LOADING` with a statement id
//! and follows that statement instead of submitting another; a submission repeated after a
//! crash reuses the batch id as `ClientToken`, which the Data API answers with the first
//! statement.

use crate::config::Config;
use crate::data_api::{deadline_instant, DataApi, DataApiError, StatementState};
use crate::guard::{self, Refused};
use crate::plan::{self, LoadBatch};
use crate::trigger::{self, Trigger, TriggerError};
use crate::warehouse::{self, Table};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use shopstream::ledger::events::{publish, BatchLoadFailed, BatchLoaded};
use shopstream::ledger::{BatchRecord, BatchState, Ledger, LedgerError, TransitionFields};
use shopstream::manifest::{self, Manifest};
use shopstream::metrics::MetricSet;
use std::collections::BTreeMap;
use std::time::Instant;
use thiserror::Error;

pub const FUNCTION: &str = "redshift-copy";

#[derive(Debug)]
pub struct Deps {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
    pub ledger: Ledger,
    pub events: aws_sdk_eventbridge::Client,
    pub data_api: DataApi,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    DataApi(#[from] DataApiError),
    #[error("S3 {operation} s3://{bucket}/{prefix}: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        prefix: String,
        message: String,
    },
    #[error(transparent)]
    Publish(#[from] shopstream::ledger::events::PublishError),
}

/// What happened to one batch in this invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BatchOutcome {
    /// The load finished and this invocation moved the batch to `LOADED`.
    Loaded {
        statement_id: String,
        table_rows: BTreeMap<String, u64>,
    },
    /// The load failed or was aborted; the batch is `LOAD_FAILED`.
    Failed {
        statement_id: Option<String>,
        error: String,
    },
    /// Still running when the polling budget ran out: the status-change event or the sweep
    /// settles it.
    Pending {
        statement_id: String,
        status: String,
    },
    /// Nothing to do: already loaded, cleaned, settled by someone else, or not yet transformed.
    Skipped {
        state: Option<String>,
        reason: String,
    },
    /// The manifest or a key in it broke a guard; nothing reached SQL.
    Refused { error: String },
    /// A transient Data API error (throttling, capacity): the batch stays as it is for the
    /// retry schedule.
    Deferred { error: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub batch_id: String,
    #[serde(flatten)]
    pub outcome: BatchOutcome,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub batches: Vec<BatchReport>,
}

struct Invocation<'a> {
    deps: &'a Deps,
    deadline: Instant,
    metrics: MetricSet,
    tables: Vec<Table>,
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Report, HandlerError> {
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
    let mut invocation = Invocation {
        deps,
        deadline: deadline_instant(event.context.deadline, now_ms),
        metrics: MetricSet::for_function(FUNCTION),
        tables: warehouse::tables(),
    };
    invocation
        .metrics
        .property("requestId", event.context.request_id.clone());
    let result = invocation.run(&event.payload).await;
    if let Err(error) = &result {
        if let HandlerError::Trigger(TriggerError::Refused(refused)) = error {
            invocation.refused(refused);
        }
        tracing::error!(error = %error, "invocation failed");
    }
    invocation.metrics.emit();
    result
}

impl Invocation<'_> {
    async fn run(&mut self, payload: &Value) -> Result<Report, HandlerError> {
        let mut report = Report::default();
        match trigger::parse(payload)? {
            Trigger::ManifestCreated {
                bucket,
                key,
                batch_id,
            } => {
                if bucket != self.deps.config.lake_bucket {
                    let refused = Refused {
                        field: "bucket",
                        shown: format!("{bucket:?}"),
                        rule: format!("must be the lake bucket {}", self.deps.config.lake_bucket),
                    };
                    self.refused(&refused);
                    report.batches.push(BatchReport {
                        batch_id,
                        outcome: BatchOutcome::Refused {
                            error: refused.to_string(),
                        },
                    });
                    return Ok(report);
                }
                let outcome = self.load(&batch_id, Some(&key)).await?;
                report.batches.push(BatchReport { batch_id, outcome });
            }
            Trigger::StatementChanged {
                statement_id,
                batch_id,
                state,
            } => {
                tracing::info!(%batch_id, %statement_id, %state, "statement status change");
                let outcome = self.settle_event(&batch_id, &statement_id).await?;
                report.batches.push(BatchReport { batch_id, outcome });
            }
            Trigger::Sweep => {
                for state in [BatchState::Loading, BatchState::Transformed] {
                    for record in self.deps.ledger.list_by_state(state).await? {
                        if Instant::now() + self.deps.config.poll.deadline_margin > self.deadline {
                            tracing::warn!("sweep stopped at the deadline; the next run continues");
                            return Ok(report);
                        }
                        let outcome = self.load(&record.batch_id, None).await?;
                        report.batches.push(BatchReport {
                            batch_id: record.batch_id,
                            outcome,
                        });
                    }
                }
            }
        }
        for batch in &report.batches {
            tracing::info!(batch_id = %batch.batch_id, outcome = ?batch.outcome, "batch");
        }
        Ok(report)
    }

    fn refused(&mut self, refused: &Refused) {
        self.metrics.count("InputRefused", 1);
        tracing::error!(field = refused.field, value = %refused.shown, rule = %refused.rule, "input refused");
    }

    /// Loads `batch_id` or follows the load already under way.
    async fn load(
        &mut self,
        batch_id: &str,
        event_key: Option<&str>,
    ) -> Result<BatchOutcome, HandlerError> {
        let Some(record) = self.deps.ledger.get(batch_id).await? else {
            return Ok(skipped(None, "the batch is not in the ledger"));
        };
        match record.state {
            BatchState::Loading => match record.fields.statement_id.clone() {
                Some(statement_id) => self.follow(&record, &statement_id).await,
                None => self.submit(&record).await,
            },
            BatchState::Transformed | BatchState::LoadFailed => {
                if let Some(key) = event_key {
                    let expected = shopstream::lake::manifest_key(batch_id);
                    if key != expected {
                        return Ok(skipped(Some(record.state), "not this batch's manifest"));
                    }
                }
                let from = record.state;
                let fields = TransitionFields {
                    manifest_key: Some(shopstream::lake::manifest_key(batch_id)),
                    ..TransitionFields::default()
                };
                match self
                    .deps
                    .ledger
                    .transition(
                        batch_id,
                        from,
                        BatchState::Loading,
                        &fields,
                        chrono::Utc::now(),
                    )
                    .await
                {
                    Ok(loading) => self.submit(&loading).await,
                    // Another invocation moved it first: follow what it did.
                    Err(LedgerError::WrongState { .. }) => {
                        Box::pin(self.load(batch_id, None)).await
                    }
                    Err(error) => Err(error.into()),
                }
            }
            other => Ok(skipped(
                Some(other),
                match other {
                    BatchState::Loaded | BatchState::Cleaned => "already loaded",
                    _ => "not transformed yet",
                },
            )),
        }
    }

    /// Checks the manifest and its files, plans and submits the load of a `LOADING` batch.
    async fn submit(&mut self, record: &BatchRecord) -> Result<BatchOutcome, HandlerError> {
        let config = &self.deps.config;
        let manifest_key = shopstream::lake::manifest_key(&record.batch_id);
        let manifest = match manifest::read_manifest(
            &self.deps.s3,
            &config.lake_bucket,
            &manifest_key,
        )
        .await
        {
            Ok(manifest) => manifest,
            Err(error) => {
                return self
                    .fail(record, None, format!("manifest {manifest_key}: {error}"))
                    .await
            }
        };
        let tables = match self.checked_tables(&manifest, &record.batch_id) {
            Ok(tables) => tables,
            Err(refused) => {
                self.refused(&refused);
                let error = refused.to_string();
                self.fail(record, None, error.clone()).await?;
                return Ok(BatchOutcome::Refused { error });
            }
        };
        if let Err(problem) = self.check_objects(&manifest, &tables).await? {
            return self.fail(record, None, problem).await;
        }
        let checksum = match guard::sha256_hex("manifest checksum", &manifest.checksum) {
            Ok(checksum) => checksum,
            Err(refused) => {
                self.refused(&refused);
                let error = refused.to_string();
                self.fail(record, None, error.clone()).await?;
                return Ok(BatchOutcome::Refused { error });
            }
        };
        let batch = LoadBatch {
            schema: &config.schema,
            bucket: &config.lake_bucket,
            batch_id: &record.batch_id,
            manifest_key: &manifest_key,
            manifest_checksum: &checksum,
            copy_role_arn: &config.copy_role_arn,
            region: config.lake_region.as_deref(),
            tables: self
                .tables
                .iter()
                .filter(|table| tables.contains(&table.name))
                .collect(),
        };
        let statements = match plan::plan(&batch) {
            Ok(statements) => statements,
            Err(error) => return self.fail(record, None, error.to_string()).await,
        };
        let count = statements.len();
        let sqls = statements.into_iter().map(|s| s.sql).collect();
        let statement_id = match self.deps.data_api.submit(&record.batch_id, sqls).await {
            Ok(id) => id,
            Err(error) if error.transient => {
                self.metrics.count("LoadsDeferred", 1);
                return Ok(BatchOutcome::Deferred {
                    error: error.to_string(),
                });
            }
            Err(error) => return self.fail(record, None, error.to_string()).await,
        };
        self.metrics.count("LoadsSubmitted", 1);
        tracing::info!(batch_id = %record.batch_id, %statement_id, statements = count, "load submitted");
        let fields = TransitionFields {
            statement_id: Some(statement_id.clone()),
            ..TransitionFields::default()
        };
        let annotated = self
            .deps
            .ledger
            .annotate(
                &record.batch_id,
                BatchState::Loading,
                &fields,
                chrono::Utc::now(),
            )
            .await;
        match annotated {
            Ok(loading) => self.follow(&loading, &statement_id).await,
            // Settled meanwhile (a status-change event was faster): nothing left to do.
            Err(LedgerError::WrongState { actual, .. }) => Ok(skipped(
                actual,
                "settled by another invocation while submitting",
            )),
            Err(error) => Err(error.into()),
        }
    }

    /// The tables the manifest lists files for, every name and key checked.
    fn checked_tables(
        &self,
        manifest: &Manifest,
        batch_id: &str,
    ) -> Result<Vec<&'static str>, Refused> {
        guard::batch_id(&manifest.batch_id)?;
        if manifest.batch_id != batch_id {
            return Err(Refused {
                field: "manifest batch_id",
                shown: format!("{:?}", manifest.batch_id),
                rule: format!("must be the batch of its key, {batch_id}"),
            });
        }
        let allowed = warehouse::table_names();
        let mut with_files = Vec::new();
        for (name, output) in &manifest.tables {
            let table = guard::table_name(name, &allowed)?;
            for file in &output.files {
                guard::gold_file_key(&file.key, table, batch_id)?;
            }
            if !output.files.is_empty() {
                with_files.push(table);
            }
        }
        Ok(with_files)
    }

    /// COPY reads whole prefixes, so each table's prefix must hold exactly the manifest's
    /// files with their sizes. `Ok(Err(problem))` when it does not.
    async fn check_objects(
        &self,
        manifest: &Manifest,
        tables: &[&'static str],
    ) -> Result<Result<(), String>, HandlerError> {
        let bucket = &self.deps.config.lake_bucket;
        for table in tables {
            let prefix = guard::table_prefix(table, &manifest.batch_id);
            let mut listed = BTreeMap::new();
            let mut pages = self
                .deps
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| HandlerError::S3 {
                    operation: "ListObjectsV2",
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                })?;
                for object in page.contents() {
                    if let Some(key) = object.key() {
                        listed.insert(key.to_owned(), object.size().unwrap_or(-1));
                    }
                }
            }
            let expected: BTreeMap<String, i64> = manifest.tables[*table]
                .files
                .iter()
                .map(|f| {
                    (
                        f.key.clone(),
                        i64::try_from(f.size_bytes).unwrap_or(i64::MAX),
                    )
                })
                .collect();
            if listed != expected {
                let missing: Vec<&String> = expected
                    .keys()
                    .filter(|k| !listed.contains_key(*k))
                    .collect();
                let extra: Vec<&String> = listed
                    .keys()
                    .filter(|k| !expected.contains_key(*k))
                    .collect();
                let resized: Vec<&String> = expected
                    .iter()
                    .filter(|(k, size)| listed.get(*k).is_some_and(|l| l != *size))
                    .map(|(k, _)| k)
                    .collect();
                return Ok(Err(format!(
                    "s3://{bucket}/{prefix} does not hold exactly the manifest's files: \
                     missing {missing:?}, unlisted {extra:?}, other size {resized:?}"
                )));
            }
        }
        Ok(Ok(()))
    }

    async fn settle_event(
        &mut self,
        batch_id: &str,
        statement_id: &str,
    ) -> Result<BatchOutcome, HandlerError> {
        let Some(record) = self.deps.ledger.get(batch_id).await? else {
            return Ok(skipped(None, "the batch is not in the ledger"));
        };
        if record.state != BatchState::Loading {
            return Ok(skipped(Some(record.state), "already settled"));
        }
        if let Some(known) = &record.fields.statement_id {
            if known != statement_id {
                return Ok(skipped(
                    Some(record.state),
                    "the event is about another statement than the ledger's",
                ));
            }
        }
        let state = match self.deps.data_api.describe(statement_id).await {
            Ok(state) => state,
            Err(error) if error.transient => {
                return Ok(BatchOutcome::Deferred {
                    error: error.to_string(),
                })
            }
            Err(error) => return Err(error.into()),
        };
        self.settle(&record, statement_id, state).await
    }

    /// Polls the statement within the budget and settles it if it ended.
    async fn follow(
        &mut self,
        record: &BatchRecord,
        statement_id: &str,
    ) -> Result<BatchOutcome, HandlerError> {
        let state = match self
            .deps
            .data_api
            .follow(statement_id, self.deps.config.poll, self.deadline)
            .await
        {
            Ok(state) => state,
            Err(error) if error.transient => {
                return Ok(BatchOutcome::Deferred {
                    error: error.to_string(),
                })
            }
            Err(error) => return Err(error.into()),
        };
        self.settle(record, statement_id, state).await
    }

    async fn settle(
        &mut self,
        record: &BatchRecord,
        statement_id: &str,
        state: StatementState,
    ) -> Result<BatchOutcome, HandlerError> {
        match state {
            StatementState::Running(status) => {
                self.metrics.count("LoadsPending", 1);
                Ok(BatchOutcome::Pending {
                    statement_id: statement_id.to_owned(),
                    status,
                })
            }
            StatementState::Finished => self.loaded(record, statement_id).await,
            StatementState::Failed(error) | StatementState::Aborted(error) => {
                self.fail(record, Some(statement_id), error).await
            }
        }
    }

    async fn loaded(
        &mut self,
        record: &BatchRecord,
        statement_id: &str,
    ) -> Result<BatchOutcome, HandlerError> {
        let table_rows = self.audit_counts(&record.batch_id).await;
        let inserted_facts = table_rows.get("final_fact").copied();
        let fields = TransitionFields {
            statement_id: Some(statement_id.to_owned()),
            output_rows: inserted_facts,
            ..TransitionFields::default()
        };
        match self
            .deps
            .ledger
            .transition(
                &record.batch_id,
                BatchState::Loading,
                BatchState::Loaded,
                &fields,
                chrono::Utc::now(),
            )
            .await
        {
            Ok(_) => {}
            Err(LedgerError::WrongState { actual, .. }) => {
                return Ok(skipped(actual, "settled by another invocation"))
            }
            Err(error) => return Err(error.into()),
        }
        self.metrics.count("LoadsLoaded", 1);
        for (table, rows) in &table_rows {
            self.metrics.count(
                &format!("RowsInserted.{table}"),
                usize::try_from(*rows).unwrap_or(0),
            );
        }
        publish(
            &self.deps.events,
            &self.deps.config.event_bus,
            &BatchLoaded {
                batch_id: record.batch_id.clone(),
                manifest_key: shopstream::lake::manifest_key(&record.batch_id),
                statement_id: statement_id.to_owned(),
                table_rows: table_rows.clone(),
            },
        )
        .await?;
        Ok(BatchOutcome::Loaded {
            statement_id: statement_id.to_owned(),
            table_rows,
        })
    }

    /// Rows inserted per table by the batch's latest successful load, from `load_audit_table`
    /// (not the Data API's `ResultRows`, which counts only the last statement). Empty when the
    /// audit query cannot finish within the budget: the ledger still records the load.
    async fn audit_counts(&mut self, batch_id: &str) -> BTreeMap<String, u64> {
        let sql = plan::audit_counts_query(&self.deps.config.schema);
        let result = self
            .deps
            .data_api
            .run(
                sql,
                &[("batch_id", batch_id)],
                self.deps.config.poll,
                self.deadline,
            )
            .await;
        let rows = match result {
            Ok((id, StatementState::Finished)) => self.deps.data_api.rows(&id).await,
            Ok((id, other)) => {
                tracing::warn!(%batch_id, statement_id = %id, state = ?other, "audit counts not read");
                return BTreeMap::new();
            }
            Err(error) => Err(error),
        };
        match rows {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|row| {
                    let table = row.first()?.clone()?;
                    let inserted = row.get(3)?.as_deref()?.parse::<u64>().ok()?;
                    Some((table, inserted))
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%batch_id, error = %error, "audit counts not read");
                BTreeMap::new()
            }
        }
    }

    /// Records a failed load: the error in the log and a metric, a `LOAD_FAILED` audit row
    /// (best effort), the ledger `LOAD_FAILED` and a `BatchLoadFailed` event.
    async fn fail(
        &mut self,
        record: &BatchRecord,
        statement_id: Option<&str>,
        error: String,
    ) -> Result<BatchOutcome, HandlerError> {
        tracing::error!(batch_id = %record.batch_id, statement_id = ?statement_id, redshift_error = %error, "load failed");
        self.metrics.count("LoadsFailed", 1);
        let manifest_key = shopstream::lake::manifest_key(&record.batch_id);
        if statement_id.is_some() {
            self.audit_failure(&record.batch_id, &manifest_key, &error)
                .await;
        }
        let fields = TransitionFields {
            statement_id: statement_id.map(str::to_owned),
            error: Some(
                shopstream::ledger::truncate_utf8(&error, shopstream::ledger::MAX_ERROR_BYTES)
                    .to_owned(),
            ),
            ..TransitionFields::default()
        };
        match self
            .deps
            .ledger
            .transition(
                &record.batch_id,
                BatchState::Loading,
                BatchState::LoadFailed,
                &fields,
                chrono::Utc::now(),
            )
            .await
        {
            Ok(_) => {}
            Err(LedgerError::WrongState { actual, .. }) => {
                return Ok(skipped(actual, "settled by another invocation"))
            }
            Err(error) => return Err(error.into()),
        }
        publish(
            &self.deps.events,
            &self.deps.config.event_bus,
            &BatchLoadFailed {
                batch_id: record.batch_id.clone(),
                manifest_key,
                statement_id: statement_id.map(str::to_owned),
                error: error.clone(),
            },
        )
        .await?;
        Ok(BatchOutcome::Failed {
            statement_id: statement_id.map(str::to_owned),
            error,
        })
    }

    async fn audit_failure(&mut self, batch_id: &str, manifest_key: &str, error: &str) {
        let checksum = shopstream::manifest::read_manifest(
            &self.deps.s3,
            &self.deps.config.lake_bucket,
            manifest_key,
        )
        .await
        .map(|m| m.checksum)
        .unwrap_or_default();
        let error_text = shopstream::ledger::truncate_utf8(error, 4096);
        let sql = plan::audit_failure(&self.deps.config.schema);
        let parameters = [
            ("batch_id", batch_id),
            ("manifest_key", manifest_key),
            ("manifest_checksum", checksum.as_str()),
            ("error", error_text),
        ];
        // Submitted and left: the row is for people reading the warehouse, the ledger is the
        // record the pipeline acts on.
        if let Err(failure) = self.deps.data_api.execute(sql, &parameters).await {
            tracing::warn!(%batch_id, error = %failure, "LOAD_FAILED audit row not written");
        }
    }
}

fn skipped(state: Option<BatchState>, reason: &str) -> BatchOutcome {
    BatchOutcome::Skipped {
        state: state.map(|s| s.as_str().to_owned()),
        reason: reason.to_owned(),
    }
}
