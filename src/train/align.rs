//! Gradient alignment for dual-path training: combines the gradient of the original path and the
//! gradient of the RawBoost path into the one gradient the optimizer steps with.
//!
//! The trainer flattens every trainable parameter's gradient in name order, once per path, and
//! hands both vectors to [`GradientAligner::combine`]. Everything here is pure arithmetic on flat
//! `f32` slices; dot products and norms are accumulated in `f64` because models reach millions of
//! parameters. The methods reproduce the reference implementation of the DPDA paper (dpda_ga's
//! `grad_align/{pcgrad,gradvac,cagrad}.py`, whole-model granularity, two tasks) including its small
//! stabilising epsilons, except that CAGrad's weight is by default found exactly instead of with
//! scipy's SLSQP ([`CaGradSolver`]; `"reference"` follows SLSQP through [`super::slsqp`]).
//!
//! Training with more than one augmentation pipeline hands K gradients to
//! [`GradientAligner::combine_paths`]; the K-path forms of these methods and the methods from the
//! multi-task literature (IMTL-G, Nash-MTL, Aligned-MTL, ConFIG, FAMO, cosine gating) live in
//! [`super::align_k`]. With two paths and the five methods above, both entry points agree bit for
//! bit.

use serde::{Deserialize, Serialize};

pub use super::align_k::{PathsState, PathsStats};
use crate::nn::flat::FlatLayout;

/// Epsilon the reference adds to norms and square roots (dpda_ga uses `1e-8` throughout).
const REF_EPS: f64 = 1e-8;

/// How the two paths' gradients become one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AlignMethod {
    /// The mean of the two gradients (the plain DPDA baseline).
    #[default]
    None,
    /// PCGrad: project each gradient off the other when they conflict, then average.
    #[serde(rename = "pcgrad")]
    PcGrad,
    /// GradVac: raise the pairwise cosine to an EMA target `ρ_T` with smoothing `beta`, per
    /// parameter group of the given granularity. Two paths follow dpda_ga (one target per
    /// group, updated only on positive cosines); three or more follow LibMTL (one target per
    /// ordered pair and group, always updated, random pair order).
    #[serde(rename = "gradvac")]
    GradVac {
        #[serde(default = "default_gradvac_beta")]
        beta: f64,
        #[serde(default)]
        granularity: GradVacGranularity,
    },
    /// CAGrad: conflict-averse direction within radius `c` of the mean gradient; `solver` says
    /// how its simplex weight is found.
    #[serde(rename = "cagrad")]
    CaGrad {
        #[serde(default = "default_cagrad_c")]
        c: f64,
        #[serde(default)]
        solver: CaGradSolver,
    },
    /// MGDA: the minimum-norm point of the convex hull of the gradients.
    Mgda,
    /// IMTL-G (Liu et al., ICLR 2021): the combination with equal projections on every unit
    /// gradient, weights summing to 1.
    #[serde(rename = "imtl-g")]
    ImtlG,
    /// Nash-MTL (Navon et al., ICML 2022): the Nash bargaining weights `Gα = 1/α`, the result
    /// clipped to `max_norm` (0 = no clipping) as LibMTL does.
    #[serde(rename = "nash-mtl")]
    NashMtl {
        /// Solve for new weights every this many steps, reuse the previous ones in between.
        #[serde(default = "default_nash_update_weights_every")]
        update_weights_every: u32,
        /// LibMTL's cap on solver iterations; here the cap on Newton steps per solve.
        #[serde(default = "default_nash_optim_niter")]
        optim_niter: u32,
        /// The combined gradient is clipped to this L2 norm (LibMTL's default 1.0).
        #[serde(default = "default_nash_max_norm")]
        max_norm: f64,
    },
    /// Aligned-MTL (Senushkin et al., CVPR 2023): the gradient system made orthogonal with equal
    /// singular values, scaled by the smallest one.
    #[serde(rename = "aligned-mtl")]
    AlignedMtl,
    /// ConFIG (Liu et al., ICLR 2025): the conflict-free direction with equal cosine to every
    /// gradient, its length the sum of the gradients' projections on it.
    #[serde(rename = "config")]
    ConFig,
    /// FAMO (Liu et al., NeurIPS 2023): loss-based weights `softmax(w)` over the log-losses,
    /// `w` learned by its own Adam from the loss decrease after each step.
    Famo {
        /// Learning rate of the task logits `w` (LibMTL's `FAMO_w_lr`).
        #[serde(default = "default_famo_lr")]
        lr: f64,
        /// Weight decay of `w` (LibMTL's `FAMO_w_gamma`).
        #[serde(default = "default_famo_gamma")]
        gamma: f64,
    },
    /// Augmented gradients count only when their cosine with the clean one is positive:
    /// `(g₀ + Σ_{k≥1, cos(g_k, g₀) > 0} g_k) / K`. The divisor is K whatever is dropped, so
    /// without conflicts the result is the plain mean and a dropped path shortens the step
    /// instead of re-weighting the others.
    #[serde(rename = "cosine-gated")]
    CosineGated,
}

/// Which parameters GradVac groups under one target cosine (config key
/// `train.gradvac_granularity`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GradVacGranularity {
    /// All parameters together (the DPDA paper's choice and LibMTL's `group_type` 0).
    #[default]
    Whole,
    /// Tensors grouped by their name up to the last `.` (one layer's weight and bias together).
    Layer,
    /// Every tensor of the flat layout on its own (LibMTL's `group_type` 2, "all_matrix").
    Tensor,
}

impl GradVacGranularity {
    /// The names accepted in configs.
    pub const NAMES: [&'static str; 3] = ["whole", "layer", "tensor"];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            GradVacGranularity::Whole => "whole",
            GradVacGranularity::Layer => "layer",
            GradVacGranularity::Tensor => "tensor",
        }
    }
}

fn default_nash_update_weights_every() -> u32 {
    1
}

fn default_nash_optim_niter() -> u32 {
    20
}

fn default_nash_max_norm() -> f64 {
    1.0
}

fn default_famo_lr() -> f64 {
    0.025
}

fn default_famo_gamma() -> f64 {
    1e-3
}

fn default_gradvac_beta() -> f64 {
    0.5
}

fn default_cagrad_c() -> f64 {
    0.5
}

/// How CAGrad finds the weight `w` of the original gradient (config key `train.cagrad_solver`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaGradSolver {
    /// The exact minimiser of CAGrad's 1-D dual problem (the default): what the method defines.
    #[default]
    Exact,
    /// The reference's solver, reproduced: dpda_ga calls scipy's SLSQP from `w = ½` with default
    /// tolerances, which stops at once for gradients of norm ≲ 1e-2 (the weight stays ½, i.e.
    /// CAGrad degenerates to a rescaled mean) and short of the minimum otherwise. For runs that
    /// must behave as the paper's code did; see [`super::slsqp`]. With more than two paths there
    /// is no reference behaviour to follow and the exact K-path solver is used.
    Reference,
}

impl CaGradSolver {
    /// The names accepted in configs.
    pub const NAMES: [&'static str; 2] = ["exact", "reference"];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            CaGradSolver::Exact => "exact",
            CaGradSolver::Reference => "reference",
        }
    }
}

