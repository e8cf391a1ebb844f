//! Fast standard normal samples for RawBoost's white noise (SSI): a 128-layer ziggurat
//! (Marsaglia & Tsang 2000) producing `f32`, fed by the project's seeded [`Rng`]. A Box–Muller or
//! polar draw needs a logarithm per sample or pair, which made the noise cost more than the
//! filtering of a clip.
//!
//! Each sample takes half of a 64-bit word: 7 bits pick the layer, 1 bit the sign and 24 bits the
//! position inside the layer — separate bits, so the layer index is not correlated with the value
//! (the flaw of the original 32-bit form, where the index bits are also the value's low bits);
//! 24 bits is the precision of an `f32`. The common case (about 99 % of samples) is a table look-up
//! and a multiply with no branch; the rare edge and tail cases are finished afterwards with fresh
//! draws, so a seed still gives one fixed sequence.

use std::sync::OnceLock;

use crate::rng::Rng;

const LAYERS: usize = 128;
/// Start of the tail (Marsaglia & Tsang 2000, 128 layers).
const TAIL_START: f64 = 3.442_619_855_899;
/// Area of each layer.
const LAYER_AREA: f64 = 9.912_563_035_262_17e-3;
/// Scale of the 24-bit in-layer position.
const POSITION_SCALE: f64 = 16_777_216.0; // 2^24
const POSITION_BITS: u32 = 24;
/// Samples generated between two passes over the rare rejected ones.
const BATCH: usize = 256;

struct Tables {
    /// Acceptance bound of each layer's fast path, on the 24-bit position scale.
    kn: [u32; LAYERS],
    /// Position-to-value factor of each layer.
    wn: [f64; LAYERS],
    /// The same factors as `f32` for the fast path.
    wn32: [f32; LAYERS],
    /// Density `exp(−x²/2)` at each layer's edge.
    fnv: [f64; LAYERS],
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut kn = [0u32; LAYERS];
        let mut wn = [0f64; LAYERS];
        let mut fnv = [0f64; LAYERS];
        let mut dn = TAIL_START;
        let mut tn = dn;
        let q = LAYER_AREA / (-0.5 * dn * dn).exp();
        kn[0] = ((dn / q) * POSITION_SCALE) as u32;
        kn[1] = 0;
        wn[0] = q / POSITION_SCALE;
        wn[LAYERS - 1] = dn / POSITION_SCALE;
        fnv[0] = 1.0;
        fnv[LAYERS - 1] = (-0.5 * dn * dn).exp();
        for i in (1..LAYERS - 1).rev() {
            dn = (-2.0 * (LAYER_AREA / dn + (-0.5 * dn * dn).exp()).ln()).sqrt();
            kn[i + 1] = ((dn / tn) * POSITION_SCALE) as u32;
            tn = dn;
            fnv[i] = (-0.5 * dn * dn).exp();
            wn[i] = dn / POSITION_SCALE;
        }
        let wn32 = wn.map(|w| w as f32);
        Tables {
            kn,
            wn,
            wn32,
            fnv,
        }
    })
}

/// Uniform in (0, 1]: safe under a logarithm.
fn open_uniform(rng: &mut Rng) -> f64 {
    1.0 - rng.uniform01()
}

/// Layer, sign and in-layer position packed in 32 random bits.
#[inline(always)]
fn split(bits: u32) -> (usize, bool, u32) {
    (
        (bits & (LAYERS as u32 - 1)) as usize,
        bits & 0x80 != 0,
        bits >> (32 - POSITION_BITS),
    )
}

/// Finish a sample whose first 32 bits fell outside the fast path: the wedge test, the tail, or
/// a fresh draw, as the ziggurat prescribes.
fn slow_path(mut bits: u32, rng: &mut Rng, t: &Tables) -> f32 {
    loop {
        let (layer, negative, position) = split(bits);
        let sign = if negative { -1.0 } else { 1.0 };
        if position < t.kn[layer] {
            return (sign * position as f64 * t.wn[layer]) as f32;
        }
        if layer == 0 {
            // The tail beyond TAIL_START, by Marsaglia's exponential rejection.
            loop {
                let tx = -open_uniform(rng).ln() / TAIL_START;
                let ty = -open_uniform(rng).ln();
                if ty + ty >= tx * tx {
                    return (sign * (TAIL_START + tx)) as f32;
                }
            }
        }
        let x = position as f64 * t.wn[layer];
        if t.fnv[layer] + rng.uniform01() * (t.fnv[layer - 1] - t.fnv[layer]) < (-0.5 * x * x).exp()
        {
            return (sign * x) as f32;
        }
        bits = rng.next_u64() as u32;
    }
}

/// Fill `out` with independent standard normal samples; two per 64-bit draw in the common case.
pub fn fill_standard_normal_f32(rng: &mut Rng, out: &mut [f32]) {
    let t = tables();
    // Indices and bits of this batch's samples that need the slow path.
    let mut pending = [(0u16, 0u32); BATCH];
    for batch in out.chunks_mut(BATCH) {
        let mut num_pending = 0usize;
        let last_index = batch.len() - 1;
        let mut fast = |slot: &mut f32, index: usize, bits: u32, num_pending: &mut usize| {
            let (layer, negative, position) = split(bits);
            let value = position as f32 * t.wn32[layer];
            *slot = if negative { -value } else { value };
            // Branch-free bookkeeping: the entry is kept only when the fast path failed.
            pending[*num_pending] = (index as u16, bits);
            *num_pending += (position >= t.kn[layer]) as usize;
        };
        let mut pairs = batch.chunks_exact_mut(2);
        for (pair_index, pair) in (&mut pairs).enumerate() {
            let word = rng.next_u64();
            fast(&mut pair[0], 2 * pair_index, word as u32, &mut num_pending);
            fast(
                &mut pair[1],
                2 * pair_index + 1,
                (word >> 32) as u32,
                &mut num_pending,
            );
        }
        if let [last] = pairs.into_remainder() {
            fast(last, last_index, rng.next_u64() as u32, &mut num_pending);
        }
        for &(index, bits) in &pending[..num_pending] {
            batch[index as usize] = slow_path(bits, rng, t);
        }
    }
}

