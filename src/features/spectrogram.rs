//! Spectrograms for display: log power STFT and log-mel, as row-major `[frames, bins]` matrices
//! with their frequency axis in Hz.
//!
//! The GUI's clip view and the CLI call these on one clip at a time. Framing follows the crate's
//! convention (see [`crate::features`]): periodic Hann window of `n_fft` samples, `center=True`
//! zero padding, `1 + n / hop` frames for `n ≥ 1` samples and none for an empty clip, so a clip
//! shorter than one window still gives one (zero-padded) frame.
//!
//! Power is scaled so that a sinusoid of amplitude `A` centred on a bin reads `A²` there:
//! `P_k = 4 |X_k|² / (Σ w)²` (0 dB = a full-scale sine). Decibels are `10 log10 P`, clamped below at
//! `floor_db`, so silence gives exactly `floor_db`, never −∞ or NaN.
//!
//! The mel scale is HTK's, `mel = 2595 log10(1 + f / 700)`; filters are triangles in Hz between
//! mel-equally spaced points, apex weight 1 and no area normalisation (librosa's
//! `mel(htk=True, norm=None)`). With many mels and a small FFT the lowest filters can fall between
//! two bins and stay at the floor; that is shown, not hidden.

use serde::{Deserialize, Serialize};

use super::stft::{hann_periodic, PowerStft};
use super::FeatureError;

/// STFT settings for display spectrograms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpectrogramConfig {
    /// FFT size, also the Hann window length.
    pub n_fft: usize,
    /// Hop between frames in samples.
    pub hop_samples: usize,
    /// Lowest value shown, in dB (0 dB = a full-scale sine).
    pub floor_db: f32,
}

impl Default for SpectrogramConfig {
    fn default() -> Self {
        Self {
            n_fft: 512,
            hop_samples: 160,
            floor_db: -100.0,
        }
    }
}

impl SpectrogramConfig {
    /// Check every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), FeatureError> {
        if self.n_fft < 2 {
            return Err(FeatureError::InvalidConfig {
                field: "n_fft",
                message: format!("must be at least 2, got {}", self.n_fft),
            });
        }
        if self.hop_samples == 0 {
            return Err(FeatureError::InvalidConfig {
                field: "hop_samples",
                message: "must be positive".into(),
            });
        }
        if !self.floor_db.is_finite() {
            return Err(FeatureError::InvalidConfig {
                field: "floor_db",
                message: format!("must be finite, got {}", self.floor_db),
            });
        }
        Ok(())
    }
}

/// Log-mel settings: the STFT plus the mel filter bank.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MelConfig {
    pub stft: SpectrogramConfig,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lower edge of the lowest band in Hz.
    pub f_min_hz: f32,
    /// Upper edge of the highest band in Hz; `None` means the Nyquist frequency.
    pub f_max_hz: Option<f32>,
}

impl Default for MelConfig {
    fn default() -> Self {
        Self {
            stft: SpectrogramConfig::default(),
            n_mels: 64,
            f_min_hz: 0.0,
            f_max_hz: None,
        }
    }
}

impl MelConfig {
    /// Check every field against `sample_rate_hz`; the error names the first bad one.
    pub fn validate(&self, sample_rate_hz: u32) -> Result<(), FeatureError> {
        self.stft.validate()?;
        let nyquist_hz = sample_rate_hz as f32 / 2.0;
        if self.n_mels == 0 {
            return Err(FeatureError::InvalidConfig {
                field: "n_mels",
                message: "must be positive".into(),
            });
        }
        let f_max_hz = self.f_max_hz.unwrap_or(nyquist_hz);
        if !(self.f_min_hz >= 0.0 && self.f_min_hz < f_max_hz) {
            return Err(FeatureError::InvalidConfig {
                field: "f_min_hz",
                message: format!(
                    "must satisfy 0 <= f_min_hz < f_max_hz, got {} and {f_max_hz}",
                    self.f_min_hz
                ),
            });
        }
        if f_max_hz.is_nan() || f_max_hz > nyquist_hz {
            return Err(FeatureError::InvalidConfig {
                field: "f_max_hz",
                message: format!(
                    "must be at most the Nyquist frequency {nyquist_hz}, got {f_max_hz}"
                ),
            });
        }
        Ok(())
    }
}

/// What the values of a [`Spectrogram`] are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpectrogramScale {
    /// Linear power, `A²` for a sinusoid of amplitude `A`.
    Power,
    /// `10 log10` of that power, clamped at the floor.
    Db,
}

