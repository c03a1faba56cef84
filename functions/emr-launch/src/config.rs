//! Configuration, read once at cold start; every error names its variable.

use crate::cluster_spec::{
    BootstrapAction, ConfigurationSpec, InstanceFleet, InstanceGroup, Instances,
};
use serde::de::DeserializeOwned;
use shopstream::config::{ConfigError, Env};
use std::collections::BTreeMap;

pub const DEFAULT_RELEASE_LABEL: &str = "emr-7.9.0";
pub const DEFAULT_IDLE_TIMEOUT_SECONDS: i64 = 1800;
pub const DEFAULT_NAME_PREFIX: &str = "shopstream-gold";
/// EMR's bounds for an auto-termination idle timeout.
const IDLE_TIMEOUT_RANGE: std::ops::RangeInclusive<i64> = 60..=604_800;

/// Where a batch runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `EMR_MODE=cluster`: a transient cluster per batch (RunJobFlow), terminated after its step.
    NewCluster(ClusterConfig),
    /// `EMR_MODE=existing-cluster`: a step on a long-running cluster (AddJobFlowSteps).
    ExistingCluster { cluster_id: String },
    /// `EMR_MODE=serverless`: a job run on an EMR Serverless application (StartJobRun).
    Serverless(ServerlessConfig),
}

impl Target {
    pub fn mode(&self) -> &'static str {
        match self {
            Target::NewCluster(_) => "cluster",
            Target::ExistingCluster { .. } => "existing-cluster",
            Target::Serverless(_) => "serverless",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// `EMR_RELEASE_LABEL` (default `emr-7.9.0`, Spark 3.5).
    pub release_label: String,
    /// `EMR_SERVICE_ROLE`: the role EMR itself assumes.
    pub service_role: String,
    /// `EMR_JOB_FLOW_ROLE`: the EC2 instance profile of the cluster's nodes.
    pub job_flow_role: String,
    /// `EMR_LOG_URI`: where EMR writes the cluster's and steps' logs.
    pub log_uri: Option<String>,
    /// `EMR_SUBNET_IDS`: one subnet, or several with instance fleets (EMR picks one).
    pub subnet_ids: Vec<String>,
    /// `EMR_INSTANCE_GROUPS_JSON` or `EMR_INSTANCE_FLEETS_JSON`.
    pub instances: Instances,
    /// `EMR_BOOTSTRAP_ACTIONS_JSON`.
    pub bootstrap_actions: Vec<BootstrapAction>,
    /// `EMR_CONFIGURATIONS_JSON`: cluster-level classifications (the job sets its own SQL settings).
    pub configurations: Vec<ConfigurationSpec>,
    /// `EMR_IDLE_TIMEOUT_SECONDS`: the auto-termination policy's idle timeout.
    pub idle_timeout_seconds: i64,
    /// `EMR_TAGS_JSON`: extra tags on the cluster, as a JSON object.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerlessConfig {
    /// `EMR_SERVERLESS_APPLICATION_ID`.
    pub application_id: String,
    /// `EMR_SERVERLESS_EXECUTION_ROLE_ARN`: the role the job run assumes.
    pub execution_role_arn: String,
    /// `EMR_LOG_URI`: S3 monitoring location for the job run's logs.
    pub log_uri: Option<String>,
    /// `EMR_SERVERLESS_TIMEOUT_MINUTES` (default 720, EMR Serverless' own default).
    pub timeout_minutes: i64,
}

/// What the Spark step runs and with which arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConfig {
    /// `JOB_SCRIPT_URI`: `s3://.../run_models.py`.
    pub script_uri: String,
    /// `MODELS_URI`: `s3://.../jobs/sql/` (holding `models.json` and the `.sql` files).
    pub models_uri: String,
    /// `SPARK_SUBMIT_ARGS_JSON`: extra `spark-submit` arguments, a JSON array of strings.
    pub spark_submit_args: Vec<String>,
    /// `EMR_NAME_PREFIX` (default `shopstream-gold`): cluster, step and job-run names are
    /// `<prefix>-<batch_id>`, which is how a re-invocation finds what it already launched.
    pub name_prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `LAKE_BUCKET`: the lake (silver in, gold out).
    pub lake_bucket: String,
    /// `BATCHES_TABLE`: the batch ledger.
    pub batches_table: String,
    /// `EVENT_BUS_NAME`: where ledger events go.
    pub event_bus_name: String,
    pub target: Target,
    pub job: JobConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mode = env.optional("EMR_MODE").unwrap_or("cluster");
        let target = match mode {
            "cluster" => Target::NewCluster(ClusterConfig::from_env(env)?),
            "existing-cluster" => {
                let cluster_id = env.required("EMR_CLUSTER_ID")?;
                if !cluster_id.starts_with("j-") {
                    return Err(ConfigError::invalid(
                        "EMR_CLUSTER_ID",
                        cluster_id,
                        "expected a cluster id like j-2AXXXXXXGAPLF",
                    ));
                }
                Target::ExistingCluster {
                    cluster_id: cluster_id.to_owned(),
                }
            }
            "serverless" => Target::Serverless(ServerlessConfig::from_env(env)?),
            other => {
                return Err(ConfigError::invalid(
                    "EMR_MODE",
                    other,
                    "expected cluster, existing-cluster or serverless",
                ))
            }
        };
        Ok(Config {
            lake_bucket: env.required("LAKE_BUCKET")?.to_owned(),
            batches_table: env.required("BATCHES_TABLE")?.to_owned(),
            event_bus_name: env.required("EVENT_BUS_NAME")?.to_owned(),
            target,
            job: JobConfig::from_env(env)?,
        })
    }
}

