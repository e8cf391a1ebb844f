//! The train view: the experiment form, run controls with progress, linked live plots of the
//! gradient-conflict figures, the per-layer cosine heatmap and overlays of previous runs.
//!
//! - `state`: what the view shows and keeps ([`TrainView`], [`RunStatus`], [`Progress`]…).
//! - `logic`: per-frame work and [`TrainView::apply`], the one place that starts and stops work.
//! - `ui`: drawing; it returns [`TrainCommand`]s and changes nothing else but the form's fields.
//!
//! Training runs on the library's worker thread ([`crate::train::spawn_with`]); the view drains
//! its events under [`super::theme::EVENT_BUDGET`] every frame and never waits. File dialogs,
//! run-folder scans and overlay loading are [`super::tasks::Task`]s. New runs go to
//! [`crate::inference::layout::fresh_run_dir`].

mod logic;
mod state;
mod ui;

use std::path::PathBuf;

use super::form::FormAction;

pub use state::{Notice, PreviousRun, Progress, RunStatus, TrainView};
pub use ui::format_duration;

/// What the user asked for in the train view.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainCommand {
    Start,
    Pause,
    Resume,
    Stop,
    Form(FormAction),
    /// Look for runs in another folder.
    SetRunsDir(PathBuf),
    RefreshRuns,
    /// Show or hide a previous run (index into `runs`).
    ToggleOverlay(usize),
    /// Continue a stopped or crashed run from its last checkpoint (its own configuration).
    ContinueRun(PathBuf),
}
