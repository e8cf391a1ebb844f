//! The augment view: listen to and look at RawBoost, or at an augmentation chain stage by stage.
//!
//! Pick a clip (the train form's corpus, browsed by label and attack; or the shared clip panel
//! of [`super::clip_panel`]: a file by dialog, typed path or drag-and-drop, or a demo clip from
//! `assets/`), choose an algorithm and its parameters, and see original and augmented side by
//! side (waveform, spectrogram, colour bar) with the realised figures of the draw. Every draw
//! comes from the seed shown, so typing a seed reproduces a draw. Play original / augmented,
//! switch between them with the space bar at the same playhead, loop, and export the augmented
//! clip as WAV.
//!
//! - `state`: settings, the browsed corpus, the clips and playback ([`AugmentView`]).
//! - `logic`: per-frame work and [`AugmentView::apply`]. Decoding and corpus listing are
//!   [`super::tasks::Task`]s; RawBoost itself takes milliseconds and runs on the UI thread.
//! - `ui`: drawing; it returns [`AugmentCommand`]s.
//! - `chain`: the chain mode's editor, runs and per-stage audition.

mod chain;
mod logic;
mod state;
mod ui;

use std::path::PathBuf;

use super::clip_panel::ClipCommand;

pub use chain::ChainDialog;
pub use state::{AugmentMode, AugmentSettings, AugmentView, BrowseSplit, Entry, Which};

/// What the user asked for in the augment view.
#[derive(Clone, Debug, PartialEq)]
pub enum AugmentCommand {
    /// Something from the clip panel.
    Clip(ClipCommand),
    /// Load a clip of the browsed corpus.
    LoadEntry(Entry),
    /// A typed seed: draw with it.
    SetSeed(u64),
    /// The algorithm or a parameter changed: draw again.
    SettingsChanged,
    /// Back to the reference parameters.
    ResetParams,
    /// Draw a new seed.
    NewDraw,
    Play(Which),
    /// Switch to the other clip at the same playhead (space bar).
    ToggleAb,
    Stop,
    SetLooping(bool),
    /// Move the playhead to this time (seconds).
    Seek(f64),
    /// Write the augmented clip to the export path.
    Export,
    /// RawBoost alone, or a chain.
    SetMode(AugmentMode),
    /// Append a stage of this kind (with its defaults) to the chain.
    AddStage(&'static str),
    /// Remove stage `i` of the chain.
    RemoveStage(usize),
    /// Swap stage `index` with the one before (`up`) or after it.
    MoveStage {
        index: usize,
        up: bool,
    },
    /// Show and play the output after stage `i`.
    AuditionStage(usize),
    /// Open a file dialog to load or save the chain.
    ChainDialog(ChainDialog),
    /// Load a chain file.
    LoadChain(PathBuf),
    /// Save the chain to a file.
    SaveChain(PathBuf),
}
