//! The warehouse stage of `shopstream run`: the real redshift-copy handler, its Data API
//! client pointed at [`RedshiftDataApi`] (the Data API on PostgreSQL, the translation the
//! warehouse tests use), one `Object Created` event per manifest; then every KPI view asked of
//! the warehouse and compared with the same KPI answered by DataFusion over gold.

use super::batch::{context, env_for, ledger, manifest_created, GoldStage};
use super::progress::StageProgress;
use super::{Endpoints, Resources};
use anyhow::{Context, Result};
use arrow::array::Array;
use arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use lambda_runtime::LambdaEvent;
use redshift_copy::data_api::{DataApi, STATEMENT_NAME_PREFIX};
use redshift_copy::{BatchOutcome, Config};
use serde::Serialize;
use serde_json::Value;
use shopstream_emulators::redshift_sql::to_postgres;
use shopstream_emulators::{PostgresServer, Psql, RedshiftDataApi};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The warehouse schema of a local run.
pub const SCHEMA: &str = "shopstream";
/// The status-change event the Data API sends when a statement ends.
const STATEMENT_FINISHED: &str =
    include_str!("../../../events/redshift-copy/statement-finished.json");
/// How long the run waits for one load to finish.
const LOAD_TIMEOUT: Duration = Duration::from_secs(3_600);

/// Where `shopstream run` loads gold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarehouseTarget {
    /// No warehouse stage.
    None,
    /// A PostgreSQL server started for the run, in a temporary directory.
    Local,
    /// An existing PostgreSQL database (a libpq URI); the run's tables go in a schema of
    /// their own, `shopstream_<run id>`.
    Existing(String),
}

impl std::str::FromStr for WarehouseTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "none" => Ok(WarehouseTarget::None),
            "local" => Ok(WarehouseTarget::Local),
            uri if uri.starts_with("postgres://") || uri.starts_with("postgresql://") => {
                Ok(WarehouseTarget::Existing(uri.to_owned()))
            }
            other => Err(format!("{other:?} is not none, local or a postgres:// URI")),
        }
    }
}

/// One KPI's answer, every cell as text in the conventions both engines share (`None` for
/// NULL, booleans `true` / `false`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct KpiAnswer {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A KPI as DataFusion and the warehouse answer it.
#[derive(Debug, Clone, Serialize)]
pub struct KpiComparison {
    pub name: String,
    pub rows: u64,
    pub identical: bool,
    /// The first row that differs (after sorting both answers), when they are not identical.
    pub difference: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WarehouseStage {
    /// `PostgreSQL <version> started for the run` or the URI without its password.
    pub target: String,
    pub schema: String,
    pub batches_loaded: u64,
    /// Batches whose load failed or was refused, with the error.
    pub batches_failed: BTreeMap<String, String>,
    /// Rows per warehouse table after every load (`SELECT count(*)`).
    pub table_rows: BTreeMap<String, u64>,
    /// Rows each load inserted, from the handler's audit query.
    pub inserted_rows: BTreeMap<String, u64>,
    /// Data API submissions (loads, audit queries).
    pub statements: u64,
    pub load_seconds: f64,
    pub kpis: Vec<KpiComparison>,
    pub kpi_seconds: f64,
}

/// Every KPI of `jobs/sql/kpi` with DataFusion, over a gold session
/// (`gold_transform::kpi::gold_session`).
pub async fn datafusion_kpis(ctx: &SessionContext) -> Result<Vec<KpiAnswer>> {
    let mut answers = Vec::new();
    for (name, _) in gold_transform::kpi::KPIS {
        let sql = gold_transform::kpi::kpi_sql(name)?;
        let frame = ctx.sql(sql).await.with_context(|| format!("KPI {name}"))?;
        let columns = frame
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut rows = Vec::new();
        for batch in frame
            .collect()
            .await
            .with_context(|| format!("KPI {name}"))?
        {
            for row in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|column| {
                            if column.is_null(row) {
                                Ok(None)
                            } else {
                                array_value_to_string(column, row).map(Some)
                            }
                        })
                        .collect::<Result<_, _>>()?,
                );
            }
        }
        answers.push(KpiAnswer {
            name: (*name).to_owned(),
            columns,
            rows,
        });
    }
    Ok(answers)
}

