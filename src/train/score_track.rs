//! Detection on single clips and folders: choose a checkpoint (a run's best, a run folder, a
//! `.safetensors` file or a released PyTorch `.pth`), find the decision threshold stored with it,
//! score a clip whole and as a track of windows over time, and score a folder into a score file.
//!
//! The GUI's detect view runs these on its worker thread. Run folders and safetensors go through
//! [`Scorer`]; `.pth` state dicts (e.g. clovaai/aasist's `AASIST.pth` / `AASIST-L.pth`) are loaded
//! strictly by [`crate::nn::import::load_weights`] into a freshly built model. Scores are the bona
//! fide logit: higher means more likely bona fide.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

use super::error::{io_err, TrainError};
use super::model::build_model;
use super::score::{Scorer, DEFAULT_NUM_SAMPLES};
use crate::metrics::scores::{write_scores, ScoreFormat, ScoreRow};
use crate::nn::{Mode, Model};
use crate::rng::Rng;

/// The rate every clip is scored at.
const RATE_HZ: f64 = crate::audio::TARGET_SAMPLE_RATE_HZ as f64;

/// Windows scored per forward pass.
const WINDOW_BATCH: usize = 16;

/// Where the model to score with comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckpointChoice {
    /// A run folder's best model: `checkpoints/final` (the average of the kept best epochs),
    /// else the best epoch's checkpoint, else `last`.
    RunBest(PathBuf),
    /// A `.safetensors` checkpoint; `model` names the architecture when no run configuration
    /// sits next to it (or overrides it).
    Safetensors {
        path: PathBuf,
        model: Option<String>,
    },
    /// A PyTorch state dict of a registry model (e.g. `aasist`, `aasist-l`).
    Pth { path: PathBuf, model: String },
}

impl CheckpointChoice {
    /// The file or folder chosen.
    pub fn path(&self) -> &Path {
        match self {
            CheckpointChoice::RunBest(p) => p,
            CheckpointChoice::Safetensors { path, .. } | CheckpointChoice::Pth { path, .. } => path,
        }
    }
}

/// A decision threshold and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredThreshold {
    /// Threshold on the bona fide logit: at or above it a clip is called bona fide.
    pub value: f64,
    /// Human-readable origin, e.g. "dev EER threshold stored with epoch-003.json (epoch 4)".
    pub source: String,
}

/// The fields of a checkpoint sidecar this module reads; the rest of the file is ignored, so any
/// sidecar version with these fields works.
#[derive(Deserialize)]
struct SidecarThreshold {
    #[serde(default)]
    dev_eer_threshold: Option<f64>,
    #[serde(default)]
    epoch: Option<u64>,
    #[serde(default)]
    best_epoch: Option<u64>,
}

fn read_sidecar(path: &Path) -> Option<SidecarThreshold> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The dev-set EER threshold stored in the sidecar `<stem>.json` next to a `.safetensors`
/// checkpoint written by the trainer, if any.
pub fn stored_threshold(weights: &Path) -> Option<StoredThreshold> {
    let sidecar = weights.with_extension("json");
    let side = read_sidecar(&sidecar)?;
    let value = side.dev_eer_threshold.filter(|v| v.is_finite())?;
    let name = sidecar
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    // The sidecar's `epoch` is the next epoch to run, i.e. the number of epochs done when the
    // threshold was measured.
    let measured = side
        .epoch
        .filter(|&e| e > 0)
        .map_or_else(String::new, |e| format!(" (measured after {e} epochs)"));
    // `final` averages the kept best epochs; its sidecar carries the last epoch's threshold.
    let averaged = if weights.file_stem().is_some_and(|s| s == "final") {
        "; the final model averages the best epochs, so it is approximate"
    } else {
        ""
    };
    Some(StoredThreshold {
        value,
        source: format!("dev EER threshold stored with {name}{measured}{averaged}"),
    })
}