/// A row-major `[frames, bins]` spectrogram with its axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrogram {
    pub num_frames: usize,
    pub num_bins: usize,
    /// `num_frames * num_bins` values, frame after frame.
    pub values: Vec<f32>,
    /// Centre frequency of each bin (or mel band) in Hz, ascending.
    pub freqs_hz: Vec<f32>,
    /// Time between frame centres in seconds; frame `t` is centred at `t * hop_s`.
    pub hop_s: f32,
    pub scale: SpectrogramScale,
}

impl Spectrogram {
    /// The values of frame `t`; panics if `t >= num_frames` like slice indexing.
    pub fn row(&self, t: usize) -> &[f32] {
        &self.values[t * self.num_bins..(t + 1) * self.num_bins]
    }

    /// The value at frame `t`, bin `k`.
    pub fn get(&self, t: usize, k: usize) -> f32 {
        self.values[t * self.num_bins + k]
    }

    /// Centre time of frame `t` in seconds.
    pub fn frame_time_s(&self, t: usize) -> f32 {
        t as f32 * self.hop_s
    }
}

fn check_sample_rate(sample_rate_hz: u32) -> Result<(), FeatureError> {
    if sample_rate_hz == 0 {
        return Err(FeatureError::InvalidConfig {
            field: "sample_rate_hz",
            message: "must be positive".into(),
        });
    }
    Ok(())
}

/// Linear power spectrogram `[frames, n_fft/2 + 1]`, scaled so a bin-centred sine of amplitude `A`
/// reads `A²`.
pub fn power_spectrogram(
    samples: &[f32],
    sample_rate_hz: u32,
    config: &SpectrogramConfig,
) -> Result<Spectrogram, FeatureError> {
    check_sample_rate(sample_rate_hz)?;
    config.validate()?;
    let stft = PowerStft::new(
        config.n_fft,
        config.hop_samples,
        hann_periodic(config.n_fft),
    );
    let window_sum: f64 = stft.window().iter().map(|&w| w as f64).sum();
    let scale = (4.0 / (window_sum * window_sum)) as f32;
    let num_frames = stft.num_frames(samples.len());
    let num_bins = stft.num_bins();
    let mut values = vec![0.0f32; num_frames * num_bins];
    let mut buffers = stft.buffers();
    for (t, row) in values.chunks_exact_mut(num_bins).enumerate() {
        stft.frame_power(samples, t, &mut buffers, row)?;
        row.iter_mut().for_each(|p| *p *= scale);
    }
    let bin_hz = sample_rate_hz as f32 / config.n_fft as f32;
    Ok(Spectrogram {
        num_frames,
        num_bins,
        values,
        freqs_hz: (0..num_bins).map(|k| k as f32 * bin_hz).collect(),
        hop_s: config.hop_samples as f32 / sample_rate_hz as f32,
        scale: SpectrogramScale::Power,
    })
}

/// Power in dB clamped at `floor_db` (silence gives exactly `floor_db`).
fn to_db(spec: &mut Spectrogram, floor_db: f32) {
    let floor_power = 10f32.powf(floor_db / 10.0);
    for v in &mut spec.values {
        *v = if *v > floor_power {
            (10.0 * v.log10()).max(floor_db)
        } else {
            floor_db
        };
    }
    spec.scale = SpectrogramScale::Db;
}

/// Log power spectrogram in dB, `[frames, n_fft/2 + 1]`, frequencies `k · sr / n_fft`.
pub fn log_power_spectrogram(
    samples: &[f32],
    sample_rate_hz: u32,
    config: &SpectrogramConfig,
) -> Result<Spectrogram, FeatureError> {
    let mut spec = power_spectrogram(samples, sample_rate_hz, config)?;
    to_db(&mut spec, config.floor_db);
    Ok(spec)
}

/// HTK mel of a frequency in Hz.
pub fn hz_to_mel_htk(f_hz: f64) -> f64 {
    2595.0 * (1.0 + f_hz / 700.0).log10()
}

