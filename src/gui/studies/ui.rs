//! The studies view's drawing: the study controls with the runs of every condition, the
//! sortable comparison table, the EER-with-interval plots and the per-epoch curves. It only
//! draws and returns [`StudiesCommand`]s (the two path fields are edited in place).

use std::path::PathBuf;

use egui::Color32;
use egui_plot::{
    ColorConflictHandling, FilledArea, GridMark, Legend, Line, MarkerShape, Plot, PlotPoints,
    Points,
};

use super::super::theme;
use super::state::{RunnerStatus, SortKey};
use super::{StudiesCommand, StudiesView};
use crate::study::results::Curve;
use crate::study::stats::Summary;
use crate::study::{ConditionResults, RunStatus, StudyResults};

/// The colour of the condition at `index` (study order).
fn condition_color(index: usize) -> Color32 {
    theme::CONDITIONS[index % theme::CONDITIONS.len()]
}

/// An EER (fraction) as a percentage.
fn pct(v: f64) -> String {
    format!("{:.2}", v * 100.0)
}

/// "12.34 ± 0.56" in percent ("12.34" with one seed).
fn mean_sd_pct(s: &Summary) -> String {
    match s.std {
        Some(sd) => format!("{} ± {}", pct(s.mean), pct(sd)),
        None => pct(s.mean),
    }
}

/// "[11.02, 13.66]" in percent.
fn interval_pct(ci: Option<[f64; 2]>) -> String {
    ci.map_or_else(
        || "–".into(),
        |[lo, hi]| format!("[{}, {}]", pct(lo), pct(hi)),
    )
}

/// "0.12 ± 0.03" (plain numbers).
fn mean_sd(s: Option<&Summary>, decimals: usize) -> String {
    match s {
        None => "–".into(),
        Some(s) => match s.std {
            Some(sd) => format!("{:.decimals$} ± {:.decimals$}", s.mean, sd),
            None => format!("{:.decimals$}", s.mean),
        },
    }
}

fn status_color(status: RunStatus) -> Color32 {
    match status {
        RunStatus::Finished => theme::OK,
        RunStatus::Failed => theme::ERROR,
        RunStatus::Running => theme::ORIG,
        RunStatus::Interrupted => theme::AUG,
        RunStatus::Pending => theme::ZERO_LINE,
    }
}

