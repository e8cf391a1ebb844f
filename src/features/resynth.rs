//! A complex STFT and its inverse by weighted overlap-add, for editing a clip in the
//! time-frequency domain and listening to (or scoring) the result.
//!
//! Framing is the crate's `center=True` convention (see [`crate::features`]): frame `t` covers
//! samples `t·hop − n_fft/2 .. t·hop + n_fft/2` with zeros outside the clip, `1 + n / hop` frames
//! for `n ≥ 1` samples. The window is a periodic Hann of `n_fft` samples.
//!
//! The inverse is the least-squares one (Griffin & Lim 1984): each frame is inverse-transformed,
//! windowed again and added in place, and every sample is divided by the sum of the squared
//! windows over it. An unedited spectrum therefore comes back as the clip (to rounding), and an
//! edited one comes back as the signal whose STFT is closest to the edit. With the hop at most
//! `n_fft / 2` every sample of the clip lies under a window sample that is not zero, so the
//! division is safe.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::stft::hann_periodic;
use super::FeatureError;

/// A complex spectrum, row-major `[frames, bins]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ComplexSpectrogram {
    pub num_frames: usize,
    /// One-sided bins, `n_fft / 2 + 1`.
    pub num_bins: usize,
    /// `num_frames * num_bins` values, frame after frame.
    pub values: Vec<Complex<f32>>,
}

impl ComplexSpectrogram {
    /// The bins of frame `t` (mutable, for editing).
    pub fn frame_mut(&mut self, t: usize) -> &mut [Complex<f32>] {
        &mut self.values[t * self.num_bins..(t + 1) * self.num_bins]
    }
}

/// A planned forward and inverse STFT with a periodic Hann window.
pub struct ResynthStft {
    n_fft: usize,
    hop_samples: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

impl ResynthStft {
    /// Plan an STFT of `n_fft` samples every `hop_samples`; the hop must lie in `1..=n_fft/2`
    /// (beyond that some samples would sit under no window, or only under its zero end).
    pub fn new(n_fft: usize, hop_samples: usize) -> Result<Self, FeatureError> {
        if n_fft < 4 || !n_fft.is_multiple_of(2) {
            return Err(FeatureError::InvalidConfig {
                field: "n_fft",
                message: format!("must be even and at least 4, got {n_fft}"),
            });
        }
        if hop_samples == 0 || hop_samples > n_fft / 2 {
            return Err(FeatureError::InvalidConfig {
                field: "hop_samples",
                message: format!("must lie in 1..={}, got {hop_samples}", n_fft / 2),
            });
        }
        let mut planner = RealFftPlanner::<f32>::new();
        Ok(Self {
            n_fft,
            hop_samples,
            window: hann_periodic(n_fft),
            forward: planner.plan_fft_forward(n_fft),
            inverse: planner.plan_fft_inverse(n_fft),
        })
    }

    /// FFT size.
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// Hop between frame centres in samples.
    pub fn hop_samples(&self) -> usize {
        self.hop_samples
    }

    /// `1 + n / hop` frames for `n ≥ 1` samples, none for an empty clip.
    pub fn num_frames(&self, num_samples: usize) -> usize {
        if num_samples == 0 {
            0
        } else {
            1 + num_samples / self.hop_samples
        }
    }

    /// Signal index of the first sample of frame `t` (negative: in the leading padding).
    fn frame_start(&self, t: usize) -> isize {
        (t * self.hop_samples) as isize - (self.n_fft / 2) as isize
    }

    /// The complex STFT of `samples`.
    pub fn analyse(&self, samples: &[f32]) -> Result<ComplexSpectrogram, FeatureError> {
        let num_frames = self.num_frames(samples.len());
        let num_bins = self.n_fft / 2 + 1;
        let mut values = Vec::with_capacity(num_frames * num_bins);
        let mut input = self.forward.make_input_vec();
        let mut spectrum = self.forward.make_output_vec();
        let mut scratch = self.forward.make_scratch_vec();
        for t in 0..num_frames {
            let start = self.frame_start(t);
            for (i, (dst, &w)) in input.iter_mut().zip(&self.window).enumerate() {
                let idx = start + i as isize;
                *dst = if idx >= 0 && (idx as usize) < samples.len() {
                    samples[idx as usize] * w
                } else {
                    0.0
                };
            }
            self.forward
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .map_err(|e| self.fft_error(e))?;
            values.extend_from_slice(&spectrum);
        }
        Ok(ComplexSpectrogram {
            num_frames,
            num_bins,
            values,
        })
    }

