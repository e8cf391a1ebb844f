//! Audio files: decoding (WAV through hound; FLAC, Ogg/Vorbis and MP3 through symphonia), downmix
//! to mono, band-limited resampling to 16 kHz, writing WAV, and the reference repeat-padding.
//!
//! Corpora, the augmentation and feature front ends, and the CLI (`dpda info`, `dpda augment`) call
//! [`load_mono_16k`] and [`repeat_pad`] to turn any supported file into the fixed-length 16 kHz
//! input the models take. Every failure is an [`AudioError`] naming the file; no input file, however
//! malformed, makes this module panic. Device playback/recording lives behind the `audio` feature.

mod decode;
#[cfg(feature = "audio")]
pub mod device;
mod error;
mod files;
pub mod flac_write;
mod mono;
mod pad;
mod resample;
mod wav;

use std::path::Path;

pub use decode::{decode_bytes, info, info_from_bytes};
pub use error::AudioError;
pub use files::{
    find_audio_files, is_audio_path, scan_audio_folder, FolderScan, SkippedEntry, AUDIO_EXTENSIONS,
};
pub use mono::AudioInfo;
pub use pad::repeat_pad;
pub use resample::resample;
pub use wav::{decode_wav, encode_wav, write_wav, WavFormat};

/// The sample rate every model input uses.
pub const TARGET_SAMPLE_RATE_HZ: u32 = 16_000;

/// Model input length in samples (about 4 s at 16 kHz), as in SSL_Anti-spoofing and dpda_ga.
pub const DEFAULT_NUM_SAMPLES: usize = 66_800;

/// A mono clip: samples in [-1, 1] (full scale) at a known rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    /// Mono samples, full scale = 1.0.
    pub samples: Vec<f32>,
    /// Sample rate of `samples` in Hz.
    pub sample_rate_hz: u32,
}

impl Clip {
    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate_hz == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.sample_rate_hz)
    }
}

/// Decode a file at its native rate and downmix it to mono (mean of the channels).
pub fn load_mono(path: &Path) -> Result<Clip, AudioError> {
    let bytes = read_file(path)?;
    decode_bytes(&bytes, path)
}

/// Decode a file, downmix it to mono and resample it to [`TARGET_SAMPLE_RATE_HZ`] with a
/// band-limited resampler.
pub fn load_mono_16k(path: &Path) -> Result<Clip, AudioError> {
    let clip = load_mono(path)?;
    to_16k(clip, path)
}

/// Resample an already decoded clip to [`TARGET_SAMPLE_RATE_HZ`]; `path` names it in errors.
pub fn to_16k(clip: Clip, path: &Path) -> Result<Clip, AudioError> {
    if clip.sample_rate_hz == TARGET_SAMPLE_RATE_HZ {
        return Ok(clip);
    }
    let samples =
        resample(&clip.samples, clip.sample_rate_hz, TARGET_SAMPLE_RATE_HZ).map_err(|e| {
            AudioError::Resample {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }
        })?;
    Ok(Clip {
        samples,
        sample_rate_hz: TARGET_SAMPLE_RATE_HZ,
    })
}

/// Read a whole file, mapping a missing or unreadable file, a special file and an empty one to
/// typed errors.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, AudioError> {
    let open_error = |io| AudioError::Open {
        path: path.to_path_buf(),
        io,
    };
    // The type is checked before opening: reading a FIFO named `x.wav` waits for a writer forever.
    let meta = std::fs::metadata(path).map_err(open_error)?;
    if !meta.is_file() {
        return Err(AudioError::NotAFile {
            path: path.to_path_buf(),
            kind: files::kind_of(meta.file_type()),
        });
    }
    let bytes = std::fs::read(path).map_err(open_error)?;
    if bytes.is_empty() {
        return Err(AudioError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}
