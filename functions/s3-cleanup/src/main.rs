//! s3-cleanup bootstrap: configuration and the S3, DynamoDB and EventBridge clients once per
//! container.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use s3_cleanup::{handler, Config, Deps};
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
    let deps = Deps::new(
        config,
        s3_client(&sdk),
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_eventbridge::Client::new(&sdk),
    );
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(deps, event).await.map_err(Error::from)
    }))
    .await
}
