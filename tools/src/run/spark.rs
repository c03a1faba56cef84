//! `shopstream run --engine spark`: the transform stage on the EMR path. gold-transform plans
//! every batch and routes it to EMR (`MAX_BATCH_ROWS=0` here, so every batch is too large for
//! the Lambda); the real emr-launch handler launches each on its `TransformTooLarge` event
//! (RunJobFlow on moto, whose steps never run), and the run plays the EMR step: the batch's
//! plan, silver and quarantine inputs and the gold event index are copied from the lake into a
//! local directory, `jobs/spark/run_models.py` runs on local PySpark, and the gold files it
//! lists in its manifest are put back (the manifest last). Then emr-launch settles the batch on
//! the step's `EMR Step Status Change` event (`COMPLETED`): it checks the manifest and its
//! files, moves the ledger to `TRANSFORMED` and publishes `BatchTransformed`.

use super::batch::{context, env_for, GoldBatch};
use super::{Endpoints, Resources};
use anyhow::{bail, Context, Result};
use emr_launch::handler::Outcome as EmrOutcome;
use emr_launch::launch::{Clients, Launch};
use gold_transform::lake::Lake;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shopstream::ledger::Ledger;
use shopstream::manifest::Manifest;
use shopstream_emulators::PySpark;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

const STEP_COMPLETED: &str = include_str!("../../../events/emr-launch/step-status-completed.json");
/// How long one batch may take on local PySpark.
const SPARK_TIMEOUT: Duration = Duration::from_secs(3_600);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// emr-launch for the run's lake, in `cluster` mode (a transient cluster per batch).
pub(super) fn emr_launch_deps(
    endpoints: &Endpoints,
    resources: &Resources,
    ledger: Ledger,
) -> Result<emr_launch::handler::Deps> {
    let artifacts = format!("s3://{}/artifacts/jobs", resources.bucket);
    let env = env_for(
        resources,
        &endpoints.services,
        &[
            ("JOB_SCRIPT_URI", format!("{artifacts}/spark/run_models.py")),
            ("MODELS_URI", format!("{artifacts}/sql")),
            ("EMR_SERVICE_ROLE", "shopstream-local-emr-service".into()),
            ("EMR_JOB_FLOW_ROLE", "shopstream-local-emr-instance".into()),
        ],
    );
    Ok(emr_launch::handler::Deps {
        config: emr_launch::Config::from_env(&env)?,
        clients: Clients {
            emr: aws_sdk_emr::Client::new(&endpoints.services),
            serverless: aws_sdk_emrserverless::Client::new(&endpoints.services),
        },
        s3: shopstream::aws::s3_client(&endpoints.services),
        ledger,
        events: aws_sdk_eventbridge::Client::new(&endpoints.services),
    })
}

async fn invoke(deps: &emr_launch::handler::Deps, event: Value) -> Result<Vec<EmrOutcome>> {
    Ok(
        emr_launch::handler::handler(deps, LambdaEvent::new(event, context()))
            .await
            .context("emr-launch")?
            .outcomes,
    )
}

