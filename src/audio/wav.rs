//! WAV reading and writing through hound, on files or any in-memory `Read`/`Write + Seek`.
//!
//! Integer samples are scaled by 1/2^(bits−1) on read (the soundfile/librosa convention, so a
//! 16-bit sample s reads as s/32768) and written as round(x·2^15) clamped to the 16-bit range, so
//! a 16-bit file survives read → write unchanged.

use std::io::{Read, Seek, Write};
use std::path::Path;

use hound::{SampleFormat, WavSpec};

use super::mono::{AudioInfo, Decoded, MonoMixer};
use super::{AudioError, Clip};

/// Sample encoding of a written WAV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavFormat {
    /// 16-bit signed integer PCM (clips to [-1, 1)).
    Int16,
    /// 32-bit IEEE float (lossless for `f32` samples).
    Float32,
}

/// Write mono samples to a WAV file at `path`, through a temporary file in the same folder that
/// is renamed into place: a reader never sees half a file, a failed write leaves the old file
/// (if any) as it was and no temporary file behind, and a link at `path` is replaced, not written
/// through.
pub fn write_wav(
    path: &Path,
    samples: &[f32],
    sample_rate_hz: u32,
    format: WavFormat,
) -> Result<(), AudioError> {
    check_writable(samples, sample_rate_hz, path)?;
    let write_error = |detail: String| AudioError::Write {
        path: path.to_path_buf(),
        detail,
    };
    let mut file = crate::atomic_file::AtomicFile::create(path)
        .map_err(|e| write_error(format!("cannot create a temporary file beside it ({e})")))?;
    encode_wav(file.writer(), samples, sample_rate_hz, format, path)?;
    file.commit()
        .map_err(|e| write_error(format!("cannot move the finished file into place ({e})")))
}

/// Write mono samples as WAV to any seekable writer (e.g. a `Cursor<Vec<u8>>`); `path` names
/// the destination in errors.
pub fn encode_wav<W: Write + Seek>(
    writer: W,
    samples: &[f32],
    sample_rate_hz: u32,
    format: WavFormat,
    path: &Path,
) -> Result<(), AudioError> {
    check_writable(samples, sample_rate_hz, path)?;
    let write_error = |e: hound::Error| AudioError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let (bits_per_sample, sample_format) = match format {
        WavFormat::Int16 => (16, SampleFormat::Int),
        WavFormat::Float32 => (32, SampleFormat::Float),
    };
    let spec = WavSpec {
        channels: 1,
        sample_rate: sample_rate_hz,
        bits_per_sample,
        sample_format,
    };
    // Sizes are known up front, so the header is hound's own (written for zero samples, then
    // given the real sizes) and the data goes out in large converted blocks: hound's
    // one-sample-at-a-time writer was most of a folder augmentation's time.
    let num_data_bytes = samples.len() * usize::from(bits_per_sample / 8);
    if let Some(header) = header_for(spec, num_data_bytes) {
        return write_data_blocks(writer, &header, samples, format).map_err(|e| {
            AudioError::Write {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }
        });
    }
    let mut wav = hound::WavWriter::new(writer, spec).map_err(write_error)?;
    match format {
        WavFormat::Int16 => {
            for &x in samples {
                wav.write_sample(quantise_i16(x)).map_err(write_error)?;
            }
        }
        WavFormat::Float32 => {
            for &x in samples {
                wav.write_sample(x).map_err(write_error)?;
            }
        }
    }
    wav.finalize().map_err(write_error)
}

/// hound's header for `spec` with the RIFF and data sizes set for `num_data_bytes` of samples,
/// or `None` if hound's layout is not the expected `… "data" <size>` ending (then the caller
/// writes through hound sample by sample).
fn header_for(spec: WavSpec, num_data_bytes: usize) -> Option<Vec<u8>> {
    let mut header = std::io::Cursor::new(Vec::new());
    hound::WavWriter::new(&mut header, spec)
        .ok()?
        .finalize()
        .ok()?;
    let mut header = header.into_inner();
    let n = header.len();
    if n < 12 || &header[n - 8..n - 4] != b"data" || header[n - 4..] != [0; 4] {
        return None;
    }
    let data_len = u32::try_from(num_data_bytes).ok()?;
    let riff_len = u32::try_from(n - 8 + num_data_bytes).ok()?;
    header[4..8].copy_from_slice(&riff_len.to_le_bytes());
    header[n - 4..].copy_from_slice(&data_len.to_le_bytes());
    Some(header)
}

