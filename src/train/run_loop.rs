//! The inside of a run: [`RunLoop`] holds what a prepared run needs (model, data, the checkpoint
//! sidecar that carries all resumable state, the [`Recorder`]) and does the work by role:
//! [`RunLoop::train`] drives epochs of steps, [`RunLoop::control_point`] reads the front-end's
//! flags once per iteration, [`RunLoop::step`] takes one optimizer step, [`RunLoop::end_epoch`]
//! evaluates on dev and keeps checkpoints. [`super::run::run`] sets it up and finishes the run.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use candle_core::Device;

use super::average::Offer;
use super::checkpoint::{self, Sidecar};
use super::config::{PathPlan, Plan, TrainMode};
use super::control::{Control, FaultHooks};
use super::data::eer_of;
use super::data::{epoch_order, prepare_batch, AugmentSpec, ClipSet, PathAugment};
use super::error::TrainError;
use super::events::{
    pair_key, EpochMetrics, LayerCos, PathMap, StepMetrics, StopReason, TrainEvent,
};
use super::recorder::Recorder;
use super::schedule::LrSchedule;
use super::step::{evaluate, m_sharpness, train_step, StepOutcome, StepState};
use crate::inference::RunLayout;
use crate::nn::Model;

/// A prepared run, between setup and the final model.
pub(super) struct RunLoop<'r, 'e> {
    pub plan: &'r Plan,
    pub model: Box<dyn Model>,
    pub device: Device,
    pub train_set: ClipSet,
    pub dev_set: ClipSet,
    pub schedule: LrSchedule,
    pub ckpt_dir: PathBuf,
    /// All state a resume needs; the optimizer, aligner and RNG in it are the ones steps use.
    pub side: Sidecar,
    /// Clips per path and step.
    pub batch_size: usize,
    pub steps_per_epoch: u64,
    pub control: &'r Control,
    pub faults: FaultHooks,
    pub recorder: Recorder<'e>,
    /// When `last` was saved (for `train.checkpoint_every`).
    pub last_saved: Instant,
    pub epoch_start: Instant,
    /// What makes each augmented path (all paths but the clean one, in `train.paths` order).
    pub augment_paths: Vec<PathAugment>,
}

impl RunLoop<'_, '_> {
    /// Train until the epochs are done, the step limit or early stopping ends the run, or the
    /// front-end stops it (then `last` is saved and the reason is [`StopReason::Stopped`]).
    pub fn train(&mut self) -> Result<StopReason, TrainError> {
        let plan = self.plan;
        let t = &plan.train;
        while self.side.epoch < t.epochs as u64 {
            let order = epoch_order(self.train_set.len(), t.seed, self.side.epoch);
            while self.side.batch_in_epoch < self.steps_per_epoch {
                if let Some(reason) = self.control_point()? {
                    return Ok(reason);
                }
                self.step(&order)?;
            }
            self.end_epoch()?;
            if self.side.epochs_since_best >= t.patience as u64 {
                return Ok(StopReason::EarlyStop);
            }
        }
        Ok(StopReason::Epochs)
    }

    /// Once per iteration: wait while paused; at a stop request, a front-end gone or the step
    /// limit, save `last` and say why the loop ends.
    fn control_point(&mut self) -> Result<Option<StopReason>, TrainError> {
        let control = self.control;
        if control.pause.load(Ordering::SeqCst) && self.recorder.listening() {
            self.recorder.send(TrainEvent::Paused);
            while control.pause.load(Ordering::SeqCst) && !control.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            self.recorder.send(TrainEvent::Resumed);
        }
        let at_limit = self
            .plan
            .train
            .max_steps
            .is_some_and(|m| self.side.step >= m);
        let listening = self.recorder.listening();
        if !(control.stop.load(Ordering::SeqCst) || !listening || at_limit) {
            return Ok(None);
        }
        let path = self.save("last")?;
        self.recorder
            .checkpoint(self.side.epoch, self.side.step, path, false);
        // A stop requested while `last` was written wins over the step limit.
        if at_limit && !control.stop.load(Ordering::SeqCst) && listening {
            return Ok(Some(StopReason::MaxSteps));
        }
        self.recorder.send(TrainEvent::Stopped);
        Ok(Some(StopReason::Stopped))
    }

