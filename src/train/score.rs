//! Scoring with a trained model: resolve a run folder or checkpoint file to a model and its crop
//! length, then score clips (the bona fide logit, higher = more bona fide) whole or per window.
//! `dpda score` and the GUI call it.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::checkpoint::load_weights;
use super::config::plan_from_str;
use super::error::{io_err, TrainError};
use super::model::build_model;
use crate::nn::{Mode, Model};
use crate::rng::Rng;

/// Default crop when neither a run configuration nor the caller says (the paper's 66,800).
pub const DEFAULT_NUM_SAMPLES: usize = 66_800;

/// A model loaded from a checkpoint, ready to score 16 kHz clips.
pub struct Scorer {
    model: Box<dyn Model>,
    /// Crop length of a whole-clip score (first samples, repeated to length).
    pub num_samples: usize,
    /// The weights file in use.
    pub weights: PathBuf,
    device: Device,
}

/// The run configuration next to a checkpoint: `<run>/config.toml` for `<run>` or
/// `<run>/checkpoints/<file>`.
fn find_config(checkpoint: &Path) -> Option<PathBuf> {
    let candidates = if checkpoint.is_dir() {
        vec![checkpoint.join("config.toml")]
    } else {
        let parent = checkpoint.parent().unwrap_or(Path::new("."));
        vec![parent.join("config.toml"), parent.join("../config.toml")]
    };
    candidates.into_iter().find(|p| p.is_file())
}

impl Scorer {
    /// Load from a run folder (its `checkpoints/final.safetensors`, else `last`) or a
    /// safetensors file. `model_name` overrides (or, without a run configuration, supplies) the
    /// model.
    pub fn load(checkpoint: &Path, model_name: Option<&str>) -> Result<Self, TrainError> {
        let weights = if checkpoint.is_dir() {
            ["final", "last"]
                .iter()
                .map(|s| {
                    checkpoint
                        .join("checkpoints")
                        .join(format!("{s}.safetensors"))
                })
                .find(|p| p.is_file())
                .ok_or_else(|| TrainError::Checkpoint {
                    path: checkpoint.to_path_buf(),
                    message: "no checkpoints/final.safetensors or checkpoints/last.safetensors"
                        .into(),
                })?
        } else {
            checkpoint.to_path_buf()
        };
        let plan = match find_config(checkpoint) {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
                Some(plan_from_str(&text, &path.display().to_string(), &[])?)
            }
            None => None,
        };
        let (name, options, seed, num_samples) = match (&plan, model_name) {
            (Some(p), Some(name)) if name != p.model.name => {
                (name.to_string(), toml::Table::new(), 0, p.data.num_samples)
            }
            (Some(p), _) => (
                p.model.name.clone(),
                p.model.options.clone(),
                p.train.seed,
                p.data.num_samples,
            ),
            (None, Some(name)) => (name.to_string(), toml::Table::new(), 0, DEFAULT_NUM_SAMPLES),
            (None, None) => {
                return Err(TrainError::Checkpoint {
                    path: checkpoint.to_path_buf(),
                    message: "no run configuration next to it: give the model name (--model)"
                        .into(),
                })
            }
        };
        let device = Device::Cpu;
        let model = build_model(&name, &options, seed, &device)?;
        load_weights(model.as_ref(), &weights)?;
        Ok(Self {
            model,
            num_samples,
            weights,
            device,
        })
    }

    /// Model registry name.
    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    fn score_crops(&self, crops: &[Vec<f32>], len: usize) -> Result<Vec<f64>, TrainError> {
        let flat: Vec<f32> = crops.iter().flatten().copied().collect();
        let x = Tensor::from_vec(flat, (crops.len(), len), &self.device)?;
        let logits = self
            .model
            .forward(&x, Mode::Eval, &mut Rng::new(0))?
            .detach()
            .to_dtype(candle_core::DType::F32)?
            .to_vec2::<f32>()?;
        Ok(logits.iter().map(|r| r[1] as f64).collect())
    }

    /// Score of a whole clip: its first `num_samples` samples, repeated to length.
    pub fn score(&self, samples: &[f32]) -> Result<f64, TrainError> {
        let crop = crate::audio::repeat_pad(samples, self.num_samples);
        let scores = self.score_crops(&[crop], self.num_samples)?;
        Ok(scores[0])
    }

    /// Scores of windows of `window_len` samples every `hop_len` samples, as
    /// `(start sample, score)`; a clip shorter than a window gives one repeated-to-length window.
    pub fn score_windows(
        &self,
        samples: &[f32],
        window_len: usize,
        hop_len: usize,
    ) -> Result<Vec<(usize, f64)>, TrainError> {
        let window_len = window_len.max(self.model.min_num_samples()).max(1);
        let hop_len = hop_len.max(1);
        let mut starts = vec![0usize];
        while starts[starts.len() - 1] + hop_len + window_len <= samples.len() {
            starts.push(starts[starts.len() - 1] + hop_len);
        }
        let mut out = Vec::with_capacity(starts.len());
        for chunk in starts.chunks(16) {
            let crops: Vec<Vec<f32>> = chunk
                .iter()
                .map(|&s| crate::audio::repeat_pad(&samples[s.min(samples.len())..], window_len))
                .collect();
            let scores = self.score_crops(&crops, window_len)?;
            out.extend(chunk.iter().copied().zip(scores));
        }
        Ok(out)
    }
}
