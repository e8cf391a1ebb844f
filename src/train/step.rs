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

use crate::rng::Rng;

fn norm(g: &[f32]) -> f64 {
    g.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

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
    /// The augmented path's loss; with several augmented paths, their mean.
    pub loss_aug: Option<f64>,
    pub grad_norm_orig: Option<f64>,
    /// The augmented path's gradient norm; with several augmented paths, their mean.
    pub grad_norm_aug: Option<f64>,
    /// The clean–augmented gradient cosine; with several augmented paths, the lowest one (a step
    /// conflicts when any augmentation pulls against the clean data).
    pub grad_cos: Option<f64>,
    /// `(tensor name, cosine)` of the clean path and the first augmented path, when asked for.
    pub layer_cos: Option<Vec<(String, f64)>>,
    /// Dual runs: each path's loss, in `train.paths` order.
    pub path_losses: Vec<f64>,
    /// Dual runs: each path's gradient norm, in `train.paths` order.
    pub path_norms: Vec<f64>,
    /// Dual runs: `(a, b, cosine)` for every pair of paths `a < b` (indices into `train.paths`).
    pub pair_cos: Vec<(usize, usize, f64)>,
}

/// Losses and flat gradients of the paths a mode runs, in `train.paths` order.
struct PathGrads {
    losses: Vec<f64>,
    grads: Vec<Vec<f32>>,
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

/// The inputs of the mode's paths, in `train.paths` order: `[orig]` for plain, `[aug]` for
/// augmented, `[orig, aug, extra…]` for dual.
fn path_inputs<'b>(plan: &Plan, batch: &'b Batch) -> Result<Vec<&'b [f32]>, TrainError> {
    let missing = || TrainError::Device("batch lacks a path the mode needs".into());
    let orig = || batch.orig.as_deref().ok_or_else(missing);
    Ok(match plan.train.mode {
        TrainMode::Plain => vec![orig()?],
        TrainMode::Augmented => vec![batch.augmented(0).ok_or_else(missing)?],
        TrainMode::Dual => {
            let mut inputs = vec![orig()?];
            for j in 0..plan.train.paths.len() - 1 {
                inputs.push(batch.augmented(j).ok_or_else(missing)?);
            }
            inputs
        }
    })
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
    let inputs = path_inputs(plan, batch)?;
    let results = if inputs.len() > 1 && plan.train.layout == Layout::Joint {
        // [K·B, N]: the paths' crops one after the other, as the reference concatenates
        // [orig; aug]; each path's half-loss is then backpropagated through the one graph.
        let parts = inputs
            .iter()
            .map(|x| to_tensor(x, b, n, device))
            .collect::<Result<Vec<_>, _>>()?;
        let logits = model.forward(&Tensor::cat(&parts, 0)?, mode, rng)?;
        (0..inputs.len())
            .map(|k| loss_and_grads(model, &logits.narrow(0, k * b, b)?, &batch.labels, w))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        let mut results = Vec::with_capacity(inputs.len());
        for x in &inputs {
            let logits = model.forward(&to_tensor(x, b, n, device)?, mode, rng)?;
            results.push(loss_and_grads(model, &logits, &batch.labels, w)?);
        }
        results
    };
    let (losses, grads) = results.into_iter().unzip();
    Ok(PathGrads { losses, grads })
}

/// The losses of the mode's paths at the model's current weights, without gradients: FAMO's
/// update after the step. BatchNorm uses the batch's statistics without updating its running
/// ones, so the extra pass leaves the model as the step left it.
fn path_losses_only(
    model: &dyn Model,
    plan: &Plan,
    batch: &Batch,
    rng: &mut Rng,
    device: &Device,
) -> Result<Vec<f64>, TrainError> {
    let b = batch.len();
    let n = batch.num_samples;
    let w = plan.train.class_weights;
    let mut losses = Vec::new();
    for x in path_inputs(plan, batch)? {
        let x = to_tensor(x, b, n, device)?;
        let loss = crate::nn::no_grad(|| {
            let logits = model.forward(&x, Mode::TrainFrozenStats, rng)?;
            Ok::<_, TrainError>(weighted_cross_entropy(&logits, &batch.labels, w)?)
        })?;
        losses.push(loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?);
    }
    Ok(losses)
}

