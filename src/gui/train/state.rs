//! The train view's state: what a run shows (status, progress, live curves), the previous runs
//! that can be overlaid, and what is kept between launches.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::super::form::{DialogTarget, ExperimentForm, FormCheck};
use super::super::heatmap::HeatmapView;
use super::super::plots::RunCurves;
use super::super::tasks::Task;
use crate::train::{RunSummary, TrainHandle};

/// Key of the view's settings in eframe's store.
pub(super) const STORAGE_KEY: &str = "dpda.train_view";

/// Where a run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// No run yet.
    Idle,
    Running,
    Paused,
    /// Stop requested; the worker finishes its iteration and writes a checkpoint.
    Stopping,
    Finished(Box<RunSummary>),
    Stopped,
    /// The run ended with an error (bad data path, non-finite loss, a worker panic…).
    Failed(String),
}

impl RunStatus {
    /// Whether a worker is (or may still be) running.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            RunStatus::Running | RunStatus::Paused | RunStatus::Stopping
        )
    }
}
/// Progress of the current run.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub run_dir: Option<PathBuf>,
    pub total_steps: u64,
    pub steps_per_epoch: u64,
    pub total_epochs: u64,
    pub step: u64,
    pub epoch: u64,
    /// Recent (arrival time, step) pairs for the iteration rate.
    recent: Vec<(Instant, u64)>,
}

/// Seconds of history behind the iteration rate.
const RATE_WINDOW: Duration = Duration::from_secs(20);

impl Progress {
    pub(super) fn record(&mut self, step: u64, epoch: u64) {
        self.step = step;
        self.epoch = epoch;
        let now = Instant::now();
        self.recent.push((now, step));
        let keep_from = self
            .recent
            .iter()
            .position(|(t, _)| now.duration_since(*t) <= RATE_WINDOW)
            .unwrap_or(0);
        // Keep at least two points so that slow runs still have a rate.
        let keep_from = keep_from.min(self.recent.len().saturating_sub(2));
        self.recent.drain(..keep_from);
    }

    /// Iterations per second over the last seconds (None before two iterations).
    pub fn iters_per_s(&self) -> Option<f64> {
        let (t0, s0) = *self.recent.first()?;
        let (t1, s1) = *self.recent.last()?;
        let dt_s = t1.duration_since(t0).as_secs_f64();
        (s1 > s0 && dt_s > 0.0).then(|| (s1 - s0) as f64 / dt_s)
    }

    /// Estimated time left for the remaining iterations (dev evaluation not counted).
    pub fn eta_s(&self) -> Option<f64> {
        let rate = self.iters_per_s()?;
        Some(self.total_steps.saturating_sub(self.step) as f64 / rate)
    }

    /// Fraction of the planned iterations done.
    pub fn fraction(&self) -> f32 {
        if self.total_steps == 0 {
            0.0
        } else {
            (self.step as f64 / self.total_steps as f64).clamp(0.0, 1.0) as f32
        }
    }
}

/// A run folder that can be overlaid.
#[derive(Debug)]
pub struct PreviousRun {
    pub dir: PathBuf,
    pub name: String,
    pub selected: bool,
    pub loading: bool,
    pub curves: Option<RunCurves>,
    pub error: Option<String>,
    /// It stopped or crashed before its end (a `last` checkpoint, no `summary.json`).
    pub resumable: bool,
}

/// A message under the form (loaded, saved, or why not).
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
}

/// What the view keeps between launches.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(super) struct Persisted {
    form: ExperimentForm,
    overlays: Vec<PathBuf>,
}

/// The train view's state.
pub struct TrainView {
    pub form: ExperimentForm,
    /// The last check of the form (rerun whenever the form changes).
    pub check: FormCheck,
    pub(super) checked_form: Option<ExperimentForm>,
    pub status: RunStatus,
    pub progress: Progress,
    /// Curves of the current (or last) run.
    pub live: RunCurves,
    pub notice: Option<Notice>,
    /// Run folders found in the runs folder, newest first.
    pub runs: Vec<PreviousRun>,
    /// Start as soon as the view runs its first frame (screenshots, `DPDA_GUI_AUTOSTART`).
    pub autostart: bool,
    /// Select every previous run once they are listed (`DPDA_GUI_OVERLAY_ALL`).
    pub overlay_all: bool,
    pub(super) handle: Option<TrainHandle>,
    pub(super) dialog: Option<(DialogTarget, Task<Option<PathBuf>>)>,
    /// Overlays being loaded, by run folder.
    pub(super) overlay_tasks: Vec<(PathBuf, Task<Result<RunCurves, String>>)>,
    /// The run-folder scan under way.
    pub(super) scan: Option<Task<Vec<ScannedRun>>>,
    pub(super) wanted_overlays: Vec<PathBuf>,
    pub(super) runs_scanned_in: Option<PathBuf>,
    pub(super) heatmap: HeatmapView,
}

/// One run folder found by a scan.
pub(super) struct ScannedRun {
    pub(super) dir: PathBuf,
    pub(super) resumable: bool,
}

impl Default for TrainView {
    fn default() -> Self {
        Self::with_form(ExperimentForm::default(), Vec::new())
    }
}

impl TrainView {
    pub(super) fn with_form(form: ExperimentForm, overlays: Vec<PathBuf>) -> Self {
        Self {
            check: form.check(),
            checked_form: Some(form.clone()),
            form,
            status: RunStatus::Idle,
            progress: Progress::default(),
            live: RunCurves::default(),
            notice: None,
            runs: Vec::new(),
            autostart: false,
            overlay_all: false,
            handle: None,
            dialog: None,
            overlay_tasks: Vec::new(),
            scan: None,
            wanted_overlays: overlays,
            runs_scanned_in: None,
            heatmap: HeatmapView::default(),
        }
    }

    /// Restores the view's settings from eframe's store (defaults when absent).
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        let persisted: Persisted = storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default();
        Self::with_form(persisted.form, persisted.overlays)
    }

    /// Saves the view's settings into eframe's store.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        let overlays = self
            .runs
            .iter()
            .filter(|r| r.selected)
            .map(|r| r.dir.clone())
            .collect();
        let persisted = Persisted {
            form: self.form.clone(),
            overlays,
        };
        eframe::set_value(storage, STORAGE_KEY, &persisted);
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.status.is_active()
    }
}
