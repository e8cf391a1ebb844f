//! Decoding any supported file into one mono stream, plus the facts `dpda info` reports.
//!
//! RIFF/WAVE goes through hound (8/16/24/32-bit integer PCM and 32-bit float); FLAC, Ogg/Vorbis and
//! MP3 (and WAV codecs hound lacks, such as A-law) go through symphonia. Both paths feed a
//! [`MonoMixer`] that checks every sample is finite, tracks the peak and averages the channels.
//! Decoding is strict: a corrupt packet or a stream shorter than its header announces is an
//! error, never a silently shortened clip.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::mono::{AudioInfo, Decoded, MonoMixer};
use super::{read_file, AudioError, Clip};

/// Decode an in-memory file to mono at its native rate; `path` names it in errors and its
/// extension is a format hint.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<Clip, AudioError> {
    let decoded = decode_full(bytes, path)?;
    Ok(Clip {
        samples: decoded.mono,
        sample_rate_hz: decoded.info.sample_rate_hz,
    })
}

/// Container, codec, channels, native rate, bit depth, length and peak of an audio file.
pub fn info(path: &Path) -> Result<AudioInfo, AudioError> {
    let bytes = read_file(path)?;
    info_from_bytes(&bytes, path)
}

/// [`info`] for a file already in memory; `path` names it in errors.
pub fn info_from_bytes(bytes: &[u8], path: &Path) -> Result<AudioInfo, AudioError> {
    decode_full(bytes, path).map(|d| d.info)
}

/// Decode with whichever backend fits, behind a last-resort panic guard.
pub(crate) fn decode_full(bytes: &[u8], path: &Path) -> Result<Decoded, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    // The decoders are third-party parsers of untrusted bytes. Inputs that made one panic are
    // kept from it (see `wav_channels`; tests/fuzz_parsers.rs looks for more), but a panic in one
    // must still reach the caller as an error naming the file.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let is_wave = bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE";
        if is_wave {
            match super::wav::decode_wav_bytes(bytes, path) {
                // hound reads only integer PCM and 32-bit float and calls other fmt chunks
                // unsupported or ill-formed; symphonia also knows A-law, µ-law and 64-bit float.
                // If it fails too, its error is the better message unless it is a generic
                // "corrupt": symphonia read the header, so "unsupported codec", a NaN sample
                // or a short stream describe the file, where hound's "bits per sample is not
                // 32" only says which formats hound reads.
                Err(hound_err @ (AudioError::Unsupported { .. } | AudioError::Corrupt { .. })) => {
                    // Symphonia's WAV reader maps at most 26 channels and overflows on some
                    // headers with more (found by tests/fuzz_parsers.rs): do not hand it those.
                    if let Some(channels) =
                        wav_channels(bytes).filter(|&c| c > MAX_FALLBACK_WAV_CHANNELS)
                    {
                        let reason = match &hound_err {
                            AudioError::Unsupported { detail, .. }
                            | AudioError::Corrupt { detail, .. } => detail.as_str(),
                            _ => "",
                        };
                        return Err(AudioError::Unsupported {
                            path: path.to_path_buf(),
                            detail: format!(
                                "{channels} channels, in a WAV the integer PCM and 32-bit float \
                                 reader refuses ({reason}); other WAV codecs are read with at \
                                 most {MAX_FALLBACK_WAV_CHANNELS} channels"
                            ),
                        });
                    }
                    match decode_symphonia(bytes, path) {
                        Ok(decoded) => Ok(decoded),
                        Err(AudioError::Corrupt { .. }) => Err(hound_err),
                        Err(e) => Err(e),
                    }
                }
                other => other,
            }
        } else {
            decode_symphonia(bytes, path)
        }
    }));
    let decoded = outcome.map_err(|_| AudioError::Corrupt {
        path: path.to_path_buf(),
        detail: "the decoder failed on malformed data".to_string(),
    })??;
    if decoded.mono.is_empty() {
        return Err(AudioError::NoSamples {
            path: path.to_path_buf(),
        });
    }
    Ok(decoded)
}

