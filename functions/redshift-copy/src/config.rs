//! Configuration, read once at cold start; errors name their variable.
//!
//! The warehouse is either Redshift Serverless (`REDSHIFT_WORKGROUP`) or a provisioned cluster
//! (`REDSHIFT_CLUSTER_ID`), never both. Authentication is Secrets Manager when
//! `REDSHIFT_SECRET_ARN` is set, else temporary IAM credentials: on Serverless the database
//! user comes from the IAM identity (`redshift-serverless:GetCredentials`); on a cluster either
//! as `REDSHIFT_DB_USER` (`redshift:GetClusterCredentials`) or, without it, from the IAM
//! identity (`redshift:GetClusterCredentialsWithIAM`).

use crate::guard;
use shopstream::config::{ConfigError, Env};
use std::time::Duration;

pub const DEFAULT_DATABASE: &str = "dev";
pub const DEFAULT_SCHEMA: &str = "shopstream";
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 1_000;
pub const DEFAULT_POLL_BUDGET_SECONDS: u64 = 20;
pub const DEFAULT_DEADLINE_MARGIN_MS: u64 = 5_000;

/// Where the statements run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warehouse {
    Serverless {
        workgroup: String,
        auth: ServerlessAuth,
    },
    Provisioned {
        cluster_id: String,
        auth: ClusterAuth,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerlessAuth {
    /// Database user from the IAM identity (`redshift-serverless:GetCredentials`).
    Iam,
    /// Secrets Manager secret (name or ARN) with `username` and `password`.
    Secret(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterAuth {
    /// Temporary credentials for this database user (`redshift:GetClusterCredentials`).
    DbUser(String),
    /// Database user from the IAM identity (`redshift:GetClusterCredentialsWithIAM`).
    Iam,
    /// Secrets Manager secret (name or ARN).
    Secret(String),
}

/// How long the handler follows a statement before leaving it to the status-change event
/// and the retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// Pause between two DescribeStatement calls.
    pub interval: Duration,
    /// Longest time spent polling in one invocation.
    pub budget: Duration,
    /// Time kept free before the Lambda deadline (ledger write, event, logs).
    pub deadline_margin: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `LAKE_BUCKET`: bucket holding `gold/` and its manifests.
    pub lake_bucket: String,
    /// `LEDGER_TABLE`: the `batches` DynamoDB table.
    pub ledger_table: String,
    /// `EVENT_BUS_NAME`: bus for `BatchLoaded` / `BatchLoadFailed`.
    pub event_bus: String,
    /// `REDSHIFT_WORKGROUP` or `REDSHIFT_CLUSTER_ID` (+ auth variables).
    pub warehouse: Warehouse,
    /// `REDSHIFT_DATABASE` (default `dev`).
    pub database: String,
    /// `REDSHIFT_SCHEMA` (default `shopstream`): schema of the warehouse tables.
    pub schema: String,
    /// `REDSHIFT_COPY_ROLE_ARN`: role Redshift assumes to read the lake in COPY.
    pub copy_role_arn: String,
    /// `LAKE_REGION` (optional): COPY's `REGION` when the lake is in another region.
    pub lake_region: Option<String>,
    /// `POLL_INTERVAL_MS`, `POLL_BUDGET_SECONDS`, `DEADLINE_MARGIN_MS`.
    pub poll: PollPolicy,
}

fn guarded(
    name: &str,
    value: &str,
    check: impl Fn(&str) -> Result<String, guard::Refused>,
) -> Result<String, ConfigError> {
    check(value).map_err(|refused| ConfigError::invalid(name, value, refused.rule))
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let workgroup = env.optional("REDSHIFT_WORKGROUP");
        let cluster = env.optional("REDSHIFT_CLUSTER_ID");
        let secret = env.optional("REDSHIFT_SECRET_ARN").map(str::to_owned);
        let db_user = env.optional("REDSHIFT_DB_USER").map(str::to_owned);
        let warehouse = match (workgroup, cluster) {
            (Some(_), Some(cluster)) => {
                return Err(ConfigError::invalid(
                    "REDSHIFT_CLUSTER_ID",
                    cluster,
                    "set REDSHIFT_WORKGROUP (Serverless) or REDSHIFT_CLUSTER_ID (provisioned), not both",
                ))
            }
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "REDSHIFT_WORKGROUP".into(),
                })
            }
            (Some(workgroup), None) => {
                if let Some(user) = &db_user {
                    return Err(ConfigError::invalid(
                        "REDSHIFT_DB_USER",
                        user,
                        "Serverless derives the database user from the IAM identity or the secret",
                    ));
                }
                Warehouse::Serverless {
                    workgroup: workgroup.to_owned(),
                    auth: secret.map_or(ServerlessAuth::Iam, ServerlessAuth::Secret),
                }
            }
            (None, Some(cluster_id)) => Warehouse::Provisioned {
                cluster_id: cluster_id.to_owned(),
                auth: match (secret, db_user) {
                    (Some(_), Some(user)) => {
                        return Err(ConfigError::invalid(
                            "REDSHIFT_DB_USER",
                            &user,
                            "set REDSHIFT_SECRET_ARN or REDSHIFT_DB_USER, not both",
                        ))
                    }
                    (Some(secret), None) => ClusterAuth::Secret(secret),
                    (None, Some(user)) => ClusterAuth::DbUser(user),
                    (None, None) => ClusterAuth::Iam,
                },
            },
        };
        let millis = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            Ok(Duration::from_millis(env.parse_or(name, default)?))
        };
        let poll = PollPolicy {
            interval: millis("POLL_INTERVAL_MS", DEFAULT_POLL_INTERVAL_MS)?,
            budget: Duration::from_secs(
                env.parse_or("POLL_BUDGET_SECONDS", DEFAULT_POLL_BUDGET_SECONDS)?,
            ),
            deadline_margin: millis("DEADLINE_MARGIN_MS", DEFAULT_DEADLINE_MARGIN_MS)?,
        };
        if poll.interval.is_zero() {
            return Err(ConfigError::invalid(
                "POLL_INTERVAL_MS",
                "0",
                "must be at least 1",
            ));
        }
        let lake_bucket = env.required("LAKE_BUCKET")?;
        let schema = env.optional("REDSHIFT_SCHEMA").unwrap_or(DEFAULT_SCHEMA);
        let database = env
            .optional("REDSHIFT_DATABASE")
            .unwrap_or(DEFAULT_DATABASE);
        let copy_role = env.required("REDSHIFT_COPY_ROLE_ARN")?;
        Ok(Config {
            lake_bucket: guarded("LAKE_BUCKET", lake_bucket, guard::bucket)?,
            ledger_table: env.required("LEDGER_TABLE")?.to_owned(),
            event_bus: env.required("EVENT_BUS_NAME")?.to_owned(),
            warehouse,
            database: guarded("REDSHIFT_DATABASE", database, |v| {
                guard::identifier("database", v)
            })?,
            schema: guarded("REDSHIFT_SCHEMA", schema, |v| {
                guard::identifier("schema", v)
            })?,
            copy_role_arn: guarded("REDSHIFT_COPY_ROLE_ARN", copy_role, guard::iam_role_arn)?,
            lake_region: env
                .optional("LAKE_REGION")
                .map(|region| guarded("LAKE_REGION", region, guard::region))
                .transpose()?,
            poll,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/shopstream-redshift-copy";

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("LAKE_BUCKET", "lake"),
            ("LEDGER_TABLE", "batches"),
            ("EVENT_BUS_NAME", "shopstream"),
            ("REDSHIFT_COPY_ROLE_ARN", ROLE),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn serverless_with_iam_or_secret() {
        let config = Config::from_env(&env(&[("REDSHIFT_WORKGROUP", "analytics")])).expect("ok");
        assert_eq!(
            config.warehouse,
            Warehouse::Serverless {
                workgroup: "analytics".into(),
                auth: ServerlessAuth::Iam
            }
        );
        assert_eq!(config.database, "dev");
        assert_eq!(config.schema, "shopstream");
        assert_eq!(config.poll.budget, Duration::from_secs(20));
        let secret = Config::from_env(&env(&[
            ("REDSHIFT_WORKGROUP", "analytics"),
            (
                "REDSHIFT_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:x",
            ),
        ]))
        .expect("ok");
        assert!(matches!(
            secret.warehouse,
            Warehouse::Serverless {
                auth: ServerlessAuth::Secret(_),
                ..
            }
        ));
    }

    #[test]
    fn provisioned_with_db_user_iam_or_secret() {
        let user = Config::from_env(&env(&[
            ("REDSHIFT_CLUSTER_ID", "warehouse"),
            ("REDSHIFT_DB_USER", "loader"),
        ]))
        .expect("ok");
        assert_eq!(
            user.warehouse,
            Warehouse::Provisioned {
                cluster_id: "warehouse".into(),
                auth: ClusterAuth::DbUser("loader".into())
            }
        );
        let iam = Config::from_env(&env(&[("REDSHIFT_CLUSTER_ID", "warehouse")])).expect("ok");
        assert!(matches!(
            iam.warehouse,
            Warehouse::Provisioned {
                auth: ClusterAuth::Iam,
                ..
            }
        ));
    }

    #[test]
    fn errors_name_their_variable() {
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], "REDSHIFT_WORKGROUP"),
            (
                vec![("REDSHIFT_WORKGROUP", "a"), ("REDSHIFT_CLUSTER_ID", "b")],
                "REDSHIFT_CLUSTER_ID",
            ),
            (
                vec![("REDSHIFT_WORKGROUP", "a"), ("REDSHIFT_DB_USER", "u")],
                "REDSHIFT_DB_USER",
            ),
            (
                vec![
                    ("REDSHIFT_CLUSTER_ID", "a"),
                    ("REDSHIFT_DB_USER", "u"),
                    ("REDSHIFT_SECRET_ARN", "s"),
                ],
                "REDSHIFT_DB_USER",
            ),
            (
                vec![("REDSHIFT_WORKGROUP", "a"), ("REDSHIFT_SCHEMA", "x; drop")],
                "REDSHIFT_SCHEMA",
            ),
            (
                vec![("REDSHIFT_WORKGROUP", "a"), ("REDSHIFT_DATABASE", "Dev")],
                "REDSHIFT_DATABASE",
            ),
            (
                vec![("REDSHIFT_WORKGROUP", "a"), ("POLL_INTERVAL_MS", "0")],
                "POLL_INTERVAL_MS",
            ),
            (
                vec![("REDSHIFT_WORKGROUP", "a"), ("POLL_BUDGET_SECONDS", "soon")],
                "POLL_BUDGET_SECONDS",
            ),
            (
                vec![("REDSHIFT_WORKGROUP", "a"), ("LAKE_REGION", "eu west 1")],
                "LAKE_REGION",
            ),
        ];
        for (extra, variable) in cases {
            let error = Config::from_env(&env(&extra)).expect_err("invalid");
            assert_eq!(error.variable(), variable, "{extra:?}: {error}");
        }
        let bad_role = Env::from_pairs([
            ("LAKE_BUCKET", "lake"),
            ("LEDGER_TABLE", "batches"),
            ("EVENT_BUS_NAME", "bus"),
            ("REDSHIFT_WORKGROUP", "a"),
            (
                "REDSHIFT_COPY_ROLE_ARN",
                "arn:aws:iam::123456789012:role/x' --",
            ),
        ]);
        assert_eq!(
            Config::from_env(&bad_role).expect_err("quote").variable(),
            "REDSHIFT_COPY_ROLE_ARN"
        );
    }
}
