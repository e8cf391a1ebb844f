//! The augment view's chain mode: build an augmentation chain stage by stage (add, remove,
//! reorder, edit each stage's fields and `p`), load and save it as a chain TOML, run it on the
//! current clip with [`crate::augment::Chain::apply_stages`] and audition the output after any
//! stage (it becomes the view's "augmented" clip, so the usual plots and playback show it).
//!
//! Drawing (`chain_ui`) edits the chain in place and returns [`AugmentCommand`]s; `run_chain`,
//! the file dialogs and loading/saving are carried out by [`AugmentView::apply`] and
//! [`AugmentView::logic`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::audio_widgets::ClipDisplay;
use super::super::tasks::{pick_file, FileMode, FileRequest, Task};
use super::super::theme;
use super::state::Which;
use super::{AugmentCommand, AugmentView};
use crate::audio::Clip;
use crate::augment::chain::{CodecKind, NoiseSource, ReverbSource};
use crate::augment::{ChainSpec, RawBoostAlgo, StageReport, StageSpec};
use crate::rng::Rng;

/// What the open file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainDialog {
    /// Open a chain file.
    Load,
    /// Save the chain to a file.
    Save,
}

/// The chain mode's working state (the chain itself is in the persisted settings).
pub(super) struct ChainEditor {
    /// Kind the "Add stage" button adds.
    pub(super) new_kind: &'static str,
    /// The output after each stage of the last run, with its report.
    pub(super) outputs: Vec<(Arc<Clip>, StageReport)>,
    /// Which stage's output is auditioned (clamped to the last; `usize::MAX` = the chain's
    /// output, chosen again whenever stages are added, removed or moved).
    pub(super) selected: usize,
    pub(super) dialog: Option<(ChainDialog, Task<Option<PathBuf>>)>,
}

impl Default for ChainEditor {
    fn default() -> Self {
        Self {
            new_kind: "noise",
            outputs: Vec::new(),
            selected: usize::MAX,
            dialog: None,
        }
    }
}

impl AugmentView {
    /// The output after each stage of the last chain run (empty in RawBoost mode).
    pub fn chain_stage_outputs(&self) -> Vec<&[f32]> {
        self.chain
            .outputs
            .iter()
            .map(|(clip, _)| clip.samples.as_slice())
            .collect()
    }

    /// The reports of the last chain run's stages.
    pub fn chain_stage_reports(&self) -> Vec<&StageReport> {
        self.chain.outputs.iter().map(|(_, r)| r).collect()
    }

