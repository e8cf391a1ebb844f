//! One training iteration and the dev/eval passes; the run loop ([`super::run`]) calls them.
//!
//! Modes: `plain` trains on the original crops, `augmented` on their RawBoost versions, `dual` on
//! both, with one gradient per path over all trainable parameters, combined by the
//! [`GradientAligner`].
//!
//! Dual layouts differ in what BatchNorm sees:
//! - `joint` (the reference): one forward over the concatenated `[orig; aug]` batch of 2B clips,
//!   so batch statistics mix both paths and running statistics are updated once; the two
//!   half-losses are then backpropagated separately through the same graph.
//! - `separate`: one forward per path, so each path is normalised by its own statistics, and the
//!   running statistics are updated twice per step (original first).
//!
//! Cost: with BatchNorm coupling the 2B clips, each joint half-loss backward traverses the whole
//! 2B graph, so `joint` costs one 2B forward and two 2B backwards, `separate` two B-clip forward
//! and backward passes (`benches/train_step.rs`, lcnn-small, 8 clips of 2 s, dev profile on a
//! shared 2-core CPU: augmented 3.2 s, dual joint 6.1 s, dual separate 3.0 s per step).
//!
//! SAM/ASAM: ε from the (aligned) gradient, gradients again at w+ε with BatchNorm statistics
//! frozen (`Mode::TrainFrozenStats`) and the same dropout masks, both paths aligned again in dual
//! mode, w restored, then the base optimizer steps with the gradient from w+ε.

use candle_core::{Device, Tensor};

use super::align::GradientAligner;
use super::config::{Layout, Plan, TrainMode};
use super::data::{Batch, ClipSet};
pub use super::dev_loss::{ClipLoss, DevLoss};
use super::error::TrainError;
use super::model::weighted_cross_entropy;
use super::optim::{global_norm, Optimizer};
use super::sam::{sam_epsilon, SharpnessAccumulator};
use crate::nn::flat::{gather_grads, per_tensor_cosine, read_params, write_params, FlatLayout};
use crate::nn::{Mode, Model};

fn norm(g: &[f32]) -> f64 {
    g.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}
use crate::rng::Rng;

/// Mutable state carried from step to step, borrowed from the run's checkpoint sidecar (so what
/// a checkpoint saves is always the state the next step would use).
#[derive(Debug)]
pub struct StepState<'a> {
    pub optimizer: &'a mut Optimizer,
    pub aligner: &'a mut GradientAligner,
    /// Dropout masks.
    pub rng: &'a mut Rng,
}

/// What one step measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepOutcome {
    pub loss_orig: Option<f64>,
    pub loss_aug: Option<f64>,
    pub grad_norm_orig: Option<f64>,
    pub grad_norm_aug: Option<f64>,
    pub grad_cos: Option<f64>,
    /// `(tensor name, cosine)` when asked for.
    pub layer_cos: Option<Vec<(String, f64)>>,
}

/// Losses and flat gradients of the paths a mode runs.
struct PathGrads {
    loss_orig: Option<f64>,
    loss_aug: Option<f64>,
    g_orig: Option<Vec<f32>>,
    g_aug: Option<Vec<f32>>,
}

fn to_tensor(
    samples: &[f32],
    batch: usize,
    num_samples: usize,
    device: &Device,
) -> Result<Tensor, TrainError> {
    Ok(Tensor::from_slice(samples, (batch, num_samples), device)?)
}

fn loss_and_grads(
    model: &dyn Model,
    logits: &Tensor,
    labels: &[u32],
    class_weights: [f64; 2],
) -> Result<(f64, Vec<f32>), TrainError> {
    let loss = weighted_cross_entropy(logits, labels, class_weights)?;
    let value = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
    let grads = gather_grads(&loss.backward()?, model.trainable())?;
    Ok((value, grads))
}

