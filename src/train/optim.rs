//! Optimizers on flat parameter vectors, with state that serialises into checkpoints.
//!
//! The trainer flattens all trainable parameters (and the aligned gradient) in name order and calls
//! [`Optimizer::step`] once per iteration with the learning rate of the schedule. The update rules
//! reproduce `torch.optim` (single-tensor CPU code paths of PyTorch 2.x) operation by operation in
//! `f32`, with bias corrections in `f64` as Python computes them, so trajectories match PyTorch to
//! rounding: Adam with L2 weight decay added to the gradient (the paper's optimizer), AdamW with
//! decoupled decay, and SGD with momentum (no dampening, optional Nesterov). Optional clipping by
//! global norm follows `torch.nn.utils.clip_grad_norm_`.

use serde::{Deserialize, Serialize};

/// Errors of optimizer configuration and stepping.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    #[error("invalid optimizer setting '{field}': {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    #[error("{num_params} parameters but {num_grads} gradient values")]
    LengthMismatch { num_params: usize, num_grads: usize },
    #[error(
        "optimizer state holds {state_len} values but the model has {num_params} parameters \
         (state from a different model?)"
    )]
    StateMismatch { state_len: usize, num_params: usize },
    #[error("gradient norm is not finite ({grad_norm}); the step was skipped")]
    NonFiniteGradient { grad_norm: f32 },
    #[error("learning rate must be finite and non-negative, got {lr}")]
    InvalidLearningRate { lr: f32 },
}

/// Which update rule to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Adam with L2 weight decay added to the gradient (`torch.optim.Adam`).
    Adam,
    /// Adam with decoupled weight decay (`torch.optim.AdamW`).
    #[serde(rename = "adamw")]
    AdamW,
    /// SGD with optional momentum and Nesterov (`torch.optim.SGD`, dampening 0).
    Sgd,
}

/// Optimizer settings as written in a run config; [`OptimizerConfig::build`] validates them.
///
/// Settings that do not apply to the chosen kind (e.g. `momentum` for Adam) are rejected rather
/// than silently ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// Weight decay (L2 for Adam and SGD, decoupled for AdamW); default 0, AdamW's default 0.01.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Adam's β₁ (default 0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta1: Option<f64>,
    /// Adam's β₂ (default 0.999).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta2: Option<f64>,
    /// Adam's ε (default 1e-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    /// SGD momentum (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// SGD Nesterov momentum (default false; needs momentum > 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesterov: Option<bool>,
    /// Clip the gradient to this global L2 norm before the update (default: no clipping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_grad_norm: Option<f64>,
}

impl Default for OptimizerConfig {
    /// The paper's optimizer: Adam with L2 weight decay 1e-4.
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            weight_decay: Some(1e-4),
            beta1: None,
            beta2: None,
            eps: None,
            momentum: None,
            nesterov: None,
            max_grad_norm: None,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> OptimError {
    OptimError::InvalidConfig {
        field,
        message: message.into(),
    }
}

fn check_range(field: &'static str, value: f64, low: f64, high: f64) -> Result<f64, OptimError> {
    if value.is_finite() && value >= low && value < high {
        Ok(value)
    } else {
        Err(invalid(
            field,
            format!("{value} is outside [{low}, {high})"),
        ))
    }
}

impl OptimizerConfig {
    /// Validates the settings and creates an optimizer with empty state.
    pub fn build(&self) -> Result<Optimizer, OptimError> {
        let max_grad_norm = match self.max_grad_norm {
            Some(norm) if !(norm.is_finite() && norm > 0.0) => {
                return Err(invalid("max_grad_norm", format!("{norm} must be positive")))
            }
            other => other,
        };
        match self.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                if self.momentum.is_some() {
                    return Err(invalid("momentum", "applies to sgd only"));
                }
                if self.nesterov.is_some() {
                    return Err(invalid("nesterov", "applies to sgd only"));
                }
                let decoupled = self.kind == OptimizerKind::AdamW;
                let default_decay = if decoupled { 0.01 } else { 0.0 };
                Ok(Optimizer::Adam(Adam {
                    beta1: check_range("beta1", self.beta1.unwrap_or(0.9), 0.0, 1.0)?,
                    beta2: check_range("beta2", self.beta2.unwrap_or(0.999), 0.0, 1.0)?,
                    eps: check_range("eps", self.eps.unwrap_or(1e-8), 0.0, f64::INFINITY)?,
                    weight_decay: check_range(
                        "weight_decay",
                        self.weight_decay.unwrap_or(default_decay),
                        0.0,
                        f64::INFINITY,
                    )?,
                    decoupled_weight_decay: decoupled,
                    max_grad_norm,
                    num_steps: 0,
                    exp_avg: Vec::new(),
                    exp_avg_sq: Vec::new(),
                }))
            }
            OptimizerKind::Sgd => {
                for (field, set) in [
                    ("beta1", self.beta1.is_some()),
                    ("beta2", self.beta2.is_some()),
                    ("eps", self.eps.is_some()),
                ] {
                    if set {
                        return Err(invalid(field, "applies to adam and adamw only"));
                    }
                }
                let momentum = check_range("momentum", self.momentum.unwrap_or(0.0), 0.0, 1.0)?;
                let nesterov = self.nesterov.unwrap_or(false);
                if nesterov && momentum == 0.0 {
                    // torch.optim.SGD raises the same way.
                    return Err(invalid("nesterov", "needs momentum > 0"));
                }
                Ok(Optimizer::Sgd(Sgd {
                    momentum,
                    nesterov,
                    weight_decay: check_range(
                        "weight_decay",
                        self.weight_decay.unwrap_or(0.0),
                        0.0,
                        f64::INFINITY,
                    )?,
                    max_grad_norm,
                    momentum_buffer: None,
                }))
            }
        }
    }
}