/// Write `header` then the samples little-endian in blocks of [`WRITE_BLOCK_SAMPLES`].
fn write_data_blocks<W: Write>(
    mut writer: W,
    header: &[u8],
    samples: &[f32],
    format: WavFormat,
) -> std::io::Result<()> {
    writer.write_all(header)?;
    let mut block = Vec::with_capacity(WRITE_BLOCK_SAMPLES * 4);
    for chunk in samples.chunks(WRITE_BLOCK_SAMPLES) {
        block.clear();
        match format {
            WavFormat::Int16 => {
                block.extend(chunk.iter().flat_map(|&x| quantise_i16(x).to_le_bytes()))
            }
            WavFormat::Float32 => block.extend(chunk.iter().flat_map(|&x| x.to_le_bytes())),
        }
        writer.write_all(&block)?;
    }
    writer.flush()
}

/// Samples converted per write: 256 KiB of float data.
const WRITE_BLOCK_SAMPLES: usize = 1 << 16;

/// A sample in [-1, 1) as 16-bit PCM: round(x·2^15), clamped.
fn quantise_i16(x: f32) -> i16 {
    (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}

/// Refuse what would make an unreadable or lying file: NaN/Inf, a zero rate, > 4 GiB of data.
fn check_writable(samples: &[f32], sample_rate_hz: u32, path: &Path) -> Result<(), AudioError> {
    let fail = |detail: String| {
        Err(AudioError::Write {
            path: path.to_path_buf(),
            detail,
        })
    };
    if sample_rate_hz == 0 {
        return fail("sample rate 0 Hz".to_string());
    }
    if samples.len() > (u32::MAX / 4) as usize {
        return fail(format!(
            "{} samples do not fit in a WAV file",
            samples.len()
        ));
    }
    // A branch-free pass per block (vectorised) finds whether any sample is bad at all.
    let all_finite = samples
        .chunks(256)
        .all(|c| c.iter().fold(true, |ok, x| ok & x.is_finite()));
    if all_finite {
        return Ok(());
    }
    if let Some(i) = samples.iter().position(|x| !x.is_finite()) {
        return fail(format!("sample {i} is {}", samples[i]));
    }
    Ok(())
}

/// Decode WAV from any reader (e.g. a `Cursor`) to mono at its native rate; `path` names it in
/// errors.
pub fn decode_wav<R: Read>(reader: R, path: &Path) -> Result<Clip, AudioError> {
    let decoded = decode_wav_full(reader, path)?;
    if decoded.mono.is_empty() {
        return Err(AudioError::NoSamples {
            path: path.to_path_buf(),
        });
    }
    Ok(Clip {
        samples: decoded.mono,
        sample_rate_hz: decoded.info.sample_rate_hz,
    })
}

fn hound_error(err: hound::Error, path: &Path) -> AudioError {
    let path = path.to_path_buf();
    match err {
        hound::Error::Unsupported => AudioError::Unsupported {
            path,
            detail: "a WAV codec other than integer PCM or 32-bit float".to_string(),
        },
        hound::Error::IoError(e) => AudioError::Corrupt {
            path,
            detail: format!("the WAV header is cut short or unreadable ({e})"),
        },
        other => AudioError::Corrupt {
            path,
            detail: other.to_string(),
        },
    }
}

/// [`decode_wav_full`] for a file in memory. 16-bit integer and 32-bit float data, the common
/// cases, are converted straight from the bytes after hound has read the header; the result,
/// errors included, is the one hound's sample-by-sample reader gives, several times faster.
pub(crate) fn decode_wav_bytes(bytes: &[u8], path: &Path) -> Result<Decoded, AudioError> {
    let mut cursor = std::io::Cursor::new(bytes);
    let (spec, len_samples) = match hound::WavReader::new(&mut cursor) {
        Ok(wav) => (wav.spec(), wav.len() as usize),
        Err(_) => return decode_wav_full(std::io::Cursor::new(bytes), path),
    };
    let bytes_per_sample = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => 4,
        (SampleFormat::Int, 16) => 2,
        _ => return decode_wav_full(std::io::Cursor::new(bytes), path),
    };
    if spec.channels == 0 || spec.sample_rate == 0 {
        return decode_wav_full(std::io::Cursor::new(bytes), path);
    }
    // hound stops reading at the start of the data chunk.
    let data_start = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
    let data = bytes.get(data_start..).unwrap_or(&[]);
    let channels = usize::from(spec.channels);
    let num_available = (data.len() / bytes_per_sample).min(len_samples);
    let data = &data[..num_available * bytes_per_sample];
    let mut mixer = MonoMixer::new(path, channels, len_samples.min(num_available) / channels);
    let codec = if bytes_per_sample == 4 {
        let values = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        mixer.push_all(values)?;
        "pcm_f32le"
    } else {
        // Exact: a 16-bit value times a power of two fits an f32.
        let values = data
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) * (1.0 / 32_768.0));
        mixer.push_all(values)?;
        "pcm_s16le"
    };
    if num_available < len_samples {
        return Err(AudioError::Truncated {
            path: path.to_path_buf(),
            expected_frames: (len_samples / channels) as u64,
            decoded_frames: mixer.num_frames(),
        });
    }
    finish_decoded(mixer, path, codec.to_string(), spec)
}

