//! Plot data for the train view: contiguous series with a min/max pyramid, so that a curve of
//! millions of iterations is reduced to a couple of points per pixel column in time proportional
//! to the number of columns, not of points; and [`RunCurves`], every curve of one run, fed from
//! training events (live) or from a run folder's `metrics.jsonl`/`epochs.jsonl` (overlays).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use egui_plot::PlotPoint;

use super::heatmap::LayerGrid;
use crate::train::{EpochMetrics, LayerCos, StepMetrics};

/// Raw points summarised by one leaf of the min/max pyramid.
const LEAF_POINTS: usize = 16;

/// Iterations in the running window of the conflict fraction.
pub const CONFLICT_WINDOW: usize = 50;

/// One curve: x ascending (iterations), y finite; stored contiguously.
#[derive(Clone, Debug, Default)]
pub struct Series {
    xs: Vec<f64>,
    ys: Vec<f64>,
    /// `levels[k][i]` = `[min, max]` of `ys` over indices `[i·L·2^k, (i+1)·L·2^k)`, L = 16.
    levels: Vec<Vec<[f64; 2]>>,
}

fn widen(acc: &mut [f64; 2], v: [f64; 2]) {
    acc[0] = acc[0].min(v[0]);
    acc[1] = acc[1].max(v[1]);
}

