//! Background work for the views, one mechanism for all of it: file dialogs, clip decoding,
//! corpus listing, run-folder scans, overlay loading and the detect view's model worker.
//!
//! Work runs on a named thread and answers through a bounded channel; every answer wakes the UI
//! (`request_repaint`), and the views poll their tasks once per frame without waiting. A
//! [`Task`] answers once; a [`Worker`] owns state across many commands (the loaded model) and
//! answers each with events.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::time::Instant;

/// The sending end of a task's answers: each answer wakes the UI.
pub struct Emitter<T> {
    tx: SyncSender<T>,
    ctx: Option<egui::Context>,
}

impl<T> Emitter<T> {
    /// Sends `value` (waits while the channel is full) and wakes the UI; false once the
    /// receiving view is gone.
    pub fn emit(&self, value: T) -> bool {
        let sent = self.tx.send(value).is_ok();
        if let Some(ctx) = &self.ctx {
            ctx.request_repaint();
        }
        sent
    }
}

/// Runs `body` on a thread named `name`, handing it an [`Emitter`] on a channel of `capacity`.
fn spawn_thread<T: Send + 'static>(
    ctx: Option<&egui::Context>,
    name: &str,
    capacity: usize,
    body: impl FnOnce(Emitter<T>) + Send + 'static,
) -> Result<Receiver<T>, String> {
    let (tx, rx) = mpsc::sync_channel(capacity);
    let emitter = Emitter {
        tx,
        ctx: ctx.cloned(),
    };
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || body(emitter))
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    Ok(rx)
}

/// One result that arrives from a background thread.
pub struct Task<T> {
    rx: Receiver<T>,
}

impl<T: Send + 'static> Task<T> {
    /// Runs `job` on a thread named `name`; the UI (when a context is known) is woken when it is
    /// done.
    pub fn spawn(
        ctx: Option<&egui::Context>,
        name: &str,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Self, String> {
        let rx = spawn_thread(ctx, name, 1, move |emitter| {
            // The view may be gone; nothing to do then.
            let _ = emitter.emit(job());
        })?;
        Ok(Self { rx })
    }

    /// The result if it has arrived; `Some(None)` if the thread died without one.
    pub fn poll(&self) -> Option<Option<T>> {
        match self.rx.try_recv() {
            Ok(v) => Some(Some(v)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(None),
        }
    }
}

/// A long-lived background thread that takes commands and answers with events.
pub struct Worker<C, E> {
    tx: Sender<C>,
    rx: Receiver<E>,
}

impl<C: Send + 'static, E: Send + 'static> Worker<C, E> {
    /// Runs `body` on a thread named `name` with the command receiver and an event emitter on a
    /// channel of `capacity`; it should return once the commands end or an emit fails.
    pub fn spawn(
        ctx: Option<&egui::Context>,
        name: &str,
        capacity: usize,
        body: impl FnOnce(Receiver<C>, Emitter<E>) + Send + 'static,
    ) -> Result<Self, String> {
        let (tx, commands) = mpsc::channel();
        let rx = spawn_thread(ctx, name, capacity, move |emitter| body(commands, emitter))?;
        Ok(Self { tx, rx })
    }

    /// Sends a command (never waits); false if the worker has stopped.
    pub fn send(&self, cmd: C) -> bool {
        self.tx.send(cmd).is_ok()
    }

    /// The events that have arrived, until `deadline`; asks for another frame when it stops
    /// early so that the rest is drained then.
    pub fn drain(&self, ctx: &egui::Context, deadline: Instant) -> Vec<E> {
        let mut events = Vec::new();
        while let Ok(e) = self.rx.try_recv() {
            events.push(e);
            if Instant::now() > deadline {
                ctx.request_repaint();
                break;
            }
        }
        events
    }
}

/// Opens a native file dialog as a [`Task`] (it blocks its thread). Without a portal or zenity
/// it answers `None` quickly, exactly like a cancel: typed paths and drag-and-drop remain.
pub fn pick_file(
    ctx: Option<&egui::Context>,
    request: FileRequest,
) -> Result<Task<Option<PathBuf>>, String> {
    Task::spawn(ctx, "dpda-file-dialog", move || {
        let mut dialog = rfd::FileDialog::new();
        if let Some(title) = &request.title {
            dialog = dialog.set_title(title);
        }
        for (name, exts) in &request.filters {
            dialog = dialog.add_filter(name, exts);
        }
        if let Some(dir) = &request.directory {
            dialog = dialog.set_directory(dir);
        }
        match request.mode {
            FileMode::Folder => dialog.pick_folder(),
            FileMode::Open => dialog.pick_file(),
            FileMode::Save(name) => dialog.set_file_name(name).save_file(),
        }
    })
}

/// What a file dialog asks for.
#[derive(Clone, Debug, Default)]
pub struct FileRequest {
    pub title: Option<String>,
    /// (name, extensions) pairs.
    pub filters: Vec<(String, Vec<String>)>,
    /// The folder it starts in.
    pub directory: Option<PathBuf>,
    pub mode: FileMode,
}

/// Open a file, pick a folder, or save under a suggested name.
#[derive(Clone, Debug, Default)]
pub enum FileMode {
    #[default]
    Open,
    Folder,
    Save(String),
}

impl FileRequest {
    /// Opening a file (or a folder when `folder`) titled `title`, with `filters`.
    pub fn open(title: &str, filters: &[(&str, &[&str])], folder: bool) -> Self {
        Self {
            title: Some(title.to_string()),
            filters: filters
                .iter()
                .map(|(n, exts)| (n.to_string(), exts.iter().map(|e| e.to_string()).collect()))
                .collect(),
            directory: None,
            mode: if folder {
                FileMode::Folder
            } else {
                FileMode::Open
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait<T: Send + 'static>(task: &Task<T>) -> Option<T> {
        let start = Instant::now();
        loop {
            if let Some(answer) = task.poll() {
                return answer;
            }
            assert!(start.elapsed().as_secs() < 10, "the task did not answer");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_task_answers_once_and_names_its_thread() {
        let task = Task::spawn(None, "dpda-test-task", || {
            std::thread::current().name().map(str::to_string)
        })
        .unwrap();
        assert_eq!(wait(&task), Some(Some("dpda-test-task".into())));
        // The thread has ended: the channel is closed.
        assert!(matches!(task.poll(), Some(None)));
    }

    #[test]
    fn a_worker_answers_each_command_in_order() {
        let worker: Worker<u32, u32> = Worker::spawn(None, "dpda-test-worker", 2, |cmds, out| {
            for c in cmds {
                if !out.emit(c * 2) {
                    return;
                }
            }
        })
        .unwrap();
        for c in 1..=3 {
            assert!(worker.send(c));
        }
        let ctx = egui::Context::default();
        let mut got = Vec::new();
        let start = Instant::now();
        while got.len() < 3 && start.elapsed().as_secs() < 10 {
            got.extend(worker.drain(&ctx, Instant::now() + crate::gui::theme::EVENT_BUDGET));
        }
        assert_eq!(got, vec![2, 4, 6]);
    }
}