/// Loads every batch of `gold` with redshift-copy and compares the warehouse's KPI views with
/// `kpis` (DataFusion's answers).
pub async fn load_and_compare(
    endpoints: &Endpoints,
    resources: &Resources,
    target: &WarehouseTarget,
    gold: &GoldStage,
    kpis: &[KpiAnswer],
) -> Result<WarehouseStage> {
    let started = Instant::now();
    // Kept alive until the stage ends: dropping it stops the server.
    let mut _server = None;
    let (psql, schema, described) = match target {
        WarehouseTarget::None => anyhow::bail!("no warehouse to load"),
        WarehouseTarget::Local => {
            let server = PostgresServer::start()
                .await
                .context("starting PostgreSQL for the warehouse (scripts/install-emulators.sh postgres installs it)")?;
            let described = format!("PostgreSQL {} started for the run", server.version());
            let psql = server.client();
            _server = Some(server);
            (psql, SCHEMA.to_owned(), described)
        }
        WarehouseTarget::Existing(uri) => {
            let run_id = resources.bucket.trim_start_matches("shopstream-lake-");
            (
                Psql::for_uri(uri),
                format!("shopstream_{run_id}"),
                without_password(uri),
            )
        }
    };
    psql.execute(&to_postgres(&redshift_copy::warehouse::ddl(&schema)))
        .await
        .context("creating the warehouse tables and KPI views")?;
    let api = RedshiftDataApi::start(
        psql.clone(),
        shopstream::aws::s3_client(&endpoints.services),
    )
    .await?;
    let env = env_for(
        resources,
        &endpoints.services,
        &[
            ("REDSHIFT_WORKGROUP", "local".into()),
            ("REDSHIFT_SCHEMA", schema.clone()),
            (
                "REDSHIFT_COPY_ROLE_ARN",
                "arn:aws:iam::000000000000:role/local-copy".into(),
            ),
        ],
    );
    let config = Config::from_env(&env)?;
    let data_api_sdk = shopstream::aws::local_sdk_config(api.endpoint_url()).await;
    let deps = redshift_copy::Deps {
        s3: shopstream::aws::s3_client(&endpoints.services),
        ledger: ledger(endpoints, resources),
        events: aws_sdk_eventbridge::Client::new(&endpoints.services),
        data_api: DataApi {
            client: aws_sdk_redshiftdata::Client::new(&data_api_sdk),
            warehouse: config.warehouse.clone(),
            database: config.database.clone(),
        },
        config,
    };

    let mut stage = WarehouseStage {
        target: described,
        schema: schema.clone(),
        ..WarehouseStage::default()
    };
    let progress = StageProgress::new("redshift-copy", gold.batches.len() as u64, "batches");
    for batch in &gold.batches {
        progress.inc(1);
        let event = manifest_created(&resources.bucket, &batch.manifest_key)?;
        let mut outcome = invoke(&deps, event).await?;
        // A load still running when the handler's polling budget ended: the Data API's
        // status-change event settles it, as in AWS.
        while let BatchOutcome::Pending { statement_id, .. } = &outcome {
            api.wait(statement_id, LOAD_TIMEOUT).await;
            let event = statement_finished(&batch.batch_id, statement_id)?;
            outcome = invoke(&deps, event).await?;
        }
        match outcome {
            BatchOutcome::Loaded { table_rows, .. } => {
                stage.batches_loaded += 1;
                for (table, rows) in table_rows {
                    *stage.inserted_rows.entry(table).or_default() += rows;
                }
            }
            BatchOutcome::Failed { error, .. }
            | BatchOutcome::Refused { error }
            | BatchOutcome::Deferred { error } => {
                stage.batches_failed.insert(batch.batch_id.clone(), error);
            }
            BatchOutcome::Skipped { reason, .. } => {
                stage.batches_failed.insert(batch.batch_id.clone(), reason);
            }
            BatchOutcome::Pending { .. } => unreachable!("waited for above"),
        }
    }
    progress.finish();
    stage.statements = api.statements().len() as u64;
    for table in redshift_copy::warehouse::tables() {
        let rows = psql
            .query(&format!("SELECT count(*) FROM {schema}.{}", table.name))
            .await?;
        let count = rows
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|text| text.parse().ok())
            .unwrap_or_default();
        stage.table_rows.insert(table.name.to_owned(), count);
    }
    stage.load_seconds = started.elapsed().as_secs_f64();

    let comparing = Instant::now();
    for answer in kpis {
        let got = psql
            .query(&format!(
                "SELECT {} FROM {schema}.kpi_{}",
                answer.columns.join(", "),
                answer.name
            ))
            .await
            .with_context(|| format!("the warehouse's kpi_{}", answer.name))?;
        let warehouse: Vec<Vec<Option<String>>> = got
            .into_iter()
            .map(|row| row.into_iter().map(postgres_cell).collect())
            .collect();
        stage.kpis.push(compare(answer, warehouse));
    }
    stage.kpi_seconds = comparing.elapsed().as_secs_f64();
    Ok(stage)
}

