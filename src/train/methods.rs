//! The numerical pieces the step needs on flat `f32` gradient vectors: two-path gradient
//! alignment, the base optimizer, the learning-rate schedule and SAM's perturbation. They are
//! small, self-contained and serialisable so that a checkpoint restores them exactly. The step
//! ([`super::step`]) is the only caller.
//!
//! Alignment follows the DPDA reference for two gradients (original, augmented): PCGrad projects
//! each against the other *original* gradient when they conflict and returns the mean; GradVac
//! keeps an EMA target cosine (β = 0.5, start 0, updated only when cos > 0); CAGrad (c = 0.5)
//! solves its 1-D problem on the segment exactly; MGDA returns the min-norm point of the segment.

use serde::{Deserialize, Serialize};

use super::config::{AlignMethod, OptimKind, OptimPlan, SamPlan, SchedulePlan};

/// Dot product accumulated in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// L2 norm accumulated in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Cosine similarity; `None` when either vector is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f64> {
    let (na, nb) = (norm(a), norm(b));
    (na > 0.0 && nb > 0.0).then(|| dot(a, b) / (na * nb))
}

fn axpby(alpha: f64, a: &[f32], beta: f64, b: &[f32]) -> Vec<f32> {
    a.iter()
        .zip(b)
        .map(|(x, y)| (alpha * *x as f64 + beta * *y as f64) as f32)
        .collect()
}

/// Combines the original-path and augmented-path gradients into one; stateful for GradVac.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aligner {
    pub method: AlignMethod,
    /// GradVac's EMA target cosine ρ_T.
    pub gradvac_target: f64,
}

const GRADVAC_BETA: f64 = 0.5;
const CAGRAD_C: f64 = 0.5;

impl Aligner {
    /// A fresh aligner.
    pub fn new(method: AlignMethod) -> Self {
        Self {
            method,
            gradvac_target: 0.0,
        }
    }

    /// The combined gradient. `none` is the mean of the two gradients (the gradient of the mean
    /// of the two losses, i.e. CE over the 2B batch with equal halves).
    pub fn combine(&mut self, g1: &[f32], g2: &[f32]) -> Vec<f32> {
        let d = dot(g1, g2);
        let (n11, n22) = (dot(g1, g1), dot(g2, g2));
        match self.method {
            AlignMethod::None => axpby(0.5, g1, 0.5, g2),
            AlignMethod::PcGrad => {
                if d >= 0.0 || n11 == 0.0 || n22 == 0.0 {
                    return axpby(0.5, g1, 0.5, g2);
                }
                // p1 = g1 − (d/‖g2‖²)g2, p2 = g2 − (d/‖g1‖²)g1; mean of the two.
                let (c1, c2) = (d / n22, d / n11);
                g1.iter()
                    .zip(g2)
                    .map(|(a, b)| {
                        let (a, b) = (*a as f64, *b as f64);
                        (0.5 * ((a - c1 * b) + (b - c2 * a))) as f32
                    })
                    .collect()
            }
            AlignMethod::GradVac => {
                let (na, nb) = (n11.sqrt(), n22.sqrt());
                if na == 0.0 || nb == 0.0 {
                    return axpby(0.5, g1, 0.5, g2);
                }
                let cos = d / (na * nb);
                let rho = self.gradvac_target;
                let (mut p1, mut p2) = (g1.to_vec(), g2.to_vec());
                if cos < rho {
                    let s = (1.0 - cos * cos).max(0.0).sqrt();
                    let sr = (1.0 - rho * rho).max(1e-12).sqrt();
                    // g_i += g_j · ‖g_i‖(ρ√(1−cos²) − cos√(1−ρ²)) / (‖g_j‖√(1−ρ²))
                    let w1 = na * (rho * s - cos * sr) / (nb * sr);
                    let w2 = nb * (rho * s - cos * sr) / (na * sr);
                    p1 = axpby(1.0, g1, w1, g2);
                    p2 = axpby(1.0, g2, w2, g1);
                }
                if cos > 0.0 {
                    self.gradvac_target = (1.0 - GRADVAC_BETA) * rho + GRADVAC_BETA * cos;
                }
                axpby(0.5, &p1, 0.5, &p2)
            }
            AlignMethod::CaGrad => {
                let g12 = d;
                let mean_g = (n11 + 2.0 * g12 + n22) / 4.0;
                let c_prime = CAGRAD_C * (mean_g + 1e-8).sqrt();
                // w = (x, 1−x); f(x) = wᵀG b + c′√(wᵀG w), b = (½, ½).
                let gb1 = 0.5 * (n11 + g12);
                let gb2 = 0.5 * (g12 + n22);
                let f = |x: f64| {
                    let q = x * x * n11 + 2.0 * x * (1.0 - x) * g12 + (1.0 - x) * (1.0 - x) * n22;
                    x * gb1 + (1.0 - x) * gb2 + c_prime * (q.max(0.0) + 1e-8).sqrt()
                };
                let x = golden_section_min(f, 0.0, 1.0);
                let gw = axpby(x, g1, 1.0 - x, g2);
                let gw_norm = norm(&gw) + 1e-8;
                let scale = 1.0 / (1.0 + CAGRAD_C * CAGRAD_C);
                let lambda = c_prime / gw_norm;
                g1.iter()
                    .zip(g2)
                    .zip(&gw)
                    .map(|((a, b), w)| {
                        let mean = 0.5 * (*a as f64 + *b as f64);
                        ((mean + lambda * *w as f64) * scale) as f32
                    })
                    .collect()
            }
            AlignMethod::Mgda => {
                let denom = n11 - 2.0 * d + n22;
                let alpha = if denom <= 0.0 {
                    0.5
                } else {
                    ((n22 - d) / denom).clamp(0.0, 1.0)
                };
                axpby(alpha, g1, 1.0 - alpha, g2)
            }
        }
    }
}

