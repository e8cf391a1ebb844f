//! Inference: one scoring layer for `dpda score`, the workbench's Detect view and the trainer's
//! test-set evaluation.
//!
//! - [`layout`]: the run folder — its file names, and which checkpoint "best" and "final" mean,
//!   so the CLI, the GUI and the trainer pick the same one.
//! - [`source`]: what a checkpoint path holds — a run folder, a `.safetensors` checkpoint (model
//!   named by the run configuration or the import sidecar, else recognised from its tensors), a
//!   released AASIST/AASIST-L `.pth` or a dpda_ga XLS-R `.pth` — and the input length the model
//!   was trained on (AASIST family 64,600 samples as clovaai's `nb_samp`; dpda_ga models 66,800;
//!   a run's own `data.num_samples`), which the caller may override.
//! - [`explain`]: occlusion attributions of a clip's score over time × frequency, and the share
//!   resting on non-speech audio.
//! - [`scorer`]: scores with no autograd graph (see [`crate::nn::no_grad`]), in batches whose
//!   size is bounded by a sample budget, whole-clip or as windows that cover the whole clip.
//! - [`prefetch`]: files decoded on their own thread ahead of the model.
//! - [`trials`]: the trial names of scored files (paths relative to the scored root, without the
//!   audio extension), with collisions refused.
//! - [`testsets`]: the `[[test]]` sets of a run configuration, scored and evaluated.
//! - [`models`]: the models folder, listed with what scoring each entry would use.
//! - [`warnings`]: reasons not to trust a score (silence, too short, clipping, low level, window
//!   disagreement), reported beside it.
//!
//! Scores are the bona fide logit: higher means more bona fide.

pub mod explain;
pub mod layout;
pub mod models;
pub mod prefetch;
pub mod scorer;
pub mod source;
pub mod testsets;
pub mod trials;
pub mod warnings;

use std::path::PathBuf;

pub use explain::{ExplainConfig, Explanation};
pub use layout::RunLayout;
pub use scorer::{window_starts, ClipScores, FolderScores, ScoreTrack, Scorer, Windows};
pub use source::{
    AppliedCalibration, CalibrationRequest, ModelInfo, ModelRequest, StoredThreshold,
};
pub use trials::{collect_trials, Trial};
pub use warnings::{check_samples, check_windows, unreliable_reason, InputWarning, WarningCode};

/// Errors of loading a model for scoring, of naming trials and of scoring.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    #[error(transparent)]
    Model(#[from] crate::nn::NnError),
    #[error("tensor computation: {}", crate::nn::candle_message(.0))]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Scores(#[from] crate::metrics::scores::ScoreError),
    #[error(transparent)]
    Calibration(#[from] crate::metrics::calibration::CalibrationError),
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A user-given number out of range; `what` names the flag or field.
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    #[error("two inputs give the trial name '{name}': {first} and {second} (score them from a common root folder, or rename one)")]
    TrialCollision {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> InferenceError + '_ {
    move |source| InferenceError::Io {
        path: path.to_path_buf(),
        source,
    }
}
