//! The workbench window: a tab bar over three views, persisted between launches.

use super::augment_view::AugmentView;
use super::detect_view::DetectView;
use super::train_view::TrainView;
use super::Shared;

/// The three views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Train,
    Augment,
    Detect,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::Train, Tab::Augment, Tab::Detect];

    fn label(self) -> &'static str {
        match self {
            Tab::Train => "Train",
            Tab::Augment => "Augment",
            Tab::Detect => "Detect",
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
}

impl Workbench {
    /// Builds the app, restoring persisted settings when a store is given.
    pub fn new(storage: Option<&dyn eframe::Storage>) -> Self {
        Self {
            tab: Tab::Train,
            shared: Shared::default(),
            train: TrainView::load(storage),
            augment: AugmentView::load(storage),
            detect: DetectView::load(storage),
        }
    }

    /// Draws one frame into `ui` (also what UI tests drive).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.train.logic(&ctx, &mut self.shared);
        self.augment.logic(&ctx, &mut self.shared);
        self.detect.logic(&ctx, &mut self.shared);
        ui.horizontal(|ui| {
            for tab in Tab::ALL {
                ui.selectable_value(&mut self.tab, tab, tab.label());
            }
        });
        ui.separator();
        match self.tab {
            Tab::Train => self.train.ui(ui, &mut self.shared),
            Tab::Augment => self.augment.ui(ui, &mut self.shared),
            Tab::Detect => self.detect.ui(ui, &mut self.shared),
        }
    }
}

impl eframe::App for Workbench {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.train.save(storage);
        self.augment.save(storage);
        self.detect.save(storage);
    }
}