/// Minimum of a convex function on `[lo, hi]` (CAGrad's objective is convex in x).
fn golden_section_min(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..80 {
        let a = hi - ratio * (hi - lo);
        let b = lo + ratio * (hi - lo);
        if f(a) <= f(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    0.5 * (lo + hi)
}

/// Base optimizer on flat parameter vectors, with its whole state serialisable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Optimizer {
    pub kind: OptimKind,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub momentum: f64,
    pub num_steps: u64,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl Optimizer {
    /// A fresh optimizer for `num_params` parameters.
    pub fn new(plan: &OptimPlan, num_params: usize) -> Self {
        Self {
            kind: plan.kind,
            weight_decay: plan.weight_decay,
            beta1: plan.beta1,
            beta2: plan.beta2,
            eps: plan.eps,
            momentum: plan.momentum,
            num_steps: 0,
            m: vec![0.0; num_params],
            v: vec![0.0; num_params],
        }
    }

    /// One update of `params` with gradient `grad` at learning rate `lr`, as PyTorch's Adam (L2
    /// decay added to the gradient), AdamW (decoupled decay) and SGD (with momentum buffer).
    pub fn step(&mut self, params: &mut [f32], grad: &[f32], lr: f64) {
        self.num_steps += 1;
        let t = self.num_steps as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        for i in 0..params.len() {
            let w = params[i] as f64;
            let mut g = grad[i] as f64;
            match self.kind {
                OptimKind::Adam | OptimKind::AdamW => {
                    let mut w_new = w;
                    if self.kind == OptimKind::Adam {
                        g += self.weight_decay * w;
                    } else {
                        w_new -= lr * self.weight_decay * w;
                    }
                    let m = b1 * self.m[i] as f64 + (1.0 - b1) * g;
                    let v = b2 * self.v[i] as f64 + (1.0 - b2) * g * g;
                    self.m[i] = m as f32;
                    self.v[i] = v as f32;
                    let denom = (v / bc2).sqrt() + self.eps;
                    params[i] = (w_new - lr * (m / bc1) / denom) as f32;
                }
                OptimKind::Sgd => {
                    g += self.weight_decay * w;
                    let buf = if self.momentum > 0.0 {
                        let b = if self.num_steps == 1 {
                            g
                        } else {
                            self.momentum * self.m[i] as f64 + g
                        };
                        self.m[i] = b as f32;
                        b
                    } else {
                        g
                    };
                    params[i] = (w - lr * buf) as f32;
                }
            }
        }
    }
}

/// Learning rate at optimizer step `step` (0-based) of `total_steps`.
pub fn learning_rate(schedule: SchedulePlan, base_lr: f64, step: u64, total_steps: u64) -> f64 {
    let warmup = match schedule {
        SchedulePlan::Constant { warmup_steps } | SchedulePlan::Cosine { warmup_steps, .. } => {
            warmup_steps
        }
    };
    if step < warmup {
        return base_lr * (step + 1) as f64 / warmup as f64;
    }
    match schedule {
        SchedulePlan::Constant { .. } => base_lr,
        SchedulePlan::Cosine { min_lr_ratio, .. } => {
            let span = total_steps.saturating_sub(warmup).max(1) as f64;
            let progress = ((step - warmup) as f64 / span).min(1.0);
            let floor = base_lr * min_lr_ratio;
            floor + (base_lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    }
}

/// ASAM's η: keeps |w|-scaling from freezing zero weights (Kwon et al. 2021).
const ASAM_ETA: f64 = 0.01;

/// SAM's perturbation ε for gradient `grad` at `params`: ρ·g/‖g‖, or for ASAM
/// ρ·T²g/‖Tg‖ with T = |w| + η.
pub fn sam_epsilon(sam: &SamPlan, params: &[f32], grad: &[f32]) -> Vec<f32> {
    if sam.adaptive {
        let t: Vec<f64> = params.iter().map(|w| (*w as f64).abs() + ASAM_ETA).collect();
        let tg_norm = grad
            .iter()
            .zip(&t)
            .map(|(g, t)| (t * *g as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let scale = sam.rho / (tg_norm + 1e-12);
        grad.iter()
            .zip(&t)
            .map(|(g, t)| (scale * t * t * *g as f64) as f32)
            .collect()
    } else {
        let scale = sam.rho / (norm(grad) + 1e-12);
        grad.iter().map(|g| (scale * *g as f64) as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_the_mean_and_pcgrad_removes_the_conflict() {
        let g1 = [1.0f32, 0.0];
        let g2 = [-1.0f32, 1.0];
        assert_eq!(Aligner::new(AlignMethod::None).combine(&g1, &g2), vec![0.0, 0.5]);
        // By hand: d = −1; p1 = g1 + g2/2 = (0.5, 0.5); p2 = g2 + g1 = (0, 1); mean (0.25, 0.75).
        let g = Aligner::new(AlignMethod::PcGrad).combine(&g1, &g2);
        assert!((g[0] - 0.25).abs() < 1e-6 && (g[1] - 0.75).abs() < 1e-6, "{g:?}");
        assert!(dot(&g, &g1) >= 0.0 && dot(&g, &g2) >= 0.0);
    }

    #[test]
    fn mgda_is_the_min_norm_point_and_gradvac_reaches_its_target() {
        let g1 = [1.0f32, 0.0];
        let g2 = [0.0f32, 2.0];
        // min ‖a g1 + (1−a) g2‖² = a² + 4(1−a)² → a = 0.8.
        let g = Aligner::new(AlignMethod::Mgda).combine(&g1, &g2);
        assert!((g[0] - 0.8).abs() < 1e-6 && (g[1] - 0.4).abs() < 1e-6, "{g:?}");
        let mut gv = Aligner::new(AlignMethod::GradVac);
        gv.gradvac_target = 0.5;
        let g1 = [1.0f32, 0.0];
        let g2 = [-0.5f32, 1.0];
        let out = gv.combine(&g1, &g2);
        // Each adjusted gradient has cosine ρ_T with the other original one: the mean of two
        // such vectors still agrees with both.
        assert!(dot(&out, &g1) > 0.0 && dot(&out, &g2) > 0.0);
        // cos < 0: the EMA target is not updated.
        assert_eq!(gv.gradvac_target, 0.5);
    }

    #[test]
    fn cagrad_equals_the_mean_for_identical_gradients_up_to_its_scale() {
        let g = [0.3f32, -0.4];
        let out = Aligner::new(AlignMethod::CaGrad).combine(&g, &g);
        // g0 = g, gw = g, c′ = 0.5‖g‖ → (g + 0.5 g)/(1.25) = 1.2 g.
        assert!((out[0] - 0.36).abs() < 1e-5 && (out[1] + 0.48).abs() < 1e-5, "{out:?}");
    }

    #[test]
    fn adam_first_step_moves_each_weight_by_lr() {
        let plan = OptimPlan {
            kind: OptimKind::Adam,
            lr: 0.1,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            momentum: 0.0,
        };
        let mut opt = Optimizer::new(&plan, 2);
        let mut w = [1.0f32, 1.0];
        opt.step(&mut w, &[0.5, -2.0], 0.1);
        assert!((w[0] - 0.9).abs() < 1e-6 && (w[1] - 1.1).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn sam_epsilon_has_norm_rho() {
        let sam = SamPlan {
            rho: 0.05,
            adaptive: false,
            m_sharpness: false,
        };
        let e = sam_epsilon(&sam, &[1.0, 2.0], &[3.0, 4.0]);
        assert!((norm(&e) - 0.05).abs() < 1e-7);
    }

    #[test]
    fn cosine_schedule_ends_at_the_floor() {
        let s = SchedulePlan::Cosine {
            warmup_steps: 2,
            min_lr_ratio: 0.1,
        };
        assert!((learning_rate(s, 1.0, 0, 12) - 0.5).abs() < 1e-12);
        assert!((learning_rate(s, 1.0, 2, 12) - 1.0).abs() < 1e-12);
        assert!((learning_rate(s, 1.0, 12, 12) - 0.1).abs() < 1e-12);
    }
}
