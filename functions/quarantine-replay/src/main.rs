//! quarantine-replay bootstrap: configuration, the S3, Kinesis and SQS clients and the replay
//! sink (Kinesis, or a Kafka connection) once per container.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use quarantine_replay::handler::replay_sinks;
use quarantine_replay::{handler, Config, Deps};
use serde_json::Value;
use shopstream::aws::{load_sdk_config, s3_client};
use shopstream::config::Env;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shopstream::logging::init_lambda_logs();
    let env = Env::from_process();
    let config = Config::from_env(&env)?;
    let sdk = load_sdk_config(&env).await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let sinks = replay_sinks(&config, &kinesis, Some(secrets)).await?;
    let deps = Deps::new(
        config,
        s3_client(&sdk),
        kinesis,
        aws_sdk_sqs::Client::new(&sdk),
        sinks,
    );
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(deps, event).await.map_err(Error::from)
    }))
    .await
}
