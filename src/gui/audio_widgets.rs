//! Clip display shared by the augment and detect views: waveform and log-magnitude spectrogram on
//! linked time axes with a playhead, a colour bar, a level meter, and clip decoding. The clip
//! source panel both views show is [`super::clip_panel`].
//!
//! The pure parts (waveform envelope, colour map, spectrogram image) are unit-tested here; the
//! drawing functions take the state they show and return what the user clicked.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, ColorImage, TextureHandle, TextureOptions};
use egui_plot::{Line, Plot, PlotImage, PlotPoint, PlotPoints, VLine};

use super::theme;
use crate::audio::Clip;
use crate::features::spectrogram::{log_power_spectrogram, Spectrogram, SpectrogramConfig};

#[cfg(feature = "audio")]
pub use crate::audio::device::{AudioBackend, Level, Player, Recorder};
#[cfg(not(feature = "audio"))]
pub use no_audio::{AudioBackend, Level, Player, Recorder};

/// Columns of the waveform envelope (min/max per column); egui_plot thins further per pixel.
const ENVELOPE_COLUMNS: usize = 4000;
/// Widest spectrogram texture; longer clips are reduced by taking each column's maximum.
const MAX_TEXTURE_WIDTH: usize = 4096;
/// Dynamic range shown below a spectrogram's loudest bin.
pub const SPECTRO_RANGE_DB: f32 = 90.0;

/// A waveform as `[time s, value]` points going through each column's minimum and maximum, so a
/// line drawn through them covers the signal's full extent at any zoom out.
pub fn envelope(samples: &[f32], sample_rate_hz: u32, max_columns: usize) -> Vec<[f64; 2]> {
    if samples.is_empty() || sample_rate_hz == 0 {
        return Vec::new();
    }
    let rate = f64::from(sample_rate_hz);
    if samples.len() <= max_columns.max(1) * 2 {
        return samples
            .iter()
            .enumerate()
            .map(|(i, &x)| [i as f64 / rate, f64::from(x)])
            .collect();
    }
    let per_column = samples.len().div_ceil(max_columns.max(1));
    let mut points = Vec::with_capacity(2 * max_columns);
    for (c, chunk) in samples.chunks(per_column).enumerate() {
        let (lo, hi) = chunk
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        let t = (c * per_column) as f64 / rate;
        points.push([t, f64::from(lo)]);
        points.push([t, f64::from(hi)]);
    }
    points
}

/// A perceptually ordered colour map (dark blue → purple → orange → pale yellow) for `t` in
/// [0, 1]; values outside are clamped.
pub fn colour_map(t: f32) -> Color32 {
    const STOPS: [[f32; 3]; 5] = theme::SPECTRO_STOPS;
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let c = |k: usize| {
        let v = STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k]);
        (v * 255.0).round() as u8
    };
    Color32::from_rgb(c(0), c(1), c(2))
}

/// The dB range a spectrogram is shown over: its loudest value and [`SPECTRO_RANGE_DB`] below.
pub fn db_range(spec: &Spectrogram) -> (f32, f32) {
    let top = spec
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f32::NEG_INFINITY, f32::max);
    let top = if top.is_finite() { top } else { 0.0 };
    (top - SPECTRO_RANGE_DB, top)
}

/// An image of a dB spectrogram: time left to right, frequency bottom to top, coloured by
/// [`colour_map`] over `[floor_db, top_db]`; at most `max_width` columns (each the maximum of
/// the frames it covers).
pub fn spectro_image(
    spec: &Spectrogram,
    floor_db: f32,
    top_db: f32,
    max_width: usize,
) -> ColorImage {
    let height = spec.num_bins.max(1);
    if spec.num_frames == 0 || spec.num_bins == 0 {
        return ColorImage::new([1, height], vec![colour_map(0.0); height]);
    }
    let per_column = spec.num_frames.div_ceil(max_width.max(1));
    let width = spec.num_frames.div_ceil(per_column);
    let span = (top_db - floor_db).max(1e-6);
    let mut pixels = vec![Color32::BLACK; width * height];
    for x in 0..width {
        let frames = x * per_column..((x + 1) * per_column).min(spec.num_frames);
        for k in 0..spec.num_bins {
            let v = frames
                .clone()
                .map(|t| spec.get(t, k))
                .fold(f32::NEG_INFINITY, f32::max);
            // Row 0 is the top of the image: the highest frequency.
            let y = height - 1 - k;
            pixels[y * width + x] = colour_map((v - floor_db) / span);
        }
    }
    ColorImage::new([width, height], pixels)
}

