//! Gradient alignment for K ≥ 2 training paths: path 0 is the clean path, paths 1..K−1 are
//! augmentation pipelines, and every step hands one flat gradient and one loss per path to
//! [`GradientAligner::combine_paths`](super::align::GradientAligner::combine_paths).
//!
//! Every method here is planned from the K×K Gram matrix of the gradients (accumulated in `f64`)
//! and written as one linear combination `Σ_k w_k·g_k` (per parameter group for GradVac), so the
//! cost is K(K+1)/2 dot products plus one K-term write over the parameters, whatever the method.
//! For K = 2 the five methods of the DPDA paper keep their two-path code in [`super::align`]
//! (bit for bit); for K ≥ 3 they follow LibMTL's implementations (`LibMTL/weighting/*.py`), which
//! `scripts/libmtl_align_reference.py` runs to produce the fixtures the tests compare with. The
//! small problems on the simplex (CAGrad, MGDA), the Nash bargaining weights and the eigen-
//! decomposition of Aligned-MTL are solved here in `f64` without external solvers.
//!
//! Scale of the result: `none`, `pcgrad`, `gradvac` and `cosine-gated` are on the scale of the
//! mean gradient (LibMTL's PCGrad and GradVac return the sum of the K modified gradients; we
//! divide by K as the two-path methods do); `cagrad`, `mgda`, `imtl-g` and `famo` combine with
//! weights summing to one (CAGrad then rescaled by `1/(1 + c²)`); `aligned-mtl`, `config` and
//! `nash-mtl` keep their authors' scales, as LibMTL and `conflictfree` return them: Aligned-MTL's
//! `√λ_min`-scaled sum, ConFIG's sum of projections, Nash-MTL's `Gα = 1/α` weights with the
//! result clipped to norm 1.

use serde::{Deserialize, Serialize};

use super::align::{
    cagrad_plan, cagrad_reference_plan, gradvac_plan, mean_plan, mgda_plan, pcgrad_plan,
    AlignMethod, CaGradSolver, GradVacGranularity, GradVacTarget, Gram, Plan2,
};
use crate::nn::flat::FlatLayout;
use crate::rng::Rng;

/// Epsilon LibMTL adds to norms and square roots (`1e-8` throughout its weighting classes).
const LIBMTL_EPS: f64 = 1e-8;

/// Most paths the exact simplex solvers enumerate supports for (2^K − 1 small systems); above
/// it CAGrad keeps its starting weight `x = 1/K` and MGDA returns the mean.
pub const MAX_EXACT_PATHS: usize = 12;

/// Seed of the shuffle generator of a fresh aligner (PCGrad's and GradVac's task orders).
pub const DEFAULT_SHUFFLE_SEED: u64 = 0x0a11_9e5d;

/// What one K-path combination saw and did, for logging and conflict statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PathsStats {
    /// Number of paths K.
    pub num_paths: usize,
    /// The K×K Gram matrix `gram[i·K + j] = g_i·g_j`, row-major, accumulated in `f64`.
    pub gram: Vec<f64>,
    /// Whether the method changed anything relative to the plain mean.
    pub adjusted: bool,
    /// Norm of the combined gradient written to `out`.
    pub norm_combined: f64,
    /// The coefficient of each path when the result is one linear combination `Σ w_k·g_k`
    /// (`None` for GradVac with more than one parameter group).
    pub weights: Option<Vec<f64>>,
}

impl PathsStats {
    /// `g_i·g_j`.
    pub fn dot(&self, i: usize, j: usize) -> f64 {
        self.gram[i * self.num_paths + j]
    }

    /// Euclidean norm of path `i`'s gradient.
    pub fn norm(&self, i: usize) -> f64 {
        self.dot(i, i).max(0.0).sqrt()
    }

    /// Cosine between paths `i` and `j` (0 when either gradient is zero).
    pub fn cos(&self, i: usize, j: usize) -> f64 {
        let denom = self.norm(i) * self.norm(j);
        if denom > 0.0 {
            self.dot(i, j) / denom
        } else {
            0.0
        }
    }

    /// Number of path pairs `i < j` whose gradients conflict (negative dot product).
    pub fn conflict_pairs(&self) -> usize {
        let k = self.num_paths;
        (0..k)
            .flat_map(|i| (i + 1..k).map(move |j| (i, j)))
            .filter(|&(i, j)| self.dot(i, j) < 0.0)
            .count()
    }
}

/// FAMO's learned task logits and the state of their Adam optimizer (PyTorch's `Adam`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FamoState {
    /// Task logits `w` (start at 0); the weights are `softmax(w)`.
    pub logits: Vec<f64>,
    /// Adam's first moment of `w`.
    pub adam_m: Vec<f64>,
    /// Adam's second moment of `w`.
    pub adam_v: Vec<f64>,
    /// Adam steps taken.
    pub adam_steps: u64,
    /// The losses of the last [`combine_paths`](super::align::GradientAligner::combine_paths),
    /// kept for the update in `after_step`.
    pub prev_losses: Option<Vec<f64>>,
}

/// The state of the K-path methods, saved with checkpoints inside the aligner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathsState {
    /// Generator of PCGrad's and GradVac's random task orders; saved so resumed runs shuffle
    /// exactly as an uninterrupted one.
    #[serde(default = "default_shuffle_rng")]
    pub shuffle_rng: Rng,
    /// GradVac with two paths and several groups: one target per group (as the two-path
    /// method, whose ordered pairs share one target).
    #[serde(default)]
    pub gradvac_group_targets: Vec<GradVacTarget>,
    /// GradVac with K ≥ 3 paths: LibMTL's `rho_T[i, j, group]`, row-major over
    /// `[K, K, groups]`.
    #[serde(default)]
    pub gradvac_pair_targets: Vec<f64>,
    /// `[K, groups]` of `gradvac_pair_targets` (a change of either starts the targets afresh).
    #[serde(default)]
    pub gradvac_pair_shape: [usize; 2],
    /// Nash-MTL's last weights α (the warm start of the next solve; reused between updates).
    #[serde(default)]
    pub nash_alpha: Vec<f64>,
    /// Nash-MTL's step counter (weights are solved when it is a multiple of
    /// `update_weights_every`).
    #[serde(default)]
    pub nash_steps: u64,
    /// FAMO's logits and optimizer.
    #[serde(default)]
    pub famo: FamoState,
}

fn default_shuffle_rng() -> Rng {
    Rng::new(DEFAULT_SHUFFLE_SEED)
}

impl Default for PathsState {
    fn default() -> Self {
        PathsState {
            shuffle_rng: default_shuffle_rng(),
            gradvac_group_targets: Vec::new(),
            gradvac_pair_targets: Vec::new(),
            gradvac_pair_shape: [0, 0],
            nash_alpha: Vec::new(),
            nash_steps: 0,
            famo: FamoState::default(),
        }
    }
}

/// `a·b` in `f64` with eight independent lanes (vectorisable, as the two-path Gram).
fn dot_lanes(a: &[f32], b: &[f32]) -> f64 {
    const LANES: usize = 8;
    let mut acc = [0.0f64; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for lane in 0..LANES {
            acc[lane] += f64::from(x[lane]) * f64::from(y[lane]);
        }
    }
    let mut sum: f64 = acc.iter().sum();
    for (&x, &y) in ra.iter().zip(rb) {
        sum += f64::from(x) * f64::from(y);
    }
    sum
}

/// The K×K Gram matrix of `grads` restricted to `spans` (`(offset, len)` pieces), row-major.
fn gram_over(grads: &[&[f32]], spans: &[(usize, usize)]) -> Vec<f64> {
    let k = grads.len();
    let mut gram = vec![0.0; k * k];
    for i in 0..k {
        for j in i..k {
            let v: f64 = spans
                .iter()
                .map(|&(o, l)| dot_lanes(&grads[i][o..o + l], &grads[j][o..o + l]))
                .sum();
            gram[i * k + j] = v;
            gram[j * k + i] = v;
        }
    }
    gram
}

/// The K×K Gram matrix of whole gradients, row-major, in `f64`.
///
/// # Panics
/// If the gradients do not all have the same length (a trainer bug).
pub fn gram_matrix(grads: &[&[f32]]) -> Vec<f64> {
    let n = grads.first().map_or(0, |g| g.len());
    for (k, g) in grads.iter().enumerate() {
        assert_eq!(
            g.len(),
            n,
            "gradient of path {k} has {} elements, path 0 {n}: all paths must flatten the same \
             parameters",
            g.len()
        );
    }
    gram_over(grads, &[(0, n)])
}

/// `v > 0`, false for NaN: the guard before dividing by a norm or a sum.
fn is_positive(v: f64) -> bool {
    v > 0.0
}

/// `wᵀGw` for a row-major K×K `gram`.
fn quad(gram: &[f64], w: &[f64]) -> f64 {
    let k = w.len();
    let mut s = 0.0;
    for i in 0..k {
        for j in 0..k {
            s += w[i] * gram[i * k + j] * w[j];
        }
    }
    s
}

/// `(G w)_i`.
fn mat_vec(gram: &[f64], w: &[f64]) -> Vec<f64> {
    let k = w.len();
    (0..k)
        .map(|i| (0..k).map(|j| gram[i * k + j] * w[j]).sum())
        .collect()
}