impl AlignMethod {
    /// The names accepted by [`AlignMethod::from_str`](std::str::FromStr) and in configs.
    pub const NAMES: [&'static str; 11] = [
        "none",
        "pcgrad",
        "gradvac",
        "cagrad",
        "mgda",
        "imtl-g",
        "nash-mtl",
        "aligned-mtl",
        "config",
        "famo",
        "cosine-gated",
    ];

    /// The short name used in configs, logs and plots.
    pub fn name(&self) -> &'static str {
        match self {
            AlignMethod::None => "none",
            AlignMethod::PcGrad => "pcgrad",
            AlignMethod::GradVac { .. } => "gradvac",
            AlignMethod::CaGrad { .. } => "cagrad",
            AlignMethod::Mgda => "mgda",
            AlignMethod::ImtlG => "imtl-g",
            AlignMethod::NashMtl { .. } => "nash-mtl",
            AlignMethod::AlignedMtl => "aligned-mtl",
            AlignMethod::ConFig => "config",
            AlignMethod::Famo { .. } => "famo",
            AlignMethod::CosineGated => "cosine-gated",
        }
    }

    /// Whether the method needs the per-path losses re-evaluated after the optimizer step
    /// (see [`GradientAligner::after_step`]).
    pub fn needs_losses_after_step(&self) -> bool {
        matches!(self, AlignMethod::Famo { .. })
    }
}

impl std::fmt::Display for AlignMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlignMethod::GradVac {
                beta,
                granularity: GradVacGranularity::Whole,
            } => write!(f, "gradvac(beta={beta})"),
            AlignMethod::GradVac { beta, granularity } => {
                write!(
                    f,
                    "gradvac(beta={beta}, granularity={})",
                    granularity.name()
                )
            }
            AlignMethod::NashMtl {
                update_weights_every,
                optim_niter,
                max_norm,
            } => write!(
                f,
                "nash-mtl(update_weights_every={update_weights_every}, \
                 optim_niter={optim_niter}, max_norm={max_norm})"
            ),
            AlignMethod::Famo { lr, gamma } => write!(f, "famo(lr={lr}, gamma={gamma})"),
            AlignMethod::CaGrad {
                c,
                solver: CaGradSolver::Exact,
            } => write!(f, "cagrad(c={c})"),
            AlignMethod::CaGrad { c, solver } => {
                write!(f, "cagrad(c={c}, solver={})", solver.name())
            }
            other => f.write_str(other.name()),
        }
    }
}

/// An alignment method name that is not one of [`AlignMethod::NAMES`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown alignment method '{name}' (known: {})", AlignMethod::NAMES.join(", "))]
pub struct UnknownAlignMethod {
    pub name: String,
}

impl std::str::FromStr for AlignMethod {
    type Err = UnknownAlignMethod;

    /// Parses a method name with the paper's default hyper-parameters (β = 0.5, c = 0.5),
    /// CAGrad's exact solver, whole-model GradVac and LibMTL's defaults for the others.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim().to_ascii_lowercase().as_str() {
            "none" | "mean" => Ok(AlignMethod::None),
            "pcgrad" => Ok(AlignMethod::PcGrad),
            "gradvac" => Ok(AlignMethod::GradVac {
                beta: default_gradvac_beta(),
                granularity: GradVacGranularity::Whole,
            }),
            "cagrad" => Ok(AlignMethod::CaGrad {
                c: default_cagrad_c(),
                solver: CaGradSolver::Exact,
            }),
            "mgda" => Ok(AlignMethod::Mgda),
            "imtl-g" => Ok(AlignMethod::ImtlG),
            "nash-mtl" => Ok(AlignMethod::NashMtl {
                update_weights_every: default_nash_update_weights_every(),
                optim_niter: default_nash_optim_niter(),
                max_norm: default_nash_max_norm(),
            }),
            "aligned-mtl" => Ok(AlignMethod::AlignedMtl),
            "config" => Ok(AlignMethod::ConFig),
            "famo" => Ok(AlignMethod::Famo {
                lr: default_famo_lr(),
                gamma: default_famo_gamma(),
            }),
            "cosine-gated" => Ok(AlignMethod::CosineGated),
            _ => Err(UnknownAlignMethod {
                name: name.to_string(),
            }),
        }
    }
}

/// What one combination saw and did, for logging and conflict statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlignStats {
    /// Cosine between the original-path and augmented-path gradients (0 when either is zero).
    pub cos: f64,
    /// Their dot product.
    pub dot: f64,
    /// Euclidean norm of the original-path gradient.
    pub norm_orig: f64,
    /// Euclidean norm of the augmented-path gradient.
    pub norm_aug: f64,
    /// Whether the gradients conflict (negative dot product).
    pub conflict: bool,
    /// Whether the method changed anything relative to the plain mean.
    pub adjusted: bool,
    /// Norm of the combined gradient written to `out`.
    pub norm_combined: f64,
    /// Method-specific weight: CAGrad's and MGDA's simplex weight of the original gradient.
    pub weight_orig: Option<f64>,
    /// GradVac's target cosine `ρ_T` used in this step (before its EMA update).
    pub target_cos: Option<f64>,
}

/// Gram matrix of the two gradients, accumulated in `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Gram {
    /// ‖g₁‖²
    pub(crate) g11: f64,
    /// ‖g₂‖²
    pub(crate) g22: f64,
    /// g₁·g₂
    pub(crate) g12: f64,
}

impl Gram {
    pub(crate) fn new(g1: &[f32], g2: &[f32]) -> Self {
        assert_eq!(
            g1.len(),
            g2.len(),
            "gradient lengths differ ({} vs {}): both paths must flatten the same parameters",
            g1.len(),
            g2.len()
        );
        // Eight independent lanes let the compiler vectorise an f64 accumulation that a single
        // running sum would serialise.
        const LANES: usize = 8;
        let mut s11 = [0.0f64; LANES];
        let mut s22 = [0.0f64; LANES];
        let mut s12 = [0.0f64; LANES];
        let chunks1 = g1.chunks_exact(LANES);
        let chunks2 = g2.chunks_exact(LANES);
        let (rest1, rest2) = (chunks1.remainder(), chunks2.remainder());
        for (c1, c2) in chunks1.zip(chunks2) {
            for lane in 0..LANES {
                let a = f64::from(c1[lane]);
                let b = f64::from(c2[lane]);
                s11[lane] += a * a;
                s22[lane] += b * b;
                s12[lane] += a * b;
            }
        }
        let (mut g11, mut g22, mut g12) = (
            s11.iter().sum::<f64>(),
            s22.iter().sum::<f64>(),
            s12.iter().sum::<f64>(),
        );
        for (&a, &b) in rest1.iter().zip(rest2) {
            let (a, b) = (f64::from(a), f64::from(b));
            g11 += a * a;
            g22 += b * b;
            g12 += a * b;
        }
        Gram { g11, g22, g12 }
    }

    fn stats(&self) -> AlignStats {
        let norm_orig = self.g11.sqrt();
        let norm_aug = self.g22.sqrt();
        let denom = norm_orig * norm_aug;
        AlignStats {
            cos: if denom > 0.0 { self.g12 / denom } else { 0.0 },
            dot: self.g12,
            norm_orig,
            norm_aug,
            conflict: self.g12 < 0.0,
            ..AlignStats::default()
        }
    }

