//! A narrow-band telephone channel: the 300–3400 Hz band, 8 kHz sampling and 8-bit G.711
//! companding (μ-law as in North America and Japan, A-law as in Europe), then back to 16 kHz.
//! The companding laws follow ITU-T G.711's segment tables: μ-law on 14-bit magnitudes with a
//! bias of 33 (132 at 16-bit scale), A-law on 13-bit values with 7 segments plus a linear one.

use serde::{Deserialize, Serialize};

use super::{to_f32, to_f64, Biquad, ConditionError, SAMPLE_RATE_HZ};
use crate::audio::resample;
use crate::rng::Rng;

/// Sampling rate of the narrow-band channel.
const TELEPHONE_RATE_HZ: u32 = 8_000;
/// Pass band of the channel, Hz (ITU-T G.712's nominal telephone band).
const BAND_HZ: (f64, f64) = (300.0, 3400.0);

/// Which G.711 companding law the channel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Companding {
    MuLaw,
    ALaw,
}

impl Companding {
    /// Name as written in keys: `ulaw` or `alaw`.
    pub fn name(self) -> &'static str {
        match self {
            Companding::MuLaw => "ulaw",
            Companding::ALaw => "alaw",
        }
    }
}

/// A telephone channel.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelephoneParams {
    pub law: Companding,
}

impl TelephoneParams {
    /// μ-law or A-law with equal odds.
    pub fn draw(rng: &mut Rng) -> Self {
        Self {
            law: if rng.below(2) == 0 {
                Companding::MuLaw
            } else {
                Companding::ALaw
            },
        }
    }
}

/// μ-law bias at 16-bit scale (33 at G.711's 14-bit scale).
const MULAW_BIAS: i32 = 0x84;
/// Largest magnitude μ-law encodes before the bias overflows its top segment.
const MULAW_CLIP: i32 = 32_635;

/// G.711 μ-law code of a 16-bit linear sample.
pub fn mulaw_encode(sample: i16) -> u8 {
    let value = sample as i32;
    let sign = if value < 0 { 0x80 } else { 0x00 };
    let magnitude = value.abs().min(MULAW_CLIP) + MULAW_BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let top = (magnitude >> 7) as u32;
    let exponent = if top == 0 {
        0
    } else {
        31 - top.leading_zeros()
    };
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    !(sign | ((exponent as i32) << 4) | mantissa) as u8
}