fn path_grads(
    model: &dyn Model,
    plan: &Plan,
    batch: &Batch,
    mode: Mode,
    rng: &mut Rng,
    device: &Device,
) -> Result<PathGrads, TrainError> {
    let b = batch.len();
    let n = batch.num_samples;
    let w = plan.train.class_weights;
    let missing = || TrainError::Device("batch lacks a path the mode needs".into());
    let single = |samples: &[f32], rng: &mut Rng| -> Result<(f64, Vec<f32>), TrainError> {
        let x = to_tensor(samples, b, n, device)?;
        let logits = model.forward(&x, mode, rng)?;
        loss_and_grads(model, &logits, &batch.labels, w)
    };
    Ok(match plan.train.mode {
        TrainMode::Plain => {
            let (l, g) = single(batch.orig.as_deref().ok_or_else(missing)?, rng)?;
            PathGrads {
                loss_orig: Some(l),
                loss_aug: None,
                g_orig: Some(g),
                g_aug: None,
            }
        }
        TrainMode::Augmented => {
            let (l, g) = single(batch.aug.as_deref().ok_or_else(missing)?, rng)?;
            PathGrads {
                loss_orig: None,
                loss_aug: Some(l),
                g_orig: None,
                g_aug: Some(g),
            }
        }
        TrainMode::Dual => {
            let orig = batch.orig.as_deref().ok_or_else(missing)?;
            let aug = batch.aug.as_deref().ok_or_else(missing)?;
            let ((lo, go), (la, ga)) = match plan.train.layout {
                Layout::Joint => {
                    // [2B, N]: originals first, then their augmented versions.
                    let x = Tensor::cat(
                        &[
                            to_tensor(orig, b, n, device)?,
                            to_tensor(aug, b, n, device)?,
                        ],
                        0,
                    )?;
                    let logits = model.forward(&x, mode, rng)?;
                    let first = loss_and_grads(model, &logits.narrow(0, 0, b)?, &batch.labels, w)?;
                    let second = loss_and_grads(model, &logits.narrow(0, b, b)?, &batch.labels, w)?;
                    (first, second)
                }
                Layout::Separate => (single(orig, rng)?, single(aug, rng)?),
            };
            PathGrads {
                loss_orig: Some(lo),
                loss_aug: Some(la),
                g_orig: Some(go),
                g_aug: Some(ga),
            }
        }
    })
}

fn combine(aligner: &mut GradientAligner, p: &PathGrads) -> Result<Vec<f32>, TrainError> {
    match (&p.g_orig, &p.g_aug) {
        (Some(a), Some(b)) => {
            let mut out = vec![0.0f32; a.len()];
            aligner.combine(a, b, &mut out);
            Ok(out)
        }
        (Some(g), None) | (None, Some(g)) => Ok(g.clone()),
        (None, None) => Err(TrainError::Device("no gradient computed".into())),
    }
}

