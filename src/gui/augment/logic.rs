//! The augment view's logic: per-frame work (the clip panel's loads, corpus listing, RawBoost
//! draws when the settings change, playback) and [`AugmentView::apply`], the one place that
//! carries out [`AugmentCommand`]s.

use std::path::PathBuf;
use std::sync::Arc;

use super::super::audio_widgets::{self, ClipDisplay};
use super::super::clip_panel::{ClipCommand, ClipEvent};
use super::super::tasks::Task;
use super::super::Shared;
use super::state::{AugmentMode, BrowseSplit, Entry, Origin, Which};
use super::{AugmentCommand, AugmentView};
use crate::audio::{Clip, WavFormat};
use crate::augment::report::figures_with_measurements;
use crate::augment::{rawboost, RawBoostParams};
use crate::data::corpus::Split;
use crate::data::demo::{DemoCorpus, DemoSize};
use crate::rng::Rng;
use crate::train::config::{CorpusPlan, DataPlan};

impl AugmentView {
    /// A file dropped on the window or opened while this view is shown.
    pub fn open_file(&mut self, path: PathBuf, _shared: &mut Shared) {
        self.settings.path_text = path.display().to_string();
        self.start_loading_file(path);
    }

    fn start_loading_file(&mut self, path: PathBuf) {
        self.error = None;
        if let Err(e) = self.source.load_file(self.ctx.as_ref(), path) {
            self.error = Some(e);
        }
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
            Origin::File(path) => audio_widgets::load_clip(&path).map(|clip| (entry.id, clip)),
        });
    }

    fn start_loading(
        &mut self,
        job: impl FnOnce() -> Result<(String, Clip), String> + Send + 'static,
    ) {
        self.error = None;
        if let Err(e) = self.source.load_with(self.ctx.as_ref(), job) {
            self.error = Some(e);
        }
    }

    fn set_clip(&mut self, name: String, clip: Clip) {
        self.stop();
        self.cursor_s = 0.0;
        self.augmented = None;
        self.figures.clear();
        self.chain.outputs.clear();
        self.dirty = true;
        self.original = self
            .ctx
            .as_ref()
            .map(|ctx| ClipDisplay::new(ctx, name, Arc::new(clip)));
    }

    /// Re-run RawBoost or the chain with the current settings (called when they change).
    fn redraw(&mut self) {
        self.dirty = false;
        if self.settings.mode == AugmentMode::Chain {
            self.run_chain();
            return;
        }
        self.chain.outputs.clear();
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

    pub(super) fn play(&mut self, which: Which) {
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
                let what = match self.settings.mode {
                    AugmentMode::RawBoost => {
                        format!("algorithm {}", self.settings.algo.number())
                    }
                    AugmentMode::Chain => augmented.name.clone(),
                };
                self.message = Some(format!(
                    "wrote {} ({what}, seed {})",
                    path.display(),
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
        for event in self.source.poll() {
            match event {
                ClipEvent::Loaded { name, clip } => self.set_clip(name, clip),
                ClipEvent::Failed(e) => self.error = Some(e),
                ClipEvent::Picked(path) => self.open_file(path, shared),
            }
        }
        if let Some(result) = self.browser.pending.as_ref().and_then(Task::poll) {
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
            match Task::spawn(Some(ctx), "dpda-list-corpus", move || {
                list_corpus(&corpus, split)
            }) {
                Ok(p) => self.browser.pending = Some(p),
                Err(e) => self.browser.error = Some(e),
            }
        }
        self.chain_logic();
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

    /// Carries out a command of [`AugmentView::ui`] (the one place that starts work and
    /// playback).
    pub fn apply(&mut self, cmd: AugmentCommand, _shared: &mut Shared) {
        if self.apply_chain(&cmd) {
            return;
        }
        match cmd {
            AugmentCommand::Clip(ClipCommand::Open(path)) => self.start_loading_file(path),
            AugmentCommand::Clip(cmd) => {
                if let Err(e) = self.source.apply(cmd, self.ctx.as_ref()) {
                    self.error = Some(e);
                }
            }
            AugmentCommand::LoadEntry(entry) => self.start_loading_entry(entry),
            AugmentCommand::SetSeed(seed) => {
                self.settings.seed = seed;
                self.dirty = true;
            }
            AugmentCommand::SettingsChanged => self.dirty = true,
            AugmentCommand::ResetParams => {
                self.settings.params = RawBoostParams::default();
                self.dirty = true;
            }
            AugmentCommand::NewDraw => self.new_draw(),
            AugmentCommand::Play(which) => {
                self.player.stop();
                self.play(which);
            }
            AugmentCommand::ToggleAb => self.toggle_ab(),
            AugmentCommand::Stop => {
                if let Some(t) = self.player.position_s() {
                    self.cursor_s = t;
                }
                self.stop();
            }
            AugmentCommand::SetLooping(looping) => {
                self.settings.looping = looping;
                self.player.set_looping(looping);
            }
            AugmentCommand::Seek(t) => {
                self.cursor_s = t;
                if let Some(which) = self.playing {
                    self.player.stop();
                    self.play(which);
                }
            }
            AugmentCommand::Export => self.export(),
            AugmentCommand::SetMode(mode) if self.settings.mode != mode => {
                self.settings.mode = mode;
                self.dirty = true;
            }
            // Chain commands were carried out by `apply_chain` above.
            _ => {}
        }
    }

    /// Carries out each command in turn.
    pub fn apply_all(&mut self, commands: Vec<AugmentCommand>, shared: &mut Shared) {
        for cmd in commands {
            self.apply(cmd, shared);
        }
    }
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