/// What one optimizer step saw.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Global L2 norm of the gradient before clipping.
    pub grad_norm: f32,
    /// Whether clipping scaled the gradient down.
    pub clipped: bool,
}

/// Global L2 norm of a gradient, accumulated in `f64`.
pub fn global_norm(grads: &[f32]) -> f32 {
    grads
        .iter()
        .map(|&g| f64::from(g) * f64::from(g))
        .sum::<f64>()
        .sqrt() as f32
}

/// The factor `torch.nn.utils.clip_grad_norm_` multiplies the gradient by:
/// `min(1, max_norm / (norm + 1e-6))`.
pub fn clip_coefficient(grad_norm: f32, max_norm: f32) -> f32 {
    (max_norm / (grad_norm + 1e-6)).min(1.0)
}

/// Scales `grads` in place to at most `max_norm` in global L2 norm; returns the norm before.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let grad_norm = global_norm(grads);
    let coef = clip_coefficient(grad_norm, max_norm);
    if coef < 1.0 {
        grads.iter_mut().for_each(|g| *g *= coef);
    }
    grad_norm
}

/// Adam / AdamW with its moment estimates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    /// Decay of the first-moment estimate.
    pub beta1: f64,
    /// Decay of the second-moment estimate.
    pub beta2: f64,
    /// Added to the denominator for stability.
    pub eps: f64,
    /// Weight decay coefficient.
    pub weight_decay: f64,
    /// AdamW (`param *= 1 − lr·wd`) instead of L2 added to the gradient.
    pub decoupled_weight_decay: bool,
    /// Global-norm clipping threshold.
    pub max_grad_norm: Option<f64>,
    /// Steps taken so far.
    pub num_steps: u64,
    /// First-moment estimate, one per parameter (empty before the first step). Stored as a
    /// tensor beside the weights (see [`Optimizer::state_tensors`]), not in the JSON sidecar;
    /// read from JSON only for sidecars written before that.
    #[serde(default, skip_serializing)]
    pub exp_avg: Vec<f32>,
    /// Second-moment estimate, one per parameter (empty before the first step); stored like
    /// `exp_avg`.
    #[serde(default, skip_serializing)]
    pub exp_avg_sq: Vec<f32>,
}

/// SGD with momentum and its momentum buffer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    /// Momentum factor (0 = plain SGD).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f64,
    /// Global-norm clipping threshold.
    pub max_grad_norm: Option<f64>,
    /// Momentum buffer, created from the first gradient as torch does; stored as a tensor
    /// beside the weights, not in the JSON sidecar.
    #[serde(default, skip_serializing)]
    pub momentum_buffer: Option<Vec<f32>>,
}

/// A configured optimizer with its state; serialise it to checkpoint training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Optimizer {
    /// Adam or AdamW.
    Adam(Adam),
    /// SGD.
    Sgd(Sgd),
}

