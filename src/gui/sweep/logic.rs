//! The sweep view's logic: draining the worker's events under the frame budget, and
//! [`SweepView::apply`], the one place that starts and stops the sweep.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::super::tasks::Worker;
use super::super::{theme, Shared};
use super::state::{SweepMsg, SweepStatus};
use super::{SweepCommand, SweepView};
use crate::sweep::{run_sweep, SweepProgress};

/// Progress events the worker may have queued before it waits for the view.
const EVENT_CAPACITY: usize = 64;

impl SweepView {
    /// A file dropped on the window while this view is shown: a `.toml` is the grid, a key-like
    /// file (`.csv`, `.txt`, `.tsv`) the key, a folder the clips, anything else a checkpoint.
    pub fn open_file(&mut self, path: PathBuf, _shared: &mut Shared) {
        let text = path.display().to_string();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("toml") => self.grid = text,
            Some("csv" | "txt" | "tsv") => self.key = text,
            _ if path.is_dir() && !path.join("checkpoints").is_dir() => self.folder = text,
            _ if self.checkpoint_a.trim().is_empty() => self.checkpoint_a = text,
            _ => self.checkpoint_b = text,
        }
    }

    /// Per-frame work: the worker's events.
    pub fn logic(&mut self, ctx: &egui::Context, _shared: &mut Shared) {
        let Some(worker) = &self.worker else {
            return;
        };
        let events = worker.drain(ctx, Instant::now() + theme::EVENT_BUDGET);
        for msg in events {
            match msg {
                SweepMsg::Progress(p) => {
                    if matches!(self.status, SweepStatus::Running(_)) {
                        self.status = SweepStatus::Running(p);
                    }
                }
                SweepMsg::Done(Ok(result)) => {
                    self.result = Some(*result);
                    self.status = SweepStatus::Finished;
                    self.worker = None;
                    self.stop = None;
                }
                SweepMsg::Done(Err(message)) => {
                    self.status = SweepStatus::Failed(message);
                    self.worker = None;
                    self.stop = None;
                }
            }
            if self.worker.is_none() {
                break;
            }
        }
    }

    /// Carries out a command.
    pub fn apply(&mut self, cmd: SweepCommand, ctx: &egui::Context) {
        match cmd {
            SweepCommand::Start => self.start(ctx),
            SweepCommand::Stop => {
                if let Some(stop) = &self.stop {
                    stop.store(true, Ordering::SeqCst);
                    self.status = SweepStatus::Stopping;
                }
            }
        }
    }

    fn start(&mut self, ctx: &egui::Context) {
        if self.is_running() {
            return;
        }
        let plan = match self.plan() {
            Ok(plan) => plan,
            Err(message) => {
                self.status = SweepStatus::Failed(message);
                return;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stop_worker = Arc::clone(&stop);
        let spawned = Worker::spawn(
            Some(ctx),
            "dpda-sweep",
            EVENT_CAPACITY,
            move |_commands, emitter| {
                let result = run_sweep(&plan, &mut |p| {
                    // The view is gone: stop.
                    emitter.emit(SweepMsg::Progress(p)) && !stop_worker.load(Ordering::SeqCst)
                });
                let _ = emitter.emit(SweepMsg::Done(
                    result.map(Box::new).map_err(|e| e.to_string()),
                ));
            },
        );
        match spawned {
            Ok(worker) => {
                self.worker = Some(worker);
                self.stop = Some(stop);
                self.status = SweepStatus::Running(SweepProgress {
                    done_clips: 0,
                    total_clips: 0,
                });
            }
            Err(message) => self.status = SweepStatus::Failed(message),
        }
    }
}