    /// Where relative folders of the chain are read from: the chain file's folder, else the
    /// working directory.
    fn chain_base_dir(&self) -> PathBuf {
        Path::new(self.settings.chain_path.trim())
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Run the chain on the current clip with the current seed and show the selected stage's
    /// output as the augmented clip.
    pub(super) fn run_chain(&mut self) {
        self.chain.outputs.clear();
        self.figures.clear();
        let Some(original) = &self.original else {
            return;
        };
        let clip = Arc::clone(&original.clip);
        let name = original.name.clone();
        let result = self
            .settings
            .chain
            .prepare(&self.chain_base_dir())
            .and_then(|chain| {
                chain.apply_stages(
                    &clip.samples,
                    clip.sample_rate_hz,
                    &mut Rng::new(self.settings.seed),
                )
            });
        match result {
            Ok(outputs) => {
                self.chain.outputs = outputs
                    .into_iter()
                    .map(|(samples, report)| {
                        (
                            Arc::new(Clip {
                                samples,
                                sample_rate_hz: clip.sample_rate_hz,
                            }),
                            report,
                        )
                    })
                    .collect();
                self.error = None;
                let last = self.chain.outputs.len().saturating_sub(1);
                self.chain.selected = self.chain.selected.min(last);
                self.show_stage(&name);
            }
            Err(e) => {
                self.augmented = None;
                self.error = Some(format!("chain: {e}"));
            }
        }
    }

    /// Make the selected stage's output the augmented clip.
    pub(super) fn show_stage(&mut self, original_name: &str) {
        let Some(ctx) = self.ctx.clone() else {
            return;
        };
        match self.chain.outputs.get(self.chain.selected) {
            Some((clip, report)) => {
                let name = format!(
                    "{original_name} after stage {} ({})",
                    self.chain.selected, report.kind
                );
                self.augmented = Some(ClipDisplay::new(&ctx, name, Arc::clone(clip)));
                if self.playing == Some(Which::Augmented) {
                    self.play(Which::Augmented);
                }
            }
            None => self.augmented = None,
        }
    }

    /// Carry out a chain command; returns false for commands of other modes.
    pub(super) fn apply_chain(&mut self, cmd: &AugmentCommand) -> bool {
        let chain = &mut self.settings.chain;
        match cmd {
            AugmentCommand::AddStage(kind) => {
                if let Some(stage) = StageSpec::default_of(kind) {
                    chain.stages.push(stage);
                    self.chain.selected = usize::MAX;
                    self.dirty = true;
                }
            }
            AugmentCommand::RemoveStage(i) => {
                if *i < chain.stages.len() {
                    chain.stages.remove(*i);
                    self.chain.selected = usize::MAX;
                    self.dirty = true;
                }
            }
            AugmentCommand::MoveStage { index, up } => {
                let other = if *up {
                    index.checked_sub(1)
                } else {
                    Some(index + 1)
                };
                if let Some(other) = other.filter(|&o| o < chain.stages.len()) {
                    chain.stages.swap(*index, other);
                    self.chain.selected = usize::MAX;
                    self.dirty = true;
                }
            }
            AugmentCommand::AuditionStage(i) => {
                self.chain.selected = *i;
                let name = self
                    .original
                    .as_ref()
                    .map(|o| o.name.clone())
                    .unwrap_or_default();
                self.show_stage(&name);
            }
            AugmentCommand::ChainDialog(which) => {
                let request = match which {
                    ChainDialog::Load => FileRequest::open(
                        "Open an augmentation chain",
                        &[("chain", &["toml"])],
                        false,
                    ),
                    ChainDialog::Save => FileRequest {
                        title: Some("Save the augmentation chain".into()),
                        filters: vec![("chain".into(), vec!["toml".into()])],
                        directory: None,
                        mode: FileMode::Save("chain.toml".into()),
                    },
                };
                match pick_file(self.ctx.as_ref(), request) {
                    Ok(task) => self.chain.dialog = Some((*which, task)),
                    Err(e) => self.error = Some(e),
                }
            }
            AugmentCommand::LoadChain(path) => match ChainSpec::load(path) {
                Ok(spec) => {
                    self.settings.chain = spec;
                    self.settings.chain_path = path.display().to_string();
                    self.chain.selected = usize::MAX;
                    self.message = Some(format!("loaded {}", path.display()));
                    self.dirty = true;
                }
                Err(e) => self.error = Some(e.to_string()),
            },
            AugmentCommand::SaveChain(path) => {
                let written = self
                    .settings
                    .chain
                    .to_toml_string()
                    .map_err(|e| e.to_string())
                    .and_then(|text| {
                        std::fs::write(path, text)
                            .map_err(|e| format!("cannot write {}: {e}", path.display()))
                    });
                match written {
                    Ok(()) => {
                        self.settings.chain_path = path.display().to_string();
                        self.message = Some(format!("saved {}", path.display()));
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            _ => return false,
        }
        true
    }

    /// Per-frame: a finished file dialog becomes a load or save.
    pub(super) fn chain_logic(&mut self) {
        let Some((which, task)) = &self.chain.dialog else {
            return;
        };
        let which = *which;
        if let Some(result) = task.poll() {
            self.chain.dialog = None;
            if let Some(Some(path)) = result {
                let cmd = match which {
                    ChainDialog::Load => AugmentCommand::LoadChain(path),
                    ChainDialog::Save => AugmentCommand::SaveChain(path),
                };
                self.apply_chain(&cmd);
            }
        }
    }

    /// The chain editor: stages with their fields, add/remove/reorder, load/save, the seed, and
    /// which stage's output to audition.
    pub(super) fn chain_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<AugmentCommand>) {
        ui.heading("Augmentation chain");
        ui.horizontal(|ui| {
            if ui.button("Load chain...").clicked() {
                commands.push(AugmentCommand::ChainDialog(ChainDialog::Load));
            }
            if ui.button("Save chain...").clicked() {
                commands.push(AugmentCommand::ChainDialog(ChainDialog::Save));
            }
        });
        if !self.settings.chain_path.is_empty() {
            ui.small(format!("file: {}", self.settings.chain_path));
        }
        self.seed_ui(ui, commands);
        let mut changed = false;
        let num_stages = self.settings.chain.stages.len();
        for (i, stage) in self.settings.chain.stages.iter_mut().enumerate() {
            ui.separator();
            ui.horizontal(|ui| {
                ui.strong(format!("{i}. {}", stage.kind()));
                if ui
                    .add_enabled(i > 0, egui::Button::new("Up"))
                    .on_hover_text("run this stage earlier")
                    .clicked()
                {
                    commands.push(AugmentCommand::MoveStage { index: i, up: true });
                }
                if ui
                    .add_enabled(i + 1 < num_stages, egui::Button::new("Down"))
                    .on_hover_text("run this stage later")
                    .clicked()
                {
                    commands.push(AugmentCommand::MoveStage {
                        index: i,
                        up: false,
                    });
                }
                if ui.button("Remove").clicked() {
                    commands.push(AugmentCommand::RemoveStage(i));
                }
            });
            ui.push_id(i, |ui| {
                changed |= stage_fields_ui(ui, stage);
            });
        }
        ui.separator();
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("kind to add")
                .selected_text(self.chain.new_kind)
                .show_ui(ui, |ui| {
                    for kind in StageSpec::KINDS {
                        ui.selectable_value(&mut self.chain.new_kind, kind, kind);
                    }
                });
            if ui.button("Add stage").clicked() {
                commands.push(AugmentCommand::AddStage(self.chain.new_kind));
            }
        });
        if changed {
            commands.push(AugmentCommand::SettingsChanged);
        }
        if !self.chain.outputs.is_empty() {
            ui.separator();
            ui.label("Audition the output after stage:");
            for (i, (_, report)) in self.chain.outputs.iter().enumerate() {
                let text = format!("after {i}: {}", report.summary());
                if ui
                    .selectable_label(self.chain.selected == i, text)
                    .clicked()
                {
                    commands.push(AugmentCommand::AuditionStage(i));
                }
            }
        }
    }
}

/// One stage's `p` and fields; true when something changed.
fn stage_fields_ui(ui: &mut egui::Ui, stage: &mut StageSpec) -> bool {
    let mut changed = ui
        .add(egui::Slider::new(stage.p_mut(), 0.0..=1.0).text("p (probability)"))
        .changed();
    match stage {
        StageSpec::RawBoost { algo, .. } => {
            egui::ComboBox::from_label("RawBoost algorithm")
                .selected_text(algo.number().to_string())
                .show_ui(ui, |ui| {
                    for a in RawBoostAlgo::ALL {
                        changed |= ui
                            .selectable_value(
                                algo,
                                a,
                                format!("{} ({})", a.number(), plain(a.describe())),
                            )
                            .changed();
                    }
                });
            ui.small(
                "other RawBoost parameters: reference defaults, or as the chain file sets them",
            );
        }
        StageSpec::Noise {
            source,
            folder,
            snr_db,
            num_talkers,
            ..
        } => {
            egui::ComboBox::from_label("noise source")
                .selected_text(source.name())
                .show_ui(ui, |ui| {
                    for s in NoiseSource::ALL {
                        changed |= ui.selectable_value(source, s, s.name()).changed();
                    }
                });
            if matches!(source, NoiseSource::Folder | NoiseSource::Babble) {
                changed |= folder_ui(ui, folder);
            }
            changed |= range_ui(ui, "SNR (dB)", snr_db, 0.5);
            if *source == NoiseSource::Babble {
                let mut talkers = [num_talkers[0] as f64, num_talkers[1] as f64];
                if range_ui(ui, "talkers", &mut talkers, 1.0) {
                    *num_talkers = [talkers[0].max(0.0) as u32, talkers[1].max(0.0) as u32];
                    changed = true;
                }
            }
        }
        StageSpec::Reverb {
            source,
            folder,
            rt60_s,
            drr_db,
            ..
        } => {
            egui::ComboBox::from_label("room")
                .selected_text(match source {
                    ReverbSource::Simulated => "simulated",
                    ReverbSource::Folder => "folder",
                })
                .show_ui(ui, |ui| {
                    changed |= ui
                        .selectable_value(source, ReverbSource::Simulated, "simulated")
                        .changed();
                    changed |= ui
                        .selectable_value(source, ReverbSource::Folder, "folder")
                        .changed();
                });
            match source {
                ReverbSource::Simulated => {
                    if folder.take().is_some() {
                        changed = true;
                    }
                    changed |= range_ui(ui, "RT60 (s)", rt60_s, 0.01);
                    changed |= range_ui(ui, "direct-to-reverberant (dB)", drr_db, 0.5);
                }
                ReverbSource::Folder => changed |= folder_ui(ui, folder),
            }
        }
        StageSpec::Codec {
            codec,
            bitrate_kbps,
            cutoff_hz,
            mask_db,
            step_db,
            ..
        } => {
            let before = *codec;
            egui::ComboBox::from_label("codec")
                .selected_text(codec.name())
                .show_ui(ui, |ui| {
                    for c in CodecKind::ALL {
                        changed |= ui.selectable_value(codec, c, c.name()).changed();
                    }
                });
            if *codec != before {
                // Each codec has its own bit-rate range: start from the new one's default.
                *bitrate_kbps = None;
            }
            if *codec == CodecKind::LossySim {
                changed |= range_ui(ui, "cutoff (Hz)", cutoff_hz, 50.0);
                changed |= range_ui(ui, "mask (dB)", mask_db, 0.5);
                changed |= range_ui(ui, "step (dB)", step_db, 0.1);
            }
            match codec.default_bitrate_kbps() {
                Some(default) => {
                    let mut range = bitrate_kbps.unwrap_or(default);
                    if range_ui(ui, "bit rate (kbit/s)", &mut range, 1.0) {
                        *bitrate_kbps = Some(range);
                        changed = true;
                    }
                }
                // G.711 and the stand-in read no bit rate; a stale one would fail validation.
                None => changed |= bitrate_kbps.take().is_some(),
            }
        }
        StageSpec::Speed { factor, .. } => changed |= range_ui(ui, "factor", factor, 0.01),
        StageSpec::Pitch { semitones, .. } => changed |= range_ui(ui, "semitones", semitones, 0.1),
        StageSpec::BandLimit {
            low_hz, high_hz, ..
        } => {
            changed |= range_ui(ui, "low edge (Hz)", low_hz, 10.0);
            changed |= range_ui(ui, "high edge (Hz)", high_hz, 10.0);
        }
        StageSpec::Gain { gain_db, .. } => changed |= range_ui(ui, "gain (dB)", gain_db, 0.1),
        StageSpec::Clip { threshold, .. } => {
            changed |= range_ui(ui, "threshold (of peak)", threshold, 0.01)
        }
    }
    changed
}

/// A `[low, high]` range as two drag values.
fn range_ui(ui: &mut egui::Ui, text: &str, range: &mut [f64; 2], speed: f64) -> bool {
    ui.horizontal(|ui| {
        let a = ui.add(egui::DragValue::new(&mut range[0]).speed(speed));
        ui.label("to");
        let b = ui.add(egui::DragValue::new(&mut range[1]).speed(speed));
        ui.label(text);
        a.changed() || b.changed()
    })
    .inner
}

/// An optional folder as a text field (relative to the chain file).
fn folder_ui(ui: &mut egui::Ui, folder: &mut Option<PathBuf>) -> bool {
    let mut text = folder
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let changed = ui
        .horizontal(|ui| {
            let label = ui.label("folder:");
            ui.add(
                egui::TextEdit::singleline(&mut text).desired_width(theme::SEED_FIELD_WIDTH * 2.0),
            )
            .labelled_by(label.id)
            .changed()
        })
        .inner;
    if changed {
        *folder = (!text.trim().is_empty()).then(|| PathBuf::from(text.trim()));
    }
    changed
}

/// A description in characters every font has.
fn plain(text: &str) -> String {
    text.replace('→', "->").replace('∥', "||")
}