impl Optimizer {
    /// The per-parameter state vectors, by name (`exp_avg`, `exp_avg_sq`, `momentum_buffer`):
    /// what a checkpoint stores as tensors (one float per parameter each — megabytes for the
    /// small models, gigabytes for XLS-R, far too much for JSON text).
    pub fn state_tensors(&self) -> Vec<(&'static str, &[f32])> {
        match self {
            Optimizer::Adam(a) if !a.exp_avg.is_empty() => {
                vec![("exp_avg", &a.exp_avg), ("exp_avg_sq", &a.exp_avg_sq)]
            }
            Optimizer::Sgd(Sgd {
                momentum_buffer: Some(b),
                ..
            }) => vec![("momentum_buffer", b)],
            _ => Vec::new(),
        }
    }

    /// Put back the vectors [`Self::state_tensors`] gave, by name; names this optimizer does
    /// not use are an error naming them.
    pub fn restore_state_tensors(
        &mut self,
        mut tensors: std::collections::HashMap<String, Vec<f32>>,
    ) -> Result<(), String> {
        match self {
            Optimizer::Adam(a) => {
                if let Some(v) = tensors.remove("exp_avg") {
                    a.exp_avg = v;
                }
                if let Some(v) = tensors.remove("exp_avg_sq") {
                    a.exp_avg_sq = v;
                }
                if a.exp_avg.len() != a.exp_avg_sq.len() {
                    return Err("Adam's exp_avg and exp_avg_sq differ in length".into());
                }
            }
            Optimizer::Sgd(s) => {
                if let Some(v) = tensors.remove("momentum_buffer") {
                    s.momentum_buffer = Some(v);
                }
            }
        }
        if let Some(name) = tensors.keys().next() {
            return Err(format!(
                "optimizer state '{name}' does not belong to this optimizer"
            ));
        }
        Ok(())
    }
}

/// `torch.lerp` on CPU: `a + w(b − a)` for `w < 0.5`, else `b − (b − a)(1 − w)`.
#[inline]
fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}

impl Optimizer {
    /// Config name of the update rule (`adam`, `adamw`, `sgd`).
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Adam(adam) if adam.decoupled_weight_decay => "adamw",
            Optimizer::Adam(_) => "adam",
            Optimizer::Sgd(_) => "sgd",
        }
    }

    /// Steps taken so far (Adam's step counter; SGD keeps none and reports 0).
    pub fn num_steps(&self) -> u64 {
        match self {
            Optimizer::Adam(adam) => adam.num_steps,
            Optimizer::Sgd(_) => 0,
        }
    }

    fn max_grad_norm(&self) -> Option<f64> {
        match self {
            Optimizer::Adam(adam) => adam.max_grad_norm,
            Optimizer::Sgd(sgd) => sgd.max_grad_norm,
        }
    }

    /// Updates `params` in place with `grads` at learning rate `lr`, clipping first if configured.
    ///
    /// Nothing is changed when an error is returned (length mismatch, state from another model,
    /// non-finite gradient norm, invalid learning rate).
    pub fn step(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        lr: f32,
    ) -> Result<StepReport, OptimError> {
        if params.len() != grads.len() {
            return Err(OptimError::LengthMismatch {
                num_params: params.len(),
                num_grads: grads.len(),
            });
        }
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(OptimError::InvalidLearningRate { lr });
        }
        let state_len = match self {
            Optimizer::Adam(adam) => adam.exp_avg.len(),
            Optimizer::Sgd(sgd) => sgd.momentum_buffer.as_ref().map_or(0, Vec::len),
        };
        let fresh = match self {
            Optimizer::Adam(adam) => adam.num_steps == 0 && adam.exp_avg.is_empty(),
            Optimizer::Sgd(sgd) => sgd.momentum_buffer.is_none(),
        };
        if !fresh && state_len != params.len() {
            return Err(OptimError::StateMismatch {
                state_len,
                num_params: params.len(),
            });
        }
        let grad_norm = global_norm(grads);
        if !grad_norm.is_finite() {
            return Err(OptimError::NonFiniteGradient { grad_norm });
        }
        let clip = self
            .max_grad_norm()
            .map_or(1.0, |max_norm| clip_coefficient(grad_norm, max_norm as f32));
        match self {
            Optimizer::Adam(adam) => adam.update(params, grads, clip, lr),
            Optimizer::Sgd(sgd) => sgd.update(params, grads, clip, lr),
        }
        Ok(StepReport {
            grad_norm,
            clipped: clip < 1.0,
        })
    }
}

