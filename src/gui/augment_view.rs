//! The augment view.

use super::Shared;

/// The augment view's state.
#[derive(Default)]
pub struct AugmentView {}

impl AugmentView {
    /// Restores the view's settings from eframe's store (defaults when absent).
    pub fn load(_storage: Option<&dyn eframe::Storage>) -> Self {
        Self::default()
    }

    /// Saves the view's settings into eframe's store.
    pub fn save(&self, _storage: &mut dyn eframe::Storage) {}

    /// A file dropped on the window or opened while this view is shown.
    pub fn open_file(&mut self, _path: std::path::PathBuf, _shared: &mut Shared) {}

    /// Per-frame work that must happen even when the view is not shown.
    pub fn logic(&mut self, _ctx: &egui::Context, _shared: &mut Shared) {}

    /// Draws the view.
    pub fn ui(&mut self, ui: &mut egui::Ui, _shared: &mut Shared) {
        ui.heading("Augment");
    }
}