/// Most channels of a WAV file decoded by symphonia (its WAV reader maps no more to positions).
const MAX_FALLBACK_WAV_CHANNELS: u16 = 26;

/// The channel count in a RIFF/WAVE file's first `fmt ` chunk, if it has one.
fn wav_channels(bytes: &[u8]) -> Option<u16> {
    let mut pos: usize = 12;
    while let Some(header) = bytes.get(pos..pos.checked_add(8)?) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[0..4] == b"fmt " {
            let channels = bytes.get(pos + 10..pos + 12)?;
            return Some(u16::from_le_bytes([channels[0], channels[1]]));
        }
        // Chunks are padded to an even length.
        pos = pos
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
    None
}

/// Map a symphonia error to ours, keeping its message.
fn symphonia_error(err: SymphoniaError, path: &Path) -> AudioError {
    let path = path.to_path_buf();
    match err {
        SymphoniaError::Unsupported(what) => AudioError::Unsupported {
            path,
            detail: what.to_string(),
        },
        SymphoniaError::ResetRequired => AudioError::Unsupported {
            path,
            detail: "chained streams with changing parameters".to_string(),
        },
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Corrupt {
                path,
                detail: "unexpected end of data (truncated file)".to_string(),
            }
        }
        other => AudioError::Corrupt {
            path,
            detail: other.to_string(),
        },
    }
}

