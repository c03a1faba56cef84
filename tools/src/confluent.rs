//! Generated JSON lines as Confluent wire-format frames (magic 0, schema id, Avro body), shared
//! by `generate --format confluent` (to a file) and `generate --to kafka://...`.

use anyhow::{Context, Result};
use shopstream::decode::avro::{bundled_schema, encode_confluent};
use shopstream::decode::{decode_json, AvroSchemas};

/// Frame of a line that is readable but has a wrong field type: an id no registry knows.
const UNREGISTERED_SCHEMA_FRAME: [u8; 6] = [0, 0, 0, 3, 231, b'{'];
/// Frame of an unreadable line: an Avro body that stops short.
const TRUNCATED_BODY_FRAME: [u8; 6] = [0, 0, 0, 0, 1, 0x80];

/// One generated line, re-read by the core's decoder and encoded as Avro with the bundled
/// schema of its entity. Lines no Avro writer could produce (cut-off JSON, wrong field types)
/// become frames the pipeline refuses the same way: a truncated body, or an unregistered
/// schema id.
pub fn confluent_frame(line: &[u8], schemas: &AvroSchemas) -> Result<Vec<u8>> {
    match decode_json(line) {
        Ok(decoded) if decoded.problems.is_empty() => {
            let entity = decoded.record.entity();
            let id = schemas
                .id_for(entity)
                .context("bundled schema ids cover every entity")?;
            encode_confluent(id, bundled_schema(entity), &decoded.record)
                .context("encoding a generated record as Avro")
        }
        Ok(_) => Ok(UNREGISTERED_SCHEMA_FRAME.to_vec()),
        Err(_) => Ok(TRUNCATED_BODY_FRAME.to_vec()),
    }
}
