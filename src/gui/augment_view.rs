//! The augment view: listen to and look at RawBoost.
//!
//! Pick a clip (the train form's corpus, browsed by label and attack; a file by dialog, typed path
//! or drag-and-drop; or a demo clip from `assets/`), choose an algorithm and its parameters, and
//! see original and augmented side by side (waveform, spectrogram, colour bar) with the realised
//! figures of the draw. Every draw comes from the seed shown, so typing a seed reproduces a draw.
//! Play original / augmented, switch between them with the space bar at the same playhead, loop,
//! and export the augmented clip as WAV. Decoding and corpus listing run on background threads;
//! RawBoost itself takes milliseconds and runs on the UI thread.

use super::audio_widgets as widgets;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::widgets::{AudioBackend, ClipDisplay, Pending, Player};
use super::Shared;
use crate::audio::{Clip, WavFormat};
use crate::augment::report::{figures_with_measurements, Figure};
use crate::augment::{rawboost, RawBoostAlgo, RawBoostParams};
use crate::data::corpus::Split;
use crate::data::demo::{DemoCorpus, DemoSize};
use crate::data::Label;
use crate::rng::Rng;
use crate::train::config::{CorpusPlan, DataPlan};

const STORAGE_KEY: &str = "dpda.augment_view";

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
    fn split(self) -> Split {
        match self {
            BrowseSplit::Train => Split::Train,
            BrowseSplit::Dev => Split::Dev,
            BrowseSplit::Eval => Split::Eval,
        }
    }
}

/// One clip of the browsed corpus.
#[derive(Clone, Debug)]
struct Entry {
    id: String,
    label: Label,
    attack: Option<String>,
    origin: Origin,
}

#[derive(Clone, Debug)]
enum Origin {
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
struct Browser {
    /// Key of what `entries` lists (corpus description + split), to relist on change.
    listed_for: Option<String>,
    entries: Vec<Entry>,
    pending: Option<Pending<Result<Vec<Entry>, String>>>,
    error: Option<String>,
    label_filter: Option<Label>,
    attack_filter: Option<String>,
}

/// The augment view's state.
pub struct AugmentView {
    /// Persisted settings (public so tests and the app can preset them).
    pub settings: AugmentSettings,
    seed_text: String,
    browser: Browser,
    original: Option<ClipDisplay>,
    augmented: Option<ClipDisplay>,
    figures: Vec<Figure>,
    /// Whether `augmented` matches the current settings.
    dirty: bool,
    loading: Option<Pending<Result<(String, Clip), String>>>,
    dialog: Option<Pending<Option<PathBuf>>>,
    player: Player,
    playing: Option<Which>,
    /// A playhead kept after playback stops (set by clicking a plot).
    cursor_s: f64,
    message: Option<String>,
    error: Option<String>,
    audio_error: Option<String>,
    /// The UI context, known from the first frame on (wakes the UI from background threads).
    ctx: Option<egui::Context>,
    /// The demo clips in `assets/`, listed once.
    assets: Vec<PathBuf>,
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
            loading: None,
            dialog: None,
            player: Player::new(AudioBackend::from_env()),
            playing: None,
            cursor_s: 0.0,
            message: None,
            error: None,
            audio_error: None,
            ctx: None,
            assets: widgets::asset_clips(),
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

