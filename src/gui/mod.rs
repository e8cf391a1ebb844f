//! The desktop workbench: train, augment, detect, studies and sweep views over the library.
//!
//! The GUI owns no training or signal code: it starts work on the library's worker, drains its
//! events every frame without blocking, and draws. Views share only [`Shared`].
//!
//! Each view is a folder ([`train`], [`augment`], [`detect`], [`studies`], [`sweep`]) of the same four parts: `mod.rs`
//! (its docs and its `Command` enum), `state.rs` (what it shows and keeps), `logic.rs` (per-frame
//! work and `apply`, the one place that carries out its commands) and `ui.rs` (drawing, which
//! returns commands). [`app`](Workbench) runs every view's `logic`, then draws the one on screen
//! and applies what its `ui` returned. Background work of every kind goes through [`tasks`];
//! colours, sizes and frame timings live in [`theme`]. [`clip_panel`] is the clip source the
//! augment and detect views share, [`audio_widgets`] their clip plots, [`form`] the experiment
//! form, [`plots`] and [`heatmap`] the train view's curves.

mod app;
pub mod audio_widgets;
pub mod augment;
pub mod clip_panel;
pub mod detect;
pub mod form;
pub mod heatmap;
pub mod plots;
pub mod shared;
pub mod studies;
pub mod sweep;
pub mod tasks;
pub mod theme;
pub mod train;

use std::path::PathBuf;

pub use app::{Tab, Workbench};
pub use shared::Shared;

/// Launch settings read from the environment (hidden; used by `scripts/screenshots.sh`):
/// `DPDA_GUI_TAB` (train, augment, detect, studies, sweep), `DPDA_GUI_EXPERIMENT` (a TOML file loaded into the
/// form), `DPDA_GUI_RUNS_DIR`, `DPDA_GUI_AUTOSTART=1` (press Start), `DPDA_GUI_OVERLAY_ALL=1`
/// (overlay every previous run) and `DPDA_GUI_OPEN` (files opened in the shown view, as if
/// dropped on it, in order; separated like `PATH`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaunchOptions {
    pub tab: Option<Tab>,
    pub experiment: Option<PathBuf>,
    pub runs_dir: Option<PathBuf>,
    pub autostart: bool,
    pub overlay_all: bool,
    pub open: Vec<PathBuf>,
}

impl LaunchOptions {
    /// Reads the `DPDA_GUI_*` variables.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let flag = |name: &str| var(name).is_some_and(|v| v.trim() != "0");
        Self {
            tab: var("DPDA_GUI_TAB").and_then(|t| Tab::from_name(&t)),
            experiment: var("DPDA_GUI_EXPERIMENT").map(PathBuf::from),
            runs_dir: var("DPDA_GUI_RUNS_DIR").map(PathBuf::from),
            autostart: flag("DPDA_GUI_AUTOSTART"),
            overlay_all: flag("DPDA_GUI_OVERLAY_ALL"),
            open: std::env::var_os("DPDA_GUI_OPEN")
                .map(|v| std::env::split_paths(&v).collect())
                .unwrap_or_default(),
        }
    }

    /// Applies the options to a freshly built app.
    pub fn apply(&self, app: &mut Workbench) {
        if let Some(tab) = self.tab {
            app.tab = tab;
        }
        if let Some(dir) = &self.runs_dir {
            app.shared.runs_dir = dir.clone();
        }
        if let Some(path) = &self.experiment {
            app.train.open_file(path.clone(), &mut app.shared);
        }
        app.train.autostart = self.autostart;
        app.train.overlay_all = self.overlay_all;
        for path in &self.open {
            let shared = &mut app.shared;
            match app.tab {
                Tab::Train => app.train.open_file(path.clone(), shared),
                Tab::Augment => app.augment.open_file(path.clone(), shared),
                Tab::Detect => app.detect.open_file(path.clone(), shared),
                Tab::Studies => app.studies.open_file(path.clone(), shared),
                Tab::Sweep => app.sweep.open_file(path.clone(), shared),
            }
        }
    }
}

/// Opens the workbench window and blocks until it is closed.
pub fn run() -> Result<(), eframe::Error> {
    let launch = LaunchOptions::from_env();
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("DPDA Workbench")
            .with_inner_size(theme::WINDOW_SIZE)
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "DPDA Workbench",
        options,
        Box::new(move |cc| {
            let mut app = Workbench::new(cc.storage);
            launch.apply(&mut app);
            Ok(Box::new(app))
        }),
    )
}
