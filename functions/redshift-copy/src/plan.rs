//! The statements of one load: a pure function of the checked batch, so the exact SQL is
//! pinned by golden files.
//!
//! For each table with files, in load order (dimensions, then the fact, then rejected):
//! 1. `CREATE TEMP TABLE stage_<t> (LIKE <schema>.<t>)`;
//! 2. `COPY stage_<t> FROM 's3://<bucket>/gold/<t>/batch_id=<id>/' … FORMAT AS PARQUET`
//!    (the prefix holds exactly the manifest's files: the handler checks that first);
//! 3. upsert tables only: `CREATE TEMP TABLE merge_<t> AS` the staging rows deduplicated by key.
//!
//! Then one `INSERT INTO load_audit_table` counting, per table, rows staged, unique, and about
//! to be inserted or updated (against the target, before any change); then per table the
//! `MERGE` (upsert) or the `INSERT … WHERE NOT EXISTS` (insert-new), dimensions before the
//! fact; and last the `load_audit` row. Everything runs as one transaction
//! (BatchExecuteStatement, `TRANSACTION` mode), so a failure leaves the warehouse unchanged.

use crate::warehouse::{LoadMode, Table};
use std::fmt::Write as _;
use thiserror::Error;

/// BatchExecuteStatement takes at most 40 statements.
pub const MAX_STATEMENTS: usize = 40;
/// Each statement is at most 100 KB.
pub const MAX_STATEMENT_BYTES: usize = 100 * 1024;

/// What one statement does (for logs, tests and the PostgreSQL translation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    CreateStage,
    Copy,
    Dedupe,
    Audit,
    Merge,
    InsertNew,
    AuditBatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub kind: StepKind,
    /// The table the statement is about (`None` for the audit statements).
    pub table: Option<&'static str>,
    pub sql: String,
}

/// A batch to load, every field already checked by [`crate::guard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBatch<'a> {
    pub schema: &'a str,
    pub bucket: &'a str,
    pub batch_id: &'a str,
    pub manifest_key: &'a str,
    pub manifest_checksum: &'a str,
    pub copy_role_arn: &'a str,
    pub region: Option<&'a str>,
    /// The tables with at least one file, in load order.
    pub tables: Vec<&'a Table>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("the batch has no gold files: nothing to load")]
    Empty,
    #[error("{count} statements exceed the Data API's {MAX_STATEMENTS} per batch")]
    TooManyStatements { count: usize },
    #[error("the {kind:?} statement for {table:?} is {bytes} bytes, over {MAX_STATEMENT_BYTES}")]
    StatementTooLarge {
        kind: StepKind,
        table: Option<&'static str>,
        bytes: usize,
    },
}

