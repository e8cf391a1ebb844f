//! Scoring clips with a loaded model: whole-clip scores (the first `num_samples` samples,
//! shorter clips repeated to length, as the references evaluate) and windowed scores along a clip.
//!
//! Every forward pass runs inside [`crate::nn::no_grad`], so no autograd graph keeps the
//! intermediates alive, and at most [`BATCH_SAMPLES`] input samples go through the model at once
//! (fewer inputs per pass for longer inputs, one input when a single one is longer), which bounds
//! the memory of scoring whatever the clip length or the number of windows.
//!
//! Windows cover the whole clip: they start every `hop` samples from 0 while a window ends
//! before the clip does, and the last window is placed flush with the clip's end (so it may
//! overlap its predecessor by more than the hop). A clip no longer than one window is one window,
//! repeated to length.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use super::prefetch::{prefetch, Prefetch};
use super::source::{ModelInfo, ModelRequest, MAX_NUM_SAMPLES};
use super::trials::Trial;
use super::{io_err, InferenceError};
use crate::metrics::scores::{write_scores, ScoreFormat, ScoreRow};
use crate::nn::{Mode, Model};
use crate::rng::Rng;

/// Input samples per forward pass (four AASIST inputs): the bound on scoring memory.
pub const BATCH_SAMPLES: usize = 4 * super::source::AASIST_NUM_SAMPLES;

/// The rate every clip is scored at.
const RATE_HZ: f64 = crate::audio::TARGET_SAMPLE_RATE_HZ as f64;

/// Window length and hop, in samples, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub window_len: usize,
    pub hop_len: usize,
}

impl Windows {
    /// Windows of `window_s` seconds every `hop_s` seconds. The window must be positive and at
    /// most 60 s (one model input), the hop at least one sample and at most the window (a longer
    /// hop would skip audio). `flags` names the two settings in errors (e.g. `("--window-s",
    /// "--hop-s")`).
    pub fn from_seconds(
        window_s: f64,
        hop_s: f64,
        flags: (&str, &str),
    ) -> Result<Self, InferenceError> {
        let max_s = MAX_NUM_SAMPLES as f64 / RATE_HZ;
        let invalid = |what: &str, message: String| InferenceError::Invalid {
            what: what.to_string(),
            message,
        };
        if !(window_s.is_finite() && window_s > 0.0 && window_s <= max_s) {
            return Err(invalid(
                flags.0,
                format!("{window_s} s is outside (0, {max_s}] s"),
            ));
        }
        if !(hop_s.is_finite() && hop_s * RATE_HZ >= 1.0 - 1e-9 && hop_s <= window_s) {
            return Err(invalid(
                flags.1,
                format!(
                    "{hop_s} s is outside [1 sample = {:.6} s, the window {window_s} s]",
                    1.0 / RATE_HZ
                ),
            ));
        }
        Ok(Windows {
            window_len: ((window_s * RATE_HZ).round() as usize).max(1),
            hop_len: ((hop_s * RATE_HZ).round() as usize).max(1),
        })
    }
}

/// Window starts for a clip of `num_samples`: `0, hop, 2·hop, …` while a window ends before the
/// clip does, then one window flush with the clip's end; a single window at 0 when the clip is
/// no longer than one window.
pub fn window_starts(num_samples: usize, window_len: usize, hop_len: usize) -> Vec<usize> {
    let hop_len = hop_len.max(1);
    if num_samples <= window_len {
        return vec![0];
    }
    let last = num_samples - window_len;
    let mut starts: Vec<usize> = (0..last).step_by(hop_len).collect();
    starts.push(last);
    starts
}

/// Scores of windows along a clip.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreTrack {
    /// Window length in seconds.
    pub window_s: f64,
    /// Hop between window starts in seconds.
    pub hop_s: f64,
    /// `(window start in seconds, bona fide logit)` per window, in time order.
    pub points: Vec<(f64, f64)>,
}

impl ScoreTrack {
    /// Mean of the window scores (`None` without windows).
    pub fn mean(&self) -> Option<f64> {
        (!self.points.is_empty())
            .then(|| self.points.iter().map(|p| p.1).sum::<f64>() / self.points.len() as f64)
    }
}

