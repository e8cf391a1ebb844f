//! The sounds a stage draws from (noise recordings, babble voices, impulse responses): decoded
//! once when the chain is prepared, and resampled to each clip rate the first time a clip at
//! that rate asks for them. The per-rate copies sit behind a lock that is only written on a new
//! rate, so worker threads share them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::audio::{self, resample, Clip};

/// One sound of a bank at its native rate, with the name reports give it.
#[derive(Clone)]
pub(super) struct Sound {
    /// File name relative to the folder (or `synthetic-N`).
    pub name: String,
    pub clip: Clip,
}

/// What a bank does to each sound once it is at the clip's rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Preparation {
    /// Nothing: noise and voices.
    AsIs,
    /// An impulse response: cut before its direct path (its largest sample) and scaled so the
    /// direct path is +1, so the dry sound keeps its time and level.
    ImpulseResponse,
}

/// Sounds and their copies at each clip rate asked for so far.
pub(super) struct SoundBank {
    sounds: Vec<Sound>,
    preparation: Preparation,
    by_rate: RwLock<HashMap<u32, Arc<Vec<Vec<f32>>>>>,
}

impl std::fmt::Debug for SoundBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoundBank")
            .field("num_sounds", &self.sounds.len())
            .field("preparation", &self.preparation)
            .finish()
    }
}

/// Why a bank could not be made: a message about the folder, or a file that failed to decode.
pub(super) enum BankError {
    Folder(String),
    File(audio::AudioError),
}

impl SoundBank {
    /// A bank of sounds already in memory (synthetic voices).
    pub fn from_sounds(sounds: Vec<Sound>, preparation: Preparation) -> Self {
        Self {
            sounds,
            preparation,
            by_rate: RwLock::new(HashMap::new()),
        }
    }

    /// Every audio file under `folder`, decoded to mono at its own rate. A missing or empty
    /// folder, a file that does not decode and a silent file are errors.
    pub fn from_folder(folder: &Path, preparation: Preparation) -> Result<Self, BankError> {
        if !folder.exists() {
            return Err(BankError::Folder("does not exist".to_string()));
        }
        if !folder.is_dir() {
            return Err(BankError::Folder("is not a folder".to_string()));
        }
        let files = audio::find_audio_files(folder).map_err(BankError::File)?;
        if files.is_empty() {
            return Err(BankError::Folder(format!(
                "holds no audio files ({})",
                audio::AUDIO_EXTENSIONS.join(", ")
            )));
        }
        let mut sounds = Vec::with_capacity(files.len());
        for path in files {
            let clip = audio::load_mono(&path).map_err(BankError::File)?;
            if clip.samples.iter().all(|&v| v == 0.0) {
                return Err(BankError::Folder(format!(
                    "file {} is silent: it can set no SNR or room",
                    path.display()
                )));
            }
            sounds.push(Sound {
                name: relative_name(folder, &path),
                clip,
            });
        }
        Ok(Self::from_sounds(sounds, preparation))
    }

    /// Name of sound `i`.
    pub fn name(&self, i: usize) -> &str {
        self.sounds.get(i).map_or("", |s| s.name.as_str())
    }

    /// Every sound at `sample_rate_hz`, prepared; resampled on the first call for a rate.
    pub fn at_rate(&self, sample_rate_hz: u32) -> Result<Arc<Vec<Vec<f32>>>, String> {
        {
            let cache = self.by_rate.read().unwrap_or_else(|e| e.into_inner());
            if let Some(sounds) = cache.get(&sample_rate_hz) {
                return Ok(Arc::clone(sounds));
            }
        }
        let mut converted = Vec::with_capacity(self.sounds.len());
        for sound in &self.sounds {
            let samples = resample(
                &sound.clip.samples,
                sound.clip.sample_rate_hz,
                sample_rate_hz,
            )
            .map_err(|e| format!("{}: {e}", sound.name))?;
            converted.push(match self.preparation {
                Preparation::AsIs => samples,
                Preparation::ImpulseResponse => aligned_response(&samples),
            });
        }
        let converted = Arc::new(converted);
        let mut cache = self.by_rate.write().unwrap_or_else(|e| e.into_inner());
        Ok(Arc::clone(cache.entry(sample_rate_hz).or_insert(converted)))
    }
}

/// `path` relative to `folder`, for reports.
fn relative_name(folder: &Path, path: &Path) -> String {
    path.strip_prefix(folder)
        .map(PathBuf::from)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// An impulse response cut to start at its direct path (its largest magnitude) and scaled so
/// that sample is +1. Whatever came before the direct path (the measurement's pre-delay, any
/// pre-ringing of its anti-aliasing filter) is dropped, so convolving leaves the speech where it
/// was instead of delaying it by the source-to-microphone distance.
pub(super) fn aligned_response(h: &[f32]) -> Vec<f32> {
    let Some((at, &peak)) = h
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
    else {
        return vec![1.0];
    };
    if peak == 0.0 || !peak.is_finite() {
        return vec![1.0];
    }
    h[at..].iter().map(|&v| v / peak).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_start_at_their_direct_path_at_plus_one() {
        let h = [0.0f32, 0.01, -0.5, 0.2, -0.1];
        assert_eq!(aligned_response(&h), vec![1.0, -0.4, 0.2]);
        assert_eq!(aligned_response(&[0.0, 0.0]), vec![1.0]);
    }
}
