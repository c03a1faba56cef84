//! Starting a batch's Spark job: the request for each target (pure builders, unit-tested) and
//! the calls that find what an earlier invocation already launched before launching anything.

use crate::config::{ClusterConfig, Config, JobConfig, ServerlessConfig, Target};
use aws_sdk_emr::types::{
    ActionOnFailure, Application, AutoTerminationPolicy, ClusterState, HadoopJarStepConfig,
    JobFlowInstancesConfig, StepConfig, StepState, Tag,
};
use aws_sdk_emrserverless::types::{
    ConfigurationOverrides, JobDriver, MonitoringConfiguration, S3MonitoringConfiguration,
    SparkSubmit,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use thiserror::Error;

/// The tag (on clusters and job runs) carrying the batch id.
pub const BATCH_TAG: &str = "shopstream:batch-id";
/// AWS's scoped EMR service policy (AmazonEMRServicePolicy_v2) acts only on resources with
/// this tag; without it the cluster cannot create its instances.
const MANAGED_POLICY_TAG: (&str, &str) = ("for-use-with-amazon-emr-managed-policies", "true");
const COMMAND_RUNNER: &str = "command-runner.jar";

/// What was launched for a batch; kept in the ledger with the `LAUNCHED` state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Launch {
    /// A step on an EMR cluster (a new one or a long-running one).
    Step { cluster_id: String, step_id: String },
    /// An EMR Serverless job run.
    JobRun {
        application_id: String,
        job_run_id: String,
    },
}

impl std::fmt::Display for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Launch::Step {
                cluster_id,
                step_id,
            } => write!(f, "step {step_id} on cluster {cluster_id}"),
            Launch::JobRun {
                application_id,
                job_run_id,
            } => write!(f, "job run {job_run_id} on application {application_id}"),
        }
    }
}

/// A launch call's result: what runs the batch, and whether this invocation started it or
/// found it already running (an earlier invocation died before writing the ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub launch: Launch,
    pub found_existing: bool,
}

#[derive(Debug, Error)]
pub enum LaunchError {
    #[error("EMR {operation}: {message}")]
    Emr {
        operation: &'static str,
        message: String,
    },
    #[error("EMR {operation} answered without {missing}")]
    Incomplete {
        operation: &'static str,
        missing: &'static str,
    },
}

fn emr_error<E>(operation: &'static str) -> impl FnOnce(E) -> LaunchError
where
    E: std::error::Error + 'static,
{
    move |error| LaunchError::Emr {
        operation,
        message: aws_sdk_emr::error::DisplayErrorContext(error).to_string(),
    }
}

/// The name of everything launched for a batch: `<prefix>-<batch_id>`.
pub fn launch_name(job: &JobConfig, batch_id: &str) -> String {
    format!("{}-{batch_id}", job.name_prefix)
}

/// The batch id a launch name carries, if it is one of ours.
pub fn batch_id_from_name<'a>(job: &JobConfig, name: &'a str) -> Option<&'a str> {
    name.strip_prefix(job.name_prefix.as_str())?
        .strip_prefix('-')
        .filter(|id| !id.is_empty())
}

/// `run_models.py`'s arguments for a batch.
pub fn job_arguments(config: &Config, batch_id: &str, inputs_uri: &str) -> Vec<String> {
    let lake = &config.lake_bucket;
    vec![
        "--silver".into(),
        format!("s3://{lake}/silver"),
        "--gold".into(),
        format!("s3://{lake}/gold"),
        "--batch-id".into(),
        batch_id.into(),
        "--models".into(),
        config.job.models_uri.clone(),
        "--inputs".into(),
        inputs_uri.into(),
    ]
}

/// The `command-runner.jar` arguments of the EMR step: `spark-submit` in cluster mode.
pub fn spark_submit_args(config: &Config, batch_id: &str, inputs_uri: &str) -> Vec<String> {
    let mut args = vec![
        "spark-submit".to_owned(),
        "--deploy-mode".to_owned(),
        "cluster".to_owned(),
    ];
    args.extend(config.job.spark_submit_args.iter().cloned());
    args.push(config.job.script_uri.clone());
    args.extend(job_arguments(config, batch_id, inputs_uri));
    args
}

/// The step. On a transient cluster a failure terminates the cluster; on a shared one it
/// leaves the cluster to its other work.
pub fn step_config(
    config: &Config,
    batch_id: &str,
    inputs_uri: &str,
    on_failure: ActionOnFailure,
) -> StepConfig {
    StepConfig::builder()
        .name(launch_name(&config.job, batch_id))
        .action_on_failure(on_failure)
        .hadoop_jar_step(
            HadoopJarStepConfig::builder()
                .jar(COMMAND_RUNNER)
                .set_args(Some(spark_submit_args(config, batch_id, inputs_uri)))
                .build(),
        )
        .build()
}

