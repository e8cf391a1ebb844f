//! The clip-source panel the augment and detect views share: a typed path with "Open path", a
//! file dialog, the demo clips in `assets/`, and the decoding of the chosen clip in the
//! background. Dropped files reach it through the views' `open_file`.
//!
//! [`ClipSource::ui`] draws the panel and returns a [`ClipCommand`]; the view hands it back to
//! [`ClipSource::apply`] from its own `apply`, and polls [`ClipSource::poll`] every frame for
//! loaded clips and picked files.

use std::path::PathBuf;

use super::audio_widgets as widgets;
use super::tasks::{self, FileRequest, Task};
use crate::audio::Clip;

/// What the user asked the panel for.
#[derive(Clone, Debug, PartialEq)]
pub enum ClipCommand {
    /// Decode this file (a typed path or a demo clip).
    Open(PathBuf),
    /// Show a file dialog for an audio clip.
    Browse,
}

/// What the panel's background work produced.
pub enum ClipEvent {
    /// A clip was decoded (16 kHz mono), named by its file name or corpus ID.
    Loaded { name: String, clip: Clip },
    /// A file was picked in the dialog (the view decides what it is).
    Picked(PathBuf),
    /// Decoding failed.
    Failed(String),
}

/// The words that differ between the views.
pub struct ClipPanelText {
    /// Label of the path field.
    pub path_label: &'static str,
    /// The hint under the buttons.
    pub drop_hint: &'static str,
}

/// The panel's state: the clip being decoded, the open dialog and the demo clips.
pub struct ClipSource {
    loading: Option<Task<Result<(String, Clip), String>>>,
    dialog: Option<Task<Option<PathBuf>>>,
    /// The demo clips in `assets/`, listed once.
    assets: Vec<PathBuf>,
}

impl Default for ClipSource {
    fn default() -> Self {
        Self {
            loading: None,
            dialog: None,
            assets: widgets::asset_clips(),
        }
    }
}

impl ClipSource {
    /// Whether a clip is being decoded.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Whether the file dialog is open.
    pub fn is_browsing(&self) -> bool {
        self.dialog.is_some()
    }

    /// Draws the panel: heading, path field, "Open path", "Browse..." (when `can_browse` and no
    /// dialog is open), the drop hint and the demo clips.
    pub fn ui(
        &self,
        ui: &mut egui::Ui,
        path_text: &mut String,
        text: &ClipPanelText,
        can_browse: bool,
    ) -> Option<ClipCommand> {
        let mut command = None;
        ui.heading("Clip");
        ui.horizontal(|ui| {
            let label = ui.label(text.path_label);
            ui.text_edit_singleline(path_text).labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            if ui.button("Open path").clicked() && !path_text.trim().is_empty() {
                command = Some(ClipCommand::Open(PathBuf::from(path_text.trim())));
            }
            if ui
                .add_enabled(
                    can_browse && self.dialog.is_none(),
                    egui::Button::new("Browse..."),
                )
                .clicked()
            {
                command = Some(ClipCommand::Browse);
            }
        });
        ui.small(text.drop_hint);
        if !self.assets.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label("Demo clips:");
                for path in &self.assets {
                    let name = path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                    if ui.small_button(name).clicked() {
                        command = Some(ClipCommand::Open(path.clone()));
                    }
                }
            });
        }
        command
    }

    /// Carries out a command of [`Self::ui`]; an error is the reason nothing started.
    pub fn apply(&mut self, cmd: ClipCommand, ctx: Option<&egui::Context>) -> Result<(), String> {
        match cmd {
            ClipCommand::Open(path) => self.load_file(ctx, path),
            ClipCommand::Browse => {
                if self.dialog.is_none() {
                    let request = FileRequest::open(
                        "Open an audio clip",
                        &[("audio", crate::audio::AUDIO_EXTENSIONS)],
                        false,
                    );
                    // Without a dialog, typed paths and drag-and-drop remain.
                    self.dialog = tasks::pick_file(ctx, request).ok();
                }
                Ok(())
            }
        }
    }

    /// Starts decoding the audio file `path` as 16 kHz mono.
    pub fn load_file(&mut self, ctx: Option<&egui::Context>, path: PathBuf) -> Result<(), String> {
        self.load_with(ctx, move || {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            widgets::load_clip(&path).map(|clip| (name, clip))
        })
    }

    /// Starts `job`, which makes a named clip, in place of any clip being decoded.
    pub fn load_with(
        &mut self,
        ctx: Option<&egui::Context>,
        job: impl FnOnce() -> Result<(String, Clip), String> + Send + 'static,
    ) -> Result<(), String> {
        self.loading = Some(Task::spawn(ctx, "dpda-load-clip", job)?);
        Ok(())
    }

    /// What arrived since the last frame: a decoded clip (or why not) first, then a picked file.
    pub fn poll(&mut self) -> Vec<ClipEvent> {
        let mut events = Vec::new();
        if let Some(answer) = self.loading.as_ref().and_then(Task::poll) {
            self.loading = None;
            events.push(match answer {
                Some(Ok((name, clip))) => ClipEvent::Loaded { name, clip },
                Some(Err(e)) => ClipEvent::Failed(e),
                None => ClipEvent::Failed("loading the clip failed unexpectedly".into()),
            });
        }
        if let Some(answer) = self.dialog.as_ref().and_then(Task::poll) {
            self.dialog = None;
            if let Some(path) = answer.flatten() {
                events.push(ClipEvent::Picked(path));
            }
        }
        events
    }
}
