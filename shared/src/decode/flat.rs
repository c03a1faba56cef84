//! The fast path of JSON decoding: a reader for the shape nearly every payload has, one flat
//! object of scalars whose strings carry no escapes.
//!
//! It reads only what it can read exactly as serde_json would and gives up (`None`) on
//! anything else: escapes, nested values, duplicated keys, malformed or out-of-range input.
//! The caller then decodes the payload again with serde_json, which also explains the error,
//! so the fast path never changes an outcome; `tests` and the `decode` fuzz target check
//! that both paths agree.

use super::wire::WireRecord;

/// A JSON scalar as serde_json hands it to a visitor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Null,
}

/// Reads `text` as a flat object into `record` (which starts empty). `None` when the text is
/// not a flat, escape-free object: `record` is then partly filled and must be discarded.
pub(crate) fn read_flat_object<'a>(text: &'a str, record: &mut WireRecord<'a>) -> Option<()> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    reader.skip_whitespace();
    reader.expect(b'{')?;
    reader.skip_whitespace();
    if reader.peek() == Some(b'}') {
        reader.at += 1;
    } else {
        loop {
            reader.expect(b'"')?;
            let key = reader.string_body()?;
            reader.skip_whitespace();
            reader.expect(b':')?;
            reader.skip_whitespace();
            let value = reader.scalar()?;
            // A key seen twice is refused by serde_json.
            if !record.set(key, value) {
                return None;
            }
            reader.skip_whitespace();
            match reader.next()? {
                b',' => reader.skip_whitespace(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    // serde_json refuses trailing characters other than whitespace.
    reader.skip_whitespace();
    (reader.at == reader.bytes.len()).then_some(())
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The text of a string up to its closing quote (the opening one is already read);
    /// `None` at an escape or a control character.
    fn string_body(&mut self) -> Option<&'a str> {
        let start = self.at;
        let end = start + find_string_stop(self.bytes.get(start..)?)?;
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // Quotes are ASCII, so both ends are character boundaries of the UTF-8 text.
        self.text.get(start..end)
    }

    fn literal(&mut self, word: &[u8], value: Scalar<'a>) -> Option<Scalar<'a>> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| {
            self.at = end;
            value
        })
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string_body().map(Scalar::Str)
            }
            b't' => self.literal(b"true", Scalar::Bool(true)),
            b'f' => self.literal(b"false", Scalar::Bool(false)),
            b'n' => self.literal(b"null", Scalar::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A number as serde_json reads it: an integer that fits is `U64` (or `I64` when
    /// negative), anything else (fraction, exponent, too many digits, `-0`) is `F64`.
    fn number(&mut self) -> Option<Scalar<'a>> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let digits_start = self.at;
        let mut magnitude: Option<u64> = Some(0);
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            magnitude = magnitude
                .and_then(|m| m.checked_mul(10))
                .and_then(|m| m.checked_add(u64::from(digit - b'0')));
            self.at += 1;
        }
        let digits = self.at - digits_start;
        if digits == 0 || (digits > 1 && self.bytes[digits_start] == b'0') {
            return None;
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
            integral = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
            integral = false;
        }
        match magnitude {
            Some(magnitude) if integral => Some(if !negative {
                Scalar::U64(magnitude)
            } else {
                // serde_json: beyond i64::MIN, and -0, are floats.
                let value = (magnitude as i64).wrapping_neg();
                if value >= 0 {
                    Scalar::F64(-(magnitude as f64))
                } else {
                    Scalar::I64(value)
                }
            }),
            // Correctly rounded, as serde_json's `float_roundtrip` parse; serde_json refuses
            // what overflows to infinity.
            _ => {
                let value: f64 = self.text.get(start..self.at)?.parse().ok()?;
                value.is_finite().then_some(Scalar::F64(value))
            }
        }
    }

    /// One or more decimal digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }
}

/// The offset of the first byte that ends or interrupts a plain string: a quote, a backslash
/// or a control character. Eight bytes at a time while eight remain: strings average a dozen
/// bytes and this runs for every key and value.
fn find_string_stop(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(word.try_into().ok()?);
        let stops = string_stops(word);
        if stops != 0 {
            return Some(at + (stops.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|offset| at + offset)
}

/// A word with the high bit set in the first byte (lowest in little-endian order) that is a
/// quote, a backslash or below 0x20. Bytes after the first stop may be marked falsely (borrow
/// propagation), the first never is, and only the first is used.
fn string_stops(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    zero_bytes(word ^ (u64::from(b'"') * ONES))
        | zero_bytes(word ^ (u64::from(b'\\') * ONES))
        // A byte below 0x20 has its top three bits clear.
        | zero_bytes(word & (0xE0 * ONES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_stops_are_found_at_every_position() {
        for len in 0..24 {
            let plain = "aé".repeat(len);
            let bytes = plain.as_bytes();
            assert_eq!(find_string_stop(bytes), None, "{len}");
            for at in 0..bytes.len() {
                for stop in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                    let mut with_stop = bytes.to_vec();
                    with_stop[at] = stop;
                    // A second stop later must not move the first.
                    with_stop.push(b'"');
                    assert_eq!(find_string_stop(&with_stop), Some(at), "{stop:#x} at {at}");
                }
            }
        }
    }

    fn scalar_of(text: &str) -> Option<Scalar<'_>> {
        let mut reader = Reader {
            text,
            bytes: text.as_bytes(),
            at: 0,
        };
        let value = reader.scalar()?;
        (reader.at == text.len()).then_some(value)
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        assert_eq!(scalar_of("0"), Some(Scalar::U64(0)));
        assert_eq!(scalar_of("42"), Some(Scalar::U64(42)));
        assert_eq!(scalar_of("-42"), Some(Scalar::I64(-42)));
        assert_eq!(
            scalar_of("18446744073709551615"),
            Some(Scalar::U64(u64::MAX))
        );
        assert_eq!(
            scalar_of("-9223372036854775808"),
            Some(Scalar::I64(i64::MIN))
        );
        assert_eq!(
            scalar_of("-9223372036854775809"),
            Some(Scalar::F64(-9223372036854775809.0))
        );
        assert_eq!(
            scalar_of("18446744073709551616"),
            Some(Scalar::F64(18446744073709551616.0))
        );
        assert!(
            matches!(scalar_of("-0"), Some(Scalar::F64(z)) if z == 0.0 && z.is_sign_negative())
        );
        assert_eq!(scalar_of("199.99"), Some(Scalar::F64(199.99)));
        assert_eq!(scalar_of("1E-2"), Some(Scalar::F64(0.01)));
        for refused in [
            "01", "-", "1.", ".5", "1e", "1e+", "+1", "1e400", "nul", "tru",
        ] {
            assert_eq!(scalar_of(refused), None, "{refused}");
        }
    }
}
