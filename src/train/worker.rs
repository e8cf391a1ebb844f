//! The worker API front-ends use: [`spawn`] starts a run on a named background thread that
//! reports [`TrainEvent`]s over a bounded channel; [`TrainHandle`] pauses, resumes and stops it
//! through atomic flags the loop reads once per iteration. A panic in the worker becomes an
//! `Error` event, and a front-end that goes away (drops its handle) stops the run rather than
//! leaving it blocked on a full channel.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::config::Plan;
use super::control::{Control, FaultHooks};
use super::events::{RunSummary, TrainEvent};
use super::run::{run, RunContext};

/// Events buffered before the worker waits for the front-end to drain.
pub const EVENT_CAPACITY: usize = 1024;

/// Called after each event is sent (e.g. `egui::Context::request_repaint`).
pub type Waker = Box<dyn Fn() + Send>;

/// Options of [`spawn_with`].
#[derive(Default)]
pub struct SpawnOptions {
    /// Continue from `checkpoints/last.*` (an error when the run folder has none).
    pub resume: bool,
    /// Replace a run already in the folder (otherwise such a folder is refused).
    pub overwrite: bool,
    pub waker: Option<Waker>,
}

/// A running training job.
pub struct TrainHandle {
    control: Arc<Control>,
    events: Receiver<TrainEvent>,
    /// Events drained while joining, handed out by `try_recv` first.
    pending: RefCell<VecDeque<TrainEvent>>,
    thread: Option<JoinHandle<Option<RunSummary>>>,
}

/// Start training `plan` in `run_dir` on a background thread (fresh run, no waker).
pub fn spawn(plan: Plan, run_dir: PathBuf) -> std::io::Result<TrainHandle> {
    spawn_with(plan, run_dir, SpawnOptions::default())
}

/// Send an event without ever blocking for good: while the channel is full, wait in short sleeps
/// and give up on this event if a stop was requested; a disconnected receiver returns false.
fn send(
    tx: &SyncSender<TrainEvent>,
    control: &Control,
    waker: Option<&Waker>,
    mut ev: TrainEvent,
) -> bool {
    loop {
        match tx.try_send(ev) {
            Ok(()) => {
                if let Some(w) = waker {
                    w();
                }
                return true;
            }
            Err(TrySendError::Disconnected(_)) => return false,
            Err(TrySendError::Full(back)) => {
                if control.stop.load(Ordering::SeqCst) {
                    return true;
                }
                ev = back;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// Start training with options (resume, waker).
pub fn spawn_with(
    plan: Plan,
    run_dir: PathBuf,
    options: SpawnOptions,
) -> std::io::Result<TrainHandle> {
    spawn_with_faults(plan, run_dir, options, FaultHooks::default())
}

/// [`spawn_with`] with failures injected, for tests of the error paths.
#[doc(hidden)]
pub fn spawn_with_faults(
    plan: Plan,
    run_dir: PathBuf,
    options: SpawnOptions,
    faults: FaultHooks,
) -> std::io::Result<TrainHandle> {
    let control = Arc::new(Control::default());
    let (tx, rx) = std::sync::mpsc::sync_channel(EVENT_CAPACITY);
    let worker_control = control.clone();
    let thread = std::thread::Builder::new()
        .name("dpda-train".into())
        .spawn(move || {
            let waker = options.waker;
            let mut emit = |ev: TrainEvent| send(&tx, &worker_control, waker.as_ref(), ev);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(
                    &plan,
                    RunContext {
                        run_dir: &run_dir,
                        resume: options.resume,
                        overwrite: options.overwrite,
                        control: &worker_control,
                        emit: &mut emit,
                        faults,
                    },
                )
            }));
            match result {
                Ok(Ok(summary)) => Some(summary),
                Ok(Err(e)) => {
                    emit(TrainEvent::Error {
                        message: e.to_string(),
                    });
                    None
                }
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    emit(TrainEvent::Error {
                        message: format!("the training thread panicked: {what}"),
                    });
                    None
                }
            }
        })?;
    Ok(TrainHandle {
        control,
        events: rx,
        pending: RefCell::new(VecDeque::new()),
        thread: Some(thread),
    })
}

impl TrainHandle {
    /// Pause after the current iteration.
    pub fn pause(&self) {
        self.control.pause.store(true, Ordering::SeqCst);
    }

    /// Resume a paused run.
    pub fn resume(&self) {
        self.control.pause.store(false, Ordering::SeqCst);
    }

    /// Stop after the current iteration (a `last` checkpoint is written first).
    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
    }

    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Option<TrainEvent> {
        if let Some(ev) = self.pending.borrow_mut().pop_front() {
            return Some(ev);
        }
        self.events.try_recv().ok()
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<TrainEvent> {
        if let Some(ev) = self.pending.borrow_mut().pop_front() {
            return Some(ev);
        }
        self.events.recv_timeout(timeout).ok()
    }

    /// Whether the worker thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Wait for the worker; the summary when the run finished or stopped cleanly. Events still
    /// queued can be drained with [`TrainHandle::try_recv`] afterwards.
    pub fn join(&mut self) -> Option<RunSummary> {
        let thread = self.thread.take()?;
        // Drain while waiting so that a full channel never blocks the worker.
        while !thread.is_finished() {
            match self.events.recv_timeout(Duration::from_millis(5)) {
                Ok(ev) => self.pending.borrow_mut().push_back(ev),
                Err(_) => continue,
            }
        }
        while let Ok(ev) = self.events.try_recv() {
            self.pending.borrow_mut().push_back(ev);
        }
        thread.join().ok().flatten()
    }
}

impl Drop for TrainHandle {
    fn drop(&mut self) {
        // Nobody will read events any more: let the worker stop at its next iteration.
        self.control.stop.store(true, Ordering::SeqCst);
    }
}
