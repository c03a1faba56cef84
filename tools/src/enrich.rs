//! `shopstream enrich`: files of records (JSON lines, an Avro object container, or
//! Confluent-framed Avro) through stream-enrich's own steps (decode → validate → clean →
//! deduplicate → enrich → score → objects) into a lake, without a stream. Each run of
//! `slice_records` records is one Kinesis slice of a pseudo-shard, handed to the same
//! functions the handler calls, so the objects carry the keys, partitions, provenance and
//! quarantine entries the stream path writes for the same records.
//!
//! Each record becomes the payload a stream would carry: a JSON line as it is, a Confluent
//! frame as it is (magic byte, schema id, Avro body), an Avro container's record as JSON (its
//! fields converted as the decoder converts Avro, with `record_type` from the writer schema).

use crate::run::kinesis_record;
use crate::validate::InputFormat;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use gold_transform::lake::Lake;
use serde_json::{json, Value};
use shopstream::config::{CoreConfig, Env};
use std::path::PathBuf;
use stream_enrich::enrich::{enrich, Profiles};
use stream_enrich::objects::{encode_objects, plan};
use stream_enrich::pipeline::triage;
use stream_enrich::source::parse_event;

/// The pseudo-shard of the objects `shopstream enrich` writes (their range keys name it).
pub const FILE_SHARD: &str = "shardId-000000000000";
const FILE_STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/shopstream-files";
/// Kinesis-like sequence numbers: line `n` of the input has `FIRST_SEQUENCE + n`.
pub const FIRST_SEQUENCE: u128 = 49_600_000_000_000_000_000;

#[derive(Args)]
pub struct EnrichArgs {
    /// Files of records, as `shopstream generate` writes them in each format.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The files' format.
    #[arg(long, value_enum, default_value_t = InputFormat::Jsonl)]
    pub format: InputFormat,
    /// Lake root the silver and quarantine objects go under: a directory or s3://bucket[/prefix].
    #[arg(long)]
    pub lake: String,
    /// Lines per slice (a Kinesis batch of one shard): the unit the objects are cut by.
    #[arg(long, default_value_t = 10_000)]
    pub slice_records: usize,
    /// The records' arrival time, which validation judges timestamps against (default: now).
    #[arg(long)]
    pub arrival: Option<DateTime<Utc>>,
}

/// One object a slice produced.
#[derive(Debug, Clone)]
pub struct EnrichedObject {
    pub key: String,
    pub bytes: Vec<u8>,
    pub rows: usize,
    pub quarantine: bool,
}

/// The objects of one slice: `lines`, the records at sequence numbers
/// `FIRST_SEQUENCE + first_line ..`, arrived at `arrival`. No customer profiles are
/// available, so the enrichment is what the handler does for users without one.
pub fn enrich_slice(
    lines: &[&[u8]],
    first_line: u64,
    arrival: DateTime<Utc>,
    core: &CoreConfig,
) -> Result<Vec<EnrichedObject>> {
    let records: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let sequence = (FIRST_SEQUENCE + u128::from(first_line) + i as u128).to_string();
            kinesis_record(
                FILE_SHARD,
                FILE_STREAM_ARN,
                "file",
                &sequence,
                line,
                // Whole seconds: the Kinesis event's reader refuses some fractional values.
                arrival.timestamp() as f64,
            )
        })
        .collect();
    let batch = parse_event(json!({ "Records": records })).context("building the slice")?;
    let mut objects = Vec::new();
    for slice in &batch.slices {
        let triaged = triage(slice, core);
        let mut accepted = triaged.accepted;
        enrich(&mut accepted, &Profiles::default(), &core.fraud);
        let planned = plan(
            &slice.range,
            slice.first_arrival(),
            accepted,
            triaged.refused,
        );
        let encoded = encode_objects(planned, &slice.records, &slice.range, slice.first_arrival());
        for object in encoded.objects {
            objects.push(EnrichedObject {
                rows: object.object.indices.len(),
                quarantine: object.object.is_quarantine(),
                key: object.object.key,
                bytes: object.bytes,
            });
        }
    }
    Ok(objects)
}

/// Non-empty lines of a JSON-lines text.
pub fn lines_of(text: &[u8]) -> Vec<&[u8]> {
    text.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .collect()
}

