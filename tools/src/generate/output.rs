//! Writing generated events: JSON lines (the fast path), an Avro object container file, or
//! length-prefixed Confluent-framed Avro records.

use super::{GeneratedCounts, Generator};
use crate::confluent::confluent_frame;
use anyhow::{bail, Result};
use shopstream::decode::avro::{bundled_schema, json_to_avro};
use shopstream::decode::{decode_json, AvroSchemas};
use shopstream::record::Entity;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// One JSON object per line.
    Jsonl,
    /// An Avro object container file (one entity only; its schema is in the header).
    Avro,
    /// Confluent wire-format records (magic 0, schema id, Avro body), each preceded by its
    /// length as a 4-byte big-endian integer.
    Confluent,
}

const FLUSH_AT: usize = 1 << 20;

/// Generates every event of `generator` into `out`, calling `progress` with the number written
/// so far every 65,536 events.
pub fn generate(
    generator: &mut Generator,
    format: OutputFormat,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<GeneratedCounts> {
    match format {
        OutputFormat::Jsonl => write_jsonl(generator, out, progress)?,
        OutputFormat::Confluent => write_confluent(generator, out, progress)?,
        OutputFormat::Avro => write_avro_container(generator, out, progress)?,
    }
    out.flush()?;
    Ok(generator.counts().clone())
}

fn write_jsonl(
    generator: &mut Generator,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut buffer = Vec::with_capacity(FLUSH_AT + 4096);
    let mut written = 0u64;
    while generator.write_next(&mut buffer).is_some() {
        written += 1;
        if buffer.len() >= FLUSH_AT {
            out.write_all(&buffer)?;
            buffer.clear();
        }
        if written % 65_536 == 0 {
            progress(written);
        }
    }
    out.write_all(&buffer)?;
    progress(written);
    Ok(())
}

/// Each generated line, re-read by the core's decoder and encoded as Avro. Lines that no Avro
/// writer could produce (cut-off JSON, wrong field types) become frames the pipeline refuses
/// the same way: a truncated body, or an unregistered schema id.
fn write_confluent(
    generator: &mut Generator,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let schemas = AvroSchemas::bundled_defaults();
    let mut line = Vec::with_capacity(2048);
    let mut written = 0u64;
    while generator.write_next(&mut line).is_some() {
        let frame = confluent_frame(&line, &schemas)?;
        out.write_all(&(frame.len() as u32).to_be_bytes())?;
        out.write_all(&frame)?;
        line.clear();
        written += 1;
        if written % 65_536 == 0 {
            progress(written);
        }
    }
    progress(written);
    Ok(())
}

fn write_avro_container(
    generator: &mut Generator,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let entities: Vec<Entity> = generator
        .config
        .mix
        .iter()
        .filter(|(_, w)| *w > 0)
        .map(|(e, _)| *e)
        .collect();
    let [entity] = entities[..] else {
        bail!("an Avro container file holds one entity: use --mix with a single entity (e.g. --mix transaction=1)");
    };
    let schema = bundled_schema(entity);
    let mut writer = apache_avro::Writer::new(schema, out)?;
    let mut line = Vec::with_capacity(2048);
    let mut written = 0u64;
    let mut skipped = 0u64;
    while generator.write_next(&mut line).is_some() {
        // Cut-off lines and wrong field types cannot be written with the schema at all.
        let value = decode_json(&line)
            .ok()
            .filter(|d| d.problems.is_empty())
            .and_then(|d| json_to_avro(&d.record.to_json_value(), schema).ok());
        match value {
            Some(value) => {
                writer.append_value(value)?;
            }
            None => skipped += 1,
        }
        line.clear();
        written += 1;
        if written % 65_536 == 0 {
            progress(written);
        }
    }
    writer.flush()?;
    progress(written);
    if skipped > 0 {
        eprintln!("note: {skipped} anomalous records (DECODE_ERROR / SCHEMA_MISMATCH) cannot be expressed in an Avro container and were left out");
    }
    Ok(())
}
