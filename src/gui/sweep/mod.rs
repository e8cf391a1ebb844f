//! The sweep view: robustness of one or two checkpoints under a grid of conditions
//! ([`crate::sweep`]).
//!
//! Type one or two checkpoints (run folders or checkpoint files), the folder of clips and its
//! key, and optionally a grid file (empty: the default grid); Start runs the sweep on a worker
//! thread with progress and Stop. The result is a heatmap of EER % (rows conditions, columns
//! checkpoints, the number in every cell) with a difference column (second minus first) when two
//! checkpoints are compared.
//!
//! - `state`: what the view shows and keeps ([`SweepView`], [`SweepStatus`]).
//! - `logic`: per-frame draining of the worker's events and [`SweepView::apply`], the one place
//!   that starts and stops work.
//! - `ui`: drawing; it returns [`SweepCommand`]s.

mod logic;
mod state;
mod ui;

pub use state::{SweepStatus, SweepView};

/// What the user asked for in the sweep view.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepCommand {
    /// Run the sweep with the fields as they are.
    Start,
    /// Stop after the clips being scored now.
    Stop,
}
