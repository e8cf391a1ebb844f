//! The studies view's logic: per-frame work (opening folders, polling dialogs and collects,
//! draining the runner's events under the frame budget) and [`StudiesView::apply`], the one
//! place that carries out [`StudiesCommand`]s.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::super::tasks::{self, FileRequest, Task, Worker};
use super::super::train::Notice;
use super::super::{theme, Shared};
use super::state::{DialogTarget, RunnerMsg, RunnerStatus, Sort};
use super::{StudiesCommand, StudiesView};
use crate::study::{
    collect, load_study, run_study, RunStatus, RunnerOptions, StudyEvent, StudyResults,
};

/// Reads `<dir>/study.json`.
fn read_study_json(dir: &Path) -> Result<StudyResults, String> {
    let path = dir.join("study.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no study.json in {} (a study writes it when its runs end; start its study file \
                 to run or resume it)",
                dir.display()
            )
        } else {
            format!("cannot read {}: {e}", path.display())
        }
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl StudiesView {
    /// A file dropped on the window or opened while this view is shown: a study file (`.toml`)
    /// goes into the study-file field; a study folder (or its `study.json`) is opened.
    pub fn open_file(&mut self, path: PathBuf, _shared: &mut Shared) {
        if path.extension().is_some_and(|e| e == "toml") {
            self.study_file_text = path.display().to_string();
            return;
        }
        let dir = if path.file_name().is_some_and(|n| n == "study.json") {
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        } else {
            path
        };
        self.folder_text = dir.display().to_string();
        self.pending_open = Some(dir);
    }

    /// Per-frame work that must happen even when the view is not shown.
    pub fn logic(&mut self, ctx: &egui::Context, _shared: &mut Shared) {
        if let Some(dir) = self.pending_open.take() {
            self.open_folder(dir, ctx);
        }
        self.poll_dialog(ctx);
        self.poll_open();
        self.poll_collect(ctx);
        self.drain_runner(ctx);
    }

    /// Carries out a command (the one place that starts and stops work).
    /// [`StudiesCommand::OverlayRun`] concerns the train view: the app carries it out.
    pub fn apply(&mut self, cmd: StudiesCommand, ctx: &egui::Context) {
        match cmd {
            StudiesCommand::OpenFolder(dir) => self.open_folder(dir, ctx),
            StudiesCommand::BrowseFolder => {
                self.open_dialog(DialogTarget::Folder, ctx);
            }
            StudiesCommand::BrowseStudyFile => {
                self.open_dialog(DialogTarget::StudyFile, ctx);
            }
            StudiesCommand::Start(path) => self.start(path, ctx),
            StudiesCommand::Stop => {
                if let Some(stop) = &self.stop {
                    stop.store(true, Ordering::SeqCst);
                    if self.status == RunnerStatus::Running {
                        self.status = RunnerStatus::Stopping;
                    }
                }
            }
            StudiesCommand::SortBy(key) => self.sort = Some(Sort::clicked(self.sort.as_ref(), key)),
            StudiesCommand::OverlayRun { .. } => {}
        }
    }

    fn notify(&mut self, text: String, is_error: bool) {
        self.notice = Some(Notice { text, is_error });
    }

    /// Starts reading `<dir>/study.json` (not while a study runs here: its folder is shown).
    fn open_folder(&mut self, dir: PathBuf, ctx: &egui::Context) {
        if self.is_running() {
            self.notify(
                "a study is running: its folder is shown until it ends".into(),
                true,
            );
            return;
        }
        self.folder_text = dir.display().to_string();
        let job_dir = dir.clone();
        match Task::spawn(Some(ctx), "dpda-study-open", move || {
            read_study_json(&job_dir)
        }) {
            Ok(task) => self.open_task = Some((dir, task)),
            Err(e) => self.notify(format!("cannot read the study: {e}"), true),
        }
    }

    fn poll_open(&mut self) {
        let Some(answer) = self.open_task.as_ref().and_then(|(_, t)| t.poll()) else {
            return;
        };
        let Some((dir, _)) = self.open_task.take() else {
            return;
        };
        match answer {
            Some(Ok(results)) => {
                // Starting the study again resumes it; study.json names its study file relative to
                // the study folder.
                self.study_file_text = dir.join(&results.study_file).display().to_string();
                self.notify(format!("Opened {}", dir.display()), false);
                self.results = Some(results);
                self.folder = Some(dir);
            }
            Some(Err(e)) => self.notify(e, true),
            None => self.notify("reading the study failed unexpectedly".into(), true),
        }
    }

    fn open_dialog(&mut self, target: DialogTarget, ctx: &egui::Context) {
        if self.dialog.is_some() {
            return;
        }
        let request = match target {
            DialogTarget::Folder => FileRequest::open("Study folder", &[], true),
            DialogTarget::StudyFile => {
                FileRequest::open("Study file", &[("study", &["toml"])], false)
            }
        };
        match tasks::pick_file(Some(ctx), request) {
            Ok(task) => self.dialog = Some((target, task)),
            Err(e) => self.notify(
                format!("cannot open a file dialog: {e}; type the path instead"),
                true,
            ),
        }
    }

    fn poll_dialog(&mut self, ctx: &egui::Context) {
        let Some((target, task)) = &self.dialog else {
            return;
        };
        let target = *target;
        let Some(answer) = task.poll() else {
            return;
        };
        self.dialog = None;
        let Some(path) = answer.flatten() else {
            return;
        };
        match target {
            DialogTarget::Folder => self.open_folder(path, ctx),
            DialogTarget::StudyFile => self.study_file_text = path.display().to_string(),
        }
    }

    /// Runs the study file `path` on a worker thread: the plan is read there, then every run
    /// that has not finished is trained by `run_study` with this program as `dpda`.
    fn start(&mut self, path: PathBuf, ctx: &egui::Context) {
        if self.is_running() {
            return;
        }
        let exe = match self.dpda_exe.clone().map_or_else(std::env::current_exe, Ok) {
            Ok(exe) => exe,
            Err(e) => {
                self.status = RunnerStatus::Failed(format!("cannot find the dpda program: {e}"));
                return;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let runner_stop = Arc::clone(&stop);
        let body = move |_commands: std::sync::mpsc::Receiver<()>,
                         out: tasks::Emitter<RunnerMsg>| {
            let plan = match load_study(&path) {
                Ok(plan) => plan,
                Err(e) => {
                    out.emit(RunnerMsg::Done(Err(e.to_string())));
                    return;
                }
            };
            if !out.emit(RunnerMsg::Plan(Box::new(plan.clone()))) {
                return;
            }
            let options = RunnerOptions {
                exe,
                out_dir: plan.default_out_dir(),
                jobs: 1,
                stop: runner_stop,
            };
            let outcome = run_study(&plan, &options, &mut |event| {
                // The view may be gone; the study still ends properly.
                let _ = out.emit(RunnerMsg::Event(event));
            });
            out.emit(RunnerMsg::Done(
                outcome.map(Box::new).map_err(|e| format!("{e:#}")),
            ));
        };
        match Worker::spawn(Some(ctx), "dpda-study", theme::STUDY_EVENT_CAPACITY, body) {
            Ok(worker) => {
                self.runner = Some(worker);
                self.stop = Some(stop);
                self.status = RunnerStatus::Starting;
                self.notice = None;
            }
            Err(e) => self.status = RunnerStatus::Failed(format!("cannot start the study: {e}")),
        }
    }

    fn drain_runner(&mut self, ctx: &egui::Context) {
        let Some(runner) = &self.runner else {
            return;
        };
        let messages = runner.drain(ctx, Instant::now() + theme::EVENT_BUDGET);
        for m in messages {
            self.apply_runner_msg(m, ctx);
        }
    }

    fn apply_runner_msg(&mut self, msg: RunnerMsg, ctx: &egui::Context) {
        match msg {
            RunnerMsg::Plan(plan) => {
                let out_dir = plan.default_out_dir();
                self.folder_text = out_dir.display().to_string();
                self.folder = Some(out_dir);
                self.plan = Some(*plan);
                if self.status == RunnerStatus::Starting {
                    self.status = RunnerStatus::Running;
                }
                // The table of the study as it stands (runs pending, or done before).
                self.request_collect(ctx);
            }
            RunnerMsg::Event(event) => self.apply_event(event, ctx),
            RunnerMsg::Done(outcome) => {
                self.runner = None;
                self.stop = None;
                self.collect_task = None;
                self.collect_again = false;
                match outcome {
                    Ok(outcome) => {
                        self.status = if outcome.stopped {
                            RunnerStatus::Stopped
                        } else {
                            RunnerStatus::Finished {
                                failed: outcome.num_failed,
                            }
                        };
                        self.results = Some(outcome.results);
                    }
                    Err(e) => self.status = RunnerStatus::Failed(e),
                }
            }
        }
    }

    /// Shows a run's new status at once; its figures come with the next collect.
    fn apply_event(&mut self, event: StudyEvent, ctx: &egui::Context) {
        let (condition, seed, status, ended) = match &event {
            StudyEvent::RunSkipped {
                condition, seed, ..
            } => (condition, *seed, RunStatus::Finished, false),
            StudyEvent::RunStarted {
                condition, seed, ..
            } => (condition, *seed, RunStatus::Running, false),
            StudyEvent::RunFinished {
                condition, seed, ..
            } => (condition, *seed, RunStatus::Finished, true),
            StudyEvent::RunFailed {
                condition, seed, ..
            } => (condition, *seed, RunStatus::Failed, true),
            StudyEvent::RunInterrupted {
                condition, seed, ..
            } => (condition, *seed, RunStatus::Interrupted, true),
        };
        let run = self
            .results
            .as_mut()
            .and_then(|r| r.conditions.iter_mut().find(|c| &c.name == condition))
            .and_then(|c| c.runs.iter_mut().find(|r| r.seed == seed));
        if let Some(run) = run {
            run.status = status;
            match event {
                StudyEvent::RunFinished { eer, .. } => run.eer = eer,
                StudyEvent::RunFailed { error, .. } => run.errors = vec![error],
                _ => {}
            }
        }
        if ended {
            self.request_collect(ctx);
        }
    }

    /// Rebuilds the results from the study folder on a task (one at a time; a request during
    /// one is served when it ends).
    fn request_collect(&mut self, ctx: &egui::Context) {
        if self.collect_task.is_some() {
            self.collect_again = true;
            return;
        }
        let Some(plan) = self.plan.clone() else {
            return;
        };
        let job = move || collect(&plan.default_out_dir(), &plan).map_err(|e| e.to_string());
        match Task::spawn(Some(ctx), "dpda-study-collect", job) {
            Ok(task) => self.collect_task = Some(task),
            Err(e) => self.notify(format!("cannot collect the results: {e}"), true),
        }
    }

    fn poll_collect(&mut self, ctx: &egui::Context) {
        let Some(answer) = self.collect_task.as_ref().and_then(Task::poll) else {
            return;
        };
        self.collect_task = None;
        match answer {
            Some(Ok(results)) => self.results = Some(results),
            Some(Err(e)) => self.notify(e, true),
            None => self.notify("collecting the results failed unexpectedly".into(), true),
        }
        if std::mem::take(&mut self.collect_again) {
            self.request_collect(ctx);
        }
    }
}
