//! The detect view's state: settings kept between launches, the loaded model, the clip and its
//! score, folder-scoring progress, and the audio devices.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::super::audio_widgets::{AudioBackend, ClipDisplay, Player, Recorder};
use super::super::clip_panel::ClipSource;
use super::super::tasks::Task;
use super::worker::ModelWorker;
use crate::inference::{ModelInfo, ScoreTrack};

pub(super) const STORAGE_KEY: &str = "dpda.detect_view";

/// The caveat shown beside every verdict.
pub const CAVEAT: &str = "A detector trained on one corpus can be wrong on audio unlike it \
                          (other languages, microphones, codecs, noise or generators it never saw). \
                          Treat the verdict as one piece of evidence, not proof.";

/// Where the model comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CheckpointKind {
    /// The best model of the run the train view started last.
    #[default]
    CurrentRun,
    /// The best model of a run folder.
    RunFolder,
    /// A `.safetensors` file.
    Safetensors,
    /// A PyTorch `.pth` state dict.
    Pth,
}

/// Settings kept between launches.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectSettings {
    /// Which kind of checkpoint.
    pub kind: CheckpointKind,
    /// Run folder, `.safetensors` or `.pth` path (by kind).
    pub checkpoint_path: String,
    /// Model name for files without a run configuration (`auto` for safetensors = from the run).
    pub model_name: String,
    /// Whole-clip input length in samples, or `auto` for the model's own (64,600 for the AASIST
    /// family, the run's `data.num_samples`, 66,800 otherwise).
    pub num_samples: String,
    /// Score-track window in seconds.
    pub window_s: f64,
    /// Score-track hop in seconds.
    pub hop_s: f64,
    /// Recording time limit in seconds.
    pub record_limit_s: f64,
    /// The typed clip path.
    pub clip_path: String,
    /// Folder to score.
    pub folder: String,
    /// Score file to write (default: `scores.txt` in the folder).
    pub scores_out: String,
}

impl Default for DetectSettings {
    fn default() -> Self {
        Self {
            kind: CheckpointKind::CurrentRun,
            checkpoint_path: String::new(),
            model_name: "auto".into(),
            num_samples: "auto".into(),
            window_s: 2.0,
            hop_s: 0.5,
            record_limit_s: 10.0,
            clip_path: String::new(),
            folder: String::new(),
            scores_out: String::new(),
        }
    }
}

/// The score of the current clip.
pub(super) struct ClipResult {
    pub(super) score: f64,
    pub(super) track: ScoreTrack,
}

/// The detect view's state.
pub struct DetectView {
    /// Persisted settings (public so tests and the app can preset them).
    pub settings: DetectSettings,
    pub(super) worker: Option<ModelWorker>,
    pub(super) model: Option<ModelInfo>,
    pub(super) loading_model: bool,
    /// Decision threshold on the bona fide logit.
    pub(super) threshold: f64,
    pub(super) threshold_source: String,
    pub(super) clip: Option<ClipDisplay>,
    pub(super) clip_id: u64,
    pub(super) result: Option<ClipResult>,
    pub(super) scoring: bool,
    pub(super) folder_progress: Option<(usize, usize)>,
    pub(super) folder_cancel: Option<Arc<AtomicBool>>,
    pub(super) folder_message: Option<String>,
    /// The clip-source panel (path, dialog, demo clips, decoding).
    pub(super) source: ClipSource,
    /// The checkpoint or folder dialog.
    pub(super) dialog: Option<(DialogTarget, Task<Option<PathBuf>>)>,
    pub(super) backend: AudioBackend,
    pub(super) recorder: Option<Recorder>,
    pub(super) player: Player,
    pub(super) error: Option<String>,
    pub(super) audio_error: Option<String>,
    pub(super) ctx: Option<egui::Context>,
    /// The occlusion explanation of the clip's score.
    pub(super) explain: super::explain::ExplainPanel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DialogTarget {
    Checkpoint,
    Folder,
}

impl Default for DetectView {
    fn default() -> Self {
        let backend = AudioBackend::from_env();
        Self {
            settings: DetectSettings::default(),
            worker: None,
            model: None,
            loading_model: false,
            threshold: 0.0,
            threshold_source: "0 (no stored threshold: equal odds)".into(),
            clip: None,
            clip_id: 0,
            result: None,
            scoring: false,
            folder_progress: None,
            folder_cancel: None,
            folder_message: None,
            source: ClipSource::default(),
            dialog: None,
            player: Player::new(backend.clone()),
            backend,
            recorder: None,
            error: None,
            audio_error: None,
            ctx: None,
            explain: Default::default(),
        }
    }
}

impl DetectView {
    /// Restores the view's settings from eframe's store (defaults when absent).
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        let mut view = Self::default();
        if let Some(settings) =
            storage.and_then(|s| eframe::get_value::<DetectSettings>(s, STORAGE_KEY))
        {
            view.settings = settings;
        }
        view
    }

    /// Saves the view's settings into eframe's store.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.settings);
    }

    /// Use another audio backend (tests force "unavailable" with it).
    pub fn set_audio_backend(&mut self, backend: AudioBackend) {
        self.recorder = None;
        self.player.set_backend(backend.clone());
        self.backend = backend;
    }

    /// Whether a file dialog may open: one at a time, the clip panel's included.
    pub(super) fn can_browse(&self) -> bool {
        self.dialog.is_none() && !self.source.is_browsing()
    }

    /// The current clip's score (bona fide logit), once scored.
    pub fn score(&self) -> Option<f64> {
        self.result.as_ref().map(|r| r.score)
    }

    /// The decision threshold in use.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The loaded model, if any.
    pub fn model(&self) -> Option<&ModelInfo> {
        self.model.as_ref()
    }

    /// The last error shown, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether the worker is busy (loading, scoring a clip or a folder).
    pub fn is_busy(&self) -> bool {
        self.loading_model
            || self.scoring
            || self.folder_progress.is_some()
            || self.source.is_loading()
    }

    /// The message of the last folder run.
    pub fn folder_message(&self) -> Option<&str> {
        self.folder_message.as_deref()
    }
}
