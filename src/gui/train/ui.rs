//! The train view's drawing: the experiment form with the previous runs, run controls with
//! progress, and linked curve plots over the per-layer cosine heatmap. It only draws and returns
//! [`TrainCommand`]s.

use std::path::PathBuf;

use egui::Color32;
use egui_plot::{HLine, Legend, Line, LineStyle, MarkerShape, Plot, PlotPoints, Points};

use super::super::heatmap;
use super::super::plots::{PairCurves, RunCurves, Series, CONFLICT_WINDOW};
use super::super::{theme, Shared};
use super::state::RunStatus;
use super::{TrainCommand, TrainView};

/// "1h 02m", "3m 05s", "12s".
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

impl TrainView {
    /// Draws the view; returns what the user asked for, for [`TrainView::apply`].
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared) -> Vec<TrainCommand> {
        let mut commands = Vec::new();
        egui::Panel::left("train-form")
            .resizable(true)
            .default_size(theme::FORM_WIDTH)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.heading("Experiment");
                    let enabled = !self.is_running();
                    if let Some(a) = self.form.ui(ui, &self.check.errors, enabled) {
                        commands.push(TrainCommand::Form(a));
                    }
                    if let Some(n) = &self.notice {
                        let color = if n.is_error { theme::ERROR } else { theme::OK };
                        ui.colored_label(color, &n.text);
                    }
                    ui.separator();
                    self.runs_ui(ui, shared, &mut commands);
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            self.controls_ui(ui, &mut commands);
            ui.separator();
            egui::ScrollArea::vertical().show(ui, |ui| self.plots_ui(ui));
        });
        commands
    }

    fn runs_ui(&self, ui: &mut egui::Ui, shared: &Shared, commands: &mut Vec<TrainCommand>) {
        ui.horizontal(|ui| {
            ui.strong("Previous runs");
            if ui.button("Refresh").clicked() {
                commands.push(TrainCommand::RefreshRuns);
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Runs folder");
            let mut text = shared.runs_dir.display().to_string();
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut text)
                        .desired_width(theme::RUNS_DIR_FIELD_WIDTH),
                )
                .labelled_by(label.id);
            if edit.changed() {
                commands.push(TrainCommand::SetRunsDir(PathBuf::from(text)));
            }
        });
        if self.runs.is_empty() {
            ui.weak("No run folders here yet.");
        }
        for (i, run) in self.runs.iter().enumerate() {
            ui.horizontal(|ui| {
                let mut selected = run.selected;
                if ui.checkbox(&mut selected, &run.name).changed() {
                    commands.push(TrainCommand::ToggleOverlay(i));
                }
                if run.loading {
                    ui.spinner();
                }
                if let Some(e) = &run.error {
                    ui.colored_label(theme::ERROR, "⚠").on_hover_text(e);
                }
                if run.resumable
                    && ui
                        .add_enabled(!self.is_running(), egui::Button::new("⟳ Continue"))
                        .on_hover_text("stopped or crashed: continue from its last checkpoint")
                        .clicked()
                {
                    commands.push(TrainCommand::ContinueRun(run.dir.clone()));
                }
            });
        }
    }

    fn controls_ui(&self, ui: &mut egui::Ui, commands: &mut Vec<TrainCommand>) {
        if let Some(plan) = self
            .check
            .plan
            .as_ref()
            .filter(|p| p.train.paths.len() >= 2)
        {
            let names: Vec<&str> = plan.train.paths.iter().map(|p| p.name.as_str()).collect();
            ui.label(format!("Paths: {}", names.join(", ")))
                .on_hover_text("the clean path and the augmentation pipelines (train.paths)");
        }
        ui.horizontal(|ui| {
            let can_start = !self.is_running() && self.check.plan.is_some();
            if ui
                .add_enabled(can_start, egui::Button::new("▶ Start"))
                .clicked()
            {
                commands.push(TrainCommand::Start);
            }
            match self.status {
                RunStatus::Paused => {
                    if ui.button("▶ Resume").clicked() {
                        commands.push(TrainCommand::Resume);
                    }
                }
                _ => {
                    let can_pause = self.status == RunStatus::Running;
                    if ui
                        .add_enabled(can_pause, egui::Button::new("⏸ Pause"))
                        .clicked()
                    {
                        commands.push(TrainCommand::Pause);
                    }
                }
            }
            let can_stop = matches!(self.status, RunStatus::Running | RunStatus::Paused);
            if ui
                .add_enabled(can_stop, egui::Button::new("⏹ Stop"))
                .clicked()
            {
                commands.push(TrainCommand::Stop);
            }
            self.status_ui(ui, commands);
        });
        if !self.is_running() && self.check.plan.is_none() {
            ui.colored_label(theme::ERROR, "Fix the marked fields to start a run.");
        }
        let p = &self.progress;
        let rate = p
            .iters_per_s()
            .map_or_else(|| "– it/s".into(), |r| format!("{r:.2} it/s"));
        let eta = p.eta_s().map_or_else(|| "–".into(), format_duration);
        let text = format!(
            "iteration {}/{} · epoch {}/{} · {rate} · ETA {eta}",
            p.step,
            p.total_steps,
            (p.epoch + 1).min(p.total_epochs.max(1)),
            p.total_epochs
        );
        ui.add(egui::ProgressBar::new(p.fraction()).text(text));
        if let Some(dir) = &p.run_dir {
            ui.weak(format!("run folder: {}", dir.display()));
        }
    }

    fn status_ui(&self, ui: &mut egui::Ui, commands: &mut Vec<TrainCommand>) {
        match &self.status {
            RunStatus::Idle => {
                ui.label("Ready.");
            }
            RunStatus::Running => {
                ui.spinner();
                ui.label("Training…");
            }
            RunStatus::Paused => {
                ui.label("Paused.");
            }
            RunStatus::Stopping => {
                ui.spinner();
                ui.label("Stopping after this iteration…");
            }
            RunStatus::Finished(s) => {
                let eer = s
                    .eval_eer
                    .map_or_else(String::new, |e| format!(", eval EER {:.2} %", e * 100.0));
                ui.colored_label(
                    theme::OK,
                    format!("Finished ({}): {} iterations{eer}.", s.reason, s.num_steps),
                );
            }
            RunStatus::Stopped => {
                ui.label("Stopped at its last checkpoint.");
                if let Some(dir) = &self.progress.run_dir {
                    if ui.button("⟳ Continue this run").clicked() {
                        commands.push(TrainCommand::ContinueRun(dir.clone()));
                    }
                }
            }
            RunStatus::Failed(message) => {
                ui.colored_label(theme::ERROR, format!("Run failed: {message}"));
            }
        }
    }

    fn plots_ui(&mut self, ui: &mut egui::Ui) {
        let link = egui::Id::unique("train-plots-link");
        let overlays: Vec<(String, Color32, &RunCurves)> = self
            .runs
            .iter()
            .filter(|r| r.selected)
            .filter_map(|r| r.curves.as_ref().map(|c| (r.name.clone(), c)))
            .enumerate()
            .map(|(i, (name, c))| (name, theme::OVERLAY[i % theme::OVERLAY.len()], c))
            .collect();
        let live = &self.live;
        let over =
            |pick: fn(&RunCurves) -> &Series, what: &str| overlay_curves(&overlays, pick, what);
        let width = ui.available_width();
        let half = ((width - ui.spacing().item_spacing.x) / 2.0).max(theme::MIN_PLOT_WIDTH);
        ui.horizontal(|ui| {
            let mut curves = vec![
                Curve::line("loss (original)", &live.loss_orig, theme::ORIG),
                Curve::line("loss (augmented)", &live.loss_aug, theme::AUG),
                Curve::line("loss (combined)", &live.loss_combined, theme::COMBINED),
            ];
            curves.extend(over(|c| &c.loss_combined, "loss"));
            curve_plot(ui, "Training loss", link, half, &curves, PlotExtras::None);
            let mut curves = vec![
                Curve::line("gradient cosine", &live.grad_cos, theme::COS),
                Curve::points("conflict (cos < 0)", &live.conflicts, theme::CONFLICT),
            ];
            curves.extend(over(|c| &c.grad_cos, "cosine"));
            curve_plot(
                ui,
                "Gradient cosine",
                link,
                half,
                &curves,
                PlotExtras::ZeroLine,
            );
        });
        ui.horizontal(|ui| {
            let mut curves = vec![
                Curve::line(
                    format!("running ({} it.)", CONFLICT_WINDOW),
                    &live.conflict_frac_window,
                    theme::CONFLICT,
                ),
                Curve::line("this epoch so far", &live.conflict_frac_epoch, theme::COS),
                Curve::points("per epoch", &live.epoch_conflict_frac, theme::COMBINED),
            ];
            curves.extend(over(|c| &c.conflict_frac_window, "running"));
            curve_plot(
                ui,
                "Conflict fraction",
                link,
                half,
                &curves,
                PlotExtras::UnitRange,
            );
            let mut curves = vec![
                Curve::line("|g| original", &live.grad_norm_orig, theme::ORIG),
                Curve::line("|g| augmented", &live.grad_norm_aug, theme::AUG),
            ];
            curves.extend(over(|c| &c.grad_norm_orig, "|g| orig"));
            curves.extend(over(|c| &c.grad_norm_aug, "|g| aug"));
            curve_plot(ui, "Gradient norm", link, half, &curves, PlotExtras::None);
        });
        ui.horizontal(|ui| {
            let mut curves = vec![
                Curve::line("dev loss", &live.dev_loss, theme::DEV).with_markers(),
                Curve::line("train loss (epoch mean)", &live.train_loss, theme::COMBINED)
                    .with_markers(),
            ];
            curves.extend(over(|c| &c.dev_loss, "dev loss"));
            curve_plot(ui, "Loss per epoch", link, half, &curves, PlotExtras::None);
            let mut curves =
                vec![Curve::line("dev EER (%)", &live.dev_eer, theme::DEV).with_markers()];
            for c in &mut curves {
                c.scale = 100.0;
            }
            let mut extra = over(|c| &c.dev_eer, "dev EER (%)");
            for c in &mut extra {
                c.scale = 100.0;
            }
            curves.extend(extra);
            curve_plot(ui, "Dev EER (%)", link, half, &curves, PlotExtras::None);
        });
        if self.live.pairs.paths.len() >= 2 {
            pairs_ui(ui, &self.live.pairs);
        }
        ui.strong("Per-layer gradient cosine (red: the paths disagree)");
        let rows = live.layers.num_layers().max(1) as f32;
        let height = (rows * theme::HEATMAP_ROW_HEIGHT)
            .clamp(theme::HEATMAP_MIN_HEIGHT, theme::HEATMAP_MAX_HEIGHT);
        self.heatmap.ui(ui, &self.live.layers, link, height);
    }
}

