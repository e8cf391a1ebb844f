//! Additive noise at a target signal-to-noise ratio: coloured (white, pink, brown) noise,
//! babble from other talkers and mains hum. The noise gain comes from the two signals' mean
//! powers, so the realised SNR over the whole clip equals the target.

use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

use super::{mean_power, ConditionError, SAMPLE_RATE_HZ};
use crate::rng::Rng;

/// Range of drawn SNRs, dB.
const SNR_RANGE_DB: (f64, f64) = (0.0, 20.0);

/// Spectral slope of coloured noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseColour {
    /// Flat power spectrum.
    White,
    /// Power falling as 1/f (−3 dB per octave).
    Pink,
    /// Power falling as 1/f² (−6 dB per octave).
    Brown,
}

impl NoiseColour {
    /// Exponent of the power spectrum's 1/f^α slope.
    fn alpha(self) -> f64 {
        match self {
            NoiseColour::White => 0.0,
            NoiseColour::Pink => 1.0,
            NoiseColour::Brown => 2.0,
        }
    }
}

/// Coloured noise added at `snr_db`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColouredNoiseParams {
    pub colour: NoiseColour,
    pub snr_db: f64,
}

impl ColouredNoiseParams {
    /// A random colour and an SNR of 0–20 dB.
    pub fn draw(rng: &mut Rng) -> Self {
        let colours = [NoiseColour::White, NoiseColour::Pink, NoiseColour::Brown];
        Self {
            colour: colours[rng.below(3) as usize],
            snr_db: rng.uniform(SNR_RANGE_DB.0, SNR_RANGE_DB.1),
        }
    }
}

/// Babble of `num_talkers` other voices added at `snr_db`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BabbleParams {
    pub num_talkers: usize,
    pub snr_db: f64,
}

impl BabbleParams {
    /// 3–6 talkers and an SNR of 0–20 dB.
    pub fn draw(rng: &mut Rng) -> Self {
        Self {
            num_talkers: 3 + rng.below(4) as usize,
            snr_db: rng.uniform(SNR_RANGE_DB.0, SNR_RANGE_DB.1),
        }
    }
}

/// Mains hum: `mains_hz` and its first `num_harmonics` multiples (amplitude 1/k for the k-th),
/// added at `snr_db`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HumParams {
    pub mains_hz: f64,
    pub num_harmonics: usize,
    pub snr_db: f64,
}

impl HumParams {
    /// 50 or 60 Hz, 3–8 harmonics, an SNR of 0–20 dB.
    pub fn draw(rng: &mut Rng) -> Self {
        Self {
            mains_hz: if rng.below(2) == 0 { 50.0 } else { 60.0 },
            num_harmonics: 3 + rng.below(6) as usize,
            snr_db: rng.uniform(SNR_RANGE_DB.0, SNR_RANGE_DB.1),
        }
    }
}

/// `x + g·noise` with `g` chosen so that power(x) / power(g·noise) is `snr_db`. The noise is
/// repeated or cut to the length of `x`. Silence in either signal leaves `x` unchanged (no SNR
/// can be set).
pub fn add_at_snr(x: &[f32], noise: &[f32], snr_db: f64) -> Vec<f32> {
    if noise.is_empty() || x.is_empty() {
        return x.to_vec();
    }
    let fitted: Vec<f32> = noise.iter().copied().cycle().take(x.len()).collect();
    let signal_power = mean_power(x);
    let noise_power = mean_power(&fitted);
    if signal_power <= 0.0 || noise_power <= 0.0 {
        return x.to_vec();
    }
    let gain = (signal_power / (noise_power * 10f64.powf(snr_db / 10.0))).sqrt();
    x.iter()
        .zip(&fitted)
        .map(|(&s, &n)| (s as f64 + gain * n as f64) as f32)
        .collect()
}

/// Gaussian noise of `len` samples at `sample_rate_hz` whose power spectrum falls as 1/f^α,
/// shaped in the frequency domain over the whole clip (bins below 20 Hz are held at the 20 Hz
/// level so brown noise does not become a DC drift).
pub fn shaped_noise(
    len: usize,
    colour: NoiseColour,
    sample_rate_hz: u32,
    rng: &mut Rng,
) -> Vec<f32> {
    let white: Vec<f32> = (0..len).map(|_| rng.normal() as f32).collect();
    if colour == NoiseColour::White || len < 2 {
        return white;
    }
    let n = len.next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let mut input = forward.make_input_vec();
    input[..len].copy_from_slice(&white);
    let mut spectrum = forward.make_output_vec();
    // Lengths come from the plans, so the transforms cannot fail.
    let _ = forward.process(&mut input, &mut spectrum);
    let bin_hz = sample_rate_hz as f64 / n as f64;
    let alpha = colour.alpha();
    for (k, bin) in spectrum.iter_mut().enumerate() {
        let f_hz = (k as f64 * bin_hz).max(20.0);
        *bin *= f_hz.powf(-alpha / 2.0) as f32;
    }
    spectrum[0].im = 0.0;
    if let Some(last) = spectrum.last_mut() {
        last.im = 0.0;
    }
    let mut output = inverse.make_output_vec();
    let _ = inverse.process(&mut spectrum, &mut output);
    output.truncate(len);
    output
}