/// `out[o..o+l] = Σ_k w_k·g_k[o..o+l]` for each span, in `f32` with the coefficients rounded to
/// `f32` (as the two-path writer does).
fn write_linear(grads: &[&[f32]], weights: &[f64], spans: &[(usize, usize)], out: &mut [f32]) {
    for &(o, l) in spans {
        let dst = &mut out[o..o + l];
        let c0 = weights[0] as f32;
        for (d, &x) in dst.iter_mut().zip(&grads[0][o..o + l]) {
            *d = c0 * x;
        }
        for (g, &w) in grads.iter().zip(weights).skip(1) {
            let c = w as f32;
            for (d, &x) in dst.iter_mut().zip(&g[o..o + l]) {
                *d += c * x;
            }
        }
    }
}

/// Parameter groups of a layout at a GradVac granularity, each a list of `(offset, len)`.
pub fn parameter_groups(
    layout: &FlatLayout,
    granularity: GradVacGranularity,
    total_len: usize,
) -> Vec<Vec<(usize, usize)>> {
    match granularity {
        GradVacGranularity::Whole => vec![vec![(0, total_len)]],
        GradVacGranularity::Tensor => layout
            .entries
            .iter()
            .map(|(_, offset, len, _)| vec![(*offset, *len)])
            .collect(),
        GradVacGranularity::Layer => {
            // Tensors of one layer share the name up to the last '.' ("conv1.weight",
            // "conv1.bias"); groups keep the order of their first tensor.
            let mut names: Vec<&str> = Vec::new();
            let mut groups: Vec<Vec<(usize, usize)>> = Vec::new();
            for (name, offset, len, _) in &layout.entries {
                let layer = name.rsplit_once('.').map_or(name.as_str(), |(l, _)| l);
                match names.iter().position(|n| *n == layer) {
                    Some(g) => groups[g].push((*offset, *len)),
                    None => {
                        names.push(layer);
                        groups.push(vec![(*offset, *len)]);
                    }
                }
            }
            groups
        }
    }
}

/// The solution of the KKT system of a simplex problem restricted to `support`:
/// `[G_SS 1; 1ᵀ 0] [x_S; −ν] = [rhs_S; rhs_sum]`, or `None` when it is singular (the gradients of
/// the support are affinely dependent).
fn kkt_solve(
    g: &[f64],
    k: usize,
    support: &[usize],
    rhs: &[f64],
    rhs_sum: f64,
) -> Option<Vec<f64>> {
    let m = support.len();
    let size = m + 1;
    let mut kkt = vec![0.0; size * size];
    for (a, &i) in support.iter().enumerate() {
        for (b, &j) in support.iter().enumerate() {
            kkt[a * size + b] = g[i * k + j];
        }
        kkt[a * size + m] = 1.0;
        kkt[m * size + a] = 1.0;
    }
    let mut b: Vec<f64> = support.iter().map(|&i| rhs[i]).collect();
    b.push(rhs_sum);
    solve_linear(&kkt, &b).map(|sol| sol[..m].to_vec())
}

/// The supports tried by the exact simplex solvers: every non-empty subset of `0..k`.
fn supports(k: usize) -> impl Iterator<Item = Vec<usize>> {
    (1u32..(1 << k)).map(move |mask| (0..k).filter(|&i| mask & (1 << i) != 0).collect())
}

