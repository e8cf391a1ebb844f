//! How a front-end steers a running training, and the failures tests inject into one. The run
//! ([`super::run`]) and its loop ([`super::run_loop`]) read these; the worker owns them.

use std::sync::atomic::AtomicBool;

/// Flags a front-end sets and the loop reads once per iteration.
#[derive(Debug, Default)]
pub struct Control {
    pub stop: AtomicBool,
    pub pause: AtomicBool,
}

/// Failures injected on purpose, so that tests can reach the error paths of a run (a non-finite
/// loss, a panic in the worker). Not part of the plan: no configuration or front-end sets them.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultHooks {
    /// Make the loss of this step (1-based) non-finite.
    pub nan_at_step: Option<u64>,
    /// Panic inside the run at this step (1-based), before it trains.
    pub panic_at_step: Option<u64>,
}