/// Tags of a batch's cluster or job run: the batch id, the managed-policy tag, the configured ones.
pub fn tags(cluster: Option<&ClusterConfig>, batch_id: &str) -> Vec<(String, String)> {
    let mut tags = vec![
        (BATCH_TAG.to_owned(), batch_id.to_owned()),
        (
            MANAGED_POLICY_TAG.0.to_owned(),
            MANAGED_POLICY_TAG.1.to_owned(),
        ),
    ];
    if let Some(cluster) = cluster {
        for (key, value) in &cluster.tags {
            if !tags.iter().any(|(k, _)| k == key) {
                tags.push((key.clone(), value.clone()));
            }
        }
    }
    tags
}

/// The instances block: groups or fleets, subnets, and no keeping the cluster alive.
pub fn instances_config(cluster: &ClusterConfig) -> JobFlowInstancesConfig {
    let mut builder = JobFlowInstancesConfig::builder()
        .keep_job_flow_alive_when_no_steps(false)
        .termination_protected(false);
    builder = match &cluster.instances {
        crate::cluster_spec::Instances::Groups(groups) => {
            builder.set_instance_groups(Some(groups.iter().map(|g| g.to_sdk()).collect()))
        }
        crate::cluster_spec::Instances::Fleets(fleets) => {
            builder.set_instance_fleets(Some(fleets.iter().map(|f| f.to_sdk()).collect()))
        }
    };
    match cluster.subnet_ids.as_slice() {
        [] => builder,
        [one] => builder.ec2_subnet_id(one),
        many => builder.set_ec2_subnet_ids(Some(many.to_vec())),
    }
    .build()
}

/// A transient cluster for one batch, running its step and terminating afterwards.
pub async fn run_job_flow(
    emr: &aws_sdk_emr::Client,
    config: &Config,
    cluster: &ClusterConfig,
    batch_id: &str,
    inputs_uri: &str,
    superseded: Option<&Launch>,
) -> Result<Started, LaunchError> {
    let name = launch_name(&config.job, batch_id);
    let superseded_cluster = match superseded {
        Some(Launch::Step { cluster_id, .. }) => Some(cluster_id.as_str()),
        _ => None,
    };
    if let Some(cluster_id) = active_cluster_named(emr, &name, superseded_cluster).await? {
        if let Some(step_id) = step_named(emr, &cluster_id, &name, None).await? {
            return Ok(Started {
                launch: Launch::Step {
                    cluster_id,
                    step_id,
                },
                found_existing: true,
            });
        }
    }
    let mut request = emr
        .run_job_flow()
        .name(&name)
        .release_label(&cluster.release_label)
        .service_role(&cluster.service_role)
        .job_flow_role(&cluster.job_flow_role)
        .set_log_uri(cluster.log_uri.clone())
        .instances(instances_config(cluster))
        .applications(Application::builder().name("Spark").build())
        .steps(step_config(
            config,
            batch_id,
            inputs_uri,
            ActionOnFailure::TerminateCluster,
        ))
        .auto_termination_policy(
            AutoTerminationPolicy::builder()
                .idle_timeout(cluster.idle_timeout_seconds)
                .build(),
        )
        .visible_to_all_users(true)
        .set_bootstrap_actions(Some(
            cluster
                .bootstrap_actions
                .iter()
                .map(|a| a.to_sdk())
                .collect(),
        ))
        .set_configurations(Some(
            cluster.configurations.iter().map(|c| c.to_sdk()).collect(),
        ));
    for (key, value) in tags(Some(cluster), batch_id) {
        request = request.tags(Tag::builder().key(key).value(value).build());
    }
    let output = request.send().await.map_err(emr_error("RunJobFlow"))?;
    let cluster_id = output
        .job_flow_id()
        .ok_or(LaunchError::Incomplete {
            operation: "RunJobFlow",
            missing: "a cluster id",
        })?
        .to_owned();
    let step_id =
        step_named(emr, &cluster_id, &name, None)
            .await?
            .ok_or(LaunchError::Incomplete {
                operation: "ListSteps",
                missing: "the step RunJobFlow was given",
            })?;
    Ok(Started {
        launch: Launch::Step {
            cluster_id,
            step_id,
        },
        found_existing: false,
    })
}

