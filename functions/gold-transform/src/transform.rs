//! One batch, plan to manifest: read the plan's inputs, refuse it when over the limits, run
//! the models, write the gold files and the event index, then the manifest, last. Shared by
//! the Lambda handler and `shopstream transform`.

use crate::engine::{run_models, EngineError, EngineInputs, EngineLimits};
use crate::inputs::{
    parquet_rows, read_event_index, read_parquet, read_quarantine, silver_schema, IndexError,
};
use crate::lake::{Lake, LakeError};
use crate::models::model_versions;
use crate::output::{event_index_files, table_files, OutputError};
use arrow::array::{Array, StringArray};
use bytes::Bytes;
use shopstream::lake::manifest_key;
use shopstream::ledger::{InputObject, Plan};
use shopstream::manifest::{BadInput, BatchCounts, Manifest, TableOutput, FORMAT_VERSION};
use std::collections::{BTreeMap, BTreeSet};

pub const ENGINE: &str = "datafusion";
pub const SILVER_TRANSACTIONS_PREFIX: &str = "silver/transaction/";
pub const QUARANTINE_PREFIXES: [&str; 2] = ["quarantine/transaction/", "quarantine/unknown/"];

#[derive(Debug, Clone, Copy)]
pub struct TransformLimits {
    /// `MAX_BATCH_ROWS`: silver rows (from the Parquet footers) one transform may take.
    pub max_rows: u64,
    /// `MAX_BATCH_BYTES`: input bytes (as listed) one transform may take.
    pub max_bytes: u64,
    /// `GOLD_PART_ROWS`: rows per gold Parquet part.
    pub part_rows: usize,
    pub engine: EngineLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// What a transform did.
#[derive(Debug, Clone)]
pub enum TransformOutcome {
    Transformed(Box<Manifest>),
    /// Over a limit: nothing was written.
    TooLarge {
        input_objects: u64,
        input_bytes: u64,
        /// Silver rows counted (0 when the byte limit refused it before reading).
        input_rows: u64,
    },
}

/// Where the transform is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Reading { done: usize, of: usize },
    Running,
    Writing { done: usize, of: usize },
    ManifestWritten,
}

fn is_silver(key: &str) -> bool {
    key.starts_with(SILVER_TRANSACTIONS_PREFIX) && key.ends_with(".parquet")
}

fn is_quarantine(key: &str) -> bool {
    QUARANTINE_PREFIXES.iter().any(|p| key.starts_with(p)) && key.ends_with(".jsonl")
}

/// The objects a batch may consume, from a listing of the lake: silver transaction Parquet
/// and transaction/unknown quarantine JSONL.
pub fn is_batch_input(key: &str) -> bool {
    is_silver(key) || is_quarantine(key)
}

/// Lists the candidate inputs of the next batch.
pub async fn list_candidates(lake: &Lake) -> Result<Vec<InputObject>, LakeError> {
    let mut candidates = Vec::new();
    for prefix in std::iter::once(SILVER_TRANSACTIONS_PREFIX).chain(QUARANTINE_PREFIXES) {
        for listed in lake.list(prefix).await? {
            if is_batch_input(&listed.key) {
                candidates.push(InputObject {
                    key: listed.key,
                    size_bytes: listed.size_bytes,
                    etag: listed.etag,
                });
            }
        }
    }
    Ok(candidates)
}

/// Reads an input; a missing object is a bad input, any other failure an error (retried by
/// the next invocation).
async fn fetch(lake: &Lake, key: &str) -> Result<Result<Bytes, String>, LakeError> {
    match lake.get(key).await {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(LakeError::Store {
            source: object_store::Error::NotFound { .. },
            ..
        }) => Ok(Err("object not found".into())),
        Err(e) => Err(e),
    }
}

fn dates_of(batches: &[arrow::array::RecordBatch]) -> BTreeSet<String> {
    let mut dates = BTreeSet::new();
    for batch in batches {
        if let Some(column) = batch
            .column_by_name("dt_date")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        {
            for i in 0..column.len() {
                if column.is_valid(i) {
                    dates.insert(column.value(i).to_owned());
                }
            }
        }
    }
    dates
}

