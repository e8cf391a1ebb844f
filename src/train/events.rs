//! Typed training events: what the run loop reports to front-ends (CLI progress bar, GUI plots)
//! and what it writes, one JSON object per line, to the run folder's metrics files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Per-iteration figures (`metrics.jsonl`). Fields of a path that the mode does not run are
/// `None` (JSON `null`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Optimizer steps done so far, 1-based.
    pub step: u64,
    /// 0-based epoch.
    pub epoch: u64,
    pub loss_orig: Option<f64>,
    pub loss_aug: Option<f64>,
    pub grad_norm_orig: Option<f64>,
    pub grad_norm_aug: Option<f64>,
    /// Cosine between the two paths' gradients over all trainable parameters.
    pub grad_cos: Option<f64>,
    /// `grad_cos < 0`.
    pub conflict: Option<bool>,
    /// Conflicting iterations / iterations since the start of the current epoch.
    pub conflict_frac: Option<f64>,
    pub lr: f64,
    pub step_time_ms: f64,
    /// Dual runs: each path's loss, keyed by path name (`train.paths`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_loss: Option<PathMap<f64>>,
    /// Dual runs: each path's gradient norm, keyed by path name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_grad_norm: Option<PathMap<f64>>,
    /// Dual runs: the gradient cosine of every pair of paths, keyed [`pair_key`]`(a, b)` = `"a|b"`
    /// with `a` listed before `b` in `train.paths`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_cos: Option<PathMap<f64>>,
    /// Dual runs: whether each pair's gradients conflict (cosine < 0), keyed as `pair_cos`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_conflict: Option<PathMap<bool>>,
}

/// Figures keyed by path name or path pair. A JSON object; `metrics.jsonl` readers look keys up
/// by name, so the (sorted) key order carries no meaning.
pub type PathMap<T> = BTreeMap<String, T>;

/// The key of the pair of paths `a` and `b` in [`StepMetrics::pair_cos`]: `"a|b"`. Path names
/// cannot contain `|`, so the key splits back unambiguously.
pub fn pair_key(a: &str, b: &str) -> String {
    format!("{a}|{b}")
}

/// Per-epoch figures (`epochs.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: u64,
    pub step: u64,
    /// Mean training loss of the path(s) trained this epoch.
    pub train_loss: f64,
    pub dev_loss: f64,
    /// Dev EER as a fraction (0.05 = 5 %).
    pub dev_eer: f64,
    pub dev_eer_threshold: f64,
    pub conflict_frac: Option<f64>,
    /// Dual runs: the fraction of this epoch's steps in which each pair of paths conflicted,
    /// keyed as [`StepMetrics::pair_cos`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_conflict_frac: Option<PathMap<f64>>,
    pub m_sharpness: Option<f64>,
    pub is_best: bool,
    pub epoch_time_s: f64,
}

/// Gradient cosine per trainable tensor (`layer_cos.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerCos {
    pub step: u64,
    pub names: Vec<String>,
    pub cos: Vec<Option<f64>>,
}

/// What a finished run produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub num_steps: u64,
    pub num_epochs: u64,
    pub best_epoch: Option<u64>,
    pub best_dev_loss: Option<f64>,
    /// Epochs whose checkpoints were averaged into the final model.
    pub averaged_epochs: Vec<u64>,
    /// Final model's eval EER as a fraction, when the eval split was scored.
    pub eval_eer: Option<f64>,
    pub scores_path: Option<PathBuf>,
    /// Final model's EER (fraction) on each scored test split of the corpus: `eval`, and `wild`
    /// for the demo corpus (written to `scores-<name>.txt`). Empty in summaries written before
    /// these were recorded.
    #[serde(default)]
    pub test_eers: BTreeMap<String, f64>,
    /// Why training ended.
    pub reason: StopReason,
}

/// Why a run ended. Serialised (summary.json) and displayed as `epochs`, `max_steps`,
/// `early_stop` or `stopped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All of `train.epochs` ran.
    Epochs,
    /// `train.max_steps` (or `--max-steps`) was reached.
    MaxSteps,
    /// The dev loss did not improve for `train.patience` epochs.
    EarlyStop,
    /// Stopped on request (or nobody listened any more); `last` allows resuming.
    Stopped,
}

impl StopReason {
    /// The name used in summary.json and shown by the front-ends.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Epochs => "epochs",
            StopReason::MaxSteps => "max_steps",
            StopReason::EarlyStop => "early_stop",
            StopReason::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event from a training run.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainEvent {
    /// The run is set up; `resumed_at_step` is set when it continues a checkpoint.
    Started {
        run_dir: PathBuf,
        num_params: usize,
        num_train_clips: usize,
        num_dev_clips: usize,
        steps_per_epoch: u64,
        total_steps: u64,
        resumed_at_step: Option<u64>,
    },
    Step(StepMetrics),
    LayerCos(LayerCos),
    Epoch(EpochMetrics),
    /// A checkpoint was written.
    Checkpoint {
        epoch: u64,
        step: u64,
        path: PathBuf,
        is_best: bool,
    },
    Finished {
        summary: RunSummary,
    },
    /// Stopped on request; the last checkpoint allows resuming.
    Stopped,
    Paused,
    Resumed,
    /// Something the user should know that does not stop the run (e.g. a CPU fallback).
    Notice {
        message: String,
    },
    /// Training ended with an error (non-finite loss, I/O, a panic in the worker).
    Error {
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_keep_their_names_in_json_and_text() {
        for (reason, name) in [
            (StopReason::Epochs, "epochs"),
            (StopReason::MaxSteps, "max_steps"),
            (StopReason::EarlyStop, "early_stop"),
            (StopReason::Stopped, "stopped"),
        ] {
            assert_eq!(reason.to_string(), name);
            assert_eq!(
                serde_json::to_string(&reason).unwrap(),
                format!("\"{name}\"")
            );
            let back: StopReason = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, reason);
        }
    }
}
