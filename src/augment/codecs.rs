//! Real lossy codec round trips: MP3 (LAME, through `mp3lame-encoder`; decoded by symphonia),
//! Ogg Vorbis (libvorbis with the aoTuV tuning, through `vorbis_rs`) and Opus (libopus, through
//! the `opus` crate). Each encodes a mono clip at a bit rate, decodes it and returns exactly as
//! many samples as it was given, time-aligned with the input: the encoders' delays are removed
//! (LAME's from the gapless tag it writes, Opus's from its reported look-ahead; Vorbis keeps the
//! length by its granule positions).
//!
//! The C libraries come with the `codecs` feature (on by default); LAME and libvorbis are built
//! from the sources the crates bundle, libopus is the system's (`libopus-dev` on Debian). Without
//! the feature every round trip is an [`CodecError::NotBuilt`] naming the feature, and chain
//! validation reports it before a run starts.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A real lossy codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossyCodec {
    /// MPEG-1/2 Layer III through LAME, constant bit rate.
    Mp3,
    /// Ogg Vorbis, average bit rate.
    Vorbis,
    /// Opus (the `audio` application), constant bit rate, 20 ms frames.
    Opus,
}

impl LossyCodec {
    /// Every codec.
    pub const ALL: [LossyCodec; 3] = [LossyCodec::Mp3, LossyCodec::Vorbis, LossyCodec::Opus];

    /// The codec of a name as [`LossyCodec::name`] writes it (`mp3`, `vorbis`, `opus`).
    pub fn from_name(name: &str) -> Option<LossyCodec> {
        LossyCodec::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The name written in chain files and reports.
    pub fn name(self) -> &'static str {
        match self {
            LossyCodec::Mp3 => "mp3",
            LossyCodec::Vorbis => "vorbis",
            LossyCodec::Opus => "opus",
        }
    }

    /// The bit rates, in kbit/s, a chain may ask of the codec for mono speech at 16 kHz. MP3
    /// snaps to LAME's nearest allowed rate, so the report carries the rate used.
    pub fn bitrate_bounds_kbps(self) -> (f64, f64) {
        match self {
            LossyCodec::Mp3 => (8.0, 160.0),
            // libvorbis's mono setups at 16 kHz; other rates clamp to their own range.
            LossyCodec::Vorbis => (16.0, 100.0),
            LossyCodec::Opus => (6.0, 256.0),
        }
    }
}

/// What a round trip used.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodecUsed {
    /// The codec.
    pub codec: LossyCodec,
    /// The bit rate asked of the encoder, kbit/s: MP3's snapped to an allowed rate, Vorbis's
    /// clamped to the range of the codec rate.
    pub bitrate_kbps: f64,
    /// The rate the codec ran at; the clip is resampled there and back when it differs.
    pub codec_rate_hz: u32,
}