impl Series {
    /// Appends a point; non-finite values and x going backwards are skipped (a gap).
    pub fn push(&mut self, x: f64, y: f64) {
        if !x.is_finite() || !y.is_finite() || self.xs.last().is_some_and(|&last| x < last) {
            return;
        }
        self.xs.push(x);
        self.ys.push(y);
        let n = self.ys.len();
        if !n.is_multiple_of(LEAF_POINTS) {
            return;
        }
        let mut leaf = [f64::INFINITY, f64::NEG_INFINITY];
        for &v in &self.ys[n - LEAF_POINTS..] {
            widen(&mut leaf, [v, v]);
        }
        let mut k = 0;
        let mut node = leaf;
        loop {
            if self.levels.len() == k {
                self.levels.push(Vec::new());
            }
            self.levels[k].push(node);
            let level = &self.levels[k];
            if !level.len().is_multiple_of(2) {
                break;
            }
            let mut parent = level[level.len() - 2];
            widen(&mut parent, level[level.len() - 1]);
            node = parent;
            k += 1;
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.xs.len()
    }

    /// Whether the series has no points.
    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// The last point.
    pub fn last(&self) -> Option<[f64; 2]> {
        Some([*self.xs.last()?, *self.ys.last()?])
    }

    /// The x values.
    pub fn xs(&self) -> &[f64] {
        &self.xs
    }

    /// The y values.
    pub fn ys(&self) -> &[f64] {
        &self.ys
    }

    /// `[min, max]` of y over the indices `lo..hi` (None when empty).
    pub fn min_max(&self, lo: usize, hi: usize) -> Option<[f64; 2]> {
        let hi = hi.min(self.ys.len());
        if lo >= hi {
            return None;
        }
        let mut acc = [f64::INFINITY, f64::NEG_INFINITY];
        let first_leaf = lo.div_ceil(LEAF_POINTS);
        let end_leaf = hi / LEAF_POINTS;
        if first_leaf >= end_leaf {
            for &v in &self.ys[lo..hi] {
                widen(&mut acc, [v, v]);
            }
            return Some(acc);
        }
        for &v in self.ys[lo..first_leaf * LEAF_POINTS]
            .iter()
            .chain(&self.ys[end_leaf * LEAF_POINTS..hi])
        {
            widen(&mut acc, [v, v]);
        }
        // Bottom-up segment-tree walk: level k+1 holds pairs of level k, so an even bound at
        // level k is a valid bound at level k+1.
        let (mut a, mut b) = (first_leaf, end_leaf);
        let mut k = 0;
        while a < b {
            let level = &self.levels[k];
            if a % 2 == 1 {
                widen(&mut acc, level[a]);
                a += 1;
            }
            if b % 2 == 1 {
                b -= 1;
                widen(&mut acc, level[b]);
            }
            a /= 2;
            b /= 2;
            k += 1;
        }
        Some(acc)
    }

    /// Points to draw for the x range `[x_min, x_max]` at about `buckets` columns: the raw points
    /// when there are few, else per column its minimum and maximum (so spikes stay visible), plus
    /// one point either side so lines reach the plot's edges. Clears `out` first.
    pub fn decimate(&self, x_min: f64, x_max: f64, buckets: usize, out: &mut Vec<PlotPoint>) {
        out.clear();
        let n = self.xs.len();
        if n == 0 || x_max.partial_cmp(&x_min) != Some(std::cmp::Ordering::Greater) {
            out.extend(
                self.xs
                    .iter()
                    .zip(&self.ys)
                    .map(|(&x, &y)| PlotPoint { x, y }),
            );
            return;
        }
        let lo = self.xs.partition_point(|&x| x < x_min).saturating_sub(1);
        let hi = (self.xs.partition_point(|&x| x <= x_max) + 1).min(n);
        let buckets = buckets.max(1);
        if hi - lo <= 2 * buckets {
            out.extend(
                self.xs[lo..hi]
                    .iter()
                    .zip(&self.ys[lo..hi])
                    .map(|(&x, &y)| PlotPoint { x, y }),
            );
            return;
        }
        let (x0, x1) = (self.xs[lo], self.xs[hi - 1]);
        let width = (x1 - x0) / buckets as f64;
        let mut start = lo;
        for j in 0..buckets {
            let end = if j + 1 == buckets {
                hi
            } else {
                let edge = x0 + width * (j + 1) as f64;
                start + self.xs[start..hi].partition_point(|&x| x < edge)
            };
            if let Some([mn, mx]) = self.min_max(start, end) {
                let (xa, xb) = (self.xs[start], self.xs[end - 1]);
                // Alternate the order so that consecutive columns join without a full zigzag.
                let (first, second) = if j % 2 == 0 { (mn, mx) } else { (mx, mn) };
                out.push(PlotPoint { x: xa, y: first });
                out.push(PlotPoint { x: xb, y: second });
            }
            start = end;
        }
    }
}

/// Every curve of one run; x is the iteration (optimizer step) throughout.
#[derive(Clone, Debug, Default)]
pub struct RunCurves {
    pub loss_orig: Series,
    pub loss_aug: Series,
    /// Mean of the losses of the paths a step ran.
    pub loss_combined: Series,
    pub grad_cos: Series,
    /// `grad_cos` at the iterations where it was negative.
    pub conflicts: Series,
    /// Conflicting share of the last [`CONFLICT_WINDOW`] dual iterations.
    pub conflict_frac_window: Series,
    /// Conflicting share since the start of the epoch (as the trainer reports it).
    pub conflict_frac_epoch: Series,
    pub grad_norm_orig: Series,
    pub grad_norm_aug: Series,
    /// Per-epoch values, at the epoch's last iteration.
    pub train_loss: Series,
    pub dev_loss: Series,
    pub dev_eer: Series,
    pub epoch_conflict_frac: Series,
    pub layers: LayerGrid,
    /// Pairwise gradient cosines of the paths (`pair_cos` of dual runs).
    pub pairs: PairCurves,
    window: VecDeque<bool>,
    window_conflicts: usize,
}

/// One pair of paths over a run.
#[derive(Clone, Debug, Default)]
pub struct PairTrack {
    /// The pair's gradient cosine per iteration.
    pub cos: Series,
    /// The latest cosine.
    pub latest: f64,
    /// Steps seen and steps in conflict (cosine < 0) since the run started.
    pub steps: u64,
    pub conflicts: u64,
    recent: VecDeque<f64>,
}

impl PairTrack {
    /// Mean cosine over the last [`CONFLICT_WINDOW`] iterations.
    pub fn recent_mean(&self) -> f64 {
        self.recent.iter().sum::<f64>() / self.recent.len().max(1) as f64
    }

    /// Conflicting share of the last [`CONFLICT_WINDOW`] iterations.
    pub fn recent_conflict_frac(&self) -> f64 {
        self.recent.iter().filter(|&&c| c < 0.0).count() as f64 / self.recent.len().max(1) as f64
    }

    /// Conflicting share of every iteration seen.
    pub fn run_conflict_frac(&self) -> f64 {
        self.conflicts as f64 / self.steps.max(1) as f64
    }
}

/// The pairwise cosines of a K-path run, by pair key `"a|b"`.
#[derive(Clone, Debug, Default)]
pub struct PairCurves {
    /// Path names in the run's `train.paths` order.
    pub paths: Vec<String>,
    pub pairs: std::collections::BTreeMap<String, PairTrack>,
}

impl PairCurves {
    /// Adds one iteration's pair cosines.
    pub fn push(&mut self, step: u64, pair_cos: &crate::train::PathMap<f64>) {
        for (key, &cos) in pair_cos {
            let track = self.pairs.entry(key.clone()).or_default();
            track.cos.push(step as f64, cos);
            track.latest = cos;
            track.steps += 1;
            track.conflicts += u64::from(cos < 0.0);
            track.recent.push_back(cos);
            if track.recent.len() > CONFLICT_WINDOW {
                track.recent.pop_front();
            }
        }
        if self.paths.is_empty() || self.pairs.len() != pair_cos.len() {
            self.paths = path_order(self.pairs.keys());
        }
    }