/// The K×K matrix of pairwise gradient cosines (mean of the last [`CONFLICT_WINDOW`]
/// iterations, red where two paths pull apart) and, per pair, its conflict fractions.
fn pairs_ui(ui: &mut egui::Ui, pairs: &PairCurves) {
    ui.strong(format!(
        "Pairwise gradient cosine (mean of the last {CONFLICT_WINDOW} it.; red: conflict)"
    ));
    ui.horizontal_top(|ui| {
        egui::Grid::new("pair-cos-matrix")
            .spacing([2.0, 2.0])
            .show(ui, |ui| {
                ui.add_sized([theme::PAIR_LABEL_WIDTH, 18.0], egui::Label::new(""));
                for name in &pairs.paths {
                    ui.add_sized([theme::PAIR_CELL, 18.0], egui::Label::new(name).truncate());
                }
                ui.end_row();
                for a in &pairs.paths {
                    ui.add_sized(
                        [theme::PAIR_LABEL_WIDTH, theme::PAIR_CELL],
                        egui::Label::new(a).truncate(),
                    );
                    for b in &pairs.paths {
                        let (rect, response) = ui.allocate_exact_size(
                            egui::vec2(theme::PAIR_CELL, theme::PAIR_CELL),
                            egui::Sense::hover(),
                        );
                        let (cos, text) = if a == b {
                            (1.0, "1".to_string())
                        } else if let Some(t) = pairs.track(a, b) {
                            let m = t.recent_mean();
                            (m, format!("{m:+.2}"))
                        } else {
                            (0.0, "–".to_string())
                        };
                        let fill = heatmap::diverging(cos as f32);
                        ui.painter().rect_filled(rect, 2.0, fill);
                        let ink = if cos.abs() > 0.6 {
                            Color32::WHITE
                        } else {
                            Color32::BLACK
                        };
                        ui.painter().text(
                            rect.center(),
                            egui::Align2::CENTER_CENTER,
                            text,
                            egui::FontId::proportional(13.0),
                            ink,
                        );
                        if let Some(t) = (a != b).then(|| pairs.track(a, b)).flatten() {
                            response.on_hover_text(format!(
                                "{a} vs {b}: latest {:+.3}, conflicts {:.0} % of the last {} it., \
                                 {:.0} % of the run",
                                t.latest,
                                100.0 * t.recent_conflict_frac(),
                                CONFLICT_WINDOW,
                                100.0 * t.run_conflict_frac()
                            ));
                        }
                    }
                    ui.end_row();
                }
            });
        ui.add_space(12.0);
        egui::Grid::new("pair-conflicts")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                for head in [
                    "pair",
                    "latest cos",
                    "mean cos",
                    "conflict (recent)",
                    "conflict (run)",
                ] {
                    ui.strong(head);
                }
                ui.end_row();
                for (i, a) in pairs.paths.iter().enumerate() {
                    for b in &pairs.paths[i + 1..] {
                        let Some(t) = pairs.track(a, b) else {
                            continue;
                        };
                        ui.label(format!("{a} | {b}"));
                        let colour = if t.latest < 0.0 {
                            theme::CONFLICT
                        } else {
                            theme::OK
                        };
                        ui.colored_label(colour, format!("{:+.3}", t.latest));
                        ui.label(format!("{:+.3}", t.recent_mean()));
                        ui.label(format!("{:.0} %", 100.0 * t.recent_conflict_frac()));
                        ui.label(format!("{:.0} %", 100.0 * t.run_conflict_frac()));
                        ui.end_row();
                    }
                }
            });
    });
}