impl JobConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let script_uri = s3_uri(env, "JOB_SCRIPT_URI")?.ok_or_else(|| missing("JOB_SCRIPT_URI"))?;
        if !script_uri.ends_with(".py") {
            return Err(ConfigError::invalid(
                "JOB_SCRIPT_URI",
                &script_uri,
                "expected the URI of run_models.py",
            ));
        }
        let models_uri = s3_uri(env, "MODELS_URI")?.ok_or_else(|| missing("MODELS_URI"))?;
        let name_prefix = env
            .optional("EMR_NAME_PREFIX")
            .unwrap_or(DEFAULT_NAME_PREFIX)
            .to_owned();
        if !name_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::invalid(
                "EMR_NAME_PREFIX",
                &name_prefix,
                "use letters, digits, - and _ only",
            ));
        }
        Ok(JobConfig {
            script_uri,
            models_uri: models_uri.trim_end_matches('/').to_owned(),
            spark_submit_args: json(env, "SPARK_SUBMIT_ARGS_JSON")?.unwrap_or_default(),
            name_prefix,
        })
    }
}

impl ClusterConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let release_label = env
            .optional("EMR_RELEASE_LABEL")
            .unwrap_or(DEFAULT_RELEASE_LABEL)
            .to_owned();
        if !release_label.starts_with("emr-") {
            return Err(ConfigError::invalid(
                "EMR_RELEASE_LABEL",
                &release_label,
                "expected a release label like emr-7.9.0",
            ));
        }
        let groups: Option<Vec<InstanceGroup>> = json(env, "EMR_INSTANCE_GROUPS_JSON")?;
        let fleets: Option<Vec<InstanceFleet>> = json(env, "EMR_INSTANCE_FLEETS_JSON")?;
        let (instances, variable) = match (groups, fleets) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "EMR_INSTANCE_FLEETS_JSON",
                    env.optional("EMR_INSTANCE_FLEETS_JSON").unwrap_or_default(),
                    "set EMR_INSTANCE_GROUPS_JSON or EMR_INSTANCE_FLEETS_JSON, not both",
                ))
            }
            (Some(groups), None) => (Instances::Groups(groups), "EMR_INSTANCE_GROUPS_JSON"),
            (None, Some(fleets)) => (Instances::Fleets(fleets), "EMR_INSTANCE_FLEETS_JSON"),
            (None, None) => (Instances::default_groups(), "EMR_INSTANCE_GROUPS_JSON"),
        };
        instances.validate().map_err(|problem| {
            ConfigError::invalid(
                variable,
                env.optional(variable).unwrap_or_default(),
                problem,
            )
        })?;
        let subnet_ids = env.list("EMR_SUBNET_IDS").unwrap_or_default();
        if subnet_ids.len() > 1 && !instances.is_fleets() {
            return Err(ConfigError::invalid(
                "EMR_SUBNET_IDS",
                env.optional("EMR_SUBNET_IDS").unwrap_or_default(),
                "several subnets need instance fleets (EMR_INSTANCE_FLEETS_JSON)",
            ));
        }
        if let Some(bad) = subnet_ids.iter().find(|s| !s.starts_with("subnet-")) {
            return Err(ConfigError::invalid(
                "EMR_SUBNET_IDS",
                bad,
                "expected subnet ids like subnet-0abc",
            ));
        }
        let bootstrap_actions: Vec<BootstrapAction> =
            json(env, "EMR_BOOTSTRAP_ACTIONS_JSON")?.unwrap_or_default();
        for action in &bootstrap_actions {
            action.validate().map_err(|problem| {
                ConfigError::invalid(
                    "EMR_BOOTSTRAP_ACTIONS_JSON",
                    env.optional("EMR_BOOTSTRAP_ACTIONS_JSON")
                        .unwrap_or_default(),
                    problem,
                )
            })?;
        }
        let idle_timeout_seconds =
            env.parse_or("EMR_IDLE_TIMEOUT_SECONDS", DEFAULT_IDLE_TIMEOUT_SECONDS)?;
        if !IDLE_TIMEOUT_RANGE.contains(&idle_timeout_seconds) {
            return Err(ConfigError::invalid(
                "EMR_IDLE_TIMEOUT_SECONDS",
                &idle_timeout_seconds.to_string(),
                "EMR accepts 60 to 604800 seconds",
            ));
        }
        Ok(ClusterConfig {
            release_label,
            service_role: env.required("EMR_SERVICE_ROLE")?.to_owned(),
            job_flow_role: env.required("EMR_JOB_FLOW_ROLE")?.to_owned(),
            log_uri: s3_uri(env, "EMR_LOG_URI")?,
            subnet_ids,
            instances,
            bootstrap_actions,
            configurations: json(env, "EMR_CONFIGURATIONS_JSON")?.unwrap_or_default(),
            idle_timeout_seconds,
            tags: json(env, "EMR_TAGS_JSON")?.unwrap_or_default(),
        })
    }
}

