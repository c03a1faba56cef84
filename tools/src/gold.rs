//! `shopstream transform` and `shopstream query`: the gold-transform engine and the KPI
//! queries on a local directory or S3, the same code the Lambda runs.

use anyhow::{Context, Result};
use arrow::array::{Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use clap::{Args, ValueEnum};
use gold_transform::engine::EngineLimits;
use gold_transform::lake::Lake;
use gold_transform::transform::{
    list_candidates, transform, Stage, TransformLimits, TransformOutcome,
};
use indicatif::{ProgressBar, ProgressStyle};
use shopstream::config::Env;
use shopstream::lake::MANIFESTS_PREFIX;
use shopstream::ledger::Plan;
use shopstream::manifest::Manifest;
use std::collections::BTreeSet;
use std::io::Write;

#[derive(Args)]
pub struct TransformArgs {
    /// Lake root holding silver/ and quarantine/: a directory or s3://bucket[/prefix].
    #[arg(long)]
    pub silver: String,
    /// Lake root gold/ is written under (may be the same as --silver).
    #[arg(long)]
    pub gold: String,
    /// Refuse a batch with more silver rows than this (the Lambda's MAX_BATCH_ROWS).
    #[arg(long, default_value_t = 50_000_000)]
    pub max_batch_rows: u64,
    /// Rows per gold Parquet part.
    #[arg(long, default_value_t = gold_transform::config::DEFAULT_GOLD_PART_ROWS)]
    pub part_rows: usize,
    /// DataFusion memory pool in MiB (spills to the temporary directory beyond it).
    #[arg(long)]
    pub memory_mib: Option<usize>,
    /// Only plan the batch: write its plan to `gold/_plans/<batch_id>.json` under --gold and
    /// print the plan's location, for `jobs/spark/run_models.py --inputs` (the EMR path).
    #[arg(long)]
    pub plan_only: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
}

#[derive(Args)]
pub struct QueryArgs {
    /// KPI name (a file of jobs/sql/kpi without .sql); `list` prints them.
    pub kpi: String,
    /// Lake root holding gold/: a directory or s3://bucket[/prefix].
    #[arg(long)]
    pub gold: String,
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

/// Inputs every manifest under `gold` already consumed.
async fn consumed(gold: &Lake) -> Result<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    for listed in gold.list(MANIFESTS_PREFIX).await? {
        let manifest = Manifest::from_json(&gold.get(&listed.key).await?)
            .with_context(|| format!("manifest {}", listed.key))?;
        keys.extend(manifest.silver_inputs.into_iter().map(|i| i.key));
        keys.extend(manifest.bad_inputs.into_iter().map(|b| b.key));
    }
    Ok(keys)
}

/// Transforms every silver/quarantine object no manifest in `--gold` lists, as one batch.
pub async fn run_transform(args: TransformArgs) -> Result<()> {
    let env = Env::from_process();
    let silver = Lake::open(&args.silver, &env)?;
    let gold = Lake::open(&args.gold, &env)?;
    let done = consumed(&gold).await?;
    let inputs: Vec<_> = list_candidates(&silver)
        .await?
        .into_iter()
        .filter(|input| !done.contains(&input.key))
        .collect();
    if inputs.is_empty() {
        eprintln!(
            "nothing to transform: every object under {} is in a batch of {}",
            silver.label(),
            gold.label()
        );
        return Ok(());
    }
    let plan = Plan::new(inputs);
    if args.plan_only {
        gold.put(&plan.key(), plan.to_json()).await?;
        println!("{}/{}", gold.label(), plan.key());
        return Ok(());
    }
    eprintln!(
        "batch {}: {} objects, {} bytes",
        plan.batch_id,
        plan.inputs.len(),
        plan.input_bytes()
    );
    let bar = ProgressBar::new(plan.inputs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:>10} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let limits = TransformLimits {
        max_rows: args.max_batch_rows,
        max_bytes: u64::MAX,
        part_rows: args.part_rows,
        engine: EngineLimits {
            memory_bytes: args.memory_mib.map(|mib| mib * 1024 * 1024),
            ..EngineLimits::default()
        },
    };
    let progress = |stage: Stage| match stage {
        Stage::Reading { done, of } => {
            bar.set_message("reading");
            bar.set_length(of as u64);
            bar.set_position(done as u64);
        }
        Stage::Running => {
            bar.set_message("models");
            bar.tick();
        }
        Stage::Writing { done, of } => {
            bar.set_message("writing");
            bar.set_length(of as u64);
            bar.set_position(done as u64);
        }
        Stage::ManifestWritten => bar.finish_and_clear(),
    };
    let outcome = transform(&silver, &gold, &plan, &limits, &progress).await?;
    bar.finish_and_clear();
    match outcome {
        TransformOutcome::TooLarge { input_rows, .. } => {
            anyhow::bail!(
                "batch has {input_rows} silver rows, over --max-batch-rows {}",
                args.max_batch_rows
            )
        }
        TransformOutcome::Transformed(manifest) => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<22} {:>12} {:>6} {:>14}",
                "table", "rows", "files", "bytes"
            )?;
            for (table, output) in &manifest.tables {
                let bytes: u64 = output.files.iter().map(|f| f.size_bytes).sum();
                writeln!(
                    out,
                    "{table:<22} {:>12} {:>6} {bytes:>14}",
                    output.rows,
                    output.files.len()
                )?;
            }
            let c = &manifest.counts;
            writeln!(
                out,
                "silver rows {}, quarantine rows {}, duplicates dropped {} in batch + {} already in gold, bad inputs {}",
                c.silver_rows,
                c.quarantine_rows,
                c.duplicates_in_batch,
                c.duplicates_from_gold,
                manifest.bad_inputs.len()
            )?;
            for bad in &manifest.bad_inputs {
                writeln!(out, "bad input {}: {}", bad.key, bad.error)?;
            }
            writeln!(
                out,
                "manifest {}/{}",
                gold.label(),
                shopstream::lake::manifest_key(&manifest.batch_id)
            )?;
        }
    }
    Ok(())
}

