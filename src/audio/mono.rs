//! What decoding produces, shared by the two decoders (hound's WAV path in `wav` and
//! symphonia's path in `decode`): the [`AudioInfo`] facts, the [`Decoded`] result, and the
//! [`MonoMixer`] both feed samples into (finiteness check, peak, channel average).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::AudioError;

/// Format facts and level of one audio file, as `dpda info` prints them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AudioInfo {
    /// The file these facts describe.
    pub path: PathBuf,
    /// Container short name, e.g. `wav`, `flac`, `ogg`, `mp3`.
    pub container: String,
    /// Codec short name, e.g. `pcm_s16le`, `flac`, `vorbis`, `mp3`.
    pub codec: String,
    /// Number of channels in the file.
    pub channels: u16,
    /// Native sample rate in Hz.
    pub sample_rate_hz: u32,
    /// Bits per stored sample, when the codec has such a thing (not for lossy codecs).
    pub bits_per_sample: Option<u32>,
    /// Decoded frames (samples per channel), after gapless trimming.
    pub num_frames: u64,
    /// `num_frames / sample_rate_hz`.
    pub duration_s: f64,
    /// Largest |sample| over all channels, full scale = 1.
    pub peak: f32,
}

/// A fully decoded file: its facts and its mono downmix.
pub(crate) struct Decoded {
    pub info: AudioInfo,
    pub mono: Vec<f32>,
}

/// Averages interleaved channels into mono while checking finiteness and tracking the peak.
pub(crate) struct MonoMixer<'p> {
    path: &'p Path,
    channels: usize,
    mono: Vec<f32>,
    peak: f32,
    /// Samples of the frame being assembled (interleaved input may end mid-frame in a chunk).
    partial: Vec<f32>,
}

impl<'p> MonoMixer<'p> {
    pub fn new(path: &'p Path, channels: usize, capacity_frames: usize) -> Self {
        MonoMixer {
            path,
            channels: channels.max(1),
            mono: Vec::with_capacity(capacity_frames),
            peak: 0.0,
            partial: Vec::with_capacity(channels.max(1)),
        }
    }

    /// Frames completed so far.
    pub fn num_frames(&self) -> u64 {
        self.mono.len() as u64
    }

    /// Add one sample of interleaved data.
    pub fn push(&mut self, x: f32) -> Result<(), AudioError> {
        if !x.is_finite() {
            return Err(AudioError::NonFinite {
                path: self.path.to_path_buf(),
                frame: self.mono.len() as u64,
                channel: u16::try_from(self.partial.len()).unwrap_or(u16::MAX),
                value: x,
            });
        }
        self.peak = self.peak.max(x.abs());
        self.partial.push(x);
        if self.partial.len() == self.channels {
            let sum: f32 = self.partial.iter().sum();
            let mean = if sum.is_finite() {
                sum / self.channels as f32
            } else {
                // Finite float samples near f32::MAX can sum past it (found by
                // tests/fuzz_parsers.rs); their mean cannot, so take it in f64. Only then, so
                // that every ordinary file keeps its bit-exact f32 downmix.
                let sum: f64 = self.partial.iter().map(|&x| f64::from(x)).sum();
                (sum / self.channels as f64) as f32
            };
            self.mono.push(mean);
            self.partial.clear();
        }
        Ok(())
    }

    /// Add many samples of interleaved data; the same result as [`Self::push`] on each, with
    /// mono data checked and measured in vectorised passes.
    pub fn push_all(&mut self, values: impl Iterator<Item = f32>) -> Result<(), AudioError> {
        if self.channels != 1 {
            return values.into_iter().try_for_each(|x| self.push(x));
        }
        let start = self.mono.len();
        self.mono.extend(values);
        let new = &self.mono[start..];
        let mut finite = true;
        let mut lanes = [self.peak; 8];
        let mut blocks = new.chunks_exact(8);
        for block in &mut blocks {
            for (lane, &x) in lanes.iter_mut().zip(block) {
                finite &= x.is_finite();
                *lane = lane.max(x.abs());
            }
        }
        for &x in blocks.remainder() {
            finite &= x.is_finite();
            lanes[0] = lanes[0].max(x.abs());
        }
        if !finite {
            if let Some(i) = new.iter().position(|x| !x.is_finite()) {
                return Err(AudioError::NonFinite {
                    path: self.path.to_path_buf(),
                    frame: (start + i) as u64,
                    channel: 0,
                    value: new[i],
                });
            }
        }
        self.peak = lanes.into_iter().fold(self.peak, f32::max);
        Ok(())
    }

    /// The mono samples and the peak; an unfinished last frame is corruption, not data to drop.
    pub fn finish(self) -> Result<(Vec<f32>, f32), AudioError> {
        if !self.partial.is_empty() {
            return Err(AudioError::Corrupt {
                path: self.path.to_path_buf(),
                detail: format!(
                    "the data ends in the middle of a frame ({} of {} channels)",
                    self.partial.len(),
                    self.channels
                ),
            });
        }
        Ok((self.mono, self.peak))
    }
}
