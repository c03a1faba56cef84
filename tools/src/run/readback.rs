//! Reading the lake back after the run: rows per silver entity (and whether any event_id
//! appears twice) and quarantine lines per reason.

use super::Resources;
use anyhow::{Context, Result};
use arrow::array::{Array, StringArray};
use aws_config::SdkConfig;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use shopstream::quarantine::from_jsonl;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LakeContents {
    pub silver_objects: u64,
    pub silver_rows: u64,
    pub silver_rows_by_entity: BTreeMap<String, u64>,
    /// event_ids found in more than one silver row. stream-enrich deduplicates within one
    /// batch slice (shard); a duplicate arriving in another batch or shard is resolved by the
    /// warehouse's MERGE on event_id.
    pub silver_duplicate_event_ids: u64,
    pub silver_bytes: u64,
    pub quarantine_objects: u64,
    pub quarantine_lines: u64,
    pub quarantine_by_reason: BTreeMap<String, u64>,
    /// Listing and reading every object back.
    pub seconds: f64,
}

async fn list(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<(String, i64)>> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for object in page?.contents() {
            if let Some(key) = object.key() {
                keys.push((key.to_owned(), object.size().unwrap_or(0)));
            }
        }
    }
    Ok(keys)
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<bytes::Bytes> {
    let object = s3.get_object().bucket(bucket).key(key).send().await?;
    Ok(object
        .body
        .collect()
        .await
        .with_context(|| format!("reading {key}"))?
        .into_bytes())
}

/// GetObject calls in flight while reading the lake back.
const READ_CONCURRENCY: usize = 4;

/// The bytes of `keys`, fetched `READ_CONCURRENCY` at a time, in order.
fn fetch_all<'a>(
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    keys: Vec<(String, i64)>,
) -> impl futures::Stream<Item = Result<(String, i64, bytes::Bytes)>> + 'a {
    futures::stream::iter(keys)
        .map(move |(key, size)| async move {
            let bytes = read(s3, bucket, &key).await?;
            Ok((key, size, bytes))
        })
        .buffered(READ_CONCURRENCY)
}

pub async fn read_lake(sdk: &SdkConfig, resources: &Resources) -> Result<LakeContents> {
    let s3 = shopstream::aws::s3_client(sdk);
    let mut lake = LakeContents::default();
    let mut seen = HashSet::new();
    let silver = list(&s3, &resources.bucket, "silver/").await?;
    let mut objects = fetch_all(&s3, &resources.bucket, silver);
    while let Some((key, size, bytes)) = objects.try_next().await? {
        let entity = key.split('/').nth(1).unwrap_or("unknown").to_owned();
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
        let event_id_column = builder
            .schema()
            .index_of("event_id")
            .with_context(|| format!("{key} has no event_id column"))?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [event_id_column]);
        for batch in builder.with_projection(mask).build()? {
            let batch = batch?;
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .context("event_id is a string column")?;
            for i in 0..ids.len() {
                if !seen.insert(format!("{entity}/{}", ids.value(i))) {
                    lake.silver_duplicate_event_ids += 1;
                }
            }
            lake.silver_rows += batch.num_rows() as u64;
            *lake
                .silver_rows_by_entity
                .entry(entity.clone())
                .or_default() += batch.num_rows() as u64;
        }
        lake.silver_objects += 1;
        lake.silver_bytes += size.max(0) as u64;
    }
    let quarantine = list(&s3, &resources.bucket, "quarantine/").await?;
    let mut objects = fetch_all(&s3, &resources.bucket, quarantine);
    while let Some((key, _, bytes)) = objects.try_next().await? {
        let entries = from_jsonl(&bytes)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading {key}"))?;
        lake.quarantine_objects += 1;
        lake.quarantine_lines += entries.len() as u64;
        for entry in entries {
            for reason in entry.reasons {
                *lake
                    .quarantine_by_reason
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1;
            }
        }
    }
    Ok(lake)
}