impl Adam {
    fn update(&mut self, params: &mut [f32], grads: &[f32], clip: f32, lr: f32) {
        if self.exp_avg.is_empty() {
            self.exp_avg = vec![0.0; params.len()];
            self.exp_avg_sq = vec![0.0; params.len()];
        }
        self.num_steps += 1;
        // torch computes the scalars in Python doubles and the element-wise work in f32.
        let lr = f64::from(lr);
        let step = self.num_steps as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(step);
        let bias_correction2_sqrt = (1.0 - self.beta2.powf(step)).sqrt() as f32;
        let step_size = (lr / bias_correction1) as f32;
        let one_minus_beta1 = (1.0 - self.beta1) as f32;
        let beta2 = self.beta2 as f32;
        let one_minus_beta2 = (1.0 - self.beta2) as f32;
        let eps = self.eps as f32;
        let decay = self.weight_decay as f32;
        let decoupled_factor = (1.0 - lr * self.weight_decay) as f32;
        let l2 = !self.decoupled_weight_decay && self.weight_decay != 0.0;
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(self.exp_avg.iter_mut())
            .zip(self.exp_avg_sq.iter_mut())
        {
            let mut g = if clip < 1.0 { g * clip } else { g };
            if self.decoupled_weight_decay {
                *p *= decoupled_factor;
            } else if l2 {
                g += decay * *p;
            }
            *m = lerp(*m, g, one_minus_beta1);
            *v = *v * beta2 + one_minus_beta2 * g * g;
            let denom = v.sqrt() / bias_correction2_sqrt + eps;
            *p += -step_size * (*m / denom);
        }
    }
}