impl ServerlessConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let execution_role_arn = env.required("EMR_SERVERLESS_EXECUTION_ROLE_ARN")?;
        if !execution_role_arn.starts_with("arn:") {
            return Err(ConfigError::invalid(
                "EMR_SERVERLESS_EXECUTION_ROLE_ARN",
                execution_role_arn,
                "expected an IAM role ARN",
            ));
        }
        let timeout_minutes = env.parse_or("EMR_SERVERLESS_TIMEOUT_MINUTES", 720_i64)?;
        if timeout_minutes < 5 {
            return Err(ConfigError::invalid(
                "EMR_SERVERLESS_TIMEOUT_MINUTES",
                &timeout_minutes.to_string(),
                "EMR Serverless needs at least 5 minutes",
            ));
        }
        Ok(ServerlessConfig {
            application_id: env.required("EMR_SERVERLESS_APPLICATION_ID")?.to_owned(),
            execution_role_arn: execution_role_arn.to_owned(),
            log_uri: s3_uri(env, "EMR_LOG_URI")?,
            timeout_minutes,
        })
    }
}

fn missing(name: &str) -> ConfigError {
    ConfigError::Missing {
        name: name.to_owned(),
    }
}

fn s3_uri(env: &Env, name: &str) -> Result<Option<String>, ConfigError> {
    match env.optional(name) {
        None => Ok(None),
        Some(uri) => match uri.strip_prefix("s3://") {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(Some(uri.to_owned())),
            _ => Err(ConfigError::invalid(
                name,
                uri,
                "expected an s3://bucket/key URI",
            )),
        },
    }
}

