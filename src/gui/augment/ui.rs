//! The augment view's drawing: the shared clip panel with the corpus browser, the RawBoost
//! settings, and original and augmented clips side by side with the draw's figures. It only
//! draws and returns [`AugmentCommand`]s (besides editing settings fields in place).

use super::super::audio_widgets as widgets;
use super::super::clip_panel::ClipPanelText;
use super::super::{theme, Shared};
use super::state::{AugmentMode, BrowseSplit, Entry, Which};
use super::{AugmentCommand, AugmentView};
use crate::augment::RawBoostAlgo;
use crate::data::Label;
use crate::train::config::CorpusPlan;

impl AugmentView {
    /// Draws the view.
    /// Draws the view; returns what the user asked for, for [`AugmentView::apply`].
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared) -> Vec<AugmentCommand> {
        let mut commands = Vec::new();
        // Consumed before any widget is drawn, so a focused button does not also take the space.
        if !ui.ctx().text_edit_focused()
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Space))
        {
            commands.push(AugmentCommand::ToggleAb);
        }
        egui::Panel::left("augment controls")
            .resizable(true)
            .default_size(theme::AUGMENT_PANEL_WIDTH)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.source_ui(ui, shared, &mut commands);
                    ui.separator();
                    ui.horizontal(|ui| {
                        ui.label("Augment with:");
                        for (mode, name) in [
                            (AugmentMode::RawBoost, "RawBoost"),
                            (AugmentMode::Chain, "Chain"),
                        ] {
                            if ui
                                .selectable_label(self.settings.mode == mode, name)
                                .clicked()
                            {
                                commands.push(AugmentCommand::SetMode(mode));
                            }
                        }
                    });
                    match self.settings.mode {
                        AugmentMode::RawBoost => self.rawboost_ui(ui, &mut commands),
                        AugmentMode::Chain => self.chain_ui(ui, &mut commands),
                    }
                });
            });
        egui::ScrollArea::vertical()
            .id_salt("augment main")
            .show(ui, |ui| self.main_ui(ui, &mut commands));
        commands
    }

    fn source_ui(
        &mut self,
        ui: &mut egui::Ui,
        shared: &Shared,
        commands: &mut Vec<AugmentCommand>,
    ) {
        let text = ClipPanelText {
            path_label: "Path:",
            drop_hint: "Or drop an audio file on the window.",
        };
        if let Some(cmd) = self
            .source
            .ui(ui, &mut self.settings.path_text, &text, true)
        {
            commands.push(AugmentCommand::Clip(cmd));
        }
        if self.source.is_loading() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("loading...");
            });
        }
        ui.separator();
        self.browser_ui(ui, shared, commands);
    }

    fn browser_ui(
        &mut self,
        ui: &mut egui::Ui,
        shared: &Shared,
        commands: &mut Vec<AugmentCommand>,
    ) {
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
            .max_height(theme::CORPUS_LIST_HEIGHT)
            .show_rows(ui, theme::CORPUS_ROW_HEIGHT, shown.len(), |ui, rows| {
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
            commands.push(AugmentCommand::LoadEntry(entry));
        }
    }

    fn rawboost_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<AugmentCommand>) {
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
        self.seed_ui(ui, commands);
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
            commands.push(AugmentCommand::ResetParams);
        }
        if changed {
            commands.push(AugmentCommand::SettingsChanged);
        }
    }

    /// The seed field and "New draw".
    pub(super) fn seed_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<AugmentCommand>) {
        ui.horizontal(|ui| {
            let label = ui.label("Seed:");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.seed_text)
                        .desired_width(theme::SEED_FIELD_WIDTH),
                )
                .labelled_by(label.id);
            if r.changed() {
                if let Ok(seed) = self.seed_text.trim().parse::<u64>() {
                    commands.push(AugmentCommand::SetSeed(seed));
                }
            }
            if ui.button("New draw").clicked() {
                commands.push(AugmentCommand::NewDraw);
            }
        });
    }

    fn main_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<AugmentCommand>) {
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
        ui.horizontal(|ui| {
            if ui.button("Play original").clicked() {
                commands.push(AugmentCommand::Play(Which::Original));
            }
            if ui
                .add_enabled(
                    self.augmented.is_some(),
                    egui::Button::new("Play augmented"),
                )
                .clicked()
            {
                commands.push(AugmentCommand::Play(Which::Augmented));
            }
            if ui.button("A/B (space)").clicked() {
                commands.push(AugmentCommand::ToggleAb);
            }
            if ui.button("Stop").clicked() {
                commands.push(AugmentCommand::Stop);
            }
            let mut looping = self.settings.looping;
            if ui.checkbox(&mut looping, "loop").changed() {
                commands.push(AugmentCommand::SetLooping(looping));
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
                if self.augmented.is_some() {
                    ui.small(match self.settings.mode {
                        AugmentMode::RawBoost => format!(
                            "algorithm {}, seed {}",
                            algo_label(self.settings.algo),
                            self.settings.seed
                        ),
                        AugmentMode::Chain => format!(
                            "chain, output after stage {}, seed {}",
                            self.chain.selected, self.settings.seed
                        ),
                    });
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
        if self.settings.mode == AugmentMode::Chain {
            egui::Grid::new("chain figures")
                .striped(true)
                .show(ui, |ui| {
                    for (i, (_, report)) in self.chain.outputs.iter().enumerate() {
                        ui.label(format!("{i}. {}", report.kind));
                        ui.label(report.summary());
                        ui.end_row();
                    }
                });
        } else if self.figures.is_empty() {
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
                commands.push(AugmentCommand::Export);
            }
        });
        if let Some(t) = seek {
            commands.push(AugmentCommand::Seek(t));
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