    /// A file dropped on the window or opened while this view is shown.
    pub fn open_file(&mut self, path: PathBuf, _shared: &mut Shared) {
        self.settings.path_text = path.display().to_string();
        self.start_loading_file(path);
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

    fn start_loading_file(&mut self, path: PathBuf) {
        self.start_loading(move || {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            widgets::load_clip(&path).map(|clip| (name, clip))
        });
    }

    fn start_loading_entry(&mut self, entry: Entry) {
        self.start_loading(move || match entry.origin {
            Origin::Demo { size, seed, index } => {
                let corpus = DemoCorpus::new(size, seed);
                let item = corpus
                    .items
                    .get(index)
                    .ok_or_else(|| format!("demo item {index} does not exist"))?;
                Ok((
                    entry.id,
                    Clip {
                        samples: corpus.render(item),
                        sample_rate_hz: crate::audio::TARGET_SAMPLE_RATE_HZ,
                    },
                ))
            }
            Origin::File(path) => widgets::load_clip(&path).map(|clip| (entry.id, clip)),
        });
    }

    fn start_loading(
        &mut self,
        job: impl FnOnce() -> Result<(String, Clip), String> + Send + 'static,
    ) {
        self.error = None;
        match Pending::spawn(self.ctx.as_ref(), "dpda-load-clip", job) {
            Ok(p) => self.loading = Some(p),
            Err(e) => self.error = Some(e),
        }
    }

    fn set_clip(&mut self, name: String, clip: Clip) {
        self.stop();
        self.cursor_s = 0.0;
        self.augmented = None;
        self.figures.clear();
        self.dirty = true;
        self.original = self
            .ctx
            .as_ref()
            .map(|ctx| ClipDisplay::new(ctx, name, Arc::new(clip)));
    }

    /// Re-run RawBoost with the current settings (called when they change).
    fn redraw(&mut self) {
        self.dirty = false;
        let (Some(original), Some(ctx)) = (&self.original, &self.ctx) else {
            return;
        };
        let clip = &original.clip;
        let mut rng = Rng::new(self.settings.seed);
        match rawboost(
            &clip.samples,
            clip.sample_rate_hz,
            self.settings.algo,
            &self.settings.params,
            &mut rng,
        ) {
            Ok(out) => {
                self.figures = figures_with_measurements(&out.report, &clip.samples, &out.samples);
                let augmented = Clip {
                    samples: out.samples,
                    sample_rate_hz: clip.sample_rate_hz,
                };
                let name = format!(
                    "{} + RawBoost {}",
                    original.name,
                    self.settings.algo.number()
                );
                self.augmented = Some(ClipDisplay::new(ctx, name, Arc::new(augmented)));
                self.error = None;
                if self.playing == Some(Which::Augmented) {
                    // Keep listening to the new draw from the same place.
                    self.play(Which::Augmented);
                }
            }
            Err(e) => {
                self.augmented = None;
                self.figures.clear();
                self.error = Some(format!("RawBoost: {e}"));
            }
        }
    }

    /// Draw a new seed and re-run RawBoost.
    pub fn new_draw(&mut self) {
        let mut rng = Rng::new(self.settings.seed ^ 0x9E37_79B9_7F4A_7C15);
        self.settings.seed = rng.next_u64() % 1_000_000_000;
        self.seed_text = self.settings.seed.to_string();
        self.dirty = true;
    }

    fn stop(&mut self) {
        self.player.stop();
        self.playing = None;
    }

    fn play(&mut self, which: Which) {
        let display = match which {
            Which::Original => self.original.as_ref(),
            Which::Augmented => self.augmented.as_ref(),
        };
        let Some(display) = display else {
            return;
        };
        let start_s = self.player.position_s().unwrap_or(self.cursor_s);
        let start_s = if start_s >= display.duration_s() {
            0.0
        } else {
            start_s
        };
        let clip = display.clip.clone();
        match self.player.play(
            &clip.samples,
            clip.sample_rate_hz,
            start_s,
            self.settings.looping,
        ) {
            Ok(()) => {
                self.playing = Some(which);
                self.audio_error = None;
            }
            Err(e) => {
                self.playing = None;
                self.audio_error = Some(format!("audio unavailable: {e}"));
            }
        }
    }

    /// A-B: switch to the other clip at the same playhead (start the original when idle).
    pub fn toggle_ab(&mut self) {
        let next = match self.playing {
            Some(Which::Original) => Which::Augmented,
            Some(Which::Augmented) => Which::Original,
            None => Which::Original,
        };
        self.play(next);
    }

    fn export(&mut self) {
        let Some(augmented) = &self.augmented else {
            return;
        };
        let path = PathBuf::from(self.settings.export_path.trim());
        match crate::audio::write_wav(
            &path,
            &augmented.clip.samples,
            augmented.clip.sample_rate_hz,
            WavFormat::Float32,
        ) {
            Ok(()) => {
                self.message = Some(format!(
                    "wrote {} (algorithm {}, seed {})",
                    path.display(),
                    self.settings.algo.number(),
                    self.settings.seed
                ));
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Per-frame work that must happen even when the view is not shown.
    pub fn logic(&mut self, ctx: &egui::Context, shared: &mut Shared) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
        }
        if let Some(result) = self.loading.as_ref().and_then(Pending::poll) {
            self.loading = None;
            match result {
                Some(Ok((name, clip))) => self.set_clip(name, clip),
                Some(Err(e)) => self.error = Some(e),
                None => self.error = Some("loading the clip failed unexpectedly".into()),
            }
        }
        if let Some(result) = self.dialog.as_ref().and_then(Pending::poll) {
            self.dialog = None;
            if let Some(path) = result.flatten() {
                self.open_file(path, shared);
            }
        }
        if let Some(result) = self.browser.pending.as_ref().and_then(Pending::poll) {
            self.browser.pending = None;
            match result {
                Some(Ok(entries)) => {
                    self.browser.entries = entries;
                    self.browser.error = None;
                }
                Some(Err(e)) => self.browser.error = Some(e),
                None => self.browser.error = Some("listing the corpus failed".into()),
            }
        }
        let key = corpus_key(shared.data.as_ref(), self.settings.split);
        if self.browser.listed_for.as_ref() != Some(&key) && self.browser.pending.is_none() {
            self.browser.listed_for = Some(key);
            let corpus =
                shared
                    .data
                    .as_ref()
                    .map(|d| d.corpus.clone())
                    .unwrap_or(CorpusPlan::Demo {
                        size: DemoSize::Tiny,
                        seed: 0,
                    });
            let split = self.settings.split.split();
            match Pending::spawn(Some(ctx), "dpda-list-corpus", move || {
                list_corpus(&corpus, split)
            }) {
                Ok(p) => self.browser.pending = Some(p),
                Err(e) => self.browser.error = Some(e),
            }
        }
        if self.dirty && self.original.is_some() {
            self.redraw();
        }
        self.player.poll();
        if self.playing.is_some() && !self.player.is_playing() {
            self.playing = None;
        }
        if self.player.is_playing() {
            ctx.request_repaint();
        }
    }

    /// Draws the view.
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        // Consumed before any widget is drawn, so a focused button does not also take the space.
        if !ui.ctx().text_edit_focused()
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Space))
        {
            self.toggle_ab();
        }
        egui::Panel::left("augment controls")
            .resizable(true)
            .default_size(330.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.source_ui(ui, shared);
                    ui.separator();
                    self.rawboost_ui(ui);
                });
            });
        egui::ScrollArea::vertical()
            .id_salt("augment main")
            .show(ui, |ui| self.main_ui(ui));
    }

    fn source_ui(&mut self, ui: &mut egui::Ui, shared: &Shared) {
        ui.heading("Clip");
        ui.horizontal(|ui| {
            let label = ui.label("Path:");
            ui.text_edit_singleline(&mut self.settings.path_text)
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            if ui.button("Open path").clicked() && !self.settings.path_text.trim().is_empty() {
                let path = PathBuf::from(self.settings.path_text.trim());
                self.start_loading_file(path);
            }
            if ui
                .add_enabled(self.dialog.is_none(), egui::Button::new("Browse..."))
                .clicked()
            {
                self.dialog = widgets::pick_file_async(
                    Some(ui.ctx()),
                    "Open an audio clip",
                    &[("audio", crate::audio::AUDIO_EXTENSIONS)],
                    false,
                );
            }
        });
        ui.small("Or drop an audio file on the window.");
        if !self.assets.is_empty() {
            let assets = self.assets.clone();
            ui.horizontal_wrapped(|ui| {
                ui.label("Demo clips:");
                for path in assets {
                    let name = path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                    if ui.small_button(name).clicked() {
                        self.start_loading_file(path);
                    }
                }
            });
        }
        if self.loading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("loading...");
            });
        }
        ui.separator();
        self.browser_ui(ui, shared);
    }

    fn browser_ui(&mut self, ui: &mut egui::Ui, shared: &Shared) {
        ui.label(match shared.data.as_ref().map(|d| &d.corpus) {
            Some(CorpusPlan::Demo { size, seed }) => format!("Corpus: demo ({size}, seed {seed})"),
            Some(CorpusPlan::Asvspoof2019La { root }) => {
                format!("Corpus: ASVspoof 2019 LA at {}", root.display())
            }
            Some(CorpusPlan::Csv { .. }) => "Corpus: CSV lists".to_string(),
            None => "Corpus: demo (tiny, seed 0) (the train form has none)".to_string(),
        });
        ui.horizontal(|ui| {
            for (split, name) in [
                (BrowseSplit::Train, "train"),
                (BrowseSplit::Dev, "dev"),
                (BrowseSplit::Eval, "eval"),
            ] {
                ui.selectable_value(&mut self.settings.split, split, name);
            }
        });
        let b = &mut self.browser;
        ui.horizontal(|ui| {
            ui.label("Label:");
            ui.selectable_value(&mut b.label_filter, None, "all");
            ui.selectable_value(&mut b.label_filter, Some(Label::Bonafide), "bona fide");
            ui.selectable_value(&mut b.label_filter, Some(Label::Spoof), "spoof");
        });
        let mut attacks: Vec<String> = b.entries.iter().filter_map(|e| e.attack.clone()).collect();
        attacks.sort();
        attacks.dedup();
        egui::ComboBox::from_label("attack")
            .selected_text(b.attack_filter.clone().unwrap_or_else(|| "all".into()))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut b.attack_filter, None, "all");
                for a in attacks {
                    ui.selectable_value(&mut b.attack_filter, Some(a.clone()), a);
                }
            });
        if let Some(e) = &b.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if b.pending.is_some() {
            ui.spinner();
        }
        let shown: Vec<&Entry> = b
            .entries
            .iter()
            .filter(|e| b.label_filter.is_none_or(|l| l == e.label))
            .filter(|e| {
                b.attack_filter
                    .as_ref()
                    .is_none_or(|a| e.attack.as_ref() == Some(a))
            })
            .collect();
        ui.small(format!("{} of {} clips", shown.len(), b.entries.len()));
        let mut chosen = None;
        egui::ScrollArea::vertical()
            .id_salt("corpus list")
            .max_height(220.0)
            .show_rows(ui, 18.0, shown.len(), |ui, rows| {
                for e in &shown[rows] {
                    let text = format!(
                        "{}  {}  {}",
                        e.id,
                        e.label.as_str(),
                        e.attack.as_deref().unwrap_or("")
                    );
                    if ui.selectable_label(false, text).clicked() {
                        chosen = Some((*e).clone());
                    }
                }
            });
        if let Some(entry) = chosen {
            self.start_loading_entry(entry);
        }
    }

    fn rawboost_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("RawBoost");
        let before_algo = self.settings.algo;
        egui::ComboBox::from_label("algorithm")
            .selected_text(algo_label(self.settings.algo))
            .show_ui(ui, |ui| {
                for algo in RawBoostAlgo::ALL {
                    ui.selectable_value(&mut self.settings.algo, algo, algo_label(algo));
                }
            });
        let mut changed = before_algo != self.settings.algo;
        ui.horizontal(|ui| {
            let label = ui.label("Seed:");
            let r = ui
                .add(egui::TextEdit::singleline(&mut self.seed_text).desired_width(110.0))
                .labelled_by(label.id);
            if r.changed() {
                if let Ok(seed) = self.seed_text.trim().parse::<u64>() {
                    self.settings.seed = seed;
                    changed = true;
                }
            }
            if ui.button("New draw").clicked() {
                self.new_draw();
            }
        });
        let p = &mut self.settings.params;
        egui::CollapsingHeader::new("LnL (convolutive)")
            .default_open(true)
            .show(ui, |ui| {
                changed |= slider_u32(ui, &mut p.n_f, 1..=10, "N_f terms");
                changed |= slider_u32(ui, &mut p.n_bands, 1..=10, "notches per filter");
                changed |= slider_f64(ui, &mut p.min_f_hz, 0.0..=8000.0, "min centre (Hz)");
                changed |= slider_f64(ui, &mut p.max_f_hz, 0.0..=8000.0, "max centre (Hz)");
                changed |= slider_f64(ui, &mut p.min_bw_hz, 1.0..=4000.0, "min bandwidth (Hz)");
                changed |= slider_f64(ui, &mut p.max_bw_hz, 1.0..=4000.0, "max bandwidth (Hz)");
                changed |= slider_u32(ui, &mut p.min_coeff, 1..=400, "min taps");
                changed |= slider_u32(ui, &mut p.max_coeff, 1..=400, "max taps");
                changed |= slider_f64(ui, &mut p.min_g_db, -40.0..=20.0, "min gain (dB)");
                changed |= slider_f64(ui, &mut p.max_g_db, -40.0..=20.0, "max gain (dB)");
                changed |= slider_f64(
                    ui,
                    &mut p.min_bias_lin_non_lin_db,
                    0.0..=40.0,
                    "min non-linear bias (dB)",
                );
                changed |= slider_f64(
                    ui,
                    &mut p.max_bias_lin_non_lin_db,
                    0.0..=40.0,
                    "max non-linear bias (dB)",
                );
            });
        egui::CollapsingHeader::new("ISD (impulsive)")
            .default_open(true)
            .show(ui, |ui| {
                changed |= slider_f64(ui, &mut p.p_percent, 0.0..=100.0, "P: most samples hit (%)");
                changed |= slider_f64(ui, &mut p.g_sd, 0.0..=10.0, "g_sd gain");
            });
        egui::CollapsingHeader::new("SSI (coloured additive)")
            .default_open(true)
            .show(ui, |ui| {
                changed |= slider_f64(ui, &mut p.snr_min_db, -10.0..=60.0, "min SNR (dB)");
                changed |= slider_f64(ui, &mut p.snr_max_db, -10.0..=60.0, "max SNR (dB)");
            });
        if ui.button("Reference defaults").clicked() {
            self.settings.params = RawBoostParams::default();
            changed = true;
        }
        if changed {
            self.dirty = true;
        }
    }

    fn main_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(e) = &self.audio_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
        if let Some(m) = &self.message {
            ui.label(m);
        }
        let Some(original) = &self.original else {
            ui.label("Pick a clip on the left, type a path, or drop an audio file here.");
            return;
        };
        ui.horizontal(|ui| {
            ui.strong(&original.name);
            ui.label(format!(
                "{:.2} s at {} Hz",
                original.duration_s(),
                original.clip.sample_rate_hz
            ));
        });
        let mut action = None;
        ui.horizontal(|ui| {
            if ui.button("Play original").clicked() {
                action = Some(PlayAction::Play(Which::Original));
            }
            if ui
                .add_enabled(
                    self.augmented.is_some(),
                    egui::Button::new("Play augmented"),
                )
                .clicked()
            {
                action = Some(PlayAction::Play(Which::Augmented));
            }
            if ui.button("A/B (space)").clicked() {
                action = Some(PlayAction::Toggle);
            }
            if ui.button("Stop").clicked() {
                action = Some(PlayAction::Stop);
            }
            if ui.checkbox(&mut self.settings.looping, "loop").changed() {
                self.player.set_looping(self.settings.looping);
            }
            match self.playing {
                Some(Which::Original) => ui.label("playing: original"),
                Some(Which::Augmented) => ui.label("playing: augmented"),
                None => ui.label("stopped"),
            };
        });
        let playhead = self.player.position_s().or(Some(self.cursor_s));
        let link = ui.scope_id().with("augment time");
        let mut seek = None;
        ui.columns(2, |cols| {
            cols[0].label("Original");
            if let Some(t) =
                widgets::clip_plots_ui(&mut cols[0], "original", link, original, playhead)
            {
                seek = Some(t);
            }
            cols[1].horizontal(|ui| {
                ui.label("Augmented");
                if let Some(a) = &self.augmented {
                    ui.small(format!(
                        "algorithm {}, seed {}",
                        algo_label(self.settings.algo),
                        self.settings.seed
                    ));
                    let _ = a;
                }
            });
            match &self.augmented {
                Some(a) => {
                    if let Some(t) =
                        widgets::clip_plots_ui(&mut cols[1], "augmented", link, a, playhead)
                    {
                        seek = Some(t);
                    }
                }
                None => {
                    cols[1].label("(no augmented clip)");
                }
            }
        });
        ui.horizontal(|ui| {
            ui.label("Spectrogram colour:");
            widgets::colour_bar_ui(ui, original.db_range);
            if let Some(a) = &self.augmented {
                ui.small("augmented:");
                widgets::colour_bar_ui(ui, a.db_range);
            }
        });
        ui.separator();
        ui.heading("Realised figures of this draw");
        if self.figures.is_empty() {
            ui.label("(algorithm 0 draws nothing)");
        }
        egui::Grid::new("figures").striped(true).show(ui, |ui| {
            for f in &self.figures {
                ui.label(f.stage);
                ui.label(&f.name);
                ui.label(&f.value);
                ui.end_row();
            }
        });
        ui.separator();
        ui.horizontal(|ui| {
            let label = ui.label("Export to:");
            ui.text_edit_singleline(&mut self.settings.export_path)
                .labelled_by(label.id);
            if ui
                .add_enabled(self.augmented.is_some(), egui::Button::new("Export WAV"))
                .clicked()
            {
                action = Some(PlayAction::Export);
            }
        });
        if let Some(t) = seek {
            self.cursor_s = t;
            if let Some(which) = self.playing {
                self.player.stop();
                self.play(which);
            }
        }
        match action {
            Some(PlayAction::Play(which)) => {
                self.player.stop();
                self.play(which);
            }
            Some(PlayAction::Toggle) => self.toggle_ab(),
            Some(PlayAction::Stop) => {
                if let Some(t) = self.player.position_s() {
                    self.cursor_s = t;
                }
                self.stop();
            }
            Some(PlayAction::Export) => self.export(),
            None => {}
        }
    }
}

