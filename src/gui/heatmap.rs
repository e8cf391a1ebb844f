//! The per-layer gradient-cosine heatmap: layers × iterations from the trainer's `LayerCos`
//! records, drawn as one texture inside a plot that shares the curves' x axis (iterations), on a
//! diverging colour map (red where the two paths' gradients disagree, blue where they agree).

use egui::{Color32, ColorImage, TextureHandle, TextureOptions};
use egui_plot::{Plot, PlotImage, PlotPoint};

use super::theme;
use crate::train::LayerCos;

/// Most texture columns; more records are reduced to each column's minimum cosine, so the
/// strongest disagreement of a span stays visible.
pub const MAX_COLUMNS: usize = 1024;

/// Layer cosines of one run: `cos[c * names.len() + layer]` for record (column) `c`.
#[derive(Clone, Debug, Default)]
pub struct LayerGrid {
    pub names: Vec<String>,
    pub steps: Vec<u64>,
    /// NaN where the trainer had no value.
    pub cos: Vec<f32>,
    /// Bumped on every change, so that textures are rebuilt only when needed.
    pub version: u64,
}

impl LayerGrid {
    /// Adds one record; a record with other layer names starts the grid afresh.
    pub fn push(&mut self, l: &LayerCos) {
        if l.names.is_empty() {
            return;
        }
        if l.names != self.names {
            self.names = l.names.clone();
            self.steps.clear();
            self.cos.clear();
        }
        self.steps.push(l.step);
        self.cos.extend(
            l.cos
                .iter()
                .map(|c| c.map_or(f32::NAN, |v| v as f32))
                .chain(std::iter::repeat(f32::NAN))
                .take(self.names.len()),
        );
        self.version += 1;
    }

    /// Number of layers (rows).
    pub fn num_layers(&self) -> usize {
        self.names.len()
    }

    /// Number of records (columns).
    pub fn num_records(&self) -> usize {
        self.steps.len()
    }

    /// The cosine of `layer` in record `record`.
    pub fn value(&self, record: usize, layer: usize) -> Option<f32> {
        let n = self.names.len();
        (layer < n)
            .then(|| self.cos.get(record * n + layer).copied())
            .flatten()
            .filter(|v| v.is_finite())
    }

    /// The record nearest to iteration `step`.
    pub fn record_at(&self, step: f64) -> Option<usize> {
        if self.steps.is_empty() {
            return None;
        }
        let i = self.steps.partition_point(|&s| (s as f64) < step);
        let candidates = [i.saturating_sub(1), i.min(self.steps.len() - 1)];
        candidates.into_iter().min_by(|&a, &b| {
            let da = (self.steps[a] as f64 - step).abs();
            let db = (self.steps[b] as f64 - step).abs();
            da.total_cmp(&db)
        })
    }

    /// The image: one row per layer (first layer at the top), at most [`MAX_COLUMNS`] columns.
    pub fn to_image(&self) -> ColorImage {
        let rows = self.names.len();
        let records = self.steps.len();
        let cols = records.clamp(1, MAX_COLUMNS);
        let mut pixels = vec![theme::MISSING_CELL; rows.max(1) * cols];
        for col in 0..cols.min(records) {
            let lo = col * records / cols;
            let hi = ((col + 1) * records / cols).max(lo + 1);
            for layer in 0..rows {
                let worst = (lo..hi)
                    .filter_map(|r| self.value(r, layer))
                    .fold(f32::INFINITY, f32::min);
                if worst.is_finite() {
                    pixels[layer * cols + col] = diverging(worst);
                }
            }
        }
        ColorImage::new([cols, rows.max(1)], pixels)
    }
}

/// Diverging colour map on [-1, 1]: red (−1) through white (0) to blue (+1).
pub fn diverging(cos: f32) -> Color32 {
    let t = cos.clamp(-1.0, 1.0);
    let lerp = |a: u8, b: u8, f: f32| (a as f32 + (b as f32 - a as f32) * f).round() as u8;
    let [negative, white, positive] = theme::DIVERGING;
    let (end, f) = if t < 0.0 {
        (negative, -t)
    } else {
        (positive, t)
    };
    Color32::from_rgb(
        lerp(white.0, end.0, f),
        lerp(white.1, end.1, f),
        lerp(white.2, end.2, f),
    )
}

/// The heatmap widget's texture cache.
#[derive(Default)]
pub struct HeatmapView {
    texture: Option<(u64, TextureHandle)>,
}

