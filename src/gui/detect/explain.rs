//! The detect view's explanation: an "Explain" button for the scored clip, the occlusion
//! attribution drawn as a semi-transparent diverging overlay on the spectrogram (bona fide
//! colour where a tile pushes the score up, spoofed colour where it pushes it down, opacity by
//! magnitude), its legend, and the speech vs non-speech shares with the silence-shortcut flag.
//! The work runs on the model worker ([`super::worker`]), with progress and a stop button.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use egui::{Color32, ColorImage, TextureOptions};

use super::super::audio_widgets::PlotOverlay;
use super::super::theme;
use super::worker::WorkerCommand;
use super::{DetectCommand, DetectView};
use crate::inference::explain::{ExplainConfig, Explanation, MAX_BANDS, MIN_TILE_S};

/// The explanation panel's state.
pub(super) struct ExplainPanel {
    /// Time-block length in seconds.
    tile_s: f64,
    /// Frequency bands.
    bands: usize,
    /// The clip and model the running or shown explanation belongs to.
    clip_id: u64,
    model: String,
    progress: Option<(usize, usize)>,
    cancel: Option<Arc<AtomicBool>>,
    result: Option<Explanation>,
    overlay: Option<PlotOverlay>,
    show_overlay: bool,
    message: Option<String>,
}

impl Default for ExplainPanel {
    fn default() -> Self {
        Self {
            tile_s: crate::inference::explain::DEFAULT_TILE_S,
            bands: crate::inference::explain::DEFAULT_BANDS,
            clip_id: 0,
            model: String::new(),
            progress: None,
            cancel: None,
            result: None,
            overlay: None,
            show_overlay: true,
            message: None,
        }
    }
}

/// The overlay's colour for an attribution `a` of a map whose largest magnitude is `max_abs`:
/// bona fide colour for positive, spoofed for negative, opacity growing with `|a| / max_abs` up
/// to [`theme::ATTRIBUTION_MAX_ALPHA`]; transparent for zero or non-finite values.
pub fn attribution_colour(a: f64, max_abs: f64) -> Color32 {
    if !(a.is_finite() && max_abs > 0.0) || a == 0.0 {
        return Color32::TRANSPARENT;
    }
    let strength = (a.abs() / max_abs).clamp(0.0, 1.0) as f32;
    let alpha = (strength * theme::ATTRIBUTION_MAX_ALPHA * 255.0).round() as u8;
    let c = if a > 0.0 {
        theme::BONAFIDE
    } else {
        theme::SPOOFED
    };
    Color32::from_rgba_unmultiplied(c.r(), c.g(), c.b(), alpha)
}

/// The attribution map as an image: one pixel per tile, time left to right, the lowest band at
/// the bottom (the spectrogram's orientation).
pub fn attribution_image(e: &Explanation) -> ColorImage {
    let (width, height) = (e.num_blocks().max(1), e.num_bands().max(1));
    let max_abs = e.max_abs();
    let mut pixels = vec![Color32::TRANSPARENT; width * height];
    for (b, row) in e.attributions.iter().enumerate() {
        for (j, &a) in row.iter().enumerate() {
            pixels[(height - 1 - j) * width + b] = attribution_colour(a, max_abs);
        }
    }
    ColorImage::new([width, height], pixels)
}

impl DetectView {
    /// The explanation shown for the current clip and model, if any.
    pub fn explanation(&self) -> Option<&Explanation> {
        let p = &self.explain;
        let current = p.clip_id == self.clip_id
            && self.model.as_ref().is_some_and(|m| m.describe() == p.model);
        p.result.as_ref().filter(|_| current)
    }

    /// Whether the attribution overlay is drawn over the spectrogram.
    pub fn shows_attribution_overlay(&self) -> bool {
        self.explain.show_overlay && self.explain.overlay.is_some() && self.explanation().is_some()
    }

    /// Whether an explanation is running.
    pub fn is_explaining(&self) -> bool {
        self.explain.cancel.is_some()
    }