/// "4 (LnL -> ISD -> SSI)": the library's description in characters every font has.
fn algo_label(algo: RawBoostAlgo) -> String {
    format!(
        "{} ({})",
        algo.number(),
        algo.describe().replace('→', "->").replace('∥', "||")
    )
}

fn slider_f64(
    ui: &mut egui::Ui,
    value: &mut f64,
    range: std::ops::RangeInclusive<f64>,
    text: &str,
) -> bool {
    ui.add(egui::Slider::new(value, range).text(text)).changed()
}

fn slider_u32(
    ui: &mut egui::Ui,
    value: &mut u32,
    range: std::ops::RangeInclusive<u32>,
    text: &str,
) -> bool {
    ui.add(egui::Slider::new(value, range).text(text)).changed()
}

enum PlayAction {
    Play(Which),
    Toggle,
    Stop,
    Export,
}

fn corpus_key(data: Option<&DataPlan>, split: BrowseSplit) -> String {
    format!("{:?} {split:?}", data.map(|d| &d.corpus))
}

/// The clips of one split of a corpus (the demo corpus is planned, not rendered).
fn list_corpus(corpus: &CorpusPlan, split: Split) -> Result<Vec<Entry>, String> {
    let from_corpus = |c: crate::data::corpus::Corpus| {
        c.utterances
            .into_iter()
            .map(|u| Entry {
                id: u.id,
                label: u.label,
                attack: u.attack,
                origin: Origin::File(u.path),
            })
            .collect()
    };
    match corpus {
        CorpusPlan::Demo { size, seed } => {
            let demo = DemoCorpus::new(*size, *seed);
            Ok(demo
                .items
                .iter()
                .enumerate()
                .filter(|(_, item)| item.split == split)
                .map(|(index, item)| Entry {
                    id: item.utt_id.clone(),
                    label: item.label,
                    attack: item.attack.map(|a| a.id().to_string()),
                    origin: Origin::Demo {
                        size: *size,
                        seed: *seed,
                        index,
                    },
                })
                .collect())
        }
        CorpusPlan::Asvspoof2019La { root } => crate::data::corpus::load_asvspoof2019_la(
            root,
            split,
            crate::data::OnProblem::SkipAndReport,
        )
        .map(from_corpus)
        .map_err(|e| e.to_string()),
        CorpusPlan::Csv { train, dev, eval } => {
            let path = match split {
                Split::Train => Some(train),
                Split::Dev => Some(dev),
                Split::Eval => eval.as_ref(),
            };
            match path {
                Some(p) => crate::data::corpus::load_csv(p, crate::data::OnProblem::SkipAndReport)
                    .map(from_corpus)
                    .map_err(|e| e.to_string()),
                None => Ok(Vec::new()),
            }
        }
    }
}
