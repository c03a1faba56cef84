//! The three input formats, each turned into a stream of decode results with positions.

use anyhow::{Context, Result};
use shopstream::decode::avro::avro_to_json;
use shopstream::decode::{decode_json, decode_json_value, decode_payload, AvroSchemas, Decoded};
use shopstream::reason::{RejectReason, Rejection};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    /// One JSON object per line.
    Jsonl,
    /// An Avro object container file.
    Avro,
    /// Confluent-framed Avro records, each preceded by a 4-byte big-endian length.
    Confluent,
}

/// The `record_type` of an Avro container's records, from its writer schema's record name
/// (the bundled schemas' names; anything else is read as a transaction).
pub fn container_entity(schema: &apache_avro::Schema) -> &'static str {
    match schema {
        apache_avro::Schema::Record(record) => match record.name.name() {
            "ClickstreamEvent" => "clickstream",
            "InventoryEvent" => "inventory",
            _ => "transaction",
        },
        _ => "transaction",
    }
}

/// Calls `visit(position, decode result)` for each record; position is the 0-based record index.
pub fn for_each_record(
    path: &Path,
    format: InputFormat,
    schemas: &AvroSchemas,
    mut visit: impl FnMut(usize, Result<Decoded, Rejection>) -> Result<()>,
) -> Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    match format {
        InputFormat::Jsonl => {
            let mut line = Vec::with_capacity(4096);
            let mut position = 0;
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                visit(position, decode_json(&line))?;
                position += 1;
            }
        }
        InputFormat::Confluent => {
            let mut position = 0;
            loop {
                let mut length = [0u8; 4];
                match reader.read_exact(&mut length) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e.into()),
                }
                let length = u32::from_be_bytes(length) as usize;
                let mut frame = vec![0; length.min(64 << 20)];
                if length > frame.len() || reader.read_exact(&mut frame).is_err() {
                    let detail =
                        format!("record {position} claims {length} bytes but the file ends first");
                    visit(
                        position,
                        Err(Rejection::new(RejectReason::DecodeError, detail)),
                    )?;
                    break;
                }
                visit(position, decode_payload(&frame, schemas))?;
                position += 1;
            }
        }
        InputFormat::Avro => {
            let container =
                apache_avro::Reader::new(reader).context("not an Avro object container file")?;
            let entity = container_entity(container.writer_schema());
            for (position, value) in container.enumerate() {
                match value {
                    Ok(value) => {
                        let mut json = avro_to_json(value);
                        if let Some(object) = json.as_object_mut() {
                            object.entry("record_type").or_insert_with(|| entity.into());
                        }
                        visit(position, decode_json_value(json))?;
                    }
                    Err(e) => {
                        let detail = format!("unreadable Avro block: {e}");
                        visit(
                            position,
                            Err(Rejection::new(RejectReason::DecodeError, detail)),
                        )?;
                        break;
                    }
                }
            }
        }
    }
    Ok(())
}