/// The weights file of a run's best model (see [`CheckpointChoice::RunBest`]).
pub fn run_best_weights(run_dir: &Path) -> Result<PathBuf, TrainError> {
    let dir = run_dir.join("checkpoints");
    let final_path = dir.join("final.safetensors");
    if final_path.is_file() {
        return Ok(final_path);
    }
    let last_side = read_sidecar(&dir.join("last.json"));
    if let Some(epoch) = last_side.and_then(|s| s.best_epoch) {
        let best = dir.join(format!("epoch-{epoch:03}.safetensors"));
        if best.is_file() {
            return Ok(best);
        }
    }
    let last = dir.join("last.safetensors");
    if last.is_file() {
        return Ok(last);
    }
    Err(TrainError::Checkpoint {
        path: run_dir.to_path_buf(),
        message: "no checkpoints/final.safetensors, best epoch or last.safetensors in this run \
                  folder"
            .into(),
    })
}

enum Engine {
    Scorer(Scorer),
    Model {
        model: Box<dyn Model>,
        num_samples: usize,
        device: Device,
    },
}

/// A loaded model plus its threshold, ready to score 16 kHz clips.
pub struct Detector {
    engine: Engine,
    /// The weights file in use.
    pub weights: PathBuf,
    /// The threshold stored with the checkpoint, when the trainer wrote one.
    pub threshold: Option<StoredThreshold>,
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

/// What scoring a folder produced.
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

/// A released PyTorch state dict of unnamed architecture: the first of the released models whose
/// tensors it matches exactly; otherwise every candidate's mismatch, named.
fn load_released_auto(path: &Path, device: &Device) -> Result<Box<dyn Model>, TrainError> {
    let mut reasons = Vec::new();
    for name in RELEASED_MODELS {
        let built = build_model(name, &toml::Table::new(), 0, device)?;
        match crate::nn::import::load_weights(built.as_ref(), path) {
            Ok(()) => return Ok(built),
            Err(e) => reasons.push(format!("as {name}: {e}")),
        }
    }
    Err(TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!(
            "matches none of the released models ({}); choose the model explicitly",
            reasons.join("; ")
        ),
    })
}

/// Architectures with released PyTorch weights, tried in this order for `model = "auto"`.
pub const RELEASED_MODELS: [&str; 2] = ["aasist-l", "aasist"];

impl Detector {
    /// Load the model of `choice` on the CPU.
    pub fn load(choice: &CheckpointChoice) -> Result<Self, TrainError> {
        match choice {
            CheckpointChoice::RunBest(run_dir) => {
                let weights = run_best_weights(run_dir)?;
                let scorer = Scorer::load(&weights, None)?;
                Ok(Self {
                    threshold: stored_threshold(&weights),
                    weights,
                    engine: Engine::Scorer(scorer),
                })
            }
            CheckpointChoice::Safetensors { path, model } => {
                let scorer = Scorer::load(path, model.as_deref())?;
                Ok(Self {
                    threshold: stored_threshold(path),
                    weights: path.clone(),
                    engine: Engine::Scorer(scorer),
                })
            }
            CheckpointChoice::Pth { path, model } => {
                let device = Device::Cpu;
                let built = if model == "auto" || model.is_empty() {
                    load_released_auto(path, &device)?
                } else {
                    let built = build_model(model, &toml::Table::new(), 0, &device)?;
                    crate::nn::import::load_weights(built.as_ref(), path)?;
                    built
                };
                Ok(Self {
                    threshold: None,
                    weights: path.clone(),
                    engine: Engine::Model {
                        model: built,
                        num_samples: DEFAULT_NUM_SAMPLES,
                        device,
                    },
                })
            }
        }
    }

    /// Registry name of the model.
    pub fn model_name(&self) -> &str {
        match &self.engine {
            Engine::Scorer(s) => s.model_name(),
            Engine::Model { model, .. } => model.name(),
        }
    }

    /// Samples of the crop a whole-clip score uses.
    pub fn num_samples(&self) -> usize {
        match &self.engine {
            Engine::Scorer(s) => s.num_samples,
            Engine::Model { num_samples, .. } => *num_samples,
        }
    }

