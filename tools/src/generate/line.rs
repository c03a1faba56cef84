//! A JSON line written field by field straight into a byte buffer: no intermediate structs,
//! no allocation per record. Strings are escaped, so any text is safe.

use super::timeline::{push_date, push_timestamp};
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

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_string(self.out, value);
    }

    /// A string assembled from parts (e-mail, address) without building it first.
    pub fn str_parts(&mut self, key: &str, parts: &[&str]) {
        self.key(key);
        self.out.push(b'"');
        for part in parts {
            push_escaped(self.out, part);
        }
        self.out.push(b'"');
    }

    pub fn opt_str(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    pub fn int(&mut self, key: &str, value: i64) {
        self.key(key);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    pub fn opt_int(&mut self, key: &str, value: Option<i64>) {
        match value {
            Some(v) => self.int(key, v),
            None => self.null(key),
        }
    }

    /// An amount in cents written as a JSON number with two decimals (`1299.99`).
    pub fn cents(&mut self, key: &str, cents: i64) {
        self.key(key);
        push_cents(self.out, cents);
    }

    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    pub fn opt_bool(&mut self, key: &str, value: Option<bool>) {
        match value {
            Some(v) => self.bool(key, v),
            None => self.null(key),
        }
    }

    pub fn null(&mut self, key: &str) {
        self.key(key);
        self.out.extend_from_slice(b"null");
    }

    /// A UTC time as `"2025-11-05T20:15:03Z"`.
    pub fn timestamp(&mut self, key: &str, time: DateTime<Utc>) {
        self.key(key);
        self.out.push(b'"');
        push_timestamp(self.out, time);
        self.out.push(b'"');
    }

    /// A UTC date as `"2025-11-05"`.
    pub fn date(&mut self, key: &str, time: DateTime<Utc>) {
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

fn push_escaped(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    // Nearly every value needs no escaping: copy it in one go.
    if !bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
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
