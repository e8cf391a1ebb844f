//! Room reverberation from a simulated impulse response: a direct path, a few sparse early
//! reflections and a late tail of exponentially decaying Gaussian noise whose amplitude
//! envelope is exp(−6.91·t / RT60), i.e. its energy falls by 60 dB in RT60 seconds (Sabine's
//! definition). The reverberant part is scaled to the drawn direct-to-reverberant ratio, and the
//! clip is convolved with the response through the FFT and cut to its own length, so the
//! direct sound stays aligned with the dry signal.

use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

use super::SAMPLE_RATE_HZ;
use crate::rng::Rng;

/// ln(1000): an amplitude falling as exp(−6.91·t/RT60) is 60 dB down after RT60.
const LN_1000: f64 = 6.907_755_278_982_137;

/// A simulated room.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReverbParams {
    /// Time for the late tail's energy to fall by 60 dB, seconds.
    pub rt60_s: f64,
    /// Energy of the direct path over the energy of everything after it, dB.
    pub drr_db: f64,
    /// Number of discrete early reflections in the first 50 ms.
    pub num_early_reflections: usize,
}

impl ReverbParams {
    /// RT60 0.2–1.0 s, direct-to-reverberant ratio −3 to +10 dB, 4–10 early reflections.
    pub fn draw(rng: &mut Rng) -> Self {
        Self {
            rt60_s: rng.uniform(0.2, 1.0),
            drr_db: rng.uniform(-3.0, 10.0),
            num_early_reflections: 4 + rng.below(7) as usize,
        }
    }
}

/// The impulse response of a simulated room at 16 kHz: 1.5·RT60 long, direct path of amplitude
/// 1 at sample 0.
pub fn room_impulse_response(params: &ReverbParams, rng: &mut Rng) -> Vec<f32> {
    room_impulse_response_at(params, SAMPLE_RATE_HZ, rng)
}

/// [`room_impulse_response`] sampled at `sample_rate_hz` (the room's times are in seconds, so
/// the same room at another rate has as many more taps).
pub fn room_impulse_response_at(
    params: &ReverbParams,
    sample_rate_hz: u32,
    rng: &mut Rng,
) -> Vec<f32> {
    let fs = sample_rate_hz as f64;
    let rt60_s = params.rt60_s.max(0.01);
    let len = ((1.5 * rt60_s * fs) as usize).max(2);
    let envelope = |t_s: f64| (-LN_1000 * t_s / rt60_s).exp();
    let mut reverberant = vec![0.0f64; len];
    // The late tail starts after a short gap (the first reflection's delay), faded in over 5 ms so
    // it has no click.
    let onset_s = 0.002;
    let fade_s = 0.005;
    for (i, r) in reverberant.iter_mut().enumerate().skip(1) {
        let t_s = i as f64 / fs;
        if t_s >= onset_s {
            let fade = ((t_s - onset_s) / fade_s).min(1.0);
            *r = rng.normal() * envelope(t_s) * fade;
        }
    }
    // Early reflections: sparse taps 2–50 ms after the direct path, stronger than the tail
    // around them, as from the nearest walls, floor and ceiling.
    let max_early = ((0.05 * fs) as usize).min(len - 1);
    for _ in 0..params.num_early_reflections {
        let at = 1 + rng.below(max_early as u64) as usize;
        let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
        reverberant[at] += sign * rng.uniform(0.3, 0.8) * envelope(at as f64 / fs) * 3.0;
    }
    let reverberant_energy: f64 = reverberant.iter().map(|v| v * v).sum();
    let gain = if reverberant_energy > 0.0 {
        (10f64.powf(-params.drr_db / 10.0) / reverberant_energy).sqrt()
    } else {
        0.0
    };
    let mut ir: Vec<f32> = reverberant.iter().map(|&v| (v * gain) as f32).collect();
    ir[0] = 1.0;
    ir
}

/// Full linear convolution of `x` and `h` (length `x.len() + h.len() − 1`) through one FFT.
pub fn fft_convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return Vec::new();
    }
    let out_len = x.len() + h.len() - 1;
    let n = out_len.next_power_of_two();
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let spectrum_of = |signal: &[f32]| {
        let mut input = forward.make_input_vec();
        input[..signal.len()].copy_from_slice(signal);
        let mut spectrum = forward.make_output_vec();
        // Lengths come from the plans, so the transforms cannot fail.
        let _ = forward.process(&mut input, &mut spectrum);
        spectrum
    };
    let mut product = spectrum_of(x);
    let hs = spectrum_of(h);
    for (a, b) in product.iter_mut().zip(&hs) {
        *a *= *b;
    }
    product[0].im = 0.0;
    if let Some(last) = product.last_mut() {
        last.im = 0.0;
    }
    let mut output = inverse.make_output_vec();
    let _ = inverse.process(&mut product, &mut output);
    let scale = 1.0 / n as f32;
    output.truncate(out_len);
    output.iter_mut().for_each(|v| *v *= scale);
    output
}