    /// Bona fide logit of a whole 16 kHz clip (its first crop, repeated to length).
    pub fn score(&self, samples: &[f32]) -> Result<f64, TrainError> {
        match &self.engine {
            Engine::Scorer(s) => s.score(samples),
            Engine::Model {
                model,
                num_samples,
                device,
            } => {
                let crop = crate::audio::repeat_pad(samples, *num_samples);
                let scores = forward_scores(model.as_ref(), &[crop], *num_samples, device)?;
                scores
                    .first()
                    .copied()
                    .ok_or_else(|| no_output(&self.weights))
            }
        }
    }

    /// Scores of `window_s`-second windows every `hop_s` seconds; a clip shorter than one window
    /// gives one window (repeated to length).
    pub fn score_track(
        &self,
        samples: &[f32],
        window_s: f64,
        hop_s: f64,
    ) -> Result<ScoreTrack, TrainError> {
        if !(window_s.is_finite() && window_s > 0.0 && hop_s.is_finite() && hop_s > 0.0) {
            return Err(TrainError::Metric(format!(
                "score track: window ({window_s} s) and hop ({hop_s} s) must be positive"
            )));
        }
        let window_len = (window_s * RATE_HZ).round() as usize;
        let hop_len = ((hop_s * RATE_HZ).round() as usize).max(1);
        let windows = match &self.engine {
            Engine::Scorer(s) => s.score_windows(samples, window_len, hop_len)?,
            Engine::Model { model, device, .. } => {
                let window_len = window_len.max(model.min_num_samples()).max(1);
                let starts = window_starts(samples.len(), window_len, hop_len);
                let mut out = Vec::with_capacity(starts.len());
                for chunk in starts.chunks(WINDOW_BATCH) {
                    let crops: Vec<Vec<f32>> = chunk
                        .iter()
                        .map(|&s| {
                            crate::audio::repeat_pad(&samples[s.min(samples.len())..], window_len)
                        })
                        .collect();
                    let scores = forward_scores(model.as_ref(), &crops, window_len, device)?;
                    out.extend(chunk.iter().copied().zip(scores));
                }
                out
            }
        };
        Ok(ScoreTrack {
            window_s,
            hop_s,
            points: windows
                .into_iter()
                .map(|(start, score)| (start as f64 / RATE_HZ, score))
                .collect(),
        })
    }

    /// Score every file in `files` (whole-clip scores) and write `<name> <score>` lines to
    /// `out_path`. `progress(done, total)` is called after each file; returning `false` stops
    /// early (what was scored is still written). Unreadable files are listed, not fatal.
    pub fn score_files(
        &self,
        files: &[PathBuf],
        out_path: &Path,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<FolderScores, TrainError> {
        let mut rows = Vec::with_capacity(files.len());
        let mut failures = Vec::new();
        let mut cancelled = false;
        for (i, path) in files.iter().enumerate() {
            match crate::audio::load_mono_16k(path) {
                Ok(clip) => {
                    let score = self.score(&clip.samples)?;
                    rows.push(ScoreRow {
                        utt_id: utt_name(path),
                        score,
                        attack: None,
                        label: None,
                    });
                }
                Err(e) => failures.push((path.clone(), e.to_string())),
            }
            if !progress(i + 1, files.len()) {
                cancelled = true;
                break;
            }
        }
        let file = std::fs::File::create(out_path).map_err(io_err(out_path))?;
        write_scores(std::io::BufWriter::new(file), ScoreFormat::TwoColumn, &rows)
            .map_err(|e| TrainError::Metric(format!("{}: {e}", out_path.display())))?;
        Ok(FolderScores {
            out_path: out_path.to_path_buf(),
            num_scored: rows.len(),
            failures,
            cancelled,
        })
    }
}

/// The trial name of a file, as `dpda score` writes it (file name without audio extension).
pub fn utt_name(path: &Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    crate::data::protocol::utt_stem(&name).to_string()
}

/// Window starts `0, hop, 2·hop, …` while a whole window fits; always at least one.
pub fn window_starts(num_samples: usize, window_len: usize, hop_len: usize) -> Vec<usize> {
    let hop_len = hop_len.max(1);
    let mut starts = vec![0usize];
    while let Some(&last) = starts.last() {
        let next = last + hop_len;
        if next + window_len > num_samples {
            break;
        }
        starts.push(next);
    }
    starts
}

/// Decision of a score against a threshold: bona fide at or above it.
pub fn is_bonafide(score: f64, threshold: f64) -> bool {
    score >= threshold
}

fn no_output(path: &Path) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: "the model returned no score".into(),
    }
}