/// Solves `a·x = b` (n×n row-major) by Gaussian elimination with partial pivoting; `None` when
/// a pivot is below `1e-14` of the largest entry (numerically singular).
fn solve_linear(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut m = a.to_vec();
    let mut x = b.to_vec();
    let scale = m.iter().map(|v| v.abs()).fold(0.0, f64::max);
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&r, &s| m[r * n + col].abs().total_cmp(&m[s * n + col].abs()))?;
        if m[pivot * n + col].abs() <= 1e-14 * scale {
            return None;
        }
        if pivot != col {
            for c in 0..n {
                m.swap(pivot * n + c, col * n + c);
            }
            x.swap(pivot, col);
        }
        for r in col + 1..n {
            let f = m[r * n + col] / m[col * n + col];
            for c in col..n {
                m[r * n + c] -= f * m[col * n + c];
            }
            x[r] -= f * x[col];
        }
    }
    for col in (0..n).rev() {
        let mut s = x[col];
        for c in col + 1..n {
            s -= m[col * n + c] * x[c];
        }
        x[col] = s / m[col * n + col];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Eigenvalues and eigenvectors (columns of the row-major `vectors`) of a symmetric n×n matrix
/// by cyclic Jacobi rotations, to an off-diagonal mass below 1e-30 of the matrix's.
fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let total: f64 = m.iter().map(|x| x * x).sum();
    for _ in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum();
        if off <= 1e-30 * total || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..n {
                    let (mrp, mrq) = (m[r * n + p], m[r * n + q]);
                    m[r * n + p] = c * mrp - s * mrq;
                    m[r * n + q] = s * mrp + c * mrq;
                }
                for r in 0..n {
                    let (mpr, mqr) = (m[p * n + r], m[q * n + r]);
                    m[p * n + r] = c * mpr - s * mqr;
                    m[q * n + r] = s * mpr + c * mqr;
                }
                for r in 0..n {
                    let (vrp, vrq) = (v[r * n + p], v[r * n + q]);
                    v[r * n + p] = c * vrp - s * vrq;
                    v[r * n + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    ((0..n).map(|i| m[i * n + i]).collect(), v)
}

/// PCGrad for K paths as in the original PCGrad (Yu et al. 2020) and LibMTL's `PCGrad`: for
/// each path i, `g_i′` starts at `g_i` and, for j over `orders[i]` (a permutation of all K paths,
/// i included as in both codes — a no-op since `g_i′·g_i ≥ 0` whenever it is reached), loses its
/// component along the *original* `g_j` when `g_i′·g_j < 0`. Returns the coefficients of the
/// **mean** of the `g_i′` (LibMTL sums; the mean keeps the scale of the two-path method) and
/// whether any projection happened. LibMTL's `+1e-8` in the divisor is left out as in the
/// two-path code: a conflict implies `‖g_j‖ > 0`.
pub(crate) fn pcgrad_weights(gram: &[f64], orders: &[Vec<usize>]) -> (Vec<f64>, bool) {
    let k = orders.len();
    let mut total = vec![0.0; k];
    let mut adjusted = false;
    for (i, order) in orders.iter().enumerate() {
        let mut a = vec![0.0; k];
        a[i] = 1.0;
        for &j in order {
            let d: f64 = (0..k).map(|m| a[m] * gram[m * k + j]).sum();
            if d < 0.0 {
                a[j] -= d / gram[j * k + j];
                adjusted = true;
            }
        }
        for m in 0..k {
            total[m] += a[m];
        }
    }
    (total.iter().map(|t| t / k as f64).collect(), adjusted)
}

/// GradVac for K ≥ 3 paths on one parameter group, as LibMTL's `GradVac.backward`: for each i,
/// over the other paths j in `orders[i]`, with `ρ = cos(g_i′, g_j)` of the *partly modified*
/// `g_i′` and the original `g_j`, if `ρ < ρ_T[i,j]` then
/// `g_i′ += g_j·‖g_i′‖(ρ_T√(1−ρ²) − ρ√(1−ρ_T²)) / (‖g_j‖√(1−ρ_T²) + 1e-8)`; then, whatever ρ,
/// `ρ_T[i,j] ← (1−β)ρ_T[i,j] + β·ρ` (GradVac's Algorithm 1; the two-path code of dpda_ga
/// updates only on positive cosines). Returns the coefficients of the mean of the `g_i′`
/// (LibMTL sums) and whether any lift happened. `targets[i·K + j]` is this group's `ρ_T`.
pub(crate) fn gradvac_group_weights(
    gram: &[f64],
    orders: &[Vec<usize>],
    targets: &mut [f64],
    beta: f64,
) -> (Vec<f64>, bool) {
    let k = orders.len();
    let mut total = vec![0.0; k];
    let mut adjusted = false;
    for (i, order) in orders.iter().enumerate() {
        let mut a = vec![0.0; k];
        a[i] = 1.0;
        for &j in order.iter().filter(|&&j| j != i) {
            let d: f64 = (0..k).map(|m| a[m] * gram[m * k + j]).sum();
            let norm_i = quad(gram, &a).max(0.0).sqrt();
            let norm_j = gram[j * k + j].max(0.0).sqrt();
            let rho = d / (norm_i * norm_j + LIBMTL_EPS);
            let rho_t = targets[i * k + j];
            if rho < rho_t {
                let sin = (1.0 - rho * rho).max(0.0).sqrt();
                let sin_t = (1.0 - rho_t * rho_t).max(0.0).sqrt();
                let w = norm_i * (rho_t * sin - rho * sin_t) / (norm_j * sin_t + LIBMTL_EPS);
                a[j] += w;
                adjusted = true;
            }
            targets[i * k + j] = (1.0 - beta) * rho_t + beta * rho;
        }
        for m in 0..k {
            total[m] += a[m];
        }
    }
    (total.iter().map(|t| t / k as f64).collect(), adjusted)
}

/// CAGrad for K paths (Liu et al. 2021; LibMTL's `CAGrad` with its defaults `calpha = c`,
/// `rescale = 1`): with `b = 1/K`, `c′ = c·√(mean(G) + 1e-8) + 1e-8`, the simplex weight `x`
/// minimises `f(x) = xᵀGb + c′√(xᵀGx + 1e-8)`; with `g_x = Σ x_k g_k` the result is
/// `(mean(g) + c′/(‖g_x‖ + 1e-8)·g_x) / (1 + c²)`. Returns the coefficients and `x`.
///
/// LibMTL calls scipy's SLSQP from `x = b`. Here the convex problem is solved exactly by
/// enumerating supports (K ≤ 8 paths): on a support S the stationarity condition
/// `Gb + t·Gx = μ1` with `t = c′/√(xᵀGx + 1e-8)` is linear in `x` for fixed `s = 1/t`, so
/// `x(s) = x₀ + s·v` from two KKT solves, and `t·√(xᵀGx + 1e-8) = c′` becomes the quadratic
/// `(c′² − vᵀGv)s² − 2(x₀ᵀGv)s − (x₀ᵀGx₀ + 1e-8) = 0`. Every non-negative candidate is
/// evaluated and the least `f` wins (the minimiser is among them: it lies on an affinely
/// independent support).
pub(crate) fn cagrad_weights(gram: &[f64], c: f64) -> (Vec<f64>, Vec<f64>) {
    let k = (gram.len() as f64).sqrt().round() as usize;
    let mean_gram = gram.iter().sum::<f64>() / gram.len() as f64;
    let c_prime = c * (mean_gram + LIBMTL_EPS).sqrt() + LIBMTL_EPS;
    let b = vec![1.0 / k as f64; k];
    let gb = mat_vec(gram, &b);
    let objective = |x: &[f64]| {
        x.iter().zip(&gb).map(|(a, b)| a * b).sum::<f64>()
            + c_prime * (quad(gram, x).max(0.0) + LIBMTL_EPS).sqrt()
    };
    let neg_gb: Vec<f64> = gb.iter().map(|v| -v).collect();
    let zeros = vec![0.0; k];
    let mut best = (objective(&b), b.clone());
    let all = if k <= MAX_EXACT_PATHS { k } else { 0 };
    for support in supports(all) {
        let (Some(x0), Some(v)) = (
            kkt_solve(gram, k, &support, &zeros, 1.0),
            kkt_solve(gram, k, &support, &neg_gb, 0.0),
        ) else {
            continue;
        };
        let mut full_x0 = vec![0.0; k];
        let mut full_v = vec![0.0; k];
        for (a, &i) in support.iter().enumerate() {
            full_x0[i] = x0[a];
            full_v[i] = v[a];
        }
        let q0 = quad(gram, &full_x0) + LIBMTL_EPS;
        let cross: f64 = full_x0
            .iter()
            .zip(mat_vec(gram, &full_v))
            .map(|(a, b)| a * b)
            .sum();
        let qa = c_prime * c_prime - quad(gram, &full_v);
        let roots: Vec<f64> = if qa.abs() < 1e-300 {
            if cross != 0.0 {
                vec![-q0 / (2.0 * cross)]
            } else {
                vec![]
            }
        } else {
            let disc = cross * cross + qa * q0;
            if disc < 0.0 {
                vec![]
            } else {
                let r = disc.sqrt();
                vec![(cross + r) / qa, (cross - r) / qa]
            }
        };
        for s in roots.into_iter().filter(|s| *s >= 0.0 && s.is_finite()) {
            let mut x: Vec<f64> = full_x0
                .iter()
                .zip(&full_v)
                .map(|(a, b)| a + s * b)
                .collect();
            if x.iter().any(|&v| v < -1e-12) {
                continue;
            }
            x.iter_mut().for_each(|v| *v = v.max(0.0));
            let sum: f64 = x.iter().sum();
            if !is_positive(sum) {
                continue;
            }
            x.iter_mut().for_each(|v| *v /= sum);
            let value = objective(&x);
            if value < best.0 {
                best = (value, x);
            }
        }
    }
    let x = best.1;
    let lambda = c_prime / (quad(gram, &x).max(0.0).sqrt() + LIBMTL_EPS);
    let scale = 1.0 / (1.0 + c * c);
    let weights = x
        .iter()
        .map(|&xi| (1.0 / k as f64 + lambda * xi) * scale)
        .collect();
    (weights, x)
}

/// MGDA for K paths (Sener & Koltun 2018; LibMTL's `MGDA` with its default `mgda_gn = "none"`):
/// the minimum-norm point `Σ x_k g_k` of the convex hull, `x` on the simplex. LibMTL runs the
/// Frank-Wolfe loop of the official code (250 iterations, stop at a change below 1e-5); here the
/// quadratic is solved exactly: the minimum lies on the hull of an affinely independent subset
/// of the gradients, where it solves the KKT system `G_SS x_S = μ1, 1ᵀx_S = 1`, so every subset
/// is tried (K ≤ 8 paths: at most 255 systems of at most 9 unknowns) and the feasible solution
/// of least norm wins. Its norm is at most LibMTL's.
pub(crate) fn mgda_weights(gram: &[f64]) -> Vec<f64> {
    let k = (gram.len() as f64).sqrt().round() as usize;
    let centre = vec![1.0 / k as f64; k];
    // Scale to unit mean diagonal so the singularity test of the solver is relative.
    let scale = (0..k).map(|i| gram[i * k + i]).sum::<f64>() / k as f64;
    if !(scale > 0.0 && scale.is_finite()) || k > MAX_EXACT_PATHS {
        return centre;
    }
    let g: Vec<f64> = gram.iter().map(|v| v / scale).collect();
    let mut best: Option<(f64, Vec<f64>)> = None;
    let zeros = vec![0.0; k];
    for support in supports(k) {
        let Some(sol) = kkt_solve(&g, k, &support, &zeros, 1.0) else {
            continue;
        };
        if sol.iter().any(|&v| v < -1e-12) {
            continue;
        }
        let mut x = vec![0.0; k];
        for (a, &i) in support.iter().enumerate() {
            x[i] = sol[a].max(0.0);
        }
        let sum: f64 = x.iter().sum();
        x.iter_mut().for_each(|v| *v /= sum);
        let value = quad(&g, &x);
        if best.as_ref().is_none_or(|(b, _)| value < *b) {
            best = Some((value, x));
        }
    }
    best.map_or(centre, |(_, x)| x)
}

/// IMTL-G (Liu et al., ICLR 2021; LibMTL's `IMTL` gradient part): with `u_k = g_k/‖g_k‖`,
/// `D = [g₀ − g_k]_{k≥1}` and `U = [u₀ − u_k]_{k≥1}`, `α_{1..} = g₀Uᵀ(DUᵀ)⁻¹`,
/// `α₀ = 1 − Σα_{1..}`; the result `Σ α_k g_k` has equal projections on every `u_k`. LibMTL's
/// learnable loss scales (IMTL-L) start at 0, i.e. leave the losses as they are, and are not part
/// of the gradient combination. `None` when a gradient is zero or `DUᵀ` is singular (LibMTL
/// would produce NaN).
pub(crate) fn imtl_g_weights(gram: &[f64]) -> Option<Vec<f64>> {
    let k = (gram.len() as f64).sqrt().round() as usize;
    let norms: Vec<f64> = (0..k).map(|i| gram[i * k + i].max(0.0).sqrt()).collect();
    if !norms.iter().all(|&n| is_positive(n)) {
        return None;
    }
    let g = |i: usize, j: usize| gram[i * k + j];
    let m = k - 1;
    // (DUᵀ)_{ab} = (g₀ − g_a)·(u₀ − u_b); r_b = g₀·(u₀ − u_b), a, b ∈ 1..K.
    let mut dut = vec![0.0; m * m];
    for a in 1..k {
        for b in 1..k {
            dut[(a - 1) * m + (b - 1)] =
                g(0, 0) / norms[0] - g(0, b) / norms[b] - g(a, 0) / norms[0] + g(a, b) / norms[b];
        }
    }
    let r: Vec<f64> = (1..k)
        .map(|b| g(0, 0) / norms[0] - g(0, b) / norms[b])
        .collect();
    // α = r (DUᵀ)⁻¹  ⇔  (DUᵀ)ᵀ αᵀ = rᵀ.
    let mut transposed = vec![0.0; m * m];
    for a in 0..m {
        for b in 0..m {
            transposed[b * m + a] = dut[a * m + b];
        }
    }
    let alpha = solve_linear(&transposed, &r)?;
    let mut weights = Vec::with_capacity(k);
    weights.push(1.0 - alpha.iter().sum::<f64>());
    weights.extend(alpha);
    Some(weights)
}

/// Aligned-MTL (Senushkin et al., CVPR 2023; LibMTL's `Aligned_MTL`): with the eigen-
/// decomposition `G = VΛVᵀ`, eigenvalues above `max(λ)·K·ε_f32` kept (LibMTL's tolerance, with
/// float32's machine epsilon), `B = √λ_min · V Λ^{-1/2} Vᵀ` and weights `α = Σ_rows B`; the result
/// is `Σ α_k g_k` (a sum, on the scale LibMTL uses). `None` when every gradient is zero.
pub(crate) fn aligned_mtl_weights(gram: &[f64]) -> Option<Vec<f64>> {
    let k = (gram.len() as f64).sqrt().round() as usize;
    let (values, vectors) = symmetric_eigen(gram, k);
    let max_value = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tol = max_value * k as f64 * f64::from(f32::EPSILON);
    let kept: Vec<usize> = (0..k).filter(|&i| values[i] > tol).collect();
    let lambda_min = kept
        .iter()
        .map(|&i| values[i])
        .fold(f64::INFINITY, f64::min);
    if kept.is_empty() || !is_positive(lambda_min) {
        return None;
    }
    let mut weights = vec![0.0; k];
    for (j, w) in weights.iter_mut().enumerate() {
        // α_j = Σ_i B_ij = √λ_min Σ_e V_je/√λ_e Σ_i V_ie.
        *w = lambda_min.sqrt()
            * kept
                .iter()
                .map(|&e| {
                    let col_sum: f64 = (0..k).map(|i| vectors[i * k + e]).sum();
                    vectors[j * k + e] * col_sum / values[e].sqrt()
                })
                .sum::<f64>();
    }
    Some(weights)
}

/// ConFIG (Liu et al., ICLR 2025; the `conflictfree` package's `ConFIG_update` with its defaults
/// `EqualWeight`, `ProjectionLength`, least squares): with unit vectors `u_k = g_k/‖g_k‖` (zero
/// for a zero gradient), the direction `d = pinv(U)·1 = Σ β_k u_k` with `β = (UUᵀ)⁺1` has the same
/// projection on every `u_k`; the result is `(Σ_k g_k·d̂) d̂`, `d̂ = d/‖d‖` — the *sum* of the
/// projections, as the package defines it. The pseudo-inverse cuts eigenvalues below
/// `max(λ)·K·1e-15`.
pub(crate) fn config_weights(gram: &[f64]) -> Vec<f64> {
    let k = (gram.len() as f64).sqrt().round() as usize;
    let norms: Vec<f64> = (0..k).map(|i| gram[i * k + i].max(0.0).sqrt()).collect();
    let inv_norm: Vec<f64> = norms
        .iter()
        .map(|&n| if n > 0.0 { 1.0 / n } else { 0.0 })
        .collect();
    let mut unit_gram = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            unit_gram[i * k + j] = gram[i * k + j] * inv_norm[i] * inv_norm[j];
        }
    }
    let (values, vectors) = symmetric_eigen(&unit_gram, k);
    let max_value = values.iter().copied().fold(0.0, f64::max);
    let tol = max_value * k as f64 * 1e-15;
    // β = V diag(1/λ) Vᵀ 1 over the kept eigenvalues.
    let mut beta = vec![0.0; k];
    for e in (0..k).filter(|&e| values[e] > tol) {
        let proj: f64 = (0..k).map(|i| vectors[i * k + e]).sum::<f64>() / values[e];
        for (i, b) in beta.iter_mut().enumerate() {
            *b += vectors[i * k + e] * proj;
        }
    }
    // d = Σ (β_k/‖g_k‖) g_k.
    let dir: Vec<f64> = beta.iter().zip(&inv_norm).map(|(b, s)| b * s).collect();
    let dir_norm = quad(gram, &dir).max(0.0).sqrt();
    if !is_positive(dir_norm) {
        return vec![0.0; k];
    }
    let length: f64 = mat_vec(gram, &dir).iter().sum::<f64>() / dir_norm;
    dir.iter().map(|d| length * d / dir_norm).collect()
}

