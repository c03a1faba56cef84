//! The models on DataFusion: register the three input views, run `models.json` in order
//! (each result registered under its model name), return the outputs.
//!
//! Memory: inputs are in-memory Arrow tables (a batch is bounded by `MAX_BATCH_ROWS` /
//! `MAX_BATCH_BYTES` before it is read); each model's result is materialised once, so the
//! intermediate views are not recomputed by the ten models reading them. Operators that
//! buffer (the window sorts, DISTINCT, ORDER BY) run under a memory pool of the configured
//! size and spill to the temporary directory (`/tmp` on Lambda) beyond it.

use crate::inputs::{event_index_schema, quarantine_schema, silver_schema};
use crate::models::{models, Model, EVENT_INDEX_OUTPUT};
use arrow::array::RecordBatch;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("model {model}: {source}")]
    Model {
        model: String,
        #[source]
        source: datafusion::error::DataFusionError,
    },
    #[error("registering {view}: {source}")]
    Register {
        view: String,
        #[source]
        source: datafusion::error::DataFusionError,
    },
    #[error("normalising the output of {model}: {source}")]
    Normalise {
        model: String,
        #[source]
        source: arrow::error::ArrowError,
    },
}

/// The input views' rows.
#[derive(Debug, Default, Clone)]
pub struct EngineInputs {
    pub silver: Vec<RecordBatch>,
    pub quarantine: Vec<RecordBatch>,
    pub event_index: Vec<RecordBatch>,
}

/// One output model's rows, in its ORDER BY.
#[derive(Debug, Clone)]
pub struct Output {
    pub table: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Output {
    pub fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.num_rows() as u64).sum()
    }
}

#[derive(Debug, Clone)]
pub struct ModelRun {
    /// Gold tables, in model order.
    pub tables: Vec<Output>,
    /// The batch's event index rows (`event_id`, `dt_date`).
    pub event_index: Output,
    pub silver_rows: u64,
    pub first_seen_rows: u64,
    pub accepted_rows: u64,
    pub quarantine_rows: u64,
}