/// 16-bit linear value of a G.711 μ-law code.
pub fn mulaw_decode(code: u8) -> i16 {
    let code = !code;
    let exponent = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
    if code & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Upper ends of the A-law segments on the 13-bit scale.
const ALAW_SEGMENT_ENDS: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

/// G.711 A-law code of a 16-bit linear sample (even bits inverted, as transmitted).
pub fn alaw_encode(sample: i16) -> u8 {
    let mut value = (sample as i32) >> 3;
    let mask = if value >= 0 {
        0xD5
    } else {
        // One's complement magnitude: −1 and 0 share the smallest code pair.
        value = -value - 1;
        0x55
    };
    let segment = ALAW_SEGMENT_ENDS
        .iter()
        .position(|&end| value <= end)
        .unwrap_or(8) as i32;
    if segment >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let shift = if segment < 2 { 1 } else { segment };
    let code = (segment << 4) | ((value >> shift) & 0x0F);
    (code ^ mask) as u8
}

/// 16-bit linear value of a G.711 A-law code (the middle of its quantisation interval).
pub fn alaw_decode(code: u8) -> i16 {
    let code = (code ^ 0x55) as i32;
    let segment = (code & 0x70) >> 4;
    let mut value = (code & 0x0F) << 4;
    value += match segment {
        0 => 8,
        _ => 0x108,
    };
    if segment > 1 {
        value <<= segment - 1;
    }
    if code & 0x80 != 0 {
        value as i16
    } else {
        -value as i16
    }
}

/// `x` through the telephone channel: band-passed to 300–3400 Hz, resampled to 8 kHz,
/// companded to 8 bits and expanded again, resampled back to 16 kHz; the length of `x`.
pub fn telephone(x: &[f32], params: &TelephoneParams) -> Result<Vec<f32>, ConditionError> {
    let err = |source| ConditionError::Resample {
        condition: "telephone",
        source,
    };
    let mut band = to_f64(x);
    // Two second-order sections on each side: 24 dB per octave outside the band.
    for _ in 0..2 {
        Biquad::highpass(BAND_HZ.0, std::f64::consts::FRAC_1_SQRT_2, SAMPLE_RATE_HZ)
            .process(&mut band);
        Biquad::lowpass(BAND_HZ.1, std::f64::consts::FRAC_1_SQRT_2, SAMPLE_RATE_HZ)
            .process(&mut band);
    }
    g711_channel(&to_f32(&band), SAMPLE_RATE_HZ, params.law).map_err(|e| match e {
        ConditionError::Resample { source, .. } => err(source),
        other => other,
    })
}

/// `x` (at `sample_rate_hz`) through a G.711 codec alone: resampled to its 8 kHz, each sample
/// companded to 8 bits and expanded again, resampled back; the length of `x`. The band above
/// 4 kHz is lost on the way, as on a real G.711 link.
pub fn g711_channel(
    x: &[f32],
    sample_rate_hz: u32,
    law: Companding,
) -> Result<Vec<f32>, ConditionError> {
    let err = |source| ConditionError::Resample {
        condition: "g711",
        source,
    };
    let narrow = resample(x, sample_rate_hz, TELEPHONE_RATE_HZ).map_err(err)?;
    let companded: Vec<f32> = narrow
        .iter()
        .map(|&v| {
            let linear = (v * 32_767.0).round().clamp(-32_768.0, 32_767.0) as i16;
            let decoded = match law {
                Companding::MuLaw => mulaw_decode(mulaw_encode(linear)),
                Companding::ALaw => alaw_decode(alaw_encode(linear)),
            };
            decoded as f32 / 32_768.0
        })
        .collect();
    let mut wide = resample(&companded, TELEPHONE_RATE_HZ, sample_rate_hz).map_err(err)?;
    wide.resize(x.len(), 0.0);
    Ok(wide)
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    #[test]
    fn mulaw_known_codes() {
        // G.711 Table 2a: zero is code 0xFF (all ones after inversion of 0x00); full scale
        // positive is 0x80, negative 0x00; they decode to ±8031 at 14-bit scale, ±32124 here.
        assert_eq!(mulaw_encode(0), 0xFF);
        assert_eq!(mulaw_encode(32_767), 0x80);
        assert_eq!(mulaw_encode(-32_768), 0x00);
        assert_eq!(mulaw_decode(0xFF), 0);
        assert_eq!(mulaw_decode(0x80), 32_124);
        assert_eq!(mulaw_decode(0x00), -32_124);
        assert_eq!(mulaw_decode(0x7F), 0);
    }

    #[test]
    fn alaw_known_codes() {
        // G.711 Table 1a: the smallest positive interval is 0xD5 (0x80 with even bits
        // inverted), decoding to +8 at 16-bit scale; full scale is 0xAA / 0x2A, ±32256.
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(32_767), 0xAA);
        assert_eq!(alaw_encode(-32_768), 0x2A);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
    }

    #[test]
    fn companding_round_trip_error_is_bounded_by_the_segment_step() {
        for v in (-32_768i32..=32_767).step_by(7) {
            let v = v as i16;
            let magnitude = (v as i32).abs();
            // Quantisation steps double per segment: half a step is at most magnitude/32 plus
            // the smallest step (μ-law: 8 at 16-bit scale; A-law: 16).
            let mu = mulaw_decode(mulaw_encode(v)) as i32;
            let bound = magnitude.min(MULAW_CLIP) / 16 + 8;
            assert!(
                (mu - (v as i32).clamp(-MULAW_CLIP, MULAW_CLIP)).abs() <= bound,
                "mu-law {v} -> {mu}"
            );
            let a = alaw_decode(alaw_encode(v)) as i32;
            assert!(
                (a - v as i32).abs() <= magnitude / 16 + 16,
                "A-law {v} -> {a}"
            );
            // Codes are stable: decoding and encoding again gives the same code (except μ-law's
            // negative zero, which decodes to 0 and so comes back as positive zero).
            if mu != 0 {
                assert_eq!(mulaw_encode(mu as i16), mulaw_encode(v));
            }
            assert_eq!(alaw_encode(a as i16), alaw_encode(v));
        }
    }

    #[test]
    fn telephone_output_is_narrow_band_and_keeps_length() {
        let mut rng = Rng::new(3);
        let x: Vec<f32> = (0..20_001).map(|_| (0.2 * rng.normal()) as f32).collect();
        for law in [Companding::MuLaw, Companding::ALaw] {
            let y = telephone(&x, &TelephoneParams { law }).unwrap();
            assert_eq!(y.len(), x.len());
            assert!(y.iter().all(|v| v.is_finite()));
            let n = 16_384;
            let mut planner = RealFftPlanner::<f32>::new();
            let fft = planner.plan_fft_forward(n);
            let mut input = y[..n].to_vec();
            let mut spectrum = fft.make_output_vec();
            fft.process(&mut input, &mut spectrum).unwrap();
            let total: f64 = spectrum.iter().map(|c| c.norm_sqr() as f64).sum();
            let above: f64 = spectrum[n / 4..].iter().map(|c| c.norm_sqr() as f64).sum();
            assert!(above / total < 0.01, "{law:?}: {:.4}", above / total);
        }
    }
}
