//! The KPI queries of `jobs/sql/kpi/` (compiled in) over a gold lake: every batch's files of
//! each table are registered under the table's name, a dimension row touched by several
//! batches counted once (the latest batch's, as the warehouse MERGE keeps it).

use crate::inputs::read_parquet;
use crate::lake::{Lake, LakeError};
use crate::models::gold_tables;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// (name, SQL) of every KPI query, by name.
pub const KPIS: &[(&str, &str)] = &[
    (
        "bottom_products",
        include_str!("../../../jobs/sql/kpi/bottom_products.sql"),
    ),
    (
        "customer_segments",
        include_str!("../../../jobs/sql/kpi/customer_segments.sql"),
    ),
    (
        "feedback_distribution",
        include_str!("../../../jobs/sql/kpi/feedback_distribution.sql"),
    ),
    (
        "first_time_vs_repeat_customers",
        include_str!("../../../jobs/sql/kpi/first_time_vs_repeat_customers.sql"),
    ),
    (
        "fraud_risk_mix",
        include_str!("../../../jobs/sql/kpi/fraud_risk_mix.sql"),
    ),
    (
        "hour_of_day_by_day_of_week",
        include_str!("../../../jobs/sql/kpi/hour_of_day_by_day_of_week.sql"),
    ),
    (
        "marketing_attribution",
        include_str!("../../../jobs/sql/kpi/marketing_attribution.sql"),
    ),
    (
        "orders_by_device",
        include_str!("../../../jobs/sql/kpi/orders_by_device.sql"),
    ),
    (
        "payment_methods",
        include_str!("../../../jobs/sql/kpi/payment_methods.sql"),
    ),
    (
        "rejection_reasons_over_time",
        include_str!("../../../jobs/sql/kpi/rejection_reasons_over_time.sql"),
    ),
    (
        "revenue_by_brand",
        include_str!("../../../jobs/sql/kpi/revenue_by_brand.sql"),
    ),
    (
        "revenue_by_category",
        include_str!("../../../jobs/sql/kpi/revenue_by_category.sql"),
    ),
    (
        "revenue_by_city",
        include_str!("../../../jobs/sql/kpi/revenue_by_city.sql"),
    ),
    (
        "revenue_by_country",
        include_str!("../../../jobs/sql/kpi/revenue_by_country.sql"),
    ),
    (
        "revenue_by_day",
        include_str!("../../../jobs/sql/kpi/revenue_by_day.sql"),
    ),
    (
        "top_products",
        include_str!("../../../jobs/sql/kpi/top_products.sql"),
    ),
    (
        "transaction_status_mix",
        include_str!("../../../jobs/sql/kpi/transaction_status_mix.sql"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum KpiError {
    #[error("unknown KPI {0:?}; known: {1}")]
    Unknown(String, String),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("gold file {key} is unreadable: {problem}")]
    Unreadable { key: String, problem: String },
    #[error("{0}")]
    Engine(#[from] datafusion::error::DataFusionError),
    #[error("deriving the gold schemas: {0}")]
    Schema(String),
}

pub fn kpi_sql(name: &str) -> Result<&'static str, KpiError> {
    KPIS.iter()
        .find(|(kpi, _)| *kpi == name)
        .map(|(_, sql)| *sql)
        .ok_or_else(|| {
            KpiError::Unknown(
                name.to_owned(),
                KPIS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "),
            )
        })
}

/// Reads every `gold/<table>/batch_id=*/part-*.parquet` of `table`, batches in id order.
async fn table_batches(
    gold: &Lake,
    table: &str,
) -> Result<Option<(SchemaRef, Vec<(String, Vec<RecordBatch>)>)>, KpiError> {
    let mut schema: Option<SchemaRef> = None;
    let mut by_batch: Vec<(String, Vec<RecordBatch>)> = Vec::new();
    for listed in gold.list(&format!("gold/{table}/")).await? {
        if !listed.key.ends_with(".parquet") {
            continue;
        }
        let batch_id = listed
            .key
            .split('/')
            .find_map(|part| part.strip_prefix("batch_id="))
            .unwrap_or_default()
            .to_owned();
        let bytes = gold.get(&listed.key).await?;
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
                .map_err(|e| KpiError::Unreadable {
                key: listed.key.clone(),
                problem: e.to_string(),
            })?;
        let file_schema = reader.schema().clone();
        let file_schema = schema.get_or_insert(file_schema).clone();
        let batches =
            read_parquet(bytes, &file_schema).map_err(|problem| KpiError::Unreadable {
                key: listed.key.clone(),
                problem,
            })?;
        match by_batch.last_mut() {
            Some((id, rows)) if *id == batch_id => rows.extend(batches),
            _ => by_batch.push((batch_id, batches)),
        }
    }
    Ok(schema.map(|schema| (schema, by_batch)))
}

/// The schema of every gold table, from the models run over empty inputs.
async fn empty_table_schemas() -> Result<Vec<(String, SchemaRef)>, KpiError> {
    let run = crate::engine::run_models(
        crate::engine::EngineInputs::default(),
        crate::engine::EngineLimits::default(),
    )
    .await
    .map_err(|e| KpiError::Schema(e.to_string()))?;
    Ok(run
        .tables
        .into_iter()
        .map(|output| (output.table, output.schema))
        .collect())
}

/// A session with every gold table registered (deduplicated by its key, the first column).
/// A table without files (no batch has produced rows of it yet, e.g. `rejected` when nothing
/// was quarantined) is registered empty, so every KPI answers.
pub async fn gold_session(gold: &Lake) -> Result<SessionContext, KpiError> {
    let ctx = SessionContext::new();
    let mut empty_schemas = None;
    for table in gold_tables() {
        let Some((schema, by_batch)) = table_batches(gold, table).await? else {
            if empty_schemas.is_none() {
                empty_schemas = Some(empty_table_schemas().await?);
            }
            if let Some((_, schema)) = empty_schemas
                .iter()
                .flatten()
                .find(|(name, _)| name == table)
            {
                ctx.register_table(
                    table,
                    Arc::new(MemTable::try_new(schema.clone(), vec![vec![]])?),
                )?;
            }
            continue;
        };
        let mut fields: Vec<arrow::datatypes::FieldRef> = schema.fields().iter().cloned().collect();
        fields.push(Arc::new(arrow::datatypes::Field::new(
            "_batch_rank",
            arrow::datatypes::DataType::Int64,
            false,
        )));
        let ranked_schema = Arc::new(arrow::datatypes::Schema::new(fields));
        let mut all = Vec::new();
        // Batch ids sort by their window (it leads the id): a later batch's row wins.
        for (rank, (_, batches)) in by_batch.into_iter().enumerate() {
            for batch in batches {
                let mut columns = batch.columns().to_vec();
                columns.push(Arc::new(arrow::array::Int64Array::from(vec![
                    rank as i64;
                    batch
                        .num_rows(
                        )
                ])));
                all.push(
                    RecordBatch::try_new(ranked_schema.clone(), columns)
                        .map_err(datafusion::error::DataFusionError::from)?,
                );
            }
        }
        let raw = format!("{table}__all");
        ctx.register_table(
            raw.as_str(),
            Arc::new(MemTable::try_new(ranked_schema, vec![all])?),
        )?;
        let key = schema.field(0).name().clone();
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let latest = ctx
            .sql(&format!(
                "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY _batch_rank DESC) AS latest FROM {raw}) ranked WHERE latest = 1",
                cols = columns.join(", "),
            ))
            .await?;
        ctx.register_table(table, latest.into_view())?;
    }
    Ok(ctx)
}

/// Runs the KPI `name` over `gold`.
pub async fn run_kpi(gold: &Lake, name: &str) -> Result<(SchemaRef, Vec<RecordBatch>), KpiError> {
    let sql = kpi_sql(name)?;
    let ctx = gold_session(gold).await?;
    let frame = ctx.sql(sql).await?;
    let schema: SchemaRef = frame.schema().inner().clone();
    Ok((schema, frame.collect().await?))
}

/// The rows as a text table.
pub fn pretty(batches: &[RecordBatch]) -> Result<String, KpiError> {
    let table = datafusion::arrow::util::pretty::pretty_format_batches(batches)
        .map_err(datafusion::error::DataFusionError::from)?;
    Ok(table.to_string())
}
