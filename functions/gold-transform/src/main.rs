//! gold-transform bootstrap: configuration and clients once per container.

use gold_transform::lake::Lake;
use gold_transform::{handler, Config, Deps};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use shopstream::aws::{load_sdk_config, s3_client};
use shopstream::config::Env;
use shopstream::ledger::Ledger;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shopstream::logging::init_lambda_logs();
    let env = Env::from_process();
    let config = Config::from_env(&env)?;
    let sdk = load_sdk_config(&env).await;
    let deps = Deps {
        ledger: Ledger::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            s3_client(&sdk),
            &config.batches_table,
            &config.lake_bucket,
        ),
        lake: Lake::s3(&config.lake_bucket, &env)?,
        events: aws_sdk_eventbridge::Client::new(&sdk),
        config,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(deps, event).await.map_err(Error::from)
    }))
    .await
}
