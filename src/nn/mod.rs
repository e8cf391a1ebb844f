//! Neural networks with verified gradients: the layer set, the models and their registry.
//!
//! candle 0.11.1 computes wrong gradients on CPU for conv1d weights and max-pool and cuts the graph
//! in its fused LayerNorm/softmax kernels, so every layer here is built from ops whose gradients were
//! checked against finite differences, and every layer and model has such a check in the tests. All
//! random initialisation and dropout masks come from the project's seeded [`Rng`].
//!
//! The trainer sees a model only through [`Model`]: waveforms in, two logits out, a sorted list of
//! trainable variables, and a [`VarMap`] holding everything a checkpoint must restore.
//!
//! Layout, from the bottom up:
//! - [`layers`] (with [`kernels`]): Linear, Conv, BatchNorm, pooling, LSTM, … and the
//!   [`layers::ParamBuilder`] that names and initialises variables; [`gradcheck`] and [`flat`]
//!   check and flatten gradients.
//! - [`graph`] holds the AASIST graph back end (residual block, graph attention, graph pooling,
//!   readout), shared by [`aasist`] (raw-waveform AASIST/AASIST-L) and [`ssl_aasist`]
//!   (XLSR-AASIST); [`wav2vec2`] is the XLS-R front end of [`ssl_aasist`] and [`conformer`]
//!   (XLSR-Conformer-TCM), built under [`FRONT_END_PREFIX`]; [`lcnn`] and [`tiny`] are the
//!   other models.
//! - [`registry`] holds [`registry::ModelKind`] (every model by name, its input length and
//!   options) and [`registry::build_model`], the one way to build a model.
//! - [`import`] holds [`import::load_weights`], the one way to load weights (project checkpoints
//!   and released PyTorch state dicts, strictly by variable name); [`import_xlsr`] fills an
//!   XLS-R front end from pretrained files.
//!
//! Files depend on each other in one direction only: what two siblings share lives in a third
//! module or here.

pub mod aasist;
pub mod conformer;
pub mod flat;
pub mod gradcheck;
pub mod graph;
pub mod import;
pub mod import_xlsr;
pub mod kernels;
pub mod layers;
pub mod lcnn;
pub mod registry;
pub mod ssl_aasist;
pub mod tiny;
pub mod wav2vec2;

use candle_core::{Tensor, Var};
use candle_nn::VarMap;

use crate::rng::Rng;

/// Prefix of the XLS-R front end's variables in the `xlsr-*` models (dpda_ga's
/// `ssl_model.model`): the models build their [`wav2vec2::Wav2Vec2`] under it, and the importers
/// map pretrained front-end files onto it.
pub const FRONT_END_PREFIX: &str = "ssl_model.model";

thread_local! {
    /// Whether forward passes on this thread skip recording the autograd graph (see [`no_grad`]).
    static NO_GRAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with gradient recording off on this thread: every layer reads its parameters through
/// [`param`], which then hands out detached tensors, so no op of the forward pass keeps its
/// inputs alive for a backward pass. Scoring uses it: with the graph kept, every intermediate of
/// a forward pass lives until the output is dropped (gigabytes for AASIST on a batch of windows);
/// without it each is freed as soon as the next op has consumed it. candle has no global switch
/// for this, hence the thread-local. Nesting is allowed; the previous state is restored on exit,
/// also when `f` panics.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            NO_GRAD.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(NO_GRAD.with(|c| c.replace(true)));
    f()
}

/// Whether [`no_grad`] is in force on this thread.
pub fn is_grad_disabled() -> bool {
    NO_GRAD.with(|c| c.get())
}

/// The tensor a forward pass uses for parameter `v`: the variable itself (so gradients reach it),
/// or a detached view of the same storage inside [`no_grad`]. Every layer's forward reads its
/// parameters through this.
pub fn param(v: &Var) -> Tensor {
    if is_grad_disabled() {
        v.as_detached_tensor()
    } else {
        v.as_tensor().clone()
    }
}

/// How a forward pass treats dropout and BatchNorm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Training: dropout active, BatchNorm normalises with batch statistics and updates its
    /// running statistics.
    Train,
    /// Training arithmetic without touching BatchNorm running statistics: SAM's second pass and
    /// any re-evaluation of a gradient within the same step.
    TrainFrozenStats,
    /// Inference: no dropout, BatchNorm uses its running statistics.
    Eval,
}

impl Mode {
    /// Whether dropout and batch statistics are in use.
    pub fn is_training(self) -> bool {
        !matches!(self, Mode::Eval)
    }
}

/// A trainable variable with its stable name (e.g. `conv1.weight`).
#[derive(Clone, Debug)]
pub struct NamedVar {
    pub name: String,
    pub var: Var,
}

/// A spoofing-detection model as the trainer, the scorer and the GUI see it.
pub trait Model: Send {
    /// Registry name, e.g. `lcnn` or `aasist-l`.
    fn name(&self) -> &str;

    /// Logits `[batch, 2]` — column 0 spoof, column 1 bona fide (the score) — from 16 kHz
    /// waveforms `[batch, num_samples]`. `rng` supplies dropout masks in training modes.
    fn forward(&self, waveforms: &Tensor, mode: Mode, rng: &mut Rng)
        -> candle_core::Result<Tensor>;

    /// Trainable variables sorted by name: the order of every flattened gradient vector.
    /// BatchNorm running statistics are not in it.
    fn trainable(&self) -> &[NamedVar];

    /// Every tensor a checkpoint must restore (trainable variables and BatchNorm running
    /// statistics), under the same names.
    fn state(&self) -> &VarMap;

    /// The shortest clip, in samples, the architecture accepts.
    fn min_num_samples(&self) -> usize;

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.trainable()
            .iter()
            .map(|v| v.var.as_tensor().elem_count())
            .sum()
    }
}

/// A candle error as one message for the user: without the backtrace candle attaches when
/// `RUST_BACKTRACE` is set (those belong in a bug report, not in an error line), at any depth of
/// context.
pub fn candle_message(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => candle_message(inner),
        candle_core::Error::Context { inner, context } => {
            format!("{context}: {}", candle_message(inner))
        }
        other => other.to_string(),
    }
}

/// Errors of the neural-network layer.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("{}", candle_message(.0))]
    Candle(#[from] candle_core::Error),
    #[error("unknown model '{name}' (known: {known})")]
    UnknownModel { name: String, known: String },
    #[error("invalid model option '{field}': {message}")]
    InvalidOption {
        field: &'static str,
        message: String,
    },
    #[error("cannot load weights from {path}: {message}")]
    Load {
        path: std::path::PathBuf,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candle_messages_leave_the_backtrace_out() {
        let inner = candle_core::Error::Msg("shape mismatch in matmul".into());
        let with_bt = candle_core::Error::WithBacktrace {
            inner: Box::new(inner),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        assert!(with_bt.to_string().lines().count() > 1);
        assert_eq!(candle_message(&with_bt), "shape mismatch in matmul");
        let e = NnError::from(with_bt);
        assert_eq!(e.to_string(), "shape mismatch in matmul");
    }

    #[test]
    fn no_grad_nests_and_restores() {
        assert!(!is_grad_disabled());
        no_grad(|| {
            assert!(is_grad_disabled());
            no_grad(|| assert!(is_grad_disabled()));
            assert!(is_grad_disabled());
        });
        assert!(!is_grad_disabled());
        let v = Var::new(&[1f32, 2.0], &candle_core::Device::Cpu).unwrap();
        assert!(param(&v).track_op());
        assert!(!no_grad(|| param(&v)).track_op());
    }
}
