//! The train view: the experiment form, run controls with progress, linked live plots of the
//! gradient-conflict figures, the per-layer cosine heatmap and overlays of previous runs.
//!
//! Training runs on the library's worker thread ([`crate::train::spawn_with`]); `logic` drains
//! its events under a time budget every frame and never waits. File dialogs and overlay loading
//! also run on their own threads and answer through channels. Drawing code returns
//! [`TrainCommand`]s that [`TrainView::apply`] carries out in one place.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use egui::Color32;
use egui_plot::{HLine, Legend, Line, LineStyle, MarkerShape, Plot, PlotPoints, Points};
use serde::{Deserialize, Serialize};

use super::form::{DialogTarget, ExperimentForm, FormAction, FormCheck};
use super::heatmap::HeatmapView;
use super::plots::{RunCurves, Series};
use super::theme;
use super::Shared;
use crate::train::{RunSummary, SpawnOptions, TrainEvent, TrainHandle};

/// Key of the view's settings in eframe's store.
const STORAGE_KEY: &str = "dpda.train_view";

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

/// What the user asked for in the train view.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainCommand {
    Start,
    Pause,
    Resume,
    Stop,
    Form(FormAction),
    RefreshRuns,
    /// Show or hide a previous run (index into `runs`).
    ToggleOverlay(usize),
    /// Continue a stopped or crashed run from its last checkpoint (its own configuration).
    ContinueRun(PathBuf),
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
    fn record(&mut self, step: u64, epoch: u64) {
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

/// "1h 02m", "3m 05s", "12s".
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
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

/// Whether a run folder can be continued: it has a `last` checkpoint and did not end (a run
/// that ends writes `summary.json`; one stopped, killed or crashed does not).
pub fn is_resumable(dir: &Path) -> bool {
    let layout = crate::inference::RunLayout::new(dir);
    let (weights, sidecar) = layout.checkpoint("last");
    layout.config().is_file()
        && weights.is_file()
        && sidecar.is_file()
        && !layout.summary().exists()
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
struct Persisted {
    form: ExperimentForm,
    overlays: Vec<PathBuf>,
}

/// The train view's state.
pub struct TrainView {
    pub form: ExperimentForm,
    /// The last check of the form (rerun whenever the form changes).
    pub check: FormCheck,
    checked_form: Option<ExperimentForm>,
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
    handle: Option<TrainHandle>,
    dialog: Option<Receiver<(DialogTarget, Option<PathBuf>)>>,
    overlay_tx: Sender<(PathBuf, Result<RunCurves, String>)>,
    overlay_rx: Receiver<(PathBuf, Result<RunCurves, String>)>,
    wanted_overlays: Vec<PathBuf>,
    runs_scanned_in: Option<PathBuf>,
    heatmap: HeatmapView,
}

impl Default for TrainView {
    fn default() -> Self {
        Self::with_form(ExperimentForm::default(), Vec::new())
    }
}

impl TrainView {
    fn with_form(form: ExperimentForm, overlays: Vec<PathBuf>) -> Self {
        let (overlay_tx, overlay_rx) = std::sync::mpsc::channel();
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
            overlay_tx,
            overlay_rx,
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

    /// A file dropped on the window or opened while this view is shown: an experiment (`.toml`),
    /// a dataset folder or a CSV list.
    pub fn open_file(&mut self, path: PathBuf, _shared: &mut Shared) {
        if path.is_dir() {
            self.form.corpus = super::form::CorpusChoice::Asvspoof2019La;
            self.form.dataset_root = path.display().to_string();
        } else if path.extension().is_some_and(|e| e == "csv") {
            self.form.corpus = super::form::CorpusChoice::Csv;
            self.form.train_csv = path.display().to_string();
        } else {
            self.form.experiment_file = path.display().to_string();
            self.load_experiment(&path);
        }
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.status.is_active()
    }

    /// Per-frame work that must happen even when the view is not shown.
    pub fn logic(&mut self, ctx: &egui::Context, shared: &mut Shared) {
        if self.checked_form.as_ref() != Some(&self.form) {
            self.check = self.form.check();
            self.checked_form = Some(self.form.clone());
        }
        if let Some(plan) = &self.check.plan {
            if shared.data.as_ref() != Some(&plan.data) {
                shared.data = Some(plan.data.clone());
            }
        }
        if self.runs_scanned_in.as_deref() != Some(shared.runs_dir.as_path()) {
            self.scan_runs(ctx, &shared.runs_dir.clone(), shared.current_run.as_deref());
        }
        self.poll_dialog();
        self.poll_overlays();
        if self.autostart {
            self.autostart = false;
            self.apply(TrainCommand::Start, ctx, shared);
        }
        self.drain_events(ctx, shared);
    }

    fn drain_events(&mut self, ctx: &egui::Context, shared: &mut Shared) {
        let deadline = Instant::now() + theme::EVENT_BUDGET;
        let mut more = false;
        while let Some(handle) = &self.handle {
            if Instant::now() >= deadline {
                more = true;
                break;
            }
            match handle.try_recv() {
                Some(ev) => self.apply_event(ev),
                None => break,
            }
        }
        if let Some(handle) = &self.handle {
            if handle.is_finished() && !more {
                // Whatever arrived between the last try_recv and the thread's end.
                while let Some(ev) = self.handle.as_ref().and_then(|h| h.try_recv()) {
                    self.apply_event(ev);
                }
                if self.status.is_active() {
                    self.status =
                        RunStatus::Failed("the training thread ended without a result".into());
                }
                self.handle = None;
                self.scan_runs(ctx, &shared.runs_dir.clone(), None);
            }
        }
        if self.handle.is_some() {
            // Keep frames coming while a run is on (also lets the iteration rate update).
            ctx.request_repaint_after(Duration::from_millis(100));
            if more {
                ctx.request_repaint();
            }
        }
    }

    /// Applies one training event to the view (the live path; benchmarks feed it too).
    pub fn apply_event(&mut self, ev: TrainEvent) {
        match ev {
            TrainEvent::Started {
                run_dir,
                steps_per_epoch,
                total_steps,
                resumed_at_step,
                ..
            } => {
                self.progress.run_dir = Some(run_dir);
                self.progress.steps_per_epoch = steps_per_epoch;
                self.progress.total_steps = total_steps;
                self.progress.total_epochs = total_steps.div_ceil(steps_per_epoch.max(1));
                self.progress.step = resumed_at_step.unwrap_or(0);
            }
            TrainEvent::Step(m) => {
                self.progress.record(m.step, m.epoch);
                self.live.push_step(&m);
            }
            TrainEvent::LayerCos(l) => self.live.push_layer_cos(&l),
            TrainEvent::Epoch(e) => self.live.push_epoch(&e),
            TrainEvent::Checkpoint { .. } => {}
            TrainEvent::Finished { summary } => {
                self.status = RunStatus::Finished(Box::new(summary));
            }
            TrainEvent::Stopped => self.status = RunStatus::Stopped,
            TrainEvent::Paused => self.status = RunStatus::Paused,
            TrainEvent::Resumed => {
                if self.status == RunStatus::Paused {
                    self.status = RunStatus::Running;
                }
            }
            TrainEvent::Error { message } => self.status = RunStatus::Failed(message),
            TrainEvent::Notice { message } => {
                self.notice = Some(Notice {
                    text: message,
                    is_error: false,
                })
            }
        }
    }

    /// Carries out a command (the one place that starts and stops work).
    pub fn apply(&mut self, cmd: TrainCommand, ctx: &egui::Context, shared: &mut Shared) {
        match cmd {
            TrainCommand::Start => self.start(ctx, shared),
            TrainCommand::Pause => {
                if let Some(h) = &self.handle {
                    h.pause();
                    self.status = RunStatus::Paused;
                }
            }
            TrainCommand::Resume => {
                if let Some(h) = &self.handle {
                    h.resume();
                    self.status = RunStatus::Running;
                }
            }
            TrainCommand::Stop => {
                if let Some(h) = &self.handle {
                    h.resume();
                    h.stop();
                    self.status = RunStatus::Stopping;
                }
            }
            TrainCommand::Form(FormAction::Browse(target)) => self.open_dialog(target, ctx),
            TrainCommand::Form(FormAction::LoadExperiment) => {
                let path = PathBuf::from(self.form.experiment_file.trim());
                self.load_experiment(&path);
            }
            TrainCommand::Form(FormAction::SaveExperiment) => {
                let path = PathBuf::from(self.form.experiment_file.trim());
                self.save_experiment(&path);
            }
            TrainCommand::RefreshRuns => {
                self.scan_runs(ctx, &shared.runs_dir.clone(), shared.current_run.as_deref())
            }
            TrainCommand::ContinueRun(dir) => self.continue_run(ctx, shared, dir),
            TrainCommand::ToggleOverlay(i) => {
                if let Some(run) = self.runs.get_mut(i) {
                    run.selected = !run.selected;
                }
                self.request_overlays(ctx);
            }
        }
    }

    fn start(&mut self, ctx: &egui::Context, shared: &mut Shared) {
        if self.is_running() {
            return;
        }
        self.check = self.form.check();
        self.checked_form = Some(self.form.clone());
        let Some(plan) = self.check.plan.clone() else {
            return;
        };
        let stem = Path::new(self.form.experiment_file.trim())
            .file_stem()
            .map_or_else(|| "gui".to_string(), |s| s.to_string_lossy().into_owned());
        let run_dir = new_run_dir(&shared.runs_dir, &stem);
        let waker_ctx = ctx.clone();
        let options = SpawnOptions {
            resume: false,
            overwrite: false,
            waker: Some(Box::new(move || waker_ctx.request_repaint())),
        };
        self.live = RunCurves::default();
        self.progress = Progress::default();
        shared.data = Some(plan.data.clone());
        match crate::train::spawn_with(plan, run_dir.clone(), options) {
            Ok(handle) => {
                self.handle = Some(handle);
                self.status = RunStatus::Running;
                self.progress.run_dir = Some(run_dir.clone());
                shared.current_run = Some(run_dir);
            }
            Err(e) => {
                self.status = RunStatus::Failed(format!("cannot start the training thread: {e}"))
            }
        }
    }

    /// Continue the run in `dir` from its last checkpoint with the configuration it was
    /// started with.
    fn continue_run(&mut self, ctx: &egui::Context, shared: &mut Shared, dir: PathBuf) {
        if self.is_running() {
            return;
        }
        let config = crate::inference::RunLayout::new(&dir).config();
        let plan = match crate::train::load_plan(&config, &[]) {
            Ok(plan) => plan,
            Err(e) => {
                self.status = RunStatus::Failed(format!("cannot continue {}: {e}", dir.display()));
                return;
            }
        };
        let waker_ctx = ctx.clone();
        let options = SpawnOptions {
            resume: true,
            overwrite: false,
            waker: Some(Box::new(move || waker_ctx.request_repaint())),
        };
        self.live = RunCurves::default();
        self.progress = Progress::default();
        shared.data = Some(plan.data.clone());
        match crate::train::spawn_with(plan, dir.clone(), options) {
            Ok(handle) => {
                self.handle = Some(handle);
                self.status = RunStatus::Running;
                self.progress.run_dir = Some(dir.clone());
                self.runs.retain(|r| r.dir != dir);
                shared.current_run = Some(dir);
            }
            Err(e) => {
                self.status = RunStatus::Failed(format!("cannot start the training thread: {e}"))
            }
        }
    }

    fn load_experiment(&mut self, path: &Path) {
        let result = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| {
                ExperimentForm::from_toml(&text, &path.display().to_string())
                    .map_err(|e| e.to_string())
            });
        self.notice = Some(match result {
            Ok(mut form) => {
                form.experiment_file = path.display().to_string();
                self.form = form;
                Notice {
                    text: format!("Loaded {}", path.display()),
                    is_error: false,
                }
            }
            Err(text) => Notice {
                text,
                is_error: true,
            },
        });
    }

    fn save_experiment(&mut self, path: &Path) {
        let result = self.form.to_toml().and_then(|text| {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        });
        self.notice = Some(match result {
            Ok(()) => {
                self.form.experiment_file = path.display().to_string();
                Notice {
                    text: format!("Saved {}", path.display()),
                    is_error: false,
                }
            }
            Err(text) => Notice {
                text,
                is_error: true,
            },
        });
    }

    fn open_dialog(&mut self, target: DialogTarget, ctx: &egui::Context) {
        if self.dialog.is_some() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("dpda-file-dialog".into())
            .spawn(move || {
                let dialog = rfd::FileDialog::new();
                let picked = match target {
                    DialogTarget::DatasetRoot | DialogTarget::RunsDir => dialog.pick_folder(),
                    DialogTarget::TrainCsv | DialogTarget::DevCsv | DialogTarget::EvalCsv => {
                        dialog.add_filter("CSV list", &["csv"]).pick_file()
                    }
                    DialogTarget::LoadExperiment => dialog
                        .add_filter("experiment", &["toml"])
                        .set_directory("experiments")
                        .pick_file(),
                    DialogTarget::SaveExperiment => dialog
                        .add_filter("experiment", &["toml"])
                        .set_file_name("experiment.toml")
                        .save_file(),
                };
                // The view may be gone; nothing to do then.
                let _ = tx.send((target, picked));
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.dialog = Some(rx),
            Err(e) => {
                self.notice = Some(Notice {
                    text: format!("cannot open a file dialog: {e}; type the path instead"),
                    is_error: true,
                })
            }
        }
    }

    fn poll_dialog(&mut self) {
        let Some(rx) = &self.dialog else {
            return;
        };
        let (target, picked) = match rx.try_recv() {
            Ok(answer) => answer,
            Err(std::sync::mpsc::TryRecvError::Empty) => return,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                self.dialog = None;
                return;
            }
        };
        self.dialog = None;
        let Some(path) = picked else {
            return;
        };
        let text = path.display().to_string();
        match target {
            DialogTarget::DatasetRoot => self.form.dataset_root = text,
            DialogTarget::TrainCsv => self.form.train_csv = text,
            DialogTarget::DevCsv => self.form.dev_csv = text,
            DialogTarget::EvalCsv => self.form.eval_csv = text,
            DialogTarget::LoadExperiment => self.load_experiment(&path),
            DialogTarget::SaveExperiment => self.save_experiment(&path),
            DialogTarget::RunsDir => {}
        }
    }

    /// Lists run folders (those with a `metrics.jsonl`) under `runs_dir`, except `exclude`.
    fn scan_runs(&mut self, ctx: &egui::Context, runs_dir: &Path, exclude: Option<&Path>) {
        self.runs_scanned_in = Some(runs_dir.to_path_buf());
        let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(runs_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| crate::inference::RunLayout::new(p).metrics().is_file())
            .filter(|p| Some(p.as_path()) != exclude)
            .map(|p| {
                let modified = std::fs::metadata(crate::inference::RunLayout::new(&p).metrics())
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (modified, p)
            })
            .collect();
        found.sort_by_key(|run| std::cmp::Reverse(run.0));
        let mut old = std::mem::take(&mut self.runs);
        for (_, dir) in found {
            let run = match old.iter().position(|r| r.dir == dir) {
                Some(i) => old.swap_remove(i),
                None => PreviousRun {
                    name: dir.file_name().map_or_else(
                        || dir.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    ),
                    selected: self.overlay_all || self.wanted_overlays.contains(&dir),
                    loading: false,
                    curves: None,
                    error: None,
                    resumable: false,
                    dir,
                },
            };
            let mut run = run;
            run.resumable = is_resumable(&run.dir);
            self.runs.push(run);
        }
        self.overlay_all = false;
        self.request_overlays(ctx);
    }

    /// Starts loading the selected runs that are not loaded yet, each on its own thread.
    fn request_overlays(&mut self, ctx: &egui::Context) {
        for run in self
            .runs
            .iter_mut()
            .filter(|r| r.selected && r.curves.is_none() && !r.loading)
        {
            let tx = self.overlay_tx.clone();
            let dir = run.dir.clone();
            let ctx = ctx.clone();
            let spawned = std::thread::Builder::new()
                .name("dpda-overlay".into())
                .spawn(move || {
                    let curves = RunCurves::from_run_dir(&dir).map_err(|e| e.to_string());
                    let _ = tx.send((dir, curves));
                    ctx.request_repaint();
                });
            match spawned {
                Ok(_) => run.loading = true,
                Err(e) => run.error = Some(format!("cannot start loading: {e}")),
            }
        }
    }

    fn poll_overlays(&mut self) {
        while let Ok((dir, result)) = self.overlay_rx.try_recv() {
            if let Some(run) = self.runs.iter_mut().find(|r| r.dir == dir) {
                run.loading = false;
                match result {
                    Ok(c) => run.curves = Some(c),
                    Err(e) => run.error = Some(e),
                }
            }
        }
    }

    /// Draws the view.
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let mut commands = Vec::new();
        egui::Panel::left("train-form")
            .resizable(true)
            .default_size(theme::FORM_WIDTH)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.heading("Experiment");
                    let enabled = !self.is_running();
                    if let Some(a) = self.form.ui(ui, &self.check.errors, enabled) {
                        commands.push(TrainCommand::Form(a));
                    }
                    if let Some(n) = &self.notice {
                        let color = if n.is_error { theme::ERROR } else { theme::OK };
                        ui.colored_label(color, &n.text);
                    }
                    ui.separator();
                    self.runs_ui(ui, shared, &mut commands);
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            self.controls_ui(ui, &mut commands);
            ui.separator();
            egui::ScrollArea::vertical().show(ui, |ui| self.plots_ui(ui));
        });
        let ctx = ui.ctx().clone();
        for cmd in commands {
            self.apply(cmd, &ctx, shared);
        }
    }

    fn runs_ui(&self, ui: &mut egui::Ui, shared: &mut Shared, commands: &mut Vec<TrainCommand>) {
        ui.horizontal(|ui| {
            ui.strong("Previous runs");
            if ui.button("Refresh").clicked() {
                commands.push(TrainCommand::RefreshRuns);
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Runs folder");
            let mut text = shared.runs_dir.display().to_string();
            let edit = ui
                .add(egui::TextEdit::singleline(&mut text).desired_width(180.0))
                .labelled_by(label.id);
            if edit.changed() {
                shared.runs_dir = PathBuf::from(text);
            }
        });
        if self.runs.is_empty() {
            ui.weak("No run folders here yet.");
        }
        for (i, run) in self.runs.iter().enumerate() {
            ui.horizontal(|ui| {
                let mut selected = run.selected;
                if ui.checkbox(&mut selected, &run.name).changed() {
                    commands.push(TrainCommand::ToggleOverlay(i));
                }
                if run.loading {
                    ui.spinner();
                }
                if let Some(e) = &run.error {
                    ui.colored_label(theme::ERROR, "⚠").on_hover_text(e);
                }
                if run.resumable
                    && ui
                        .add_enabled(!self.is_running(), egui::Button::new("⟳ Continue"))
                        .on_hover_text("stopped or crashed: continue from its last checkpoint")
                        .clicked()
                {
                    commands.push(TrainCommand::ContinueRun(run.dir.clone()));
                }
            });
        }
    }

    fn controls_ui(&self, ui: &mut egui::Ui, commands: &mut Vec<TrainCommand>) {
        ui.horizontal(|ui| {
            let can_start = !self.is_running() && self.check.plan.is_some();
            if ui
                .add_enabled(can_start, egui::Button::new("▶ Start"))
                .clicked()
            {
                commands.push(TrainCommand::Start);
            }
            match self.status {
                RunStatus::Paused => {
                    if ui.button("▶ Resume").clicked() {
                        commands.push(TrainCommand::Resume);
                    }
                }
                _ => {
                    let can_pause = self.status == RunStatus::Running;
                    if ui
                        .add_enabled(can_pause, egui::Button::new("⏸ Pause"))
                        .clicked()
                    {
                        commands.push(TrainCommand::Pause);
                    }
                }
            }
            let can_stop = matches!(self.status, RunStatus::Running | RunStatus::Paused);
            if ui
                .add_enabled(can_stop, egui::Button::new("⏹ Stop"))
                .clicked()
            {
                commands.push(TrainCommand::Stop);
            }
            self.status_ui(ui, commands);
        });
        if !self.is_running() && self.check.plan.is_none() {
            ui.colored_label(theme::ERROR, "Fix the marked fields to start a run.");
        }
        let p = &self.progress;
        let rate = p
            .iters_per_s()
            .map_or_else(|| "– it/s".into(), |r| format!("{r:.2} it/s"));
        let eta = p.eta_s().map_or_else(|| "–".into(), format_duration);
        let text = format!(
            "iteration {}/{} · epoch {}/{} · {rate} · ETA {eta}",
            p.step,
            p.total_steps,
            (p.epoch + 1).min(p.total_epochs.max(1)),
            p.total_epochs
        );
        ui.add(egui::ProgressBar::new(p.fraction()).text(text));
        if let Some(dir) = &p.run_dir {
            ui.weak(format!("run folder: {}", dir.display()));
        }
    }

    fn status_ui(&self, ui: &mut egui::Ui, commands: &mut Vec<TrainCommand>) {
        match &self.status {
            RunStatus::Idle => {
                ui.label("Ready.");
            }
            RunStatus::Running => {
                ui.spinner();
                ui.label("Training…");
            }
            RunStatus::Paused => {
                ui.label("Paused.");
            }
            RunStatus::Stopping => {
                ui.spinner();
                ui.label("Stopping after this iteration…");
            }
            RunStatus::Finished(s) => {
                let eer = s
                    .eval_eer
                    .map_or_else(String::new, |e| format!(", eval EER {:.2} %", e * 100.0));
                ui.colored_label(
                    theme::OK,
                    format!("Finished ({}): {} iterations{eer}.", s.reason, s.num_steps),
                );
            }
            RunStatus::Stopped => {
                ui.label("Stopped at its last checkpoint.");
                if let Some(dir) = &self.progress.run_dir {
                    if ui.button("⟳ Continue this run").clicked() {
                        commands.push(TrainCommand::ContinueRun(dir.clone()));
                    }
                }
            }
            RunStatus::Failed(message) => {
                ui.colored_label(theme::ERROR, format!("Run failed: {message}"));
            }
        }
    }

    fn plots_ui(&mut self, ui: &mut egui::Ui) {
        let link = egui::Id::unique("train-plots-link");
        let overlays: Vec<(String, Color32, &RunCurves)> = self
            .runs
            .iter()
            .filter(|r| r.selected)
            .filter_map(|r| r.curves.as_ref().map(|c| (r.name.clone(), c)))
            .enumerate()
            .map(|(i, (name, c))| (name, theme::OVERLAY[i % theme::OVERLAY.len()], c))
            .collect();
        let live = &self.live;
        let over =
            |pick: fn(&RunCurves) -> &Series, what: &str| overlay_curves(&overlays, pick, what);
        let width = ui.available_width();
        let half = ((width - ui.spacing().item_spacing.x) / 2.0).max(200.0);
        ui.horizontal(|ui| {
            let mut curves = vec![
                Curve::line("loss (original)", &live.loss_orig, theme::ORIG),
                Curve::line("loss (augmented)", &live.loss_aug, theme::AUG),
                Curve::line("loss (combined)", &live.loss_combined, theme::COMBINED),
            ];
            curves.extend(over(|c| &c.loss_combined, "loss"));
            curve_plot(ui, "Training loss", link, half, &curves, PlotExtras::None);
            let mut curves = vec![
                Curve::line("gradient cosine", &live.grad_cos, theme::COS),
                Curve::points("conflict (cos < 0)", &live.conflicts, theme::CONFLICT),
            ];
            curves.extend(over(|c| &c.grad_cos, "cosine"));
            curve_plot(
                ui,
                "Gradient cosine",
                link,
                half,
                &curves,
                PlotExtras::ZeroLine,
            );
        });
        ui.horizontal(|ui| {
            let mut curves = vec![
                Curve::line(
                    format!("running ({} it.)", super::plots::CONFLICT_WINDOW),
                    &live.conflict_frac_window,
                    theme::CONFLICT,
                ),
                Curve::line("this epoch so far", &live.conflict_frac_epoch, theme::COS),
                Curve::points("per epoch", &live.epoch_conflict_frac, theme::COMBINED),
            ];
            curves.extend(over(|c| &c.conflict_frac_window, "running"));
            curve_plot(
                ui,
                "Conflict fraction",
                link,
                half,
                &curves,
                PlotExtras::UnitRange,
            );
            let mut curves = vec![
                Curve::line("|g| original", &live.grad_norm_orig, theme::ORIG),
                Curve::line("|g| augmented", &live.grad_norm_aug, theme::AUG),
            ];
            curves.extend(over(|c| &c.grad_norm_orig, "|g| orig"));
            curves.extend(over(|c| &c.grad_norm_aug, "|g| aug"));
            curve_plot(ui, "Gradient norm", link, half, &curves, PlotExtras::None);
        });
        ui.horizontal(|ui| {
            let mut curves = vec![
                Curve::line("dev loss", &live.dev_loss, theme::DEV).with_markers(),
                Curve::line("train loss (epoch mean)", &live.train_loss, theme::COMBINED)
                    .with_markers(),
            ];
            curves.extend(over(|c| &c.dev_loss, "dev loss"));
            curve_plot(ui, "Loss per epoch", link, half, &curves, PlotExtras::None);
            let mut curves =
                vec![Curve::line("dev EER (%)", &live.dev_eer, theme::DEV).with_markers()];
            for c in &mut curves {
                c.scale = 100.0;
            }
            let mut extra = over(|c| &c.dev_eer, "dev EER (%)");
            for c in &mut extra {
                c.scale = 100.0;
            }
            curves.extend(extra);
            curve_plot(ui, "Dev EER (%)", link, half, &curves, PlotExtras::None);
        });
        ui.strong("Per-layer gradient cosine (red: the paths disagree)");
        let rows = live.layers.num_layers().max(1) as f32;
        let height = (rows * 9.0).clamp(140.0, 420.0);
        self.heatmap.ui(ui, &self.live.layers, link, height);
    }
}

