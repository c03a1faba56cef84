//! The fraud alerts that reached the bus: the `FraudSuspected` events its archive kept.

use super::Resources;
use anyhow::{Context, Result};
use aws_config::SdkConfig;

/// Events in the run's alert archive (the emulator archives an event while PutEvents runs, so
/// once stream-enrich has returned, everything it published is counted).
pub async fn archived(sdk: &SdkConfig, resources: &Resources) -> Result<u64> {
    let archive = aws_sdk_eventbridge::Client::new(sdk)
        .describe_archive()
        .archive_name(&resources.alert_archive)
        .send()
        .await
        .context("describing the fraud alert archive")?;
    Ok(archive.event_count().max(0) as u64)
}
