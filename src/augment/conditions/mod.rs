//! Recording and transmission conditions: additive noise, room reverberation, telephone and
//! lossy-codec channels, microphone responses, clipping, level changes and resampling chains.
//! The demo corpus's domain-shifted `wild` split passes its clips through them, and they are
//! written to be used alone as well (an augmentation library or a robustness sweep picks one
//! with explicit parameters).
//!
//! Every generator is a pure function of 16 kHz mono `f32` samples ([`SAMPLE_RATE_HZ`]), an
//! explicit parameter struct and, where it needs random draws (noise, an impulse response), the
//! crate's [`Rng`](crate::rng::Rng). Each parameter struct has a `draw(rng)` that picks values
//! from the ranges its docs name, and is `Serialize` so the values can be reported in a key or a
//! log. Every generator returns as many samples as it was given. The `_at` variants
//! (`coloured_noise_at`, `reverb_at`, `lossy_codec_at`, `g711_channel`, `band_limit`) take the
//! clip's rate instead, for the augmentation chains of [`crate::augment::chain`], which run on
//! clips at their native rate; at 16 kHz each gives exactly what its 16 kHz form gives.
//!
//! The lossy codec is a stand-in: no well-kept pure-Rust encoder for MP3, Opus or AAC exists, and
//! this crate takes no C dependencies, so [`lossy_codec`] imitates what such codecs do to speech
//! at low bit rates (a band limit, coarse spectral quantisation, masked bins dropped) without
//! reproducing any real bit stream. See its module for the details.

mod channel;
mod codec;
mod noise;
mod reverb;
mod telephone;

pub use channel::{
    band_limit, clip, clip_to_peak_fraction, level_and_dc, mic_response, resample_chain,
    ClipParams, FilterKind, FilterSection, LevelParams, MicResponseParams, ResampleChainParams,
};
pub use codec::{lossy_codec, lossy_codec_at, LossyCodecParams};
pub use noise::{
    add_at_snr, babble, coloured_noise, coloured_noise_at, hum, shaped_noise, synthetic_talkers,
    BabbleParams, ColouredNoiseParams, HumParams, NoiseColour,
};
pub use reverb::{
    convolve_same_length, fft_convolve, reverb, reverb_at, room_impulse_response,
    room_impulse_response_at, ReverbParams,
};
pub use telephone::{
    alaw_decode, alaw_encode, g711_channel, mulaw_decode, mulaw_encode, telephone, Companding,
    TelephoneParams,
};

use crate::audio::AudioError;

/// The sample rate every generator here expects and returns.
pub const SAMPLE_RATE_HZ: u32 = 16_000;

/// Why a condition could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ConditionError {
    /// A resampling step failed (a rate outside what the resampler accepts).
    #[error("condition `{condition}`: {source}")]
    Resample {
        condition: &'static str,
        #[source]
        source: AudioError,
    },
    /// A parameter is outside the range the generator can use.
    #[error("condition parameter `{field}` {message}")]
    InvalidParam {
        field: &'static str,
        message: String,
    },
    /// A real lossy codec's round trip failed.
    #[error("condition `codec`: {source}")]
    Codec {
        #[source]
        source: crate::augment::codecs::CodecError,
    },
}

/// Mean power (mean square) of a signal; 0 for an empty one.
pub fn mean_power(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64
}