/// The Nash bargaining weights of Nash-MTL (Navon et al., ICML 2022): the α > 0 with
/// `Gα = 1/α`. LibMTL normalises `Ĝ = G/‖G‖_F` and puts the factor back into its constraints
/// `α_k·‖G‖_F·(Ĝα)_k ≥ 1`, so its α solves the condition for the raw Gram matrix; it approaches
/// that point by a sequence of convex sub-problems in cvxpy (ECOS), stopping once
/// `‖Ĝα − 1/α‖ < 1e-3`. Here `β = α·√‖G‖_F`, the solution of `Ĝβ = 1/β`, is found as the
/// minimiser of the strictly convex `½βᵀĜβ − Σ ln β_k` (whose stationarity condition is exactly
/// that) by damped Newton steps from the warm start `start` rescaled along its ray, at most
/// `max_steps` of them, stopping once the Newton decrement falls below 1e-24. A ridge of 1e-10
/// on Ĝ keeps the problem bounded when a gradient is zero (that path's weight becomes large but
/// multiplies zeros). `None` when G is zero or not finite.
pub(crate) fn nash_weights(gram: &[f64], start: &[f64], max_steps: u32) -> Option<Vec<f64>> {
    let k = (gram.len() as f64).sqrt().round() as usize;
    let frob = gram.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !(frob > 0.0 && frob.is_finite()) {
        return None;
    }
    let mut g: Vec<f64> = gram.iter().map(|v| v / frob).collect();
    for i in 0..k {
        g[i * k + i] += 1e-10;
    }
    let objective = |a: &[f64]| 0.5 * quad(&g, a) - a.iter().map(|v| v.ln()).sum::<f64>();
    let mut alpha: Vec<f64> = if start.len() == k && start.iter().all(|v| *v > 0.0 && v.is_finite())
    {
        start.to_vec()
    } else {
        vec![1.0; k]
    };
    // Best multiple of the start: ½s²q − K ln s is least at s = √(K/q).
    let q = quad(&g, &alpha);
    if q > 0.0 {
        let s = (k as f64 / q).sqrt();
        alpha.iter_mut().for_each(|a| *a *= s);
    }
    let root = frob.sqrt();
    alpha.iter_mut().for_each(|a| *a *= root);
    for _ in 0..max_steps.max(1) {
        let ga = mat_vec(&g, &alpha);
        let grad: Vec<f64> = ga.iter().zip(&alpha).map(|(x, a)| x - 1.0 / a).collect();
        let mut hess = g.clone();
        for i in 0..k {
            hess[i * k + i] += 1.0 / (alpha[i] * alpha[i]);
        }
        let neg: Vec<f64> = grad.iter().map(|v| -v).collect();
        let Some(step) = solve_linear(&hess, &neg) else {
            break;
        };
        let decrement: f64 = -grad.iter().zip(&step).map(|(a, b)| a * b).sum::<f64>();
        if !is_positive(decrement - 1e-24) {
            break;
        }
        let f0 = objective(&alpha);
        let mut t = 1.0;
        loop {
            let cand: Vec<f64> = alpha.iter().zip(&step).map(|(a, s)| a + t * s).collect();
            if cand.iter().all(|v| *v > 0.0) && objective(&cand) <= f0 - 0.25 * t * decrement {
                alpha = cand;
                break;
            }
            t *= 0.5;
            if t < 1e-12 {
                return Some(alpha.iter().map(|b| b / root).collect());
            }
        }
    }
    Some(alpha.iter().map(|b| b / root).collect())
}