    pub(super) fn attribution_overlay(&self) -> Option<&PlotOverlay> {
        self.shows_attribution_overlay()
            .then_some(self.explain.overlay.as_ref())
            .flatten()
    }

    pub(super) fn start_explain(&mut self) {
        let (Some(clip), Some(model)) = (&self.clip, &self.model) else {
            return;
        };
        if self.explain.cancel.is_some() {
            return;
        }
        let config = match ExplainConfig::new(
            self.explain.tile_s,
            self.explain.bands,
            ("tile length", "bands"),
        ) {
            Ok(c) => c,
            Err(e) => {
                self.explain.message = Some(e.to_string());
                return;
            }
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let (clip_id, model, samples) = (self.clip_id, model.describe(), clip.clip.clone());
        if self.send(WorkerCommand::Explain {
            clip_id,
            samples,
            config,
            cancel: cancel.clone(),
        }) {
            let p = &mut self.explain;
            p.clip_id = clip_id;
            p.model = model;
            p.cancel = Some(cancel);
            p.progress = Some((0, 0));
            p.result = None;
            p.overlay = None;
            p.message = None;
        }
    }

    pub(super) fn stop_explain(&mut self) {
        if let Some(cancel) = &self.explain.cancel {
            cancel.store(true, Ordering::Relaxed);
        }
    }

    pub(super) fn explain_progress(&mut self, clip_id: u64, done: usize, total: usize) {
        if clip_id == self.explain.clip_id && self.explain.cancel.is_some() {
            self.explain.progress = Some((done, total));
        }
    }

    pub(super) fn explained(&mut self, clip_id: u64, result: Result<Option<Explanation>, String>) {
        if clip_id != self.explain.clip_id {
            return;
        }
        let p = &mut self.explain;
        p.cancel = None;
        p.progress = None;
        match result {
            Ok(Some(e)) => {
                p.overlay = self.ctx.as_ref().map(|ctx| PlotOverlay {
                    texture: ctx.load_texture(
                        format!("attribution {clip_id}"),
                        attribution_image(&e),
                        TextureOptions::NEAREST,
                    ),
                    width_s: e.explained_s(),
                    height_hz: e.band_edges_hz.last().copied().unwrap_or(0.0),
                });
                p.result = Some(e);
            }
            Ok(None) => p.message = Some("explanation stopped".into()),
            Err(e) => p.message = Some(format!("explanation failed: {e}")),
        }
    }

    /// The explain section under the verdict: settings, button or progress, legend, shares.
    pub(super) fn explain_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<DetectCommand>) {
        if self.model.is_none() || self.result.is_none() {
            return;
        }
        ui.horizontal(|ui| {
            ui.label("Explain by occlusion: tiles of");
            ui.add(
                egui::DragValue::new(&mut self.explain.tile_s)
                    .range(MIN_TILE_S..=2.0)
                    .speed(0.01)
                    .suffix(" s"),
            );
            ui.label("×");
            ui.add(
                egui::DragValue::new(&mut self.explain.bands)
                    .range(1..=MAX_BANDS)
                    .suffix(" bands"),
            );
            match (self.explain.progress, &self.explain.cancel) {
                (Some((done, total)), Some(_)) => {
                    ui.add(
                        egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                            .desired_width(theme::FIELD_WIDTH)
                            .text(format!("{done} / {total} passes")),
                    );
                    if ui.button("Stop explaining").clicked() {
                        commands.push(DetectCommand::StopExplain);
                    }
                }
                _ => {
                    if ui
                        .add_enabled(!self.scoring, egui::Button::new("Explain"))
                        .on_hover_text(
                            "Remove each tile in turn (zeroed in the STFT, resynthesised) and \
                             score again: attribution = score − score without the tile.",
                        )
                        .clicked()
                    {
                        commands.push(DetectCommand::Explain);
                    }
                }
            }
        });
        if let Some(m) = &self.explain.message {
            ui.colored_label(ui.visuals().warn_fg_color, m);
        }
        let Some(e) = self.explanation() else {
            return;
        };
        let max_abs = e.max_abs();
        let mut lines = vec![format!(
            "Occlusion over the first {:.2} s (what the model sees): {} × {} tiles; sum of \
             attributions {:+.3}, score − silent clip's score {:+.3}.",
            e.explained_s(),
            e.num_blocks(),
            e.num_bands(),
            e.attribution_sum,
            e.score - e.score_all_occluded
        )];
        let s = &e.shares;
        lines.push(match s.non_speech_share {
            Some(non_speech) => format!(
                "speech {:.0}% of the time; attribution on speech {:.0}%, on non-speech {:.0}%",
                100.0 * s.speech_time_fraction,
                100.0 * (1.0 - non_speech),
                100.0 * non_speech
            ),
            None => format!(
                "speech {:.0}% of the time; no tile changes the score",
                100.0 * s.speech_time_fraction
            ),
        });
        let flagged = s.mostly_non_speech;
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.explain.show_overlay, "overlay");
            legend_ui(ui, max_abs);
        });
        for line in lines {
            ui.label(line);
        }
        if flagged {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "The score rests mostly on non-speech audio (silence or background): a \
                 shortcut, not evidence about the voice.",
            );
        }
    }
}