/// `x` in a simulated room: convolved with [`room_impulse_response`], cut to `x`'s length.
pub fn reverb(x: &[f32], params: &ReverbParams, rng: &mut Rng) -> Vec<f32> {
    reverb_at(x, params, SAMPLE_RATE_HZ, rng)
}

/// [`reverb`] for a clip at any rate.
pub fn reverb_at(x: &[f32], params: &ReverbParams, sample_rate_hz: u32, rng: &mut Rng) -> Vec<f32> {
    let ir = room_impulse_response_at(params, sample_rate_hz, rng);
    convolve_same_length(x, &ir)
}

/// `x` convolved with `h` and cut to `x`'s length: a response whose direct path is its first
/// tap leaves the dry sound where it was.
pub fn convolve_same_length(x: &[f32], h: &[f32]) -> Vec<f32> {
    let mut y = fft_convolve(x, h);
    y.truncate(x.len());
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RT60 from Schroeder's backward integration of the squared response (Schroeder 1965):
    /// the decay time of the energy decay curve between −5 and −25 dB, times three (T20).
    fn schroeder_rt60_s(ir: &[f32]) -> f64 {
        let mut edc = vec![0.0f64; ir.len()];
        let mut acc = 0.0;
        for i in (0..ir.len()).rev() {
            acc += (ir[i] as f64).powi(2);
            edc[i] = acc;
        }
        let total = edc[0];
        let db: Vec<f64> = edc.iter().map(|e| 10.0 * (e / total).log10()).collect();
        // Least-squares line through the points between −5 and −25 dB.
        let points: Vec<(f64, f64)> = db
            .iter()
            .enumerate()
            .filter(|(_, &d)| (-25.0..=-5.0).contains(&d))
            .map(|(i, &d)| (i as f64 / 16_000.0, d))
            .collect();
        let n = points.len() as f64;
        let (mt, md) = points
            .iter()
            .fold((0.0, 0.0), |(a, b), (t, d)| (a + t / n, b + d / n));
        let slope = points.iter().map(|(t, d)| (t - mt) * (d - md)).sum::<f64>()
            / points.iter().map(|(t, _)| (t - mt).powi(2)).sum::<f64>();
        -60.0 / slope
    }

    #[test]
    fn schroeder_rt60_of_the_response_matches_the_target() {
        let mut rng = Rng::new(11);
        for rt60_s in [0.2, 0.4, 0.7, 1.0] {
            for drr_db in [-3.0, 10.0] {
                let params = ReverbParams {
                    rt60_s,
                    drr_db,
                    num_early_reflections: 8,
                };
                let ir = room_impulse_response(&params, &mut rng);
                let got = schroeder_rt60_s(&ir);
                assert!(
                    (got / rt60_s - 1.0).abs() < 0.2,
                    "rt60 {rt60_s} drr {drr_db}: estimated {got}"
                );
                let direct = (ir[0] as f64).powi(2);
                let rest: f64 = ir[1..].iter().map(|&v| (v as f64).powi(2)).sum();
                assert!((10.0 * (direct / rest).log10() - drr_db).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn fft_convolution_matches_the_direct_sum() {
        let x = [1.0f32, 2.0, -1.0, 0.5];
        let h = [0.5f32, 0.0, -0.25];
        let got = fft_convolve(&x, &h);
        let want = [0.5f32, 1.0, -0.75, -0.25, 0.25, -0.125];
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?}");
        }
    }

    #[test]
    fn reverb_keeps_length_is_finite_and_deterministic() {
        let x: Vec<f32> = (0..8000).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
        let params = ReverbParams::draw(&mut Rng::new(2));
        assert!((0.2..=1.0).contains(&params.rt60_s));
        let a = reverb(&x, &params, &mut Rng::new(4));
        let b = reverb(&x, &params, &mut Rng::new(4));
        assert_eq!(a.len(), x.len());
        assert!(a.iter().all(|v| v.is_finite()));
        assert_eq!(a, b);
    }
}
