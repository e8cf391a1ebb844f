//! The studies view: multi-seed comparisons of training conditions ([`crate::study`]).
//!
//! Open a study folder (the one holding `study.json`, by typed path, folder dialog or drop) to
//! see its results: a sortable table of the conditions (EER mean ± sd and 95 % interval per test
//! set, the difference from the baseline with its interval and p-value, conflict fraction,
//! epochs to the best dev loss), the EER of every condition with its interval and seeds, and
//! the mean dev EER and conflict fraction per epoch with a ±1 sd band. Or pick a study file
//! (`.toml`) and start it: the runner trains every condition × seed as a child `dpda train`
//! process, the view follows its events and re-collects the results after each run. Clicking a
//! run overlays it in the train view.
//!
//! - `state`: what the view shows and keeps ([`StudiesView`], [`Sort`], [`RunnerStatus`]).
//! - `logic`: per-frame work and [`StudiesView::apply`], the one place that starts and stops
//!   work. Reading `study.json`, loading the plan and collecting results are
//!   [`super::tasks::Task`]s; the runner is a [`super::tasks::Worker`] whose events arrive on a
//!   bounded channel and are drained under [`super::theme::EVENT_BUDGET`].
//! - `ui`: drawing; it returns [`StudiesCommand`]s.

mod logic;
mod state;
mod ui;

use std::path::PathBuf;

pub use state::{RunnerStatus, Sort, SortKey, StudiesView};

/// What the user asked for in the studies view.
#[derive(Clone, Debug, PartialEq)]
pub enum StudiesCommand {
    /// Read `study.json` of this folder and show it.
    OpenFolder(PathBuf),
    /// Pick a study folder with the file dialog.
    BrowseFolder,
    /// Pick a study file (`.toml`) with the file dialog.
    BrowseStudyFile,
    /// Run (or resume) the study file: its runs go to the plan's default output folder.
    Start(PathBuf),
    /// No further run starts; the study can be resumed by starting it again.
    Stop,
    /// Sort the table by this column (again: reverse).
    SortBy(SortKey),
    /// Overlay this run folder in the train view and show it there (the app carries it out:
    /// it concerns another view). The name labels the overlay.
    OverlayRun { dir: PathBuf, name: String },
}