/// Why a round trip failed.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The binary was built without the codec libraries.
    #[error(
        "the {codec} codec needs the `codecs` feature, and this build was made without it \
         (build with default features)"
    )]
    NotBuilt { codec: &'static str },
    /// A bit rate outside the codec's range.
    #[error("{codec}: bit rate {bitrate_kbps} kbit/s is outside {low}–{high} kbit/s")]
    Bitrate {
        codec: &'static str,
        bitrate_kbps: f64,
        low: f64,
        high: f64,
    },
    /// The encoder refused its settings or the input.
    #[error("{codec} encoder at {sample_rate_hz} Hz, {bitrate_kbps} kbit/s: {detail}")]
    Encode {
        codec: &'static str,
        sample_rate_hz: u32,
        bitrate_kbps: f64,
        detail: String,
    },
    /// The decoder could not read what the encoder wrote.
    #[error("{codec} decoder: {detail}")]
    Decode { codec: &'static str, detail: String },
    /// Resampling to or from the codec's rate failed.
    #[error("{codec}: resampling between {from_hz} and {to_hz} Hz: {detail}")]
    Resample {
        codec: &'static str,
        from_hz: u32,
        to_hz: u32,
        detail: String,
    },
}

/// Whether this build has the codec libraries.
pub const fn available() -> bool {
    cfg!(feature = "codecs")
}

/// Encode `x` (mono, `sample_rate_hz`) with `codec` at `bitrate_kbps` and decode it again; the
/// output has `x.len()` samples at `sample_rate_hz`, aligned with `x`.
pub fn round_trip(
    x: &[f32],
    sample_rate_hz: u32,
    codec: LossyCodec,
    bitrate_kbps: f64,
) -> Result<(Vec<f32>, CodecUsed), CodecError> {
    let (low, high) = codec.bitrate_bounds_kbps();
    if !(bitrate_kbps >= low && bitrate_kbps <= high) {
        return Err(CodecError::Bitrate {
            codec: codec.name(),
            bitrate_kbps,
            low,
            high,
        });
    }
    imp::round_trip(x, sample_rate_hz, codec, bitrate_kbps)
}

#[cfg(not(feature = "codecs"))]
mod imp {
    use super::{CodecError, CodecUsed, LossyCodec};

    pub(super) fn round_trip(
        _x: &[f32],
        _sample_rate_hz: u32,
        codec: LossyCodec,
        _bitrate_kbps: f64,
    ) -> Result<(Vec<f32>, CodecUsed), CodecError> {
        Err(CodecError::NotBuilt {
            codec: codec.name(),
        })
    }
}

#[cfg(feature = "codecs")]
mod imp {
    use std::io::Cursor;
    use std::num::{NonZeroU32, NonZeroU8};
    use std::path::Path;

    use super::{CodecError, CodecUsed, LossyCodec};
    use crate::audio::decode_bytes;
    use crate::audio::resample;

    pub(super) fn round_trip(
        x: &[f32],
        sample_rate_hz: u32,
        codec: LossyCodec,
        bitrate_kbps: f64,
    ) -> Result<(Vec<f32>, CodecUsed), CodecError> {
        if x.is_empty() {
            let used = CodecUsed {
                codec,
                bitrate_kbps,
                codec_rate_hz: sample_rate_hz,
            };
            return Ok((Vec::new(), used));
        }
        let codec_rate_hz = codec_rate_hz(codec, sample_rate_hz);
        let to_codec = to_rate(codec, x, sample_rate_hz, codec_rate_hz)?;
        let (coded, bitrate_kbps) = match codec {
            LossyCodec::Mp3 => mp3(&to_codec, codec_rate_hz, bitrate_kbps)?,
            LossyCodec::Vorbis => {
                let kbps = VORBIS_KBPS
                    .iter()
                    .find(|(rate_hz, _, _)| *rate_hz == codec_rate_hz)
                    .map_or(bitrate_kbps, |&(_, low, high)| {
                        bitrate_kbps.clamp(f64::from(low), f64::from(high))
                    });
                (vorbis(&to_codec, codec_rate_hz, kbps)?, kbps)
            }
            LossyCodec::Opus => (opus(&to_codec, codec_rate_hz, bitrate_kbps)?, bitrate_kbps),
        };
        let mut y = to_rate(codec, &coded, codec_rate_hz, sample_rate_hz)?;
        y.resize(x.len(), 0.0);
        Ok((
            y,
            CodecUsed {
                codec,
                bitrate_kbps,
                codec_rate_hz,
            },
        ))
    }

    /// libvorbis's mono setups: the rates with a tuned mode, and the average bit rates (kbit/s)
    /// its encoder accepts at each (found by asking it for every whole kbit/s up to 300).
    const VORBIS_KBPS: [(u32, u32, u32); 7] = [
        (8_000, 8, 42),
        (11_025, 14, 50),
        (16_000, 16, 100),
        (22_050, 22, 90),
        (32_000, 26, 190),
        (44_100, 28, 240),
        (48_000, 28, 240),
    ];

    /// The codec's rate for a clip: the clip's own where the codec has it, else the next one up
    /// (Opus runs at 8, 12, 16, 24 or 48 kHz; MP3 at the MPEG rates; Vorbis at its tuned rates).
    fn codec_rate_hz(codec: LossyCodec, sample_rate_hz: u32) -> u32 {
        let rates: &[u32] = match codec {
            LossyCodec::Opus => &[8_000, 12_000, 16_000, 24_000, 48_000],
            LossyCodec::Mp3 => &[
                8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
            ],
            LossyCodec::Vorbis => &VORBIS_KBPS.map(|(rate_hz, _, _)| rate_hz),
        };
        if rates.contains(&sample_rate_hz) {
            sample_rate_hz
        } else {
            // The smallest codec rate at or above the clip's keeps its whole band.
            rates
                .iter()
                .copied()
                .find(|&r| r >= sample_rate_hz)
                .unwrap_or(48_000)
        }
    }

    fn to_rate(
        codec: LossyCodec,
        x: &[f32],
        from_hz: u32,
        to_hz: u32,
    ) -> Result<Vec<f32>, CodecError> {
        if from_hz == to_hz {
            return Ok(x.to_vec());
        }
        resample(x, from_hz, to_hz).map_err(|e| CodecError::Resample {
            codec: codec.name(),
            from_hz,
            to_hz,
            detail: e.to_string(),
        })
    }

    fn encode_error(
        codec: LossyCodec,
        sample_rate_hz: u32,
        bitrate_kbps: f64,
    ) -> impl Fn(String) -> CodecError {
        move |detail| CodecError::Encode {
            codec: codec.name(),
            sample_rate_hz,
            bitrate_kbps,
            detail,
        }
    }

    fn decode_error(codec: LossyCodec) -> impl Fn(String) -> CodecError {
        move |detail| CodecError::Decode {
            codec: codec.name(),
            detail,
        }
    }

    /// LAME's constant bit rates (those the binding names) for MPEG-1 (32–48 kHz) and MPEG-2/2.5
    /// (8–24 kHz) streams.
    const MP3_KBPS_MPEG1: [u16; 13] = [32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const MP3_KBPS_MPEG2: [u16; 12] = [8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160];

    /// LAME's encoder delay (576 samples, its ENCDELAY) plus the Layer III decoder's synthesis
    /// delay (528 + 1): where the clip's first sample lands in the decoded stream, at any rate.
    const MP3_DELAY_SAMPLES: usize = 576 + 529;

    /// The allowed rate nearest `kbps` (ties to the lower).
    fn snap_mp3_kbps(kbps: f64, rate_hz: u32) -> u16 {
        let allowed: &[u16] = if rate_hz >= 32_000 {
            &MP3_KBPS_MPEG1
        } else {
            &MP3_KBPS_MPEG2
        };
        let mut best = allowed[0];
        for &r in allowed {
            if (f64::from(r) - kbps).abs() < (f64::from(best) - kbps).abs() {
                best = r;
            }
        }
        best
    }

    fn mp3(x: &[f32], rate_hz: u32, kbps: f64) -> Result<(Vec<f32>, f64), CodecError> {
        use mp3lame_encoder::{Bitrate, Builder, FlushGap, Mode, MonoPcm, Quality};
        let snapped = snap_mp3_kbps(kbps, rate_hz);
        let err = encode_error(LossyCodec::Mp3, rate_hz, f64::from(snapped));
        let brate = match snapped {
            8 => Bitrate::Kbps8,
            16 => Bitrate::Kbps16,
            24 => Bitrate::Kbps24,
            32 => Bitrate::Kbps32,
            40 => Bitrate::Kbps40,
            48 => Bitrate::Kbps48,
            64 => Bitrate::Kbps64,
            80 => Bitrate::Kbps80,
            96 => Bitrate::Kbps96,
            112 => Bitrate::Kbps112,
            128 => Bitrate::Kbps128,
            160 => Bitrate::Kbps160,
            192 => Bitrate::Kbps192,
            224 => Bitrate::Kbps224,
            256 => Bitrate::Kbps256,
            _ => Bitrate::Kbps320,
        };
        let mut builder = Builder::new().ok_or_else(|| err("LAME could not start".into()))?;
        let setup = |b: &mut Builder| -> Result<(), String> {
            b.set_num_channels(1).map_err(|e| e.to_string())?;
            b.set_sample_rate(rate_hz).map_err(|e| e.to_string())?;
            b.set_output_sample_rate(NonZeroU32::new(rate_hz))
                .map_err(|e| e.to_string())?;
            b.set_brate(brate).map_err(|e| e.to_string())?;
            b.set_mode(Mode::Mono).map_err(|e| e.to_string())?;
            b.set_quality(Quality::Good).map_err(|e| e.to_string())?;
            // LAME's bit-rate presets also lower the level by about 5 % against clipping
            // (presets.c); kept, as every MP3 LAME makes at these rates has it.
            // No LAME tag: at low rates its frame is too small for the tag, so the delay is
            // trimmed here (MP3_DELAY_SAMPLES) the same way at every rate.
            b.set_to_write_vbr_tag(false).map_err(|e| e.to_string())?;
            Ok(())
        };
        setup(&mut builder).map_err(&err)?;
        let mut encoder = builder.build().map_err(|e| err(e.to_string()))?;
        // The binding writes into spare capacity only: room for the frames, then for the flush.
        let mut bytes = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(
            x.len() + 2 * 1152,
        ));
        encoder
            .encode_to_vec(MonoPcm(x), &mut bytes)
            .map_err(|e| err(e.to_string()))?;
        // Two frames of silence after the clip: symphonia can leave out a stream's last frame,
        // and then it holds only this padding.
        encoder
            .encode_to_vec(MonoPcm(&[0f32; 2 * 1152][..]), &mut bytes)
            .map_err(|e| err(e.to_string()))?;
        bytes.reserve(7200);
        encoder
            .flush_to_vec::<FlushGap>(&mut bytes)
            .map_err(|e| err(e.to_string()))?;
        let mut clip = decode_bytes(&bytes, Path::new("round-trip.mp3"))
            .map_err(|e| decode_error(LossyCodec::Mp3)(e.to_string()))?;
        if clip.sample_rate_hz != rate_hz {
            return Err(decode_error(LossyCodec::Mp3)(format!(
                "decoded at {} Hz, encoded at {rate_hz} Hz",
                clip.sample_rate_hz
            )));
        }
        Ok((
            clip.samples
                .split_off(MP3_DELAY_SAMPLES.min(clip.samples.len())),
            f64::from(snapped),
        ))
    }

    fn vorbis(x: &[f32], rate_hz: u32, kbps: f64) -> Result<Vec<f32>, CodecError> {
        use vorbis_rs::{VorbisBitrateManagementStrategy, VorbisDecoder, VorbisEncoderBuilder};
        let err = encode_error(LossyCodec::Vorbis, rate_hz, kbps);
        let rate = NonZeroU32::new(rate_hz).ok_or_else(|| err("a rate of 0 Hz".into()))?;
        let bitrate = NonZeroU32::new((kbps * 1000.0).round() as u32)
            .ok_or_else(|| err("a bit rate of 0".into()))?;
        let mut out = Vec::new();
        // A fixed stream serial: the same clip and bit rate give the same bytes.
        let mut builder = VorbisEncoderBuilder::new_with_serial(rate, NonZeroU8::MIN, &mut out, 1);
        builder.bitrate_management_strategy(VorbisBitrateManagementStrategy::Abr {
            average_bitrate: bitrate,
        });
        let mut encoder = builder.build().map_err(|e| err(e.to_string()))?;
        for block in x.chunks(1024) {
            encoder
                .encode_audio_block([block])
                .map_err(|e| err(e.to_string()))?;
        }
        encoder.finish().map_err(|e| err(e.to_string()))?;
        let derr = decode_error(LossyCodec::Vorbis);
        let mut decoder = VorbisDecoder::new(Cursor::new(out)).map_err(|e| derr(e.to_string()))?;
        let mut y = Vec::with_capacity(x.len());
        while let Some(block) = decoder
            .decode_audio_block()
            .map_err(|e| derr(e.to_string()))?
        {
            if let Some(first) = block.samples().first() {
                y.extend_from_slice(first);
            }
        }
        Ok(y)
    }

    fn opus(x: &[f32], rate_hz: u32, kbps: f64) -> Result<Vec<f32>, CodecError> {
        use opus::{Application, Bitrate, Channels, Decoder, Encoder};
        let err = encode_error(LossyCodec::Opus, rate_hz, kbps);
        let derr = decode_error(LossyCodec::Opus);
        let mut encoder = Encoder::new(rate_hz, Channels::Mono, Application::Audio)
            .map_err(|e| err(e.to_string()))?;
        encoder
            .set_bitrate(Bitrate::Bits((kbps * 1000.0).round() as i32))
            .map_err(|e| err(e.to_string()))?;
        encoder.set_vbr(false).map_err(|e| err(e.to_string()))?;
        let lookahead =
            usize::try_from(encoder.get_lookahead().map_err(|e| err(e.to_string()))?).unwrap_or(0);
        let mut decoder = Decoder::new(rate_hz, Channels::Mono).map_err(|e| derr(e.to_string()))?;
        let frame = rate_hz as usize / 50;
        // Feed the look-ahead's worth of silence after the clip so its last samples come out.
        let total = (x.len() + lookahead).div_ceil(frame) * frame;
        let mut padded = x.to_vec();
        padded.resize(total, 0.0);
        let mut packet = vec![0u8; 4000];
        let mut pcm = vec![0f32; frame];
        let mut y = Vec::with_capacity(total);
        for chunk in padded.chunks(frame) {
            let len = encoder
                .encode_float(chunk, &mut packet)
                .map_err(|e| err(e.to_string()))?;
            let got = decoder
                .decode_float(&packet[..len], &mut pcm, false)
                .map_err(|e| derr(e.to_string()))?;
            y.extend_from_slice(&pcm[..got.min(frame)]);
        }
        Ok(y.split_off(lookahead.min(y.len())))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn mp3_rates_snap_to_the_nearest_allowed_one_of_their_mpeg_version() {
            assert_eq!(snap_mp3_kbps(20.0, 16_000), 16);
            assert_eq!(snap_mp3_kbps(21.0, 16_000), 24);
            assert_eq!(snap_mp3_kbps(8.0, 44_100), 32);
            assert_eq!(snap_mp3_kbps(300.0, 16_000), 160);
            assert_eq!(snap_mp3_kbps(300.0, 48_000), 320);
        }

        #[test]
        fn opus_and_mp3_rates_round_up_to_a_codec_rate() {
            assert_eq!(codec_rate_hz(LossyCodec::Opus, 16_000), 16_000);
            assert_eq!(codec_rate_hz(LossyCodec::Opus, 44_100), 48_000);
            assert_eq!(codec_rate_hz(LossyCodec::Opus, 22_050), 24_000);
            assert_eq!(codec_rate_hz(LossyCodec::Mp3, 44_100), 44_100);
            assert_eq!(codec_rate_hz(LossyCodec::Mp3, 96_000), 48_000);
            assert_eq!(codec_rate_hz(LossyCodec::Vorbis, 44_100), 44_100);
            assert_eq!(codec_rate_hz(LossyCodec::Vorbis, 12_000), 16_000);
            assert_eq!(codec_rate_hz(LossyCodec::Vorbis, 96_000), 48_000);
        }
    }
}

#[cfg(all(test, feature = "codecs"))]
mod tests {
    use super::*;

    /// A voiced-speech-like test signal: harmonics of a pitch gliding from 100 to 250 Hz (so no
    /// lag but 0 lines it up with itself) under a slow envelope.
    fn voiced(len: usize, rate_hz: u32) -> Vec<f32> {
        let duration_s = len as f64 / f64::from(rate_hz);
        (0..len)
            .map(|i| {
                let t = i as f64 / f64::from(rate_hz);
                let envelope = 0.5 + 0.5 * (std::f64::consts::TAU * 3.0 * t).sin();
                let f0 = 100.0 + 150.0 * t / duration_s;
                // The phase of the glide: the integral of f0 over time.
                let phase = std::f64::consts::TAU * (100.0 * t + 75.0 * t * t / duration_s);
                let mut v = 0.0;
                for h in 1..=20 {
                    if f0 * f64::from(h) < 0.45 * f64::from(rate_hz) {
                        v += (f64::from(h) * phase).sin() / f64::from(h);
                    }
                }
                (0.2 * envelope * v) as f32
            })
            .collect()
    }

    /// The lag in `-max..=max` at which `y` best matches `x` (normalised cross-correlation).
    fn best_lag(x: &[f32], y: &[f32], max: i64) -> i64 {
        let n = x.len() as i64;
        let mut best = (f64::MIN, 0);
        for lag in -max..=max {
            let mut dot = 0.0f64;
            for i in 0..n {
                let j = i + lag;
                if j >= 0 && j < n {
                    dot += f64::from(x[i as usize]) * f64::from(y[j as usize]);
                }
            }
            if dot > best.0 {
                best = (dot, lag);
            }
        }
        best.1
    }

    /// The SNR of `y` against `x` after the best scalar gain: LAME, for one, returns the level
    /// about 5 % lower (as the reference decoder mpg123 shows too), which is no noise.
    fn snr_db(x: &[f32], y: &[f32]) -> f64 {
        let signal: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        let cross: f64 = x
            .iter()
            .zip(y)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let gain = cross / signal.max(1e-30);
        let noise: f64 = x
            .iter()
            .zip(y)
            .map(|(&a, &b)| (gain * f64::from(a) - f64::from(b)).powi(2))
            .sum();
        10.0 * (gain * gain * signal / noise.max(1e-30)).log10()
    }

    #[test]
    fn every_codec_keeps_the_length_and_the_timing_and_degrades_with_the_bit_rate() {
        for rate_hz in [16_000u32, 44_100] {
            let x = voiced(rate_hz as usize * 3 / 2 + 123, rate_hz);
            for codec in [LossyCodec::Mp3, LossyCodec::Vorbis, LossyCodec::Opus] {
                let (low, high) = codec.bitrate_bounds_kbps();
                let (y_low, used_low) = round_trip(&x, rate_hz, codec, low).unwrap();
                let (y_high, used_high) = round_trip(&x, rate_hz, codec, high).unwrap();
                for y in [&y_low, &y_high] {
                    assert_eq!(y.len(), x.len(), "{codec:?} at {rate_hz} Hz");
                    assert!(y.iter().all(|v| v.is_finite()));
                    assert_ne!(y.as_slice(), x.as_slice());
                }
                // Aligned: the best lag is 0 at the high rate (within a sample of resampling)
                // and within 0.1 ms at the low one, where Opus codes a narrow band by SILK.
                let lag = best_lag(&x, &y_high, 1200);
                let lag_low = best_lag(&x, &y_low, 1200);
                assert!(
                    lag.abs() <= 1 && lag_low.abs() as f64 <= (1e-4 * f64::from(rate_hz)).max(1.0),
                    "{codec:?} at {rate_hz} Hz: lag {lag} (low rate {lag_low})"
                );
                let (snr_low, snr_high) = (snr_db(&x, &y_low), snr_db(&x, &y_high));
                eprintln!(
                    "{codec:?} at {rate_hz} Hz: {snr_low:.1} dB SNR at {} kbit/s, {snr_high:.1} dB \
                     at {} kbit/s",
                    used_low.bitrate_kbps, used_high.bitrate_kbps
                );
                assert!(
                    snr_high > snr_low && snr_high > 10.0,
                    "{codec:?} at {rate_hz} Hz: SNR {snr_low:.1} dB at {} kbit/s, \
                     {snr_high:.1} dB at {} kbit/s",
                    used_low.bitrate_kbps,
                    used_high.bitrate_kbps
                );
                assert_eq!(used_high.codec, codec);
                // Deterministic: the same input gives the same output.
                assert_eq!(round_trip(&x, rate_hz, codec, high).unwrap().0, y_high);
            }
        }
    }

    #[test]
    fn bit_rates_outside_the_range_and_empty_clips() {
        let e = round_trip(&[0.1; 1600], 16_000, LossyCodec::Opus, 1.0).unwrap_err();
        assert!(e.to_string().contains("opus: bit rate 1 kbit/s"), "{e}");
        let e = round_trip(&[0.1; 1600], 16_000, LossyCodec::Mp3, f64::NAN).unwrap_err();
        assert!(matches!(e, CodecError::Bitrate { .. }), "{e}");
        let (y, _) = round_trip(&[], 16_000, LossyCodec::Vorbis, 32.0).unwrap();
        assert!(y.is_empty());
    }
}
