//! How to reach the Kafka brokers, read from the environment (`KAFKA_*`); every error names
//! its variable. SASL credentials are never taken from the environment: only the ARN of the
//! Secrets Manager secret that holds them.

use crate::config::{ConfigError, Env};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

/// SASL: the mechanism, and the Secrets Manager secret holding `{"username", "password"}`
/// (read at cold start and again after an authentication failure; the credentials themselves
/// are never in the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSasl {
    pub mechanism: SaslMechanism,
    pub secret_arn: String,
}

/// Credentials read from the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SaslCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslCredentials")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaCompression {
    None,
    Snappy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    pub bootstrap_servers: Vec<String>,
    pub topic: String,
    pub client_id: String,
    /// TLS to the brokers (`SSL` / `SASL_SSL`).
    pub tls: bool,
    /// PEM bundle to trust instead of the system roots.
    pub tls_ca_file: Option<String>,
    pub sasl: Option<KafkaSasl>,
    pub compression: KafkaCompression,
    /// How long one request may keep retrying internally before its records count as failed.
    pub request_deadline: Duration,
}

impl KafkaConfig {
    /// `KAFKA_BOOTSTRAP_SERVERS` and `KAFKA_TOPIC` (required), `KAFKA_SECURITY_PROTOCOL`
    /// (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`), `KAFKA_SASL_MECHANISM`
    /// (`SCRAM-SHA-512` default, `SCRAM-SHA-256`, `PLAIN`) with `KAFKA_SASL_SECRET_ARN`,
    /// `KAFKA_TLS_CA_FILE`, `KAFKA_COMPRESSION` (`none`, `snappy`), `KAFKA_CLIENT_ID`
    /// (`default_client_id`), `KAFKA_REQUEST_TIMEOUT_MS` (5000).
    pub fn from_env(env: &Env, default_client_id: &str) -> Result<Self, ConfigError> {
        let bootstrap_servers = env
            .list("KAFKA_BOOTSTRAP_SERVERS")
            .filter(|servers| !servers.is_empty())
            .ok_or_else(|| ConfigError::Missing {
                name: "KAFKA_BOOTSTRAP_SERVERS".to_owned(),
            })?;
        let protocol = env
            .optional("KAFKA_SECURITY_PROTOCOL")
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase();
        let (tls, sasl_enabled) = match protocol.as_str() {
            "PLAINTEXT" => (false, false),
            "SSL" => (true, false),
            "SASL_PLAINTEXT" => (false, true),
            "SASL_SSL" => (true, true),
            other => {
                return Err(ConfigError::invalid(
                    "KAFKA_SECURITY_PROTOCOL",
                    other,
                    "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                ))
            }
        };
        let sasl = if sasl_enabled {
            Some(sasl_from_env(env)?)
        } else {
            None
        };
        let compression = match env
            .optional("KAFKA_COMPRESSION")
            .unwrap_or("none")
            .to_ascii_lowercase()
            .as_str()
        {
            "none" => KafkaCompression::None,
            "snappy" => KafkaCompression::Snappy,
            other => {
                return Err(ConfigError::invalid(
                    "KAFKA_COMPRESSION",
                    other,
                    "expected none or snappy",
                ))
            }
        };
        Ok(KafkaConfig {
            bootstrap_servers,
            topic: env.required("KAFKA_TOPIC")?.to_owned(),
            client_id: env
                .optional("KAFKA_CLIENT_ID")
                .unwrap_or(default_client_id)
                .to_owned(),
            tls,
            tls_ca_file: env.optional("KAFKA_TLS_CA_FILE").map(str::to_owned),
            sasl,
            compression,
            request_deadline: Duration::from_millis(
                env.parse_or("KAFKA_REQUEST_TIMEOUT_MS", 5_000u64)?,
            ),
        })
    }
}

fn sasl_from_env(env: &Env) -> Result<KafkaSasl, ConfigError> {
    let mechanism = match env
        .optional("KAFKA_SASL_MECHANISM")
        .unwrap_or("SCRAM-SHA-512")
        .to_ascii_uppercase()
        .as_str()
    {
        "PLAIN" => SaslMechanism::Plain,
        "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
        "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
        other => {
            return Err(ConfigError::invalid(
                "KAFKA_SASL_MECHANISM",
                other,
                "expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            ))
        }
    };
    for name in ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"] {
        if env.optional(name).is_some() {
            return Err(ConfigError::invalid(
                name,
                "<redacted>",
                "credentials are not read from the environment; put them in a Secrets Manager secret {\"username\",\"password\"} and set KAFKA_SASL_SECRET_ARN",
            ));
        }
    }
    Ok(KafkaSasl {
        mechanism,
        secret_arn: env.required("KAFKA_SASL_SECRET_ARN")?.to_owned(),
    })
}