    /// ‖a·g₁ + b·g₂‖ from the Gram matrix.
    fn norm_of(&self, a: f64, b: f64) -> f64 {
        (a * a * self.g11 + 2.0 * a * b * self.g12 + b * b * self.g22)
            .max(0.0)
            .sqrt()
    }
}

/// `out = a·g₁ + b·g₂`, element-wise in `f32` with `f64` coefficients.
fn write_combination(g1: &[f32], g2: &[f32], a: f64, b: f64, out: &mut [f32]) {
    assert_eq!(
        out.len(),
        g1.len(),
        "output length {} differs from gradient length {}",
        out.len(),
        g1.len()
    );
    let (a, b) = (a as f32, b as f32);
    for ((o, &x), &y) in out.iter_mut().zip(g1).zip(g2) {
        *o = a * x + b * y;
    }
}

/// The plain mean of the two gradients (alignment method `none`).
///
/// # Panics
/// If the three slices do not have the same length (a trainer bug, not a data problem).
pub fn mean(g_orig: &[f32], g_aug: &[f32], out: &mut [f32]) -> AlignStats {
    let gram = Gram::new(g_orig, g_aug);
    mean_plan(&gram).write(g_orig, g_aug, out)
}

/// The coefficients of a two-path combination `coef_orig·g₁ + coef_aug·g₂` and what it did:
/// every two-path method is planned from the Gram matrix alone, then written in one pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan2 {
    pub(crate) coef_orig: f64,
    pub(crate) coef_aug: f64,
    pub(crate) stats: AlignStats,
}

impl Plan2 {
    /// Writes the combination into `out` and returns the statistics.
    pub(crate) fn write(self, g_orig: &[f32], g_aug: &[f32], out: &mut [f32]) -> AlignStats {
        write_combination(g_orig, g_aug, self.coef_orig, self.coef_aug, out);
        self.stats
    }
}

pub(crate) fn mean_plan(gram: &Gram) -> Plan2 {
    Plan2 {
        coef_orig: 0.5,
        coef_aug: 0.5,
        stats: AlignStats {
            norm_combined: gram.norm_of(0.5, 0.5),
            ..gram.stats()
        },
    }
}

/// PCGrad for two gradients as in dpda_ga: when `g₁·g₂ < 0`, each gradient loses its component
/// along the *original* other one; the result is the mean of the two (projected) gradients.
///
/// # Panics
/// If the three slices do not have the same length.
pub fn pcgrad(g_orig: &[f32], g_aug: &[f32], out: &mut [f32]) -> AlignStats {
    let gram = Gram::new(g_orig, g_aug);
    pcgrad_plan(&gram).write(g_orig, g_aug, out)
}

pub(crate) fn pcgrad_plan(gram: &Gram) -> Plan2 {
    let stats = gram.stats();
    if !stats.conflict {
        return mean_plan(gram);
    }
    // g₁' = g₁ − (g₁·g₂/‖g₂‖²) g₂ and g₂' = g₂ − (g₁·g₂/‖g₁‖²) g₁; a conflict implies both norms
    // are non-zero. Projecting g₁' against its own original afterwards (the reference loops over
    // both tasks) changes nothing because g₁'·g₁ ≥ 0 by Cauchy–Schwarz.
    let coef_orig = 0.5 * (1.0 - gram.g12 / gram.g11);
    let coef_aug = 0.5 * (1.0 - gram.g12 / gram.g22);
    Plan2 {
        coef_orig,
        coef_aug,
        stats: AlignStats {
            adjusted: true,
            norm_combined: gram.norm_of(coef_orig, coef_aug),
            ..stats
        },
    }
}

/// GradVac's state: the EMA of observed positive cosines that serves as the target `ρ_T`.
///
/// The reference keeps one target per ordered task pair, but with two tasks both entries see the
/// same cosine and the same updates, so one number is the whole state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GradVacTarget {
    /// Current target cosine `ρ_T` (starts at 0).
    pub rho_target: f64,
}

/// GradVac for two gradients at whole-model granularity, as in dpda_ga's `_project_gradvac`.
///
/// With `cos = g₁·g₂/(‖g₁‖‖g₂‖)`, if `cos < ρ_T` each gradient gᵢ receives
/// `gⱼ·‖gᵢ‖(ρ_T√(1−cos²) − cos√(1−ρ_T²)) / (‖gⱼ‖√(1−ρ_T²))` (gⱼ the *original* other gradient),
/// which lifts its cosine with gⱼ to exactly `ρ_T`; both use the target from before this step.
/// Then, only if `cos > 0`, `ρ_T ← (1−β)ρ_T + β·cos`. The result is the mean of the two.
///
/// # Panics
/// If the three slices do not have the same length.
pub fn gradvac(
    g_orig: &[f32],
    g_aug: &[f32],
    target: &mut GradVacTarget,
    beta: f64,
    out: &mut [f32],
) -> AlignStats {
    let gram = Gram::new(g_orig, g_aug);
    gradvac_plan(&gram, target, beta).write(g_orig, g_aug, out)
}

pub(crate) fn gradvac_plan(gram: &Gram, target: &mut GradVacTarget, beta: f64) -> Plan2 {
    let (n1, n2) = (gram.g11.sqrt(), gram.g22.sqrt());
    let rho_t = target.rho_target;
    // The reference's cosine has an epsilon in the denominator; for non-zero gradients it only
    // matters in the ninth digit, for zero gradients it keeps the cosine at 0.
    let cos = gram.g12 / (n1 * n2 + REF_EPS);
    let mut stats = AlignStats {
        target_cos: Some(rho_t),
        ..gram.stats()
    };
    let (mut coef_orig, mut coef_aug) = (0.5, 0.5);
    if cos < rho_t {
        let sin = (1.0 - cos * cos).max(0.0).sqrt();
        let sin_t = (1.0 - rho_t * rho_t).max(0.0).sqrt();
        let lift = rho_t * sin - cos * sin_t;
        // g₁ += w₁·g₂ and g₂ += w₂·g₁; out = (g₁ + g₂)/2.
        let w1 = n1 * lift / (n2 * sin_t + REF_EPS);
        let w2 = n2 * lift / (n1 * sin_t + REF_EPS);
        coef_orig = 0.5 * (1.0 + w2);
        coef_aug = 0.5 * (1.0 + w1);
        stats.adjusted = true;
    }
    if cos > 0.0 {
        target.rho_target = (1.0 - beta) * rho_t + beta * cos;
    }
    stats.norm_combined = gram.norm_of(coef_orig, coef_aug);
    Plan2 {
        coef_orig,
        coef_aug,
        stats,
    }
}