/// Runs the batch of `too_large` (a `TransformTooLarge` event from the bus) on the EMR path
/// over `lake` (the run's bucket); returns what gold holds for it.
pub(super) async fn transform_on_spark(
    lake: &Lake,
    deps: &emr_launch::handler::Deps,
    pyspark: &PySpark,
    too_large: Value,
) -> Result<GoldBatch> {
    let batch_id = too_large["detail"]["batch_id"]
        .as_str()
        .context("TransformTooLarge without a batch_id")?
        .to_owned();
    let launch = match &invoke(deps, too_large).await?[..] {
        [EmrOutcome::Launched { launch, .. } | EmrOutcome::Adopted { launch, .. }] => {
            launch.clone()
        }
        other => bail!("emr-launch did not launch {batch_id}: {other:?}"),
    };
    let Launch::Step {
        cluster_id,
        step_id,
    } = &launch
    else {
        bail!("emr-launch started {launch:?}, not a cluster step");
    };
    let manifest = run_step(lake, pyspark, &batch_id).await?;

    let mut completed: Value = serde_json::from_str(STEP_COMPLETED)?;
    completed["detail"]["clusterId"] = Value::from(cluster_id.as_str());
    completed["detail"]["stepId"] = Value::from(step_id.as_str());
    completed["detail"]["name"] = Value::from(format!("shopstream-gold-{batch_id}"));
    completed["time"] = Value::from(chrono::Utc::now().to_rfc3339());
    match &invoke(deps, completed).await?[..] {
        [EmrOutcome::Transformed { manifest_key, .. }] => {
            // emr-launch verified the manifest the step wrote: that one is what gold holds.
            Ok(GoldBatch {
                batch_id,
                manifest_key: manifest_key.clone(),
                silver_rows: manifest.counts.silver_rows,
                duplicates_dropped: manifest.duplicates_dropped(),
                bad_inputs: manifest.bad_inputs.len() as u64,
                table_rows: manifest
                    .tables
                    .iter()
                    .map(|(table, output)| (table.clone(), output.rows))
                    .collect(),
            })
        }
        other => bail!("emr-launch did not settle {batch_id} as transformed: {other:?}"),
    }
}

/// What the EMR step does, on this machine: the batch's inputs copied out of the lake,
/// run_models.py on local PySpark, its gold put back (the manifest last). Returns the
/// manifest.
async fn run_step(lake: &Lake, pyspark: &PySpark, batch_id: &str) -> Result<Manifest> {
    let local = tempfile::Builder::new()
        .prefix("shopstream-spark-")
        .tempdir()
        .context("a directory for the Spark step")?;
    let plan_key = format!("gold/_plans/{batch_id}.json");
    let plan_bytes = lake.get(&plan_key).await?;
    let plan: shopstream::ledger::Plan =
        serde_json::from_slice(&plan_bytes).with_context(|| format!("{plan_key} is not a plan"))?;
    write(local.path(), &plan_key, &plan_bytes)?;
    let mut keys: Vec<String> = plan.inputs.iter().map(|i| i.key.clone()).collect();
    keys.extend(
        lake.list("gold/_event_index/")
            .await?
            .into_iter()
            .map(|listed| listed.key),
    );
    for key in &keys {
        write(local.path(), key, &lake.get(key).await?)?;
    }
    let path = |p: PathBuf| p.into_os_string();
    let args: Vec<OsString> = vec![
        "--silver".into(),
        path(local.path().join("silver")),
        "--gold".into(),
        path(local.path().join("gold")),
        "--batch-id".into(),
        batch_id.into(),
        "--models".into(),
        path(repository().join("jobs/sql")),
        "--inputs".into(),
        path(local.path().join(&plan_key)),
        "--master".into(),
        "local[2]".into(),
        "--shuffle-partitions".into(),
        "2".into(),
    ];
    let script = repository().join("jobs/spark/run_models.py");
    let run = pyspark.run(&script, &args, SPARK_TIMEOUT)?;
    run.check()
        .with_context(|| format!("run_models.py for {batch_id}"))?;

    let manifest_key = shopstream::lake::manifest_key(batch_id);
    let manifest_bytes = std::fs::read(local.path().join(&manifest_key))
        .with_context(|| format!("run_models.py wrote no {manifest_key}"))?;
    let manifest = Manifest::from_json(&manifest_bytes)
        .with_context(|| format!("{manifest_key} from run_models.py"))?;
    let files = manifest
        .tables
        .values()
        .flat_map(|output| output.files.iter())
        .chain(manifest.event_index.iter());
    for file in files {
        let bytes = std::fs::read(local.path().join(&file.key))
            .with_context(|| format!("the manifest lists {}, which is not there", file.key))?;
        lake.put(&file.key, bytes).await?;
    }
    lake.put(&manifest_key, manifest_bytes).await?;
    Ok(manifest)
}

fn write(root: &Path, key: &str, bytes: &[u8]) -> Result<()> {
    let path = root.join(key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}
