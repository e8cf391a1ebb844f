//! The study's figures, as PNG and SVG: `eer` (EER per condition with its 95 % interval and the
//! seeds' values, one panel per test set) and `curves` (conflict fraction and dev EER per epoch,
//! mean over seeds with a ±1 sd band). Drawn with plotters; text uses a bundled font through
//! ab_glyph, so nothing depends on the system's fonts.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::results::{Curve, StudyResults};
use super::{write_err, StudyError};

const EER_SIZE_PX: (u32, u32) = (480, 420);
const CURVES_SIZE_PX: (u32, u32) = (720, 640);

/// Register the bundled font once (plotters looks fonts up by family name).
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // A failure leaves text undrawn (the SVG keeps its text elements); the figure still is.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// Write `eer.{png,svg}` and `curves.{png,svg}` into `out_dir`; the paths written.
pub fn write_plots(out_dir: &Path, results: &StudyResults) -> Result<Vec<PathBuf>, StudyError> {
    register_font();
    let mut written = Vec::new();
    let panels = results.test_sets.len().max(1) as u32;
    let eer_size = (EER_SIZE_PX.0 * panels, EER_SIZE_PX.1);
    written.extend(both(
        out_dir,
        "eer",
        eer_size,
        &|root| draw_eer(root, results),
        &|root| draw_eer(root, results),
    )?);
    written.extend(both(
        out_dir,
        "curves",
        CURVES_SIZE_PX,
        &|root| draw_curves(root, results),
        &|root| draw_curves(root, results),
    )?);
    Ok(written)
}

type SvgArea<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type PngArea<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draw one figure into `<stem>.svg` and `<stem>.png`, each written atomically.
fn both(
    out_dir: &Path,
    stem: &str,
    size: (u32, u32),
    draw_svg: &dyn Fn(&SvgArea<'_>) -> Result<(), String>,
    draw_png: &dyn Fn(&PngArea<'_>) -> Result<(), String>,
) -> Result<Vec<PathBuf>, StudyError> {
    let svg_path = out_dir.join(format!("{stem}.svg"));
    let plot_err = |path: &Path| {
        let path = path.to_path_buf();
        move |message: String| StudyError::Plot {
            path: path.clone(),
            message,
        }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_svg(&root).map_err(plot_err(&svg_path))?;
        root.present()
            .map_err(|e| plot_err(&svg_path)(e.to_string()))?;
    }
    crate::atomic_file::write_atomically(&svg_path, svg.as_bytes())
        .map_err(write_err(&svg_path))?;

    let png_path = out_dir.join(format!("{stem}.png"));
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw_png(&root).map_err(plot_err(&png_path))?;
        root.present()
            .map_err(|e| plot_err(&png_path)(e.to_string()))?;
    }
    let mut file =
        crate::atomic_file::AtomicFile::create(&png_path).map_err(write_err(&png_path))?;
    {
        let mut encoder = png::Encoder::new(file.writer(), size.0, size.1);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| plot_err(&png_path)(e.to_string()))?;
        writer
            .write_image_data(&rgb)
            .map_err(|e| plot_err(&png_path)(e.to_string()))?;
    }
    file.commit().map_err(write_err(&png_path))?;
    Ok(vec![png_path, svg_path])
}