/// Coloured Gaussian noise added at the target SNR (16 kHz clips).
pub fn coloured_noise(x: &[f32], params: &ColouredNoiseParams, rng: &mut Rng) -> Vec<f32> {
    coloured_noise_at(x, params, SAMPLE_RATE_HZ, rng)
}

/// [`coloured_noise`] for a clip at any rate: the spectral slope is shaped in Hz, so pink noise
/// is pink whatever the rate.
pub fn coloured_noise_at(
    x: &[f32],
    params: &ColouredNoiseParams,
    sample_rate_hz: u32,
    rng: &mut Rng,
) -> Vec<f32> {
    let noise = shaped_noise(x.len(), params.colour, sample_rate_hz, rng);
    add_at_snr(x, &noise, params.snr_db)
}

/// Babble: the first `num_talkers` of `talkers` (other speakers' voices, 16 kHz), each brought to
/// the same power and started at a random offset (repeated to length), summed and added at the
/// target SNR. Fewer talkers than asked is an error, as is none at all.
pub fn babble(
    x: &[f32],
    talkers: &[Vec<f32>],
    params: &BabbleParams,
    rng: &mut Rng,
) -> Result<Vec<f32>, ConditionError> {
    if params.num_talkers == 0 || talkers.len() < params.num_talkers {
        return Err(ConditionError::InvalidParam {
            field: "num_talkers",
            message: format!(
                "is {} but {} talker signals were given (need at least one, and one per talker)",
                params.num_talkers,
                talkers.len()
            ),
        });
    }
    let mut sum = vec![0.0f64; x.len()];
    for talker in &talkers[..params.num_talkers] {
        let power = mean_power(talker);
        if power <= 0.0 {
            continue;
        }
        let gain = 1.0 / power.sqrt();
        let offset = rng.below(talker.len() as u64) as usize;
        for (i, s) in sum.iter_mut().enumerate() {
            *s += gain * talker[(offset + i) % talker.len()] as f64;
        }
    }
    let noise: Vec<f32> = sum.iter().map(|&v| v as f32).collect();
    Ok(add_at_snr(x, &noise, params.snr_db))
}

/// Vowel formant targets (F1, F2, F3) of the synthetic talkers, Hz (Peterson & Barney means).
const TALKER_VOWELS_HZ: [[f64; 3]; 5] = [
    [730.0, 1090.0, 2440.0],
    [270.0, 2290.0, 3010.0],
    [300.0, 870.0, 2240.0],
    [530.0, 1840.0, 2480.0],
    [570.0, 840.0, 2410.0],
];

/// `num_talkers` speech-like voices of `len` samples at `sample_rate_hz`, for [`babble`] when no
/// recorded voices are at hand: a pulse train at a drifting F0 (90–250 Hz, one per talker)
/// through three resonators that move between vowel formants every syllable (4–6 per second),
/// gated by a syllabic envelope with pauses. Crude as speech, but with speech's long-term
/// spectrum, harmonicity and 4 Hz modulation, which is what babble noise needs.
pub fn synthetic_talkers(
    num_talkers: usize,
    len: usize,
    sample_rate_hz: u32,
    rng: &mut Rng,
) -> Vec<Vec<f32>> {
    let fs = sample_rate_hz.max(1) as f64;
    (0..num_talkers)
        .map(|_| {
            let f0_hz = rng.uniform(90.0, 250.0);
            let syllable_s = 1.0 / rng.uniform(4.0, 6.0);
            let syllable_len = ((syllable_s * fs) as usize).max(1);
            let mut out = Vec::with_capacity(len);
            let mut phase = 0.0f64;
            // Resonator states (two past outputs per formant).
            let mut state = [[0.0f64; 2]; 3];
            let mut formants = TALKER_VOWELS_HZ[rng.below(5) as usize];
            let mut voiced = true;
            for i in 0..len {
                if i % syllable_len == 0 {
                    formants = TALKER_VOWELS_HZ[rng.below(5) as usize];
                    // One syllable in five is a pause.
                    voiced = rng.below(5) != 0;
                }
                let t_in_syllable = (i % syllable_len) as f64 / syllable_len as f64;
                let envelope = if voiced {
                    (std::f64::consts::PI * t_in_syllable).sin().powi(2)
                } else {
                    0.0
                };
                let t_s = i as f64 / fs;
                let f0 = f0_hz * (1.0 + 0.08 * (std::f64::consts::TAU * 0.7 * t_s).sin());
                phase += f0 / fs;
                let pulse = if phase >= 1.0 {
                    phase -= 1.0;
                    1.0
                } else {
                    0.0
                };
                let mut v = pulse * envelope;
                for (k, &f_hz) in formants.iter().enumerate() {
                    let bw_hz = 80.0 + 40.0 * k as f64;
                    let r = (-std::f64::consts::PI * bw_hz / fs).exp();
                    let a1 = 2.0 * r * (std::f64::consts::TAU * f_hz.min(0.45 * fs) / fs).cos();
                    let a2 = -r * r;
                    let y = (1.0 - r) * v + a1 * state[k][0] + a2 * state[k][1];
                    state[k][1] = state[k][0];
                    state[k][0] = y;
                    v = y;
                }
                out.push(v as f32);
            }
            out
        })
        .collect()
}