    /// The clip of `num_samples` samples whose STFT is closest to `spec` (weighted overlap-add,
    /// see the module docs). Frames beyond `spec.num_frames` count as silent.
    pub fn synthesise(
        &self,
        spec: &ComplexSpectrogram,
        num_samples: usize,
    ) -> Result<Vec<f32>, FeatureError> {
        let num_bins = self.n_fft / 2 + 1;
        if spec.num_bins != num_bins {
            return Err(FeatureError::InvalidConfig {
                field: "num_bins",
                message: format!(
                    "the spectrum has {} bins, this STFT {num_bins}",
                    spec.num_bins
                ),
            });
        }
        let mut out = vec![0.0f32; num_samples];
        let mut weight = vec![0.0f32; num_samples];
        let mut bins = self.inverse.make_input_vec();
        let mut frame = self.inverse.make_output_vec();
        let mut scratch = self.inverse.make_scratch_vec();
        // realfft's inverse is unnormalised: a round trip multiplies by n_fft.
        let scale = 1.0 / self.n_fft as f32;
        for t in 0..self.num_frames(num_samples).min(spec.num_frames) {
            bins.copy_from_slice(&spec.values[t * num_bins..(t + 1) * num_bins]);
            // A real signal's DC and Nyquist bins are real; an edit must not make them otherwise.
            bins[0].im = 0.0;
            bins[num_bins - 1].im = 0.0;
            self.inverse
                .process_with_scratch(&mut bins, &mut frame, &mut scratch)
                .map_err(|e| self.fft_error(e))?;
            let start = self.frame_start(t);
            for (i, (&x, &w)) in frame.iter().zip(&self.window).enumerate() {
                let idx = start + i as isize;
                if idx >= 0 && (idx as usize) < num_samples {
                    out[idx as usize] += x * scale * w;
                    weight[idx as usize] += w * w;
                }
            }
        }
        for (x, &w) in out.iter_mut().zip(&weight) {
            // Only a spectrum with too few frames leaves a sample uncovered; it stays silent.
            *x = if w > 1e-6 { *x / w } else { 0.0 };
        }
        Ok(out)
    }

    fn fft_error(&self, e: impl std::fmt::Display) -> FeatureError {
        FeatureError::Fft {
            n_fft: self.n_fft,
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_signal(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                0.5 * (std::f32::consts::TAU * 440.0 * t).sin()
                    + 0.2 * (((i * 7919) % 211) as f32 / 105.0 - 1.0)
            })
            .collect()
    }

    #[test]
    fn unedited_spectrum_reconstructs_the_clip() {
        for (n_fft, hop, n) in [(512, 128, 5000), (64, 32, 1000), (16, 3, 37), (512, 128, 1)] {
            let stft = ResynthStft::new(n_fft, hop).unwrap();
            let x = test_signal(n);
            let spec = stft.analyse(&x).unwrap();
            assert_eq!(spec.num_frames, 1 + n / hop);
            let y = stft.synthesise(&spec, n).unwrap();
            assert_eq!(y.len(), n);
            let worst = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{n_fft}/{hop}/{n}: worst error {worst}");
        }
    }

    #[test]
    fn zeroed_spectrum_gives_silence_and_a_zeroed_band_removes_a_tone() {
        let stft = ResynthStft::new(512, 128).unwrap();
        let n = 8000;
        // 500 Hz falls in bin 16 (31.25 Hz per bin); 5 kHz in bin 160.
        let low: Vec<f32> = (0..n)
            .map(|i| 0.5 * (std::f32::consts::TAU * 500.0 * i as f32 / 16_000.0).sin())
            .collect();
        let high: Vec<f32> = (0..n)
            .map(|i| 0.5 * (std::f32::consts::TAU * 5000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mix: Vec<f32> = low.iter().zip(&high).map(|(a, b)| a + b).collect();
        let mut spec = stft.analyse(&mix).unwrap();
        for t in 0..spec.num_frames {
            for c in &mut spec.frame_mut(t)[100..] {
                *c = Complex::new(0.0, 0.0);
            }
        }
        let y = stft.synthesise(&spec, n).unwrap();
        // Away from the clip's ends, where the cut-off tones leak into every bin.
        let worst = low[512..n - 512]
            .iter()
            .zip(&y[512..n - 512])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "worst error {worst}");
        spec.values.fill(Complex::new(0.0, 0.0));
        assert!(stft.synthesise(&spec, n).unwrap().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn settings_are_checked() {
        assert!(ResynthStft::new(3, 1).is_err());
        assert!(ResynthStft::new(512, 0).is_err());
        assert!(ResynthStft::new(512, 257).is_err());
        assert!(ResynthStft::new(512, 256).is_ok());
    }
}
