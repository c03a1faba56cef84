//! `shopstream enrich`: files of records (JSON lines, an Avro object container, or
//! Confluent-framed Avro) through stream-enrich's own steps (decode → validate → clean →
//! deduplicate → enrich → score → objects) into a lake, without a stream. Each run of
//! `slice_records` records of a file is one slice whose source is the file, handed to the same
//! functions the handler calls, so the objects carry the partitions, schemas and quarantine
//! entries the stream path writes for the same records, with the file and the record's index
//! in it as their provenance.
//!
//! Each record becomes the payload a stream would carry: a JSON line as it is, a Confluent
//! frame as it is (magic byte, schema id, Avro body), an Avro container's record as JSON (its
//! fields converted as the decoder converts Avro, with `record_type` from the writer schema).

use crate::validate::InputFormat;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use gold_transform::lake::Lake;
use shopstream::config::{CoreConfig, Env};
use std::path::{Path, PathBuf};
use stream_enrich::enrich::{enrich, Profiles};
use stream_enrich::objects::{encode_objects, plan};
use stream_enrich::pipeline::triage;
use stream_enrich::source::file_slice;

/// Hex digits of the file's SHA-256 that name it in object keys.
const DIGEST_HEX_DIGITS: usize = 16;

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
    /// Records per slice: the unit the objects are cut by (a stream batch of one shard).
    #[arg(long, default_value_t = 10_000)]
    pub slice_records: usize,
    /// The records' arrival time, which validation judges timestamps against (default: now).
    #[arg(long)]
    pub arrival: Option<DateTime<Utc>>,
}

/// An input file as the lake names it: its file name (the rows' `_source`) and the first hex
/// digits of its SHA-256 (in the object keys, so a different file of the same name never
/// overwrites this one's objects, and the same file enriched again rewrites its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub name: String,
    pub digest: String,
}

impl InputFile {
    pub fn new(path: &Path, contents: &[u8]) -> Self {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let mut digest = shopstream::ledger::sha256_hex(contents);
        digest.truncate(DIGEST_HEX_DIGITS);
        InputFile { name, digest }
    }
}

/// One object a slice produced.
#[derive(Debug, Clone)]
pub struct EnrichedObject {
    pub key: String,
    pub bytes: Vec<u8>,
    pub rows: usize,
    pub quarantine: bool,
}

/// The objects of one slice: `records`, the payloads at indices `first_index..` of `file`,
/// arrived at `arrival`. No customer profiles are available, so the enrichment is what the
/// handler does for users without one.
pub fn enrich_slice(
    file: &InputFile,
    first_index: u64,
    records: &[&[u8]],
    arrival: DateTime<Utc>,
    core: &CoreConfig,
) -> Vec<EnrichedObject> {
    let Some(slice) = file_slice(&file.name, &file.digest, first_index, records, arrival) else {
        return Vec::new();
    };
    let triaged = triage(&slice, core);
    let mut accepted = triaged.accepted;
    enrich(&mut accepted, &Profiles::default(), &core.fraud);
    let planned = plan(&slice.range, arrival, accepted, triaged.refused);
    encode_objects(planned, &slice.records, &slice.range, arrival)
        .objects
        .into_iter()
        .map(|object| EnrichedObject {
            rows: object.object.indices.len(),
            quarantine: object.object.is_quarantine(),
            key: object.object.key,
            bytes: object.bytes,
        })
        .collect()
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

/// Enriches every file into `lake`; each file's records are indexed from 0 in file order.
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
        let file = InputFile::new(input, &bytes);
        let records: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        for (chunk_index, chunk) in records.chunks(args.slice_records).enumerate() {
            let first_index = (chunk_index * args.slice_records) as u64;
            for object in enrich_slice(&file, first_index, chunk, arrival, &core) {
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

    fn text_column(bytes: &[u8], name: &str) -> Vec<String> {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::copy_from_slice(bytes),
        )
        .unwrap()
        .build()
        .unwrap();
        let mut values = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch.column_by_name(name).unwrap();
            for row in 0..batch.num_rows() {
                values.push(arrow::util::display::array_value_to_string(column, row).unwrap());
            }
        }
        values
    }

    #[test]
    fn every_record_ends_in_silver_or_quarantine_with_the_file_as_its_provenance() {
        use shopstream::quarantine::{QuarantineEntry, RecordPosition};
        use shopstream::reason::RejectReason;

        let core = CoreConfig::from_env(&shopstream::config::Env::default()).unwrap();
        let arrival = Utc::now();
        let good = format!(
            "{{\"event_id\":\"e-1\",\"user_id\":\"u-1\",\"event_timestamp\":\"{}\",\"action_type\":\"purchase\",\"product_id\":7,\"quantity\":1,\"product_price\":10.0,\"shipping_address\":\"1 Main St, Lagos, Nigeria\"}}",
            (arrival - chrono::TimeDelta::minutes(5)).to_rfc3339()
        );
        let lines: Vec<&[u8]> = vec![good.as_bytes(), b"not json", good.as_bytes()];
        let file = InputFile::new(Path::new("/data/traffic.jsonl"), b"the file's bytes");
        assert_eq!(file.name, "traffic.jsonl");
        assert_eq!(file.digest.len(), DIGEST_HEX_DIGITS);
        let objects = enrich_slice(&file, 0, &lines, arrival, &core);
        let stem = format!("file-traffic.jsonl-{}-0-2", file.digest);
        assert!(objects.iter().all(|o| o.key.contains(&stem)), "{objects:?}");

        let silver: Vec<&EnrichedObject> = objects.iter().filter(|o| !o.quarantine).collect();
        assert_eq!(silver.len(), 1, "{objects:?}");
        assert_eq!(text_column(&silver[0].bytes, "_source"), ["traffic.jsonl"]);
        assert_eq!(text_column(&silver[0].bytes, "_position"), ["0"]);

        let mut quarantined = Vec::new();
        for object in objects.iter().filter(|o| o.quarantine) {
            for line in lines_of(&object.bytes) {
                let entry: QuarantineEntry = serde_json::from_slice(line).unwrap();
                let RecordPosition::File { path, index } = entry.position else {
                    panic!("not a file position: {:?}", entry.position);
                };
                assert_eq!(path, "traffic.jsonl");
                quarantined.push((index, entry.reasons));
            }
        }
        quarantined.sort_by_key(|(index, _)| *index);
        assert_eq!(quarantined.len(), 2, "{quarantined:?}");
        assert_eq!(quarantined[0].0, 1);
        assert!(quarantined[0].1.contains(&RejectReason::DecodeError));
        assert_eq!(
            quarantined[1].0, 2,
            "the second copy of e-1 is the duplicate"
        );
    }

    #[test]
    fn a_later_slice_numbers_its_records_from_where_the_previous_one_ended() {
        let core = CoreConfig::from_env(&shopstream::config::Env::default()).unwrap();
        let file = InputFile::new(Path::new("t.jsonl"), b"x");
        let objects = enrich_slice(&file, 10_000, &[b"not json"], Utc::now(), &core);
        assert_eq!(objects.len(), 1);
        assert!(
            objects[0].key.contains("-10000-10000"),
            "{}",
            objects[0].key
        );
        assert!(enrich_slice(&file, 0, &[], Utc::now(), &core).is_empty());
    }
}
