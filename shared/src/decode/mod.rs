//! Decoding payloads into records: JSON objects and Avro in the Confluent wire format.
//!
//! Decoding never panics and never gives up silently: a payload that cannot be read at all is
//! a `DECODE_ERROR` (or `SCHEMA_MISMATCH` when it is readable but not a record we know), and a
//! readable record comes back with the field-level problems found, for validation to report
//! together with its own.

pub mod avro;
mod field;
mod wire;

pub use avro::{AvroSchemas, CONFLUENT_MAGIC};

use crate::reason::{RejectReason, Rejection};
use crate::record::Record;
use serde_json::error::Category;
use wire::WireRecord;

/// How a payload was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    Json,
    ConfluentAvro { schema_id: u32 },
}

/// A readable record and the field-level problems found while reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a> {
    pub record: Record<'a>,
    pub problems: Vec<Rejection>,
    pub format: PayloadFormat,
}

/// Decodes one JSON object.
pub fn decode_json(payload: &[u8]) -> Result<Decoded<'_>, Rejection> {
    // serde would also read a JSON array positionally into the struct: only objects are records.
    match payload.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        _ => {
            // Valid JSON of another shape, or not JSON at all: then the parser says where.
            return Err(serde_json::from_slice::<serde_json::Value>(payload)
                .err()
                .map(json_rejection)
                .unwrap_or_else(not_an_object));
        }
    }
    // One UTF-8 check of the whole payload is much cheaper than serde_json's check of every
    // string in it.
    let text = std::str::from_utf8(payload).map_err(|err| {
        Rejection::new(
            RejectReason::DecodeError,
            format!(
                "invalid JSON record: not UTF-8 text (invalid byte at offset {})",
                err.valid_up_to()
            ),
        )
    })?;
    let wire: WireRecord = serde_json::from_str(text).map_err(json_rejection)?;
    let (record, problems) = wire.into_record()?;
    Ok(Decoded {
        record,
        problems,
        format: PayloadFormat::Json,
    })
}

/// Decodes an already-parsed JSON value (used for Avro bodies and API request arrays).
pub fn decode_json_value(value: serde_json::Value) -> Result<Decoded<'static>, Rejection> {
    use serde::Deserialize;
    if !value.is_object() {
        return Err(not_an_object());
    }
    // A Value hands out owned strings, so the record owns its text.
    let wire = WireRecord::<'static>::deserialize(value).map_err(json_rejection)?;
    let (record, problems) = wire.into_record()?;
    Ok(Decoded {
        record,
        problems,
        format: PayloadFormat::Json,
    })
}

/// Decodes a stream payload whose encoding is not known in advance: a payload starting with
/// the Confluent magic byte 0 is Avro (JSON text never starts with a NUL byte), anything else
/// is read as JSON.
pub fn decode_payload<'a>(
    payload: &'a [u8],
    schemas: &AvroSchemas,
) -> Result<Decoded<'a>, Rejection> {
    match payload.first() {
        Some(&CONFLUENT_MAGIC) => avro::decode_confluent(payload, schemas),
        Some(_) => decode_json(payload),
        None => Err(Rejection::new(RejectReason::DecodeError, "empty payload")),
    }
}

fn not_an_object() -> Rejection {
    Rejection::new(
        RejectReason::SchemaMismatch,
        "a record must be a JSON object",
    )
}

/// Maps a serde_json error to a refusal: unreadable text is a `DECODE_ERROR`; readable JSON of
/// the wrong shape (not an object, duplicated key) is a `SCHEMA_MISMATCH`.
pub(crate) fn json_rejection(err: serde_json::Error) -> Rejection {
    let reason = match err.classify() {
        Category::Data => RejectReason::SchemaMismatch,
        Category::Io | Category::Syntax | Category::Eof => RejectReason::DecodeError,
    };
    Rejection::new(reason, format!("invalid JSON record: {err}"))
}

#[cfg(test)]
mod tests;
