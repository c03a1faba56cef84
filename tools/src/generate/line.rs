//! A JSON line written field by field straight into a byte buffer: no intermediate structs,
//! no allocation per record. Strings are escaped, so any text is safe.

use super::timeline::{push_date, push_timestamp, TimeParts};
use chrono::{DateTime, Utc};

pub struct Line<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Line<'a> {
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Line { out, first: true }
    }

    // Inlined so the constant key is copied with fixed-size stores, not a memcpy call.
    #[inline(always)]
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    #[inline(always)]
    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_string(self.out, value);
    }

    /// A string assembled from parts (e-mail, address) without building it first.
    #[inline(always)]
    pub fn str_parts(&mut self, key: &str, parts: &[&str]) {
        self.key(key);
        self.out.push(b'"');
        for part in parts {
            push_escaped(self.out, part);
        }
        self.out.push(b'"');
    }

    #[inline(always)]
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    #[inline(always)]
    pub fn int(&mut self, key: &str, value: i64) {
        self.key(key);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    #[inline(always)]
    pub fn opt_int(&mut self, key: &str, value: Option<i64>) {
        match value {
            Some(v) => self.int(key, v),
            None => self.null(key),
        }
    }

    /// An amount in cents written as a JSON number with two decimals (`1299.99`).
    #[inline(always)]
    pub fn cents(&mut self, key: &str, cents: i64) {
        self.key(key);
        push_cents(self.out, cents);
    }

    #[inline(always)]
    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    #[inline(always)]
    pub fn opt_bool(&mut self, key: &str, value: Option<bool>) {
        match value {
            Some(v) => self.bool(key, v),
            None => self.null(key),
        }
    }

    #[inline(always)]
    pub fn null(&mut self, key: &str) {
        self.key(key);
        self.out.extend_from_slice(b"null");
    }

    /// A UTC time as `"2025-11-05T20:15:03Z"`.
    pub fn timestamp(&mut self, key: &str, time: DateTime<Utc>) {
        self.timestamp_parts(key, &TimeParts::of(time));
    }

    pub fn timestamp_parts(&mut self, key: &str, time: &TimeParts) {
        self.key(key);
        self.out.push(b'"');
        push_timestamp(self.out, time);
        self.out.push(b'"');
    }

    /// A UTC date as `"2025-11-05"`.
    pub fn date_parts(&mut self, key: &str, time: &TimeParts) {
        self.key(key);
        self.out.push(b'"');
        push_date(self.out, time);
        self.out.push(b'"');
    }

    /// A value written verbatim (already valid JSON).
    pub fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.out.extend_from_slice(json);
    }

    pub fn close(self) {
        self.out.extend_from_slice(b"}\n");
    }
}

pub fn push_cents(out: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        out.push(b'-');
    }
    let abs = cents.unsigned_abs();
    out.extend_from_slice(itoa::Buffer::new().format(abs / 100).as_bytes());
    out.push(b'.');
    let fraction = (abs % 100) as u8;
    out.push(b'0' + fraction / 10);
    out.push(b'0' + fraction % 10);
}

fn push_json_string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    push_escaped(out, value);
    out.push(b'"');
}

/// Whether any byte of `bytes` must be escaped in a JSON string (`"`, `\\`, or a control
/// character), eight bytes at a time: this check runs on every value the generator writes.
#[inline(always)]
fn needs_escape(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if word_needs_escape(u64::from_le_bytes(word)) {
            return true;
        }
    }
    let tail = chunks.remainder();
    if tail.is_empty() {
        return false;
    }
    if let Some(last) = bytes.last_chunk::<8>() {
        // The last eight bytes (overlapping the words already checked): one load, no copy.
        return word_needs_escape(u64::from_le_bytes(*last));
    }
    // A short value: its bytes over a word of harmless ones.
    let mut word = u64::from_le_bytes([b'a'; 8]);
    for (i, &b) in tail.iter().enumerate() {
        let shift = 8 * i;
        word = (word & !(0xff << shift)) | (u64::from(b) << shift);
    }
    word_needs_escape(word)
}

#[inline(always)]
fn word_needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Exact "some byte is zero" test (no false positives, unlike the faster variant).
    let has_zero_byte = |x: u64| ((x & !HIGHS).wrapping_add(!HIGHS) | x) & HIGHS != HIGHS;
    // A byte below 0x20 has its three top bits clear.
    has_zero_byte(x & (0xE0 * ONES))
        | has_zero_byte(x ^ (u64::from(b'"') * ONES))
        | has_zero_byte(x ^ (u64::from(b'\\') * ONES))
}

#[inline(always)]
fn push_escaped(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    // Nearly every value needs no escaping: copy it in one go.
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_escape_finds_every_special_byte_at_every_position() {
        for len in 0..20 {
            let clean = "a".repeat(len);
            assert!(!needs_escape(clean.as_bytes()));
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                    let mut bytes = clean.clone().into_bytes();
                    bytes[at] = special;
                    assert!(needs_escape(&bytes), "{special:#x} at {at} of {len}");
                }
                for harmless in [b' ', b'!', b'#', b'[', b']', 0x7f, 0xc3, 0xff, 0x20, 0x5d] {
                    let mut bytes = clean.clone().into_bytes();
                    bytes[at] = harmless;
                    assert!(!needs_escape(&bytes), "{harmless:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn writes_valid_json_with_escapes() {
        let mut out = Vec::new();
        let mut line = Line::open(&mut out);
        line.str("a", "say \"hi\"\\\n");
        line.int("n", -42);
        line.cents("price", 129_905);
        line.cents("refund", -5);
        line.opt_str("none", None);
        line.bool("b", true);
        line.str_parts("email", &["ana", ".", "silva", "@", "x.com"]);
        line.close();
        assert_eq!(out.last(), Some(&b'\n'));
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["a"], "say \"hi\"\\\n");
        assert_eq!(value["n"], -42);
        assert_eq!(value["price"], 1299.05);
        assert_eq!(value["refund"], -0.05);
        assert!(value["none"].is_null());
        assert_eq!(value["email"], "ana.silva@x.com");
    }
}