fn combine(
    aligner: &mut GradientAligner,
    p: &PathGrads,
    layout: &FlatLayout,
) -> Result<Vec<f32>, TrainError> {
    match p.grads.as_slice() {
        [] => Err(TrainError::Device("no gradient computed".into())),
        [g] => Ok(g.clone()),
        grads => {
            let views: Vec<&[f32]> = grads.iter().map(Vec::as_slice).collect();
            let mut out = vec![0.0f32; grads[0].len()];
            aligner.combine_paths(&views, &p.losses, layout, &mut out);
            Ok(out)
        }
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The step's figures from its paths' losses and gradients.
fn outcome_of(
    plan: &Plan,
    p: &PathGrads,
    layout: &FlatLayout,
    want_layer_cos: bool,
) -> StepOutcome {
    let norms: Vec<f64> = p.grads.iter().map(|g| norm(g)).collect();
    match plan.train.mode {
        TrainMode::Plain => StepOutcome {
            loss_orig: p.losses.first().copied(),
            grad_norm_orig: norms.first().copied(),
            ..StepOutcome::default()
        },
        TrainMode::Augmented => StepOutcome {
            loss_aug: p.losses.first().copied(),
            grad_norm_aug: norms.first().copied(),
            ..StepOutcome::default()
        },
        TrainMode::Dual => {
            let k = p.grads.len();
            let mut pair_cos = Vec::with_capacity(k * (k - 1) / 2);
            for a in 0..k {
                for b in a + 1..k {
                    let c = f64::from(crate::nn::flat::cosine(&p.grads[a], &p.grads[b]));
                    pair_cos.push((a, b, c));
                }
            }
            let grad_cos = pair_cos
                .iter()
                .filter(|(a, _, _)| *a == 0)
                .map(|&(_, _, c)| c)
                .reduce(f64::min);
            let layer_cos = want_layer_cos.then(|| {
                per_tensor_cosine(layout, &p.grads[0], &p.grads[1])
                    .into_iter()
                    .map(|(name, c)| (name, f64::from(c)))
                    .collect()
            });
            StepOutcome {
                loss_orig: p.losses.first().copied(),
                loss_aug: mean(&p.losses[1..]),
                grad_norm_orig: norms.first().copied(),
                grad_norm_aug: mean(&norms[1..]),
                grad_cos,
                layer_cos,
                path_losses: p.losses.clone(),
                path_norms: norms,
                pair_cos,
            }
        }
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
        if let Some(first) = p.losses.first_mut() {
            *first = f64::NAN;
        }
    }
    let non_finite = |what: String| TrainError::NonFinite { what, step, epoch };
    let names = &plan.train.paths;
    let path_name = |k: usize| names.get(k).map_or("?", |p| p.name.as_str());
    for (k, loss) in p.losses.iter().enumerate() {
        if !loss.is_finite() {
            return Err(non_finite(format!("loss (path '{}')", path_name(k))));
        }
    }
    let layout = FlatLayout::new(model.trainable());
    let outcome = outcome_of(plan, &p, &layout, want_layer_cos);
    for (k, g) in p.grads.iter().enumerate() {
        if !norm(g).is_finite() {
            return Err(non_finite(format!("gradient (path '{}')", path_name(k))));
        }
    }
    let grad = combine(state.aligner, &p, &layout)?;
    let mut params = read_params(model.trainable())?;
    let grad = if let Some(sam) = &plan.sam {
        let eps = sam_epsilon(&params, &grad, sam.rho as f32, sam.adaptive, sam.eta as f32);
        let perturbed: Vec<f32> = params.iter().zip(&eps).map(|(w, e)| w + e).collect();
        write_params(model.trainable(), &perturbed)?;
        let mut rng = rng_before.clone();
        let second = path_grads(model, plan, batch, Mode::TrainFrozenStats, &mut rng, device);
        write_params(model.trainable(), &params)?;
        combine(state.aligner, &second?, &layout)?
    } else {
        grad
    };
    // Clipping (train.clip_grad_norm) happens inside the optimizer, on this final gradient.
    if !global_norm(&grad).is_finite() {
        return Err(non_finite("combined gradient".into()));
    }
    state
        .optimizer
        .step(&mut params, &grad, lr as f32)
        .map_err(|e| TrainError::Device(format!("optimizer: {e}")))?;
    write_params(model.trainable(), &params)?;
    if p.grads.len() > 1 && state.aligner.needs_losses_after_step() {
        // FAMO learns its weights from how each path's loss moved over the step: the same batch
        // and dropout masks at the new weights.
        let mut rng = rng_before;
        let after = path_losses_only(model, plan, batch, &mut rng, device)?;
        if after.iter().all(|l| l.is_finite()) {
            state.aligner.after_step(&after);
        }
    }
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
