//! Band-limited sample-rate conversion of mono clips (rubato).
//!
//! Rates with a small common ratio (44.1/48/22.05/8 kHz → 16 kHz) use rubato's synchronous FFT
//! resampler, whose anti-aliasing filter sits just below the lower Nyquist frequency. Odd rates whose
//! reduced ratio would need a huge FFT use its asynchronous windowed-sinc resampler (256 taps,
//! Blackman-Harris², cubic interpolation), of the same quality. Both trim the filter delay, so the
//! output lines up with the input and has round(len · to / from) samples (±1).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters, WindowFunction,
};

use super::AudioError;

/// Lowest sample rate accepted on either side; bounds the upsampling factor (and memory).
pub const MIN_SAMPLE_RATE_HZ: u32 = 1_000;
/// Highest sample rate accepted on either side.
pub const MAX_SAMPLE_RATE_HZ: u32 = 1_536_000;

/// Largest reduced input block (`from / gcd(from, to)`) handed to the FFT resampler.
const MAX_FFT_BLOCK: u32 = 8_192;
const CHUNK_FRAMES: usize = 1_024;

/// Resample mono samples from `from_hz` to `to_hz` with a band-limited (anti-aliased) filter.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, AudioError> {
    let invalid = |detail: String| AudioError::InvalidResample {
        from_hz,
        to_hz,
        detail,
    };
    for rate_hz in [from_hz, to_hz] {
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&rate_hz) {
            return Err(invalid(format!(
                "sample rates must lie in {MIN_SAMPLE_RATE_HZ}..={MAX_SAMPLE_RATE_HZ} Hz"
            )));
        }
    }
    if from_hz == to_hz || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let input = InterleavedSlice::new(samples, 1, samples.len())
        .map_err(|e| invalid(format!("input buffer: {e}")))?;
    let reduced_in = from_hz / gcd(from_hz, to_hz);
    let resampled = if reduced_in <= MAX_FFT_BLOCK {
        let mut fft = Fft::<f32>::new(
            from_hz as usize,
            to_hz as usize,
            CHUNK_FRAMES,
            1,
            FixedSync::Both,
        )
        .map_err(|e| invalid(e.to_string()))?;
        fft.process_all(&input, samples.len(), None)
    } else {
        let params = SincInterpolationParameters::new(256, WindowFunction::BlackmanHarris2)
            .oversampling_factor(256);
        let mut sinc = Async::<f32>::new_sinc(
            f64::from(to_hz) / f64::from(from_hz),
            1.0,
            &params,
            CHUNK_FRAMES,
            1,
            FixedAsync::Input,
        )
        .map_err(|e| invalid(e.to_string()))?;
        sinc.process_all(&input, samples.len(), None)
    };
    let resampled = resampled.map_err(|e| invalid(e.to_string()))?;
    Ok(resampled.take_data())
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(freq_hz: f64, rate_hz: u32, len: usize, amplitude: f64) -> Vec<f32> {
        (0..len)
            .map(|n| {
                (amplitude * (2.0 * PI * freq_hz * n as f64 / f64::from(rate_hz)).sin()) as f32
            })
            .collect()
    }

    /// Amplitude of the `freq_hz` component by a direct DFT (Hann window, coherent-gain corrected)
    /// over the middle of the signal, away from edge effects.
    fn tone_amplitude(x: &[f32], rate_hz: u32, freq_hz: f64) -> f64 {
        let skip = x.len() / 8;
        let seg = &x[skip..x.len() - skip];
        let n = seg.len() as f64;
        let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
        for (i, &v) in seg.iter().enumerate() {
            let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / n).cos();
            let phase = 2.0 * PI * freq_hz * i as f64 / f64::from(rate_hz);
            re += w * f64::from(v) * phase.cos();
            im -= w * f64::from(v) * phase.sin();
            wsum += w;
        }
        2.0 * (re * re + im * im).sqrt() / wsum
    }

    fn rms_middle(x: &[f32]) -> f64 {
        let skip = x.len() / 8;
        let seg = &x[skip..x.len() - skip];
        (seg.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / seg.len() as f64).sqrt()
    }

    /// Frequency of the largest DFT bin of the middle (coarse, 1 Hz steps around a guess).
    fn peak_frequency(x: &[f32], rate_hz: u32, around_hz: f64) -> f64 {
        (0..=400)
            .map(|k| around_hz - 200.0 + k as f64)
            .max_by(|a, b| {
                tone_amplitude(x, rate_hz, *a).total_cmp(&tone_amplitude(x, rate_hz, *b))
            })
            .unwrap_or(0.0)
    }

    #[test]
    fn one_khz_sine_keeps_frequency_and_amplitude() {
        for from_hz in [44_100u32, 48_000, 8_000, 22_050, 44_101] {
            let len = from_hz as usize / 2; // 0.5 s
            let x = sine(1_000.0, from_hz, len, 0.5);
            let y = resample(&x, from_hz, 16_000).unwrap();
            let expected_len = (len as f64 * 16_000.0 / f64::from(from_hz)).round() as i64;
            assert!(
                (y.len() as i64 - expected_len).abs() <= 1,
                "{from_hz}: len {} vs {expected_len}",
                y.len()
            );
            let amp = tone_amplitude(&y, 16_000, 1_000.0);
            assert!((amp - 0.5).abs() < 0.005, "{from_hz}: amplitude {amp}");
            let rms = rms_middle(&y);
            assert!(
                (rms - 0.5 / 2f64.sqrt()).abs() < 0.005,
                "{from_hz}: rms {rms}"
            );
            let f = peak_frequency(&y, 16_000, 1_000.0);
            assert!((f - 1_000.0).abs() <= 1.0, "{from_hz}: peak at {f} Hz");
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_are_removed() {
        // 10 kHz at 48 kHz would alias to 6 kHz at 16 kHz; 9 kHz to 7 kHz.
        for (tone_hz, alias_hz) in [(10_000.0, 6_000.0), (9_000.0, 7_000.0)] {
            for from_hz in [48_000u32, 44_101] {
                let x = sine(tone_hz, from_hz, from_hz as usize / 2, 0.5);
                let y = resample(&x, from_hz, 16_000).unwrap();
                let gain_db = 20.0 * (rms_middle(&y) / (0.5 / 2f64.sqrt())).log10();
                assert!(
                    gain_db < -40.0,
                    "{tone_hz} Hz from {from_hz}: {gain_db:.1} dB"
                );
                let alias = tone_amplitude(&y, 16_000, alias_hz);
                assert!(alias < 0.005, "{tone_hz} Hz alias amplitude {alias}");
            }
        }
    }

    #[test]
    fn passband_and_transition_band() {
        // 7.5 kHz sits in the anti-aliasing filter's transition band just below 8 kHz: it is
        // attenuated but not removed; 6 kHz is passed essentially untouched.
        let x = sine(6_000.0, 48_000, 24_000, 0.5);
        let y = resample(&x, 48_000, 16_000).unwrap();
        let amp = tone_amplitude(&y, 16_000, 6_000.0);
        assert!((amp - 0.5).abs() < 0.01, "6 kHz amplitude {amp}");

        let x = sine(7_500.0, 48_000, 24_000, 0.5);
        let y = resample(&x, 48_000, 16_000).unwrap();
        let gain_db = 20.0 * (tone_amplitude(&y, 16_000, 7_500.0) / 0.5).log10();
        assert!(gain_db < 0.5, "7.5 kHz gain {gain_db:.1} dB");
    }

    #[test]
    fn upsampling_keeps_the_tone() {
        let x = sine(1_000.0, 8_000, 4_000, 0.5);
        let y = resample(&x, 8_000, 16_000).unwrap();
        assert!((y.len() as i64 - 8_000).abs() <= 1);
        let amp = tone_amplitude(&y, 16_000, 1_000.0);
        assert!((amp - 0.5).abs() < 0.005, "amplitude {amp}");
    }

    #[test]
    fn identity_empty_and_bad_rates() {
        let x = vec![0.1f32, -0.2, 0.3];
        assert_eq!(resample(&x, 16_000, 16_000).unwrap(), x);
        assert!(resample(&[], 44_100, 16_000).unwrap().is_empty());
        assert!(resample(&x, 0, 16_000).is_err());
        assert!(resample(&x, 16_000, 0).is_err());
        assert!(resample(&x, u32::MAX, 16_000).is_err());
        // Very short clips still come out with the right length.
        let y = resample(&x, 48_000, 16_000).unwrap();
        assert_eq!(y.len(), 1);
    }
}