/// Transforms `plan`: inputs from `source`, gold (and the event index of earlier batches)
/// in `gold`. Files first, the manifest last; a failure before it leaves no manifest.
pub async fn transform(
    source: &Lake,
    gold: &Lake,
    plan: &Plan,
    limits: &TransformLimits,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<TransformOutcome, TransformError> {
    let input_objects = plan.inputs.len() as u64;
    let input_bytes = plan.input_bytes();
    if input_bytes > limits.max_bytes {
        return Ok(TransformOutcome::TooLarge {
            input_objects,
            input_bytes,
            input_rows: 0,
        });
    }

    let mut fetched = Vec::with_capacity(plan.inputs.len());
    let mut bad_inputs = Vec::new();
    let mut input_rows = 0u64;
    for (done, input) in plan.inputs.iter().enumerate() {
        progress(Stage::Reading {
            done,
            of: plan.inputs.len(),
        });
        match fetch(source, &input.key).await? {
            Ok(bytes) => {
                if is_silver(&input.key) {
                    match parquet_rows(&bytes) {
                        Ok(rows) => input_rows += rows,
                        Err(error) => {
                            bad_inputs.push(BadInput {
                                key: input.key.clone(),
                                error,
                            });
                            continue;
                        }
                    }
                }
                fetched.push((input, bytes));
            }
            Err(error) => bad_inputs.push(BadInput {
                key: input.key.clone(),
                error,
            }),
        }
    }
    if input_rows > limits.max_rows {
        return Ok(TransformOutcome::TooLarge {
            input_objects,
            input_bytes,
            input_rows,
        });
    }

    let mut inputs = EngineInputs::default();
    let mut silver_inputs = Vec::new();
    let schema = silver_schema();
    for (input, bytes) in fetched {
        if is_silver(&input.key) {
            match read_parquet(bytes, &schema) {
                Ok(batches) => {
                    inputs.silver.extend(batches);
                    silver_inputs.push(input.clone());
                }
                Err(error) => bad_inputs.push(BadInput {
                    key: input.key.clone(),
                    error,
                }),
            }
        } else if is_quarantine(&input.key) {
            let (batch, bad_lines) = read_quarantine(&input.key, &bytes);
            inputs.quarantine.extend(batch);
            bad_inputs.extend(bad_lines);
            silver_inputs.push(input.clone());
        } else {
            bad_inputs.push(BadInput {
                key: input.key.clone(),
                error: "not a silver transaction or quarantine object".into(),
            });
        }
    }
    progress(Stage::Reading {
        done: plan.inputs.len(),
        of: plan.inputs.len(),
    });
    inputs.event_index = read_event_index(gold, &dates_of(&inputs.silver), &plan.batch_id).await?;

    progress(Stage::Running);
    let run = run_models(inputs, limits.engine).await?;

    let mut files = Vec::new();
    let mut tables = BTreeMap::new();
    for output in &run.tables {
        let encoded = table_files(output, &plan.batch_id, limits.part_rows)?;
        tables.insert(
            output.table.clone(),
            TableOutput {
                rows: output.rows(),
                files: encoded.iter().map(|f| f.describe()).collect(),
            },
        );
        files.extend(encoded);
    }
    let index_files = event_index_files(&run.event_index, &plan.batch_id)?;
    let event_index = index_files.iter().map(|f| f.describe()).collect();
    files.extend(index_files);

    let of = files.len();
    for (done, file) in files.into_iter().enumerate() {
        progress(Stage::Writing { done, of });
        gold.put(&file.key, file.bytes).await?;
    }
    progress(Stage::Writing { done: of, of });

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        batch_id: plan.batch_id.clone(),
        engine: ENGINE.into(),
        window: plan.window.clone(),
        tables,
        event_index,
        silver_inputs,
        bad_inputs,
        model_versions: model_versions(),
        counts: BatchCounts {
            silver_rows: run.silver_rows,
            quarantine_rows: run.quarantine_rows,
            duplicates_in_batch: run.silver_rows - run.first_seen_rows,
            duplicates_from_gold: run.first_seen_rows - run.accepted_rows,
        },
        checksum: String::new(),
    }
    .seal();
    gold.put(&manifest_key(&plan.batch_id), manifest.to_json())
        .await?;
    progress(Stage::ManifestWritten);
    Ok(TransformOutcome::Transformed(Box::new(manifest)))
}
