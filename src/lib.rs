//! DPDA Workbench: dual-path data-augmented training for speech deepfake detection.
//!
//! The library holds everything that can be tested without a display or a sound card: audio file
//! I/O, RawBoost augmentation, features, corpora, metrics and the command-line front end. The
//! desktop workbench (feature `gui`) and audio devices (feature `audio`) sit on top of it.

pub mod atomic_file;
pub mod audio;
pub mod augment;
pub mod baseline;
pub mod cli;
pub mod data;
pub mod features;
#[cfg(feature = "gui")]
pub mod gui;
pub mod inference;
pub mod metrics;
pub mod nn;
pub mod rng;
pub mod study;
pub mod sweep;
pub mod train;