/// What scoring a list of files produced.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderScores {
    /// The score file written.
    pub out_path: PathBuf,
    /// Files scored.
    pub num_scored: usize,
    /// Files that could not be read, with the reason.
    pub failures: Vec<(PathBuf, String)>,
    /// Whether the caller stopped it before the end.
    pub cancelled: bool,
}

/// One clip's scores from [`Scorer::score_many`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClipScores {
    /// Whole-clip score (the first `num_samples` samples, repeated to length).
    pub whole: f64,
    /// `(start sample, score)` per window, in time order; empty without windows.
    pub windows: Vec<(usize, f64)>,
}

/// Fewest files scored together: two inputs keep the two halves of a batch on two cores.
const MIN_GROUP_FILES: usize = 2;

/// Decoded files waiting ahead of the model, per file of a group.
const LOOKAHEAD_GROUPS: usize = 2;

/// Decision of a score against a threshold: bona fide at or above it.
pub fn is_bonafide(score: f64, threshold: f64) -> bool {
    score >= threshold
}

/// A loaded model, ready to score 16 kHz clips.
pub struct Scorer {
    model: Box<dyn Model>,
    info: ModelInfo,
    device: Device,
}

impl Scorer {
    /// Load the model `request` names (see [`super::source`]).
    pub fn load(request: &ModelRequest) -> Result<Self, InferenceError> {
        let (model, info) = super::source::load(request)?;
        Ok(Self::from_model(model, info, Device::Cpu))
    }

    /// Score with a model already in memory (the trainer's final model).
    pub fn from_model(model: Box<dyn Model>, info: ModelInfo, device: Device) -> Self {
        Scorer {
            model,
            info,
            device,
        }
    }

    /// What was loaded.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Give the model back (the trainer keeps using it).
    pub fn into_model(self) -> Box<dyn Model> {
        self.model
    }

    /// Inputs of `len` samples per forward pass within [`BATCH_SAMPLES`].
    fn batch_len(len: usize) -> usize {
        (BATCH_SAMPLES / len.max(1)).max(1)
    }

    /// Bona fide logits of `flat` = `[batch × len]` samples → input `[batch, len]` → logits
    /// `[batch, 2]`, column 1; no graph is recorded.
    fn forward(&self, flat: Vec<f32>, len: usize) -> Result<Vec<f64>, InferenceError> {
        let batch = flat.len() / len;
        let logits = crate::nn::no_grad(|| -> Result<Vec<Vec<f32>>, candle_core::Error> {
            let x = Tensor::from_vec(flat, (batch, len), &self.device)?;
            self.model
                .forward(&x, Mode::Eval, &mut Rng::new(0))?
                .to_dtype(DType::F32)?
                .to_vec2::<f32>()
        })?;
        Ok(logits
            .iter()
            .map(|r| r.get(1).copied().unwrap_or(f32::NAN) as f64)
            .collect())
    }

    /// Score of a whole clip: its first `num_samples` samples, repeated to length.
    pub fn score(&self, samples: &[f32]) -> Result<f64, InferenceError> {
        Ok(self.score_clips(&[samples])?[0])
    }

    /// Whole-clip scores of several clips, batched.
    pub fn score_clips(&self, clips: &[&[f32]]) -> Result<Vec<f64>, InferenceError> {
        let len = self.info.num_samples;
        let mut out = Vec::with_capacity(clips.len());
        for chunk in clips.chunks(Self::batch_len(len)) {
            let mut flat = Vec::with_capacity(chunk.len() * len);
            for clip in chunk {
                flat.extend(crate::audio::repeat_pad(clip, len));
            }
            out.extend(self.forward(flat, len)?);
        }
        Ok(out)
    }

