//! Colours, sizes and frame timings of the workbench, in one place so that views and plots agree.

use std::time::Duration;

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
/// Conditions of a study, in turn (table, plots and run list agree).
pub const CONDITIONS: [Color32; 8] = [
    Color32::from_rgb(80, 160, 230),
    Color32::from_rgb(240, 150, 50),
    Color32::from_rgb(110, 200, 140),
    Color32::from_rgb(200, 110, 200),
    Color32::from_rgb(230, 90, 90),
    Color32::from_rgb(200, 200, 100),
    Color32::from_rgb(100, 200, 210),
    Color32::from_rgb(170, 140, 110),
];
/// Opacity of a study curve's ±1 sd band (times the condition's colour).
pub const BAND_OPACITY: f32 = 0.25;
/// The playhead, the detect threshold line and the level meter's peak tick.
pub const MARK: Color32 = Color32::from_rgb(255, 80, 60);
/// Waveforms and the score track.
pub const WAVE: Color32 = Color32::from_rgb(90, 160, 230);
/// The level meter's RMS bar.
pub const LEVEL_BAR: Color32 = Color32::from_rgb(80, 200, 120);
/// The "likely bona fide" verdict.
pub const BONAFIDE: Color32 = Color32::from_rgb(80, 190, 110);
/// The "likely spoofed" verdict.
pub const SPOOFED: Color32 = Color32::from_rgb(230, 90, 70);
/// Stops (RGB in [0, 1]) of the spectrogram colour map: dark blue → purple → orange → pale
/// yellow.
pub const SPECTRO_STOPS: [[f32; 3]; 5] = [
    [0.0, 0.0, 0.016],
    [0.23, 0.06, 0.44],
    [0.55, 0.16, 0.51],
    [0.98, 0.53, 0.35],
    [0.99, 0.99, 0.75],
];
/// The heatmap's diverging map: cosine −1, 0 and +1 (red, white, blue).
pub const DIVERGING: [(u8, u8, u8); 3] = [(178, 24, 43), (247, 247, 247), (33, 102, 172)];

/// Width reserved for y-axis labels, so that linked plots line up.
pub const AXIS_WIDTH: f32 = 64.0;
/// Height of one curve plot.
pub const PLOT_HEIGHT: f32 = 170.0;
/// Narrowest curve plot (half of the train view's plot area).
pub const MIN_PLOT_WIDTH: f32 = 200.0;
/// Width of the experiment form panel.
pub const FORM_WIDTH: f32 = 360.0;
/// Width of the augment view's controls panel.
pub const AUGMENT_PANEL_WIDTH: f32 = 330.0;
/// Width of the detect view's controls panel.
pub const DETECT_PANEL_WIDTH: f32 = 340.0;
/// Width of the form's path fields.
pub const PATH_FIELD_WIDTH: f32 = 200.0;
/// Width of the form's other text fields.
pub const FIELD_WIDTH: f32 = 150.0;
/// Width of the train view's runs-folder field.
pub const RUNS_DIR_FIELD_WIDTH: f32 = 180.0;
/// Width of the augment view's seed field.
pub const SEED_FIELD_WIDTH: f32 = 110.0;
/// Width of the detect view's input-length field.
pub const LENGTH_FIELD_WIDTH: f32 = 70.0;
/// Width of the studies view's controls panel.
pub const STUDIES_PANEL_WIDTH: f32 = 330.0;
/// Height of a study's EER and curve plots.
pub const STUDY_PLOT_HEIGHT: f32 = 220.0;
/// A study's per-seed EER dots, its condition means, and the error bars' width and caps
/// (half width, in conditions along x).
pub const SEED_DOT_RADIUS: f32 = 2.0;
pub const MEAN_MARKER_RADIUS: f32 = 4.5;
pub const ERROR_BAR_WIDTH: f32 = 1.5;
pub const ERROR_CAP_HALF_WIDTH: f64 = 0.12;
/// Horizontal spread of a condition's seed dots beside its interval (in conditions along x).
pub const SEED_DOT_OFFSET: f64 = 0.22;
/// Heatmap height per layer row, and its bounds.
pub const HEATMAP_ROW_HEIGHT: f32 = 9.0;
pub const HEATMAP_MIN_HEIGHT: f32 = 140.0;
pub const HEATMAP_MAX_HEIGHT: f32 = 420.0;
/// Radius of conflict points and of per-epoch markers.
pub const POINT_RADIUS: f32 = 2.0;
pub const MARKER_RADIUS: f32 = 2.5;
/// Width of overlaid runs' dashed lines.
pub const OVERLAY_LINE_WIDTH: f32 = 1.0;
/// Height of a clip's spectrogram plot; its waveform takes 0.6 of it, the score track 0.8.
pub const CLIP_PLOT_HEIGHT: f32 = 130.0;
pub const WAVE_PLOT_HEIGHT: f32 = CLIP_PLOT_HEIGHT * 0.6;
pub const SCORE_TRACK_HEIGHT: f32 = CLIP_PLOT_HEIGHT * 0.8;
/// The spectrogram colour bar.
pub const COLOUR_BAR_SIZE: egui::Vec2 = egui::vec2(14.0, CLIP_PLOT_HEIGHT - 30.0);
/// Width kept beside the detect view's plots for the colour bar.
pub const COLOUR_BAR_ROOM: f32 = 70.0;
/// The recording level meter, and the rounding and stroke of its bar and peak tick.
pub const LEVEL_METER_SIZE: egui::Vec2 = egui::vec2(220.0, 12.0);
pub const LEVEL_METER_ROUNDING: f32 = 2.0;
pub const PEAK_TICK_WIDTH: f32 = 2.0;
/// The augment view's corpus list: its height and the height of one row.
pub const CORPUS_LIST_HEIGHT: f32 = 220.0;
pub const CORPUS_ROW_HEIGHT: f32 = 18.0;
/// Text size of the detect view's score and verdict.
pub const VERDICT_TEXT_SIZE: f32 = 20.0;

/// Time the UI spends draining background events per frame.
pub const EVENT_BUDGET: Duration = Duration::from_millis(4);
/// Frame interval while a run is on (keeps the iteration rate moving between events).
pub const REPAINT_WHILE_TRAINING: Duration = Duration::from_millis(100);
/// Capacity of a study runner's event channel (it waits when the UI falls behind).
pub const STUDY_EVENT_CAPACITY: usize = 64;
/// Least time between two folder-scoring progress events.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);
/// The window's size when it opens (logical points).
pub const WINDOW_SIZE: [f32; 2] = [1280.0, 820.0];

/// Opacity of the strongest tile in the attribution overlay (weaker tiles fade out).
pub const ATTRIBUTION_MAX_ALPHA: f32 = 0.7;
/// Size of the attribution overlay's legend bar.
pub const ATTRIBUTION_LEGEND_SIZE: egui::Vec2 = egui::vec2(160.0, 12.0);
/// Side of one cell of the Train view's pairwise cosine matrix.
pub const PAIR_CELL: f32 = 58.0;
/// Width of the path-name column left of that matrix.
pub const PAIR_LABEL_WIDTH: f32 = 90.0;
