//! Where a slice's failure cut may fall. Lambda restarts a shard or partition at the lowest
//! reported record, so everything from the cut on comes back in the retry, and everything
//! before it must stay written exactly once.

/// The highest cut at or below `cut` that no duplicate pair straddles. A pair `(first, twin)`
/// straddles a cut when `first < cut <= twin`: the retry would hold the twin without the
/// record it duplicates and accept it. Lowering the cut to `first` puts both in the retry,
/// where the twin is refused again.
pub fn keep_twins_together(cut: usize, duplicates: &[(usize, usize)]) -> usize {
    let mut cut = cut;
    loop {
        let lowered = duplicates
            .iter()
            .filter(|(first, twin)| *first < cut && cut <= *twin)
            .map(|(first, _)| *first)
            .min();
        match lowered {
            Some(first) => cut = first,
            None => return cut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn straddles(cut: usize, pairs: &[(usize, usize)]) -> bool {
        pairs
            .iter()
            .any(|(first, twin)| *first < cut && cut <= *twin)
    }

    #[test]
    fn a_twin_after_the_cut_pulls_the_cut_to_its_first_record() {
        assert_eq!(keep_twins_together(5, &[(2, 7)]), 2);
        assert_eq!(keep_twins_together(5, &[(5, 7)]), 5);
        assert_eq!(keep_twins_together(5, &[(1, 4)]), 5);
        assert_eq!(keep_twins_together(0, &[(0, 3)]), 0);
    }

    #[test]
    fn lowering_can_expose_another_pair() {
        // Cut 6 straddles (4, 8): lowered to 4, which straddles (1, 5): lowered to 1.
        assert_eq!(keep_twins_together(6, &[(4, 8), (1, 5)]), 1);
    }

    proptest! {
        #[test]
        fn the_result_is_the_highest_cut_no_pair_straddles(
            cut in 0usize..60,
            pairs in proptest::collection::vec((0usize..50, 1usize..20), 0..12),
        ) {
            let pairs: Vec<(usize, usize)> = pairs.into_iter().map(|(f, d)| (f, f + d)).collect();
            let result = keep_twins_together(cut, &pairs);
            prop_assert!(result <= cut);
            prop_assert!(!straddles(result, &pairs));
            // Every higher cut up to the original one is straddled: no record is retried
            // that need not be.
            for higher in result + 1..=cut {
                prop_assert!(straddles(higher, &pairs), "{higher}");
            }
        }
    }
}