/// Everything needed to draw one clip: samples, envelope and spectrogram texture.
pub struct ClipDisplay {
    /// What the clip is (file name, corpus ID, "recording").
    pub name: String,
    /// The clip (16 kHz mono in both views).
    pub clip: Arc<Clip>,
    envelope: Vec<[f64; 2]>,
    texture: Option<TextureHandle>,
    /// Shown dB range of the spectrogram.
    pub db_range: (f32, f32),
    /// Top of the spectrogram's frequency axis.
    pub max_freq_hz: f64,
}

impl ClipDisplay {
    /// Prepare a clip for display (computes its spectrogram and uploads the texture).
    pub fn new(ctx: &egui::Context, name: impl Into<String>, clip: Arc<Clip>) -> Self {
        let name = name.into();
        let envelope = envelope(&clip.samples, clip.sample_rate_hz, ENVELOPE_COLUMNS);
        let spec = log_power_spectrogram(
            &clip.samples,
            clip.sample_rate_hz,
            &SpectrogramConfig::default(),
        )
        .ok();
        let (db_range, texture) = match &spec {
            Some(spec) => {
                let range = db_range(spec);
                let image = spectro_image(spec, range.0, range.1, MAX_TEXTURE_WIDTH);
                let texture = ctx.load_texture(
                    format!("spectrogram {name} {}", clip.samples.len()),
                    image,
                    TextureOptions::LINEAR,
                );
                (range, Some(texture))
            }
            None => ((-SPECTRO_RANGE_DB, 0.0), None),
        };
        Self {
            name,
            max_freq_hz: f64::from(clip.sample_rate_hz) / 2.0,
            clip,
            envelope,
            texture,
            db_range,
        }
    }

    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.clip.duration_s()
    }
}

/// Draws a clip's waveform and spectrogram stacked on time axes linked under `link`; returns the
/// time clicked, if any (to move the playhead).
pub fn clip_plots_ui(
    ui: &mut egui::Ui,
    id: &str,
    link: egui::Id,
    display: &ClipDisplay,
    playhead_s: Option<f64>,
) -> Option<f64> {
    clip_plots_overlay_ui(ui, id, link, display, playhead_s, None)
}

/// An image drawn over the spectrogram, spanning `0..width_s` seconds and `0..height_hz` Hz
/// (e.g. an attribution map over the part of the clip a model sees).
pub struct PlotOverlay {
    pub texture: TextureHandle,
    pub width_s: f64,
    pub height_hz: f64,
}

/// [`clip_plots_ui`] with an optional overlay on the spectrogram.
pub fn clip_plots_overlay_ui(
    ui: &mut egui::Ui,
    id: &str,
    link: egui::Id,
    display: &ClipDisplay,
    playhead_s: Option<f64>,
    overlay: Option<&PlotOverlay>,
) -> Option<f64> {
    let duration_s = display.duration_s().max(1e-3);
    let mut clicked = None;
    let wave = Plot::new(format!("{id} wave"))
        .height(theme::WAVE_PLOT_HEIGHT)
        .link_axis(link, [true, false])
        .include_x(0.0)
        .include_x(duration_s)
        .include_y(-1.0)
        .include_y(1.0)
        .allow_scroll(false)
        .y_axis_label("amplitude")
        .show(ui, |plot_ui| {
            plot_ui.line(
                Line::new(
                    display.name.clone(),
                    PlotPoints::from(display.envelope.clone()),
                )
                .color(theme::WAVE),
            );
            if let Some(t) = playhead_s {
                plot_ui.vline(VLine::new("playhead", t).color(theme::MARK));
            }
            plot_ui.pointer_coordinate()
        });
    if wave.response.clicked() {
        clicked = wave.inner.map(|p| p.x);
    }
    let spectro = Plot::new(format!("{id} spectrogram"))
        .height(theme::CLIP_PLOT_HEIGHT)
        .link_axis(link, [true, false])
        .include_x(0.0)
        .include_x(duration_s)
        .include_y(0.0)
        .include_y(display.max_freq_hz)
        .allow_scroll(false)
        .x_axis_label("time (s)")
        .y_axis_label("frequency (Hz)")
        .show(ui, |plot_ui| {
            if let Some(texture) = &display.texture {
                plot_ui.image(PlotImage::new(
                    "spectrogram",
                    texture.id(),
                    PlotPoint::new(duration_s / 2.0, display.max_freq_hz / 2.0),
                    [duration_s as f32, display.max_freq_hz as f32],
                ));
            }
            if let Some(o) = overlay {
                plot_ui.image(PlotImage::new(
                    "overlay",
                    o.texture.id(),
                    PlotPoint::new(o.width_s / 2.0, o.height_hz / 2.0),
                    [o.width_s as f32, o.height_hz as f32],
                ));
            }
            if let Some(t) = playhead_s {
                plot_ui.vline(VLine::new("playhead", t).color(theme::MARK));
            }
            plot_ui.pointer_coordinate()
        });
    if spectro.response.clicked() {
        clicked = spectro.inner.map(|p| p.x);
    }
    clicked.map(|t| t.clamp(0.0, duration_s))
}