/// One optimizer step on `batch` at learning rate `lr`. Nothing is written to the model when a
/// loss or gradient is non-finite (the error names what and where). `poison` makes the loss
/// non-finite (a test hook for that path).
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    model: &dyn Model,
    plan: &Plan,
    state: &mut StepState<'_>,
    batch: &Batch,
    lr: f64,
    want_layer_cos: bool,
    poison: bool,
    device: &Device,
    (step, epoch): (u64, u64),
) -> Result<StepOutcome, TrainError> {
    let rng_before = state.rng.clone();
    let mut p = path_grads(model, plan, batch, Mode::Train, state.rng, device)?;
    if poison {
        p.loss_orig = Some(f64::NAN);
    }
    let non_finite = |what: &str| TrainError::NonFinite {
        what: what.to_string(),
        step,
        epoch,
    };
    for (name, loss) in [("loss_orig", p.loss_orig), ("loss_aug", p.loss_aug)] {
        if loss.is_some_and(|l| !l.is_finite()) {
            return Err(non_finite(name));
        }
    }
    let mut outcome = StepOutcome {
        loss_orig: p.loss_orig,
        loss_aug: p.loss_aug,
        grad_norm_orig: p.g_orig.as_deref().map(norm),
        grad_norm_aug: p.g_aug.as_deref().map(norm),
        ..StepOutcome::default()
    };
    for (name, n) in [
        ("gradient (original path)", outcome.grad_norm_orig),
        ("gradient (augmented path)", outcome.grad_norm_aug),
    ] {
        if n.is_some_and(|n| !n.is_finite()) {
            return Err(non_finite(name));
        }
    }
    if let (Some(a), Some(b)) = (&p.g_orig, &p.g_aug) {
        outcome.grad_cos = Some(f64::from(crate::nn::flat::cosine(a, b)));
        if want_layer_cos {
            let layout = FlatLayout::new(model.trainable());
            outcome.layer_cos = Some(
                per_tensor_cosine(&layout, a, b)
                    .into_iter()
                    .map(|(name, c)| (name, f64::from(c)))
                    .collect(),
            );
        }
    }
    let grad = combine(state.aligner, &p)?;
    let mut params = read_params(model.trainable())?;
    let grad = if let Some(sam) = &plan.sam {
        let eps = sam_epsilon(&params, &grad, sam.rho as f32, sam.adaptive, sam.eta as f32);
        let perturbed: Vec<f32> = params.iter().zip(&eps).map(|(w, e)| w + e).collect();
        write_params(model.trainable(), &perturbed)?;
        let mut rng = rng_before;
        let second = path_grads(model, plan, batch, Mode::TrainFrozenStats, &mut rng, device);
        write_params(model.trainable(), &params)?;
        combine(state.aligner, &second?)?
    } else {
        grad
    };
    // Clipping (train.clip_grad_norm) happens inside the optimizer, on this final gradient.
    if !global_norm(&grad).is_finite() {
        return Err(non_finite("combined gradient"));
    }
    state
        .optimizer
        .step(&mut params, &grad, lr as f32)
        .map_err(|e| TrainError::Device(format!("optimizer: {e}")))?;
    write_params(model.trainable(), &params)?;
    Ok(outcome)
}

/// Logits of `set` (original crops, eval mode) and the class-weighted dev loss.
pub struct Evaluation {
    /// Bona fide logit per clip, in `set` order.
    pub scores: Vec<f64>,
    /// Σ w·nll / Σ w over the whole set.
    pub loss: f64,
    /// Each clip's cross-entropy and class weight, in `set` order.
    pub clip_losses: Vec<ClipLoss>,
}

impl Evaluation {
    /// The loss as `rule` computes it: [`Evaluation::loss`] for `Weighted`, the reference's
    /// batch-of-8 mean from [`Evaluation::clip_losses`] for `Reference`.
    pub fn loss_by(&self, rule: DevLoss) -> f64 {
        match rule {
            DevLoss::Weighted => self.loss,
            DevLoss::Reference => rule.of(&self.clip_losses),
        }
    }
}

fn clip_losses(logits: &[[f32; 2]], labels: &[u32], w: [f64; 2]) -> Vec<ClipLoss> {
    logits
        .iter()
        .zip(labels)
        .map(|(row, &label)| {
            let (a, b) = (row[0] as f64, row[1] as f64);
            let m = a.max(b);
            let lse = m + ((a - m).exp() + (b - m).exp()).ln();
            ClipLoss {
                nll: lse - if label == 1 { b } else { a },
                weight: w[label as usize],
            }
        })
        .collect()
}

/// `(Σ w·nll, Σ w)` of a batch.
fn batch_nll(logits: &[[f32; 2]], labels: &[u32], w: [f64; 2]) -> (f64, f64) {
    let (mut num, mut den) = (0.0, 0.0);
    for clip in clip_losses(logits, labels, w) {
        num += clip.weight * clip.nll;
        den += clip.weight;
    }
    (num, den)
}

fn logits_rows(t: &Tensor) -> Result<Vec<[f32; 2]>, TrainError> {
    let v = t.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()?;
    Ok(v.into_iter().map(|r| [r[0], r[1]]).collect())
}

