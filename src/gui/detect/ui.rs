//! The detect view's drawing: model choice, the shared clip panel with recording, folder
//! scoring, and the verdict with the clip's plots and score track. It only draws and returns
//! [`DetectCommand`]s (besides editing settings fields and the threshold in place).

use egui_plot::{HLine, Line, Plot, PlotPoints, VLine};

use super::super::audio_widgets as widgets;
use super::super::clip_panel::ClipPanelText;
use super::super::{theme, Shared};
use super::state::{CheckpointKind, CAVEAT};
use super::{DetectCommand, DetectView};
use crate::inference::scorer::is_bonafide;
use crate::inference::unreliable_reason;
use crate::nn::registry::ModelKind;

impl DetectView {
    /// Draws the view; returns what the user asked for, for [`DetectView::apply`].
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared) -> Vec<DetectCommand> {
        let mut commands = Vec::new();
        egui::Panel::left("detect controls")
            .resizable(true)
            .default_size(theme::DETECT_PANEL_WIDTH)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.model_ui(ui, shared, &mut commands);
                    self.calibration_controls_ui(ui, &mut commands);
                    ui.separator();
                    self.input_ui(ui, &mut commands);
                    ui.separator();
                    self.folder_ui(ui, &mut commands);
                });
            });
        egui::ScrollArea::vertical()
            .id_salt("detect main")
            .show(ui, |ui| self.result_ui(ui, &mut commands));
        commands
    }

    fn model_ui(&mut self, ui: &mut egui::Ui, shared: &Shared, commands: &mut Vec<DetectCommand>) {
        ui.heading("Model");
        self.models.ui(ui, &mut self.settings.models_dir, commands);
        ui.horizontal_wrapped(|ui| {
            let k = &mut self.settings.kind;
            ui.selectable_value(k, CheckpointKind::CurrentRun, "current run's best");
            ui.selectable_value(k, CheckpointKind::RunFolder, "run folder");
            ui.selectable_value(k, CheckpointKind::Safetensors, ".safetensors");
            ui.selectable_value(k, CheckpointKind::Pth, "PyTorch .pth");
        });
        match self.settings.kind {
            CheckpointKind::CurrentRun => {
                ui.label(match &shared.current_run {
                    Some(run) => format!("run: {}", run.display()),
                    None => "no run started from the train view yet".into(),
                });
            }
            kind => {
                let can_browse = self.can_browse();
                ui.horizontal(|ui| {
                    let label = ui.label("Checkpoint:");
                    ui.text_edit_singleline(&mut self.settings.checkpoint_path)
                        .labelled_by(label.id);
                    if ui
                        .add_enabled(can_browse, egui::Button::new("..."))
                        .clicked()
                    {
                        commands.push(DetectCommand::BrowseCheckpoint);
                    }
                });
                if matches!(kind, CheckpointKind::Safetensors | CheckpointKind::Pth) {
                    egui::ComboBox::from_label("model")
                        .selected_text(self.settings.model_name.clone())
                        .show_ui(ui, |ui| {
                            for name in model_menu(kind) {
                                ui.selectable_value(
                                    &mut self.settings.model_name,
                                    name.to_string(),
                                    name,
                                );
                            }
                        });
                }
            }
        }
        ui.horizontal(|ui| {
            let label = ui.label("Input length (samples):");
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.num_samples)
                    .desired_width(theme::LENGTH_FIELD_WIDTH),
            )
            .labelled_by(label.id)
            .on_hover_text(
                "auto: what the model was trained on (64,600 for AASIST/AASIST-L, a run's \
                 data.num_samples, 66,800 otherwise)",
            );
        });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.loading_model, egui::Button::new("Load model"))
                .clicked()
            {
                commands.push(DetectCommand::LoadModel);
            }
            if self.loading_model {
                ui.spinner();
                ui.label("loading...");
            }
        });
        if let Some(m) = &self.model {
            ui.label(format!("loaded: {}", m.describe()));
        }
    }

    fn input_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<DetectCommand>) {
        let text = ClipPanelText {
            path_label: "Clip path:",
            drop_hint: "Or drop an audio file (or a checkpoint) on the window.",
        };
        let can_browse = self.dialog.is_none();
        if let Some(cmd) = self
            .source
            .ui(ui, &mut self.settings.clip_path, &text, can_browse)
        {
            commands.push(DetectCommand::Clip(cmd));
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Record up to");
            ui.add(
                egui::DragValue::new(&mut self.settings.record_limit_s)
                    .range(0.5..=120.0)
                    .suffix(" s"),
            );
        });
        let recording = self.recorder.is_some();
        ui.horizontal(|ui| {
            if !recording && ui.button("Record").clicked() {
                commands.push(DetectCommand::StartRecording);
            }
            if recording && ui.button("Stop recording").clicked() {
                commands.push(DetectCommand::StopRecording);
            }
        });
        if let Some(r) = &self.recorder {
            ui.label(format!(
                "recording {:.1} / {:.0} s at {} Hz",
                r.elapsed_s(),
                self.settings.record_limit_s,
                r.device_rate_hz()
            ));
            widgets::level_meter_ui(ui, r.level());
        }
        if let Some(e) = &self.audio_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
        ui.separator();
        ui.label("Score track");
        ui.horizontal(|ui| {
            ui.label("window");
            let a = ui.add(
                egui::DragValue::new(&mut self.settings.window_s)
                    .range(0.2..=10.0)
                    .speed(0.05)
                    .suffix(" s"),
            );
            ui.label("hop");
            let b = ui.add(
                egui::DragValue::new(&mut self.settings.hop_s)
                    .range(0.05..=10.0)
                    .speed(0.05)
                    .suffix(" s"),
            );
            if a.drag_stopped() || a.lost_focus() || b.drag_stopped() || b.lost_focus() {
                commands.push(DetectCommand::Rescore);
            }
        });
    }

    fn folder_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<DetectCommand>) {
        ui.heading("Score a folder");
        let can_browse = self.can_browse();
        ui.horizontal(|ui| {
            let label = ui.label("Folder:");
            ui.text_edit_singleline(&mut self.settings.folder)
                .labelled_by(label.id);
            if ui
                .add_enabled(can_browse, egui::Button::new("..."))
                .clicked()
            {
                commands.push(DetectCommand::BrowseFolder);
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Score file:");
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.scores_out)
                    .hint_text("<folder>/scores.txt"),
            )
            .labelled_by(label.id);
        });
        match (self.folder_progress, &self.folder_cancel) {
            (Some((done, total)), Some(_)) => {
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .text(format!("{done} / {total}")),
                );
                if ui.button("Stop scoring").clicked() {
                    commands.push(DetectCommand::StopFolder);
                }
            }
            _ => {
                let can = self.model.is_some() && !self.settings.folder.trim().is_empty();
                if ui
                    .add_enabled(
                        can && self.folder_cancel.is_none(),
                        egui::Button::new("Score folder"),
                    )
                    .clicked()
                {
                    commands.push(DetectCommand::ScoreFolder);
                }
            }
        }
        if let Some(m) = &self.folder_message {
            ui.label(m);
        }
    }

    fn result_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<DetectCommand>) {
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if self.live.is_some() {
            self.live_ui(ui);
            ui.separator();
        }
        let Some(clip) = &self.clip else {
            ui.label("Record, open or drop a clip to score it.");
            return;
        };
        ui.horizontal(|ui| {
            ui.strong(&clip.name);
            ui.label(format!("duration {:.2} s (16 kHz mono)", clip.duration_s()));
            if ui.button("Play").clicked() {
                commands.push(DetectCommand::Play);
            }
            if ui.button("Stop").clicked() {
                commands.push(DetectCommand::StopPlayback);
            }
        });
        ui.separator();
        self.verdict_ui(ui);
        self.calibrated_score_ui(ui);
        self.explain_ui(ui, commands);
        ui.separator();
        let Some(clip) = &self.clip else {
            return;
        };
        let link = ui.scope_id().with("detect time");
        let playhead = self.player.position_s();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(
                    (ui.available_width() - theme::COLOUR_BAR_ROOM).max(theme::MIN_PLOT_WIDTH),
                );
                let overlay = self.attribution_overlay();
                let _ = widgets::clip_plots_overlay_ui(ui, "detect", link, clip, playhead, overlay);
                self.track_ui(ui, link, clip.duration_s());
            });
            widgets::colour_bar_ui(ui, clip.db_range);
        });
    }

    fn verdict_ui(&mut self, ui: &mut egui::Ui) {
        if self.model.is_none() {
            ui.label("Load a model to score the clip.");
            return;
        }
        if self.scoring {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("scoring...");
            });
        }
        let Some(result) = &self.result else {
            return;
        };
        let bonafide = is_bonafide(result.score, self.threshold);
        let score = result.score;
        let warnings = self.warnings();
        let unreliable = unreliable_reason(&warnings);
        ui.horizontal(|ui| {
            ui.label(
                egui::RichText::new(format!("score {score:.3}")).size(theme::VERDICT_TEXT_SIZE),
            );
            let (text, colour) = if bonafide {
                ("likely bona fide", theme::BONAFIDE)
            } else {
                ("likely spoofed", theme::SPOOFED)
            };
            match &unreliable {
                // The input is outside what the score can speak for: the warning leads, the
                // model's decision follows in small print.
                Some(why) => {
                    ui.label(
                        egui::RichText::new(why)
                            .size(theme::VERDICT_TEXT_SIZE)
                            .color(ui.visuals().warn_fg_color)
                            .strong(),
                    );
                    ui.small("the model alone says:");
                    ui.label(egui::RichText::new(text).color(colour));
                }
                None => {
                    ui.label(
                        egui::RichText::new(text)
                            .size(theme::VERDICT_TEXT_SIZE)
                            .color(colour)
                            .strong(),
                    );
                }
            }
        });
        for w in &warnings {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("warning: {}", w.message),
            );
        }
        ui.small(
            "The score is the model's bona fide logit: higher means more bona fide, lower more \
             likely spoofed.",
        );
        ui.horizontal(|ui| {
            ui.label("Threshold:");
            ui.add(egui::DragValue::new(&mut self.threshold).speed(0.01));
            ui.small(&self.threshold_source);
        });
        ui.label(
            egui::RichText::new(format!("Caveat: {CAVEAT}"))
                .italics()
                .color(ui.visuals().weak_text_color()),
        );
    }

    /// The live score track while recording: one point per scored window, with the real-time
    /// factor and latency of scoring.
    fn live_ui(&self, ui: &mut egui::Ui) {
        let Some(live) = &self.live else {
            return;
        };
        ui.strong(if self.recorder.is_some() {
            "Live score (recording)"
        } else {
            "Live score (last recording)"
        });
        let stats = live.stats;
        let mut figures = format!(
            "{} windows of {:.1} s every {:.2} s scored",
            stats.windows_scored, live.window_s, live.hop_s
        );
        if let Some(rtf) = stats.real_time_factor {
            figures.push_str(&format!("; real-time factor {rtf:.2}"));
        }
        if let Some(latency_s) = stats.latency_s {
            figures.push_str(&format!("; latency {:.0} ms", 1000.0 * latency_s));
        }
        ui.label(figures);
        if stats.windows_skipped > 0 {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "{} windows skipped: scoring a window takes longer than the hop",
                    stats.windows_skipped
                ),
            );
        }
        if let Some(e) = &live.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        let half = live.window_s / 2.0;
        let points: Vec<[f64; 2]> = live.points.iter().map(|&(t, s)| [t + half, s]).collect();
        let threshold = self.threshold;
        Plot::new("live score track")
            .height(theme::SCORE_TRACK_HEIGHT)
            .include_x(0.0)
            .include_x(self.settings.record_limit_s)
            .include_y(threshold)
            .allow_scroll(false)
            .x_axis_label("time (s), window centres")
            .y_axis_label("score")
            .show(ui, |plot_ui| {
                plot_ui
                    .line(Line::new("live windows", PlotPoints::from(points)).color(theme::WAVE));
                plot_ui.hline(HLine::new("threshold", threshold).color(theme::MARK));
            });
    }

    fn track_ui(&self, ui: &mut egui::Ui, link: egui::Id, duration_s: f64) {
        let Some(result) = &self.result else {
            return;
        };
        let half = result.track.window_s / 2.0;
        let points: Vec<[f64; 2]> = result
            .track
            .points
            .iter()
            .map(|&(start, s)| [(start + half).min(duration_s), s])
            .collect();
        let threshold = self.threshold;
        let playhead = self.player.position_s();
        Plot::new("score track")
            .height(theme::SCORE_TRACK_HEIGHT)
            .link_axis(link, [true, false])
            .include_x(0.0)
            .include_x(duration_s.max(1e-3))
            .include_y(threshold)
            .allow_scroll(false)
            .x_axis_label("time (s), window centres")
            .y_axis_label("score")
            .show(ui, |plot_ui| {
                plot_ui.line(
                    Line::new(
                        format!("{:.1} s windows", result.track.window_s),
                        PlotPoints::from(points),
                    )
                    .color(theme::WAVE),
                );
                plot_ui.hline(HLine::new("threshold", threshold).color(theme::MARK));
                if let Some(t) = playhead {
                    plot_ui.vline(VLine::new("playhead", t));
                }
            });
    }
}

/// The model menu for checkpoints without a run configuration: `auto`, then the registry's
/// models small enough for the Detect view (`tiny` only for our own `.safetensors` files).
fn model_menu(kind: CheckpointKind) -> Vec<&'static str> {
    std::iter::once("auto")
        .chain(
            ModelKind::small()
                .filter(|m| *m != ModelKind::Tiny || kind == CheckpointKind::Safetensors)
                .map(ModelKind::name),
        )
        .collect()
}
