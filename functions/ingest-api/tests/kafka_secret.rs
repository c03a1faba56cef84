//! The Kafka SASL credentials live only in (moto's) Secrets Manager: the configuration names
//! the secret's ARN, and the client settings are read from the secret at start and again after
//! a rotation. (tansu accepts any password for SASL PLAIN, so the credentials a broker would
//! see are checked on the client settings built here.)

use ingest_api::config::{IngestConfig, SaslMechanism, SinkConfig};
use ingest_api::sink::kafka::{client_settings, KafkaSetupError};
use shopstream::config::Env;
use shopstream_emulators::MotoServer;

async fn kafka_config_naming(arn: &str) -> anyhow::Result<ingest_api::config::KafkaConfig> {
    let env = Env::from_pairs([
        ("EVENTS_SINK", "kafka"),
        ("ORDERS_SINK", "kafka"),
        ("KAFKA_BOOTSTRAP_SERVERS", "b-1.example:9096"),
        ("KAFKA_TOPIC", "events"),
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        ("KAFKA_SASL_SECRET_ARN", arn),
    ]);
    let config = IngestConfig::from_env(&env)?;
    let SinkConfig::Kafka(kafka) = config.events_sink else {
        anyhow::bail!("expected the kafka sink");
    };
    Ok(kafka)
}

#[tokio::test]
async fn credentials_come_from_secrets_manager_at_start_and_after_rotation() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let secrets = aws_sdk_secretsmanager::Client::new(&moto.sdk_config());
    let created = secrets
        .create_secret()
        .name("shopstream/kafka")
        .secret_string(r#"{"username":"ingest-api","password":"first-password"}"#)
        .send()
        .await?;
    let arn = created.arn().unwrap_or_default().to_owned();
    assert!(arn.starts_with("arn:aws:secretsmanager:"), "{arn}");

    let config = kafka_config_naming(&arn).await?;
    let rendered = format!("{config:?}");
    assert!(
        !rendered.contains("first-password"),
        "the configuration holds no credentials"
    );
    assert!(rendered.contains(&arn));

    let settings = client_settings(&config, Some(secrets.clone())).await?;
    let credentials = settings.credentials.clone().expect("SASL credentials");
    assert_eq!(credentials.username, "ingest-api");
    assert_eq!(credentials.password, "first-password");
    assert_eq!(credentials.mechanism, SaslMechanism::ScramSha512);
    assert!(
        !format!("{settings:?}").contains("first-password"),
        "never logged"
    );

    // Rotation: what an authentication failure makes the sink read again.
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"username":"ingest-api","password":"second-password"}"#)
        .send()
        .await?;
    let source = settings.source.expect("a secret source");
    let rotated = source.read().await?;
    assert_eq!(rotated.password, "second-password");
    assert_ne!(rotated, credentials);
    Ok(())
}

#[tokio::test]
async fn a_missing_or_malformed_secret_fails_the_start_naming_the_secret() -> anyhow::Result<()> {
    let moto = MotoServer::start().await?;
    let secrets = aws_sdk_secretsmanager::Client::new(&moto.sdk_config());
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf";
    let config = kafka_config_naming(missing).await?;
    let err = client_settings(&config, Some(secrets.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, KafkaSetupError::Secret(_)), "{err}");
    assert!(err.to_string().contains(missing), "{err}");

    let created = secrets
        .create_secret()
        .name("shopstream/kafka-bad")
        .secret_string("password=hunter2")
        .send()
        .await?;
    let config = kafka_config_naming(created.arn().unwrap_or_default()).await?;
    let err = client_settings(&config, Some(secrets)).await.unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");

    // SASL without a Secrets Manager client is a configuration error, not a silent no-auth.
    let err = client_settings(&config, None).await.unwrap_err();
    assert!(matches!(err, KafkaSetupError::NoSecretSource(_)), "{err}");
    Ok(())
}
