//! Creating the run's stream, tables, bucket, bus and alert archive on the emulator, and seeding
//! customer profiles from the generator's population.

use super::{Endpoints, Resources, RunOptions};
use crate::generate::{user_id, world::COUNTRY_PROFILES, GeneratorConfig};
use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, WriteRequest,
};
use aws_sdk_kinesis::types::StreamStatus;
use std::time::Duration;

pub async fn create(endpoints: &Endpoints, options: &RunOptions) -> Result<Resources> {
    let sdk = &endpoints.services;
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let resources = Resources {
        bucket: format!("shopstream-lake-{run_id}"),
        stream: format!("shopstream-events-{run_id}"),
        profile_table: format!("shopstream-profiles-{run_id}"),
        velocity_table: format!("shopstream-order-velocity-{run_id}"),
        bus: format!("shopstream-{run_id}"),
        alert_archive: format!("fraud-alerts-{run_id}"),
        alert_queue_url: None,
        batches_table: format!("shopstream-batches-{run_id}"),
        batch_event_queue_url: String::new(),
    };
    let s3 = shopstream::aws::s3_client(sdk);
    s3.create_bucket()
        .bucket(&resources.bucket)
        .send()
        .await
        .context("creating the lake bucket")?;

    let kinesis = aws_sdk_kinesis::Client::new(&endpoints.stream);
    kinesis
        .create_stream()
        .stream_name(&resources.stream)
        .shard_count(options.shards)
        .send()
        .await
        .context("creating the Kinesis stream")?;
    for _ in 0..100 {
        let described = kinesis
            .describe_stream_summary()
            .stream_name(&resources.stream)
            .send()
            .await?;
        if described
            .stream_description_summary()
            .map(|d| d.stream_status())
            == Some(&StreamStatus::Active)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let dynamodb = aws_sdk_dynamodb::Client::new(&endpoints.tables);
    dynamodb
        .create_table()
        .table_name(&resources.profile_table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("user_id")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("user_id")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .context("creating the profiles table")?;
    dynamodb
        .create_table()
        .table_name(&resources.velocity_table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(stream_enrich::velocity::KEY_ATTRIBUTE)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(stream_enrich::velocity::KEY_ATTRIBUTE)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .context("creating the order-velocity table")?;
    seed_profiles(
        &dynamodb,
        &resources.profile_table,
        &options.generator,
        options.profiles,
    )
    .await?;

    // The bus keeps its `FraudSuspected` events in an archive, as the deployed bus does; the
    // archive's event count is what reached the bus. (On moto an archive costs a fixed few
    // milliseconds an event, where an SQS target walks the whole queue for every message sent
    // or received: the old alert queue made its costs grow with the square of the alerts.)
    let mut resources = resources;
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let bus_arn = events
        .create_event_bus()
        .name(&resources.bus)
        .send()
        .await
        .context("creating the event bus")?
        .event_bus_arn
        .context("the new bus has no ARN")?;
    events
        .create_archive()
        .archive_name(&resources.alert_archive)
        .event_source_arn(bus_arn)
        .event_pattern(format!(
            r#"{{"detail-type":["{}"]}}"#,
            stream_enrich::alerts::DETAIL_TYPE
        ))
        .send()
        .await
        .context("creating the fraud alert archive")?;
    if options.live.is_some() {
        resources.alert_queue_url = Some(
            rule_to_queue(
                sdk,
                &resources.bus,
                &format!("fraud-alerts-{run_id}"),
                &format!(
                    r#"{{"detail-type":["{}"]}}"#,
                    stream_enrich::alerts::DETAIL_TYPE
                ),
            )
            .await?,
        );
    }
    shopstream::ledger::create_table(&dynamodb, &resources.batches_table)
        .await
        .context("creating the batches ledger")?;
    // The batch functions' events (BatchTransformed, BatchLoaded, BatchCleaned), delivered
    // to a queue as the templates' rules deliver them to the next function.
    resources.batch_event_queue_url = rule_to_queue(
        sdk,
        &resources.bus,
        &format!("batch-events-{run_id}"),
        &format!(r#"{{"source":["{}"]}}"#, shopstream::ledger::events::SOURCE),
    )
    .await?;
    Ok(resources)
}

/// Every event on the run's batch-event queue so far (each received once, then deleted).
pub async fn drain_batch_events(
    sdk: &aws_config::SdkConfig,
    resources: &Resources,
) -> Result<Vec<serde_json::Value>> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut events = Vec::new();
    loop {
        let answer = sqs
            .receive_message()
            .queue_url(&resources.batch_event_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .context("receiving batch events")?;
        if answer.messages().is_empty() {
            return Ok(events);
        }
        for message in answer.messages() {
            let body = message.body().unwrap_or_default();
            events.push(
                serde_json::from_str(body)
                    .with_context(|| format!("a batch event is not JSON: {body}"))?,
            );
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(&resources.batch_event_queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .context("deleting a batch event")?;
            }
        }
    }
}

/// A queue that a new rule on `bus` (matching `pattern`) delivers to; returns its URL. (A live
/// run's alert queue, and the batch-event queue: on moto a queue's cost grows with the
/// messages it has held, fine for the alerts of a minute, not for a million events.)
async fn rule_to_queue(
    sdk: &aws_config::SdkConfig,
    bus: &str,
    name: &str,
    pattern: &str,
) -> Result<String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .with_context(|| format!("creating the queue {name}"))?
        .queue_url
        .context("the new queue has no URL")?;
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("reading the ARN of {name}"))?
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .with_context(|| format!("{name} has no ARN"))?;
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let rule = format!("{name}-to-queue");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(bus)
        .event_pattern(pattern)
        .send()
        .await
        .with_context(|| format!("creating the rule {rule}"))?;
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("pointing {rule} at its queue"))?;
    Ok(queue_url)
}

/// Profiles of users 0..count: their home country (from the generator's population), a
/// segment, and an order history, 25 items per BatchWriteItem.
async fn seed_profiles(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    config: &GeneratorConfig,
    count: u64,
) -> Result<()> {
    let population = crate::generate::population(config);
    let segments = ["new", "regular", "loyal", "vip"];
    let mut requests = Vec::with_capacity(25);
    for index in 0..count.min(config.users) {
        let profile = population.profile(index);
        let country = shopstream::geo::find_country(COUNTRY_PROFILES[profile.country_index].iso2)
            .map(|c| c.name)
            .unwrap_or("Unknown");
        let item = [
            ("user_id", AttributeValue::S(user_id(index))),
            ("country", AttributeValue::S(country.to_owned())),
            (
                "segment",
                AttributeValue::S(segments[(index % 4) as usize].to_owned()),
            ),
            (
                "lifetime_orders",
                AttributeValue::N(((index * 7) % 40).to_string()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        requests.push(
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                .build(),
        );
        if requests.len() == 25 {
            write_batch(client, table, std::mem::take(&mut requests)).await?;
        }
    }
    if !requests.is_empty() {
        write_batch(client, table, requests).await?;
    }
    Ok(())
}

async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut requests: Vec<WriteRequest>,
) -> Result<()> {
    for _ in 0..10 {
        let output = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await?;
        requests = output
            .unprocessed_items()
            .and_then(|u| u.get(table))
            .cloned()
            .unwrap_or_default();
        if requests.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("profiles table kept returning unprocessed items")
}