fn cell(formatter: &ArrayFormatter<'_>, row: usize) -> String {
    formatter.value(row).to_string()
}

fn print(schema: &SchemaRef, batches: &[RecordBatch], format: QueryFormat) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let options = FormatOptions::default().with_null("");
    match format {
        QueryFormat::Table => {
            writeln!(out, "{}", gold_transform::kpi::pretty(batches)?)?;
        }
        QueryFormat::Csv => {
            writeln!(out, "{}", names.join(","))?;
            for batch in batches {
                let formatters = batch
                    .columns()
                    .iter()
                    .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                    .collect::<Result<Vec<_>, _>>()?;
                for row in 0..batch.num_rows() {
                    let cells: Vec<String> = formatters
                        .iter()
                        .map(|f| {
                            let text = cell(f, row);
                            if text.contains([',', '"', '\n']) {
                                format!("\"{}\"", text.replace('"', "\"\""))
                            } else {
                                text
                            }
                        })
                        .collect();
                    writeln!(out, "{}", cells.join(","))?;
                }
            }
        }
        QueryFormat::Json => {
            for batch in batches {
                let formatters = batch
                    .columns()
                    .iter()
                    .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                    .collect::<Result<Vec<_>, _>>()?;
                for row in 0..batch.num_rows() {
                    let mut object = serde_json::Map::new();
                    for (name, (formatter, column)) in
                        names.iter().zip(formatters.iter().zip(batch.columns()))
                    {
                        let value = if column.is_null(row) {
                            serde_json::Value::Null
                        } else {
                            serde_json::Value::String(cell(formatter, row))
                        };
                        object.insert((*name).to_owned(), value);
                    }
                    writeln!(out, "{}", serde_json::Value::Object(object))?;
                }
            }
        }
    }
    Ok(())
}

/// Prints a KPI over the gold tables.
pub async fn run_query(args: QueryArgs) -> Result<()> {
    if args.kpi == "list" {
        for (name, _) in gold_transform::kpi::KPIS {
            println!("{name}");
        }
        return Ok(());
    }
    let gold = Lake::open(&args.gold, &Env::from_process())?;
    let (schema, batches) = gold_transform::kpi::run_kpi(&gold, &args.kpi).await?;
    print(&schema, &batches, args.format)
}