/// `n` standard normal samples (see [`fill_standard_normal_f32`]).
pub fn standard_normal_f32(rng: &mut Rng, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; n];
    fill_standard_normal_f32(rng, &mut out);
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    fn share(xs: &[f32], pred: impl Fn(f64) -> bool) -> f64 {
        xs.iter().filter(|&&v| pred(v as f64)).count() as f64 / xs.len() as f64
    }

    #[test]
    fn ziggurat_matches_the_normal_distribution() {
        let xs = standard_normal_f32(&mut Rng::new(4), 1_000_001);
        assert_eq!(xs.len(), 1_000_001);
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = xs.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.005, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
        // Standard normal probabilities: P(|Z| < 0.5) = 0.38292, P(|Z| > 2) = 0.04550,
        // P(|Z| > 3.5) = 4.653e-4 (this one exercises the tail), P(Z < -1) = 0.15866.
        assert!((share(&xs, |v| v.abs() < 0.5) - 0.38292).abs() < 0.002);
        assert!((share(&xs, |v| v.abs() > 2.0) - 0.04550).abs() < 0.001);
        assert!((share(&xs, |v| v.abs() > 3.5) - 4.653e-4).abs() < 1e-4);
        assert!((share(&xs, |v| v < -1.0) - 0.15866).abs() < 0.002);
    }

    #[test]
    fn same_seed_same_noise() {
        let a = standard_normal_f32(&mut Rng::new(1), 1000);
        let b = standard_normal_f32(&mut Rng::new(1), 1000);
        let c = standard_normal_f32(&mut Rng::new(2), 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Standard normal CDF from the Abramowitz–Stegun 7.1.26 erf (error < 1.5e-7).
    fn normal_cdf(x: f64) -> f64 {
        let z = x.abs() / std::f64::consts::SQRT_2;
        let t = 1.0 / (1.0 + 0.327_591_1 * z);
        let poly = t
            * (0.254_829_592
                + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        let erf = 1.0 - poly * (-z * z).exp();
        if x >= 0.0 {
            0.5 * (1.0 + erf)
        } else {
            0.5 * (1.0 - erf)
        }
    }

    #[test]
    fn fine_histogram_passes_a_chi_square_test() {
        // 64 equal-width bins on [-4, 4] plus the two tails: 65 degrees of freedom, whose
        // chi-square 99.9 % quantile is about 110.
        let n = 2_000_000usize;
        let xs = standard_normal_f32(&mut Rng::new(11), n);
        let edges: Vec<f64> = (0..=64).map(|k| -4.0 + 8.0 * k as f64 / 64.0).collect();
        let mut counts = vec![0usize; 66];
        for &v in &xs {
            let v = v as f64;
            let bin = if v < -4.0 {
                0
            } else if v >= 4.0 {
                65
            } else {
                1 + (((v + 4.0) / 8.0 * 64.0) as usize).min(63)
            };
            counts[bin] += 1;
        }
        let mut probs = vec![normal_cdf(-4.0)];
        probs.extend(edges.windows(2).map(|w| normal_cdf(w[1]) - normal_cdf(w[0])));
        probs.push(1.0 - normal_cdf(4.0));
        let chi2: f64 = counts
            .iter()
            .zip(&probs)
            .map(|(&c, &p)| {
                let expected = p * n as f64;
                (c as f64 - expected).powi(2) / expected
            })
            .sum();
        assert!(chi2 < 110.0, "chi-square {chi2}");
    }

    #[test]
    fn neighbouring_samples_are_uncorrelated() {
        // Samples 2k and 2k+1 share a 64-bit word; any leak between the halves or between a
        // sample's layer bits and its value would show here.
        let xs = standard_normal_f32(&mut Rng::new(12), 1_000_000);
        for lag in 1..=3 {
            let corr = xs
                .iter()
                .zip(&xs[lag..])
                .map(|(&a, &b)| a as f64 * b as f64)
                .sum::<f64>()
                / (xs.len() - lag) as f64;
            assert!(corr.abs() < 0.005, "lag {lag}: {corr}");
        }
        // Squares are uncorrelated too (a dependence the plain correlation misses).
        let sq_corr = xs
            .iter()
            .zip(&xs[1..])
            .map(|(&a, &b)| (a as f64 * a as f64 - 1.0) * (b as f64 * b as f64 - 1.0))
            .sum::<f64>()
            / (xs.len() - 1) as f64;
        assert!(sq_corr.abs() < 0.01, "{sq_corr}");
    }

    #[test]
    fn fill_covers_odd_lengths_and_batch_edges_without_gaps() {
        for n in [0usize, 1, 2, 255, 256, 257, 1001] {
            let mut out = vec![f32::NAN; n];
            fill_standard_normal_f32(&mut Rng::new(3), &mut out);
            assert!(out.iter().all(|v| v.is_finite() && v.abs() < 8.0), "{n}");
            if n > 10 {
                assert!(out.windows(2).all(|w| w[0] != w[1]), "{n}");
            }
        }
    }
}