impl Sgd {
    fn update(&mut self, params: &mut [f32], grads: &[f32], clip: f32, lr: f32) {
        let decay = self.weight_decay as f32;
        let momentum = self.momentum as f32;
        let effective = |p: f32, g: f32| {
            let g = if clip < 1.0 { g * clip } else { g };
            if decay != 0.0 {
                g + decay * p
            } else {
                g
            }
        };
        if self.momentum == 0.0 {
            for (p, &g) in params.iter_mut().zip(grads) {
                *p += -lr * effective(*p, g);
            }
            return;
        }
        match &mut self.momentum_buffer {
            None => {
                // torch: the first buffer is a copy of the gradient.
                let mut buffer = Vec::with_capacity(params.len());
                for (p, &g) in params.iter_mut().zip(grads) {
                    let d = effective(*p, g);
                    buffer.push(d);
                    let d = if self.nesterov { d + momentum * d } else { d };
                    *p += -lr * d;
                }
                self.momentum_buffer = Some(buffer);
            }
            Some(buffer) => {
                for ((p, &g), b) in params.iter_mut().zip(grads).zip(buffer.iter_mut()) {
                    let d = effective(*p, g);
                    *b = *b * momentum + d;
                    let d = if self.nesterov { d + momentum * *b } else { *b };
                    *p += -lr * d;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adam(weight_decay: f64) -> Optimizer {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            weight_decay: Some(weight_decay),
            ..OptimizerConfig::default()
        }
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn first_adam_step_moves_each_parameter_by_lr_against_the_gradient_sign() {
        // Hand derivation: after one step m̂ = g, v̂ = g², so Δ = −lr·g/(|g| + ε) ≈ −lr·sign(g).
        let mut opt = adam(0.0);
        let mut params = vec![1.0f32, -2.0, 0.5];
        let grads = [0.3f32, -4.0, 1e-3];
        let report = opt
            .step(&mut params, &grads, 0.01)
            .unwrap_or_else(|e| panic!("{e}"));
        let expected = [1.0 - 0.01, -2.0 + 0.01, 0.5 - 0.01 * 1e-3 / (1e-3 + 1e-8)];
        for (p, e) in params.iter().zip(expected) {
            assert!((p - e).abs() < 1e-6, "{p} vs {e}");
        }
        assert!((report.grad_norm - (0.09f32 + 16.0 + 1e-6).sqrt()).abs() < 1e-6);
        assert!(!report.clipped);
    }

    #[test]
    fn adam_l2_decay_enters_the_gradient_and_adamw_decays_the_weights() {
        // Zero gradient: Adam's L2 makes the gradient wd·p (one step moves by ≈ lr), AdamW only
        // shrinks the parameter by (1 − lr·wd).
        let mut l2 = adam(0.5);
        let mut params = vec![2.0f32];
        l2.step(&mut params, &[0.0], 0.1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!((params[0] - 1.9).abs() < 1e-6, "{}", params[0]);

        let mut adamw = OptimizerConfig {
            kind: OptimizerKind::AdamW,
            weight_decay: Some(0.5),
            ..OptimizerConfig::default()
        }
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
        let mut params = vec![2.0f32];
        adamw
            .step(&mut params, &[0.0], 0.1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!((params[0] - 2.0 * 0.95).abs() < 1e-6, "{}", params[0]);
        assert_eq!(adamw.name(), "adamw");
    }

    #[test]
    fn sgd_momentum_follows_the_recurrence() {
        let mut opt = OptimizerConfig {
            kind: OptimizerKind::Sgd,
            weight_decay: None,
            momentum: Some(0.5),
            ..OptimizerConfig::default()
        }
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
        let mut params = vec![0.0f32];
        // Buffers: 1, then 0.5 + 1 = 1.5; parameter: −0.1, then −0.1 − 0.15.
        opt.step(&mut params, &[1.0], 0.1)
            .unwrap_or_else(|e| panic!("{e}"));
        opt.step(&mut params, &[1.0], 0.1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!((params[0] + 0.25).abs() < 1e-7, "{}", params[0]);
    }

    #[test]
    fn clipping_scales_to_the_max_norm_and_reports_the_norm_before() {
        let mut grads = vec![3.0f32, 4.0];
        let norm = clip_grad_norm(&mut grads, 1.0);
        assert_eq!(norm, 5.0);
        assert!((global_norm(&grads) - 1.0).abs() < 1e-6);
        let mut small = vec![0.3f32, 0.4];
        clip_grad_norm(&mut small, 1.0);
        assert_eq!(small, [0.3, 0.4]);
    }

    #[test]
    fn config_rejects_settings_of_another_kind_and_bad_values() {
        let parse = |text: &str| toml::from_str::<OptimizerConfig>(text);
        assert!(parse("kind = \"adam\"\nlearning_rate = 1.0").is_err());
        let momentum_on_adam = parse("kind = \"adam\"\nmomentum = 0.9");
        let err = momentum_on_adam
            .map_err(|e| e.to_string())
            .and_then(|c| c.build().map(|_| ()).map_err(|e| e.to_string()));
        assert!(
            matches!(err, Err(ref m) if m.contains("momentum")),
            "{err:?}"
        );
        let bad_beta = parse("kind = \"adamw\"\nbeta2 = 1.0").map(|c| c.build());
        assert!(matches!(
            bad_beta,
            Ok(Err(OptimError::InvalidConfig { field: "beta2", .. }))
        ));
        let nesterov = parse("kind = \"sgd\"\nnesterov = true").map(|c| c.build());
        assert!(matches!(
            nesterov,
            Ok(Err(OptimError::InvalidConfig {
                field: "nesterov",
                ..
            }))
        ));
        let ok = parse("kind = \"sgd\"\nmomentum = 0.9\nnesterov = true\nmax_grad_norm = 5.0")
            .map(|c| c.build());
        assert!(matches!(ok, Ok(Ok(Optimizer::Sgd(_)))));
    }

    #[test]
    fn step_rejects_mismatches_and_non_finite_gradients_without_changing_anything() {
        let mut opt = adam(1e-4);
        let mut params = vec![1.0f32, 2.0];
        assert!(matches!(
            opt.step(&mut params, &[1.0], 0.1),
            Err(OptimError::LengthMismatch { .. })
        ));
        assert!(matches!(
            opt.step(&mut params, &[1.0, f32::NAN], 0.1),
            Err(OptimError::NonFiniteGradient { .. })
        ));
        assert_eq!(params, [1.0, 2.0]);
        assert_eq!(opt.num_steps(), 0);
        opt.step(&mut params, &[1.0, 1.0], 0.1)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut other_model = vec![0.0f32; 3];
        assert!(matches!(
            opt.step(&mut other_model, &[1.0, 1.0, 1.0], 0.1),
            Err(OptimError::StateMismatch {
                state_len: 2,
                num_params: 3
            })
        ));
        assert!(matches!(
            opt.step(&mut params, &[1.0, 1.0], f32::NAN),
            Err(OptimError::InvalidLearningRate { .. })
        ));
    }

    /// Trajectories of `torch.optim` written by `scripts/optim_reference.py`: 20 steps on the
    /// gradient rule `g_t = noise[t] + 0.5·p` in float32.
    #[derive(serde::Deserialize)]
    struct OptimFixture {
        p0: Vec<f32>,
        noise: Vec<Vec<f32>>,
        configs: Vec<TorchRun>,
    }

    #[derive(serde::Deserialize)]
    struct TorchRun {
        name: String,
        kind: OptimizerKind,
        lr: f32,
        weight_decay: Option<f64>,
        beta1: Option<f64>,
        beta2: Option<f64>,
        eps: Option<f64>,
        momentum: Option<f64>,
        nesterov: Option<bool>,
        max_grad_norm: Option<f64>,
        trajectory: Vec<Vec<f32>>,
        grad_norms: Vec<f32>,
    }

    fn fixture() -> OptimFixture {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/optim/optim.json"
        ));
        serde_json::from_str(text).unwrap_or_else(|e| panic!("optim.json: {e}"))
    }

    fn config_of(run: &TorchRun) -> OptimizerConfig {
        OptimizerConfig {
            kind: run.kind,
            weight_decay: run.weight_decay,
            beta1: run.beta1,
            beta2: run.beta2,
            eps: run.eps,
            momentum: run.momentum,
            nesterov: run.nesterov,
            max_grad_norm: run.max_grad_norm,
        }
    }

    /// Runs `steps` steps of the fixture's gradient rule from `params`.
    fn run_steps(
        opt: &mut Optimizer,
        params: &mut [f32],
        noise: &[Vec<f32>],
        lr: f32,
        mut visit: impl FnMut(usize, &[f32], StepReport),
    ) {
        for (t, noise_t) in noise.iter().enumerate() {
            let grads: Vec<f32> = noise_t
                .iter()
                .zip(params.iter())
                .map(|(n, p)| n + 0.5 * p)
                .collect();
            let report = opt
                .step(params, &grads, lr)
                .unwrap_or_else(|e| panic!("step {t}: {e}"));
            visit(t, params, report);
        }
    }

    #[test]
    fn trajectories_match_torch_optim() {
        let fixture = fixture();
        for run in &fixture.configs {
            let mut opt = config_of(run)
                .build()
                .unwrap_or_else(|e| panic!("{}: {e}", run.name));
            let mut params = fixture.p0.clone();
            run_steps(
                &mut opt,
                &mut params,
                &fixture.noise,
                run.lr,
                |t, params, report| {
                    // Relative to the vector's scale: torch's kernels fuse some multiply-adds, and
                    // the feedback g = noise + 0.5·p lets rounding differences compound over steps.
                    let scale = run.trajectory[t].iter().fold(0.0f32, |m, e| m.max(e.abs()));
                    for (i, (&p, &e)) in params.iter().zip(&run.trajectory[t]).enumerate() {
                        assert!(
                            (p - e).abs() <= 1e-6 * scale,
                            "{} step {t} element {i}: {p} vs torch {e}",
                            run.name
                        );
                    }
                    if let Some(&norm) = run.grad_norms.get(t) {
                        assert!(
                            (report.grad_norm - norm).abs() <= 1e-6 * norm,
                            "{}",
                            run.name
                        );
                    }
                },
            );
        }
    }

    #[test]
    fn serialised_state_continues_identically() {
        let fixture = fixture();
        let (first, second) = fixture.noise.split_at(8);
        for run in &fixture.configs {
            let mut opt = config_of(run)
                .build()
                .unwrap_or_else(|e| panic!("{}: {e}", run.name));
            let mut params = fixture.p0.clone();
            run_steps(&mut opt, &mut params, first, run.lr, |_, _, _| {});
            // As a checkpoint stores it: settings in JSON, state vectors as tensors.
            let json = serde_json::to_string(&opt).unwrap_or_else(|e| panic!("{e}"));
            assert!(!json.contains("exp_avg\"") && !json.contains("momentum_buffer\""));
            let mut restored: Optimizer =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{}: {e}", run.name));
            let state = opt
                .state_tensors()
                .into_iter()
                .map(|(name, v)| (name.to_string(), v.to_vec()))
                .collect();
            restored.restore_state_tensors(state).unwrap();
            assert_eq!(restored, opt, "{}", run.name);
            let mut params_restored = params.clone();
            run_steps(&mut opt, &mut params, second, run.lr, |_, _, _| {});
            run_steps(
                &mut restored,
                &mut params_restored,
                second,
                run.lr,
                |_, _, _| {},
            );
            assert_eq!(params, params_restored, "{}", run.name);
        }
    }
}
