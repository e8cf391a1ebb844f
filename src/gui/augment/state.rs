//! The augment view's state: settings kept between launches, the browsed corpus, the original
//! and augmented clips with the draw's figures, and playback.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::super::audio_widgets::{AudioBackend, ClipDisplay, Player};
use super::super::clip_panel::ClipSource;
use super::super::tasks::Task;
use crate::augment::report::Figure;
use crate::augment::{ChainSpec, RawBoostAlgo, RawBoostParams};
use crate::data::corpus::Split;
use crate::data::demo::DemoSize;
use crate::data::Label;

pub(super) const STORAGE_KEY: &str = "dpda.augment_view";

/// Settings kept between launches.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentSettings {
    /// RawBoost algorithm (reference number 0–8).
    pub algo: RawBoostAlgo,
    /// RawBoost parameters.
    pub params: RawBoostParams,
    /// Seed of the current draw.
    pub seed: u64,
    /// Loop playback.
    pub looping: bool,
    /// The typed clip path.
    pub path_text: String,
    /// Where "Export" writes the augmented clip.
    pub export_path: String,
    /// Split of the corpus being browsed.
    pub split: BrowseSplit,
    /// RawBoost alone, or the chain.
    pub mode: AugmentMode,
    /// The chain of chain mode.
    pub chain: ChainSpec,
    /// The file the chain was loaded from or saved to (its folder resolves relative folders).
    pub chain_path: String,
}

/// What the view applies to the clip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AugmentMode {
    /// One RawBoost algorithm with its parameters.
    #[default]
    RawBoost,
    /// An augmentation chain, auditioned stage by stage.
    Chain,
}

impl Default for AugmentSettings {
    fn default() -> Self {
        Self {
            algo: RawBoostAlgo::LnlIsdSsi,
            params: RawBoostParams::default(),
            seed: 1,
            looping: false,
            path_text: String::new(),
            export_path: "augmented.wav".into(),
            split: BrowseSplit::Train,
            mode: AugmentMode::RawBoost,
            chain: ChainSpec::default(),
            chain_path: String::new(),
        }
    }
}

/// Split choice that serialises (the library's `Split` does not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum BrowseSplit {
    #[default]
    Train,
    Dev,
    Eval,
}

impl BrowseSplit {
    pub(super) fn split(self) -> Split {
        match self {
            BrowseSplit::Train => Split::Train,
            BrowseSplit::Dev => Split::Dev,
            BrowseSplit::Eval => Split::Eval,
        }
    }
}

/// One clip of the browsed corpus.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub(super) id: String,
    pub(super) label: Label,
    pub(super) attack: Option<String>,
    pub(super) origin: Origin,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Origin {
    Demo {
        size: DemoSize,
        seed: u64,
        index: usize,
    },
    File(PathBuf),
}

/// Which clip plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Original,
    Augmented,
}

/// The browsed corpus and its filter.
#[derive(Default)]
pub(super) struct Browser {
    /// Key of what `entries` lists (corpus description + split), to relist on change.
    pub(super) listed_for: Option<String>,
    pub(super) entries: Vec<Entry>,
    pub(super) pending: Option<Task<Result<Vec<Entry>, String>>>,
    pub(super) error: Option<String>,
    pub(super) label_filter: Option<Label>,
    pub(super) attack_filter: Option<String>,
}

/// The augment view's state.
pub struct AugmentView {
    /// Persisted settings (public so tests and the app can preset them).
    pub settings: AugmentSettings,
    pub(super) seed_text: String,
    pub(super) browser: Browser,
    pub(super) original: Option<ClipDisplay>,
    pub(super) augmented: Option<ClipDisplay>,
    pub(super) figures: Vec<Figure>,
    /// Whether `augmented` matches the current settings.
    pub(super) dirty: bool,
    /// The clip-source panel (path, dialog, demo clips, decoding).
    pub(super) source: ClipSource,
    pub(super) player: Player,
    pub(super) playing: Option<Which>,
    /// A playhead kept after playback stops (set by clicking a plot).
    pub(super) cursor_s: f64,
    pub(super) message: Option<String>,
    pub(super) error: Option<String>,
    pub(super) audio_error: Option<String>,
    /// The UI context, known from the first frame on (wakes the UI from background threads).
    pub(super) ctx: Option<egui::Context>,
    /// Chain mode's outputs, audition choice and file dialog.
    pub(super) chain: super::chain::ChainEditor,
}

impl Default for AugmentView {
    fn default() -> Self {
        let settings = AugmentSettings::default();
        Self {
            seed_text: settings.seed.to_string(),
            settings,
            browser: Browser::default(),
            original: None,
            augmented: None,
            figures: Vec::new(),
            dirty: true,
            source: ClipSource::default(),
            player: Player::new(AudioBackend::from_env()),
            playing: None,
            cursor_s: 0.0,
            message: None,
            error: None,
            audio_error: None,
            ctx: None,
            chain: super::chain::ChainEditor::default(),
        }
    }
}

impl AugmentView {
    /// Restores the view's settings from eframe's store (defaults when absent).
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        let mut view = Self::default();
        if let Some(settings) =
            storage.and_then(|s| eframe::get_value::<AugmentSettings>(s, STORAGE_KEY))
        {
            view.seed_text = settings.seed.to_string();
            view.settings = settings;
        }
        view
    }

    /// Saves the view's settings into eframe's store.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.settings);
    }

    /// Use another audio backend (tests force "unavailable" with it).
    pub fn set_audio_backend(&mut self, backend: AudioBackend) {
        self.player.set_backend(backend);
        self.playing = None;
    }

    /// The realised figures of the current draw.
    pub fn figures(&self) -> &[Figure] {
        &self.figures
    }

    /// The augmented samples of the current draw, if any.
    pub fn augmented_samples(&self) -> Option<&[f32]> {
        self.augmented.as_ref().map(|d| d.clip.samples.as_slice())
    }

    /// The name of the loaded clip (file name or corpus ID).
    pub fn clip_name(&self) -> Option<&str> {
        self.original.as_ref().map(|d| d.name.as_str())
    }

    /// Whether a clip is loaded.
    pub fn has_clip(&self) -> bool {
        self.original.is_some()
    }

    /// The last audio error, as shown ("audio unavailable: …").
    pub fn audio_error(&self) -> Option<&str> {
        self.audio_error.as_deref()
    }
}