/// The diverging legend: spoofed colour at −max, transparent at 0, bona fide colour at +max.
fn legend_ui(ui: &mut egui::Ui, max_abs: f64) {
    ui.small(format!("{:+.3} towards spoofed", -max_abs));
    let (rect, _) = ui.allocate_exact_size(theme::ATTRIBUTION_LEGEND_SIZE, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
    let steps = 32;
    for i in 0..steps {
        let x0 = rect.left() + rect.width() * i as f32 / steps as f32;
        let x1 = rect.left() + rect.width() * (i + 1) as f32 / steps as f32;
        let v = (2.0 * (i as f64 + 0.5) / steps as f64 - 1.0) * max_abs.max(1e-12);
        painter.rect_filled(
            egui::Rect::from_min_max(egui::pos2(x0, rect.top()), egui::pos2(x1, rect.bottom())),
            0.0,
            attribution_colour(v, max_abs.max(1e-12)),
        );
    }
    ui.small(format!("{max_abs:+.3} towards bona fide"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::explain::SpeechShares;

    #[test]
    fn overlay_puts_low_bands_at_the_bottom_and_diverges_by_sign() {
        let e = Explanation {
            method: "occlusion".into(),
            baseline: String::new(),
            sample_rate_hz: 16_000,
            explained_samples: 8000,
            model_num_samples: 8000,
            score: 1.0,
            score_all_occluded: 0.0,
            attribution_sum: 0.0,
            block_edges_s: vec![0.0, 0.25, 0.5],
            band_edges_hz: vec![0.0, 4000.0, 8000.0],
            // Block 0: band 0 pushes towards bona fide; block 1: band 1 towards spoofed.
            attributions: vec![vec![2.0, 0.0], vec![0.0, -1.0]],
            block_speech_fraction: vec![1.0, 1.0],
            shares: SpeechShares {
                speech_time_fraction: 1.0,
                speech_share: Some(1.0),
                non_speech_share: Some(0.0),
                mostly_non_speech: false,
            },
        };
        let image = attribution_image(&e);
        assert_eq!(image.size, [2, 2]);
        // Row 1 is the bottom row: band 0.
        let strong = image.pixels[2];
        let weak = image.pixels[1];
        assert_eq!(image.pixels[0], Color32::TRANSPARENT);
        assert_eq!(image.pixels[3], Color32::TRANSPARENT);
        assert_eq!(
            strong.a(),
            (theme::ATTRIBUTION_MAX_ALPHA * 255.0).round() as u8
        );
        assert!(weak.a() > 0 && weak.a() < strong.a());
        // Bona fide green dominates the positive tile, spoofed red the negative one.
        assert!(strong.g() > strong.r() && weak.r() > weak.g());
        assert_eq!(attribution_colour(f64::NAN, 1.0), Color32::TRANSPARENT);
        assert_eq!(attribution_colour(1.0, 0.0), Color32::TRANSPARENT);
    }
}