    /// One optimizer step on the next batch of `order`, its records and any mid-epoch checkpoint.
    fn step(&mut self, order: &[usize]) -> Result<(), TrainError> {
        let plan = self.plan;
        let t = &plan.train;
        let epoch = self.side.epoch;
        let started = Instant::now();
        let lo = (self.side.batch_in_epoch as usize) * self.batch_size;
        let indices = &order[lo..lo + self.batch_size];
        let names: Vec<String> = t
            .paths
            .iter()
            .skip(usize::from(t.mode == TrainMode::Dual))
            .map(|p| p.name.clone())
            .collect();
        let augment = (t.mode != TrainMode::Plain).then_some(AugmentSpec {
            paths: &self.augment_paths,
            names: &names,
            seed: t.seed,
            epoch,
        });
        let batch = prepare_batch(
            &self.train_set,
            indices,
            plan.data.num_samples,
            t.mode != TrainMode::Augmented,
            augment,
        )?;
        let lr = self.schedule.lr_at(self.side.step);
        let step_number = self.side.step + 1;
        if self.faults.panic_at_step == Some(step_number) {
            panic!("injected panic at step {step_number}");
        }
        let want_layer = t
            .per_layer_cos_every
            .is_some_and(|k| step_number.is_multiple_of(k))
            && t.mode == TrainMode::Dual;
        let side = &mut self.side;
        let outcome = train_step(
            self.model.as_ref(),
            plan,
            &mut StepState {
                optimizer: &mut side.optimizer,
                aligner: &mut side.aligner,
                rng: &mut side.rng,
            },
            &batch,
            lr,
            want_layer,
            self.faults.nan_at_step == Some(step_number),
            &self.device,
            (step_number, epoch),
        )?;
        let (metrics, layer_cos) = count_step(side, &t.paths, outcome, lr, started);
        self.recorder.step(metrics)?;
        if let Some(layer_cos) = layer_cos {
            self.recorder.layer_cos(layer_cos)?;
        }
        // Mid-epoch checkpoints, by step count or by time: a run killed outright loses at most
        // the work since the last one (resume continues at the next batch, exactly).
        let by_steps = t.checkpoint_every_steps.is_some_and(|k| {
            self.side.step.is_multiple_of(k) && self.side.batch_in_epoch < self.steps_per_epoch
        });
        let by_time = t
            .checkpoint_every
            .is_some_and(|every| self.last_saved.elapsed() >= every);
        if by_steps || by_time {
            self.save("last")?;
            self.last_saved = Instant::now();
        }
        Ok(())
    }

    /// End of an epoch: dev loss and EER, early-stopping bookkeeping, the epoch's record, the
    /// k best checkpoints and `last`.
    fn end_epoch(&mut self) -> Result<(), TrainError> {
        let plan = self.plan;
        let t = &plan.train;
        let epoch = self.side.epoch;
        let model = self.model.as_ref();
        let dev = evaluate(
            model,
            &self.dev_set,
            plan.data.num_samples,
            t.eval_batch_size,
            t.class_weights,
            &self.device,
        )?;
        // train.dev_loss: ours or the reference's (batches of 8); it decides everything below.
        let dev_loss = dev.loss_by(t.dev_loss);
        let (dev_eer, dev_threshold) = eer_of(&self.dev_set, &dev.scores);
        let sharp = m_sharpness(model, plan, &self.dev_set, &self.device)?;
        let side = &mut self.side;
        let is_best = side.best_dev_loss.is_none_or(|best| dev_loss < best);
        if is_best {
            side.best_dev_loss = Some(dev_loss);
            side.best_epoch = Some(epoch);
            side.epochs_since_best = 0;
        } else {
            side.epochs_since_best += 1;
        }
        self.recorder.epoch(EpochMetrics {
            epoch,
            step: side.step,
            train_loss: side.epoch_loss_sum / side.epoch_loss_count.max(1) as f64,
            dev_loss,
            dev_eer,
            dev_eer_threshold: dev_threshold,
            conflict_frac: (side.epoch_dual_steps > 0)
                .then(|| side.epoch_conflicts as f64 / side.epoch_dual_steps as f64),
            pair_conflict_frac: pair_conflict_frac(side, &t.paths),
            m_sharpness: sharp,
            is_best,
            epoch_time_s: self.epoch_start.elapsed().as_secs_f64(),
        })?;
        side.dev_eer_threshold = Some(dev_threshold);
        side.epoch = epoch + 1;
        side.batch_in_epoch = 0;
        side.epoch_conflicts = 0;
        side.epoch_dual_steps = 0;
        side.epoch_pair_conflicts.clear();
        side.epoch_loss_sum = 0.0;
        side.epoch_loss_count = 0;
        // Keep the k best epochs by dev loss (files named relative to the checkpoint folder, so
        // a run folder can be moved).
        let stem = RunLayout::epoch_stem(epoch);
        let mut evicted_file = None;
        if let Offer::Kept { evicted } =
            side.kept_best
                .offer(epoch, dev_loss, format!("{stem}.safetensors"))
        {
            let path = self.save(&stem)?;
            self.recorder
                .checkpoint(epoch, self.side.step, path, is_best);
            evicted_file = evicted;
        }
        self.save("last")?;
        // Only once `last` no longer lists it may the evicted checkpoint go: a crash before this
        // point resumes with every file its sidecar names.
        if let Some(file) = evicted_file {
            let weights = self.ckpt_dir.join(&file);
            let _ = std::fs::remove_file(weights.with_extension("json"));
            let _ = std::fs::remove_file(weights);
        }
        self.last_saved = Instant::now();
        self.epoch_start = Instant::now();
        Ok(())
    }