/// FLAC, Ogg/Vorbis, MP3 and the WAV codecs hound does not read.
fn decode_symphonia(bytes: &[u8], path: &Path) -> Result<Decoded, AudioError> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) => AudioError::Unsupported {
                path: path.to_path_buf(),
                detail: "not a recognised audio file (no WAV, FLAC, Ogg or MP3 stream found)"
                    .to_string(),
            },
            other => symphonia_error(other, path),
        })?;
    let unsupported = |detail: &str| AudioError::Unsupported {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| unsupported("no decodable audio track"))?;
    let track_id = track.id;
    let expected_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unsupported("the audio track has no codec parameters"))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| symphonia_error(e, path))?;
    let container = format.format_info().short_name.to_string();
    let codec = decoder.codec_info().short_name.to_string();

    let capacity_frames = expected_frames
        .map(|n| n.min(bytes.len() as u64 * 16) as usize)
        .unwrap_or(0);
    let mut mixer: Option<MonoMixer> = None;
    let mut sample_rate_hz = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut interleaved: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(e) => return Err(symphonia_error(e, path)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = decoder
            .decode(&packet)
            .map_err(|e| symphonia_error(e, path))?;
        let spec = buf.spec();
        let (buf_rate_hz, buf_channels) = (spec.rate(), spec.channels().count());
        match &mixer {
            None => {
                sample_rate_hz = buf_rate_hz;
                channels = buf_channels;
                mixer = Some(MonoMixer::new(path, channels, capacity_frames));
            }
            Some(_) if buf_rate_hz != sample_rate_hz || buf_channels != channels => {
                return Err(unsupported(&format!(
                    "the stream changes from {sample_rate_hz} Hz × {channels} channels to \
                     {buf_rate_hz} Hz × {buf_channels} channels"
                )));
            }
            Some(_) => {}
        }
        buf.copy_to_vec_interleaved(&mut interleaved);
        if let Some(m) = mixer.as_mut() {
            for &x in &interleaved {
                m.push(x)?;
            }
        }
    }
    let Some(mixer) = mixer else {
        return Err(AudioError::NoSamples {
            path: path.to_path_buf(),
        });
    };
    let decoded_frames = mixer.num_frames();
    if let Some(expected) = expected_frames {
        if decoded_frames < expected {
            return Err(AudioError::Truncated {
                path: path.to_path_buf(),
                expected_frames: expected,
                decoded_frames,
            });
        }
    }
    if sample_rate_hz == 0 || channels == 0 {
        return Err(AudioError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("invalid stream: {sample_rate_hz} Hz, {channels} channels"),
        });
    }
    let (mono, peak) = mixer.finish()?;
    Ok(Decoded {
        info: AudioInfo {
            path: path.to_path_buf(),
            container,
            codec,
            channels: u16::try_from(channels).unwrap_or(u16::MAX),
            sample_rate_hz,
            bits_per_sample: params.bits_per_sample,
            num_frames: decoded_frames,
            duration_s: decoded_frames as f64 / f64::from(sample_rate_hz),
            peak,
        },
        mono,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixer_averages_channels_and_tracks_peak() {
        let path = Path::new("x.wav");
        let mut m = MonoMixer::new(path, 2, 0);
        for x in [0.5f32, -0.25, 1.0, 0.0, -0.75, -0.25] {
            m.push(x).unwrap();
        }
        assert_eq!(m.num_frames(), 3);
        let (mono, peak) = m.finish().unwrap();
        assert_eq!(mono, vec![0.125, 0.5, -0.5]);
        assert_eq!(peak, 1.0);
    }

    #[test]
    fn mixer_mean_of_huge_finite_samples_stays_finite() {
        let mut m = MonoMixer::new(Path::new("x.wav"), 2, 0);
        for x in [3e38f32, 3e38, -3e38, -2e38, 1.0, 0.5] {
            m.push(x).unwrap();
        }
        let (mono, peak) = m.finish().unwrap();
        assert_eq!(mono, vec![3e38, -2.5e38, 0.75]);
        assert_eq!(peak, 3e38);
    }

    #[test]
    fn mixer_rejects_nan_and_partial_frames() {
        let path = Path::new("dir/bad.wav");
        let mut m = MonoMixer::new(path, 2, 0);
        m.push(0.1).unwrap();
        m.push(0.2).unwrap();
        m.push(0.3).unwrap();
        let err = m.push(f32::NAN).unwrap_err();
        assert!(matches!(
            err,
            AudioError::NonFinite {
                frame: 1,
                channel: 1,
                ..
            }
        ));
        assert!(err.to_string().contains("dir/bad.wav"));

        let mut m = MonoMixer::new(path, 3, 0);
        m.push(0.1).unwrap();
        assert!(matches!(m.finish(), Err(AudioError::Corrupt { .. })));
    }

    #[test]
    fn empty_bytes_is_empty_file_error() {
        let err = decode_bytes(&[], Path::new("e.flac")).unwrap_err();
        assert!(matches!(err, AudioError::EmptyFile { .. }));
    }

    /// A WAV of 64-bit float samples (format tag 3), interleaved, as written by numpy/soundfile.
    fn float64_wav(channels: u16, samples: &[f64]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
        let block_align = channels * 8;
        let mut fmt = Vec::new();
        fmt.extend(3u16.to_le_bytes());
        fmt.extend(channels.to_le_bytes());
        fmt.extend(16_000u32.to_le_bytes());
        fmt.extend((16_000 * u32::from(block_align)).to_le_bytes());
        fmt.extend(block_align.to_le_bytes());
        fmt.extend(64u16.to_le_bytes());
        let mut body = b"WAVEfmt ".to_vec();
        body.extend((fmt.len() as u32).to_le_bytes());
        body.extend(fmt);
        body.extend(b"data");
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(data);
        let mut file = b"RIFF".to_vec();
        file.extend((body.len() as u32).to_le_bytes());
        file.extend(body);
        file
    }

    /// A float64 WAV holding NaN was reported as "bits per sample is not 32" (hound's reason for
    /// not reading it), hiding what is wrong with the file.
    #[test]
    fn float64_wav_with_nan_names_the_bad_sample() {
        let path = Path::new("dir/nan64.wav");
        let ok = decode_bytes(&float64_wav(2, &[0.5, 0.25, -0.5, 0.0]), path).unwrap();
        assert_eq!(ok.samples, vec![0.375, -0.25]);
        let bytes = float64_wav(2, &[0.5, 0.25, -0.5, f64::NAN]);
        let err = decode_bytes(&bytes, path).unwrap_err();
        assert!(
            matches!(
                err,
                AudioError::NonFinite {
                    frame: 1,
                    channel: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("dir/nan64.wav"), "{message}");
        assert!(message.contains("non-finite sample (NaN)"), "{message}");
        assert!(!message.contains("bits per sample"), "{message}");
    }
}