/// A biquad section in direct form I, coefficients normalised by a0 (as in the RBJ "Audio EQ
/// Cookbook", whose formulas the constructors use).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn normalised(b: [f64; 3], a: [f64; 3]) -> Self {
        Self {
            b: [b[0] / a[0], b[1] / a[0], b[2] / a[0]],
            a: [a[1] / a[0], a[2] / a[0]],
        }
    }

    fn omega(freq_hz: f64, sample_rate_hz: u32) -> (f64, f64) {
        let w0 = std::f64::consts::TAU * freq_hz / sample_rate_hz as f64;
        (w0.cos(), w0.sin())
    }

    /// Second-order Butterworth-like high-pass (Q = 1/√2 unless given).
    pub(crate) fn highpass(freq_hz: f64, q: f64, sample_rate_hz: u32) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate_hz);
        let alpha = sin / (2.0 * q);
        Self::normalised(
            [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    /// Second-order low-pass.
    pub(crate) fn lowpass(freq_hz: f64, q: f64, sample_rate_hz: u32) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate_hz);
        let alpha = sin / (2.0 * q);
        Self::normalised(
            [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    /// Peaking equaliser: `gain_db` at `freq_hz`, bandwidth set by `q`.
    pub(crate) fn peaking(freq_hz: f64, gain_db: f64, q: f64, sample_rate_hz: u32) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate_hz);
        let amp = 10f64.powf(gain_db / 40.0);
        let alpha = sin / (2.0 * q);
        Self::normalised(
            [1.0 + alpha * amp, -2.0 * cos, 1.0 - alpha * amp],
            [1.0 + alpha / amp, -2.0 * cos, 1.0 - alpha / amp],
        )
    }

    /// Low (`high = false`) or high shelf with shelf slope 1.
    pub(crate) fn shelf(freq_hz: f64, gain_db: f64, high: bool, sample_rate_hz: u32) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate_hz);
        let amp = 10f64.powf(gain_db / 40.0);
        let alpha = sin / 2.0 * std::f64::consts::SQRT_2;
        let beta = 2.0 * amp.sqrt() * alpha;
        let sign = if high { 1.0 } else { -1.0 };
        // The cookbook's high shelf is its low shelf with the sign of cos flipped.
        Self::normalised(
            [
                amp * ((amp + 1.0) + sign * (amp - 1.0) * cos + beta),
                -2.0 * sign * amp * ((amp - 1.0) + sign * (amp + 1.0) * cos),
                amp * ((amp + 1.0) + sign * (amp - 1.0) * cos - beta),
            ],
            [
                (amp + 1.0) - sign * (amp - 1.0) * cos + beta,
                2.0 * sign * ((amp - 1.0) - sign * (amp + 1.0) * cos),
                (amp + 1.0) - sign * (amp - 1.0) * cos - beta,
            ],
        )
    }

    /// Filter `x` in place (zero initial state).
    pub(crate) fn process(&self, x: &mut [f64]) {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        for v in x.iter_mut() {
            let x0 = *v;
            let y0 =
                self.b[0] * x0 + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
            x2 = x1;
            x1 = x0;
            y2 = y1;
            y1 = y0;
            *v = y0;
        }
    }
}

/// `x` as `f64` for filtering.
pub(crate) fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// `x` back to `f32`.
pub(crate) fn to_f32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gain of a biquad at one frequency, measured on a steady sine.
    fn gain_at(filter: &Biquad, freq_hz: f64) -> f64 {
        let n = 16_000;
        let mut x: Vec<f64> = (0..n)
            .map(|i| (std::f64::consts::TAU * freq_hz * i as f64 / 16_000.0).sin())
            .collect();
        filter.process(&mut x);
        let tail = &x[n / 2..];
        (2.0 * tail.iter().map(|v| v * v).sum::<f64>() / tail.len() as f64).sqrt()
    }

    #[test]
    fn cookbook_filters_have_their_nominal_gains() {
        let db = |g: f64| 20.0 * g.log10();
        assert!(
            (db(gain_at(
                &Biquad::peaking(1000.0, 6.0, 1.0, SAMPLE_RATE_HZ),
                1000.0
            )) - 6.0)
                .abs()
                < 0.1
        );
        assert!(
            (db(gain_at(
                &Biquad::shelf(300.0, -8.0, false, SAMPLE_RATE_HZ),
                40.0
            )) + 8.0)
                .abs()
                < 0.3
        );
        assert!(
            (db(gain_at(
                &Biquad::shelf(3000.0, 5.0, true, SAMPLE_RATE_HZ),
                7500.0
            )) - 5.0)
                .abs()
                < 0.3
        );
        assert!(
            gain_at(
                &Biquad::highpass(300.0, std::f64::consts::FRAC_1_SQRT_2, SAMPLE_RATE_HZ),
                30.0
            ) < 0.02
        );
        assert!(
            (db(gain_at(
                &Biquad::highpass(300.0, std::f64::consts::FRAC_1_SQRT_2, SAMPLE_RATE_HZ),
                300.0
            )) + 3.0)
                .abs()
                < 0.2
        );
        assert!(
            gain_at(
                &Biquad::lowpass(1000.0, std::f64::consts::FRAC_1_SQRT_2, SAMPLE_RATE_HZ),
                6000.0
            ) < 0.05
        );
    }
}