    /// Write the model and the sidecar as checkpoint `stem` (the one place checkpoints of the
    /// loop are made).
    pub fn save(&self, stem: &str) -> Result<PathBuf, TrainError> {
        checkpoint::save(&self.ckpt_dir, stem, self.model.as_ref(), &self.side)
    }
}

/// This epoch's conflict fraction per pair of paths (dual runs that took a step this epoch).
fn pair_conflict_frac(side: &Sidecar, paths: &[PathPlan]) -> Option<PathMap<f64>> {
    if side.epoch_dual_steps == 0 || paths.len() < 2 {
        return None;
    }
    let steps = side.epoch_dual_steps as f64;
    let mut fracs = PathMap::new();
    for (a, pa) in paths.iter().enumerate() {
        for pb in &paths[a + 1..] {
            let key = pair_key(&pa.name, &pb.name);
            let count = side.epoch_pair_conflicts.get(&key).copied().unwrap_or(0);
            fracs.insert(key, count as f64 / steps);
        }
    }
    Some(fracs)
}

/// Count a finished step into the sidecar's position and epoch counters; its records.
fn count_step(
    side: &mut Sidecar,
    paths: &[PathPlan],
    outcome: StepOutcome,
    lr: f64,
    started: Instant,
) -> (StepMetrics, Option<LayerCos>) {
    let epoch = side.epoch;
    side.step += 1;
    side.batch_in_epoch += 1;
    // Every path's loss counts once (dual: the clean one first, then each augmented path).
    let losses: Vec<f64> = if outcome.path_losses.is_empty() {
        [outcome.loss_orig, outcome.loss_aug]
            .into_iter()
            .flatten()
            .collect()
    } else {
        outcome.path_losses.clone()
    };
    for l in losses {
        side.epoch_loss_sum += l;
        side.epoch_loss_count += 1;
    }
    let conflict = outcome.grad_cos.map(|c| c < 0.0);
    if conflict.is_some() {
        side.epoch_dual_steps += 1;
        side.epoch_conflicts += u64::from(conflict == Some(true));
    }
    let name = |k: usize| {
        paths
            .get(k)
            .map_or_else(|| format!("path{k}"), |p| p.name.clone())
    };
    let by_path = |values: &[f64]| -> Option<PathMap<f64>> {
        (!values.is_empty() && !outcome.pair_cos.is_empty()).then(|| {
            values
                .iter()
                .enumerate()
                .map(|(k, &v)| (name(k), v))
                .collect()
        })
    };
    let path_loss = by_path(&outcome.path_losses);
    let path_grad_norm = by_path(&outcome.path_norms);
    let (pair_cos, pair_conflict) = if outcome.pair_cos.is_empty() {
        (None, None)
    } else {
        let mut cos = PathMap::new();
        let mut conflicts = PathMap::new();
        for &(a, b, c) in &outcome.pair_cos {
            let key = pair_key(&name(a), &name(b));
            if c < 0.0 {
                *side.epoch_pair_conflicts.entry(key.clone()).or_insert(0) += 1;
            }
            cos.insert(key.clone(), c);
            conflicts.insert(key, c < 0.0);
        }
        (Some(cos), Some(conflicts))
    };
    let metrics = StepMetrics {
        step: side.step,
        epoch,
        loss_orig: outcome.loss_orig,
        loss_aug: outcome.loss_aug,
        grad_norm_orig: outcome.grad_norm_orig,
        grad_norm_aug: outcome.grad_norm_aug,
        grad_cos: outcome.grad_cos,
        conflict,
        conflict_frac: conflict.map(|_| side.epoch_conflicts as f64 / side.epoch_dual_steps as f64),
        lr,
        step_time_ms: started.elapsed().as_secs_f64() * 1e3,
        path_loss,
        path_grad_norm,
        pair_cos,
        pair_conflict,
    };
    let layer_cos = outcome.layer_cos.map(|pairs| LayerCos {
        step: side.step,
        names: pairs.iter().map(|(n, _)| n.clone()).collect(),
        cos: pairs.iter().map(|(_, c)| Some(*c)).collect(),
    });
    (metrics, layer_cos)
}
