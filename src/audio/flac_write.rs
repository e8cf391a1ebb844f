//! Writing FLAC files, used to write corpora in the ASVspoof layout (the demo corpus export and
//! its cache) and test fixtures.
//!
//! The encoding is the `flacenc` crate's (Google's pure-Rust encoder, maintained by the flacenc-rs
//! project): LPC and fixed predictors, stereo decorrelation and an MD5 signature, so `flac -t`
//! verifies the files we write. This module only converts our float samples to 16-bit PCM and
//! turns the crate's errors and edge cases into [`FlacWriteError`] naming the file.

use std::path::{Path, PathBuf};

use flacenc::component::BitRepr;
use flacenc::error::Verify;

const BITS_PER_SAMPLE: usize = 16;

/// Errors from writing a FLAC file.
#[derive(Debug, thiserror::Error)]
pub enum FlacWriteError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot encode FLAC: {message}")]
    Invalid { path: PathBuf, message: String },
    /// Input the encoder cannot represent (before any file is involved).
    #[error("cannot encode FLAC: {0}")]
    Unsupported(String),
}

/// Convert float samples in [-1, 1] to 16-bit PCM (round to nearest, clip outside the range).
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&v| {
            let v = if v.is_finite() { v } else { 0.0 };
            (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Write mono float samples as a 16-bit FLAC file (values outside [-1, 1] are clipped), through a
/// temporary file renamed into place.
pub fn write_flac(path: &Path, samples: &[f32], sample_rate_hz: u32) -> Result<(), FlacWriteError> {
    let pcm = to_i16(samples);
    let bytes = encode_flac_i16(&[pcm.as_slice()], sample_rate_hz).map_err(|e| match e {
        FlacWriteError::Unsupported(message) => FlacWriteError::Invalid {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    })?;
    crate::atomic_file::write_atomically(path, &bytes).map_err(|source| FlacWriteError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Encode 16-bit PCM channels (all the same length, 1–8 of them) as a complete FLAC stream.
pub fn encode_flac_i16(
    channels: &[&[i16]],
    sample_rate_hz: u32,
) -> Result<Vec<u8>, FlacWriteError> {
    let bad = |m: String| Err(FlacWriteError::Unsupported(m));
    let num_channels = channels.len();
    if !(1..=8).contains(&num_channels) {
        return bad(format!("{num_channels} channels (FLAC allows 1 to 8)"));
    }
    // The format's 20-bit field; the encoder would otherwise write a stream no decoder reads.
    if sample_rate_hz == 0 || sample_rate_hz >= 1 << 20 {
        return bad(format!("sample rate {sample_rate_hz} Hz out of range"));
    }
    let num_samples = channels[0].len();
    if channels.iter().any(|c| c.len() != num_samples) {
        return bad("channels have different lengths".into());
    }
    let interleaved: Vec<i32> = (0..num_samples)
        .flat_map(|i| channels.iter().map(move |c| i32::from(c[i])))
        .collect();
    let mut config = flacenc::config::Encoder::default();
    // Files are written from rayon workers already; one encoder thread each.
    config.multithread = false;
    let config = config
        .into_verified()
        .map_err(|(_, e)| FlacWriteError::Unsupported(format!("encoder settings: {e}")))?;
    let source = flacenc::source::MemSource::from_samples(
        &interleaved,
        num_channels,
        BITS_PER_SAMPLE,
        sample_rate_hz as usize,
    );
    let mut stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| FlacWriteError::Unsupported(e.to_string()))?;
    // The encoder records the last (short) block as the minimum block size. The format excludes
    // the last block from that field, and symphonia (our decoder) then takes the stream for a
    // variable-block-size one and fails on it; `flac -t` accepts either.
    stream
        .stream_info_mut()
        .set_block_sizes(config.block_size, config.block_size)
        .map_err(|e| FlacWriteError::Unsupported(e.to_string()))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| FlacWriteError::Unsupported(e.to_string()))?;
    Ok(sink.as_slice().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use symphonia::core::audio::GenericAudioBufferRef;

    /// Decode with symphonia, an independent FLAC implementation.
    fn decode(bytes: Vec<u8>) -> (u32, Vec<Vec<i32>>) {
        use symphonia::core::codecs::audio::AudioDecoderOptions;
        use symphonia::core::formats::probe::Hint;
        use symphonia::core::formats::{FormatOptions, TrackType};
        use symphonia::core::io::MediaSourceStream;
        use symphonia::core::meta::MetadataOptions;
        let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes)), Default::default());
        let mut hint = Hint::new();
        hint.with_extension("flac");
        let mut format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .unwrap();
        let track = format.default_track(TrackType::Audio).unwrap().clone();
        let params = track
            .codec_params
            .as_ref()
            .unwrap()
            .audio()
            .unwrap()
            .clone();
        let rate = params.sample_rate.unwrap();
        let mut decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .unwrap();
        let mut channels: Vec<Vec<i32>> = Vec::new();
        while let Ok(Some(packet)) = format.next_packet() {
            let buf: GenericAudioBufferRef = decoder.decode(&packet).unwrap();
            let mut interleaved: Vec<i16> = Vec::new();
            buf.copy_to_vec_interleaved(&mut interleaved);
            let nc = buf.spec().channels().count();
            channels.resize(nc, Vec::new());
            for (i, v) in interleaved.into_iter().enumerate() {
                channels[i % nc].push(v as i32);
            }
        }
        (rate, channels)
    }

    #[test]
    fn symphonia_decodes_what_we_encode() {
        let mut state = 12345u32;
        let mut noise = || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            ((state >> 16) as i32 & 0x7FF) - 1024
        };
        let n = 10_000;
        let tone: Vec<i16> = (0..n)
            .map(|i| ((i as f64 * 0.03).sin() * 20_000.0) as i16 + noise() as i16)
            .collect();
        let extremes: Vec<i16> = (0..n)
            .map(|i| if i % 3 == 0 { i16::MIN } else { i16::MAX })
            .collect();
        let silence = vec![0i16; n];
        for channels in [
            vec![&tone[..]],
            vec![&extremes[..], &silence[..], &tone[..]],
        ] {
            let bytes = encode_flac_i16(&channels, 16_000).unwrap();
            let (rate, decoded) = decode(bytes);
            assert_eq!(rate, 16_000);
            assert_eq!(decoded.len(), channels.len());
            for (d, c) in decoded.iter().zip(&channels) {
                let expected: Vec<i32> = c.iter().map(|&v| v as i32).collect();
                assert_eq!(d, &expected);
            }
        }
        let short = [5i16, -3, 7];
        let (_, decoded) = decode(encode_flac_i16(&[&short[..]], 22_050).unwrap());
        assert_eq!(decoded[0], vec![5, -3, 7]);
    }

    #[test]
    fn unsupported_input_is_an_error_not_a_panic() {
        let x = [0i16; 4];
        assert!(encode_flac_i16(&[], 16_000).is_err());
        assert!(encode_flac_i16(&[&x[..]], 0).is_err());
        assert!(encode_flac_i16(&[&x[..], &x[..2]], 16_000).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.flac");
        let message = write_flac(&path, &[0.0; 4], 0).unwrap_err().to_string();
        assert!(message.contains("bad.flac"), "{message}");
    }

    #[test]
    fn smooth_signals_compress() {
        let tone: Vec<i16> = (0..16_000)
            .map(|i| ((i as f64 * 0.02).sin() * 8000.0) as i16)
            .collect();
        let bytes = encode_flac_i16(&[&tone[..]], 16_000).unwrap();
        assert!(bytes.len() < tone.len(), "{} bytes", bytes.len());
    }

    #[test]
    fn the_reference_decoder_verifies_what_we_write() {
        // `flac -t` decodes every frame and checks the CRCs and the MD5 signature.
        if std::process::Command::new("flac")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: the `flac` tool is not installed (scripts/setup.sh installs it)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let tone: Vec<f32> = (0..20_000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        for (name, samples) in [
            ("tone.flac", &tone[..]),
            ("three.flac", &tone[..3]),
            ("empty.flac", &tone[..0]),
        ] {
            let path = dir.path().join(name);
            write_flac(&path, samples, 16_000).unwrap();
            let out = std::process::Command::new("flac")
                .args(["-t", "-s"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "flac -t {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