/// A step for the batch on a long-running cluster, unless one is already pending, running or done.
pub async fn add_job_flow_step(
    emr: &aws_sdk_emr::Client,
    config: &Config,
    cluster_id: &str,
    batch_id: &str,
    inputs_uri: &str,
    superseded: Option<&Launch>,
) -> Result<Started, LaunchError> {
    let name = launch_name(&config.job, batch_id);
    let superseded_step = match superseded {
        Some(Launch::Step { step_id, .. }) => Some(step_id.as_str()),
        _ => None,
    };
    if let Some(step_id) = step_named(emr, cluster_id, &name, superseded_step).await? {
        return Ok(Started {
            launch: Launch::Step {
                cluster_id: cluster_id.to_owned(),
                step_id,
            },
            found_existing: true,
        });
    }
    let output = emr
        .add_job_flow_steps()
        .job_flow_id(cluster_id)
        .steps(step_config(
            config,
            batch_id,
            inputs_uri,
            ActionOnFailure::Continue,
        ))
        .send()
        .await
        .map_err(emr_error("AddJobFlowSteps"))?;
    let step_id = output
        .step_ids()
        .first()
        .ok_or(LaunchError::Incomplete {
            operation: "AddJobFlowSteps",
            missing: "a step id",
        })?
        .clone();
    Ok(Started {
        launch: Launch::Step {
            cluster_id: cluster_id.to_owned(),
            step_id,
        },
        found_existing: false,
    })
}

/// The EMR Serverless job driver for a batch.
pub fn spark_submit_driver(
    config: &Config,
    batch_id: &str,
    inputs_uri: &str,
) -> Result<JobDriver, LaunchError> {
    let parameters = config.job.spark_submit_args.join(" ");
    let driver = SparkSubmit::builder()
        .entry_point(&config.job.script_uri)
        .set_entry_point_arguments(Some(job_arguments(config, batch_id, inputs_uri)))
        .set_spark_submit_parameters((!parameters.is_empty()).then_some(parameters))
        .build()
        .map_err(|e| LaunchError::Emr {
            operation: "StartJobRun",
            message: e.to_string(),
        })?;
    Ok(JobDriver::SparkSubmit(driver))
}

