//! stream-enrich bootstrap: configuration and clients once per container, then the runtime.

// The runtime future nests the handler's deep async state machine (clippy's layout pass
// needs more than the default 128 levels).
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use shopstream::aws::{load_sdk_config_with_timeouts, s3_client};
use shopstream::config::Env;
use stream_enrich::alerts::FraudAlerter;
use stream_enrich::enrich::{DynamoProfiles, Enricher, ProfileCache};
use stream_enrich::velocity::VelocityStore;
use stream_enrich::writer::LakeWriter;
use stream_enrich::{handler, Config, Deps};

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
        writer: LakeWriter::new(s3_client(&sdk), config.lake_bucket.clone()),
        enricher: {
            let enricher = Enricher::new(
                ProfileCache::new(config.cache_capacity, config.cache_ttl),
                DynamoProfiles::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    config.profile_table.clone(),
                    config.profile_key.clone(),
                ),
            );
            match &config.velocity_table {
                Some(table) => enricher.with_velocity(VelocityStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    table.clone(),
                    config.velocity_bucket_seconds,
                )),
                None => enricher,
            }
        },
        alerter: FraudAlerter::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            config.event_bus.clone(),
            config.alert_source.clone(),
        ),
        config,
    };
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(deps, event).await.map_err(Error::from)
    }))
    .await
}