async fn invoke(deps: &redshift_copy::Deps, event: Value) -> Result<BatchOutcome> {
    let report = redshift_copy::handler(deps, LambdaEvent::new(event, context()))
        .await
        .context("redshift-copy")?;
    report
        .batches
        .into_iter()
        .next()
        .map(|batch| batch.outcome)
        .context("redshift-copy reported no batch")
}

fn statement_finished(batch_id: &str, statement_id: &str) -> Result<Value> {
    let mut event: Value = serde_json::from_str(STATEMENT_FINISHED)?;
    event["detail"]["statementName"] = Value::from(format!("{STATEMENT_NAME_PREFIX}{batch_id}"));
    event["detail"]["statementId"] = Value::from(statement_id);
    event["time"] = Value::from(chrono::Utc::now().to_rfc3339());
    Ok(event)
}

/// PostgreSQL's text of a cell in the shared conventions (booleans `t` / `f` spelled out).
fn postgres_cell(cell: Option<String>) -> Option<String> {
    cell.map(|value| match value.as_str() {
        "t" => "true".to_owned(),
        "f" => "false".to_owned(),
        _ => value,
    })
}

/// The two answers as multisets of rows: the views' row order is not part of their contract
/// (a view's ORDER BY does not bind a SELECT from it).
fn compare(datafusion: &KpiAnswer, mut warehouse: Vec<Vec<Option<String>>>) -> KpiComparison {
    let mut ours = datafusion.rows.clone();
    ours.sort();
    warehouse.sort();
    let difference = if ours.len() != warehouse.len() {
        Some(format!(
            "{} rows from DataFusion, {} from the warehouse",
            ours.len(),
            warehouse.len()
        ))
    } else {
        ours.iter()
            .zip(&warehouse)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("DataFusion {a:?}, warehouse {b:?}"))
    };
    KpiComparison {
        name: datafusion.name.clone(),
        rows: ours.len() as u64,
        identical: difference.is_none(),
        difference,
    }
}

/// `uri` with any password replaced by `***`.
fn without_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    match rest.split_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(rows: &[&[&str]]) -> KpiAnswer {
        KpiAnswer {
            name: "k".into(),
            columns: vec!["a".into(), "b".into()],
            rows: rows
                .iter()
                .map(|row| row.iter().map(|c| Some((*c).to_owned())).collect())
                .collect(),
        }
    }

    #[test]
    fn answers_compare_as_multisets_of_rows() {
        let ours = answer(&[&["x", "1"], &["y", "2"]]);
        let same = answer(&[&["y", "2"], &["x", "1"]]).rows;
        assert!(compare(&ours, same).identical);
        let other = answer(&[&["y", "2"], &["x", "3"]]).rows;
        let compared = compare(&ours, other);
        assert!(!compared.identical);
        assert!(compared.difference.unwrap_or_default().contains("\"3\""));
        let shorter = answer(&[&["x", "1"]]).rows;
        assert!(!compare(&ours, shorter).identical);
    }

    #[test]
    fn postgres_booleans_read_as_the_shared_spelling() {
        assert_eq!(postgres_cell(Some("t".into())).as_deref(), Some("true"));
        assert_eq!(postgres_cell(Some("f".into())).as_deref(), Some("false"));
        assert_eq!(postgres_cell(None), None);
    }

    #[test]
    fn targets_parse_and_passwords_stay_out_of_the_summary() {
        assert_eq!("none".parse(), Ok(WarehouseTarget::None));
        assert_eq!("local".parse(), Ok(WarehouseTarget::Local));
        assert!("mysql://x".parse::<WarehouseTarget>().is_err());
        assert_eq!(
            without_password("postgres://me:secret@db:5432/w"),
            "postgres://me:***@db:5432/w"
        );
        assert_eq!(without_password("postgres://me@db/w"), "postgres://me@db/w");
    }
}
