//! The train view.

use super::Shared;

/// The train view's state.
#[derive(Default)]
pub struct TrainView {}

impl TrainView {
    /// Per-frame work that must happen even when the view is not shown.
    pub fn logic(&mut self, _ctx: &egui::Context, _shared: &mut Shared) {}

    /// Draws the view.
    pub fn ui(&mut self, ui: &mut egui::Ui, _shared: &mut Shared) {
        ui.heading("Train");
    }
}
