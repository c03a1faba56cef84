//! The generator's output cut into batches of lines, one batch per request, generated only
//! when the next batch is asked for.

use crate::generate::Generator;

/// Consecutive generated lines, each ending in `\n`: as it stands, an NDJSON body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineBatch {
    /// Position of the first line among all generated lines (0-based).
    pub first: u64,
    /// The lines, back to back.
    pub bytes: Vec<u8>,
    /// Where each line ends in `bytes` (just after its `\n`).
    ends: Vec<usize>,
}

impl LineBatch {
    /// A batch of the given lines (a `\n` is added to each), starting at position `first`.
    pub fn from_lines<'a>(first: u64, lines: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut batch = LineBatch {
            first,
            ..LineBatch::default()
        };
        for line in lines {
            batch.bytes.extend_from_slice(line);
            batch.bytes.push(b'\n');
            batch.ends.push(batch.bytes.len());
        }
        batch
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Line `position` of the batch, without its `\n`.
    pub fn line(&self, position: usize) -> Option<&[u8]> {
        let end = *self.ends.get(position)?;
        let start = match position {
            0 => 0,
            _ => self.ends[position - 1],
        };
        self.bytes.get(start..end.saturating_sub(1))
    }

    /// The lines, without their `\n`.
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).filter_map(|position| self.line(position))
    }

    /// Just the lines at `positions`, as a new batch (for resending part of a request).
    pub fn select(&self, positions: &[usize]) -> LineBatch {
        LineBatch::from_lines(
            self.first,
            positions.iter().filter_map(|&position| self.line(position)),
        )
    }
}

/// Batches of at most `max_records` lines and `max_bytes` bytes (a single longer line makes a
/// batch of its own), pulled from the generator on demand.
pub struct LineBatches<'g> {
    generator: &'g mut Generator,
    max_records: usize,
    max_bytes: usize,
    /// A line generated for the previous batch that did not fit in it.
    carried: Vec<u8>,
    next_position: u64,
}

impl<'g> LineBatches<'g> {
    pub fn new(generator: &'g mut Generator, max_records: usize, max_bytes: usize) -> Self {
        LineBatches {
            generator,
            max_records: max_records.max(1),
            max_bytes,
            carried: Vec::new(),
            next_position: 0,
        }
    }
}

impl Iterator for LineBatches<'_> {
    type Item = LineBatch;

    fn next(&mut self) -> Option<LineBatch> {
        let mut batch = LineBatch {
            first: self.next_position,
            bytes: Vec::with_capacity(self.max_records.saturating_mul(1024).min(self.max_bytes)),
            ends: Vec::with_capacity(self.max_records),
        };
        if !self.carried.is_empty() {
            batch.bytes.append(&mut self.carried);
            batch.ends.push(batch.bytes.len());
        }
        while batch.ends.len() < self.max_records {
            let start = batch.bytes.len();
            if self.generator.write_next(&mut batch.bytes).is_none() {
                break;
            }
            if batch.bytes.last() != Some(&b'\n') {
                batch.bytes.push(b'\n');
            }
            if batch.bytes.len() > self.max_bytes && !batch.ends.is_empty() {
                self.carried.extend_from_slice(&batch.bytes[start..]);
                batch.bytes.truncate(start);
                break;
            }
            batch.ends.push(batch.bytes.len());
        }
        if batch.is_empty() {
            return None;
        }
        self.next_position += batch.len() as u64;
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::GeneratorConfig;

    fn generator(events: u64) -> Generator {
        Generator::new(GeneratorConfig {
            events,
            users: 100,
            products: 100,
            ..GeneratorConfig::default()
        })
    }

    #[test]
    fn batches_hold_every_line_once_in_order_within_the_limits() {
        let mut whole = Vec::new();
        let mut reference = generator(1_234);
        while reference.write_next(&mut whole).is_some() {}

        let mut source = generator(1_234);
        let batches: Vec<LineBatch> = LineBatches::new(&mut source, 500, 200_000).collect();
        assert!(batches
            .iter()
            .all(|b| b.len() <= 500 && b.bytes.len() <= 200_000));
        assert_eq!(batches.iter().map(LineBatch::len).sum::<usize>(), 1_234);
        let mut position = 0;
        for batch in &batches {
            assert_eq!(batch.first, position);
            position += batch.len() as u64;
        }
        let joined: Vec<u8> = batches.iter().flat_map(|b| b.bytes.clone()).collect();
        assert_eq!(joined, whole, "same bytes as generating to a file");
    }

    #[test]
    fn a_line_over_the_byte_limit_travels_alone() {
        let mut source = generator(5);
        let batches: Vec<LineBatch> = LineBatches::new(&mut source, 500, 10).collect();
        assert_eq!(batches.len(), 5);
        assert!(batches.iter().all(|b| b.len() == 1));
    }

    #[test]
    fn lines_and_selection() {
        let batch = LineBatch::from_lines(7, [&b"a"[..], b"bc", b"", b"d"]);
        assert_eq!(batch.bytes, b"a\nbc\n\nd\n");
        let lines: Vec<&[u8]> = batch.lines().collect();
        assert_eq!(lines, vec![&b"a"[..], b"bc", b"", b"d"]);
        assert_eq!(batch.line(4), None);
        let part = batch.select(&[1, 3]);
        assert_eq!((part.first, part.bytes.as_slice()), (7, &b"bc\nd\n"[..]));
    }
}
