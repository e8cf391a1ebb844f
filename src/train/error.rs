//! The trainer's error type: every failure of a run, with the file, key or step it concerns.

use std::path::PathBuf;

/// Errors of configuration, data, model, checkpoint and loop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("{path}: {source}")]
    Audio {
        path: PathBuf,
        source: crate::audio::AudioError,
    },
    #[error("RawBoost on clip '{clip}': {source}")]
    RawBoost {
        clip: String,
        source: crate::augment::RawBoostError,
    },
    // Boxed: a chain error names its stage, field and file, and would make every
    // `Result<_, TrainError>` that much larger.
    #[error("path '{path}' on clip '{clip}': {source}")]
    Augment {
        path: String,
        clip: String,
        source: Box<crate::augment::chain::ChainError>,
    },
    #[error("train.paths: path '{path}': {source}")]
    PathSetup {
        path: String,
        source: Box<crate::augment::chain::ChainError>,
    },
    #[error("model: {0}")]
    Model(#[from] crate::nn::NnError),
    #[error("tensor computation: {}", crate::nn::candle_message(.0))]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("{key} = {path}: {message}")]
    DataPath {
        key: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("the {split} split has no clips")]
    EmptySplit { split: &'static str },
    #[error("non-finite {what} at step {step} (epoch {epoch}); the last good checkpoint is kept")]
    NonFinite { what: String, step: u64, epoch: u64 },
    #[error("device: {0}")]
    Device(String),
    #[error("metric: {0}")]
    Metric(String),
    #[error("test sets: {0}")]
    TestSets(String),
    #[error("run folder {path}: {message}")]
    RunFolder { path: PathBuf, message: String },
    #[error("the receiver of training events is gone")]
    Disconnected,
}

/// Attach a path to an I/O error.
pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}
