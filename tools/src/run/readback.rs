//! Reading the lake back after the run: rows per silver entity, quarantine lines per reason,
//! and, from the provenance columns, which rows are duplicates and why: the same source
//! position written twice (a retry) or the same event_id at two positions (a producer).

use super::Resources;
use anyhow::{Context, Result};
use arrow::array::{Array, StringArray};
use aws_config::SdkConfig;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use shopstream::quarantine::from_jsonl;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LakeContents {
    pub silver_objects: u64,
    pub silver_rows: u64,
    pub silver_rows_by_entity: BTreeMap<String, u64>,
    /// Rows beyond the first of an event_id (per entity): `silver_rows -
    /// silver_distinct_event_ids`. Silver is at-least-once; gold keeps one row per event_id.
    pub silver_duplicate_event_ids: u64,
    pub silver_distinct_event_ids: u64,
    /// Distinct source positions (`_source`, `_position`) in silver: the records accepted.
    pub silver_distinct_positions: u64,
    /// Rows whose source position is already in another row: written twice by a retry.
    pub silver_retry_duplicates: u64,
    /// Distinct positions whose event_id another position already carries: a producer (or
    /// the generator) sent the record twice and the copies were not in one slice.
    pub silver_producer_duplicates: u64,
    /// Distinct positions in quarantine, and those not also in silver (records refused).
    pub quarantine_distinct_positions: u64,
    pub quarantine_only_positions: u64,
    /// Quarantine lines whose position is already in another line (a retry).
    pub quarantine_retry_duplicates: u64,
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

/// A record's place in the stream: `_source` and `_position`.
type Position = (String, String);

pub async fn read_lake(sdk: &SdkConfig, resources: &Resources) -> Result<LakeContents> {
    let s3 = shopstream::aws::s3_client(sdk);
    let mut lake = LakeContents::default();
    let mut event_ids: HashSet<(String, String)> = HashSet::new();
    let mut positions: HashMap<Position, (String, String)> = HashMap::new();
    let silver = list(&s3, &resources.bucket, "silver/").await?;
    let mut objects = fetch_all(&s3, &resources.bucket, silver);
    while let Some((key, size, bytes)) = objects.try_next().await? {
        let entity = key.split('/').nth(1).unwrap_or("unknown").to_owned();
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
        let columns =
            ["event_id", "_source", "_position"].map(|name| builder.schema().index_of(name));
        let [Ok(event_id), Ok(source), Ok(position)] = columns else {
            anyhow::bail!("{key} lacks event_id or the provenance columns");
        };
        let mask = ProjectionMask::roots(builder.parquet_schema(), [event_id, source, position]);
        for batch in builder.with_projection(mask).build()? {
            let batch = batch?;
            let text = |name: &str| -> Result<&StringArray> {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .with_context(|| format!("{key}: {name} is not a string column"))
            };
            let (ids, sources, offsets) = (text("event_id")?, text("_source")?, text("_position")?);
            for i in 0..ids.len() {
                let at = (sources.value(i).to_owned(), offsets.value(i).to_owned());
                let id = (entity.clone(), ids.value(i).to_owned());
                match positions.get(&at) {
                    Some(_) => lake.silver_retry_duplicates += 1,
                    None => {
                        if !event_ids.insert(id.clone()) {
                            lake.silver_producer_duplicates += 1;
                        }
                        positions.insert(at, id);
                    }
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
    lake.silver_distinct_positions = positions.len() as u64;
    lake.silver_distinct_event_ids = event_ids.len() as u64;
    lake.silver_duplicate_event_ids = lake.silver_rows - lake.silver_distinct_event_ids;
    let mut quarantined: HashSet<Position> = HashSet::new();
    let quarantine = list(&s3, &resources.bucket, "quarantine/").await?;
    let mut objects = fetch_all(&s3, &resources.bucket, quarantine);
    while let Some((key, _, bytes)) = objects.try_next().await? {
        let entries = from_jsonl(&bytes)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading {key}"))?;
        lake.quarantine_objects += 1;
        lake.quarantine_lines += entries.len() as u64;
        for entry in entries {
            let at = (entry.position.source(), entry.position.position_text());
            if !quarantined.insert(at.clone()) {
                lake.quarantine_retry_duplicates += 1;
                continue;
            }
            if !positions.contains_key(&at) {
                lake.quarantine_only_positions += 1;
            }
            for reason in entry.reasons {
                *lake
                    .quarantine_by_reason
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1;
            }
        }
    }
    lake.quarantine_distinct_positions = quarantined.len() as u64;
    Ok(lake)
}
