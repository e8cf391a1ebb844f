//! The detect view's models folder panel: the entries of the models folder
//! ([`crate::inference::models`]) with their architecture, input length, stored threshold and calibration, each
//! with a button that loads it — a released detector in one click, a clip in the next.
//!
//! Describing an entry loads its weights, so the listing runs on a background task and the panel
//! shows the last listing until the new one arrives.

use std::path::PathBuf;

use super::super::tasks::Task;
use super::DetectCommand;
use crate::inference::models::{self, EntryKind, ModelEntry};

/// The listing's state.
#[derive(Default)]
pub(super) struct ModelsPanel {
    listing: Option<Task<Result<Vec<ModelEntry>, String>>>,
    entries: Vec<ModelEntry>,
    /// Why the folder could not be listed, or that it holds nothing.
    message: Option<String>,
    /// The folder of the last listing started.
    listed: Option<PathBuf>,
}

impl ModelsPanel {
    /// The folder a settings text names: the default (`$DPDA_MODELS_DIR`, else `models`) when
    /// empty.
    pub(super) fn folder(text: &str) -> PathBuf {
        let text = text.trim();
        if text.is_empty() {
            models::default_models_dir()
        } else {
            PathBuf::from(text)
        }
    }

    /// Whether a listing has been started since launch.
    pub(super) fn started(&self) -> bool {
        self.listed.is_some()
    }

    /// Whether a listing is running.
    pub(super) fn is_listing(&self) -> bool {
        self.listing.is_some()
    }

    /// The entries of the last listing.
    pub(super) fn entries(&self) -> &[ModelEntry] {
        &self.entries
    }

    /// List `dir` in the background (a running listing is left to finish unseen).
    pub(super) fn refresh(&mut self, ctx: Option<&egui::Context>, dir: PathBuf) {
        self.listed = Some(dir.clone());
        let job = move || {
            models::list_models(&dir).map_err(|e| match e {
                crate::inference::InferenceError::Io { path, source }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    format!(
                        "no models folder {} yet: create it and put released weights \
                         (AASIST-L.pth, AASIST.pth), checkpoints or run folders in it",
                        path.display()
                    )
                }
                other => other.to_string(),
            })
        };
        match Task::spawn(ctx, "dpda-models", job) {
            Ok(task) => self.listing = Some(task),
            Err(e) => self.message = Some(e),
        }
    }

    /// Takes the listing's result once it has arrived.
    pub(super) fn poll(&mut self) {
        let Some(answer) = self.listing.as_ref().and_then(Task::poll) else {
            return;
        };
        self.listing = None;
        match answer {
            Some(Ok(entries)) => {
                self.message = entries.is_empty().then(|| {
                    "no .pth, .pt or .safetensors file and no run folder in it".to_string()
                });
                self.entries = entries;
            }
            Some(Err(e)) => {
                self.entries.clear();
                self.message = Some(e);
            }
            None => self.message = Some("listing the models folder failed".into()),
        }
    }

    /// Draws the folder field and the list; pushes [`DetectCommand::ListModels`] and
    /// [`DetectCommand::UseModel`].
    pub(super) fn ui(
        &self,
        ui: &mut egui::Ui,
        folder_text: &mut String,
        commands: &mut Vec<DetectCommand>,
    ) {
        egui::CollapsingHeader::new("Models folder")
            .default_open(true)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    let label = ui.label("Folder:");
                    let hint = models::default_models_dir().display().to_string();
                    ui.add(egui::TextEdit::singleline(folder_text).hint_text(hint))
                        .labelled_by(label.id);
                    if ui
                        .add_enabled(!self.is_listing(), egui::Button::new("List"))
                        .clicked()
                    {
                        commands.push(DetectCommand::ListModels);
                    }
                    if self.is_listing() {
                        ui.spinner();
                    }
                });
                if let Some(m) = &self.message {
                    ui.weak(m);
                }
                egui::Grid::new("models folder")
                    .striped(true)
                    .num_columns(3)
                    .show(ui, |ui| {
                        for entry in &self.entries {
                            entry_row(ui, entry, commands);
                            ui.end_row();
                        }
                    });
            });
    }
}

/// One row: name, what it is, and a button that loads it.
fn entry_row(ui: &mut egui::Ui, entry: &ModelEntry, commands: &mut Vec<DetectCommand>) {
    let c = &entry.candidate;
    ui.label(&c.label)
        .on_hover_text(c.path.display().to_string());
    match &entry.info {
        Ok(info) => {
            let threshold = info.threshold.as_ref().map_or_else(
                || "no stored threshold".into(),
                |t| format!("threshold {:.3}", t.value),
            );
            let calibration = match &info.calibration {
                Some(c) => format!("calibrated ({})", c.origin),
                None => "uncalibrated".to_string(),
            };
            let hover = match &info.calibration {
                Some(c) => format!("{}\n{}", info.describe(), c.describe()),
                None => info.describe(),
            };
            ui.label(format!(
                "{} · {:.2} s input · {threshold} · {calibration}",
                info.name,
                info.num_samples as f64 / f64::from(crate::audio::TARGET_SAMPLE_RATE_HZ),
            ))
            .on_hover_text(hover);
            if ui
                .button("Use")
                .on_hover_text(format!("load this {}", c.kind.describe()))
                .clicked()
            {
                commands.push(DetectCommand::UseModel {
                    path: c.path.clone(),
                    kind: c.kind,
                });
            }
        }
        Err(e) => {
            ui.colored_label(ui.visuals().warn_fg_color, "does not load")
                .on_hover_text(e);
            ui.label("");
        }
    }
}

/// The checkpoint kind of the view for an entry kind.
pub(super) fn checkpoint_kind(kind: EntryKind) -> super::CheckpointKind {
    match kind {
        EntryKind::RunFolder => super::CheckpointKind::RunFolder,
        EntryKind::Safetensors => super::CheckpointKind::Safetensors,
        EntryKind::Pth => super::CheckpointKind::Pth,
    }
}