/// The mixed-down clip with the WAV file's facts.
fn finish_decoded(
    mixer: MonoMixer,
    path: &Path,
    codec: String,
    spec: hound::WavSpec,
) -> Result<Decoded, AudioError> {
    let num_frames = mixer.num_frames();
    let (mono, peak) = mixer.finish()?;
    Ok(Decoded {
        info: AudioInfo {
            path: path.to_path_buf(),
            container: "wav".to_string(),
            codec,
            channels: spec.channels,
            sample_rate_hz: spec.sample_rate,
            bits_per_sample: Some(u32::from(spec.bits_per_sample)),
            num_frames,
            duration_s: num_frames as f64 / f64::from(spec.sample_rate),
            peak,
        },
        mono,
    })
}

/// Decode WAV through hound into the mono downmix and the file's facts.
pub(crate) fn decode_wav_full<R: Read>(reader: R, path: &Path) -> Result<Decoded, AudioError> {
    let mut wav = hound::WavReader::new(reader).map_err(|e| hound_error(e, path))?;
    let spec = wav.spec();
    let corrupt = |detail: String| AudioError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(corrupt(format!(
            "invalid header: {} channels, {} Hz",
            spec.channels, spec.sample_rate
        )));
    }
    let expected_frames = u64::from(wav.duration());
    // The header's length is untrusted: reserve no more than a tenth of a second up front.
    let capacity_frames = expected_frames.min(u64::from(spec.sample_rate) / 10) as usize;
    let mut mixer = MonoMixer::new(path, usize::from(spec.channels), capacity_frames);
    let truncated = |mixer: &MonoMixer| AudioError::Truncated {
        path: path.to_path_buf(),
        expected_frames,
        decoded_frames: mixer.num_frames(),
    };
    let codec = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => {
            for s in wav.samples::<f32>() {
                match s {
                    Ok(x) => mixer.push(x)?,
                    Err(hound::Error::IoError(_)) => return Err(truncated(&mixer)),
                    Err(e) => return Err(hound_error(e, path)),
                }
            }
            "pcm_f32le".to_string()
        }
        (SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            for s in wav.samples::<i32>() {
                match s {
                    Ok(v) => mixer.push((f64::from(v) * scale) as f32)?,
                    Err(hound::Error::IoError(_)) => return Err(truncated(&mixer)),
                    Err(e) => return Err(hound_error(e, path)),
                }
            }
            if bits <= 8 {
                "pcm_u8".to_string()
            } else {
                format!("pcm_s{bits}le")
            }
        }
        (format, bits) => {
            return Err(AudioError::Unsupported {
                path: path.to_path_buf(),
                detail: format!("{bits}-bit {format:?} WAV samples"),
            })
        }
    };
    finish_decoded(mixer, path, codec, spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn round_trip(samples: &[f32], format: WavFormat) -> Clip {
        let mut buf = Cursor::new(Vec::new());
        encode_wav(&mut buf, samples, 22_050, format, Path::new("mem.wav")).unwrap();
        decode_wav(Cursor::new(buf.into_inner()), Path::new("mem.wav")).unwrap()
    }

    #[test]
    fn float32_round_trip_is_exact() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.9).collect();
        let clip = round_trip(&x, WavFormat::Float32);
        assert_eq!(clip.sample_rate_hz, 22_050);
        assert_eq!(clip.samples, x);
    }

    #[test]
    fn int16_round_trip_within_half_lsb_and_clips() {
        let mut x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.013).cos() * 0.7).collect();
        x.extend([1.5, -1.5, 1.0, -1.0]);
        let clip = round_trip(&x, WavFormat::Int16);
        assert_eq!(clip.samples.len(), x.len());
        for (a, b) in x[..1000].iter().zip(&clip.samples) {
            assert!((a - b).abs() <= 0.5 / 32_768.0 + 1e-7, "{a} vs {b}");
        }
        let tail = &clip.samples[1000..];
        assert_eq!(
            tail,
            &[32_767.0 / 32_768.0, -1.0, 32_767.0 / 32_768.0, -1.0]
        );
        // Already-quantised samples survive a second trip unchanged.
        assert_eq!(
            round_trip(&clip.samples, WavFormat::Int16).samples,
            clip.samples
        );
    }

    /// hound's own sample-by-sample writer, as the block writer's reference.
    fn hound_bytes(samples: &[f32], format: WavFormat, channels: u16) -> Vec<u8> {
        let (bits_per_sample, sample_format) = match format {
            WavFormat::Int16 => (16, SampleFormat::Int),
            WavFormat::Float32 => (32, SampleFormat::Float),
        };
        let spec = WavSpec {
            channels,
            sample_rate: 16_000,
            bits_per_sample,
            sample_format,
        };
        let mut buf = Cursor::new(Vec::new());
        let mut wav = hound::WavWriter::new(&mut buf, spec).unwrap();
        for &x in samples {
            match format {
                WavFormat::Int16 => wav.write_sample(quantise_i16(x)).unwrap(),
                WavFormat::Float32 => wav.write_sample(x).unwrap(),
            }
        }
        wav.finalize().unwrap();
        buf.into_inner()
    }

    #[test]
    fn block_writer_gives_the_bytes_hound_writes() {
        for n in [0, 1, 7, WRITE_BLOCK_SAMPLES + 3] {
            let x: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).sin() * 1.2).collect();
            for format in [WavFormat::Int16, WavFormat::Float32] {
                let mut buf = Cursor::new(Vec::new());
                encode_wav(&mut buf, &x, 16_000, format, Path::new("m.wav")).unwrap();
                assert_eq!(
                    buf.into_inner(),
                    hound_bytes(&x, format, 1),
                    "{n} {format:?}"
                );
            }
        }
    }

    /// The byte-slice reader must give what hound's reader gives: samples, facts and errors.
    #[test]
    fn slice_reader_agrees_with_hound_on_good_and_bad_files() {
        let path = Path::new("dir/a b.wav");
        let x: Vec<f32> = (0..1001).map(|i| ((i as f32) * 0.11).cos() * 0.8).collect();
        let mut cases = Vec::new();
        for format in [WavFormat::Int16, WavFormat::Float32] {
            for channels in [1u16, 2, 3] {
                let n = x.len() / usize::from(channels) * usize::from(channels);
                let bytes = hound_bytes(&x[..n], format, channels);
                // Whole, cut mid-data, cut mid-sample, and cut right after the header.
                for cut in [bytes.len(), bytes.len() - 1, bytes.len() / 2 + 1, 44, 40] {
                    cases.push(bytes[..cut.min(bytes.len())].to_vec());
                }
            }
        }
        let mut with_nan = hound_bytes(&x, WavFormat::Float32, 1);
        let at = with_nan.len() - 4 * 10;
        with_nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        cases.push(with_nan);
        let mut with_inf = hound_bytes(&x[..1000], WavFormat::Float32, 2);
        let at = with_inf.len() - 4 * 7;
        with_inf[at..at + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
        cases.push(with_inf);
        cases.push(round_trip_bytes(&[1e30, -3.0e38, 3.0e38]));
        for (i, bytes) in cases.iter().enumerate() {
            let fast = decode_wav_bytes(bytes, path);
            let slow = decode_wav_full(Cursor::new(bytes.as_slice()), path);
            match (fast, slow) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.mono, b.mono, "case {i}");
                    assert_eq!(a.info, b.info, "case {i}");
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "case {i}"),
                (a, b) => panic!(
                    "case {i}: slice reader {:?}, hound {:?}",
                    a.map(|d| d.info),
                    b.map(|d| d.info)
                ),
            }
        }
    }

    fn round_trip_bytes(samples: &[f32]) -> Vec<u8> {
        hound_bytes(samples, WavFormat::Float32, 1)
    }

    #[test]
    fn writing_nan_is_refused_with_the_name() {
        let mut buf = Cursor::new(Vec::new());
        let err = encode_wav(
            &mut buf,
            &[0.0, f32::NAN],
            16_000,
            WavFormat::Float32,
            Path::new("out/x.wav"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("out/x.wav"), "{err}");
    }

    /// Outputs went straight to their final name, so a failed write left half a file there.
    #[test]
    fn write_wav_goes_through_a_temporary_file_that_a_failure_removes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.wav");
        write_wav(&out, &[0.0, 0.5, -0.5], 16_000, WavFormat::Float32).unwrap();
        let clip = decode_wav(std::fs::File::open(&out).unwrap(), &out).unwrap();
        assert_eq!(clip.samples, vec![0.0, 0.5, -0.5]);
        // Written again over an existing file: replaced whole.
        write_wav(&out, &[0.25], 16_000, WavFormat::Float32).unwrap();
        let clip = decode_wav(std::fs::File::open(&out).unwrap(), &out).unwrap();
        assert_eq!(clip.samples, vec![0.25]);

        // The rename fails (a non-empty folder holds the name): an error naming the output,
        // and nothing but that folder and the first output left behind.
        let blocked = dir.path().join("blocked.wav");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        let err = write_wav(&blocked, &[0.25], 16_000, WavFormat::Float32).unwrap_err();
        assert!(err.to_string().contains("blocked.wav"), "{err}");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["blocked.wav", "x.wav"]);
    }
}
