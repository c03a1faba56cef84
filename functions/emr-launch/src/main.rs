//! emr-launch bootstrap: configuration and the EMR, S3, DynamoDB and EventBridge clients once
//! per container.

use emr_launch::{handler, Clients, Config, Deps};
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
    let s3 = s3_client(&sdk);
    let ledger = Ledger::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        s3.clone(),
        config.batches_table.clone(),
        config.lake_bucket.clone(),
    );
    let deps = Deps {
        clients: Clients {
            emr: aws_sdk_emr::Client::new(&sdk),
            serverless: aws_sdk_emrserverless::Client::new(&sdk),
        },
        s3,
        ledger,
        events: aws_sdk_eventbridge::Client::new(&sdk),
        config,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(deps, event).await.map_err(Error::from)
    }))
    .await
}
