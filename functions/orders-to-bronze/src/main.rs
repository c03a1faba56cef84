//! orders-to-bronze bootstrap: configuration and the S3 client once per container.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use orders_to_bronze::{handler, Config, Deps};
use serde_json::Value;
use shopstream::aws::{load_sdk_config_with_timeouts, s3_client};
use shopstream::config::Env;

// A faster allocator than glibc's for many small strings (README, "Release profile").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shopstream::logging::init_lambda_logs();
    let env = Env::from_process();
    let config = Config::from_env(&env)?;
    let sdk = load_sdk_config_with_timeouts(&env, config.sdk_timeouts).await;
    let deps = Deps {
        s3: s3_client(&sdk),
        config,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(deps, event).await.map_err(Error::from)
    }))
    .await
}
