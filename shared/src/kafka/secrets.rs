//! The Kafka SASL credentials, read from AWS Secrets Manager by ARN: at cold start, and again
//! when the brokers refuse the ones in use (the secret was rotated). They are never in the
//! function's environment, its template or Terraform state, and never logged.
//!
//! The secret is the JSON object the Lambda Kafka event source mappings also read:
//! `{"username": "...", "password": "..."}`.

use super::config::{KafkaSasl, SaslCredentials};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("cannot read the Kafka secret {arn}: {message}")]
    Read { arn: String, message: String },
    /// The problem never quotes the secret's text.
    #[error("the Kafka secret {arn} is not {{\"username\", \"password\"}}: {problem}")]
    Format { arn: String, problem: String },
}

/// Where the credentials come from: a Secrets Manager client and the secret's ARN.
#[derive(Debug, Clone)]
pub struct SecretSource {
    client: aws_sdk_secretsmanager::Client,
    sasl: KafkaSasl,
}

#[derive(Deserialize)]
struct SecretDocument {
    username: String,
    password: String,
}

impl SecretSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, sasl: KafkaSasl) -> Self {
        SecretSource { client, sasl }
    }

    pub fn arn(&self) -> &str {
        &self.sasl.secret_arn
    }

    /// The current value of the secret.
    pub async fn read(&self) -> Result<SaslCredentials, SecretError> {
        let arn = &self.sasl.secret_arn;
        let output = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                arn: arn.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        let text = output.secret_string().ok_or_else(|| SecretError::Format {
            arn: arn.clone(),
            problem: "it has no SecretString".to_owned(),
        })?;
        parse(arn, text, &self.sasl)
    }
}

/// The credentials in a secret's text.
pub fn parse(arn: &str, text: &str, sasl: &KafkaSasl) -> Result<SaslCredentials, SecretError> {
    let document: SecretDocument = serde_json::from_str(text).map_err(|e| SecretError::Format {
        arn: arn.to_owned(),
        // serde's message names the missing field or the position, not the content.
        problem: format!(
            "{:?} at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })?;
    if document.username.is_empty() || document.password.is_empty() {
        return Err(SecretError::Format {
            arn: arn.to_owned(),
            problem: "username and password must not be empty".to_owned(),
        });
    }
    Ok(SaslCredentials {
        mechanism: sasl.mechanism,
        username: document.username,
        password: document.password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::config::SaslMechanism;

    fn sasl() -> KafkaSasl {
        KafkaSasl {
            mechanism: SaslMechanism::ScramSha512,
            secret_arn: "arn:s".into(),
        }
    }

    #[test]
    fn the_secret_document_gives_the_credentials() {
        let credentials =
            parse("arn:s", r#"{"username":"ingest","password":"pw"}"#, &sasl()).unwrap();
        assert_eq!(credentials.username, "ingest");
        assert_eq!(credentials.password, "pw");
        assert_eq!(credentials.mechanism, SaslMechanism::ScramSha512);
    }

    #[test]
    fn malformed_secrets_are_explained_without_their_content() {
        for text in [
            r#"{"username":"ingest"}"#,
            r#"{"username":"ingest","password":""}"#,
            "hunter2-not-json",
            r#"["hunter2"]"#,
        ] {
            let err = parse("arn:s", text, &sasl()).unwrap_err().to_string();
            assert!(err.contains("arn:s"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
