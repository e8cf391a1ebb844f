//! Shared short-time power spectrum used by the LFCC and spectrogram front ends.
//!
//! Reproduces the framing of `torch.stft(x, n_fft, hop, win_length, window, center=True,
//! pad_mode="constant")`: the signal is conceptually padded with `n_fft / 2` zeros on each side, a
//! window shorter than `n_fft` sits in the middle of the `n_fft` buffer (`(n_fft − win) / 2` zeros
//! before it), and a clip of `n ≥ 1` samples gives `1 + n / hop` frames. Only the power `|X_k|²` is
//! used, which does not depend on where the windowed samples sit inside the FFT buffer (a circular
//! shift changes only the phase), so each frame is windowed into the start of the buffer and the rest
//! is left at zero.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::FeatureError;

/// A planned power STFT: window, hop and a reusable realfft plan.
pub(crate) struct PowerStft {
    n_fft: usize,
    hop_samples: usize,
    window: Vec<f32>,
    /// Signal index of the first window sample of frame 0 (negative: it starts in the padding).
    first_offset: isize,
    fft: Arc<dyn RealToComplex<f32>>,
}

/// Per-thread buffers for [`PowerStft::frame_power`].
pub(crate) struct StftBuffers {
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl PowerStft {
    /// Plan an STFT; the caller has checked `1 ≤ window.len() ≤ n_fft` and `hop_samples ≥ 1`.
    pub(crate) fn new(n_fft: usize, hop_samples: usize, window: Vec<f32>) -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let left_pad = (n_fft - window.len()) / 2;
        let first_offset = left_pad as isize - (n_fft / 2) as isize;
        Self {
            n_fft,
            hop_samples,
            window,
            first_offset,
            fft,
        }
    }

    pub(crate) fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// Number of one-sided bins, `n_fft / 2 + 1`.
    pub(crate) fn num_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub(crate) fn window(&self) -> &[f32] {
        &self.window
    }

    /// `1 + n / hop` frames for `n ≥ 1` samples (torch's `center=True` count); none for `n = 0`.
    pub(crate) fn num_frames(&self, num_samples: usize) -> usize {
        if num_samples == 0 {
            0
        } else {
            1 + num_samples / self.hop_samples
        }
    }

    pub(crate) fn buffers(&self) -> StftBuffers {
        StftBuffers {
            input: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            scratch: self.fft.make_scratch_vec(),
        }
    }

    /// Write the one-sided power `|X_k|²` of frame `t` of `samples` into `power`, for bins
    /// `0..power.len()` (at most `num_bins`; callers that use only a low band pass a shorter slice).
    pub(crate) fn frame_power(
        &self,
        samples: &[f32],
        t: usize,
        buffers: &mut StftBuffers,
        power: &mut [f32],
    ) -> Result<(), FeatureError> {
        let win_len = self.window.len();
        let start = (t * self.hop_samples) as isize + self.first_offset;
        let input = &mut buffers.input;
        // realfft uses the input as scratch, so the zero tail must be rewritten every frame.
        input[win_len..].fill(0.0);
        if start >= 0 && start as usize + win_len <= samples.len() {
            let frame = &samples[start as usize..start as usize + win_len];
            for ((dst, &x), &w) in input.iter_mut().zip(frame).zip(&self.window) {
                *dst = x * w;
            }
        } else {
            for (i, (dst, &w)) in input.iter_mut().zip(&self.window).enumerate() {
                let idx = start + i as isize;
                *dst = if idx >= 0 && (idx as usize) < samples.len() {
                    samples[idx as usize] * w
                } else {
                    0.0
                };
            }
        }
        self.fft
            .process_with_scratch(input, &mut buffers.spectrum, &mut buffers.scratch)
            .map_err(|e| FeatureError::Fft {
                n_fft: self.n_fft,
                message: e.to_string(),
            })?;
        for (p, c) in power.iter_mut().zip(&buffers.spectrum) {
            *p = c.re * c.re + c.im * c.im;
        }
        Ok(())
    }
}

/// Periodic Hamming window `0.54 − 0.46 cos(2πn/N)`, as `torch.hamming_window(N)` (periodic=True).
pub(crate) fn hamming_periodic(len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * n as f64 / len as f64;
            (0.54 - 0.46 * phase.cos()) as f32
        })
        .collect()
}

/// Periodic Hann window `0.5 − 0.5 cos(2πn/N)`, as `torch.hann_window(N)` and scipy's `hann`.
pub(crate) fn hann_periodic(len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * n as f64 / len as f64;
            (0.5 - 0.5 * phase.cos()) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct DFT of the torch-style centred frame (window in the middle of the n_fft buffer).
    fn reference_power(
        samples: &[f32],
        n_fft: usize,
        hop: usize,
        window: &[f32],
        t: usize,
    ) -> Vec<f64> {
        let left = (n_fft - window.len()) / 2;
        let mut buf = vec![0.0f64; n_fft];
        for (j, slot) in buf.iter_mut().enumerate() {
            let sig = (t * hop + j) as isize - (n_fft / 2) as isize;
            if j >= left && j < left + window.len() && sig >= 0 && (sig as usize) < samples.len() {
                *slot = samples[sig as usize] as f64 * window[j - left] as f64;
            }
        }
        (0..=n_fft / 2)
            .map(|k| {
                let (mut re, mut im) = (0.0, 0.0);
                for (n, &x) in buf.iter().enumerate() {
                    let ph = -2.0 * std::f64::consts::PI * (k * n) as f64 / n_fft as f64;
                    re += x * ph.cos();
                    im += x * ph.sin();
                }
                re * re + im * im
            })
            .collect()
    }

    #[test]
    fn frames_match_direct_dft_of_centred_torch_frames() {
        let samples: Vec<f32> = (0..700)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let window = hamming_periodic(40);
        let stft = PowerStft::new(64, 16, window.clone());
        assert_eq!(stft.num_frames(samples.len()), 1 + 700 / 16);
        let mut buffers = stft.buffers();
        let mut power = vec![0.0f32; stft.num_bins()];
        for t in [0, 1, 2, 20, 42, 43] {
            stft.frame_power(&samples, t, &mut buffers, &mut power)
                .unwrap();
            let expected = reference_power(&samples, 64, 16, &window, t);
            let scale = expected.iter().cloned().fold(1e-3, f64::max);
            for (k, (&p, &e)) in power.iter().zip(&expected).enumerate() {
                assert!(
                    (p as f64 - e).abs() <= 1e-5 * scale,
                    "frame {t} bin {k}: {p} vs {e}"
                );
            }
        }
    }

    #[test]
    fn windows_are_periodic() {
        let w = hann_periodic(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-7);
        assert!((w[2] - 0.5).abs() < 1e-7 && (w[6] - 0.5).abs() < 1e-7);
        let h = hamming_periodic(4);
        assert!((h[0] - 0.08).abs() < 1e-6 && (h[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn empty_input_has_no_frames_and_short_input_has_one() {
        let stft = PowerStft::new(32, 8, hann_periodic(32));
        assert_eq!(stft.num_frames(0), 0);
        assert_eq!(stft.num_frames(5), 1);
        assert_eq!(stft.num_frames(8), 2);
    }
}