/// The curve `pick` of every overlaid run, named after the run.
fn overlay_curves<'a>(
    overlays: &[(String, Color32, &'a RunCurves)],
    pick: fn(&RunCurves) -> &Series,
    what: &str,
) -> Vec<Curve<'a>> {
    overlays
        .iter()
        .map(|(name, color, c)| Curve::overlay(format!("{name}: {what}"), pick(c), *color))
        .collect()
}

/// Extra items of a curve plot.
#[derive(Clone, Copy, PartialEq)]
enum PlotExtras {
    None,
    /// A line at y = 0 (the cosine's sign change).
    ZeroLine,
    /// y from 0 to 1.
    UnitRange,
}

/// One series in a plot.
struct Curve<'s> {
    name: String,
    series: &'s Series,
    color: Color32,
    points: bool,
    markers: bool,
    dashed: bool,
    scale: f64,
}

impl<'s> Curve<'s> {
    fn line(name: impl Into<String>, series: &'s Series, color: Color32) -> Self {
        Self {
            name: name.into(),
            series,
            color,
            points: false,
            markers: false,
            dashed: false,
            scale: 1.0,
        }
    }

    fn points(name: impl Into<String>, series: &'s Series, color: Color32) -> Self {
        Self {
            points: true,
            ..Self::line(name, series, color)
        }
    }