/// Mains hum added at the target SNR.
pub fn hum(x: &[f32], params: &HumParams) -> Vec<f32> {
    let fs = SAMPLE_RATE_HZ as f64;
    let noise: Vec<f32> = (0..x.len())
        .map(|i| {
            let t = i as f64 / fs;
            (1..=params.num_harmonics.max(1))
                .filter(|&k| k as f64 * params.mains_hz < fs / 2.0)
                .map(|k| (std::f64::consts::TAU * k as f64 * params.mains_hz * t).sin() / k as f64)
                .sum::<f64>() as f32
        })
        .collect();
    add_at_snr(x, &noise, params.snr_db)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speechlike(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..len)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                ((std::f64::consts::TAU * 180.0 * t).sin() * (3.0 * t).sin().abs()
                    + 0.05 * rng.normal()) as f32
                    * 0.1
            })
            .collect()
    }

    fn realised_snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
        let noise: Vec<f32> = noisy.iter().zip(clean).map(|(n, c)| n - c).collect();
        10.0 * (mean_power(clean) / mean_power(&noise)).log10()
    }

    #[test]
    fn realised_snr_matches_the_target() {
        let x = speechlike(24_000, 1);
        let mut rng = Rng::new(5);
        for snr_db in [0.0, 7.5, 20.0] {
            for colour in [NoiseColour::White, NoiseColour::Pink, NoiseColour::Brown] {
                let y = coloured_noise(&x, &ColouredNoiseParams { colour, snr_db }, &mut rng);
                assert_eq!(y.len(), x.len());
                assert!(y.iter().all(|v| v.is_finite()));
                let got = realised_snr_db(&x, &y);
                assert!((got - snr_db).abs() < 0.1, "{colour:?} {snr_db}: {got}");
            }
            let talkers: Vec<Vec<f32>> = (0..4).map(|s| speechlike(9_000, 10 + s)).collect();
            let params = BabbleParams {
                num_talkers: 4,
                snr_db,
            };
            let y = babble(&x, &talkers, &params, &mut rng).unwrap();
            assert!((realised_snr_db(&x, &y) - snr_db).abs() < 0.1);
            let params = HumParams {
                mains_hz: 50.0,
                num_harmonics: 5,
                snr_db,
            };
            assert!((realised_snr_db(&x, &hum(&x, &params)) - snr_db).abs() < 0.1);
        }
    }

    #[test]
    fn noise_colours_have_their_slopes() {
        // Power in the octave 250–500 Hz against the octave 2–4 kHz, measured on the FFT.
        let band_ratio_db = |colour| {
            let noise = shaped_noise(1 << 15, colour, SAMPLE_RATE_HZ, &mut Rng::new(3));
            let mut planner = RealFftPlanner::<f32>::new();
            let fft = planner.plan_fft_forward(noise.len());
            let mut input = noise.clone();
            let mut spectrum = fft.make_output_vec();
            fft.process(&mut input, &mut spectrum).unwrap();
            let bin_hz = 16_000.0 / noise.len() as f64;
            let band = |lo: f64, hi: f64| -> f64 {
                spectrum
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| (lo..hi).contains(&(*k as f64 * bin_hz)))
                    .map(|(_, c)| c.norm_sqr() as f64)
                    .sum()
            };
            10.0 * (band(250.0, 500.0) / band(2000.0, 4000.0)).log10()
        };
        // Octave bands: white has 8× more power in the higher (wider) band, −9 dB; pink equal,
        // 0 dB; brown 8× more in the lower band, +9 dB.
        assert!((band_ratio_db(NoiseColour::White) + 9.03).abs() < 1.0);
        assert!(band_ratio_db(NoiseColour::Pink).abs() < 1.0);
        assert!((band_ratio_db(NoiseColour::Brown) - 9.03).abs() < 1.0);
    }

    #[test]
    fn babble_needs_enough_talkers_and_draws_stay_in_range() {
        let x = speechlike(1000, 2);
        let params = BabbleParams {
            num_talkers: 3,
            snr_db: 5.0,
        };
        assert!(babble(&x, std::slice::from_ref(&x), &params, &mut Rng::new(1)).is_err());
        let mut rng = Rng::new(9);
        for _ in 0..200 {
            let b = BabbleParams::draw(&mut rng);
            assert!((3..=6).contains(&b.num_talkers) && (0.0..=20.0).contains(&b.snr_db));
            let h = HumParams::draw(&mut rng);
            assert!(h.mains_hz == 50.0 || h.mains_hz == 60.0);
        }
    }

    #[test]
    fn same_seed_same_noise() {
        let x = speechlike(4000, 4);
        let p = ColouredNoiseParams {
            colour: NoiseColour::Pink,
            snr_db: 3.0,
        };
        assert_eq!(
            coloured_noise(&x, &p, &mut Rng::new(8)),
            coloured_noise(&x, &p, &mut Rng::new(8))
        );
    }
}