    /// Scores of `windows` along a clip as `(start sample, score)` (see the module docs for
    /// where windows lie). A window shorter than the model accepts is widened to its minimum.
    pub fn score_windows(
        &self,
        samples: &[f32],
        windows: Windows,
    ) -> Result<Vec<(usize, f64)>, InferenceError> {
        let len = self.window_len(windows);
        let starts = window_starts(samples.len(), len, windows.hop_len);
        let mut out = Vec::with_capacity(starts.len());
        for chunk in starts.chunks(Self::batch_len(len)) {
            let mut flat = Vec::with_capacity(chunk.len() * len);
            for &s in chunk {
                flat.extend(crate::audio::repeat_pad(
                    &samples[s.min(samples.len())..],
                    len,
                ));
            }
            let scores = self.forward(flat, len)?;
            out.extend(chunk.iter().copied().zip(scores));
        }
        Ok(out)
    }

    /// Files scored together in [`Self::score_many`]: as many whole-clip inputs as one forward
    /// pass takes (at least two, so a batch keeps two cores busy), and with windows as many
    /// files as that many windows would need at one window per file.
    pub fn group_size(&self, windows: Option<Windows>) -> usize {
        let len = match windows {
            None => self.info.num_samples,
            Some(w) => self.window_len(w),
        };
        Self::batch_len(len).max(MIN_GROUP_FILES)
    }

    /// Whole-clip scores of `clips` and, with `windows`, each clip's window scores as `(start
    /// sample, score)`: the same numbers as [`Self::score`] and [`Self::score_windows`] clip by
    /// clip, with inputs of several clips sharing forward passes (so the batch dimension the
    /// kernels run in parallel over is filled even when each clip is one input).
    pub fn score_many(
        &self,
        clips: &[&[f32]],
        windows: Option<Windows>,
    ) -> Result<Vec<ClipScores>, InferenceError> {
        let whole = self.score_clips(clips)?;
        let mut per_clip: Vec<Vec<(usize, f64)>> = vec![Vec::new(); clips.len()];
        if let Some(w) = windows {
            let len = self.window_len(w);
            let jobs: Vec<(usize, usize)> = clips
                .iter()
                .enumerate()
                .flat_map(|(c, x)| {
                    window_starts(x.len(), len, w.hop_len)
                        .into_iter()
                        .map(move |s| (c, s))
                })
                .collect();
            for chunk in jobs.chunks(Self::batch_len(len)) {
                let mut flat = Vec::with_capacity(chunk.len() * len);
                for &(c, s) in chunk {
                    let x = clips[c];
                    flat.extend(crate::audio::repeat_pad(&x[s.min(x.len())..], len));
                }
                for (&(c, s), score) in chunk.iter().zip(self.forward(flat, len)?) {
                    per_clip[c].push((s, score));
                }
            }
        }
        Ok(whole
            .into_iter()
            .zip(per_clip)
            .map(|(whole, windows)| ClipScores { whole, windows })
            .collect())
    }

    /// The window length actually scored: the requested one, widened to the shortest input the
    /// model accepts.
    pub fn window_len(&self, windows: Windows) -> usize {
        windows.window_len.max(self.model.min_num_samples()).max(1)
    }

    /// [`Self::score_windows`] in seconds, as a track.
    pub fn score_track(
        &self,
        samples: &[f32],
        windows: Windows,
    ) -> Result<ScoreTrack, InferenceError> {
        let points = self
            .score_windows(samples, windows)?
            .into_iter()
            .map(|(start, score)| (start as f64 / RATE_HZ, score))
            .collect();
        Ok(ScoreTrack {
            window_s: self.window_len(windows) as f64 / RATE_HZ,
            hop_s: windows.hop_len as f64 / RATE_HZ,
            points,
        })
    }

    /// The trials' files decoded ahead of scoring, in order, a few groups ahead.
    pub fn prefetch(&self, trials: &[Trial], windows: Option<Windows>) -> Prefetch {
        let paths = trials.iter().map(|t| t.path.clone()).collect();
        prefetch(paths, LOOKAHEAD_GROUPS * self.group_size(windows))
    }

