//! Training: the dual-path step, gradient alignment, optimizers, runs and the worker API that
//! front-ends drive through typed events.
//!
//! Flow: a TOML file becomes a [`config::Plan`]; [`worker::spawn`] runs [`run::run`] on a named
//! thread, which prepares batches ([`data`]), takes steps ([`step`]), writes metrics and
//! checkpoints ([`checkpoint`]) and reports [`events::TrainEvent`]s. Models come from the
//! registry ([`crate::nn::registry`]); [`model`] holds the training loss and [`dev_loss`] the
//! rules that turn per-clip dev losses into the number that picks the best epoch.

pub mod align;
pub mod average;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod dev_loss;
pub mod error;
pub mod events;
pub mod model;
pub mod optim;
pub mod run;
pub mod sam;
pub mod schedule;
pub mod slsqp;
pub mod step;
pub mod worker;

pub use config::{load_plan, plan_from_str, Plan};
pub use error::TrainError;
pub use events::{EpochMetrics, LayerCos, RunSummary, StepMetrics, TrainEvent};
pub use worker::{spawn, spawn_with, SpawnOptions, TrainHandle};