/// Score every clip of `set` in eval mode and compute its weighted CE.
pub fn evaluate(
    model: &dyn Model,
    set: &ClipSet,
    num_samples: usize,
    batch_size: usize,
    class_weights: [f64; 2],
    device: &Device,
) -> Result<Evaluation, TrainError> {
    let mut scores = Vec::with_capacity(set.len());
    let mut clips = Vec::with_capacity(set.len());
    let (mut num, mut den) = (0.0, 0.0);
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut rng = Rng::new(0);
    for chunk in indices.chunks(batch_size.max(1)) {
        let batch = super::data::prepare_batch(set, chunk, num_samples, true, None)?;
        let x = to_tensor(
            batch.orig.as_deref().unwrap_or_default(),
            chunk.len(),
            num_samples,
            device,
        )?;
        // No graph: dev scoring needs no gradient, and a kept graph holds every intermediate.
        let logits = crate::nn::no_grad(|| model.forward(&x, Mode::Eval, &mut rng))?;
        let logits = logits_rows(&logits)?;
        let (a, b) = batch_nll(&logits, &batch.labels, class_weights);
        num += a;
        den += b;
        clips.extend(clip_losses(&logits, &batch.labels, class_weights));
        scores.extend(logits.iter().map(|r| r[1] as f64));
    }
    Ok(Evaluation {
        scores,
        clip_losses: clips,
        loss: if den > 0.0 { num / den } else { f64::NAN },
    })
}

/// m-sharpness on `set`: per batch L(w+ε) − L(w) with ε from that batch's gradient, model in
/// eval mode, averaged weighted by batch size.
pub fn m_sharpness(
    model: &dyn Model,
    plan: &Plan,
    set: &ClipSet,
    device: &Device,
) -> Result<Option<f64>, TrainError> {
    let Some(sam) = plan.sam.filter(|s| s.m_sharpness) else {
        return Ok(None);
    };
    let n = plan.data.num_samples;
    let w = plan.train.class_weights;
    let params = read_params(model.trainable())?;
    let mut acc = SharpnessAccumulator::default();
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut rng = Rng::new(0);
    for chunk in indices.chunks(plan.train.eval_batch_size.max(1)) {
        let batch = super::data::prepare_batch(set, chunk, n, true, None)?;
        let x = to_tensor(
            batch.orig.as_deref().unwrap_or_default(),
            chunk.len(),
            n,
            device,
        )?;
        let (loss, grad) = loss_and_grads(
            model,
            &model.forward(&x, Mode::Eval, &mut rng)?,
            &batch.labels,
            w,
        )?;
        let eps = sam_epsilon(&params, &grad, sam.rho as f32, sam.adaptive, sam.eta as f32);
        let perturbed: Vec<f32> = params.iter().zip(&eps).map(|(p, e)| p + e).collect();
        write_params(model.trainable(), &perturbed)?;
        let logits = logits_rows(&crate::nn::no_grad(|| {
            model.forward(&x, Mode::Eval, &mut rng)
        })?);
        write_params(model.trainable(), &params)?;
        let (a, b) = batch_nll(&logits?, &batch.labels, w);
        let loss_eps = if b > 0.0 { a / b } else { 0.0 };
        acc.add_batch(loss, loss_eps, chunk.len());
    }
    Ok(acc.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_losses_are_the_cross_entropy_of_the_label() {
        let logits = [[0.0f32, 0.0], [1.0, -1.0]];
        let clips = clip_losses(&logits, &[1, 0], [0.1, 0.9]);
        assert!((clips[0].nll - std::f64::consts::LN_2).abs() < 1e-12);
        assert_eq!(clips[0].weight, 0.9);
        assert!((clips[1].nll - (1.0 + (-2.0f64).exp()).ln()).abs() < 1e-12);
        assert_eq!(clips[1].weight, 0.1);
        let (num, den) = batch_nll(&logits, &[1, 0], [0.1, 0.9]);
        assert!((num / den - DevLoss::Weighted.of(&clips)).abs() < 1e-15);
    }
}
