//! Deduplication by `event_id` within a batch: the first occurrence wins.

use crate::reason::{RejectReason, Rejection};
use foldhash::HashSet;

#[derive(Debug, Default)]
pub struct Deduplicator {
    seen: HashSet<String>,
}

impl Deduplicator {
    pub fn new() -> Self {
        Self::default()
    }

    /// A deduplicator expecting about `records` distinct ids (no rehashing on the way).
    // The capacity only sizes the set: `Default::default()` in its place is an equivalent
    // mutant, excluded in .cargo/mutants.toml.
    pub fn with_capacity(records: usize) -> Self {
        Deduplicator {
            seen: HashSet::with_capacity_and_hasher(records, Default::default()),
        }
    }

    /// `Ok` the first time an id is seen, a `DUPLICATE_EVENT` refusal after that.
    pub fn admit(&mut self, event_id: &str) -> Result<(), Rejection> {
        if self.seen.insert(event_id.to_owned()) {
            Ok(())
        } else {
            Err(Rejection::on_field(
                RejectReason::DuplicateEvent,
                "event_id",
                format!("event_id {event_id:?} already appeared earlier in this batch"),
            ))
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_occurrence_is_a_duplicate() {
        let mut dedupe = Deduplicator::new();
        assert!(dedupe.admit("a").is_ok());
        assert!(dedupe.admit("b").is_ok());
        let refusal = dedupe.admit("a").unwrap_err();
        assert_eq!(refusal.reason, RejectReason::DuplicateEvent);
        assert_eq!(dedupe.len(), 2);
    }

    #[test]
    fn empty_until_the_first_id() {
        let mut dedupe = Deduplicator::with_capacity(4);
        assert!(dedupe.is_empty());
        assert_eq!(dedupe.len(), 0);
        assert!(dedupe.admit("a").is_ok());
        assert!(!dedupe.is_empty());
        assert_eq!(dedupe.len(), 1);
        assert!(dedupe.admit("a").is_err());
        assert_eq!(dedupe.len(), 1);
    }
}