    fn overlay(name: String, series: &'s Series, color: Color32) -> Self {
        Self {
            dashed: true,
            ..Self::line(name, series, color)
        }
    }

    fn with_markers(mut self) -> Self {
        self.markers = true;
        self
    }
}

/// A plot of `curves` on the shared iteration axis, decimated to the visible range.
fn curve_plot(
    ui: &mut egui::Ui,
    title: &str,
    link: egui::Id,
    width: f32,
    curves: &[Curve<'_>],
    extras: PlotExtras,
) {
    ui.vertical(|ui| {
        ui.set_width(width);
        ui.label(title);
        let mut plot = Plot::new(title)
            .height(theme::PLOT_HEIGHT)
            .width(width)
            .link_axis(link, [true, false])
            .link_cursor(link, [true, false])
            .legend(Legend::default())
            .y_axis_min_width(theme::AXIS_WIDTH)
            .label_formatter(|hover| {
                let (name, p) = match hover {
                    egui_plot::HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => (*plot_name, position),
                    egui_plot::HoverPosition::Elsewhere { position } => ("", position),
                };
                Some(if name.is_empty() {
                    format!("iteration {:.0}\n{:.5}", p.x, p.y)
                } else {
                    format!("{name}\niteration {:.0}\n{:.5}", p.x, p.y)
                })
            });
        if extras == PlotExtras::UnitRange {
            plot = plot.include_y(0.0).include_y(1.0);
        }
        plot.show(ui, |pui| {
            let bounds = pui.plot_bounds();
            let auto_x = pui.auto_bounds().x;
            // One min/max pair per two pixels: finer columns cost tessellation without showing more.
            let columns = (pui.transform().frame().width() / 2.0).max(1.0) as usize;
            if extras == PlotExtras::ZeroLine {
                pui.hline(
                    HLine::new("cos = 0", 0.0)
                        .color(theme::ZERO_LINE)
                        .style(LineStyle::dashed_dense()),
                );
            }
            for c in curves {
                if c.series.is_empty() {
                    continue;
                }
                // While the x axis follows the data, draw all of it; once the user zooms or
                // pans, only the visible range.
                let (x0, x1) = if auto_x {
                    let xs = c.series.xs();
                    (xs[0], xs[xs.len() - 1])
                } else {
                    (bounds.min()[0], bounds.max()[0])
                };
                let mut pts = Vec::with_capacity(2 * columns + 4);
                c.series.decimate(x0, x1, columns, &mut pts);
                if c.scale != 1.0 {
                    for p in &mut pts {
                        p.y *= c.scale;
                    }
                }
                if c.points {
                    pui.points(
                        Points::new(c.name.clone(), PlotPoints::Owned(pts))
                            .color(c.color)
                            .shape(MarkerShape::Circle)
                            .filled(true)
                            .radius(theme::POINT_RADIUS),
                    );
                } else {
                    if c.markers {
                        pui.points(
                            Points::new(c.name.clone(), PlotPoints::Owned(pts.clone()))
                                .color(c.color)
                                .filled(true)
                                .radius(theme::MARKER_RADIUS),
                        );
                    }
                    let mut line = Line::new(c.name.clone(), PlotPoints::Owned(pts)).color(c.color);
                    if c.dashed {
                        line = line
                            .style(LineStyle::dashed_loose())
                            .width(theme::OVERLAY_LINE_WIDTH);
                    }
                    pui.line(line);
                }
            }
        });
    });
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(12.4), "12s");
        assert_eq!(format_duration(185.0), "3m 05s");
        assert_eq!(format_duration(3720.0), "1h 02m");
        assert_eq!(format_duration(f64::NAN), "–");
    }
}