impl HeatmapView {
    /// Draws `grid` in a plot of `height` points linked to the curves' x axis (`link`).
    pub fn ui(&mut self, ui: &mut egui::Ui, grid: &LayerGrid, link: egui::Id, height: f32) {
        if grid.num_records() == 0 {
            ui.label(
                "Per-layer gradient cosine: no records yet (dual mode with \
                 \"per-layer cosine every K steps\" > 0).",
            );
            return;
        }
        let stale = self
            .texture
            .as_ref()
            .is_none_or(|(v, _)| *v != grid.version);
        if stale {
            let image = grid.to_image();
            let options = TextureOptions::NEAREST;
            match &mut self.texture {
                Some((v, tex)) => {
                    tex.set(image, options);
                    *v = grid.version;
                }
                None => {
                    let tex = ui.ctx().load_texture("layer-cos-heatmap", image, options);
                    self.texture = Some((grid.version, tex));
                }
            }
        }
        let Some((_, tex)) = &self.texture else {
            return;
        };
        let first = grid.steps.first().copied().unwrap_or(0) as f64;
        let last = grid.steps.last().copied().unwrap_or(0) as f64;
        // Each record covers the iterations up to the next one.
        let span = grid
            .steps
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64)
            .next()
            .unwrap_or(1.0)
            .max(1.0);
        let (x0, x1) = (first - span / 2.0, last + span / 2.0);
        let rows = grid.num_layers() as f64;
        let names = grid.names.clone();
        let tex_id = tex.id();
        let response = Plot::new("layer-cos-heatmap")
            .height(height)
            .link_axis(link, [true, false])
            .link_cursor(link, [true, false])
            .allow_zoom([true, false])
            .allow_drag([true, false])
            .allow_scroll([true, false])
            .include_y(0.0)
            .include_y(rows)
            .show_grid([false, false])
            .y_axis_min_width(theme::AXIS_WIDTH)
            .x_axis_label("iteration")
            .y_axis_formatter(move |mark, _| {
                // Row i spans y in [rows-i-1, rows-i]; label its centre.
                let v = mark.value - 0.5;
                let i = rows - 1.0 - v;
                if (v - v.round()).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    short_name(&names[i as usize])
                } else {
                    String::new()
                }
            })
            .y_grid_spacer(move |_| {
                (0..rows as usize)
                    .map(|i| egui_plot::GridMark {
                        value: i as f64 + 0.5,
                        step_size: 1.0,
                    })
                    .collect()
            })
            .label_formatter(|_| None)
            .show(ui, |pui| {
                pui.image(PlotImage::new(
                    "layer cosine",
                    tex_id,
                    PlotPoint::new((x0 + x1) / 2.0, rows / 2.0),
                    egui::vec2((x1 - x0) as f32, rows as f32),
                ));
                pui.pointer_coordinate()
            });
        if let Some(p) = response.inner {
            if response.response.hovered() {
                let layer = (rows - p.y).floor();
                if layer >= 0.0 && layer < rows {
                    let layer = layer as usize;
                    if let Some(r) = grid.record_at(p.x) {
                        let text = match grid.value(r, layer) {
                            Some(c) => format!(
                                "{}\niteration {}: cos = {c:+.4}",
                                grid.names[layer], grid.steps[r]
                            ),
                            None => format!(
                                "{}\niteration {}: no value",
                                grid.names[layer], grid.steps[r]
                            ),
                        };
                        response.response.on_hover_text_at_pointer(text);
                    }
                }
            }
        }
    }
}

/// A tensor name short enough for an axis label (`blocks.3.conv.weight` → `3.conv.weight`).
fn short_name(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    let keep = parts.len().min(3);
    parts[parts.len() - keep..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_map_ends_and_centre() {
        assert_eq!(diverging(-1.0), Color32::from_rgb(178, 24, 43));
        assert_eq!(diverging(0.0), Color32::from_rgb(247, 247, 247));
        assert_eq!(diverging(1.0), Color32::from_rgb(33, 102, 172));
        assert_eq!(diverging(-7.0), diverging(-1.0));
    }

    #[test]
    fn image_keeps_the_worst_cosine_of_each_column() {
        let mut g = LayerGrid::default();
        let names = vec!["a".to_string(), "b".to_string()];
        for step in 0..(2 * MAX_COLUMNS as u64) {
            let a = if step == 5 { -1.0 } else { 1.0 };
            g.push(&LayerCos {
                step,
                names: names.clone(),
                cos: vec![Some(a), None],
            });
        }
        let img = g.to_image();
        assert_eq!(img.size, [MAX_COLUMNS, 2]);
        // Records 4 and 5 share column 2: the conflict (−1) wins.
        assert_eq!(img.pixels[2], diverging(-1.0));
        assert_eq!(img.pixels[3], diverging(1.0));
        assert_eq!(img.pixels[MAX_COLUMNS + 2], theme::MISSING_CELL);
        assert_eq!(g.record_at(4.4), Some(4));
        assert_eq!(g.value(5, 0), Some(-1.0));
        assert_eq!(g.value(5, 1), None);
    }
}
