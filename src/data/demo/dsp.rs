//! Small signal-processing helpers shared by the demo corpus's synthesiser and its spoofing
//! pipelines: a Hann-windowed STFT / overlap-add inverse on top of `realfft`, resonators, RMS.
//! Only the demo generator calls these; the feature extractors have their own, tuned front ends.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Periodic Hann window of length `n` (the STFT convention, so that hops of n/4 sum to a constant).
pub fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let phase = std::f64::consts::TAU * i as f64 / n as f64;
            (0.5 - 0.5 * phase.cos()) as f32
        })
        .collect()
}

/// A planned STFT of one frame size and hop.
pub struct Stft {
    pub n_fft: usize,
    pub hop: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

impl Stft {
    /// Plan an STFT with a periodic Hann window.
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        Self {
            n_fft,
            hop,
            window: hann(n_fft),
            forward: planner.plan_fft_forward(n_fft),
            inverse: planner.plan_fft_inverse(n_fft),
        }
    }

    /// Number of frames for a signal of `len` samples (frames are centred: `n_fft/2` zeros of
    /// padding on both sides, as librosa's `center=True` with zero padding).
    pub fn num_frames(&self, len: usize) -> usize {
        len / self.hop + 1
    }

    /// Frames × (n_fft/2 + 1) complex spectra.
    pub fn forward(&self, x: &[f32]) -> Vec<Vec<Complex32>> {
        let half = self.n_fft / 2;
        let mut input = self.forward.make_input_vec();
        let mut scratch = self.forward.make_scratch_vec();
        (0..self.num_frames(x.len()))
            .map(|f| {
                let start = (f * self.hop) as isize - half as isize;
                for (i, slot) in input.iter_mut().enumerate() {
                    let j = start + i as isize;
                    let v = if j >= 0 && (j as usize) < x.len() {
                        x[j as usize]
                    } else {
                        0.0
                    };
                    *slot = v * self.window[i];
                }
                let mut out = self.forward.make_output_vec();
                // Lengths come from the plan itself, so the transform cannot fail.
                let _ = self
                    .forward
                    .process_with_scratch(&mut input, &mut out, &mut scratch);
                out
            })
            .collect()
    }

    /// Weighted overlap-add inverse of [`Stft::forward`] (synthesis window = analysis window,
    /// normalised by the summed squared window), cut to `len` samples.
    pub fn inverse(&self, frames: &[Vec<Complex32>], len: usize) -> Vec<f32> {
        let half = self.n_fft / 2;
        let total = (frames.len().saturating_sub(1)) * self.hop + self.n_fft;
        let mut acc = vec![0.0f32; total];
        let mut norm = vec![0.0f32; total];
        let mut spectrum = self.inverse.make_input_vec();
        let mut output = self.inverse.make_output_vec();
        let mut scratch = self.inverse.make_scratch_vec();
        let scale = 1.0 / self.n_fft as f32;
        for (f, frame) in frames.iter().enumerate() {
            spectrum.copy_from_slice(frame);
            // A real signal's DC and Nyquist bins are real; realfft rejects anything else.
            spectrum[0].im = 0.0;
            if let Some(last) = spectrum.last_mut() {
                last.im = 0.0;
            }
            let _ = self
                .inverse
                .process_with_scratch(&mut spectrum, &mut output, &mut scratch);
            let start = f * self.hop;
            for i in 0..self.n_fft {
                let w = self.window[i];
                acc[start + i] += output[i] * scale * w;
                norm[start + i] += w * w;
            }
        }
        (0..len)
            .map(|i| {
                let j = i + half;
                if j < total && norm[j] > 1e-6 {
                    acc[j] / norm[j]
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// Root mean square of a signal (0 for an empty one).
pub fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Scale `x` in place to the given RMS (no-op for silence).
pub fn set_rms(x: &mut [f32], target_rms: f64) {
    let current = rms(x);
    if current > 1e-12 {
        let g = (target_rms / current) as f32;
        x.iter_mut().for_each(|v| *v *= g);
    }
}

/// A second-order resonator in Klatt's form: unity gain at DC, peak at `freq_hz` with
/// bandwidth `bw_hz` (Klatt 1980, "Software for a cascade/parallel formant synthesizer").
#[derive(Clone, Copy, Debug, Default)]
pub struct Resonator {
    a: f64,
    b: f64,
    c: f64,
    y1: f64,
    y2: f64,
}

impl Resonator {
    /// Set centre frequency and bandwidth, keeping the filter state (formants glide smoothly).
    pub fn tune(&mut self, freq_hz: f64, bw_hz: f64, sample_rate_hz: f64) {
        let r = (-std::f64::consts::PI * bw_hz / sample_rate_hz).exp();
        self.c = -r * r;
        self.b = 2.0 * r * (std::f64::consts::TAU * freq_hz / sample_rate_hz).cos();
        self.a = 1.0 - self.b - self.c;
    }

    /// Magnitude response at `freq_hz` (for levelling resonators tuned far from DC).
    pub fn gain_at(&self, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        let w = std::f64::consts::TAU * freq_hz / sample_rate_hz;
        // |1 − b e^{−jω} − c e^{−2jω}|
        let re = 1.0 - self.b * w.cos() - self.c * (2.0 * w).cos();
        let im = self.b * w.sin() + self.c * (2.0 * w).sin();
        self.a.abs() / (re * re + im * im).sqrt().max(1e-12)
    }

    /// Filter one sample.
    #[inline]
    pub fn process(&mut self, x: f64) -> f64 {
        let y = self.a * x + self.b * self.y1 + self.c * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stft_round_trip_reconstructs_the_signal() {
        let x: Vec<f32> = (0..4000)
            .map(|i| ((i as f32) * 0.05).sin() * 0.5 + ((i as f32) * 0.31).cos() * 0.2)
            .collect();
        let stft = Stft::new(512, 128);
        let y = stft.inverse(&stft.forward(&x), x.len());
        let err = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "max error {err}");
    }

    #[test]
    fn resonator_has_unity_dc_gain_and_peaks_at_its_centre() {
        let fs = 16_000.0;
        let gain_at = |f: f64| {
            let mut r = Resonator::default();
            r.tune(1000.0, 100.0, fs);
            let mut peak: f64 = 0.0;
            for n in 0..8000 {
                let y = r.process((std::f64::consts::TAU * f * n as f64 / fs).cos());
                if n > 4000 {
                    peak = peak.max(y.abs());
                }
            }
            peak
        };
        let mut dc = Resonator::default();
        dc.tune(1000.0, 100.0, fs);
        let mut y = 0.0;
        for _ in 0..4000 {
            y = dc.process(1.0);
        }
        assert!((y - 1.0).abs() < 1e-6, "DC gain {y}");
        assert!(gain_at(1000.0) > 5.0 * gain_at(3000.0));
    }
}