impl StudiesView {
    /// Draws the view; returns what the user asked for, for [`StudiesView::apply`].
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Vec<StudiesCommand> {
        let mut commands = Vec::new();
        egui::Panel::left("studies-panel")
            .resizable(true)
            .default_size(theme::STUDIES_PANEL_WIDTH)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.controls_ui(ui, &mut commands);
                    ui.separator();
                    self.runs_ui(ui, &mut commands);
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| match &self.results {
                None => {
                    ui.weak(
                        "Open a study folder (the one holding study.json), drop it here, or pick \
                         a study file and start it.",
                    );
                }
                Some(results) => {
                    ui.heading(format!("Study {}", results.name));
                    table_ui(
                        ui,
                        results,
                        &self.table_order(),
                        self.sort.as_ref(),
                        &mut commands,
                    );
                    ui.separator();
                    eer_plots_ui(ui, results);
                    ui.separator();
                    curves_ui(ui, results);
                    if !results.notes.is_empty() {
                        ui.separator();
                        for note in &results.notes {
                            ui.weak(note);
                        }
                    }
                }
            });
        });
        commands
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<StudiesCommand>) {
        ui.heading("Study");
        let running = self.is_running();
        ui.horizontal(|ui| {
            let label = ui.label("Study folder");
            ui.add(
                egui::TextEdit::singleline(&mut self.folder_text)
                    .desired_width(theme::PATH_FIELD_WIDTH),
            )
            .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            let path = self.folder_text.trim();
            if ui
                .add_enabled(!running && !path.is_empty(), egui::Button::new("Open"))
                .on_hover_text("read the folder's study.json")
                .clicked()
            {
                commands.push(StudiesCommand::OpenFolder(PathBuf::from(path)));
            }
            if ui
                .add_enabled(!running, egui::Button::new("Browse folder…"))
                .clicked()
            {
                commands.push(StudiesCommand::BrowseFolder);
            }
            if self.is_loading() {
                ui.spinner();
            }
        });
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label("Study file");
            ui.add_enabled(
                !running,
                egui::TextEdit::singleline(&mut self.study_file_text)
                    .desired_width(theme::PATH_FIELD_WIDTH),
            )
            .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!running, egui::Button::new("Browse file…"))
                .clicked()
            {
                commands.push(StudiesCommand::BrowseStudyFile);
            }
            let path = self.study_file_text.trim();
            if ui
                .add_enabled(!running && !path.is_empty(), egui::Button::new("▶ Start"))
                .on_hover_text(
                    "train every condition × seed not finished yet (a stopped study continues)",
                )
                .clicked()
            {
                commands.push(StudiesCommand::Start(PathBuf::from(path)));
            }
            if ui
                .add_enabled(
                    self.status == RunnerStatus::Running,
                    egui::Button::new("⏹ Stop"),
                )
                .on_hover_text(
                    "no further run starts; the runs training now stop after their current step \
                     and save a checkpoint. Start again to continue.",
                )
                .clicked()
            {
                commands.push(StudiesCommand::Stop);
            }
        });
        match &self.status {
            RunnerStatus::Idle => {}
            RunnerStatus::Starting => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading the study file…");
                });
            }
            RunnerStatus::Running => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Running the study…");
                });
            }
            RunnerStatus::Stopping => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Stopping: the running trainings save a checkpoint…");
                });
            }
            RunnerStatus::Finished { failed: 0 } => {
                ui.colored_label(theme::OK, "Study finished.");
            }
            RunnerStatus::Finished { failed } => {
                ui.colored_label(
                    theme::ERROR,
                    format!("Study ended; {failed} run(s) failed (start again to retry them)."),
                );
            }
            RunnerStatus::Stopped => {
                ui.label("Stopped; start the study again to continue it.");
            }
            RunnerStatus::Failed(message) => {
                ui.colored_label(theme::ERROR, format!("Study failed: {message}"));
            }
        }
        if let Some(n) = &self.notice {
            let color = if n.is_error { theme::ERROR } else { theme::OK };
            ui.colored_label(color, &n.text);
        }
    }

    fn runs_ui(&self, ui: &mut egui::Ui, commands: &mut Vec<StudiesCommand>) {
        let (Some(results), Some(folder)) = (&self.results, &self.folder) else {
            return;
        };
        ui.strong("Runs");
        ui.weak("Click a run to overlay it in the Train view.");
        for (ci, c) in results.conditions.iter().enumerate() {
            let done = c
                .runs
                .iter()
                .filter(|r| r.status == RunStatus::Finished)
                .count();
            let title =
                egui::RichText::new(format!("{} ({done}/{} finished)", c.name, c.runs.len()))
                    .color(condition_color(ci));
            egui::CollapsingHeader::new(title)
                .id_salt(("study-runs", &c.name))
                .default_open(true)
                .show(ui, |ui| {
                    for run in &c.runs {
                        ui.horizontal(|ui| {
                            let started = run.status != RunStatus::Pending;
                            let button = ui
                                .add_enabled(
                                    started,
                                    egui::Button::new(format!("seed {}", run.seed)),
                                )
                                .on_hover_text(run.run_dir.display().to_string());
                            if button.clicked() {
                                commands.push(StudiesCommand::OverlayRun {
                                    dir: folder.join(&run.run_dir),
                                    name: format!("{}/seed-{}", c.name, run.seed),
                                });
                            }
                            ui.colored_label(status_color(run.status), run.status.as_str());
                            for (set, eer) in &run.eer {
                                ui.label(format!("{set} {} %", pct(*eer)));
                            }
                            if !run.errors.is_empty() {
                                ui.colored_label(theme::ERROR, "⚠")
                                    .on_hover_text(run.errors.join("\n"));
                            }
                        });
                    }
                });
        }
    }
}

/// The test sets of a study, in order.
fn test_sets(results: &StudyResults) -> Vec<&str> {
    results.test_sets.keys().map(String::as_str).collect()
}

/// A header that sorts the table by `key` when clicked; the sorted column shows its direction.
fn header_ui(
    ui: &mut egui::Ui,
    text: &str,
    key: SortKey,
    sort: Option<&super::Sort>,
    commands: &mut Vec<StudiesCommand>,
) {
    let text = match sort {
        Some(s) if s.key == key => format!("{text} {}", if s.descending { "⬇" } else { "⬆" }),
        _ => text.to_string(),
    };
    let button = egui::Button::new(egui::RichText::new(text).strong()).frame(false);
    if ui
        .add(button)
        .on_hover_text("sort (again: reverse)")
        .clicked()
    {
        commands.push(StudiesCommand::SortBy(key));
    }
}