/// The payloads of a file's records, in order, as a stream would carry them. A Confluent file
/// whose last frame is cut short keeps the rest as one payload (the decoder refuses it with
/// `DECODE_ERROR`), so no bytes vanish; an unreadable Avro block is an error naming its record.
pub fn payloads_of(bytes: &[u8], format: InputFormat) -> Result<Vec<Vec<u8>>> {
    match format {
        InputFormat::Jsonl => Ok(lines_of(bytes).into_iter().map(<[u8]>::to_vec).collect()),
        InputFormat::Confluent => {
            let mut payloads = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let frame = rest
                    .get(..4)
                    .map(|len| u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
                    .and_then(|len| rest.get(4..4 + len));
                match frame {
                    Some(frame) => {
                        rest = &rest[4 + frame.len()..];
                        payloads.push(frame.to_vec());
                    }
                    None => {
                        payloads.push(rest.to_vec());
                        break;
                    }
                }
            }
            Ok(payloads)
        }
        InputFormat::Avro => {
            let container =
                apache_avro::Reader::new(bytes).context("not an Avro object container file")?;
            let entity = crate::validate::container_entity(container.writer_schema());
            let mut payloads = Vec::new();
            for (index, value) in container.enumerate() {
                let value =
                    value.with_context(|| format!("record {index}: unreadable Avro block"))?;
                let mut json = shopstream::decode::avro::avro_to_json(value);
                if let Some(object) = json.as_object_mut() {
                    object.entry("record_type").or_insert_with(|| entity.into());
                }
                payloads.push(serde_json::to_vec(&json)?);
            }
            Ok(payloads)
        }
    }
}

/// Counts of one `shopstream enrich` run.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnrichCounts {
    pub records: u64,
    pub silver_rows: u64,
    pub quarantined: u64,
    pub objects: u64,
}

/// Enriches every file into `lake`; line numbers (and so sequence numbers) run on across
/// the files, so each file's objects have their own keys.
pub async fn run_enrich(args: EnrichArgs) -> Result<EnrichCounts> {
    anyhow::ensure!(args.slice_records > 0, "--slice-records must be at least 1");
    let env = Env::from_process();
    let core = CoreConfig::from_env(&env)?;
    let lake = Lake::open(&args.lake, &env)?;
    let arrival = args.arrival.unwrap_or_else(Utc::now);
    let mut counts = EnrichCounts::default();
    for input in &args.inputs {
        let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
        let payloads = payloads_of(&bytes, args.format)
            .with_context(|| format!("reading {}", input.display()))?;
        let records: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        for chunk in records.chunks(args.slice_records) {
            for object in enrich_slice(chunk, counts.records, arrival, &core)? {
                if object.quarantine {
                    counts.quarantined += object.rows as u64;
                } else {
                    counts.silver_rows += object.rows as u64;
                }
                counts.objects += 1;
                lake.put(&object.key, object.bytes).await?;
            }
            counts.records += chunk.len() as u64;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confluent_frames_are_split_by_their_length_and_a_cut_tail_is_kept() {
        let mut file = Vec::new();
        for frame in [&b"\0abc"[..], &b"\0de"[..]] {
            file.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            file.extend_from_slice(frame);
        }
        file.extend_from_slice(&[0, 0, 0, 9, 1, 2]);
        let payloads = payloads_of(&file, InputFormat::Confluent).unwrap();
        assert_eq!(
            payloads,
            vec![b"\0abc".to_vec(), b"\0de".to_vec(), vec![0, 0, 0, 9, 1, 2]]
        );
    }

    #[test]
    fn blank_lines_and_carriage_returns_are_not_records() {
        let text = b"{\"a\":1}\r\n\n  \n{\"b\":2}";
        assert_eq!(lines_of(text), vec![&b"{\"a\":1}"[..], &b"{\"b\":2}"[..]]);
    }

    #[test]
    fn every_line_ends_in_silver_or_quarantine() {
        let core = CoreConfig::from_env(&shopstream::config::Env::default()).unwrap();
        let arrival = Utc::now();
        let good = format!(
            "{{\"event_id\":\"e-1\",\"user_id\":\"u-1\",\"event_timestamp\":\"{}\",\"action_type\":\"purchase\",\"product_id\":7,\"quantity\":1,\"product_price\":10.0,\"shipping_address\":\"1 Main St, Lagos, Nigeria\"}}",
            (arrival - chrono::TimeDelta::minutes(5)).to_rfc3339()
        );
        let lines: Vec<&[u8]> = vec![good.as_bytes(), b"not json", good.as_bytes()];
        let objects = enrich_slice(&lines, 0, arrival, &core).unwrap();
        let silver: usize = objects
            .iter()
            .filter(|o| !o.quarantine)
            .map(|o| o.rows)
            .sum();
        let quarantined: usize = objects
            .iter()
            .filter(|o| o.quarantine)
            .map(|o| o.rows)
            .sum();
        assert_eq!((silver, quarantined), (1, 2), "{objects:?}");
        assert!(objects
            .iter()
            .all(|o| o.key.contains(&format!("{FILE_SHARD}-{FIRST_SEQUENCE}-"))));
    }
}