/// The curve `pick` of every overlaid run, named after the run.
fn overlay_curves<'a>(
    overlays: &[(String, Color32, &'a RunCurves)],
    pick: fn(&RunCurves) -> &Series,
    what: &str,
) -> Vec<Curve<'a>> {
    overlays
        .iter()
        .map(|(name, color, c)| Curve::overlay(format!("{name}: {what}"), pick(c), *color))
        .collect()
}

/// Extra items of a curve plot.
#[derive(Clone, Copy, PartialEq)]
enum PlotExtras {
    None,
    /// A line at y = 0 (the cosine's sign change).
    ZeroLine,
    /// y from 0 to 1.
    UnitRange,
}

/// One series in a plot.
struct Curve<'s> {
    name: String,
    series: &'s Series,
    color: Color32,
    points: bool,
    markers: bool,
    dashed: bool,
    scale: f64,
}

impl<'s> Curve<'s> {
    fn line(name: impl Into<String>, series: &'s Series, color: Color32) -> Self {
        Self {
            name: name.into(),
            series,
            color,
            points: false,
            markers: false,
            dashed: false,
            scale: 1.0,
        }
    }

    fn points(name: impl Into<String>, series: &'s Series, color: Color32) -> Self {
        Self {
            points: true,
            ..Self::line(name, series, color)
        }
    }

