//! Bootstrap only: read the configuration once, build the clients once, run the handler.

use anyhow::Context;
use ingest_api::config::IngestConfig;
use ingest_api::idempotency::IdempotencyStore;
use ingest_api::{handler, ApiEvent, Deps};
use lambda_runtime::{service_fn, LambdaEvent};
use shopstream::config::Env;

// A faster allocator than glibc's for many small strings (README, "Release profile").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shopstream::logging::init_lambda_logs();

    let env = Env::from_process();
    let config = IngestConfig::from_env(&env).context("invalid configuration")?;
    let sdk = shopstream::aws::load_sdk_config(&env).await;
    let (events_sink, orders_sink) = ingest_api::sink::for_routes(&config, &sdk)
        .await
        .context("building the sinks")?;
    let idempotency = config
        .idempotency
        .clone()
        .map(|c| IdempotencyStore::new(aws_sdk_dynamodb::Client::new(&sdk), c));
    let deps = Deps {
        config,
        events_sink,
        orders_sink,
        idempotency,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiEvent>| {
        handler(deps, event)
    }))
    .await
}