fn list(columns: &[String], prefix: &str) -> String {
    columns
        .iter()
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ROW_NUMBER() OVER (PARTITION BY key ORDER BY …)`: a total order, so the same staging rows
/// always keep the same row (rows that tie on every column are identical).
fn rank(table: &Table) -> String {
    let order: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{c} ASC NULLS FIRST"))
        .collect();
    format!(
        "ROW_NUMBER() OVER (PARTITION BY {} ORDER BY {})",
        table.key,
        order.join(", ")
    )
}

fn deduplicated(table: &Table) -> String {
    let columns = list(&table.columns, "");
    format!(
        "SELECT {columns} FROM (SELECT {columns}, {} AS load_rank FROM stage_{}) AS ranked WHERE load_rank = 1",
        rank(table),
        table.name
    )
}

fn copy(batch: &LoadBatch<'_>, table: &Table) -> String {
    let mut sql = format!(
        "COPY stage_{t} FROM 's3://{bucket}/{prefix}' IAM_ROLE '{role}' FORMAT AS PARQUET",
        t = table.name,
        bucket = batch.bucket,
        prefix = crate::guard::table_prefix(table.name, batch.batch_id),
        role = batch.copy_role_arn,
    );
    if let Some(region) = batch.region {
        let _ = write!(sql, " REGION '{region}'");
    }
    sql
}

fn audit_tables(batch: &LoadBatch<'_>) -> String {
    let selects: Vec<String> = batch
        .tables
        .iter()
        .map(|table| {
            let (t, key, schema, id) = (table.name, table.key, batch.schema, batch.batch_id);
            match table.mode {
                LoadMode::Upsert => format!(
                    "SELECT '{id}', SYSDATE, '{t}', (SELECT COUNT(*) FROM stage_{t}), COUNT(*), \
                     COALESCE(SUM(CASE WHEN target.{key} IS NULL THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN target.{key} IS NULL THEN 0 ELSE 1 END), 0) \
                     FROM merge_{t} AS source LEFT JOIN {schema}.{t} AS target ON target.{key} = source.{key}"
                ),
                LoadMode::InsertNew => format!(
                    "SELECT '{id}', SYSDATE, '{t}', COUNT(*), COUNT(DISTINCT source.{key}), \
                     COUNT(DISTINCT CASE WHEN target.{key} IS NULL THEN source.{key} END), 0 \
                     FROM stage_{t} AS source LEFT JOIN {schema}.{t} AS target ON target.{key} = source.{key}"
                ),
            }
        })
        .collect();
    format!(
        "INSERT INTO {}.load_audit_table (batch_id, started_at, table_name, rows_staged, rows_unique, rows_inserted, rows_updated) {}",
        batch.schema,
        selects.join(" UNION ALL ")
    )
}

fn merge(schema: &str, table: &Table) -> String {
    let t = table.name;
    let key = table.key;
    let sets = table
        .columns
        .iter()
        .filter(|c| c.as_str() != key)
        .map(|c| format!("{c} = source.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "MERGE INTO {schema}.{t} USING merge_{t} AS source ON {t}.{key} = source.{key} \
         WHEN MATCHED THEN UPDATE SET {sets} \
         WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
        list(&table.columns, ""),
        list(&table.columns, "source."),
    )
}

fn insert_new(schema: &str, table: &Table) -> String {
    let t = table.name;
    let key = table.key;
    format!(
        "INSERT INTO {schema}.{t} ({columns}) SELECT {columns} FROM ({deduplicated}) AS source \
         WHERE NOT EXISTS (SELECT 1 FROM {schema}.{t} AS target WHERE target.{key} = source.{key})",
        columns = list(&table.columns, ""),
        deduplicated = deduplicated(table),
    )
}

fn audit_batch(batch: &LoadBatch<'_>) -> String {
    format!(
        "INSERT INTO {}.load_audit (batch_id, manifest_key, manifest_checksum, started_at, finished_at, state, error) \
         VALUES ('{}', '{}', '{}', SYSDATE, GETDATE(), 'LOADED', NULL)",
        batch.schema, batch.batch_id, batch.manifest_key, batch.manifest_checksum
    )
}

/// The statements loading `batch`, checked against the Data API's limits.
pub fn plan(batch: &LoadBatch<'_>) -> Result<Vec<Statement>, PlanError> {
    if batch.tables.is_empty() {
        return Err(PlanError::Empty);
    }
    let mut statements = Vec::new();
    let mut push = |kind, table: Option<&'static str>, sql: String| {
        statements.push(Statement { kind, table, sql })
    };
    for table in &batch.tables {
        push(
            StepKind::CreateStage,
            Some(table.name),
            format!(
                "CREATE TEMP TABLE stage_{t} (LIKE {schema}.{t})",
                t = table.name,
                schema = batch.schema
            ),
        );
        push(StepKind::Copy, Some(table.name), copy(batch, table));
        if table.mode == LoadMode::Upsert {
            push(
                StepKind::Dedupe,
                Some(table.name),
                format!(
                    "CREATE TEMP TABLE merge_{} AS {}",
                    table.name,
                    deduplicated(table)
                ),
            );
        }
    }
    push(StepKind::Audit, None, audit_tables(batch));
    for table in &batch.tables {
        match table.mode {
            LoadMode::Upsert => push(
                StepKind::Merge,
                Some(table.name),
                merge(batch.schema, table),
            ),
            LoadMode::InsertNew => push(
                StepKind::InsertNew,
                Some(table.name),
                insert_new(batch.schema, table),
            ),
        }
    }
    push(StepKind::AuditBatch, None, audit_batch(batch));

    if statements.len() > MAX_STATEMENTS {
        return Err(PlanError::TooManyStatements {
            count: statements.len(),
        });
    }
    if let Some(large) = statements
        .iter()
        .find(|s| s.sql.len() > MAX_STATEMENT_BYTES)
    {
        return Err(PlanError::StatementTooLarge {
            kind: large.kind,
            table: large.table,
            bytes: large.sql.len(),
        });
    }
    Ok(statements)
}

/// The statement counting this batch's rows per table from `load_audit_table`, for its
/// latest load attempt (`:batch_id` is a Data API parameter).
pub fn audit_counts_query(schema: &str) -> String {
    format!(
        "SELECT table_name, rows_staged, rows_unique, rows_inserted, rows_updated \
         FROM {schema}.load_audit_table WHERE batch_id = :batch_id AND started_at = \
         (SELECT MAX(started_at) FROM {schema}.load_audit WHERE batch_id = :batch_id AND state = 'LOADED') \
         ORDER BY table_name"
    )
}

/// The `load_audit` row of a failed attempt; every value is a Data API parameter, so the
/// Redshift error text never becomes SQL.
pub fn audit_failure(schema: &str) -> String {
    format!(
        "INSERT INTO {schema}.load_audit (batch_id, manifest_key, manifest_checksum, started_at, finished_at, state, error) \
         VALUES (:batch_id, :manifest_key, :manifest_checksum, SYSDATE, GETDATE(), 'LOAD_FAILED', :error)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse;

    pub(crate) fn batch<'a>(tables: &'a [Table]) -> LoadBatch<'a> {
        LoadBatch {
            schema: "shopstream",
            bucket: "lake",
            batch_id: "20261202T10-20261202T11-3f2a9c0d11b7e4a5",
            manifest_key: "gold/_manifests/20261202T10-20261202T11-3f2a9c0d11b7e4a5.json",
            manifest_checksum: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            copy_role_arn: "arn:aws:iam::123456789012:role/shopstream-redshift-copy",
            region: None,
            tables: tables.iter().collect(),
        }
    }

    #[test]
    fn every_table_fits_in_one_batch_execute_statement() {
        let tables = warehouse::tables();
        let statements = plan(&batch(&tables)).expect("fits");
        assert!(statements.len() <= MAX_STATEMENTS, "{}", statements.len());
        assert_eq!(
            statements.last().map(|s| s.kind),
            Some(StepKind::AuditBatch)
        );
        // Dimensions are merged before the fact.
        let position = |name: &str| {
            statements
                .iter()
                .position(|s| {
                    s.table == Some(name) && matches!(s.kind, StepKind::Merge | StepKind::InsertNew)
                })
                .expect("table written")
        };
        for dimension in tables.iter().filter(|t| t.name.starts_with("dim_")) {
            assert!(position(dimension.name) < position("final_fact"));
        }
        // The audit counts are taken before any table changes.
        let audit = statements
            .iter()
            .position(|s| s.kind == StepKind::Audit)
            .expect("audit");
        assert!(statements[..audit].iter().all(|s| matches!(
            s.kind,
            StepKind::CreateStage | StepKind::Copy | StepKind::Dedupe
        )));
    }

    #[test]
    fn tables_without_files_get_no_statements() {
        let tables = warehouse::tables();
        let mut only_fact = batch(&tables);
        only_fact.tables.retain(|t| t.name == "final_fact");
        let statements = plan(&only_fact).expect("plan");
        assert_eq!(statements.len(), 5);
        assert!(statements
            .iter()
            .all(|s| s.table.is_none() || s.table == Some("final_fact")));
        only_fact.tables.clear();
        assert_eq!(plan(&only_fact), Err(PlanError::Empty));
    }

    #[test]
    fn oversized_statements_are_refused_not_sent() {
        let mut tables = warehouse::tables();
        tables[0].columns = (0..8_000).map(|i| format!("column_{i:05}")).collect();
        let error = plan(&batch(&tables)).expect_err("too large");
        assert!(
            matches!(error, PlanError::StatementTooLarge { .. }),
            "{error}"
        );
    }
}
