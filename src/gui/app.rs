//! The workbench window: a tab bar over five views, persisted between launches. The app owns
//! the views and what they share, runs every view's per-frame logic (also while the window is
//! hidden), draws the view on screen and applies the commands its `ui` returned, hands dropped
//! files to that view and saves settings through eframe.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::augment::AugmentView;
use super::detect::DetectView;
use super::studies::{StudiesCommand, StudiesView};
use super::sweep::SweepView;
use super::train::TrainView;
use super::Shared;

/// Key of the app's own settings in eframe's store.
const STORAGE_KEY: &str = "dpda.app";

/// The five views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    Train,
    Augment,
    Detect,
    Studies,
    Sweep,
}

impl Tab {
    const ALL: [Tab; 5] = [
        Tab::Train,
        Tab::Augment,
        Tab::Detect,
        Tab::Studies,
        Tab::Sweep,
    ];

    fn label(self) -> &'static str {
        match self {
            Tab::Train => "Train",
            Tab::Augment => "Augment",
            Tab::Detect => "Detect",
            Tab::Studies => "Studies",
            Tab::Sweep => "Sweep",
        }
    }

    /// The tab named `name` (`train`, `augment`, `detect`, `studies`, `sweep`; any case).
    pub fn from_name(name: &str) -> Option<Tab> {
        Tab::ALL
            .into_iter()
            .find(|t| t.label().eq_ignore_ascii_case(name.trim()))
    }
}

/// What the app keeps between launches besides the views' own settings.
#[derive(Serialize, Deserialize)]
#[serde(default)]
struct Persisted {
    tab: Tab,
    runs_dir: PathBuf,
}

impl Default for Persisted {
    fn default() -> Self {
        Self {
            tab: Tab::Train,
            runs_dir: Shared::default().runs_dir,
        }
    }
}

/// The app: views plus what they share.
pub struct Workbench {
    pub tab: Tab,
    pub shared: Shared,
    pub train: TrainView,
    pub augment: AugmentView,
    pub detect: DetectView,
    pub studies: StudiesView,
    pub sweep: SweepView,
}

impl Workbench {
    /// Builds the app, restoring persisted settings when a store is given.
    pub fn new(storage: Option<&dyn eframe::Storage>) -> Self {
        let persisted: Persisted = storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default();
        let shared = Shared {
            runs_dir: persisted.runs_dir,
            ..Shared::default()
        };
        Self {
            tab: persisted.tab,
            shared,
            train: TrainView::load(storage),
            augment: AugmentView::load(storage),
            detect: DetectView::load(storage),
            studies: StudiesView::load(storage),
            sweep: SweepView::load(storage),
        }
    }

    /// Per-frame work of every view (event draining, dialogs) and dropped files.
    pub fn logic(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for path in dropped {
            match self.tab {
                Tab::Train => self.train.open_file(path, &mut self.shared),
                Tab::Augment => self.augment.open_file(path, &mut self.shared),
                Tab::Detect => self.detect.open_file(path, &mut self.shared),
                Tab::Studies => self.studies.open_file(path, &mut self.shared),
                Tab::Sweep => self.sweep.open_file(path, &mut self.shared),
            }
        }
        self.train.logic(ctx, &mut self.shared);
        self.augment.logic(ctx, &mut self.shared);
        self.detect.logic(ctx, &mut self.shared);
        self.studies.logic(ctx, &mut self.shared);
        self.sweep.logic(ctx, &mut self.shared);
    }

    /// Draws one frame into `ui`.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("workbench-tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.strong("DPDA Workbench");
                ui.separator();
                for tab in Tab::ALL {
                    ui.selectable_value(&mut self.tab, tab, tab.label());
                }
            });
        });
        let ctx = ui.ctx().clone();
        egui::CentralPanel::default().show(ui, |ui| match self.tab {
            Tab::Train => {
                for cmd in self.train.ui(ui, &self.shared) {
                    self.train.apply(cmd, &ctx, &mut self.shared);
                }
            }
            Tab::Augment => {
                let commands = self.augment.ui(ui, &self.shared);
                self.augment.apply_all(commands, &mut self.shared);
            }
            Tab::Detect => {
                let commands = self.detect.ui(ui, &self.shared);
                self.detect.apply_all(commands, &mut self.shared);
            }
            Tab::Studies => {
                for cmd in self.studies.ui(ui) {
                    match cmd {
                        // A run of the study, overlaid where runs are plotted.
                        StudiesCommand::OverlayRun { dir, name } => {
                            self.train.overlay_run(dir, name, &ctx);
                            self.tab = Tab::Train;
                        }
                        other => self.studies.apply(other, &ctx),
                    }
                }
            }
            Tab::Sweep => {
                for cmd in self.sweep.ui(ui) {
                    self.sweep.apply(cmd, &ctx);
                }
            }
        });
    }

    /// [`Self::logic`] then [`Self::show`]: one whole frame (what UI tests and benchmarks drive).
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.logic(&ctx);
        self.show(ui);
    }

    /// Saves the app's and the views' settings.
    pub fn save_to(&self, storage: &mut dyn eframe::Storage) {
        let persisted = Persisted {
            tab: self.tab,
            runs_dir: self.shared.runs_dir.clone(),
        };
        eframe::set_value(storage, STORAGE_KEY, &persisted);
        self.train.save(storage);
        self.augment.save(storage);
        self.detect.save(storage);
        self.studies.save(storage);
        self.sweep.save(storage);
    }
}

impl eframe::App for Workbench {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        Workbench::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.save_to(storage);
    }
}
