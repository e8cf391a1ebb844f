//! The detect view's calibration: the calibration file chosen (empty: the run's own
//! `calibration.json` when the run's final model is loaded), the prior the user sets, and the
//! clip's calibrated LLR and posterior P(bona fide | clip) with where the calibration came from.
//! The verdict above it stays on the raw logit and its threshold.

use super::{DetectCommand, DetectView};
use crate::inference::CalibrationRequest;
use crate::metrics::calibration::posterior_bonafide;

/// Smallest and largest prior the view accepts (the posterior is 0 or 1 at the ends).
const PRIOR_RANGE: std::ops::RangeInclusive<f64> = 0.001..=0.999;

impl DetectView {
    /// The calibration the settings ask for.
    pub(super) fn calibration_request(&self) -> CalibrationRequest {
        let path = self.settings.calibration_path.trim();
        if path.is_empty() {
            CalibrationRequest::RunOwn
        } else {
            CalibrationRequest::File(path.into())
        }
    }

    /// The current clip's calibrated LLR and P(bona fide | clip) at the prior set, when a
    /// calibration is loaded and the clip is scored.
    pub fn calibrated(&self) -> Option<(f64, f64)> {
        let cal = self.model.as_ref()?.calibration.as_ref()?;
        let llr = cal.calibration.llr(self.score()?);
        Some((llr, posterior_bonafide(llr, self.settings.prior)))
    }

    /// Controls in the model panel: the calibration file and the prior.
    pub(super) fn calibration_controls_ui(
        &mut self,
        ui: &mut egui::Ui,
        commands: &mut Vec<DetectCommand>,
    ) {
        ui.horizontal(|ui| {
            let label = ui.label("Calibration:");
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.calibration_path)
                    .hint_text("the run's own"),
            )
            .labelled_by(label.id)
            .on_hover_text(
                "a calibration file from `dpda calibrate`; empty: the run's calibration.json \
                 when its final model is loaded",
            );
            if ui
                .add_enabled(!self.loading_model, egui::Button::new("Apply"))
                .clicked()
            {
                commands.push(DetectCommand::LoadModel);
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Prior P(bona fide):");
            ui.add(
                egui::DragValue::new(&mut self.settings.prior)
                    .range(PRIOR_RANGE)
                    .speed(0.005)
                    .max_decimals(3),
            )
            .labelled_by(label.id);
        });
    }

    /// The clip's LLR and posterior, and where the calibration came from.
    pub(super) fn calibrated_score_ui(&self, ui: &mut egui::Ui) {
        let Some(model) = &self.model else { return };
        let Some(cal) = &model.calibration else {
            ui.label(
                "uncalibrated: raw logit (no calibration for this model; fit one with dpda \
                 calibrate, or train a run, which stores its own)",
            );
            return;
        };
        if let Some((llr, posterior)) = self.calibrated() {
            ui.label(format!(
                "LLR {llr:+.3}   P(bona fide | clip) = {posterior:.3} at prior {:.3}",
                self.settings.prior
            ));
        }
        ui.small(format!(
            "calibration {} ({}): {}",
            cal.path.display(),
            cal.origin,
            cal.calibration.describe()
        ));
        if let Some(why) = &cal.mismatch {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("this calibration was {why}: its LLRs may be wrong here"),
            );
        }
    }
}
