//! The detect view's state: settings kept between launches, the loaded model, the clip and its
//! score, folder-scoring progress, and the audio devices.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::super::audio_widgets::{AudioBackend, ClipDisplay, Player, Recorder};
use super::super::clip_panel::ClipSource;
use super::super::tasks::Task;
use super::models::ModelsPanel;
use super::worker::ModelWorker;
use crate::inference::{check_windows, InputWarning, ModelInfo, ScoreTrack};

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
    /// The models folder (empty: `$DPDA_MODELS_DIR`, else `models`).
    pub models_dir: String,
    /// Calibration file to apply; empty: the run's own `calibration.json` when present.
    pub calibration_path: String,
    /// Prior P(bona fide) at which the posterior of a calibrated score is shown.
    pub prior: f64,
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
            models_dir: String::new(),
            calibration_path: String::new(),
            prior: crate::metrics::calibration::DEFAULT_PRIOR,
        }
    }
}

/// The score of the current clip.
pub(super) struct ClipResult {
    pub(super) score: f64,
    pub(super) track: ScoreTrack,
    /// Warnings found on the samples (the window check runs at drawing time: it depends on the
    /// movable threshold).
    pub(super) warnings: Vec<InputWarning>,
}

/// Scoring while recording: a window is sent each time a hop's worth of new audio completes
/// one; while the worker is busy with one window, the ones completed meanwhile are skipped
/// (only the newest is sent next), so the track never falls behind the microphone.
pub(super) struct LiveTrack {
    /// Which recording this is (results of an earlier one are ignored).
    pub(super) session: u64,
    pub(super) window_s: f64,
    pub(super) hop_s: f64,
    /// Index of the next window to score: window `j` spans `[j·hop, j·hop + window)`.
    pub(super) next_window: usize,
    /// Whether a window is with the worker.
    pub(super) in_flight: bool,
    /// `(window start in seconds, bona fide logit)`, in time order.
    pub(super) points: Vec<(f64, f64)>,
    pub(super) stats: LiveStats,
    pub(super) error: Option<String>,
}

/// Figures of live scoring, shown in the view.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LiveStats {
    /// Windows scored.
    pub windows_scored: usize,
    /// Windows skipped because the model was still busy with an earlier one.
    pub windows_skipped: usize,
    /// Scoring time / audio time of the last window (resampling included).
    pub real_time_factor: Option<f64>,
    /// Seconds from the last window's final sample reaching the view to its score shown (the
    /// device's own buffering, up to one frame, comes on top).
    pub latency_s: Option<f64>,
    /// The largest latency seen, in seconds.
    pub max_latency_s: Option<f64>,
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
    /// The models folder listing.
    pub(super) models: ModelsPanel,
    /// The checkpoint or folder dialog.
    pub(super) dialog: Option<(DialogTarget, Task<Option<PathBuf>>)>,
    pub(super) backend: AudioBackend,
    pub(super) recorder: Option<Recorder>,
    /// Live scoring of the recording in progress (kept after it stops, until another clip).
    pub(super) live: Option<LiveTrack>,
    pub(super) live_session: u64,
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
            models: ModelsPanel::default(),
            dialog: None,
            player: Player::new(backend.clone()),
            backend,
            recorder: None,
            live: None,
            live_session: 0,
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

    /// The names of the models folder's entries, as last listed.
    pub fn model_entries(&self) -> Vec<String> {
        self.models
            .entries()
            .iter()
            .map(|e| e.candidate.label.clone())
            .collect()
    }

    /// Reasons not to trust the current clip's score: the warnings on its samples and, against
    /// the current threshold, whole-clip vs window disagreement. Empty before scoring.
    pub fn warnings(&self) -> Vec<InputWarning> {
        let Some(r) = &self.result else {
            return Vec::new();
        };
        let scores: Vec<f64> = r.track.points.iter().map(|p| p.1).collect();
        let mut warnings = r.warnings.clone();
        warnings.extend(check_windows(r.score, &scores, self.threshold));
        warnings
    }

    /// The live score track of the recording in progress (or the last one): `(window start in
    /// seconds, score)`.
    pub fn live_points(&self) -> Option<&[(f64, f64)]> {
        self.live.as_ref().map(|l| l.points.as_slice())
    }

    /// Figures of live scoring (real-time factor, latency, skipped windows).
    pub fn live_stats(&self) -> Option<LiveStats> {
        self.live.as_ref().map(|l| l.stats)
    }

    /// Whether a recording is in progress.
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// The message of the last folder run.
    pub fn folder_message(&self) -> Option<&str> {
        self.folder_message.as_deref()
    }
}