/// A vertical colour bar labelled with its dB range.
pub fn colour_bar_ui(ui: &mut egui::Ui, (floor_db, top_db): (f32, f32)) {
    ui.vertical(|ui| {
        ui.small(format!("{top_db:.0} dB"));
        let (rect, _) = ui.allocate_exact_size(theme::COLOUR_BAR_SIZE, egui::Sense::hover());
        let steps = 32;
        let painter = ui.painter_at(rect);
        for i in 0..steps {
            let t0 = i as f32 / steps as f32;
            let t1 = (i + 1) as f32 / steps as f32;
            let band = egui::Rect::from_min_max(
                egui::pos2(rect.left(), rect.bottom() - t1 * rect.height()),
                egui::pos2(rect.right(), rect.bottom() - t0 * rect.height()),
            );
            painter.rect_filled(band, 0.0, colour_map((t0 + t1) / 2.0));
        }
        ui.small(format!("{floor_db:.0} dB"));
    });
}

/// A horizontal level meter: RMS as a bar, peak as a tick, both on a dBFS scale from −60.
pub fn level_meter_ui(ui: &mut egui::Ui, level: Level) {
    let to_fraction = |v: f32| {
        if v <= 0.0 {
            0.0
        } else {
            ((20.0 * v.log10() + 60.0) / 60.0).clamp(0.0, 1.0)
        }
    };
    let (rect, _) = ui.allocate_exact_size(theme::LEVEL_METER_SIZE, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(
        rect,
        theme::LEVEL_METER_ROUNDING,
        ui.visuals().extreme_bg_color,
    );
    let rms = to_fraction(level.rms);
    let bar = egui::Rect::from_min_max(
        rect.min,
        egui::pos2(rect.left() + rms * rect.width(), rect.bottom()),
    );
    painter.rect_filled(bar, theme::LEVEL_METER_ROUNDING, theme::LEVEL_BAR);
    let x = rect.left() + to_fraction(level.peak) * rect.width();
    painter.line_segment(
        [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
        egui::Stroke::new(theme::PEAK_TICK_WIDTH, theme::MARK),
    );
    let peak_dbfs = if level.peak > 0.0 {
        format!("{:.0} dBFS peak", 20.0 * level.peak.log10())
    } else {
        "silence".to_string()
    };
    ui.small(peak_dbfs);
}

/// Load any supported audio file as 16 kHz mono.
pub fn load_clip(path: &std::path::Path) -> Result<Clip, String> {
    crate::audio::load_mono_16k(path).map_err(|e| e.to_string())
}

/// The demo clips shipped in `assets/` (looked up next to the working folder and the crate).
pub fn asset_clips() -> Vec<PathBuf> {
    let dirs = [
        PathBuf::from("assets"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets"),
    ];
    for dir in dirs {
        if let Ok(files) = crate::audio::find_audio_files(&dir) {
            if !files.is_empty() {
                return files;
            }
        }
    }
    Vec::new()
}

/// Stand-ins for the device types in a build without the `audio` feature: every request fails
/// with the reason, so the views work unchanged.
#[cfg(not(feature = "audio"))]
mod no_audio {
    use crate::audio::Clip;

    const REASON: &str = "this build has no audio support (feature `audio`)";

    /// Which audio system device requests go to (none in this build).
    #[derive(Clone, Debug, PartialEq, Eq, Default)]
    pub enum AudioBackend {
        #[default]
        System,
        PulseAudio,
        Unavailable(String),
    }

    impl AudioBackend {
        /// Always [`AudioBackend::System`], which is unavailable anyway.
        pub fn from_env() -> Self {
            AudioBackend::System
        }
    }

    /// Peak and RMS level, linear full scale.
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    pub struct Level {
        pub peak: f32,
        pub rms: f32,
    }

    /// A player that never plays.
    pub struct Player;

    impl Player {
        pub fn new(_backend: AudioBackend) -> Self {
            Player
        }
        pub fn set_backend(&mut self, _backend: AudioBackend) {}
        pub fn play(&mut self, _: &[f32], _: u32, _: f64, _: bool) -> Result<(), String> {
            Err(REASON.into())
        }
        pub fn stop(&mut self) {}
        pub fn set_looping(&self, _looping: bool) {}
        pub fn is_playing(&self) -> bool {
            false
        }
        pub fn position_s(&self) -> Option<f64> {
            None
        }
        pub fn poll(&mut self) {}
    }

    /// A recorder that cannot exist.
    pub enum Recorder {}

    impl Recorder {
        pub fn start(_backend: &AudioBackend, _limit_s: f64) -> Result<Self, String> {
            Err(REASON.into())
        }
        pub fn poll(&mut self) -> usize {
            match *self {}
        }
        pub fn captured(&self) -> &[f32] {
            match *self {}
        }
        pub fn level(&self) -> Level {
            match *self {}
        }
        pub fn elapsed_s(&self) -> f64 {
            match *self {}
        }
        pub fn is_done(&self) -> bool {
            match *self {}
        }
        pub fn has_failed(&self) -> bool {
            match *self {}
        }
        pub fn device_rate_hz(&self) -> u32 {
            match *self {}
        }
        pub fn finish(self) -> Result<Clip, String> {
            match self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::spectrogram::SpectrogramScale;

    #[test]
    fn envelope_keeps_extremes_of_each_column() {
        let samples: Vec<f32> = (0..1000)
            .map(|i| if i == 537 { -0.9 } else { 0.1 })
            .collect();
        let points = envelope(&samples, 1000, 10);
        assert_eq!(points.len(), 20);
        let min = points.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min);
        assert!((min + 0.9).abs() < 1e-6);
        // Column 5 covers samples 500..600 and starts at 0.5 s.
        assert_eq!(points[10][0], 0.5);
        assert!((points[10][1] + 0.9).abs() < 1e-6);
        // Short clips are drawn sample by sample.
        assert_eq!(envelope(&[0.5, -0.5], 2, 10), vec![[0.0, 0.5], [0.5, -0.5]]);
        assert!(envelope(&[], 16_000, 10).is_empty());
    }

    #[test]
    fn colour_map_runs_dark_to_light_and_clamps() {
        let lum = |c: Color32| c.r() as u32 + c.g() as u32 + c.b() as u32;
        let steps: Vec<u32> = (0..=10).map(|i| lum(colour_map(i as f32 / 10.0))).collect();
        assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
        assert_eq!(colour_map(-1.0), colour_map(0.0));
        assert_eq!(colour_map(2.0), colour_map(1.0));
        assert_eq!(colour_map(f32::NAN), colour_map(0.0));
    }

    #[test]
    fn spectro_image_puts_low_frequencies_at_the_bottom_and_reduces_width() {
        // 4 frames × 3 bins; only bin 0 of frame 3 is loud.
        let mut values = vec![-100.0f32; 12];
        values[3 * 3] = 0.0;
        let spec = Spectrogram {
            num_frames: 4,
            num_bins: 3,
            values,
            freqs_hz: vec![0.0, 100.0, 200.0],
            hop_s: 0.01,
            scale: SpectrogramScale::Db,
        };
        assert_eq!(db_range(&spec), (-SPECTRO_RANGE_DB, 0.0));
        let full = spectro_image(&spec, -100.0, 0.0, 100);
        assert_eq!(full.size, [4, 3]);
        assert_eq!(full.pixels[2 * 4 + 3], colour_map(1.0));
        assert_eq!(full.pixels[3], colour_map(0.0));
        let half = spectro_image(&spec, -100.0, 0.0, 2);
        assert_eq!(half.size, [2, 3]);
        // Column 1 covers frames 2 and 3: the maximum keeps the loud bin.
        assert_eq!(half.pixels[2 * 2 + 1], colour_map(1.0));
        assert_eq!(half.pixels[2 * 2], colour_map(0.0));
    }
}