/// An EMR Serverless job run with client token = batch id: EMR Serverless itself answers a
/// repeated request with the same job run.
pub async fn start_job_run(
    serverless: &aws_sdk_emrserverless::Client,
    config: &Config,
    target: &ServerlessConfig,
    batch_id: &str,
    inputs_uri: &str,
) -> Result<Started, LaunchError> {
    let mut request = serverless
        .start_job_run()
        .application_id(&target.application_id)
        .client_token(batch_id)
        .execution_role_arn(&target.execution_role_arn)
        .name(launch_name(&config.job, batch_id))
        .job_driver(spark_submit_driver(config, batch_id, inputs_uri)?)
        .execution_timeout_minutes(target.timeout_minutes);
    if let Some(log_uri) = &target.log_uri {
        request = request.configuration_overrides(
            ConfigurationOverrides::builder()
                .monitoring_configuration(
                    MonitoringConfiguration::builder()
                        .s3_monitoring_configuration(
                            S3MonitoringConfiguration::builder()
                                .log_uri(log_uri)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        );
    }
    for (key, value) in tags(None, batch_id) {
        request = request.tags(key, value);
    }
    let output = request.send().await.map_err(|error| LaunchError::Emr {
        operation: "StartJobRun",
        message: aws_sdk_emrserverless::error::DisplayErrorContext(error).to_string(),
    })?;
    Ok(Started {
        launch: Launch::JobRun {
            application_id: output.application_id().to_owned(),
            job_run_id: output.job_run_id().to_owned(),
        },
        found_existing: false,
    })
}

/// Launches (or finds) the batch's job on the configured target. `superseded` is the launch
/// of a failed earlier attempt, which a retry must not adopt even if EMR still lists it.
pub async fn start(
    clients: &Clients,
    config: &Config,
    batch_id: &str,
    inputs_uri: &str,
    superseded: Option<&Launch>,
) -> Result<Started, LaunchError> {
    match &config.target {
        Target::NewCluster(cluster) => {
            run_job_flow(
                &clients.emr,
                config,
                cluster,
                batch_id,
                inputs_uri,
                superseded,
            )
            .await
        }
        Target::ExistingCluster { cluster_id } => {
            add_job_flow_step(
                &clients.emr,
                config,
                cluster_id,
                batch_id,
                inputs_uri,
                superseded,
            )
            .await
        }
        Target::Serverless(target) => {
            start_job_run(&clients.serverless, config, target, batch_id, inputs_uri).await
        }
    }
}

/// Stops a launch that lost the race to record itself in the ledger.
pub async fn cancel(
    clients: &Clients,
    config: &Config,
    launch: &Launch,
) -> Result<(), LaunchError> {
    match (launch, &config.target) {
        (Launch::Step { cluster_id, .. }, Target::NewCluster(_)) => {
            clients
                .emr
                .terminate_job_flows()
                .job_flow_ids(cluster_id)
                .send()
                .await
                .map_err(emr_error("TerminateJobFlows"))?;
        }
        (
            Launch::Step {
                cluster_id,
                step_id,
            },
            _,
        ) => {
            clients
                .emr
                .cancel_steps()
                .cluster_id(cluster_id)
                .step_ids(step_id)
                .send()
                .await
                .map_err(emr_error("CancelSteps"))?;
        }
        (
            Launch::JobRun {
                application_id,
                job_run_id,
            },
            _,
        ) => {
            clients
                .serverless
                .cancel_job_run()
                .application_id(application_id)
                .job_run_id(job_run_id)
                .send()
                .await
                .map_err(|error| LaunchError::Emr {
                    operation: "CancelJobRun",
                    message: aws_sdk_emrserverless::error::DisplayErrorContext(error).to_string(),
                })?;
        }
    }
    Ok(())
}

/// The SDK clients a launch needs.
#[derive(Debug, Clone)]
pub struct Clients {
    pub emr: aws_sdk_emr::Client,
    pub serverless: aws_sdk_emrserverless::Client,
}

/// A cluster named `name` that has not ended (an earlier invocation's), other than `skip`.
async fn active_cluster_named(
    emr: &aws_sdk_emr::Client,
    name: &str,
    skip: Option<&str>,
) -> Result<Option<String>, LaunchError> {
    let mut pages = emr
        .list_clusters()
        .cluster_states(ClusterState::Starting)
        .cluster_states(ClusterState::Bootstrapping)
        .cluster_states(ClusterState::Running)
        .cluster_states(ClusterState::Waiting)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(emr_error("ListClusters"))?;
        if let Some(id) = page
            .clusters()
            .iter()
            .find(|c| c.name() == Some(name) && c.id().is_some() && c.id() != skip)
            .and_then(|c| c.id())
        {
            return Ok(Some(id.to_owned()));
        }
    }
    Ok(None)
}

/// The newest step named `name` on the cluster that is pending, running or completed, other
/// than `skip`.
async fn step_named(
    emr: &aws_sdk_emr::Client,
    cluster_id: &str,
    name: &str,
    skip: Option<&str>,
) -> Result<Option<String>, LaunchError> {
    let mut pages = emr
        .list_steps()
        .cluster_id(cluster_id)
        .step_states(StepState::Pending)
        .step_states(StepState::Running)
        .step_states(StepState::Completed)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(emr_error("ListSteps"))?;
        if let Some(id) = page
            .steps()
            .iter()
            .find(|s| s.name() == Some(name) && s.id().is_some() && s.id() != skip)
            .and_then(|s| s.id())
        {
            return Ok(Some(id.to_owned()));
        }
    }
    Ok(None)
}