    fn overlay(name: String, series: &'s Series, color: Color32) -> Self {
        Self {
            dashed: true,
            ..Self::line(name, series, color)
        }
    }

    fn with_markers(mut self) -> Self {
        self.markers = true;
        self
    }
}

/// A plot of `curves` on the shared iteration axis, decimated to the visible range.
fn curve_plot(
    ui: &mut egui::Ui,
    title: &str,
    link: egui::Id,
    width: f32,
    curves: &[Curve<'_>],
    extras: PlotExtras,
) {
    ui.vertical(|ui| {
        ui.set_width(width);
        ui.label(title);
        let mut plot = Plot::new(title)
            .height(theme::PLOT_HEIGHT)
            .width(width)
            .link_axis(link, [true, false])
            .link_cursor(link, [true, false])
            .legend(Legend::default())
            .y_axis_min_width(theme::AXIS_WIDTH)
            .label_formatter(|hover| {
                let (name, p) = match hover {
                    egui_plot::HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => (*plot_name, position),
                    egui_plot::HoverPosition::Elsewhere { position } => ("", position),
                };
                Some(if name.is_empty() {
                    format!("iteration {:.0}\n{:.5}", p.x, p.y)
                } else {
                    format!("{name}\niteration {:.0}\n{:.5}", p.x, p.y)
                })
            });
        if extras == PlotExtras::UnitRange {
            plot = plot.include_y(0.0).include_y(1.0);
        }
        plot.show(ui, |pui| {
            let bounds = pui.plot_bounds();
            let auto_x = pui.auto_bounds().x;
            // One min/max pair per two pixels: finer columns cost tessellation without showing more.
            let columns = (pui.transform().frame().width() / 2.0).max(1.0) as usize;
            if extras == PlotExtras::ZeroLine {
                pui.hline(
                    HLine::new("cos = 0", 0.0)
                        .color(theme::ZERO_LINE)
                        .style(LineStyle::dashed_dense()),
                );
            }
            for c in curves {
                if c.series.is_empty() {
                    continue;
                }
                // While the x axis follows the data, draw all of it; once the user zooms or
                // pans, only the visible range.
                let (x0, x1) = if auto_x {
                    let xs = c.series.xs();
                    (xs[0], xs[xs.len() - 1])
                } else {
                    (bounds.min()[0], bounds.max()[0])
                };
                let mut pts = Vec::with_capacity(2 * columns + 4);
                c.series.decimate(x0, x1, columns, &mut pts);
                if c.scale != 1.0 {
                    for p in &mut pts {
                        p.y *= c.scale;
                    }
                }
                if c.points {
                    pui.points(
                        Points::new(c.name.clone(), PlotPoints::Owned(pts))
                            .color(c.color)
                            .shape(MarkerShape::Circle)
                            .filled(true)
                            .radius(2.0),
                    );
                } else {
                    if c.markers {
                        pui.points(
                            Points::new(c.name.clone(), PlotPoints::Owned(pts.clone()))
                                .color(c.color)
                                .filled(true)
                                .radius(2.5),
                        );
                    }
                    let mut line = Line::new(c.name.clone(), PlotPoints::Owned(pts)).color(c.color);
                    if c.dashed {
                        line = line.style(LineStyle::dashed_loose()).width(1.0);
                    }
                    pui.line(line);
                }
            }
        });
    });
}

/// A fresh folder name under `runs_dir`: `<stem>-<UTC date>-<time>` (with a suffix if taken).
fn new_run_dir(runs_dir: &Path, stem: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{stem}-{}", utc_stamp(secs));
    let mut dir = runs_dir.join(&base);
    let mut n = 2;
    while dir.exists() {
        dir = runs_dir.join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

/// `YYYYMMDD-HHMMSS` (UTC) of Unix time `secs`; days to civil date as in H. Hinnant's
/// `civil_from_days`.
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamp_matches_known_dates() {
        // `date -u -d @0` and `date -u -d @1700000000`.
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(1_700_000_000), "20231114-221320");
        // 2000-02-29 (a leap day in a year divisible by 400): `date -u -d @951782400`.
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(12.4), "12s");
        assert_eq!(format_duration(185.0), "3m 05s");
        assert_eq!(format_duration(3720.0), "1h 02m");
        assert_eq!(format_duration(f64::NAN), "–");
    }
}