fn colour(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

fn draw_eer<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &StudyResults,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let sets: Vec<&String> = r.test_sets.keys().collect();
    let panels = root.split_evenly((1, sets.len().max(1)));
    let names: Vec<String> = r.conditions.iter().map(|c| c.name.clone()).collect();
    let n = names.len();
    // Side by side, more than a few names overlap under their points: then they stand upright,
    // and the label area grows with the longest.
    let longest = names.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let upright = n * longest > 60;
    let (label_area_px, label_style) = if upright {
        let style = ("sans-serif", 12)
            .into_font()
            .transform(FontTransform::Rotate90);
        (12 + 6 * longest as u32, style)
    } else {
        (40, ("sans-serif", 12).into_font())
    };
    for (panel, set) in panels.iter().zip(&sets) {
        // Upper end of the axis: the largest interval end or seed value, in %.
        let mut top: f64 = 1.0;
        for c in &r.conditions {
            if let Some(s) = c.eer.get(*set) {
                top = top.max(s.ci95.map_or(s.mean, |[_, hi]| hi) * 100.0);
            }
            for run in &c.runs {
                if let Some(e) = run.eer.get(*set) {
                    top = top.max(e * 100.0);
                }
            }
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("EER on {set} (mean, 95 % CI, seeds)"),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(label_area_px)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top * 1.15)
            .map_err(|e| err(&e))?;
        let names_for_labels = names.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.max(1) * 2 + 1)
            .x_label_style(label_style.clone())
            .x_label_formatter(&move |x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    names_for_labels
                        .get(i as usize)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("EER (%)")
            .draw()
            .map_err(|e| err(&e))?;
        for (i, c) in r.conditions.iter().enumerate() {
            let col = colour(i);
            let x = i as f64;
            let seeds: Vec<(f64, f64)> = c
                .runs
                .iter()
                .filter_map(|run| run.eer.get(*set).map(|e| (x + 0.15, e * 100.0)))
                .collect();
            chart
                .draw_series(
                    seeds
                        .iter()
                        .map(|&p| Circle::new(p, 3, col.mix(0.6).filled())),
                )
                .map_err(|e| err(&e))?;
            if let Some(s) = c.eer.get(*set) {
                let m = s.mean * 100.0;
                if let Some([lo, hi]) = s.ci95 {
                    chart
                        .draw_series(std::iter::once(ErrorBar::new_vertical(
                            x,
                            lo * 100.0,
                            m,
                            hi * 100.0,
                            col.stroke_width(2),
                            12,
                        )))
                        .map_err(|e| err(&e))?;
                }
                chart
                    .draw_series(std::iter::once(Circle::new((x, m), 5, col.filled())))
                    .map_err(|e| err(&e))?;
            }
        }
    }
    Ok(())
}

/// Which curve of a condition a panel shows.
type CurveOf = fn(&super::ConditionResults) -> &Curve;

fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &StudyResults,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((2, 1));
    let pick: [(&str, CurveOf); 2] = [
        ("conflict fraction (%)", |c| &c.curves.conflict_frac),
        ("dev EER (%)", |c| &c.curves.dev_eer),
    ];
    for (panel, (title, curve_of)) in panels.iter().zip(pick) {
        let max_epoch = r
            .conditions
            .iter()
            .map(|c| c.curves.epoch.len())
            .max()
            .unwrap_or(0)
            .max(2);
        let mut top: f64 = 1.0;
        for c in &r.conditions {
            let cv = curve_of(c);
            for (m, s) in cv.mean.iter().zip(&cv.std) {
                if let Some(m) = m {
                    top = top.max((m + s.unwrap_or(0.0)) * 100.0);
                }
            }
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{title} per epoch (mean ± 1 sd over seeds)"),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..(max_epoch - 1) as f64, 0f64..top * 1.1)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(title)
            .draw()
            .map_err(|e| err(&e))?;
        for (i, c) in r.conditions.iter().enumerate() {
            let col = colour(i);
            let cv = curve_of(c);
            let points: Vec<(f64, f64, f64)> = cv
                .mean
                .iter()
                .zip(&cv.std)
                .enumerate()
                .filter_map(|(e, (m, s))| {
                    m.map(|m| (e as f64, m * 100.0, s.unwrap_or(0.0) * 100.0))
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            let mut band: Vec<(f64, f64)> = points.iter().map(|&(x, m, s)| (x, m + s)).collect();
            band.extend(points.iter().rev().map(|&(x, m, s)| (x, (m - s).max(0.0))));
            chart
                .draw_series(std::iter::once(Polygon::new(band, col.mix(0.2).filled())))
                .map_err(|e| err(&e))?;
            // Markers too: a run of one epoch has no line to draw.
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&(x, m, _)| Circle::new((x, m), 3, col.filled())),
                )
                .map_err(|e| err(&e))?;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|&(x, m, _)| (x, m)),
                    col.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(c.name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], col.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    Ok(())
}