/// The weight `w` of g₁ on the simplex `(w, 1−w)` that minimises CAGrad's dual objective
/// `f(w) = xᵀGb + c′√(xᵀGx + 1e-8)` with `b = (½, ½)`, exactly.
///
/// With `x = (w, 1−w)` the objective is `s·w + c′√(a w² + 2 b w + e)` (plus a constant), a
/// convex function of `w`; its stationary point has a closed form and the constrained minimum is
/// the best of that point (clipped to `[0, 1]`) and the two ends.
fn cagrad_weight(gram: &Gram, c_prime: f64) -> f64 {
    let s = 0.5 * (gram.g11 - gram.g22);
    let a = gram.g11 - 2.0 * gram.g12 + gram.g22;
    let b = gram.g12 - gram.g22;
    let e = gram.g22 + REF_EPS;
    let objective = |w: f64| s * w + c_prime * (a * w * w + 2.0 * b * w + e).max(0.0).sqrt();
    if a <= 0.0 {
        // Identical gradients: the objective is flat, the reference's SLSQP stays at its start.
        return 0.5;
    }
    // In u = w + b/a the quadratic is a·u² + m with m ≥ 0 (distance² of the origin to the line).
    let m = (e - b * b / a).max(0.0);
    let slope_limit = c_prime * c_prime * a - s * s;
    let stationary = if slope_limit > 0.0 {
        let u = (s * s * m / (a * slope_limit)).sqrt();
        let u = if s > 0.0 { -u } else { u };
        (u - b / a).clamp(0.0, 1.0)
    } else if s > 0.0 {
        0.0
    } else {
        1.0
    };
    [stationary, 0.0, 1.0]
        .into_iter()
        .map(|w| (w, objective(w)))
        .fold((0.5, f64::INFINITY), |best, cand| {
            if cand.1 < best.1 {
                cand
            } else {
                best
            }
        })
        .0
}

/// CAGrad for two gradients as in dpda_ga's `_project_conflicting` (cagrad.py).
///
/// `c′ = c·√(mean(G) + 1e-8) + 1e-8` where `mean(G)` is the mean entry of the Gram matrix (the
/// squared norm of the mean gradient); `w` minimises `xᵀGb + c′√(xᵀGx + 1e-8)` over the simplex,
/// `g_w = w·g₁ + (1−w)·g₂`, and the result is `(mean(g) + c′/(‖g_w‖ + 1e-8)·g_w) / (1 + c²)`.
///
/// # Panics
/// If the three slices do not have the same length.
pub fn cagrad(g_orig: &[f32], g_aug: &[f32], c: f64, out: &mut [f32]) -> AlignStats {
    let gram = Gram::new(g_orig, g_aug);
    cagrad_plan(&gram, c).write(g_orig, g_aug, out)
}

pub(crate) fn cagrad_plan(gram: &Gram, c: f64) -> Plan2 {
    let mean_gram = 0.25 * (gram.g11 + gram.g22 + 2.0 * gram.g12);
    let c_prime = c * (mean_gram + REF_EPS).sqrt() + REF_EPS;
    let w = cagrad_weight(gram, c_prime);
    let lambda = c_prime / (gram.norm_of(w, 1.0 - w) + REF_EPS);
    let scale = 1.0 / (1.0 + c * c);
    let coef_orig = (0.5 + lambda * w) * scale;
    let coef_aug = (0.5 + lambda * (1.0 - w)) * scale;
    Plan2 {
        coef_orig,
        coef_aug,
        stats: AlignStats {
            adjusted: true,
            norm_combined: gram.norm_of(coef_orig, coef_aug),
            weight_orig: Some(w),
            ..gram.stats()
        },
    }
}

/// CAGrad for two gradients with the simplex weight chosen as dpda_ga's code chooses it: scipy's
/// SLSQP ([`super::slsqp::cagrad_slsqp`]) on the objective built as cagrad.py builds it in
/// float32 — the Gram entries rounded to `f32` and `c′ = c·√(mean(G) + 1e-8) + 1e-8` evaluated in
/// `f32` — then the same combination as [`cagrad`] with `g_w = x₀·g₁ + x₁·g₂` from SLSQP's point.
///
/// # Panics
/// If the three slices do not have the same length.
pub fn cagrad_reference(g_orig: &[f32], g_aug: &[f32], c: f64, out: &mut [f32]) -> AlignStats {
    let gram = Gram::new(g_orig, g_aug);
    cagrad_reference_plan(&gram, c).write(g_orig, g_aug, out)
}

pub(crate) fn cagrad_reference_plan(gram: &Gram, c: f64) -> Plan2 {
    let (g11, g12, g22) = (gram.g11 as f32, gram.g12 as f32, gram.g22 as f32);
    let mean_gram = (g11 + g12 + g12 + g22) / 4.0;
    let c_prime = f64::from(c as f32 * (mean_gram + 1e-8).sqrt() + 1e-8);
    let a = [
        [f64::from(g11), f64::from(g12)],
        [f64::from(g12), f64::from(g22)],
    ];
    let [w_orig, w_aug] = super::slsqp::cagrad_slsqp(a, c_prime).x;
    let lambda = c_prime / (gram.norm_of(w_orig, w_aug) + REF_EPS);
    let scale = 1.0 / (1.0 + c * c);
    let coef_orig = (0.5 + lambda * w_orig) * scale;
    let coef_aug = (0.5 + lambda * w_aug) * scale;
    Plan2 {
        coef_orig,
        coef_aug,
        stats: AlignStats {
            adjusted: true,
            norm_combined: gram.norm_of(coef_orig, coef_aug),
            weight_orig: Some(w_orig),
            ..gram.stats()
        },
    }
}

/// MGDA for two gradients: the minimum-norm point `γ·g₁ + (1−γ)·g₂`, `γ ∈ [0, 1]`, in closed form
/// (Sener & Koltun 2018, Algorithm 1 for two tasks), without any gradient normalisation.
///
/// # Panics
/// If the three slices do not have the same length.
pub fn mgda(g_orig: &[f32], g_aug: &[f32], out: &mut [f32]) -> AlignStats {
    let gram = Gram::new(g_orig, g_aug);
    mgda_plan(&gram).write(g_orig, g_aug, out)
}

pub(crate) fn mgda_plan(gram: &Gram) -> Plan2 {
    let dist2 = gram.g11 - 2.0 * gram.g12 + gram.g22;
    let gamma = if dist2 > 0.0 {
        ((gram.g22 - gram.g12) / dist2).clamp(0.0, 1.0)
    } else {
        0.5
    };
    Plan2 {
        coef_orig: gamma,
        coef_aug: 1.0 - gamma,
        stats: AlignStats {
            adjusted: true,
            norm_combined: gram.norm_of(gamma, 1.0 - gamma),
            weight_orig: Some(gamma),
            ..gram.stats()
        },
    }
}

/// A configured alignment method plus its state (GradVac's targets, the shuffle generator of
/// PCGrad and GradVac, Nash-MTL's last weights, FAMO's logits), saved with checkpoints.
///
/// Sidecars written before the K-path methods existed hold only `method` and `gradvac_target`;
/// the K-path state then starts fresh.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GradientAligner {
    /// The method in use.
    pub method: AlignMethod,
    /// GradVac's EMA target for two paths at whole-model granularity; unused otherwise.
    #[serde(default)]
    pub gradvac_target: GradVacTarget,
    /// The state of the K-path methods ([`super::align_k`]).
    #[serde(default)]
    pub paths: PathsState,
}

impl GradientAligner {
    /// A fresh aligner (GradVac's target starts at 0 as in the reference).
    pub fn new(method: AlignMethod) -> Self {
        GradientAligner {
            method,
            gradvac_target: GradVacTarget::default(),
            paths: PathsState::default(),
        }
    }