/// How the engine may use the machine.
#[derive(Debug, Clone, Copy)]
pub struct EngineLimits {
    /// Memory pool for buffering operators; `None` for no limit.
    pub memory_bytes: Option<usize>,
    /// Parallel partitions (the CPU count).
    pub partitions: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            memory_bytes: None,
            partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

fn rows(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

fn context(limits: EngineLimits) -> Result<SessionContext, datafusion::error::DataFusionError> {
    let mut config = SessionConfig::new()
        .with_target_partitions(limits.partitions.max(1))
        .with_batch_size(8192);
    // Text stays Utf8 (what silver holds and what the gold schema promises).
    config.options_mut().sql_parser.map_string_types_to_utf8view = false;
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(bytes) = limits.memory_bytes {
        runtime = runtime.with_memory_limit(bytes, 1.0);
    }
    Ok(SessionContext::new_with_config_rt(
        config,
        runtime.build_arc()?,
    ))
}

/// Spreads batches over `partitions` so the first operators run in parallel.
fn partitioned(batches: Vec<RecordBatch>, partitions: usize) -> Vec<Vec<RecordBatch>> {
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions.max(1)];
    for (i, batch) in batches.into_iter().enumerate() {
        parts[i % partitions.max(1)].push(batch);
    }
    parts
}

fn register(
    ctx: &SessionContext,
    view: &str,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    partitions: usize,
) -> Result<(), EngineError> {
    let error = |source| EngineError::Register {
        view: view.to_owned(),
        source,
    };
    let table = MemTable::try_new(schema, partitioned(batches, partitions)).map_err(error)?;
    ctx.register_table(view, Arc::new(table)).map_err(error)?;
    Ok(())
}

/// Casts view-typed and large text to Utf8, so gold schemas do not depend on the engine's
/// internal choices.
fn normalise(
    model: &str,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
    let text = |t: &DataType| matches!(t, DataType::Utf8View | DataType::LargeUtf8);
    if !schema.fields().iter().any(|f| text(f.data_type())) {
        return Ok((schema.clone(), batches));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let field = f.as_ref().clone();
            if text(f.data_type()) {
                field.with_data_type(DataType::Utf8)
            } else {
                field
            }
        })
        .collect();
    let target = Arc::new(Schema::new(fields));
    let error = |source| EngineError::Normalise {
        model: model.to_owned(),
        source,
    };
    let batches = batches
        .into_iter()
        .map(|batch| {
            let columns = batch
                .columns()
                .iter()
                .zip(target.fields())
                .map(|(column, field)| cast(column, field.data_type()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(error)?;
            RecordBatch::try_new(target.clone(), columns).map_err(error)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((target, batches))
}

/// The position of the last model that reads each table.
fn last_readers(models: &[Model]) -> std::collections::HashMap<&str, usize> {
    let mut last = std::collections::HashMap::new();
    for (position, model) in models.iter().enumerate() {
        for input in &model.depends_on {
            last.insert(input.as_str(), position);
        }
    }
    last
}

/// Runs every model over `inputs`.
pub async fn run_models(
    inputs: EngineInputs,
    limits: EngineLimits,
) -> Result<ModelRun, EngineError> {
    let ctx = context(limits).map_err(|source| EngineError::Register {
        view: "session".into(),
        source,
    })?;
    let silver_rows = rows(&inputs.silver);
    let quarantine_rows = rows(&inputs.quarantine);
    let partitions = limits.partitions.max(1);
    register(
        &ctx,
        "silver_transactions",
        silver_schema(),
        inputs.silver,
        partitions,
    )?;
    register(
        &ctx,
        "quarantine_records",
        quarantine_schema(),
        inputs.quarantine,
        partitions,
    )?;
    register(
        &ctx,
        "gold_event_index",
        event_index_schema(),
        inputs.event_index,
        partitions,
    )?;

    let mut tables = Vec::new();
    let mut event_index = None;
    let mut first_seen_rows = 0;
    let mut accepted_rows = 0;
    let last_readers = last_readers(models());
    for (position, model) in models().iter().enumerate() {
        let error = |source| EngineError::Model {
            model: model.name.clone(),
            source,
        };
        let frame = ctx.sql(model.sql).await.map_err(error)?;
        let schema: SchemaRef = frame.schema().inner().clone();
        let batches = frame.collect().await.map_err(error)?;
        let (schema, batches) = normalise(&model.name, &schema, batches)?;
        match model.name.as_str() {
            "transactions_first_seen" => first_seen_rows = rows(&batches),
            "transactions_accepted" => accepted_rows = rows(&batches),
            _ => {}
        }
        register(
            &ctx,
            &model.name,
            schema.clone(),
            batches.clone(),
            partitions,
        )?;
        // A table no later model reads is dropped now, so the batch's copies do not pile up
        // (outputs stay in `tables` until they are written).
        for input in &model.depends_on {
            if last_readers.get(input.as_str()) == Some(&position) {
                ctx.deregister_table(input.as_str())
                    .map_err(|source| EngineError::Register {
                        view: input.clone(),
                        source,
                    })?;
            }
        }
        match model.output.as_deref() {
            Some(EVENT_INDEX_OUTPUT) => {
                event_index = Some(Output {
                    table: EVENT_INDEX_OUTPUT.to_owned(),
                    schema,
                    batches,
                })
            }
            Some(table) => tables.push(Output {
                table: table.to_owned(),
                schema,
                batches,
            }),
            None => {}
        }
    }
    let event_index = event_index.unwrap_or_else(|| Output {
        table: EVENT_INDEX_OUTPUT.to_owned(),
        schema: event_index_schema(),
        batches: Vec::new(),
    });
    Ok(ModelRun {
        tables,
        event_index,
        silver_rows,
        first_seen_rows,
        accepted_rows,
        quarantine_rows,
    })
}