/// Frequency in Hz of an HTK mel value.
pub fn mel_to_hz_htk(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// Triangular HTK mel filters `[n_mels, num_bins]` (row-major) and the band centres in Hz.
fn mel_filter_bank(config: &MelConfig, sample_rate_hz: u32) -> (Vec<f32>, Vec<f32>) {
    let num_bins = config.stft.n_fft / 2 + 1;
    let nyquist_hz = sample_rate_hz as f64 / 2.0;
    let f_max_hz = config.f_max_hz.map_or(nyquist_hz, f64::from);
    let mel_lo = hz_to_mel_htk(config.f_min_hz as f64);
    let mel_hi = hz_to_mel_htk(f_max_hz);
    let points_hz: Vec<f64> = (0..config.n_mels + 2)
        .map(|i| mel_to_hz_htk(mel_lo + (mel_hi - mel_lo) * i as f64 / (config.n_mels + 1) as f64))
        .collect();
    let bin_hz = sample_rate_hz as f64 / config.stft.n_fft as f64;
    let mut weights = vec![0.0f32; config.n_mels * num_bins];
    for (m, row) in weights.chunks_exact_mut(num_bins).enumerate() {
        let (lo, centre, hi) = (points_hz[m], points_hz[m + 1], points_hz[m + 2]);
        for (k, w) in row.iter_mut().enumerate() {
            let f = k as f64 * bin_hz;
            let rising = (f - lo) / (centre - lo);
            let falling = (hi - f) / (hi - centre);
            *w = rising.min(falling).max(0.0) as f32;
        }
    }
    let centres_hz = points_hz[1..=config.n_mels]
        .iter()
        .map(|&f| f as f32)
        .collect();
    (weights, centres_hz)
}

/// Log-mel spectrogram in dB, `[frames, n_mels]`, frequencies = band centres in Hz.
pub fn log_mel_spectrogram(
    samples: &[f32],
    sample_rate_hz: u32,
    config: &MelConfig,
) -> Result<Spectrogram, FeatureError> {
    check_sample_rate(sample_rate_hz)?;
    config.validate(sample_rate_hz)?;
    let power = power_spectrogram(samples, sample_rate_hz, &config.stft)?;
    let (bank, centres_hz) = mel_filter_bank(config, sample_rate_hz);
    let mut values = Vec::with_capacity(power.num_frames * config.n_mels);
    for t in 0..power.num_frames {
        let row = power.row(t);
        for filter in bank.chunks_exact(power.num_bins) {
            values.push(filter.iter().zip(row).map(|(w, p)| w * p).sum::<f32>());
        }
    }
    let mut spec = Spectrogram {
        num_frames: power.num_frames,
        num_bins: config.n_mels,
        values,
        freqs_hz: centres_hz,
        hop_s: power.hop_s,
        scale: SpectrogramScale::Power,
    };
    to_db(&mut spec, config.stft.floor_db);
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htk_mel_round_trips_and_hits_known_points() {
        // 1000 Hz ↔ 999.99 mel and 700 Hz ↔ 2595·log10(2) mel by the HTK formula's definition.
        assert!((hz_to_mel_htk(700.0) - 2595.0 * 2f64.log10()).abs() < 1e-9);
        assert!((hz_to_mel_htk(1000.0) - 999.985_6).abs() < 1e-3);
        for f in [0.0, 123.0, 4000.0, 7999.0] {
            assert!((mel_to_hz_htk(hz_to_mel_htk(f)) - f).abs() < 1e-6);
        }
    }

    #[test]
    fn mel_filters_peak_at_one_near_their_centres() {
        let cfg = MelConfig {
            stft: SpectrogramConfig {
                n_fft: 2048,
                ..Default::default()
            },
            n_mels: 20,
            ..Default::default()
        };
        let (bank, centres) = mel_filter_bank(&cfg, 16_000);
        let num_bins = 1025;
        let bin_hz = 16_000.0 / 2048.0;
        for (m, filter) in bank.chunks_exact(num_bins).enumerate() {
            let (k_max, w_max) =
                filter.iter().enumerate().fold(
                    (0, 0.0f32),
                    |acc, (k, &w)| if w > acc.1 { (k, w) } else { acc },
                );
            assert!(w_max > 0.9 && w_max <= 1.0, "band {m}: peak {w_max}");
            assert!(
                (k_max as f32 * bin_hz - centres[m]).abs() <= bin_hz,
                "band {m}"
            );
        }
        assert!(centres.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |r: Result<(), FeatureError>| match r {
            Err(FeatureError::InvalidConfig { field, .. }) => field,
            _ => "accepted",
        };
        let s = SpectrogramConfig {
            hop_samples: 0,
            ..Default::default()
        };
        assert_eq!(field(s.validate()), "hop_samples");
        let m = MelConfig {
            f_max_hz: Some(9000.0),
            ..Default::default()
        };
        assert_eq!(field(m.validate(16_000)), "f_max_hz");
        let m = MelConfig {
            n_mels: 0,
            ..Default::default()
        };
        assert_eq!(field(m.validate(16_000)), "n_mels");
    }
}
