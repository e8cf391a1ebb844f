//! Training: the dual-path step, gradient alignment, optimizers, runs and the worker API that
//! front-ends drive through typed events.
//!
//! Flow: a TOML file becomes a [`config::Plan`]; [`worker::spawn`] runs [`run::run`] on a named
//! thread, which prepares batches ([`data`]), takes steps ([`step`]), writes metrics and
//! checkpoints ([`checkpoint`]) and reports [`events::TrainEvent`]s.

pub mod align;
pub mod average;
pub mod checkpoint;
pub mod config;
pub mod data;
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

pub use config::{load_plan, plan_from_str, Plan};
pub use error::TrainError;
pub use events::{EpochMetrics, LayerCos, RunSummary, StepMetrics, StopReason, TrainEvent};
pub use worker::{spawn, spawn_with, SpawnOptions, TrainHandle};
#[doc(hidden)]
pub use {run::FaultHooks, worker::spawn_with_faults};
