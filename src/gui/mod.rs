//! The desktop workbench: train, augment and detect views over the library.
//!
//! The GUI owns no training or signal code: it starts work on the library's worker, drains its
//! events every frame without blocking, and draws. Views share only [`Shared`].

mod app;
pub mod augment_view;
pub mod detect_view;
pub mod shared;
pub mod train_view;

pub use app::{Tab, Workbench};
pub use shared::Shared;

/// Opens the workbench window and blocks until it is closed.
pub fn run() -> Result<(), eframe::Error> {
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("DPDA Workbench")
            .with_inner_size([1280.0, 820.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "DPDA Workbench",
        options,
        Box::new(|cc| Ok(Box::new(Workbench::new(cc.storage)))),
    )
}
