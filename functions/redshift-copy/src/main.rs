//! redshift-copy bootstrap: configuration and the S3, DynamoDB, EventBridge and Redshift Data
//! API clients once per container.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use redshift_copy::data_api::DataApi;
use redshift_copy::{handler, Config, Deps};
use serde_json::Value;
use shopstream::aws::{load_sdk_config, s3_client};
use shopstream::config::Env;
use shopstream::ledger::Ledger;

// The same allocator as the other functions (README, "Release profile").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shopstream::logging::init_lambda_logs();
    let env = Env::from_process();
    let config = Config::from_env(&env)?;
    // The SDK's standard retry strategy (3 attempts, exponential backoff with jitter) covers
    // throttling and 5xx answers of every client.
    let sdk = load_sdk_config(&env).await;
    let s3 = s3_client(&sdk);
    let ledger = Ledger::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        s3.clone(),
        config.ledger_table.clone(),
        config.lake_bucket.clone(),
    );
    let data_api = DataApi {
        client: aws_sdk_redshiftdata::Client::new(&sdk),
        warehouse: config.warehouse.clone(),
        database: config.database.clone(),
    };
    let deps = Deps {
        s3,
        ledger,
        events: aws_sdk_eventbridge::Client::new(&sdk),
        data_api,
        config,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(deps, event).await.map_err(Error::from)
    }))
    .await
}
