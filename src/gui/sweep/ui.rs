//! The sweep view's drawing: the fields, Start/Stop with progress, and the EER heatmap. It only
//! draws and returns [`SweepCommand`]s (the path fields are edited in place).

use egui::{Color32, RichText};

use super::super::theme;
use super::state::SweepStatus;
use super::{SweepCommand, SweepView};
use crate::sweep::SweepResult;

/// EER (percent) at which a cell reaches the full "bad" colour: chance level.
const EER_FULL_SCALE_PCT: f64 = 50.0;
/// Difference (percentage points) at which a difference cell reaches its full colour.
const DIFF_FULL_SCALE_PP: f64 = 20.0;

fn lerp(a: (u8, u8, u8), b: (u8, u8, u8), t: f64) -> Color32 {
    let t = t.clamp(0.0, 1.0);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    Color32::from_rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Cell colour of an EER: the diverging map's blue end at 0 %, its white middle at 25 %, its
/// red end at 50 % and above.
pub fn eer_color(eer_pct: f64) -> Color32 {
    let [red, white, blue] = theme::DIVERGING;
    let t = eer_pct / EER_FULL_SCALE_PCT;
    if t < 0.5 {
        lerp(blue, white, t * 2.0)
    } else {
        lerp(white, red, (t - 0.5) * 2.0)
    }
}

/// Cell colour of a difference (second minus first): red where the second is worse, blue where
/// it is better, white at no difference.
pub fn diff_color(diff_pp: f64) -> Color32 {
    let [red, white, blue] = theme::DIVERGING;
    let t = diff_pp / DIFF_FULL_SCALE_PP;
    if t >= 0.0 {
        lerp(white, red, t)
    } else {
        lerp(white, blue, -t)
    }
}

/// One heatmap cell: the number on its colour (dark text: every colour of the maps is light
/// enough in the middle and saturated at the ends, where white would be as legible; dark
/// keeps one rule).
fn cell(ui: &mut egui::Ui, text: String, fill: Option<Color32>) {
    let rich = RichText::new(text).monospace();
    let rich = match fill {
        Some(c) => rich.background_color(c).color(Color32::BLACK),
        None => rich.background_color(theme::MISSING_CELL),
    };
    ui.label(rich);
}

/// The heatmap: rows conditions, a column per checkpoint, and the difference column.
fn heatmap(ui: &mut egui::Ui, result: &SweepResult) {
    for (i, c) in result.checkpoints.iter().enumerate() {
        ui.label(format!("[{}] {} — {}", i + 1, c.label, c.model));
    }
    ui.label(format!(
        "{} bona fide and {} spoofed clips{}",
        result.num_bonafide,
        result.num_spoof,
        if result.cancelled {
            " (stopped early: the EERs cover the clips done)"
        } else {
            ""
        }
    ));
    for f in &result.failures {
        ui.colored_label(theme::ERROR, format!("{}: {}", f.path.display(), f.message));
    }
    let two = result.checkpoints.len() == 2;
    egui::ScrollArea::both().show(ui, |ui| {
        egui::Grid::new("sweep-heatmap")
            .spacing([6.0, 3.0])
            .show(ui, |ui| {
                ui.strong("condition");
                for i in 0..result.checkpoints.len() {
                    ui.strong(format!("[{}] EER %", i + 1));
                }
                if two {
                    ui.strong("[2] − [1] pp");
                }
                ui.end_row();
                for (row, name) in result.condition_names.iter().enumerate() {
                    ui.label(name);
                    for k in 0..result.checkpoints.len() {
                        match result.eer_percent(row, k) {
                            Some(v) => cell(ui, format!("{v:.2}"), Some(eer_color(v))),
                            None => cell(ui, "-".to_string(), None),
                        }
                    }
                    if two {
                        match result.difference_percent(row) {
                            Some(d) => cell(ui, format!("{d:+.2}"), Some(diff_color(d))),
                            None => cell(ui, "-".to_string(), None),
                        }
                    }
                    ui.end_row();
                }
            });
    });
}

fn path_field(ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str) {
    ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .hint_text(hint)
            .desired_width(theme::PATH_FIELD_WIDTH * 2.0),
    );
    ui.end_row();
}

impl SweepView {
    /// Draws the view; returns what the user asked for.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Vec<SweepCommand> {
        let mut commands = Vec::new();
        ui.heading("Robustness sweep");
        let running = self.is_running();
        ui.add_enabled_ui(!running, |ui| {
            egui::Grid::new("sweep-fields")
                .num_columns(2)
                .show(ui, |ui| {
                    path_field(
                        ui,
                        "Checkpoint 1",
                        &mut self.checkpoint_a,
                        "run folder or checkpoint",
                    );
                    path_field(
                        ui,
                        "Checkpoint 2",
                        &mut self.checkpoint_b,
                        "optional: compared with checkpoint 1",
                    );
                    path_field(ui, "Clips", &mut self.folder, "folder of audio files");
                    path_field(ui, "Key", &mut self.key, "key labelling the clips");
                    path_field(ui, "Grid", &mut self.grid, "empty: the default grid");
                });
        });
        ui.horizontal(|ui| {
            if running {
                if ui
                    .add_enabled(
                        self.status != SweepStatus::Stopping,
                        egui::Button::new("■ Stop"),
                    )
                    .clicked()
                {
                    commands.push(SweepCommand::Stop);
                }
            } else if ui.button("▶ Start").clicked() {
                commands.push(SweepCommand::Start);
            }
            match &self.status {
                SweepStatus::Idle => {}
                SweepStatus::Running(p) => {
                    let fraction = if p.total_clips == 0 {
                        0.0
                    } else {
                        p.done_clips as f32 / p.total_clips as f32
                    };
                    ui.add(
                        egui::ProgressBar::new(fraction)
                            .desired_width(theme::PATH_FIELD_WIDTH)
                            .text(format!("{}/{} clips", p.done_clips, p.total_clips)),
                    );
                }
                SweepStatus::Stopping => {
                    ui.label("stopping after the clips being scored…");
                }
                SweepStatus::Finished => {
                    ui.colored_label(theme::OK, "done");
                }
                SweepStatus::Failed(message) => {
                    ui.colored_label(theme::ERROR, message);
                }
            }
        });
        ui.separator();
        if let Some(result) = &self.result {
            heatmap(ui, result);
        } else {
            ui.label("No sweep yet: fill in the fields and press Start.");
        }
        commands
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_maps_run_from_blue_through_white_to_red() {
        let [red, white, blue] = theme::DIVERGING;
        let rgb = |c: Color32| (c.r(), c.g(), c.b());
        assert_eq!(rgb(eer_color(0.0)), blue);
        assert_eq!(rgb(eer_color(25.0)), white);
        assert_eq!(rgb(eer_color(50.0)), red);
        assert_eq!(rgb(eer_color(90.0)), red);
        assert_eq!(rgb(diff_color(0.0)), white);
        assert_eq!(rgb(diff_color(20.0)), red);
        assert_eq!(rgb(diff_color(-40.0)), blue);
    }
}