    /// Score every trial (whole clip) and write `<name> <score>` lines to `out_path` (through a
    /// temporary file, so the score file is whole or absent). `progress(done, total)` is called
    /// after each group of files scored together; returning `false` stops early (what was scored is still written).
    /// Unreadable files are listed, not fatal.
    pub fn score_files(
        &self,
        trials: &[Trial],
        out_path: &Path,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<FolderScores, InferenceError> {
        let mut rows = Vec::with_capacity(trials.len());
        let mut failures = Vec::new();
        let mut cancelled = false;
        let group = self.group_size(None);
        let mut ahead = self.prefetch(trials, None);
        loop {
            let decoded = ahead.take_group(group);
            let Some(&(last, _)) = decoded.last() else {
                break;
            };
            let mut clips = Vec::with_capacity(decoded.len());
            for (i, result) in &decoded {
                match result {
                    Ok(clip) => clips.push((*i, clip.samples.as_slice())),
                    Err(e) => failures.push((trials[*i].path.clone(), e.to_string())),
                }
            }
            let inputs: Vec<&[f32]> = clips.iter().map(|(_, x)| *x).collect();
            for ((i, _), scores) in clips.iter().zip(self.score_many(&inputs, None)?) {
                rows.push(ScoreRow {
                    utt_id: trials[*i].name.clone(),
                    score: scores.whole,
                    attack: None,
                    label: None,
                });
            }
            if !progress(last + 1, trials.len()) {
                cancelled = true;
                break;
            }
        }
        write_score_file(out_path, &rows)?;
        Ok(FolderScores {
            out_path: out_path.to_path_buf(),
            num_scored: rows.len(),
            failures,
            cancelled,
        })
    }
}

/// Write a two-column score file through a temporary file in the same folder, renamed into
/// place once complete.
pub fn write_score_file(out_path: &Path, rows: &[ScoreRow]) -> Result<(), InferenceError> {
    let mut file = crate::atomic_file::AtomicFile::create(out_path).map_err(io_err(out_path))?;
    write_scores(file.writer(), ScoreFormat::TwoColumn, rows)?;
    file.commit().map_err(io_err(out_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_clip_end() {
        assert_eq!(window_starts(10, 4, 3), vec![0, 3, 6]);
        // 9 samples: 0..4, 3..7, then flush with the end 5..9.
        assert_eq!(window_starts(9, 4, 3), vec![0, 3, 5]);
        assert_eq!(window_starts(2, 4, 3), vec![0]);
        assert_eq!(window_starts(4, 4, 3), vec![0]);
        assert_eq!(window_starts(5, 4, 10), vec![0, 1]);
        for (n, w, h) in [(126_400, 64_640, 32_000), (1000, 7, 3), (999, 10, 10)] {
            let starts = window_starts(n, w, h);
            assert_eq!(*starts.last().unwrap() + w, n, "{n} {w} {h}");
            assert!(starts.windows(2).all(|p| p[1] > p[0] && p[1] - p[0] <= h));
        }
    }

    #[test]
    fn window_settings_are_bounded_and_name_the_flag() {
        let flags = ("--window-s", "--hop-s");
        let w = Windows::from_seconds(4.0, 2.0, flags).unwrap();
        assert_eq!((w.window_len, w.hop_len), (64_000, 32_000));
        for (window, hop, flag) in [
            (1e300, 1.0, "--window-s"),
            (1e5, 1.0, "--window-s"),
            (0.0, 1.0, "--window-s"),
            (f64::NAN, 1.0, "--window-s"),
            (4.0, 1e-9, "--hop-s"),
            (4.0, 5.0, "--hop-s"),
            (4.0, f64::INFINITY, "--hop-s"),
        ] {
            let e = Windows::from_seconds(window, hop, flags).unwrap_err();
            assert!(e.to_string().starts_with(flag), "{e}");
        }
    }

    #[test]
    fn track_mean_and_decision() {
        let track = ScoreTrack {
            window_s: 1.0,
            hop_s: 0.5,
            points: vec![(0.0, 1.0), (0.5, -2.0), (1.0, 4.0)],
        };
        assert_eq!(track.mean(), Some(1.0));
        assert!(is_bonafide(0.5, 0.5));
        assert!(!is_bonafide(0.49, 0.5));
    }
}
