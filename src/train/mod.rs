//! Training: the dual-path step, gradient alignment, optimizers, runs and the worker API that
//! front-ends drive through typed events.
//!
//! Flow: a TOML file becomes a [`config::Plan`]; [`worker::spawn`] runs [`run::run`] on a named
//! thread. The run is split by role:
//!
//! - [`run::run`] sets up (checks and locks the run folder, loads data and model, starts afresh
//!   or resumes from the `last` checkpoint) and finishes (final averaged model, eval scores,
//!   test sets, `summary.json`);
//! - `run_loop::RunLoop` does the work in between: `train` drives epochs, `control_point`
//!   reads the pause/stop flags once per iteration, `step` prepares a batch ([`data`]) and takes
//!   one step ([`step`]), `end_epoch` evaluates on dev and keeps checkpoints ([`checkpoint`]).
//!   Its [`checkpoint::Sidecar`] is the one copy of the resumable state: steps borrow the
//!   optimizer, aligner and RNG from it, and every checkpoint is written from it;
//! - `recorder::Recorder` writes each record (`metrics.jsonl`, `layer_cos.jsonl`,
//!   `epochs.jsonl`, `summary.json`) and reports its [`events::TrainEvent`], one method per
//!   record kind, and remembers whether anybody still listens;
//! - why a run ended is an [`events::StopReason`].
//!
//! Tests inject failures through `control::FaultHooks` (hidden; never part of the plan).
//!
//! Models come from the registry ([`crate::nn::registry`]); [`model`] holds the training loss and
//! [`dev_loss`] the rules that turn per-clip dev losses into the number that picks the best epoch.

pub mod align;
pub mod align_k;
pub mod average;
pub mod checkpoint;
pub mod config;
pub mod control;
pub mod data;
pub mod dev_loss;
pub mod error;
pub mod events;
pub mod model;
pub mod optim;
mod recorder;
pub mod run;
mod run_loop;
pub mod sam;
pub mod schedule;
pub mod slsqp;
pub mod step;
pub mod worker;

pub use align::AlignMethod;
pub use config::{load_plan, plan_from_str, PathPlan, PathSource, Plan};
pub use error::TrainError;
pub use events::{
    pair_key, EpochMetrics, LayerCos, PathMap, RunSummary, StepMetrics, StopReason, TrainEvent,
};
pub use worker::{spawn, spawn_with, SpawnOptions, TrainHandle};
#[doc(hidden)]
pub use {control::FaultHooks, worker::spawn_with_faults};