    /// The track of paths `a` and `b`, whichever order the run lists them in.
    pub fn track(&self, a: &str, b: &str) -> Option<&PairTrack> {
        self.pairs
            .get(&crate::train::pair_key(a, b))
            .or_else(|| self.pairs.get(&crate::train::pair_key(b, a)))
    }
}

/// Path names from pair keys `"a|b"` (a listed before b): path k of the run is the right-hand
/// side of exactly k pairs, which restores the order the JSON object's sorted keys lost.
fn path_order<'a>(keys: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut right_count: std::collections::BTreeMap<&str, usize> = Default::default();
    for key in keys {
        if let Some((a, b)) = key.split_once('|') {
            right_count.entry(a).or_insert(0);
            *right_count.entry(b).or_insert(0) += 1;
        }
    }
    let mut names: Vec<(&str, usize)> = right_count.into_iter().collect();
    names.sort_by_key(|&(name, count)| (count, name));
    names.into_iter().map(|(n, _)| n.to_string()).collect()
}

/// Errors reading a run folder for an overlay.
#[derive(Debug, thiserror::Error)]
pub enum RunReadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

fn read_jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
    required: bool,
    mut each: impl FnMut(T),
) -> Result<(), RunReadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(RunReadError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|e| RunReadError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        each(value);
    }
    Ok(())
}

impl RunCurves {
    /// Adds one iteration's figures.
    pub fn push_step(&mut self, m: &StepMetrics) {
        let x = m.step as f64;
        let push = |s: &mut Series, v: Option<f64>| {
            if let Some(v) = v {
                s.push(x, v);
            }
        };
        push(&mut self.loss_orig, m.loss_orig);
        push(&mut self.loss_aug, m.loss_aug);
        let losses: Vec<f64> = [m.loss_orig, m.loss_aug].into_iter().flatten().collect();
        if !losses.is_empty() {
            self.loss_combined
                .push(x, losses.iter().sum::<f64>() / losses.len() as f64);
        }
        push(&mut self.grad_cos, m.grad_cos);
        push(&mut self.grad_norm_orig, m.grad_norm_orig);
        push(&mut self.grad_norm_aug, m.grad_norm_aug);
        push(&mut self.conflict_frac_epoch, m.conflict_frac);
        if let Some(pair_cos) = &m.pair_cos {
            self.pairs.push(m.step, pair_cos);
        }
        if let Some(conflict) = m.conflict {
            if conflict {
                push(&mut self.conflicts, m.grad_cos);
            }
            self.window.push_back(conflict);
            self.window_conflicts += usize::from(conflict);
            if self.window.len() > CONFLICT_WINDOW {
                let dropped = self.window.pop_front().unwrap_or(false);
                self.window_conflicts -= usize::from(dropped);
            }
            self.conflict_frac_window.push(
                x,
                self.window_conflicts as f64 / self.window.len().max(1) as f64,
            );
        }
    }

    /// Adds one epoch's figures.
    pub fn push_epoch(&mut self, e: &EpochMetrics) {
        let x = e.step as f64;
        self.train_loss.push(x, e.train_loss);
        self.dev_loss.push(x, e.dev_loss);
        self.dev_eer.push(x, e.dev_eer);
        if let Some(c) = e.conflict_frac {
            self.epoch_conflict_frac.push(x, c);
        }
    }

    /// Adds one per-layer cosine record.
    pub fn push_layer_cos(&mut self, l: &LayerCos) {
        self.layers.push(l);
    }

    /// Reads a finished or running run folder (`metrics.jsonl` required; `epochs.jsonl` and
    /// `layer_cos.jsonl` when present).
    pub fn from_run_dir(dir: &Path) -> Result<Self, RunReadError> {
        let mut curves = Self::default();
        let layout = crate::inference::RunLayout::new(dir);
        read_jsonl(&layout.metrics(), true, |m: StepMetrics| {
            curves.push_step(&m)
        })?;
        read_jsonl(&layout.epochs(), false, |e: EpochMetrics| {
            curves.push_epoch(&e)
        })?;
        read_jsonl(&layout.layer_cos(), false, |l: LayerCos| {
            curves.push_layer_cos(&l)
        })?;
        Ok(curves)
    }