fn json<T: DeserializeOwned>(env: &Env, name: &str) -> Result<Option<T>, ConfigError> {
    env.optional(name)
        .map(|text| serde_json::from_str(text).map_err(|e| ConfigError::invalid(name, text, e)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("LAKE_BUCKET", "lake"),
            ("BATCHES_TABLE", "batches"),
            ("EVENT_BUS_NAME", "shopstream"),
            (
                "JOB_SCRIPT_URI",
                "s3://lake/artifacts/jobs/spark/run_models.py",
            ),
            ("MODELS_URI", "s3://lake/artifacts/jobs/sql/"),
            ("EMR_SERVICE_ROLE", "shopstream-emr-service"),
            ("EMR_JOB_FLOW_ROLE", "shopstream-emr-instance"),
        ]
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = base();
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_give_a_transient_cluster() {
        let config = Config::from_env(&with(&[])).expect("valid");
        let Target::NewCluster(cluster) = &config.target else {
            panic!("default mode is cluster: {config:?}");
        };
        assert_eq!(cluster.release_label, DEFAULT_RELEASE_LABEL);
        assert_eq!(cluster.instances, Instances::default_groups());
        assert_eq!(cluster.idle_timeout_seconds, DEFAULT_IDLE_TIMEOUT_SECONDS);
        assert_eq!(config.job.models_uri, "s3://lake/artifacts/jobs/sql");
    }

    #[test]
    fn every_invalid_variable_is_named() {
        let cases: &[(&str, &str)] = &[
            ("EMR_MODE", "kubernetes"),
            ("EMR_RELEASE_LABEL", "7.9.0"),
            (
                "EMR_INSTANCE_GROUPS_JSON",
                "[{\"InstanceRole\":\"MASTER\"}]",
            ),
            (
                "EMR_INSTANCE_GROUPS_JSON",
                "[{\"InstanceRole\":\"CORE\",\"InstanceType\":\"m5.xlarge\",\"InstanceCount\":2}]",
            ),
            (
                "EMR_BOOTSTRAP_ACTIONS_JSON",
                "[{\"Name\":\"x\",\"Path\":\"http://example/x.sh\"}]",
            ),
            ("EMR_CONFIGURATIONS_JSON", "{\"Classification\":\"spark\"}"),
            ("EMR_IDLE_TIMEOUT_SECONDS", "30"),
            ("EMR_IDLE_TIMEOUT_SECONDS", "soon"),
            ("EMR_SUBNET_IDS", "subnet-a,subnet-b"),
            ("EMR_SUBNET_IDS", "sn-a"),
            ("EMR_LOG_URI", "/var/log"),
            ("EMR_TAGS_JSON", "[\"team\"]"),
            ("JOB_SCRIPT_URI", "s3://lake/artifacts/run_models.jar"),
            ("MODELS_URI", "jobs/sql"),
            ("SPARK_SUBMIT_ARGS_JSON", "--conf x=y"),
            ("EMR_NAME_PREFIX", "gold batch"),
        ];
        for (name, value) in cases {
            let mut pairs: Vec<(&str, &str)> =
                base().into_iter().filter(|(k, _)| k != name).collect();
            pairs.push((name, value));
            let err = Config::from_env(&Env::from_pairs(pairs))
                .expect_err(&format!("{name}={value} must be refused"));
            assert_eq!(err.variable(), *name, "{err}");
            assert!(err.to_string().contains(name), "{err}");
        }
        for required in [
            "LAKE_BUCKET",
            "BATCHES_TABLE",
            "EVENT_BUS_NAME",
            "JOB_SCRIPT_URI",
            "MODELS_URI",
            "EMR_SERVICE_ROLE",
            "EMR_JOB_FLOW_ROLE",
        ] {
            let pairs: Vec<(&str, &str)> =
                base().into_iter().filter(|(k, _)| *k != required).collect();
            let err = Config::from_env(&Env::from_pairs(pairs)).expect_err(required);
            assert_eq!(err.variable(), required, "{err}");
        }
    }

    #[test]
    fn groups_and_fleets_are_exclusive() {
        let err = Config::from_env(&with(&[
            (
                "EMR_INSTANCE_GROUPS_JSON",
                r#"[{"InstanceRole":"MASTER","InstanceType":"m5.xlarge","InstanceCount":1}]"#,
            ),
            (
                "EMR_INSTANCE_FLEETS_JSON",
                r#"[{"InstanceFleetType":"MASTER","TargetOnDemandCapacity":1,"InstanceTypeConfigs":[{"InstanceType":"m5.xlarge"}]}]"#,
            ),
        ]))
        .expect_err("both");
        assert_eq!(err.variable(), "EMR_INSTANCE_FLEETS_JSON");
    }

    #[test]
    fn other_modes_need_their_own_variables() {
        let err = Config::from_env(&with(&[("EMR_MODE", "existing-cluster")])).unwrap_err();
        assert_eq!(err.variable(), "EMR_CLUSTER_ID");
        let config = Config::from_env(&with(&[
            ("EMR_MODE", "existing-cluster"),
            ("EMR_CLUSTER_ID", "j-3ABCDEFGHIJKL"),
        ]))
        .expect("valid");
        assert_eq!(config.target.mode(), "existing-cluster");

        let err = Config::from_env(&with(&[("EMR_MODE", "serverless")])).unwrap_err();
        assert_eq!(err.variable(), "EMR_SERVERLESS_EXECUTION_ROLE_ARN");
        let err = Config::from_env(&with(&[
            ("EMR_MODE", "serverless"),
            (
                "EMR_SERVERLESS_EXECUTION_ROLE_ARN",
                "arn:aws:iam::123456789012:role/job",
            ),
        ]))
        .unwrap_err();
        assert_eq!(err.variable(), "EMR_SERVERLESS_APPLICATION_ID");
        let err = Config::from_env(&with(&[
            ("EMR_MODE", "serverless"),
            ("EMR_SERVERLESS_APPLICATION_ID", "00fabcdef"),
            (
                "EMR_SERVERLESS_EXECUTION_ROLE_ARN",
                "arn:aws:iam::123456789012:role/job",
            ),
            ("EMR_SERVERLESS_TIMEOUT_MINUTES", "2"),
        ]))
        .unwrap_err();
        assert_eq!(err.variable(), "EMR_SERVERLESS_TIMEOUT_MINUTES");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_json_variables_fail_with_their_name_and_never_panic(
            name in proptest::sample::select(vec![
                "EMR_INSTANCE_GROUPS_JSON",
                "EMR_INSTANCE_FLEETS_JSON",
                "EMR_BOOTSTRAP_ACTIONS_JSON",
                "EMR_CONFIGURATIONS_JSON",
                "EMR_TAGS_JSON",
                "SPARK_SUBMIT_ARGS_JSON",
            ]),
            value in "\\PC{1,40}",
        ) {
            let mut pairs: Vec<(&str, &str)> = base();
            pairs.push((name, value.as_str()));
            if let Err(err) = Config::from_env(&Env::from_pairs(pairs)) {
                proptest::prop_assert_eq!(err.variable(), name);
            }
        }
    }
}
