//! The train view's logic: per-frame work (form checks, draining the training worker's events
//! under the frame budget, polling dialogs, run-folder scans and overlay loads) and
//! [`TrainView::apply`], the one place that carries out [`TrainCommand`]s.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::super::form::{DialogTarget, ExperimentForm, FormAction};
use super::super::plots::RunCurves;
use super::super::tasks::{self, FileMode, FileRequest, Task};
use super::super::{theme, Shared};
use super::state::{Notice, PreviousRun, Progress, RunStatus, ScannedRun};
use super::{TrainCommand, TrainView};
use crate::inference::RunLayout;
use crate::train::{SpawnOptions, TrainEvent};

impl TrainView {
    /// A file dropped on the window or opened while this view is shown: an experiment (`.toml`),
    /// a dataset folder or a CSV list.
    pub fn open_file(&mut self, path: PathBuf, _shared: &mut Shared) {
        if path.is_dir() {
            self.form.corpus = super::super::form::CorpusChoice::Asvspoof2019La;
            self.form.dataset_root = path.display().to_string();
        } else if path.extension().is_some_and(|e| e == "csv") {
            self.form.corpus = super::super::form::CorpusChoice::Csv;
            self.form.train_csv = path.display().to_string();
        } else {
            self.form.experiment_file = path.display().to_string();
            self.load_experiment(&path);
        }
    }

    /// Overlays the run folder `dir`, labelled `name`, wherever it lives (a study's run, say):
    /// selects it when listed, else adds it to the list; its curves load in the background.
    pub fn overlay_run(&mut self, dir: PathBuf, name: String, ctx: &egui::Context) {
        match self.runs.iter_mut().find(|r| r.dir == dir) {
            Some(run) => {
                run.selected = true;
                run.error = None;
            }
            None => self.runs.insert(
                0,
                PreviousRun {
                    dir,
                    name,
                    selected: true,
                    loading: false,
                    curves: None,
                    error: None,
                    resumable: false,
                },
            ),
        }
        self.request_overlays(ctx);
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
        self.poll_scan(ctx);
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
            ctx.request_repaint_after(theme::REPAINT_WHILE_TRAINING);
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
            TrainCommand::SetRunsDir(dir) => shared.runs_dir = dir,
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
        let run_dir = crate::inference::layout::fresh_run_dir(&shared.runs_dir, &stem);
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
        let config = RunLayout::new(&dir).config();
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
        let csv = || vec![("CSV list".to_string(), vec!["csv".to_string()])];
        let toml = || vec![("experiment".to_string(), vec!["toml".to_string()])];
        let request = match target {
            DialogTarget::DatasetRoot | DialogTarget::RunsDir => FileRequest {
                mode: FileMode::Folder,
                ..FileRequest::default()
            },
            DialogTarget::TrainCsv | DialogTarget::DevCsv | DialogTarget::EvalCsv => FileRequest {
                filters: csv(),
                ..FileRequest::default()
            },
            DialogTarget::LoadExperiment => FileRequest {
                filters: toml(),
                directory: Some(PathBuf::from("experiments")),
                ..FileRequest::default()
            },
            DialogTarget::SaveExperiment => FileRequest {
                filters: toml(),
                mode: FileMode::Save("experiment.toml".into()),
                ..FileRequest::default()
            },
        };
        match tasks::pick_file(Some(ctx), request) {
            Ok(task) => self.dialog = Some((target, task)),
            Err(e) => {
                self.notice = Some(Notice {
                    text: format!("cannot open a file dialog: {e}; type the path instead"),
                    is_error: true,
                })
            }
        }
    }

    fn poll_dialog(&mut self) {
        let Some((target, task)) = &self.dialog else {
            return;
        };
        let target = *target;
        let Some(answer) = task.poll() else {
            return;
        };
        self.dialog = None;
        let picked = answer.flatten();
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

    /// Starts listing the run folders (those with a `metrics.jsonl`) under `runs_dir`, except
    /// `exclude`, replacing any scan under way.
    fn scan_runs(&mut self, ctx: &egui::Context, runs_dir: &Path, exclude: Option<&Path>) {
        self.runs_scanned_in = Some(runs_dir.to_path_buf());
        let runs_dir = runs_dir.to_path_buf();
        let exclude = exclude.map(Path::to_path_buf);
        let job = move || {
            crate::inference::layout::list_runs(&runs_dir)
                .into_iter()
                .filter(|dir| Some(dir) != exclude.as_ref())
                .map(|dir| ScannedRun {
                    resumable: RunLayout::new(&dir).is_resumable(),
                    dir,
                })
                .collect()
        };
        match Task::spawn(Some(ctx), "dpda-scan-runs", job) {
            Ok(task) => self.scan = Some(task),
            Err(e) => {
                self.notice = Some(Notice {
                    text: format!("cannot list the runs folder: {e}"),
                    is_error: true,
                })
            }
        }
    }

    /// Takes the scan's answer: keeps what is known of runs listed before, in the new order.
    fn poll_scan(&mut self, ctx: &egui::Context) {
        let Some(answer) = self.scan.as_ref().and_then(Task::poll) else {
            return;
        };
        self.scan = None;
        let found = answer.unwrap_or_default();
        let mut old = std::mem::take(&mut self.runs);
        for ScannedRun { dir, resumable } in found {
            let mut run = match old.iter().position(|r| r.dir == dir) {
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
            run.resumable = resumable;
            self.runs.push(run);
        }
        // Overlays from outside the runs folder (a study's runs) stay while selected.
        self.runs.extend(old.into_iter().filter(|r| r.selected));
        self.overlay_all = false;
        self.request_overlays(ctx);
    }

    /// Starts loading the selected runs that are not loaded yet, each as its own task.
    fn request_overlays(&mut self, ctx: &egui::Context) {
        for run in self
            .runs
            .iter_mut()
            .filter(|r| r.selected && r.curves.is_none() && !r.loading)
        {
            let dir = run.dir.clone();
            let job = move || RunCurves::from_run_dir(&dir).map_err(|e| e.to_string());
            match Task::spawn(Some(ctx), "dpda-overlay", job) {
                Ok(task) => {
                    run.loading = true;
                    self.overlay_tasks.push((run.dir.clone(), task));
                }
                Err(e) => run.error = Some(format!("cannot start loading: {e}")),
            }
        }
    }

    fn poll_overlays(&mut self) {
        let mut arrived = Vec::new();
        self.overlay_tasks.retain(|(dir, task)| match task.poll() {
            Some(answer) => {
                arrived.push((dir.clone(), answer));
                false
            }
            None => true,
        });
        for (dir, answer) in arrived {
            if let Some(run) = self.runs.iter_mut().find(|r| r.dir == dir) {
                run.loading = false;
                match answer {
                    Some(Ok(c)) => run.curves = Some(c),
                    Some(Err(e)) => run.error = Some(e),
                    None => run.error = Some("loading the run failed unexpectedly".into()),
                }
            }
        }
    }
}
