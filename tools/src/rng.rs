//! A small, fast, seedable generator (SplitMix64). Its output for a seed is fixed by this code,
//! not by a dependency's version, so the same seed gives the same bytes forever.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator derived from a seed and a key (a user or product id): the same key always
    /// yields the same stream, so profiles and products are stable across events and runs.
    pub fn keyed(seed: u64, domain: u64, key: u64) -> Self {
        let mut mixer =
            Rng(seed ^ domain.rotate_left(32) ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        Rng(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Cumulative weights for repeated weighted picks.
#[derive(Debug, Clone)]
pub struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut total = 0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// An index drawn with probability proportional to its weight.
    pub fn pick(&self, rng: &mut Rng) -> usize {
        let target = rng.below(self.total().max(1));
        self.cumulative.partition_point(|&c| c <= target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_keys_are_stable() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_eq!(
            Rng::keyed(1, 2, 3).next_u64(),
            Rng::keyed(1, 2, 3).next_u64()
        );
        assert_ne!(
            Rng::keyed(1, 2, 3).next_u64(),
            Rng::keyed(1, 2, 4).next_u64()
        );
    }

    #[test]
    fn weighted_picks_follow_weights() {
        let weights = Weighted::new([70, 20, 10]);
        let mut rng = Rng::new(42);
        let mut counts = [0u32; 3];
        for _ in 0..100_000 {
            counts[weights.pick(&mut rng)] += 1;
        }
        for (count, expected) in counts.iter().zip([0.7, 0.2, 0.1]) {
            let share = f64::from(*count) / 100_000.0;
            assert!((share - expected).abs() < 0.01, "{share} vs {expected}");
        }
    }
}