/// Bona fide logits of equal-length crops. `crops`: `[batch][len]` → input `[batch, len]` →
/// logits `[batch, 2]`, column 1 taken.
fn forward_scores(
    model: &dyn Model,
    crops: &[Vec<f32>],
    len: usize,
    device: &Device,
) -> Result<Vec<f64>, TrainError> {
    let flat: Vec<f32> = crops.iter().flatten().copied().collect();
    let x = Tensor::from_vec(flat, (crops.len(), len), device)?;
    let logits = model
        .forward(&x, Mode::Eval, &mut Rng::new(0))?
        .detach()
        .to_dtype(DType::F32)?
        .to_vec2::<f32>()?;
    Ok(logits
        .iter()
        .map(|r| r.get(1).copied().unwrap_or(f32::NAN) as f64)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_starts_cover_whole_windows_only() {
        assert_eq!(window_starts(10, 4, 3), vec![0, 3, 6]);
        assert_eq!(window_starts(9, 4, 3), vec![0, 3]);
        assert_eq!(window_starts(2, 4, 3), vec![0]);
        assert_eq!(window_starts(10, 4, 0), vec![0, 1, 2, 3, 4, 5, 6]);
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

    #[test]
    fn stored_threshold_reads_only_the_fields_it_needs() {
        let dir = std::env::temp_dir().join(format!("dpda-thr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let weights = dir.join("epoch-002.safetensors");
        std::fs::write(
            dir.join("epoch-002.json"),
            r#"{"epoch": 3, "dev_eer_threshold": -0.25, "other": [1, 2]}"#,
        )
        .unwrap();
        let t = stored_threshold(&weights).unwrap();
        assert_eq!(t.value, -0.25);
        assert!(t.source.contains("epoch-002.json"), "{}", t.source);
        assert!(t.source.contains("after 3 epochs"), "{}", t.source);
        std::fs::write(dir.join("epoch-002.json"), r#"{"epoch": 3}"#).unwrap();
        assert_eq!(stored_threshold(&weights), None);
        assert_eq!(stored_threshold(&dir.join("missing.safetensors")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn run_best_prefers_final_then_best_epoch_then_last() {
        let dir = std::env::temp_dir().join(format!("dpda-best-{}", std::process::id()));
        let ckpt = dir.join("checkpoints");
        std::fs::create_dir_all(&ckpt).unwrap();
        assert!(run_best_weights(&dir).is_err());
        std::fs::write(ckpt.join("last.safetensors"), b"x").unwrap();
        assert_eq!(
            run_best_weights(&dir).unwrap(),
            ckpt.join("last.safetensors")
        );
        std::fs::write(ckpt.join("last.json"), r#"{"best_epoch": 1}"#).unwrap();
        std::fs::write(ckpt.join("epoch-001.safetensors"), b"x").unwrap();
        assert_eq!(
            run_best_weights(&dir).unwrap(),
            ckpt.join("epoch-001.safetensors")
        );
        std::fs::write(ckpt.join("final.safetensors"), b"x").unwrap();
        assert_eq!(
            run_best_weights(&dir).unwrap(),
            ckpt.join("final.safetensors")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn utt_name_drops_folder_and_audio_extension() {
        assert_eq!(utt_name(Path::new("a/b/LA_E_1.flac")), "LA_E_1");
    }
}
