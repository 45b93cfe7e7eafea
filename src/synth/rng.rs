//! A tiny deterministic PRNG (SplitMix64), so the corpus is byte-identical for a seed on every
//! platform and independent of thread scheduling: each motion gets its own stream derived
//! from `(seed, index)`.

/// SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

/// One SplitMix64 output step applied to `x` (a good 64-bit mixing function).
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Rng {
    /// A generator seeded directly.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The stream for item `index` of a corpus with `seed` (streams do not overlap in practice).
    pub fn for_item(seed: u64, index: u64) -> Self {
        Self {
            state: mix64(mix64(seed ^ 0x5EED_5EED_5EED_5EED).wrapping_add(mix64(index))),
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[a, b)`.
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f()
    }

    /// Uniform integer in `[a, b]` (inclusive).
    pub fn int(&mut self, a: i64, b: i64) -> i64 {
        if b <= a {
            return a;
        }
        a + (self.next_u64() % ((b - a + 1) as u64)) as i64
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }

    /// A uniformly chosen element (panics on an empty slice, which callers never pass).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// A uniformly chosen string from a non-empty list.
    pub fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// Index chosen with the given non-negative weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut r = self.f() * total;
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_spread() {
        let mut a = Rng::for_item(7, 3);
        let mut b = Rng::for_item(7, 3);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::for_item(7, 4).next_u64(), Rng::for_item(8, 3).next_u64());
        let mut r = Rng::new(1);
        let m: f64 = (0..10000).map(|_| r.f()).sum::<f64>() / 10000.0;
        assert!((m - 0.5).abs() < 0.02);
        assert!((0..100).all(|_| (2..=4).contains(&r.int(2, 4))));
    }
}
