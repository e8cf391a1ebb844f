//! Augmentations applied to raw waveforms. RawBoost (Tak et al., ICASSP 2022) is reproduced with
//! the reference implementation's exact semantics; every draw comes from a caller-provided seed.
//! `conditions` holds recording and transmission conditions (noise, reverberation, telephone,
//! codec, microphone, clipping, resampling) for domain-shifted test data. `chain` strings stages
//! of both (and speed, pitch, band limits, gain) into configurable augmentation chains.

pub mod chain;
pub mod codecs;
pub mod conditions;
pub mod fir;
pub mod normal;
pub mod rawboost;
pub mod report;

pub use chain::{Chain, ChainError, ChainReport, ChainSpec, StageReport, StageSpec};
pub use rawboost::{
    rawboost, rawboost_batch, Augmented, RawBoostAlgo, RawBoostError, RawBoostParams,
    RawBoostReport,
};