    /// A fresh aligner whose random task orders (PCGrad and GradVac with K ≥ 3 paths) come from
    /// `shuffle_seed`.
    pub fn with_shuffle_seed(method: AlignMethod, shuffle_seed: u64) -> Self {
        let mut aligner = GradientAligner::new(method);
        aligner.paths.shuffle_rng = crate::rng::Rng::new(shuffle_seed);
        aligner
    }

    /// Writes the combined gradient of the two paths into `out` and reports what happened.
    ///
    /// The methods without a two-path form of their own (IMTL-G, Nash-MTL, Aligned-MTL, ConFIG,
    /// FAMO, cosine-gated) go through [`GradientAligner::combine_paths`] with both gradients as
    /// one parameter group and, for FAMO, equal losses (its weights are then `softmax(w)`).
    ///
    /// # Panics
    /// If the three slices do not have the same length (a trainer bug, not a data problem).
    pub fn combine(&mut self, g_orig: &[f32], g_aug: &[f32], out: &mut [f32]) -> AlignStats {
        match self.method {
            AlignMethod::None => mean(g_orig, g_aug, out),
            AlignMethod::PcGrad => pcgrad(g_orig, g_aug, out),
            AlignMethod::GradVac {
                beta,
                granularity: _,
            } => gradvac(g_orig, g_aug, &mut self.gradvac_target, beta, out),
            AlignMethod::CaGrad {
                c,
                solver: CaGradSolver::Exact,
            } => cagrad(g_orig, g_aug, c, out),
            AlignMethod::CaGrad {
                c,
                solver: CaGradSolver::Reference,
            } => cagrad_reference(g_orig, g_aug, c, out),
            AlignMethod::Mgda => mgda(g_orig, g_aug, out),
            _ => {
                let layout = FlatLayout {
                    entries: vec![("all".to_string(), 0, g_orig.len(), vec![g_orig.len()])],
                };
                let stats = self.combine_paths(&[g_orig, g_aug], &[1.0, 1.0], &layout, out);
                AlignStats {
                    cos: stats.cos(0, 1),
                    dot: stats.dot(0, 1),
                    norm_orig: stats.norm(0),
                    norm_aug: stats.norm(1),
                    conflict: stats.dot(0, 1) < 0.0,
                    adjusted: stats.adjusted,
                    norm_combined: stats.norm_combined,
                    weight_orig: stats.weights.as_ref().and_then(|w| w.first().copied()),
                    target_cos: None,
                }
            }
        }
    }

    /// Writes the combination of K path gradients (path 0 the clean path) into `out`.
    ///
    /// `losses` holds one loss per path (only FAMO reads them; others accept an empty slice);
    /// `layout` says where each tensor lies in the flat vectors (GradVac's layer and tensor
    /// granularities). For K = 2 the five methods of [`GradientAligner::combine`] give exactly
    /// its output and state evolution. See [`super::align_k`] for each method's K-path form.
    ///
    /// # Panics
    /// If the gradients and `out` differ in length, if there is no gradient, or if FAMO gets
    /// other than K losses (trainer bugs, not data problems).
    pub fn combine_paths(
        &mut self,
        grads: &[&[f32]],
        losses: &[f64],
        layout: &FlatLayout,
        out: &mut [f32],
    ) -> PathsStats {
        super::align_k::combine_paths(
            self.method,
            &mut self.gradvac_target,
            &mut self.paths,
            grads,
            losses,
            layout,
            out,
        )
    }

    /// Whether the trainer must call [`GradientAligner::after_step`] with the losses
    /// re-evaluated after each optimizer step (true only for FAMO).
    pub fn needs_losses_after_step(&self) -> bool {
        self.method.needs_losses_after_step()
    }

