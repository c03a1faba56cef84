//! Bronze objects: gzipped JSON lines, one object per (dt, hour) of the batch, named after
//! the stream and the batch's first sequence number. Gzip is written without a timestamp,
//! so a retried batch produces identical bytes.

use crate::change::BronzeLine;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;

pub const CONTENT_TYPE: &str = "application/x-ndjson";
pub const CONTENT_ENCODING: &str = "gzip";

/// Lines as gzipped JSON lines.
pub fn encode(lines: &[&BronzeLine]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(lines.len() * 256),
        Compression::default(),
    );
    for line in lines {
        serde_json::to_writer(&mut encoder, line)?;
        encoder.write_all(b"\n")?;
    }
    encoder.finish()
}

/// Gzipped bytes back to text (tests and tools).
pub fn decode(bytes: &[u8]) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text)?;
    Ok(text)
}