/// The comparison table: one row per condition in `order`.
fn table_ui(
    ui: &mut egui::Ui,
    results: &StudyResults,
    order: &[usize],
    sort: Option<&super::Sort>,
    commands: &mut Vec<StudiesCommand>,
) {
    let sets = test_sets(results);
    egui::ScrollArea::horizontal()
        .id_salt("study-table-scroll")
        .show(ui, |ui| {
            egui::Grid::new("study-table")
                .striped(true)
                .spacing([14.0, 4.0])
                .show(ui, |ui| {
                    header_ui(ui, "Condition", SortKey::Name, sort, commands);
                    for set in &sets {
                        let s = set.to_string();
                        header_ui(
                            ui,
                            &format!("{set} EER %"),
                            SortKey::Eer(s.clone()),
                            sort,
                            commands,
                        );
                        ui.strong(format!("{set} 95 % CI"));
                        header_ui(
                            ui,
                            &format!("{set} Δ vs {}", results.baseline),
                            SortKey::Delta(s.clone()),
                            sort,
                            commands,
                        );
                        header_ui(ui, &format!("{set} p"), SortKey::PValue(s), sort, commands);
                    }
                    header_ui(
                        ui,
                        "conflict fraction",
                        SortKey::ConflictFrac,
                        sort,
                        commands,
                    );
                    header_ui(ui, "epochs to best", SortKey::EpochsToBest, sort, commands);
                    ui.strong("seeds");
                    ui.end_row();
                    for &i in order {
                        let Some(c) = results.conditions.get(i) else {
                            continue;
                        };
                        row_ui(ui, results, c, i, &sets);
                        ui.end_row();
                    }
                });
        });
    ui.weak(
        "EER mean ± sd over seeds and its 95 % t interval; Δ: mean paired difference from the \
         baseline in points with its 95 % interval (green/red: outside noise) and the paired \
         t-test's p.",
    );
}

fn row_ui(
    ui: &mut egui::Ui,
    results: &StudyResults,
    c: &ConditionResults,
    index: usize,
    sets: &[&str],
) {
    ui.colored_label(condition_color(index), &c.name);
    for set in sets {
        match c.eer.get(*set) {
            Some(s) => {
                ui.label(mean_sd_pct(s));
                ui.label(interval_pct(s.ci95));
            }
            None => {
                ui.label("–");
                ui.label("–");
            }
        }
        let comparison = results
            .comparisons
            .iter()
            .find(|x| x.condition == c.name && &x.test_set == set);
        match comparison {
            _ if c.name == results.baseline => {
                ui.weak("baseline");
                ui.label("");
            }
            None => {
                ui.label("–");
                ui.label("–");
            }
            Some(x) => {
                let d = &x.test;
                let text = format!("{:+.2} {}", d.mean_diff * 100.0, interval_pct(d.ci95));
                match x.within_noise {
                    Some(false) => {
                        // Lower EER is better.
                        let color = if d.mean_diff < 0.0 {
                            theme::OK
                        } else {
                            theme::ERROR
                        };
                        ui.colored_label(color, text);
                    }
                    _ => {
                        ui.label(text);
                    }
                }
                ui.label(d.p_value.map_or_else(|| "–".into(), |p| format!("{p:.3}")));
            }
        }
    }
    ui.label(mean_sd(c.conflict_frac.as_ref(), 3));
    ui.label(mean_sd(c.epochs_to_best.as_ref(), 1));
    let finished = c
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Finished)
        .count();
    ui.label(format!("{finished}/{}", c.runs.len()));
}

/// Grid marks at the conditions' positions (0, 1, …) only, so that the axis names them.
fn condition_marks(n: usize) -> impl Fn(egui_plot::GridInput) -> Vec<GridMark> {
    move |_| {
        (0..n)
            .map(|i| GridMark {
                value: i as f64,
                step_size: 1.0,
            })
            .collect()
    }
}