    /// Updates loss-based state from the K losses re-evaluated on the same batch after the
    /// optimizer step (FAMO's logit update); a no-op for the other methods and when no
    /// `combine_paths` came before.
    pub fn after_step(&mut self, losses_after: &[f64]) {
        if let AlignMethod::Famo { lr, gamma } = self.method {
            super::align_k::famo_update(&mut self.paths.famo, losses_after, lr, gamma);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum()
    }

    fn norm(a: &[f32]) -> f64 {
        dot(a, a).sqrt()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f64 {
        dot(a, b) / (norm(a) * norm(b))
    }

    fn random_vec(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.normal() as f32).collect()
    }

    /// A pair of random gradients with a prescribed approximate cosine.
    fn pair_with_cos(seed: u64, n: usize, target_cos: f64, scale_aug: f64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Rng::new(seed);
        let a = random_vec(&mut rng, n);
        let noise = random_vec(&mut rng, n);
        // Remove a's component from the noise, then mix to get the wanted angle.
        let k = dot(&noise, &a) / dot(&a, &a);
        let perp: Vec<f64> = noise
            .iter()
            .zip(&a)
            .map(|(&z, &x)| f64::from(z) - k * f64::from(x))
            .collect();
        let perp_norm = perp.iter().map(|v| v * v).sum::<f64>().sqrt();
        let a_norm = norm(&a);
        let sin = (1.0 - target_cos * target_cos).sqrt();
        let b = a
            .iter()
            .zip(&perp)
            .map(|(&x, &p)| {
                (scale_aug * (target_cos * f64::from(x) / a_norm + sin * p / perp_norm) * a_norm)
                    as f32
            })
            .collect();
        (a, b)
    }

    fn assert_close(actual: &[f32], expected: &[f64], rel: f64) {
        let scale = expected
            .iter()
            .map(|v| v.abs())
            .fold(0.0, f64::max)
            .max(1e-30);
        for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (f64::from(a) - e).abs() <= rel * scale,
                "element {i}: {a} vs {e} (scale {scale})"
            );
        }
    }

    #[test]
    fn mean_is_the_average_and_reports_the_cosine() {
        let g1 = [1.0f32, 2.0, 3.0];
        let g2 = [-1.0f32, 0.0, 1.0];
        let mut out = [0.0f32; 3];
        let stats = mean(&g1, &g2, &mut out);
        assert_eq!(out, [0.0, 1.0, 2.0]);
        assert!((stats.dot - 2.0).abs() < 1e-12);
        assert!((stats.cos - 2.0 / (14.0f64.sqrt() * 2.0f64.sqrt())).abs() < 1e-12);
        assert!(!stats.conflict && !stats.adjusted);
        assert!((stats.norm_combined - 5.0f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn pcgrad_projects_each_against_the_original_other_when_conflicting() {
        let (g1, g2) = pair_with_cos(1, 257, -0.6, 2.5);
        let mut out = vec![0.0f32; g1.len()];
        let stats = pcgrad(&g1, &g2, &mut out);
        assert!(stats.conflict && stats.adjusted);
        assert!((stats.cos + 0.6).abs() < 1e-4, "cos {}", stats.cos);
        // Independent computation of the two projections in f64.
        let d = dot(&g1, &g2);
        let p1: Vec<f64> = g1
            .iter()
            .zip(&g2)
            .map(|(&a, &b)| f64::from(a) - d / dot(&g2, &g2) * f64::from(b))
            .collect();
        let p2: Vec<f64> = g2
            .iter()
            .zip(&g1)
            .map(|(&b, &a)| f64::from(b) - d / dot(&g1, &g1) * f64::from(a))
            .collect();
        let p1_dot_g2: f64 = p1.iter().zip(&g2).map(|(a, &b)| a * f64::from(b)).sum();
        let p2_dot_g1: f64 = p2.iter().zip(&g1).map(|(a, &b)| a * f64::from(b)).sum();
        assert!(p1_dot_g2.abs() < 1e-9 * norm(&g1) * norm(&g2));
        assert!(p2_dot_g1.abs() < 1e-9 * norm(&g1) * norm(&g2));
        let expected: Vec<f64> = p1.iter().zip(&p2).map(|(a, b)| 0.5 * (a + b)).collect();
        assert_close(&out, &expected, 1e-6);
        let expected_norm = expected.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((stats.norm_combined - expected_norm).abs() < 1e-9 * expected_norm);
    }

    #[test]
    fn pcgrad_is_the_plain_mean_without_conflict() {
        let (g1, g2) = pair_with_cos(2, 100, 0.3, 0.7);
        let mut out = vec![0.0f32; g1.len()];
        let stats = pcgrad(&g1, &g2, &mut out);
        assert!(!stats.conflict && !stats.adjusted);
        let mut plain = vec![0.0f32; g1.len()];
        mean(&g1, &g2, &mut plain);
        assert_eq!(out, plain);
    }

    #[test]
    fn gradvac_lifts_the_cosine_to_the_target_and_updates_the_ema_only_on_positive_cosine() {
        let (g1, g2) = pair_with_cos(3, 300, 0.2, 1.7);
        let mut target = GradVacTarget { rho_target: 0.5 };
        let mut out = vec![0.0f32; g1.len()];
        let stats = gradvac(&g1, &g2, &mut target, 0.5, &mut out);
        assert!(stats.adjusted);
        assert_eq!(stats.target_cos, Some(0.5));
        // Rebuild the modified gradients from the documented formula and check their cosines.
        let cos = cosine(&g1, &g2);
        let lift = 0.5 * (1.0 - cos * cos).sqrt() - cos * (1.0 - 0.25f64).sqrt();
        let w1 = norm(&g1) * lift / (norm(&g2) * 0.75f64.sqrt());
        let w2 = norm(&g2) * lift / (norm(&g1) * 0.75f64.sqrt());
        let g1_mod: Vec<f32> = g1
            .iter()
            .zip(&g2)
            .map(|(&a, &b)| (f64::from(a) + w1 * f64::from(b)) as f32)
            .collect();
        let g2_mod: Vec<f32> = g2
            .iter()
            .zip(&g1)
            .map(|(&b, &a)| (f64::from(b) + w2 * f64::from(a)) as f32)
            .collect();
        assert!((cosine(&g1_mod, &g2) - 0.5).abs() < 1e-6);
        assert!((cosine(&g2_mod, &g1) - 0.5).abs() < 1e-6);
        let expected: Vec<f64> = g1_mod
            .iter()
            .zip(&g2_mod)
            .map(|(&a, &b)| 0.5 * (f64::from(a) + f64::from(b)))
            .collect();
        assert_close(&out, &expected, 1e-6);
        // cos > 0: EMA moves halfway towards the observed (pre-modification) cosine.
        assert!((target.rho_target - (0.25 + 0.5 * cos)).abs() < 1e-9);

        // A conflicting pair: modified towards the target, but the EMA is not updated.
        let (h1, h2) = pair_with_cos(4, 300, -0.4, 0.3);
        let before = target;
        let stats = gradvac(&h1, &h2, &mut target, 0.5, &mut out);
        assert!(stats.adjusted && stats.conflict);
        assert_eq!(target, before);
    }

    #[test]
    fn gradvac_leaves_pairs_above_the_target_alone() {
        let (g1, g2) = pair_with_cos(5, 64, 0.8, 1.0);
        let mut target = GradVacTarget { rho_target: 0.3 };
        let mut out = vec![0.0f32; g1.len()];
        let stats = gradvac(&g1, &g2, &mut target, 0.25, &mut out);
        assert!(!stats.adjusted);
        let mut plain = vec![0.0f32; g1.len()];
        mean(&g1, &g2, &mut plain);
        assert_eq!(out, plain);
        assert!((target.rho_target - (0.75 * 0.3 + 0.25 * stats.cos)).abs() < 1e-6);
    }

    /// CAGrad's objective evaluated on a fine grid over the segment, in f64.
    fn cagrad_by_grid(g1: &[f32], g2: &[f32], c: f64) -> (f64, Vec<f64>) {
        let g11 = dot(g1, g1);
        let g22 = dot(g2, g2);
        let g12 = dot(g1, g2);
        let c_prime = c * ((g11 + g22 + 2.0 * g12) / 4.0 + 1e-8).sqrt() + 1e-8;
        let f = |w: f64| {
            let xgb = 0.5 * (w * (g11 + g12) + (1.0 - w) * (g12 + g22));
            let xgx = w * w * g11 + 2.0 * w * (1.0 - w) * g12 + (1.0 - w) * (1.0 - w) * g22;
            xgb + c_prime * (xgx + 1e-8).sqrt()
        };
        let steps = 200_000;
        let w = (0..=steps)
            .map(|i| i as f64 / steps as f64)
            .min_by(|a, b| f(*a).total_cmp(&f(*b)))
            .unwrap_or(0.5);
        let gw: Vec<f64> = g1
            .iter()
            .zip(g2)
            .map(|(&a, &b)| w * f64::from(a) + (1.0 - w) * f64::from(b))
            .collect();
        let gw_norm = gw.iter().map(|v| v * v).sum::<f64>().sqrt();
        let lambda = c_prime / (gw_norm + 1e-8);
        let out = g1
            .iter()
            .zip(g2)
            .zip(&gw)
            .map(|((&a, &b), gwi)| {
                (0.5 * (f64::from(a) + f64::from(b)) + lambda * gwi) / (1.0 + c * c)
            })
            .collect();
        (w, out)
    }

    #[test]
    fn cagrad_matches_a_grid_search_over_the_segment() {
        for (seed, cos, scale, c) in [
            (10, -0.7, 1.0, 0.5),
            (11, -0.2, 3.0, 0.5),
            (12, 0.4, 0.2, 0.5),
            (13, 0.95, 1.0, 0.5),
            (14, -0.99, 1.3, 0.9),
            (15, 0.0, 10.0, 0.2),
        ] {
            let (g1, g2) = pair_with_cos(seed, 120, cos, scale);
            let mut out = vec![0.0f32; g1.len()];
            let stats = cagrad(&g1, &g2, c, &mut out);
            let (w_grid, expected) = cagrad_by_grid(&g1, &g2, c);
            let w = stats.weight_orig.unwrap_or(f64::NAN);
            assert!(
                (w - w_grid).abs() < 2e-5,
                "seed {seed}: w {w} vs grid {w_grid}"
            );
            assert_close(&out, &expected, 1e-4);
        }
    }

    #[test]
    fn cagrad_weight_is_exact_where_the_grid_is_coarse() {
        // The exact weight must not be beaten by any nearby point of the objective.
        let (g1, g2) = pair_with_cos(16, 50, -0.5, 2.0);
        let gram = Gram::new(&g1, &g2);
        let c_prime = 0.5 * ((gram.g11 + gram.g22 + 2.0 * gram.g12) / 4.0 + 1e-8).sqrt() + 1e-8;
        let w = cagrad_weight(&gram, c_prime);
        let f = |w: f64| {
            let s = 0.5 * (gram.g11 - gram.g22);
            let a = gram.g11 - 2.0 * gram.g12 + gram.g22;
            let b = gram.g12 - gram.g22;
            s * w + c_prime * (a * w * w + 2.0 * b * w + gram.g22 + 1e-8).sqrt()
        };
        for dw in [1e-3, 1e-5, 1e-7] {
            for cand in [w - dw, w + dw] {
                if (0.0..=1.0).contains(&cand) {
                    assert!(
                        f(cand) >= f(w) - 1e-12 * f(w).abs(),
                        "w {w} beaten by {cand}"
                    );
                }
            }
        }
    }

    #[test]
    fn mgda_is_the_min_norm_point_of_the_segment() {
        for (seed, cos, scale) in [
            (20, -0.5, 1.0),
            (21, 0.3, 4.0),
            (22, 0.9, 0.5),
            (23, -0.95, 2.0),
        ] {
            let (g1, g2) = pair_with_cos(seed, 80, cos, scale);
            let mut out = vec![0.0f32; g1.len()];
            let stats = mgda(&g1, &g2, &mut out);
            let steps = 100_000;
            let norm_at = |w: f64| {
                g1.iter()
                    .zip(&g2)
                    .map(|(&a, &b)| {
                        let v = w * f64::from(a) + (1.0 - w) * f64::from(b);
                        v * v
                    })
                    .sum::<f64>()
                    .sqrt()
            };
            let best_grid = (0..=steps)
                .map(|i| norm_at(i as f64 / steps as f64))
                .fold(f64::INFINITY, f64::min);
            assert!(stats.norm_combined <= best_grid * (1.0 + 1e-9));
            assert!(stats.norm_combined >= best_grid * (1.0 - 1e-6));
            assert!((norm(&out) - stats.norm_combined).abs() < 1e-5 * stats.norm_combined);
        }
        // A gradient that lies beyond the other's foot: the min-norm point is the endpoint.
        let g1 = [1.0f32, 0.0];
        let g2 = [3.0f32, 1.0];
        let mut out = [0.0f32; 2];
        let stats = mgda(&g1, &g2, &mut out);
        assert_eq!(stats.weight_orig, Some(1.0));
        assert_eq!(out, g1);
    }

    #[test]
    fn zero_gradients_give_finite_results() {
        let zero = vec![0.0f32; 16];
        let mut rng = Rng::new(30);
        let g = random_vec(&mut rng, 16);
        for method in [
            AlignMethod::None,
            AlignMethod::PcGrad,
            AlignMethod::GradVac {
                beta: 0.5,
                granularity: GradVacGranularity::Whole,
            },
            AlignMethod::CaGrad {
                c: 0.5,
                solver: CaGradSolver::Exact,
            },
            AlignMethod::CaGrad {
                c: 0.5,
                solver: CaGradSolver::Reference,
            },
            AlignMethod::Mgda,
        ] {
            for (a, b) in [(&zero, &zero), (&zero, &g), (&g, &zero)] {
                let mut aligner = GradientAligner::new(method);
                aligner.gradvac_target.rho_target = 0.4;
                let mut out = vec![f32::NAN; 16];
                let stats = aligner.combine(a, b, &mut out);
                assert!(out.iter().all(|v| v.is_finite()), "{method}: {out:?}");
                assert!(stats.cos.is_finite() && stats.norm_combined.is_finite());
                assert!(!stats.conflict);
                assert!(aligner.gradvac_target.rho_target.is_finite());
            }
            let mut aligner = GradientAligner::new(method);
            let mut out = vec![f32::NAN; 16];
            aligner.combine(&zero, &zero, &mut out);
            assert!(out.iter().all(|&v| v == 0.0), "{method}: {out:?}");
        }
    }

    #[test]
    fn methods_parse_and_round_trip_through_serde() {
        for name in AlignMethod::NAMES {
            let method: AlignMethod = name.parse().unwrap_or(AlignMethod::None);
            assert_eq!(method.name(), name);
            let json = serde_json::to_string(&method).unwrap_or_default();
            assert!(json.contains(&format!("\"method\":\"{name}\"")), "{json}");
            let back: AlignMethod = serde_json::from_str(&json).unwrap_or(AlignMethod::Mgda);
            assert_eq!(back, method);
        }
        assert!("pc-grad".parse::<AlignMethod>().is_err());
        let from_toml: AlignMethod = toml::from_str("method = \"cagrad\"").unwrap_or_default();
        assert_eq!(
            from_toml,
            AlignMethod::CaGrad {
                c: 0.5,
                solver: CaGradSolver::Exact
            }
        );
        // Checkpoints written before the solver existed name no solver: the exact one.
        let reference = AlignMethod::CaGrad {
            c: 0.5,
            solver: CaGradSolver::Reference,
        };
        let json = serde_json::to_string(&reference).unwrap_or_default();
        assert!(json.contains("\"solver\":\"reference\""), "{json}");
        assert_eq!(
            serde_json::from_str::<AlignMethod>(&json).ok(),
            Some(reference)
        );
        assert_eq!(reference.to_string(), "cagrad(c=0.5, solver=reference)");
        let from_toml: AlignMethod =
            toml::from_str("method = \"gradvac\"\nbeta = 0.1").unwrap_or_default();
        assert_eq!(
            from_toml,
            AlignMethod::GradVac {
                beta: 0.1,
                granularity: GradVacGranularity::Whole
            }
        );
        assert!(toml::from_str::<AlignMethod>("method = \"cagrad\"\nbeta = 0.1").is_err());
    }

    #[test]
    fn sidecars_from_before_the_k_path_methods_still_load() {
        let old = r#"{"method":{"method":"pcgrad"},"gradvac_target":{"rho_target":0.0}}"#;
        let aligner: GradientAligner =
            serde_json::from_str(old).unwrap_or_else(|e| panic!("old sidecar: {e}"));
        assert_eq!(aligner, GradientAligner::new(AlignMethod::PcGrad));
        let old =
            r#"{"method":{"method":"gradvac","beta":0.25},"gradvac_target":{"rho_target":0.3}}"#;
        let aligner: GradientAligner =
            serde_json::from_str(old).unwrap_or_else(|e| panic!("old sidecar: {e}"));
        assert_eq!(
            aligner.method,
            AlignMethod::GradVac {
                beta: 0.25,
                granularity: GradVacGranularity::Whole
            }
        );
        assert_eq!(aligner.gradvac_target.rho_target, 0.3);
        // And the new state survives a round trip.
        let mut aligner = GradientAligner::new(AlignMethod::Famo {
            lr: 0.025,
            gamma: 1e-3,
        });
        let (g1, g2) = pair_with_cos(60, 32, -0.3, 1.0);
        let mut out = vec![0.0f32; 32];
        let layout = FlatLayout {
            entries: vec![("w".into(), 0, 32, vec![32])],
        };
        aligner.combine_paths(&[&g1, &g2], &[0.7, 0.4], &layout, &mut out);
        aligner.after_step(&[0.5, 0.39]);
        let json = serde_json::to_string(&aligner).unwrap_or_default();
        let back: GradientAligner =
            serde_json::from_str(&json).unwrap_or_else(|_| GradientAligner::new(AlignMethod::None));
        assert_eq!(back, aligner);
        assert!(back.paths.famo.logits.iter().any(|&w| w != 0.0));
    }

    #[test]
    fn aligner_state_round_trips() {
        let (g1, g2) = pair_with_cos(40, 64, 0.3, 1.0);
        let mut aligner = GradientAligner::new(AlignMethod::GradVac {
            beta: 0.5,
            granularity: GradVacGranularity::Whole,
        });
        let mut out = vec![0.0f32; 64];
        aligner.combine(&g1, &g2, &mut out);
        assert!(aligner.gradvac_target.rho_target > 0.0);
        let json = serde_json::to_string(&aligner).unwrap_or_default();
        let mut restored: GradientAligner =
            serde_json::from_str(&json).unwrap_or_else(|_| GradientAligner::new(AlignMethod::Mgda));
        assert_eq!(restored, aligner);
        let (h1, h2) = pair_with_cos(41, 64, 0.1, 2.0);
        let mut out_a = vec![0.0f32; 64];
        let mut out_b = vec![0.0f32; 64];
        aligner.combine(&h1, &h2, &mut out_a);
        restored.combine(&h1, &h2, &mut out_b);
        assert_eq!(out_a, out_b);
        assert_eq!(restored, aligner);
    }

    /// Values from the DPDA paper's own code: `scripts/optim_reference.py` runs dpda_ga's
    /// `grad_align` PCGrad, GradVac and CAGrad (torch, float32; CAGrad through scipy's SLSQP).
    #[derive(serde::Deserialize)]
    struct AlignFixture {
        pairs: Vec<AlignPair>,
        gradvac_beta: f64,
        gradvac_sequence: Vec<GradVacStep>,
    }

    #[derive(serde::Deserialize)]
    struct AlignPair {
        g_orig: Vec<f32>,
        g_aug: Vec<f32>,
        pcgrad: Vec<f32>,
        cagrad: Vec<f32>,
    }

    #[derive(serde::Deserialize)]
    struct GradVacStep {
        g_orig: Vec<f32>,
        g_aug: Vec<f32>,
        target_before: f64,
        target_after: f64,
        out: Vec<f32>,
    }

    fn fixture() -> AlignFixture {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/optim/align.json"
        ));
        serde_json::from_str(text).unwrap_or_else(|e| panic!("align.json: {e}"))
    }

    fn to_f64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&x| f64::from(x)).collect()
    }

    #[test]
    fn pcgrad_and_cagrad_match_the_reference_code() {
        let fixture = fixture();
        for pair in &fixture.pairs {
            let mut out = vec![0.0f32; pair.g_orig.len()];
            pcgrad(&pair.g_orig, &pair.g_aug, &mut out);
            assert_close(&out, &to_f64(&pair.pcgrad), 2e-6);
            // SLSQP converges to the exact weight here to float32 precision.
            cagrad(&pair.g_orig, &pair.g_aug, 0.5, &mut out);
            assert_close(&out, &to_f64(&pair.cagrad), 2e-6);
            // And the reference solver follows SLSQP there too.
            cagrad_reference(&pair.g_orig, &pair.g_aug, 0.5, &mut out);
            assert_close(&out, &to_f64(&pair.cagrad), 2e-6);
        }
    }

    #[test]
    fn gradvac_sequence_matches_the_reference_code() {
        let fixture = fixture();
        let mut aligner = GradientAligner::new(AlignMethod::GradVac {
            beta: fixture.gradvac_beta,
            granularity: GradVacGranularity::Whole,
        });
        for step in &fixture.gradvac_sequence {
            assert!((aligner.gradvac_target.rho_target - step.target_before).abs() < 1e-6);
            let mut out = vec![0.0f32; step.g_orig.len()];
            aligner.combine(&step.g_orig, &step.g_aug, &mut out);
            assert_close(&out, &to_f64(&step.out), 2e-6);
            assert!((aligner.gradvac_target.rho_target - step.target_after).abs() < 1e-6);
        }
    }

    /// dpda_ga's own `CAGrad._project_conflicting` on float32 gradient pairs, with the weight its
    /// SLSQP call returned (`scripts/cagrad_slsqp_reference.py --dpda-ga`).
    #[derive(serde::Deserialize)]
    struct SlsqpFixture {
        vector_cases: Vec<SlsqpVectorCase>,
    }

    #[derive(serde::Deserialize)]
    struct SlsqpVectorCase {
        g_orig: Vec<f32>,
        g_aug: Vec<f32>,
        x: [f64; 2],
        out: Vec<f32>,
    }

    #[test]
    fn reference_solver_reproduces_the_reference_cagrad() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/optim/cagrad_slsqp.json"
        ));
        let fixture: SlsqpFixture =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("cagrad_slsqp.json: {e}"));
        assert!(fixture.vector_cases.len() >= 5);
        let mut stayed_at_half = 0;
        for case in &fixture.vector_cases {
            let mut out = vec![0.0f32; case.g_orig.len()];
            let stats = cagrad_reference(&case.g_orig, &case.g_aug, 0.5, &mut out);
            let w = stats.weight_orig.unwrap_or(f64::NAN);
            assert!(
                (w - case.x[0]).abs() < 1e-6,
                "w {w} vs reference {:?}",
                case.x
            );
            assert_close(&out, &to_f64(&case.out), 2e-6);
            if case.x[0] == 0.5 {
                stayed_at_half += 1;
                // Where SLSQP did not move, the exact solver gives another direction.
                let mut exact = vec![0.0f32; out.len()];
                let exact_stats = cagrad(&case.g_orig, &case.g_aug, 0.5, &mut exact);
                assert!((exact_stats.weight_orig.unwrap_or(0.5) - 0.5).abs() > 0.05);
            }
        }
        assert!(
            stayed_at_half >= 2,
            "the fixture should cover small gradients"
        );
    }

    #[test]
    fn the_aligner_dispatches_on_the_cagrad_solver() {
        // Small conflicting gradients: the exact weight is an end, the reference's stays ½.
        let (g1, g2) = pair_with_cos(50, 64, -0.5, 1.5);
        let small = |g: &[f32]| g.iter().map(|v| v * 1e-4).collect::<Vec<f32>>();
        let (g1, g2) = (small(&g1), small(&g2));
        let mut out = vec![0.0f32; 64];
        let mut weights = Vec::new();
        for solver in [CaGradSolver::Exact, CaGradSolver::Reference] {
            let mut aligner = GradientAligner::new(AlignMethod::CaGrad { c: 0.5, solver });
            weights.push(aligner.combine(&g1, &g2, &mut out).weight_orig);
        }
        assert_eq!(weights[1], Some(0.5));
        assert!(
            weights[0].is_some_and(|w| (w - 0.5).abs() > 0.05),
            "{weights:?}"
        );
    }
}
