//! Fast standard normal samples for RawBoost's white noise (SSI): the Marsaglia–Tsang ziggurat
//! with 128 layers, fed by the project's seeded [`Rng`]. A Box–Muller or polar draw needs a
//! logarithm per sample or pair, which made the noise cost more than the filtering of a clip.

use std::sync::OnceLock;

use crate::rng::Rng;

const LAYERS: usize = 128;
/// Start of the tail (Marsaglia & Tsang 2000, 128 layers).
const TAIL_START: f64 = 3.442_619_855_899;
/// Area of each layer.
const LAYER_AREA: f64 = 9.912_563_035_262_17e-3;
const M1: f64 = 2_147_483_648.0; // 2^31

struct Tables {
    kn: [u32; LAYERS],
    wn: [f64; LAYERS],
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
        kn[0] = ((dn / q) * M1) as u32;
        kn[1] = 0;
        wn[0] = q / M1;
        wn[LAYERS - 1] = dn / M1;
        fnv[0] = 1.0;
        fnv[LAYERS - 1] = (-0.5 * dn * dn).exp();
        for i in (1..LAYERS - 1).rev() {
            dn = (-2.0 * (LAYER_AREA / dn + (-0.5 * dn * dn).exp()).ln()).sqrt();
            kn[i + 1] = ((dn / tn) * M1) as u32;
            tn = dn;
            fnv[i] = (-0.5 * dn * dn).exp();
            wn[i] = dn / M1;
        }
        Tables { kn, wn, fnv }
    })
}

/// Uniform in (0, 1]: safe under a logarithm.
fn open_uniform(rng: &mut Rng) -> f64 {
    1.0 - rng.uniform01()
}

/// One standard normal draw from a 32-bit signed word `hz`, drawing more from `rng` only in the
/// rare rejection cases.
fn from_word(mut hz: i32, rng: &mut Rng, t: &Tables) -> f64 {
    loop {
        let iz = (hz as u32 as usize) & (LAYERS - 1);
        if hz.unsigned_abs() < t.kn[iz] {
            return hz as f64 * t.wn[iz];
        }
        let x = hz as f64 * t.wn[iz];
        if iz == 0 {
            // The tail beyond TAIL_START, by Marsaglia's exponential rejection.
            loop {
                let tx = -open_uniform(rng).ln() / TAIL_START;
                let ty = -open_uniform(rng).ln();
                if ty + ty >= tx * tx {
                    return if hz > 0 {
                        TAIL_START + tx
                    } else {
                        -TAIL_START - tx
                    };
                }
            }
        }
        if t.fnv[iz] + rng.uniform01() * (t.fnv[iz - 1] - t.fnv[iz]) < (-0.5 * x * x).exp() {
            return x;
        }
        hz = rng.next_u64() as u32 as i32;
    }
}

/// `n` standard normal samples; two per 64-bit draw in the common case.
pub fn standard_normal_f32(rng: &mut Rng, n: usize) -> Vec<f32> {
    let t = tables();
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let word = rng.next_u64();
        out.push(from_word(word as u32 as i32, rng, t) as f32);
        out.push(from_word((word >> 32) as u32 as i32, rng, t) as f32);
    }
    out.truncate(n);
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
}