/// FAMO's coefficients (Liu et al., NeurIPS 2023; LibMTL's `FAMO`): with `z = softmax(w)` and
/// `D_k = max(l_k − min_l_k, 0) + 1e-8` (LibMTL's `min_losses` are 0; negative losses are clamped
/// where LibMTL would take the log of a negative number), FAMO backpropagates
/// `Σ_k z_k log D_k / c`, `c = Σ_k z_k/D_k`, whose gradient is `Σ_k (z_k/(c·D_k))·g_k`: the
/// coefficients sum to 1. Non-finite losses give the weights `z` themselves.
pub(crate) fn famo_weights(logits: &[f64], losses: &[f64]) -> Vec<f64> {
    let z = softmax(logits);
    if losses.iter().any(|l| !l.is_finite()) {
        return z;
    }
    let ratios: Vec<f64> = z
        .iter()
        .zip(losses)
        .map(|(zi, l)| zi / (l.max(0.0) + LIBMTL_EPS))
        .collect();
    let c: f64 = ratios.iter().sum();
    ratios.iter().map(|r| r / c).collect()
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|w| (w - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

/// FAMO's update of its logits after the optimizer step (FAMO's `update`, LibMTL's `update_w`):
/// `δ_k = log D_k(before) − log D_k(after)`, the gradient of `w` is the softmax Jacobian applied
/// to δ, `z ⊙ (δ − z·δ)`, and PyTorch's Adam (β = (0.9, 0.999), ε = 1e-8, L2 weight decay `gamma`
/// added to the gradient) takes one step with learning rate `lr`.
pub(crate) fn famo_update(state: &mut FamoState, losses_after: &[f64], lr: f64, gamma: f64) {
    let Some(prev) = state.prev_losses.take() else {
        return;
    };
    let k = state.logits.len();
    if prev.len() != k
        || losses_after.len() != k
        || prev.iter().chain(losses_after).any(|l| !l.is_finite())
    {
        return;
    }
    let log_d = |l: f64| (l.max(0.0) + LIBMTL_EPS).ln();
    let delta: Vec<f64> = prev
        .iter()
        .zip(losses_after)
        .map(|(&a, &b)| log_d(a) - log_d(b))
        .collect();
    let z = softmax(&state.logits);
    let z_delta: f64 = z.iter().zip(&delta).map(|(a, b)| a * b).sum();
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    if state.adam_m.len() != k || state.adam_v.len() != k {
        state.adam_m = vec![0.0; k];
        state.adam_v = vec![0.0; k];
        state.adam_steps = 0;
    }
    state.adam_steps += 1;
    let t = state.adam_steps as i32;
    let bias1 = 1.0 - beta1.powi(t);
    let bias2 = 1.0 - beta2.powi(t);
    for i in 0..k {
        let grad = z[i] * (delta[i] - z_delta) + gamma * state.logits[i];
        state.adam_m[i] = beta1 * state.adam_m[i] + (1.0 - beta1) * grad;
        state.adam_v[i] = beta2 * state.adam_v[i] + (1.0 - beta2) * grad * grad;
        let denom = state.adam_v[i].sqrt() / bias2.sqrt() + eps;
        state.logits[i] -= lr / bias1 * state.adam_m[i] / denom;
    }
}

/// Random orders for PCGrad/GradVac: one shuffle of `0..K` per path, drawn from `rng`.
fn draw_orders(rng: &mut Rng, k: usize) -> Vec<Vec<usize>> {
    (0..k)
        .map(|_| {
            let mut order: Vec<usize> = (0..k).collect();
            rng.shuffle(&mut order);
            order
        })
        .collect()
}

/// Whether two paths go through the two-path code of [`super::align`] (the DPDA paper's five
/// methods, GradVac only at whole-model granularity).
fn two_path_form(method: AlignMethod) -> bool {
    matches!(
        method,
        AlignMethod::None
            | AlignMethod::PcGrad
            | AlignMethod::CaGrad { .. }
            | AlignMethod::Mgda
            | AlignMethod::GradVac {
                granularity: GradVacGranularity::Whole,
                ..
            }
    )
}

/// Combines K ≥ 1 path gradients with `method`, updating `state`; the body of
/// [`GradientAligner::combine_paths`](super::align::GradientAligner::combine_paths).
///
/// `gradvac_target` is the aligner's two-path GradVac target, shared with `combine` so that
/// K = 2 whole-model GradVac evolves exactly as it does there.
#[allow(clippy::too_many_arguments)]
pub(crate) fn combine_paths(
    method: AlignMethod,
    gradvac_target: &mut GradVacTarget,
    state: &mut PathsState,
    grads: &[&[f32]],
    losses: &[f64],
    layout: &FlatLayout,
    out: &mut [f32],
) -> PathsStats {
    let k = grads.len();
    assert!(k >= 1, "combine_paths needs at least one path gradient");
    let n = out.len();
    for (i, g) in grads.iter().enumerate() {
        assert_eq!(
            g.len(),
            n,
            "gradient of path {i} has {} elements, the output {n}: all paths must flatten the \
             same parameters",
            g.len()
        );
    }
    let whole = [(0usize, n)];
    if k == 1 {
        out.copy_from_slice(grads[0]);
        let gram = gram_matrix(grads);
        return PathsStats {
            num_paths: 1,
            norm_combined: gram[0].max(0.0).sqrt(),
            gram,
            adjusted: false,
            weights: Some(vec![1.0]),
        };
    }
    if k == 2 && two_path_form(method) {
        let pair = Gram::new(grads[0], grads[1]);
        let plan: Plan2 = match method {
            AlignMethod::PcGrad => pcgrad_plan(&pair),
            AlignMethod::GradVac { beta, .. } => gradvac_plan(&pair, gradvac_target, beta),
            AlignMethod::CaGrad {
                c,
                solver: CaGradSolver::Exact,
            } => cagrad_plan(&pair, c),
            AlignMethod::CaGrad {
                c,
                solver: CaGradSolver::Reference,
            } => cagrad_reference_plan(&pair, c),
            AlignMethod::Mgda => mgda_plan(&pair),
            _ => mean_plan(&pair),
        };
        let weights = vec![plan.coef_orig, plan.coef_aug];
        let stats = plan.write(grads[0], grads[1], out);
        return PathsStats {
            num_paths: 2,
            gram: vec![pair.g11, pair.g12, pair.g12, pair.g22],
            adjusted: stats.adjusted,
            norm_combined: stats.norm_combined,
            weights: Some(weights),
        };
    }
    if let AlignMethod::GradVac { beta, granularity } = method {
        let orders = draw_orders(&mut state.shuffle_rng, k);
        return gradvac_paths(beta, granularity, state, grads, layout, &orders, out);
    }
    let gram = gram_matrix(grads);
    let mean = vec![1.0 / k as f64; k];
    let (weights, adjusted) = match method {
        AlignMethod::None => (mean, false),
        AlignMethod::PcGrad => {
            let orders = draw_orders(&mut state.shuffle_rng, k);
            pcgrad_weights(&gram, &orders)
        }
        AlignMethod::CaGrad { c, .. } => (cagrad_weights(&gram, c).0, true),
        AlignMethod::Mgda => (mgda_weights(&gram), true),
        AlignMethod::ImtlG => match imtl_g_weights(&gram) {
            Some(w) => (w, true),
            None => (mean, false),
        },
        AlignMethod::NashMtl {
            update_weights_every,
            optim_niter,
            max_norm,
        } => {
            let every = u64::from(update_weights_every.max(1));
            let solve = state.nash_steps.is_multiple_of(every) || state.nash_alpha.len() != k;
            state.nash_steps += 1;
            if solve {
                if let Some(alpha) = nash_weights(&gram, &state.nash_alpha, optim_niter) {
                    state.nash_alpha = alpha;
                }
            }
            if state.nash_alpha.len() != k {
                state.nash_alpha = vec![1.0; k];
            }
            let mut w = state.nash_alpha.clone();
            if max_norm > 0.0 {
                // torch.nn.utils.clip_grad_norm_: scale by max_norm/(‖g‖ + 1e-6) when below 1.
                let total = quad(&gram, &w).max(0.0).sqrt();
                let clip = max_norm / (total + 1e-6);
                if clip < 1.0 {
                    w.iter_mut().for_each(|v| *v *= clip);
                }
            }
            (w, true)
        }
        AlignMethod::AlignedMtl => match aligned_mtl_weights(&gram) {
            Some(w) => (w, true),
            None => (mean, false),
        },
        AlignMethod::ConFig => (config_weights(&gram), true),
        AlignMethod::Famo { .. } => {
            assert_eq!(
                losses.len(),
                k,
                "FAMO needs one loss per path ({} losses for {k} paths)",
                losses.len()
            );
            let famo = &mut state.famo;
            if famo.logits.len() != k {
                *famo = FamoState {
                    logits: vec![0.0; k],
                    ..FamoState::default()
                };
            }
            famo.prev_losses = Some(losses.to_vec());
            (famo_weights(&famo.logits, losses), true)
        }
        AlignMethod::CosineGated => {
            let mut w = vec![0.0; k];
            w[0] = 1.0 / k as f64;
            let mut adjusted = false;
            for (j, wj) in w.iter_mut().enumerate().skip(1) {
                if gram[j] > 0.0 {
                    *wj = 1.0 / k as f64;
                } else {
                    adjusted = true;
                }
            }
            (w, adjusted)
        }
        AlignMethod::GradVac { .. } => unreachable!("GradVac returned above"),
    };
    let weights: Vec<f64> = weights
        .into_iter()
        .map(|w| if w.is_finite() { w } else { 0.0 })
        .collect();
    write_linear(grads, &weights, &whole, out);
    PathsStats {
        num_paths: k,
        norm_combined: quad(&gram, &weights).max(0.0).sqrt(),
        gram,
        adjusted,
        weights: Some(weights),
    }
}

/// GradVac over parameter groups: two paths follow the two-path method per group (one target
/// per group), three or more follow LibMTL's per-pair targets.
fn gradvac_paths(
    beta: f64,
    granularity: GradVacGranularity,
    state: &mut PathsState,
    grads: &[&[f32]],
    layout: &FlatLayout,
    orders: &[Vec<usize>],
    out: &mut [f32],
) -> PathsStats {
    let k = grads.len();
    let n = out.len();
    let groups = if granularity == GradVacGranularity::Whole {
        vec![vec![(0, n)]]
    } else {
        assert_eq!(
            layout.total_len(),
            n,
            "the layout covers {} elements, the gradients {n}",
            layout.total_len()
        );
        parameter_groups(layout, granularity, n)
    };
    // One pass per group; the whole Gram matrix is their sum.
    let group_grams: Vec<Vec<f64>> = groups.iter().map(|spans| gram_over(grads, spans)).collect();
    let mut gram = vec![0.0; k * k];
    for g in &group_grams {
        gram.iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }
    let mut adjusted = false;
    let mut norm2 = 0.0;
    let mut group_weights: Vec<Vec<f64>> = Vec::with_capacity(groups.len());
    if k == 2 {
        if state.gradvac_group_targets.len() != groups.len() {
            state.gradvac_group_targets = vec![GradVacTarget::default(); groups.len()];
        }
        for ((spans, g), target) in groups
            .iter()
            .zip(&group_grams)
            .zip(state.gradvac_group_targets.iter_mut())
        {
            let pair = Gram {
                g11: g[0],
                g22: g[3],
                g12: g[1],
            };
            let plan = gradvac_plan(&pair, target, beta);
            adjusted |= plan.stats.adjusted;
            let w = vec![plan.coef_orig, plan.coef_aug];
            norm2 += quad(g, &w);
            write_linear(grads, &w, spans, out);
            group_weights.push(w);
        }
    } else {
        let shape = [k, groups.len()];
        if state.gradvac_pair_shape != shape || state.gradvac_pair_targets.len() != k * k * shape[1]
        {
            state.gradvac_pair_shape = shape;
            state.gradvac_pair_targets = vec![0.0; k * k * shape[1]];
        }
        let mut targets = vec![0.0; k * k];
        for (gi, spans) in groups.iter().enumerate() {
            let g = &group_grams[gi];
            // Gather this group's ρ_T[i, j] from the [K, K, groups] array.
            for (ij, t) in targets.iter_mut().enumerate() {
                *t = state.gradvac_pair_targets[ij * shape[1] + gi];
            }
            let (w, adj) = gradvac_group_weights(g, orders, &mut targets, beta);
            for (ij, t) in targets.iter().enumerate() {
                state.gradvac_pair_targets[ij * shape[1] + gi] = *t;
            }
            adjusted |= adj;
            norm2 += quad(g, &w);
            write_linear(grads, &w, spans, out);
            group_weights.push(w);
        }
    }
    PathsStats {
        num_paths: k,
        gram,
        adjusted,
        norm_combined: norm2.max(0.0).sqrt(),
        weights: (group_weights.len() == 1).then(|| group_weights.swap_remove(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::align::GradientAligner;

    fn layout_of(sizes: &[(&str, usize)]) -> FlatLayout {
        let mut entries = Vec::new();
        let mut offset = 0;
        for &(name, len) in sizes {
            entries.push((name.to_string(), offset, len, vec![len]));
            offset += len;
        }
        FlatLayout { entries }
    }

    fn whole(n: usize) -> FlatLayout {
        layout_of(&[("all", n)])
    }

    fn random_grads(seed: u64, k: usize, n: usize) -> Vec<Vec<f32>> {
        let mut rng = Rng::new(seed);
        let base: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        (0..k)
            .map(|i| {
                let sign = if i % 2 == 0 { 1.0 } else { -0.7 };
                base.iter()
                    .map(|b| (sign * b + 0.9 * rng.normal()) as f32)
                    .collect()
            })
            .collect()
    }

    fn refs(grads: &[Vec<f32>]) -> Vec<&[f32]> {
        grads.iter().map(|g| g.as_slice()).collect()
    }

    /// `Σ w_k g_k` in `f64`.
    fn combination(grads: &[Vec<f32>], w: &[f64]) -> Vec<f64> {
        let n = grads[0].len();
        (0..n)
            .map(|i| grads.iter().zip(w).map(|(g, c)| c * f64::from(g[i])).sum())
            .collect()
    }

    /// Every element within `rel` of the largest expected magnitude.
    fn assert_close(actual: &[f64], expected: &[f64], rel: f64, what: &str) {
        assert_eq!(actual.len(), expected.len(), "{what}: lengths");
        let scale = expected
            .iter()
            .map(|v| v.abs())
            .fold(0.0, f64::max)
            .max(1e-30);
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (a - e).abs() <= rel * scale,
                "{what}: element {i}: {a} vs {e} (scale {scale})"
            );
        }
    }

    fn as_f64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&x| f64::from(x)).collect()
    }

    fn all_methods() -> Vec<AlignMethod> {
        let mut methods: Vec<AlignMethod> = AlignMethod::NAMES
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        methods.push(AlignMethod::CaGrad {
            c: 0.5,
            solver: CaGradSolver::Reference,
        });
        for granularity in [GradVacGranularity::Layer, GradVacGranularity::Tensor] {
            methods.push(AlignMethod::GradVac {
                beta: 0.5,
                granularity,
            });
        }
        methods
    }

    // ---- LibMTL fixtures (scripts/libmtl_align_reference.py) ----

    #[derive(serde::Deserialize)]
    struct Case {
        k: usize,
        grads: Vec<Vec<f32>>,
        losses: Vec<f64>,
        pcgrad: PcGradRef,
        cagrad: CaGradRef,
        mgda: WeightsRef,
        imtl_g: WeightsRef,
        aligned_mtl: WeightsRef,
        config: OutRef,
    }

    #[derive(serde::Deserialize)]
    struct PcGradRef {
        orders: Vec<Vec<usize>>,
        sum: Vec<f64>,
    }

    #[derive(serde::Deserialize)]
    struct CaGradRef {
        x: Vec<f64>,
        out: Vec<f64>,
    }

    #[derive(serde::Deserialize)]
    struct WeightsRef {
        weights: Vec<f64>,
        out: Vec<f64>,
    }

    #[derive(serde::Deserialize)]
    struct OutRef {
        out: Vec<f64>,
    }

    fn cases() -> Vec<Case> {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/align_k/cases.json"
        ));
        serde_json::from_str(text).unwrap_or_else(|e| panic!("cases.json: {e}"))
    }

    #[derive(serde::Deserialize)]
    struct Sequences {
        gradvac: GradVacSeq,
        nash_mtl: Vec<NashSeq>,
        famo: Vec<FamoSeq>,
    }

    #[derive(serde::Deserialize)]
    struct GradVacSeq {
        k: usize,
        beta: f64,
        tensor_sizes: Vec<usize>,
        tensor_names: Vec<String>,
        grads: Vec<Vec<Vec<f32>>>,
        runs: std::collections::BTreeMap<String, GradVacRun>,
    }

    #[derive(serde::Deserialize)]
    struct GradVacRun {
        orders: Vec<Vec<Vec<usize>>>,
        sums: Vec<Vec<f64>>,
        rho_t: Vec<Vec<Vec<Vec<f64>>>>,
    }

    #[derive(serde::Deserialize)]
    struct NashSeq {
        k: usize,
        grads: Vec<Vec<Vec<f32>>>,
        steps: Vec<NashStep>,
    }

    #[derive(serde::Deserialize)]
    struct NashStep {
        alpha: Vec<f64>,
        out: Vec<f64>,
    }

    #[derive(serde::Deserialize)]
    struct FamoSeq {
        k: usize,
        grads: Vec<Vec<Vec<f32>>>,
        steps: Vec<FamoStep>,
    }

    #[derive(serde::Deserialize)]
    struct FamoStep {
        losses: Vec<f64>,
        losses_after: Vec<f64>,
        out: Vec<f64>,
        w_after: Vec<f64>,
    }

    fn sequences() -> Sequences {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/align_k/sequences.json"
        ));
        serde_json::from_str(text).unwrap_or_else(|e| panic!("sequences.json: {e}"))
    }

    #[test]
    fn fixtures_cover_k_2_3_5_with_and_without_conflicts() {
        let cases = cases();
        let ks: Vec<usize> = cases.iter().map(|c| c.k).collect();
        assert_eq!(ks, [2, 2, 3, 3, 5, 5]);
        for case in &cases {
            assert_eq!(case.grads.len(), case.k);
            assert_eq!(case.losses.len(), case.k);
        }
        let conflicts: Vec<usize> = cases
            .iter()
            .map(|c| {
                let g = refs(&c.grads);
                PathsStats {
                    num_paths: c.k,
                    gram: gram_matrix(&g),
                    ..PathsStats::default()
                }
                .conflict_pairs()
            })
            .collect();
        assert!(conflicts.iter().step_by(2).all(|&c| c > 0), "{conflicts:?}");
        assert!(
            conflicts.iter().skip(1).step_by(2).all(|&c| c == 0),
            "{conflicts:?}"
        );
    }

    #[test]
    fn pcgrad_matches_libmtl_with_its_recorded_orders() {
        for case in cases() {
            let g = refs(&case.grads);
            let gram = gram_matrix(&g);
            let (w, _) = pcgrad_weights(&gram, &case.pcgrad.orders);
            // LibMTL returns the sum of the projected gradients; ours is their mean.
            let sum: Vec<f64> = combination(&case.grads, &w)
                .iter()
                .map(|v| v * case.k as f64)
                .collect();
            assert_close(&sum, &case.pcgrad.sum, 1e-6, "pcgrad");
            // The aligner (its own shuffles) writes the same vector whenever the order does not
            // matter, which is always the case for two paths.
            if case.k == 2 {
                let mut out = vec![0.0f32; g[0].len()];
                GradientAligner::new(AlignMethod::PcGrad).combine_paths(
                    &g,
                    &[],
                    &whole(out.len()),
                    &mut out,
                );
                let mean: Vec<f64> = case.pcgrad.sum.iter().map(|v| v / 2.0).collect();
                assert_close(&as_f64(&out), &mean, 1e-6, "pcgrad k=2");
            }
        }
    }

    /// The CAGrad objective `xᵀGb + c′√(xᵀGx + 1e-8)` at `x`.
    fn cagrad_objective(gram: &[f64], x: &[f64], c: f64) -> f64 {
        let k = x.len();
        let mean_gram = gram.iter().sum::<f64>() / gram.len() as f64;
        let c_prime = c * (mean_gram + 1e-8).sqrt() + 1e-8;
        let gb = mat_vec(gram, &vec![1.0 / k as f64; k]);
        x.iter().zip(&gb).map(|(a, b)| a * b).sum::<f64>()
            + c_prime * (quad(gram, x).max(0.0) + 1e-8).sqrt()
    }

    /// LibMTL's CAGrad and MGDA stop early (SLSQP's ftol 1e-6, Frank-Wolfe's 1e-5 change):
    /// ours must reach an objective at least as low, and lands within 2e-3 of their vectors.
    #[test]
    fn cagrad_and_mgda_reach_libmtl_objectives_or_better() {
        for case in cases() {
            let g = refs(&case.grads);
            let gram = gram_matrix(&g);
            let n = g[0].len();
            let mut out = vec![0.0f32; n];
            let stats = GradientAligner::new("cagrad".parse().unwrap_or_default()).combine_paths(
                &g,
                &[],
                &whole(n),
                &mut out,
            );
            let x = if case.k == 2 {
                let w = stats.weights.clone().unwrap_or_default();
                // Recover the simplex weight from the two-path coefficients.
                let lambda_x0 = w[0] * 1.25 - 0.5;
                let lambda_x1 = w[1] * 1.25 - 0.5;
                vec![
                    lambda_x0 / (lambda_x0 + lambda_x1),
                    lambda_x1 / (lambda_x0 + lambda_x1),
                ]
            } else {
                cagrad_weights(&gram, 0.5).1
            };
            let ours = cagrad_objective(&gram, &x, 0.5);
            let theirs = cagrad_objective(&gram, &case.cagrad.x, 0.5);
            assert!(
                ours <= theirs + 1e-9 * theirs.abs(),
                "k={}: objective {ours} vs LibMTL {theirs}",
                case.k
            );
            assert_close(&as_f64(&out), &case.cagrad.out, 2e-3, "cagrad");

            let stats =
                GradientAligner::new(AlignMethod::Mgda).combine_paths(&g, &[], &whole(n), &mut out);
            let theirs = quad(&gram, &case.mgda.weights).sqrt();
            assert!(
                stats.norm_combined <= theirs * (1.0 + 1e-9),
                "k={}: norm {} vs LibMTL {theirs}",
                case.k,
                stats.norm_combined
            );
            assert_close(&as_f64(&out), &case.mgda.out, 2e-3, "mgda");
        }
    }

    #[test]
    fn imtl_g_aligned_mtl_and_config_match_libmtl_and_conflictfree() {
        for case in cases() {
            let g = refs(&case.grads);
            let n = g[0].len();
            let mut out = vec![0.0f32; n];
            for (method, reference) in [
                (AlignMethod::ImtlG, &case.imtl_g),
                (AlignMethod::AlignedMtl, &case.aligned_mtl),
            ] {
                let stats =
                    GradientAligner::new(method).combine_paths(&g, &[], &whole(n), &mut out);
                let w = stats.weights.unwrap_or_default();
                assert_close(&w, &reference.weights, 1e-6, method.name());
                assert_close(&as_f64(&out), &reference.out, 1e-6, method.name());
            }
            GradientAligner::new(AlignMethod::ConFig).combine_paths(&g, &[], &whole(n), &mut out);
            assert_close(&as_f64(&out), &case.config.out, 1e-6, "config");
        }
    }

    #[test]
    fn imtl_g_gives_equal_projections_on_every_unit_gradient() {
        let grads = random_grads(3, 4, 50);
        let g = refs(&grads);
        let gram = gram_matrix(&g);
        let w = imtl_g_weights(&gram).unwrap_or_default();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let gw = mat_vec(&gram, &w);
        let proj: Vec<f64> = (0..4).map(|i| gw[i] / gram[i * 4 + i].sqrt()).collect();
        for p in &proj {
            assert!((p - proj[0]).abs() < 1e-9 * proj[0].abs(), "{proj:?}");
        }
    }

    #[test]
    fn gradvac_sequences_match_libmtl_at_every_granularity() {
        let seq = sequences().gradvac;
        let sizes: Vec<(&str, usize)> = seq
            .tensor_names
            .iter()
            .map(|s| s.as_str())
            .zip(seq.tensor_sizes.iter().copied())
            .collect();
        let layout = layout_of(&sizes);
        assert_eq!(
            parameter_groups(&layout, GradVacGranularity::Layer, layout.total_len()).len(),
            2
        );
        for (name, run) in &seq.runs {
            let granularity = match name.as_str() {
                "whole" => GradVacGranularity::Whole,
                "layer" => GradVacGranularity::Layer,
                _ => GradVacGranularity::Tensor,
            };
            let mut state = PathsState::default();
            for (step, grads) in seq.grads.iter().enumerate() {
                let g = refs(grads);
                let mut out = vec![0.0f32; layout.total_len()];
                gradvac_paths(
                    seq.beta,
                    granularity,
                    &mut state,
                    &g,
                    &layout,
                    &run.orders[step],
                    &mut out,
                );
                let sum: Vec<f64> = as_f64(&out).iter().map(|v| v * seq.k as f64).collect();
                assert_close(&sum, &run.sums[step], 1e-6, &format!("{name} step {step}"));
                let groups = state.gradvac_pair_shape[1];
                for i in 0..seq.k {
                    for j in 0..seq.k {
                        for gi in 0..groups {
                            let ours = state.gradvac_pair_targets[(i * seq.k + j) * groups + gi];
                            let theirs = run.rho_t[step][i][j][gi];
                            assert!(
                                (ours - theirs).abs() < 1e-6,
                                "{name} step {step} rho_T[{i},{j},{gi}]: {ours} vs {theirs}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// LibMTL stops its convex iteration once `‖Ĝα − 1/α‖ < 1e-3`, but ECOS lands much closer
    /// on these fixtures: α agrees to 1.6e-7 relative (LibMTL rounds α to float32), so 1e-6.
    #[test]
    fn nash_mtl_matches_libmtl_to_its_stopping_tolerance() {
        for seq in sequences().nash_mtl {
            let mut aligner = GradientAligner::new("nash-mtl".parse().unwrap_or_default());
            for (grads, step) in seq.grads.iter().zip(&seq.steps) {
                let g = refs(grads);
                let n = g[0].len();
                let mut out = vec![0.0f32; n];
                aligner.combine_paths(&g, &[], &whole(n), &mut out);
                let alpha = aligner.paths.nash_alpha.clone();
                assert_close(&alpha, &step.alpha, 1e-6, "nash alpha");
                assert_close(&as_f64(&out), &step.out, 1e-6, "nash out");
                // Our α satisfies the bargaining condition Gα = 1/α to high accuracy.
                let gram = gram_matrix(&g);
                let ga = mat_vec(&gram, &alpha);
                for (x, a) in ga.iter().zip(&alpha) {
                    assert!((x - 1.0 / a).abs() < 1e-8 * (1.0 / a), "{x} vs {}", 1.0 / a);
                }
                assert_eq!(seq.k, alpha.len());
            }
        }
    }

    #[test]
    fn famo_sequences_match_libmtl() {
        for seq in sequences().famo {
            let mut aligner = GradientAligner::new("famo".parse().unwrap_or_default());
            assert!(aligner.needs_losses_after_step());
            for (grads, step) in seq.grads.iter().zip(&seq.steps) {
                let g = refs(grads);
                let n = g[0].len();
                let mut out = vec![0.0f32; n];
                let stats = aligner.combine_paths(&g, &step.losses, &whole(n), &mut out);
                let w = stats.weights.unwrap_or_default();
                assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                assert_close(&as_f64(&out), &step.out, 1e-6, "famo out");
                aligner.after_step(&step.losses_after);
                assert_close(&aligner.paths.famo.logits, &step.w_after, 1e-6, "famo w");
                assert_eq!(seq.k, w.len());
            }
        }
    }

    // ---- properties ----

    #[test]
    fn two_paths_give_bitwise_the_two_path_results_and_state() {
        for method in [
            AlignMethod::None,
            AlignMethod::PcGrad,
            "gradvac".parse().unwrap_or_default(),
            "cagrad".parse().unwrap_or_default(),
            AlignMethod::CaGrad {
                c: 0.5,
                solver: CaGradSolver::Reference,
            },
            AlignMethod::Mgda,
        ] {
            let mut old = GradientAligner::new(method);
            let mut new = GradientAligner::new(method);
            for seed in 0..6 {
                let grads = random_grads(100 + seed, 2, 333);
                let n = grads[0].len();
                let mut out_old = vec![0.0f32; n];
                let mut out_new = vec![0.0f32; n];
                let stats_old = old.combine(&grads[0], &grads[1], &mut out_old);
                let stats_new = new.combine_paths(&refs(&grads), &[], &whole(n), &mut out_new);
                assert_eq!(out_old, out_new, "{method} step {seed}");
                assert_eq!(old.gradvac_target, new.gradvac_target, "{method}");
                assert_eq!(stats_old.norm_combined, stats_new.norm_combined);
                assert_eq!(stats_old.adjusted, stats_new.adjusted);
                assert_eq!(stats_old.cos, stats_new.cos(0, 1));
            }
        }
    }

    #[test]
    fn symmetric_methods_do_not_depend_on_the_path_order() {
        let grads = random_grads(7, 4, 90);
        let permuted = vec![
            grads[2].clone(),
            grads[0].clone(),
            grads[3].clone(),
            grads[1].clone(),
        ];
        for method in [
            AlignMethod::None,
            AlignMethod::Mgda,
            "cagrad".parse().unwrap_or_default(),
            AlignMethod::ImtlG,
            AlignMethod::AlignedMtl,
            AlignMethod::ConFig,
            "nash-mtl".parse().unwrap_or_default(),
        ] {
            let mut a = vec![0.0f32; 90];
            let mut b = vec![0.0f32; 90];
            GradientAligner::new(method).combine_paths(&refs(&grads), &[], &whole(90), &mut a);
            GradientAligner::new(method).combine_paths(&refs(&permuted), &[], &whole(90), &mut b);
            assert_close(&as_f64(&a), &as_f64(&b), 1e-5, method.name());
        }
        // Cosine gating singles out path 0 but treats the augmented paths alike.
        let swapped = vec![
            grads[0].clone(),
            grads[3].clone(),
            grads[1].clone(),
            grads[2].clone(),
        ];
        let mut a = vec![0.0f32; 90];
        let mut b = vec![0.0f32; 90];
        let method = AlignMethod::CosineGated;
        GradientAligner::new(method).combine_paths(&refs(&grads), &[], &whole(90), &mut a);
        GradientAligner::new(method).combine_paths(&refs(&swapped), &[], &whole(90), &mut b);
        assert_close(&as_f64(&a), &as_f64(&b), 1e-6, "cosine-gated");
    }

    #[test]
    fn cosine_gating_drops_exactly_the_conflicting_augmented_paths() {
        let g0 = vec![1.0f32, 0.0, 0.0];
        let g1 = vec![1.0f32, 1.0, 0.0]; // cos > 0: kept
        let g2 = vec![-1.0f32, 0.0, 1.0]; // cos < 0: dropped
        let g3 = vec![0.0f32, 0.0, 2.0]; // cos = 0: dropped
        let mut out = vec![0.0f32; 3];
        let stats = GradientAligner::new(AlignMethod::CosineGated).combine_paths(
            &[&g0, &g1, &g2, &g3],
            &[],
            &whole(3),
            &mut out,
        );
        assert_eq!(out, [0.5, 0.25, 0.0]);
        assert_eq!(stats.weights, Some(vec![0.25, 0.25, 0.0, 0.0]));
        assert!(stats.adjusted);
        // Pairs (0, 2) and (1, 2) have negative dot products.
        assert_eq!(stats.conflict_pairs(), 2);
    }

    #[test]
    fn zero_gradients_give_finite_results_for_every_method() {
        for method in all_methods() {
            for k in [2usize, 3, 5] {
                let grads = random_grads(11, k, 24);
                let zeros = vec![vec![0.0f32; 24]; k];
                let mut one_zero = grads.clone();
                one_zero[1] = vec![0.0; 24];
                let mut first_zero = grads.clone();
                first_zero[0] = vec![0.0; 24];
                for set in [&zeros, &one_zero, &first_zero] {
                    let layout = layout_of(&[("a.w", 10), ("a.b", 4), ("b.w", 10)]);
                    let mut aligner = GradientAligner::new(method);
                    aligner.gradvac_target.rho_target = 0.4;
                    let losses = vec![0.5; k];
                    let mut out = vec![f32::NAN; 24];
                    let stats = aligner.combine_paths(&refs(set), &losses, &layout, &mut out);
                    assert!(out.iter().all(|v| v.is_finite()), "{method} k={k}: {out:?}");
                    assert!(stats.norm_combined.is_finite(), "{method} k={k}");
                    aligner.after_step(&losses);
                    assert!(aligner.paths.famo.logits.iter().all(|w| w.is_finite()));
                }
                let mut out = vec![f32::NAN; 24];
                GradientAligner::new(method).combine_paths(
                    &refs(&zeros),
                    &vec![0.5; k],
                    &whole(24),
                    &mut out,
                );
                assert!(out.iter().all(|&v| v == 0.0), "{method} k={k}: {out:?}");
            }
        }
    }

    #[test]
    fn resumed_aligners_shuffle_and_adapt_exactly_as_uninterrupted_ones() {
        for method in [
            AlignMethod::PcGrad,
            "gradvac".parse().unwrap_or_default(),
            AlignMethod::GradVac {
                beta: 0.3,
                granularity: GradVacGranularity::Tensor,
            },
            "nash-mtl".parse().unwrap_or_default(),
            "famo".parse().unwrap_or_default(),
        ] {
            let layout = layout_of(&[("a.w", 30), ("a.b", 5), ("b.w", 25)]);
            let mut aligner = GradientAligner::with_shuffle_seed(method, 99);
            let mut out = vec![0.0f32; 60];
            for seed in 0..3 {
                let grads = random_grads(200 + seed, 5, 60);
                aligner.combine_paths(&refs(&grads), &[0.9, 0.8, 0.7, 0.6, 0.5], &layout, &mut out);
                aligner.after_step(&[0.8, 0.7, 0.7, 0.5, 0.5]);
            }
            let json = serde_json::to_string(&aligner).unwrap_or_default();
            let mut resumed: GradientAligner =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{method}: {e}"));
            // The shuffle generator comes back exactly; f64 state may differ in its last bit
            // (serde_json's default float parser is not round-trip exact).
            assert_eq!(
                resumed.paths.shuffle_rng, aligner.paths.shuffle_rng,
                "{method}"
            );
            assert_eq!(resumed.paths.nash_steps, aligner.paths.nash_steps);
            assert_close(
                &resumed.paths.gradvac_pair_targets,
                &aligner.paths.gradvac_pair_targets,
                1e-15,
                "targets",
            );
            assert_close(
                &resumed.paths.famo.logits,
                &aligner.paths.famo.logits,
                1e-15,
                "logits",
            );
            for seed in 3..6 {
                let grads = random_grads(200 + seed, 5, 60);
                let mut a = vec![0.0f32; 60];
                let mut b = vec![0.0f32; 60];
                let losses = [0.9, 0.8, 0.7, 0.6, 0.5];
                aligner.combine_paths(&refs(&grads), &losses, &layout, &mut a);
                resumed.combine_paths(&refs(&grads), &losses, &layout, &mut b);
                assert_close(&as_f64(&a), &as_f64(&b), 1e-6, &format!("{method} {seed}"));
                assert_eq!(resumed.paths.shuffle_rng, aligner.paths.shuffle_rng);
            }
        }
    }

    #[test]
    fn two_path_gradvac_per_layer_is_the_two_path_method_on_each_layer() {
        let layout = layout_of(&[("a.weight", 30), ("a.bias", 10), ("b.weight", 30)]);
        let method = AlignMethod::GradVac {
            beta: 0.5,
            granularity: GradVacGranularity::Layer,
        };
        let mut aligner = GradientAligner::new(method);
        let mut targets = [GradVacTarget { rho_target: 0.0 }; 2];
        for step in 0..3 {
            let mut grads = random_grads(400 + step, 2, 70);
            // Alternate conflicting and agreeing steps so the targets move.
            if step % 2 == 1 {
                grads[1].iter_mut().for_each(|v| *v = -*v);
            }
            let mut out = vec![0.0f32; 70];
            let stats = aligner.combine_paths(&refs(&grads), &[], &layout, &mut out);
            assert!(stats.weights.is_none());
            for ((lo, hi), target) in [(0usize, 40usize), (40, 70)].into_iter().zip(&mut targets) {
                let mut expected = vec![0.0f32; hi - lo];
                crate::train::align::gradvac(
                    &grads[0][lo..hi],
                    &grads[1][lo..hi],
                    target,
                    0.5,
                    &mut expected,
                );
                assert_close(&as_f64(&out[lo..hi]), &as_f64(&expected), 1e-6, "layer");
            }
            let ours: Vec<f64> = aligner
                .paths
                .gradvac_group_targets
                .iter()
                .map(|t| t.rho_target)
                .collect();
            let theirs: Vec<f64> = targets.iter().map(|t| t.rho_target).collect();
            assert_close(&ours, &theirs, 1e-12, "targets");
        }
        assert!(targets.iter().all(|t| t.rho_target > 0.0), "{targets:?}");
    }

    #[test]
    fn layer_groups_join_tensors_by_name_prefix() {
        let layout = layout_of(&[
            ("enc.conv.weight", 6),
            ("enc.conv.bias", 2),
            ("head.weight", 4),
            ("scale", 1),
            ("head.bias", 3),
        ]);
        let groups = parameter_groups(&layout, GradVacGranularity::Layer, 16);
        assert_eq!(
            groups,
            vec![vec![(0, 6), (6, 2)], vec![(8, 4), (13, 3)], vec![(12, 1)]]
        );
        assert_eq!(
            parameter_groups(&layout, GradVacGranularity::Tensor, 16).len(),
            5
        );
        assert_eq!(
            parameter_groups(&layout, GradVacGranularity::Whole, 16),
            vec![vec![(0, 16)]]
        );
    }

    #[test]
    fn cagrad_weight_beats_every_point_of_a_simplex_grid() {
        for seed in 0..4 {
            let grads = random_grads(300 + seed, 3, 200);
            let gram = gram_matrix(&refs(&grads));
            let (_, x) = cagrad_weights(&gram, 0.5);
            let best = cagrad_objective(&gram, &x, 0.5);
            let steps = 200;
            for i in 0..=steps {
                for j in 0..=steps - i {
                    let p = [
                        i as f64 / steps as f64,
                        j as f64 / steps as f64,
                        (steps - i - j) as f64 / steps as f64,
                    ];
                    let value = cagrad_objective(&gram, &p, 0.5);
                    assert!(
                        value >= best - 1e-12 * best.abs(),
                        "{p:?}: {value} < {best}"
                    );
                }
            }
            let w = mgda_weights(&gram);
            let norm2 = quad(&gram, &w);
            for i in 0..=steps {
                for j in 0..=steps - i {
                    let p = [
                        i as f64 / steps as f64,
                        j as f64 / steps as f64,
                        (steps - i - j) as f64 / steps as f64,
                    ];
                    assert!(quad(&gram, &p) >= norm2 * (1.0 - 1e-12), "{p:?}");
                }
            }
        }
    }

    #[test]
    fn simplex_solvers_are_exact_on_small_problems() {
        // Three orthonormal gradients: the min-norm point is the centre, norm² 1/3.
        let gram = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let w = mgda_weights(&gram);
        for v in &w {
            assert!((v - 1.0 / 3.0).abs() < 1e-10, "{w:?}");
        }
        // g₂ = −g₁ and g₃ far away: the min-norm point is ½(g₁ + g₂) = 0.
        let gram = [1.0, -1.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, 4.0];
        let w = mgda_weights(&gram);
        assert!(quad(&gram, &w) < 1e-20, "{w:?}");
        // Nash: for orthogonal gradients α_k = 1/‖g_k‖ exactly.
        let gram = [4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.25];
        let alpha = nash_weights(&gram, &[], 30).unwrap_or_default();
        for (a, d) in alpha.iter().zip([4.0f64, 1.0, 0.25]) {
            let expected = 1.0 / d.sqrt();
            assert!((a - expected).abs() < 1e-6 * expected, "{alpha:?}");
        }
        // Jacobi eigenvalues of a known matrix.
        let (values, _) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        let mut values = values;
        values.sort_by(f64::total_cmp);
        assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
    }
}
