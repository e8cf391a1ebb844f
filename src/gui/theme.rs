//! Colours and sizes of the workbench, in one place so that views and plots agree.

use egui::Color32;

/// Messages about invalid fields and failed runs.
pub const ERROR: Color32 = Color32::from_rgb(230, 80, 70);
/// Confirmations (saved, finished).
pub const OK: Color32 = Color32::from_rgb(90, 190, 110);
/// The original path's curves.
pub const ORIG: Color32 = Color32::from_rgb(80, 160, 230);
/// The augmented path's curves.
pub const AUG: Color32 = Color32::from_rgb(240, 150, 50);
/// Combined (both paths) curves.
pub const COMBINED: Color32 = Color32::from_rgb(200, 200, 200);
/// Gradient cosine.
pub const COS: Color32 = Color32::from_rgb(150, 120, 230);
/// Markers of conflicting iterations (cosine < 0).
pub const CONFLICT: Color32 = Color32::from_rgb(230, 60, 60);
/// The zero line of the cosine plot.
pub const ZERO_LINE: Color32 = Color32::from_gray(140);
/// Dev-set curves.
pub const DEV: Color32 = Color32::from_rgb(110, 200, 140);
/// Heatmap cells without a value.
pub const MISSING_CELL: Color32 = Color32::from_gray(60);
/// Overlaid previous runs, in turn.
pub const OVERLAY: [Color32; 6] = [
    Color32::from_rgb(160, 160, 90),
    Color32::from_rgb(90, 160, 160),
    Color32::from_rgb(170, 110, 170),
    Color32::from_rgb(120, 170, 90),
    Color32::from_rgb(180, 120, 90),
    Color32::from_rgb(110, 120, 190),
];

/// Width reserved for y-axis labels, so that linked plots line up.
pub const AXIS_WIDTH: f32 = 64.0;
/// Height of one curve plot.
pub const PLOT_HEIGHT: f32 = 170.0;
/// Width of the experiment form panel.
pub const FORM_WIDTH: f32 = 360.0;
/// Time the UI spends draining training events per frame.
pub const EVENT_BUDGET: std::time::Duration = std::time::Duration::from_millis(4);