/// Per test set a plot: each condition's mean EER with its 95 % interval, and its seeds.
fn eer_plots_ui(ui: &mut egui::Ui, results: &StudyResults) {
    ui.strong("EER per condition (%): mean with 95 % interval, seeds as dots");
    let sets = test_sets(results);
    let n = results.conditions.len();
    let width = ((ui.available_width() - ui.spacing().item_spacing.x * sets.len() as f32)
        / sets.len().max(1) as f32)
        .max(theme::MIN_PLOT_WIDTH);
    ui.horizontal_wrapped(|ui| {
        for set in sets {
            ui.vertical(|ui| {
                ui.set_width(width);
                ui.label(set);
                let names: Vec<String> =
                    results.conditions.iter().map(|c| c.name.clone()).collect();
                Plot::new(("study-eer", set))
                    .height(theme::STUDY_PLOT_HEIGHT)
                    .width(width)
                    .y_axis_min_width(theme::AXIS_WIDTH)
                    .include_x(-0.5)
                    .include_x(n as f64 - 0.5)
                    .include_y(0.0)
                    .x_grid_spacer(condition_marks(n))
                    .x_axis_formatter(move |mark, _| {
                        let i = mark.value.round();
                        if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                            names.get(i as usize).cloned().unwrap_or_default()
                        } else {
                            String::new()
                        }
                    })
                    .show(ui, |pui| {
                        for (i, c) in results.conditions.iter().enumerate() {
                            let color = condition_color(i);
                            let x = i as f64;
                            let seeds: Vec<[f64; 2]> = c
                                .runs
                                .iter()
                                .filter(|r| r.status == RunStatus::Finished)
                                .filter_map(|r| {
                                    r.eer
                                        .get(set)
                                        .map(|e| [x + theme::SEED_DOT_OFFSET, e * 100.0])
                                })
                                .collect();
                            pui.points(
                                Points::new(c.name.clone(), PlotPoints::from(seeds))
                                    .color(color)
                                    .filled(true)
                                    .radius(theme::SEED_DOT_RADIUS),
                            );
                            let Some(s) = c.eer.get(set) else {
                                continue;
                            };
                            if let Some([lo, hi]) = s.ci95 {
                                let (lo, hi) = (lo * 100.0, hi * 100.0);
                                let w = theme::ERROR_CAP_HALF_WIDTH;
                                for segment in [
                                    [[x, lo], [x, hi]],
                                    [[x - w, lo], [x + w, lo]],
                                    [[x - w, hi], [x + w, hi]],
                                ] {
                                    pui.line(
                                        Line::new(
                                            c.name.clone(),
                                            PlotPoints::from(segment.to_vec()),
                                        )
                                        .color(color)
                                        .width(theme::ERROR_BAR_WIDTH),
                                    );
                                }
                            }
                            pui.points(
                                Points::new(
                                    c.name.clone(),
                                    PlotPoints::from(vec![[x, s.mean * 100.0]]),
                                )
                                .color(color)
                                .shape(MarkerShape::Diamond)
                                .filled(true)
                                .radius(theme::MEAN_MARKER_RADIUS),
                            );
                        }
                    });
            });
        }
    });
}

/// The mean per epoch of a condition, and its ±1 sd band where there is one (1-based epochs).
fn curve_parts(curve: &Curve, scale: f64) -> (Vec<[f64; 2]>, [Vec<f64>; 3]) {
    let mut mean = Vec::new();
    let mut band: [Vec<f64>; 3] = Default::default();
    for (i, m) in curve.mean.iter().enumerate() {
        let Some(m) = m else { continue };
        let x = i as f64 + 1.0;
        mean.push([x, m * scale]);
        if let Some(Some(sd)) = curve.std.get(i) {
            band[0].push(x);
            band[1].push((m - sd) * scale);
            band[2].push((m + sd) * scale);
        }
    }
    (mean, band)
}

/// Dev EER and conflict fraction per epoch: mean over seeds per condition with a ±1 sd band.
fn curves_ui(ui: &mut egui::Ui, results: &StudyResults) {
    ui.strong("Per epoch, mean over seeds with ±1 sd");
    let width =
        ((ui.available_width() - ui.spacing().item_spacing.x) / 2.0).max(theme::MIN_PLOT_WIDTH);
    let has_conflict = results
        .conditions
        .iter()
        .any(|c| c.curves.conflict_frac.mean.iter().any(Option::is_some));
    ui.horizontal_wrapped(|ui| {
        curve_plot_ui(ui, results, "Dev EER (%)", width, 100.0, false, |c| {
            &c.curves.dev_eer
        });
        if has_conflict {
            curve_plot_ui(ui, results, "Conflict fraction", width, 1.0, true, |c| {
                &c.curves.conflict_frac
            });
        } else {
            ui.weak("No conflict fractions (runs without two paths).");
        }
    });
}

fn curve_plot_ui(
    ui: &mut egui::Ui,
    results: &StudyResults,
    title: &str,
    width: f32,
    scale: f64,
    unit_range: bool,
    pick: fn(&ConditionResults) -> &Curve,
) {
    ui.vertical(|ui| {
        ui.set_width(width);
        ui.label(title);
        let mut plot = Plot::new(("study-curve", title))
            .height(theme::STUDY_PLOT_HEIGHT)
            .width(width)
            .y_axis_min_width(theme::AXIS_WIDTH)
            .x_axis_label("epoch")
            // The mean line's colour names the condition (its band is a paler one), in study order.
            .legend(
                Legend::default()
                    .color_conflict_handling(ColorConflictHandling::PickFirst)
                    .follow_insertion_order(true),
            );
        if unit_range {
            plot = plot.include_y(0.0).include_y(1.0);
        }
        plot.show(ui, |pui| {
            for (i, c) in results.conditions.iter().enumerate() {
                let color = condition_color(i);
                let (mean, [xs, lo, hi]) = curve_parts(pick(c), scale);
                // The line first: the legend takes its colour from a name's first item.
                if !mean.is_empty() {
                    pui.line(Line::new(c.name.clone(), PlotPoints::from(mean)).color(color));
                }
                if !xs.is_empty() {
                    pui.add(
                        FilledArea::new(c.name.clone(), &xs, &lo, &hi)
                            .fill_color(color.gamma_multiply(theme::BAND_OPACITY)),
                    );
                }
            }
        });
    });
}
