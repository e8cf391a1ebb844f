//! The project's seeded random number generator.
//!
//! Every random draw (RawBoost, the demo corpus, later weight init and dropout) comes from here
//! rather than from a global RNG, so that a seed reproduces a result bit for bit. The generator is
//! xoshiro256++ seeded through SplitMix64; it is written out here (a dozen lines) so that its
//! output cannot change under a dependency upgrade and its state can be checkpointed.

use serde::{Deserialize, Serialize};

/// SplitMix64 step: used to expand seeds and to mix stream identifiers.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded xoshiro256++ generator with numpy-like convenience draws.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator from a 64-bit seed.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Self { s }
    }

    /// An independent stream for one item of a seeded job, e.g. `(seed, epoch, clip_index)`.
    /// The same triple always gives the same stream, whatever order items are processed in.
    pub fn for_item(seed: u64, epoch: u64, index: u64) -> Self {
        let mut sm = seed ^ 0x5DEE_CE66_D1CE_4E5B;
        let a = splitmix64(&mut sm);
        let mut sm = a ^ epoch.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let b = splitmix64(&mut sm);
        let mut sm = b ^ index.wrapping_mul(0xA076_1D64_78BD_642F);
        Self::new(splitmix64(&mut sm))
    }

    /// Next raw 64-bit output.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform01(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `low + (high − low)·u` with u in [0, 1), as numpy's `uniform`: `low > high` is allowed and
    /// gives values between the two (RawBoost's default LnL gains rely on it).
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform01()
    }

    /// Uniform integer in `[0, n)`; `n` must be > 0. Lemire's method without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        let mut m = (self.next_u64() as u128) * (n as u128);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }

    /// Standard normal draw (Box–Muller; one draw per call so the state stays a plain array).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform01(); // (0, 1]: ln is finite
        let u2 = self.uniform01();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `k` distinct indices from `[0, n)` in random order (partial Fisher–Yates); `k ≤ n`.
    pub fn choose_distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        let k = k.min(n);
        if k * 4 < n {
            // Sparse case: rejection with a membership set keeps memory at O(k).
            let mut seen = std::collections::HashSet::with_capacity(k * 2);
            let mut out = Vec::with_capacity(k);
            while out.len() < k {
                let i = self.below(n as u64) as usize;
                if seen.insert(i) {
                    out.push(i);
                }
            }
            return out;
        }
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx
    }

    /// Shuffle a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_different_seeds_differ() {
        let a: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(Rng::for_item(1, 0, 5), Rng::for_item(1, 1, 5));
        assert_ne!(Rng::for_item(1, 0, 5), Rng::for_item(1, 0, 6));
        assert_eq!(Rng::for_item(1, 2, 3), Rng::for_item(1, 2, 3));
    }

    #[test]
    fn uniform_moments_and_reversed_bounds() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.uniform(-5.0, -20.0)).collect();
        assert!(xs.iter().all(|&x| (-20.0..=-5.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / n as f64;
        assert!((mean + 12.5).abs() < 0.05, "mean {mean}");
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::new(3);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = Rng::new(9);
        let mut counts = [0usize; 6];
        for _ in 0..60_000 {
            counts[r.below(6) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_400..10_600).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn choose_distinct_gives_distinct_indices_in_range() {
        let mut r = Rng::new(11);
        for (n, k) in [(100, 10), (100, 90), (5, 5), (10, 0)] {
            let v = r.choose_distinct(n, k);
            assert_eq!(v.len(), k);
            let set: std::collections::HashSet<_> = v.iter().copied().collect();
            assert_eq!(set.len(), k);
            assert!(v.iter().all(|&i| i < n));
        }
    }
}