/// The tags as a map (for assertions and logs).
pub fn tag_map(tags: &[(String, String)]) -> HashMap<&str, &str> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopstream::config::Env;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            ("LAKE_BUCKET", "lake"),
            ("BATCHES_TABLE", "batches"),
            ("EVENT_BUS_NAME", "shopstream"),
            (
                "JOB_SCRIPT_URI",
                "s3://lake/artifacts/jobs/spark/run_models.py",
            ),
            ("MODELS_URI", "s3://lake/artifacts/jobs/sql"),
            ("EMR_SERVICE_ROLE", "svc"),
            ("EMR_JOB_FLOW_ROLE", "profile"),
        ];
        pairs.extend_from_slice(extra);
        Config::from_env(&Env::from_pairs(pairs)).expect("valid config")
    }

    #[test]
    fn the_step_runs_spark_submit_with_the_batch() {
        let config = config(&[(
            "SPARK_SUBMIT_ARGS_JSON",
            r#"["--conf","spark.executor.memory=8g"]"#,
        )]);
        let step = step_config(
            &config,
            "b-1",
            "s3://lake/gold/_inputs/b-1.json",
            ActionOnFailure::Continue,
        );
        assert_eq!(step.name(), Some("shopstream-gold-b-1"));
        let jar = step.hadoop_jar_step().expect("jar step");
        assert_eq!(jar.jar(), Some(COMMAND_RUNNER));
        assert_eq!(
            jar.args(),
            [
                "spark-submit",
                "--deploy-mode",
                "cluster",
                "--conf",
                "spark.executor.memory=8g",
                "s3://lake/artifacts/jobs/spark/run_models.py",
                "--silver",
                "s3://lake/silver",
                "--gold",
                "s3://lake/gold",
                "--batch-id",
                "b-1",
                "--models",
                "s3://lake/artifacts/jobs/sql",
                "--inputs",
                "s3://lake/gold/_inputs/b-1.json"
            ]
        );
    }

    #[test]
    fn names_round_trip_to_batch_ids() {
        let config = config(&[]);
        let name = launch_name(&config.job, "20261202T1700-abc");
        assert_eq!(
            batch_id_from_name(&config.job, &name),
            Some("20261202T1700-abc")
        );
        assert_eq!(batch_id_from_name(&config.job, "other-job"), None);
        assert_eq!(batch_id_from_name(&config.job, "shopstream-gold-"), None);
    }

    #[test]
    fn fleets_with_several_subnets_and_no_keep_alive() {
        let config = config(&[
            (
                "EMR_INSTANCE_FLEETS_JSON",
                r#"[{"InstanceFleetType":"MASTER","TargetOnDemandCapacity":1,"InstanceTypeConfigs":[{"InstanceType":"m5.xlarge"}]},
                    {"InstanceFleetType":"CORE","TargetSpotCapacity":8,"InstanceTypeConfigs":[{"InstanceType":"r5.2xlarge","WeightedCapacity":2},{"InstanceType":"r5.4xlarge","WeightedCapacity":4}]}]"#,
            ),
            ("EMR_SUBNET_IDS", "subnet-a,subnet-b"),
        ]);
        let Target::NewCluster(cluster) = &config.target else {
            panic!("cluster mode");
        };
        let instances = instances_config(cluster);
        assert_eq!(instances.keep_job_flow_alive_when_no_steps(), Some(false));
        assert_eq!(instances.ec2_subnet_ids(), ["subnet-a", "subnet-b"]);
        assert!(instances.instance_groups().is_empty());
        let core = &instances.instance_fleets()[1];
        assert_eq!(core.target_spot_capacity(), Some(8));
        assert_eq!(core.instance_type_configs().len(), 2);
    }

    #[test]
    fn tags_carry_the_batch_and_the_managed_policy_marker() {
        let config = config(&[(
            "EMR_TAGS_JSON",
            r#"{"team":"data","shopstream:batch-id":"spoofed"}"#,
        )]);
        let Target::NewCluster(cluster) = &config.target else {
            panic!("cluster mode");
        };
        let tags = tags(Some(cluster), "b-7");
        let map = tag_map(&tags);
        assert_eq!(map[BATCH_TAG], "b-7");
        assert_eq!(map["for-use-with-amazon-emr-managed-policies"], "true");
        assert_eq!(map["team"], "data");
        assert_eq!(tags.len(), 3);
    }

    #[test]
    fn serverless_driver_passes_the_same_job_arguments() {
        let config = config(&[(
            "SPARK_SUBMIT_ARGS_JSON",
            r#"["--conf","spark.executor.cores=4"]"#,
        )]);
        let JobDriver::SparkSubmit(driver) =
            spark_submit_driver(&config, "b-2", "s3://i").expect("driver")
        else {
            panic!("spark submit driver");
        };
        assert_eq!(
            driver.entry_point(),
            "s3://lake/artifacts/jobs/spark/run_models.py"
        );
        assert_eq!(
            driver.entry_point_arguments(),
            job_arguments(&config, "b-2", "s3://i")
        );
        assert_eq!(
            driver.spark_submit_parameters(),
            Some("--conf spark.executor.cores=4")
        );
    }

    proptest::proptest! {
        #[test]
        fn every_batch_id_round_trips_through_its_launch_name(id in "[A-Za-z0-9_-]{1,64}") {
            let config = config(&[]);
            let name = launch_name(&config.job, &id);
            proptest::prop_assert_eq!(batch_id_from_name(&config.job, &name), Some(id.as_str()));
        }

        #[test]
        fn names_of_other_jobs_never_yield_a_batch(name in "[a-z]{0,8}(-[a-z0-9]{0,8})?") {
            let config = config(&[]);
            proptest::prop_assume!(!name.starts_with("shopstream-gold-"));
            proptest::prop_assert_eq!(batch_id_from_name(&config.job, &name), None);
        }
    }
}
