//! Front-end features computed with realfft: LFCC (ASVspoof 2021 LFCC-LCNN baseline) and log power /
//! log-mel spectrograms for display.
//!
//! Training code calls [`Lfcc`] once per batch (one plan, reused buffers, rayon across clips); the
//! GUI and the CLI call [`log_power_spectrogram`] and [`log_mel_spectrogram`] to draw a clip. Both
//! share one framing convention, that of `torch.stft(center=True, pad_mode="constant")`: a clip of
//! `n ≥ 1` samples gives `1 + n / hop` frames, frame `t` centred on sample `t · hop`, with zeros
//! outside the clip; an empty clip gives zero frames.

pub mod lfcc;
pub mod resynth;
pub mod spectrogram;
mod stft;

pub use lfcc::{Lfcc, LfccConfig, LfccScratch};
pub use spectrogram::{
    log_mel_spectrogram, log_power_spectrogram, power_spectrogram, MelConfig, Spectrogram,
    SpectrogramConfig, SpectrogramScale,
};

/// Errors from building a feature extractor or computing features.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// A configuration field is out of range; names the field and why.
    #[error("invalid feature config: field `{field}`: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    /// The FFT refused its buffers (an internal size mismatch, never expected).
    #[error("FFT of size {n_fft} failed: {message}")]
    Fft { n_fft: usize, message: String },
}

/// A row-major `[frames, dims]` feature matrix (one row per frame).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameMatrix {
    pub num_frames: usize,
    pub num_dims: usize,
    /// `num_frames * num_dims` values, frame after frame.
    pub values: Vec<f32>,
}

impl FrameMatrix {
    /// An all-zero matrix of the given shape.
    pub fn zeros(num_frames: usize, num_dims: usize) -> Self {
        Self {
            num_frames,
            num_dims,
            values: vec![0.0; num_frames * num_dims],
        }
    }

    /// The values of frame `t`; panics if `t >= num_frames` like slice indexing.
    pub fn row(&self, t: usize) -> &[f32] {
        &self.values[t * self.num_dims..(t + 1) * self.num_dims]
    }

    /// The value at frame `t`, dimension `d`.
    pub fn get(&self, t: usize, d: usize) -> f32 {
        self.values[t * self.num_dims + d]
    }

    /// The shape as `(frames, dims)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.num_frames, self.num_dims)
    }
}
