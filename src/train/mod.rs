//! Training: the dual-path step, gradient alignment, optimizers, runs and the worker API that
//! front-ends drive through typed events.

pub mod align;
pub mod average;
pub mod optim;
pub mod sam;
pub mod schedule;
