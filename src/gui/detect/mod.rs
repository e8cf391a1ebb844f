//! The detect view: score a clip with a trained model.
//!
//! Record from the default input (level meter, time limit) or open/drop a file through the shared
//! clip panel ([`super::clip_panel`]); everything is resampled to 16 kHz. Choose a checkpoint (the
//! current run's best, any run folder, a `.safetensors` file or a released PyTorch
//! AASIST/AASIST-L `.pth`), see the score (the bona fide logit), the decision against a movable
//! threshold that starts at the checkpoint's stored dev-set EER threshold, and a per-window score
//! track under the spectrogram. Input warnings (silence, too short, clipping, low level, window
//! disagreement) make the verdict read "unreliable: …". While recording, a live score track
//! grows window by window, with the real-time factor and latency of scoring. A whole folder can
//! be scored to a score file with progress.
//!
//! - `state`: settings, the model, the clip and its score ([`DetectView`]).
//! - `logic`: per-frame work and [`DetectView::apply`], the one place that starts work.
//! - `ui`: drawing; it returns [`DetectCommand`]s.
//! - `models`: the models folder panel (entries listed on a background task).
//! - `explain`: the occlusion explanation of the scored clip, drawn over the spectrogram with the
//!   speech vs non-speech shares.
//! - `worker`: the model worker, a [`super::tasks::Worker`] that owns the model; model loading
//!   and scoring run there in order.

mod calibration;
mod explain;
mod logic;
mod models;
mod state;
mod ui;
mod worker;

use super::clip_panel::ClipCommand;

pub use state::{CheckpointKind, DetectSettings, DetectView, LiveStats, CAVEAT};

/// What the user asked for in the detect view.
#[derive(Clone, Debug, PartialEq)]
pub enum DetectCommand {
    /// Load the model the settings name.
    LoadModel,
    /// List the models folder again.
    ListModels,
    /// Load an entry of the models folder.
    UseModel {
        path: std::path::PathBuf,
        kind: crate::inference::models::EntryKind,
    },
    /// Something from the clip panel.
    Clip(ClipCommand),
    /// Show a dialog for the checkpoint (a file or a run folder, by kind).
    BrowseCheckpoint,
    /// Show a dialog for the folder to score.
    BrowseFolder,
    StartRecording,
    StopRecording,
    /// Score the clip again (the score-track window or hop changed).
    Rescore,
    /// Score the chosen folder to a score file.
    ScoreFolder,
    /// Stop scoring the folder after the current file.
    StopFolder,
    /// Play the clip from its start.
    Play,
    StopPlayback,
    /// Explain the clip's score by occlusion (see [`crate::inference::explain`]).
    Explain,
    /// Stop the explanation after the current batch.
    StopExplain,
}