    /// Iterations seen.
    pub fn num_steps(&self) -> usize {
        self.loss_combined.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_curves_restore_the_path_order_and_count_conflicts() {
        let mut pairs = PairCurves::default();
        for step in 1..=4u64 {
            let map: crate::train::PathMap<f64> = [
                ("clean|zeta", -0.1 * step as f64),
                ("clean|alpha", 0.2),
                ("zeta|alpha", if step % 2 == 0 { -0.5 } else { 0.5 }),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            pairs.push(step, &map);
        }
        assert_eq!(pairs.paths, ["clean", "zeta", "alpha"]);
        let t = pairs.track("alpha", "zeta").unwrap();
        assert_eq!((t.steps, t.conflicts), (4, 2));
        assert_eq!(t.run_conflict_frac(), 0.5);
        assert_eq!(t.latest, -0.5);
        let t = pairs.track("clean", "zeta").unwrap();
        assert_eq!(t.recent_conflict_frac(), 1.0);
        assert!((t.recent_mean() + 0.25).abs() < 1e-12);
        assert_eq!(t.cos.len(), 4);
        assert!(pairs.track("clean", "nothing").is_none());
    }

    fn brute_min_max(ys: &[f64], lo: usize, hi: usize) -> Option<[f64; 2]> {
        let s = &ys[lo..hi.min(ys.len())];
        (!s.is_empty()).then(|| {
            [
                s.iter().copied().fold(f64::INFINITY, f64::min),
                s.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ]
        })
    }

    #[test]
    fn pyramid_min_max_equals_a_scan_for_every_range_shape() {
        let mut s = Series::default();
        let mut rng = crate::rng::Rng::new(5);
        for i in 0..1000 {
            s.push(i as f64, rng.uniform(-5.0, 5.0));
        }
        let ys = s.ys().to_vec();
        for lo in (0..1000).step_by(7) {
            for hi in (lo..1010).step_by(13) {
                assert_eq!(s.min_max(lo, hi), brute_min_max(&ys, lo, hi), "{lo}..{hi}");
            }
        }
    }

    #[test]
    fn decimation_keeps_extremes_and_is_bounded() {
        let mut s = Series::default();
        for i in 0..100_000 {
            let y = if i == 54_321 {
                100.0
            } else {
                (i as f64 * 0.01).sin()
            };
            s.push(i as f64, y);
        }
        let mut out = Vec::new();
        s.decimate(0.0, 99_999.0, 500, &mut out);
        assert!(out.len() <= 1000, "{}", out.len());
        assert!(out.iter().any(|p| p.y == 100.0));
        assert!(out.windows(2).all(|w| w[0].x <= w[1].x));
        // Zoomed in: the raw points of the range plus one either side.
        s.decimate(10.0, 20.0, 500, &mut out);
        let xs: Vec<f64> = out.iter().map(|p| p.x).collect();
        assert_eq!(xs, (9..=21).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn non_finite_values_and_backward_x_are_gaps() {
        let mut s = Series::default();
        s.push(1.0, 0.5);
        s.push(2.0, f64::NAN);
        s.push(0.5, 1.0);
        s.push(3.0, 0.25);
        assert_eq!(s.xs(), &[1.0, 3.0]);
        assert_eq!(s.last(), Some([3.0, 0.25]));
    }

    #[test]
    fn running_conflict_window_counts_the_last_iterations() {
        let mut c = RunCurves::default();
        for step in 1..=(CONFLICT_WINDOW as u64 + 10) {
            let cos = if step <= 10 { -0.5 } else { 0.5 };
            c.push_step(&StepMetrics {
                step,
                epoch: 0,
                loss_orig: Some(1.0),
                loss_aug: Some(3.0),
                grad_norm_orig: Some(1.0),
                grad_norm_aug: Some(2.0),
                grad_cos: Some(cos),
                conflict: Some(cos < 0.0),
                conflict_frac: None,
                lr: 1e-3,
                step_time_ms: 1.0,
                path_loss: None,
                path_grad_norm: None,
                pair_cos: None,
                pair_conflict: None,
            });
        }
        assert_eq!(c.conflicts.len(), 10);
        assert_eq!(c.loss_combined.last(), Some([60.0, 2.0]));
        // Steps 11..=60 are the window: no conflicts left in it.
        assert_eq!(c.conflict_frac_window.last(), Some([60.0, 0.0]));
        assert_eq!(c.conflict_frac_window.ys()[9], 1.0);
        assert_eq!(c.conflict_frac_window.ys()[CONFLICT_WINDOW - 1], 0.2);
    }
}
