//! The run loop: one run folder, epochs of steps, dev evaluation, checkpoints, early stopping,
//! averaging of the k best checkpoints and final eval scores. Front-ends call it through
//! [`super::worker::spawn`]; tests may call [`run`] directly.
//!
//! Run folder layout: `config.toml` (resolved), `metrics.jsonl`, `layer_cos.jsonl`,
//! `epochs.jsonl`, `checkpoints/{last,epoch-NNN,final}.{safetensors,json}`, `scores-eval.txt`,
//! `summary.json`. Resuming reloads `checkpoints/last.*`, cuts the metrics files back to that
//! checkpoint's step and continues at the same batch of the same epoch, so an interrupted and
//! resumed CPU run writes the same metrics as an uninterrupted one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candle_core::Device;

use super::align::GradientAligner;
use super::average::{BestCheckpoints, Offer};
use super::checkpoint::{self, Sidecar};
use super::config::{DeviceKind, Plan, TrainMode};
use super::data::{
    clip_cache_budget_from_env, epoch_order, load_split, prepare_batch, AugmentSpec, ClipSet,
};
use super::error::{io_err, TrainError};
use super::events::{EpochMetrics, LayerCos, RunSummary, StepMetrics, TrainEvent};
use super::step::{evaluate, m_sharpness, train_step, StepState};
use crate::data::corpus::Split;
use crate::data::Label;
use crate::inference::RunLayout;
use crate::metrics::scores::{write_scores, ScoreFormat, ScoreRow};
use crate::nn::registry::build_model_reporting;
use crate::nn::Model;
use crate::rng::Rng;

/// Flags a front-end sets and the loop reads once per iteration.
#[derive(Debug, Default)]
pub struct Control {
    pub stop: AtomicBool,
    pub pause: AtomicBool,
}

/// Stream mixed into the seed for dropout masks.
const STREAM_DROPOUT: u64 = 0xD809_0000_0000_0001;

/// A device error without the backtrace candle attaches when `RUST_BACKTRACE` is set: the
/// message is shown to the user as one line.
fn device_error_text(e: candle_core::Error) -> String {
    crate::nn::candle_message(&e)
}

/// The compute device of a plan, and a notice when `auto` fell back to the CPU.
pub fn device_for(kind: DeviceKind) -> Result<(Device, Option<String>), TrainError> {
    match kind {
        DeviceKind::Cpu => Ok((Device::Cpu, None)),
        DeviceKind::Cuda { ordinal } => Device::new_cuda(ordinal).map(|d| (d, None)).map_err(|e| {
            let e = device_error_text(e);
            TrainError::Device(format!(
                "device.kind = \"cuda\": {e} (build with --features cuda on a machine with a \
                     GPU, or set device.kind = \"auto\" to fall back to the CPU)"
            ))
        }),
        DeviceKind::Auto { ordinal } => match Device::new_cuda(ordinal) {
            Ok(d) => Ok((d, None)),
            Err(e) => Ok((
                Device::Cpu,
                Some(format!(
                    "device.kind = \"auto\": CUDA device {ordinal} is not usable ({}); training on \
                     the CPU",
                    device_error_text(e)
                )),
            )),
        },
    }
}

struct JsonLines {
    path: PathBuf,
    file: std::fs::File,
}

impl JsonLines {
    fn open(path: PathBuf) -> Result<Self, TrainError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(Self { path, file })
    }

    fn write<T: serde::Serialize>(&mut self, value: &T) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(value).map_err(|e| TrainError::Checkpoint {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(io_err(&self.path))
    }
}

/// Keep the lines of a JSON-lines file whose `step` is at most `max_step`.
fn truncate_jsonl(path: &Path, max_step: u64) -> Result<(), TrainError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                .is_some_and(|s| s <= max_step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(path, kept).map_err(io_err(path))
}

/// Everything a run needs besides the plan.
pub struct RunContext<'a> {
    pub run_dir: &'a Path,
    /// Continue from `checkpoints/last.*`; an error when the folder has none.
    pub resume: bool,
    /// Start afresh in a folder that holds a run, removing what it wrote; without it (and without
    /// `resume`) such a folder is refused.
    pub overwrite: bool,
    pub control: &'a Control,
    /// Receives every event; returns false when nobody listens any more (the run then stops).
    pub emit: &'a mut dyn FnMut(TrainEvent) -> bool,
}

fn split_scores(set: &ClipSet, scores: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut bonafide = Vec::new();
    let mut spoof = Vec::new();
    for (label, s) in set.labels.iter().zip(scores) {
        match label {
            Label::Bonafide => bonafide.push(*s),
            Label::Spoof => spoof.push(*s),
        }
    }
    (bonafide, spoof)
}

/// EER and threshold of scores, `(NaN, NaN)` when a class is missing.
fn eer_of(set: &ClipSet, scores: &[f64]) -> (f64, f64) {
    let (b, s) = split_scores(set, scores);
    match crate::metrics::eer(&b, &s) {
        Ok(e) => (e.eer, e.threshold),
        Err(_) => (f64::NAN, f64::NAN),
    }
}

/// Run (or resume) training as `plan` says, in `ctx.run_dir`.
pub fn run(plan: &Plan, ctx: RunContext<'_>) -> Result<RunSummary, TrainError> {
    let run_dir = ctx.run_dir;
    let layout = RunLayout::new(run_dir);
    // A test set that cannot be found fails the run before it trains, not after.
    crate::inference::testsets::check_paths(&plan.tests)
        .map_err(|e| TrainError::TestSets(e.to_string()))?;
    let ckpt_dir = layout.checkpoints();
    let (last_weights, last_side) = layout.checkpoint("last");
    let resuming = ctx.resume;
    if resuming && !(last_side.is_file() && last_weights.is_file()) {
        return Err(TrainError::RunFolder {
            path: run_dir.to_path_buf(),
            message: "nothing to resume: no checkpoints/last.safetensors with its last.json \
                      (check the folder name; start a new run without --resume)"
                .into(),
        });
    }
    // Nothing in the folder changes before the lock is held and the start is known to be wanted.
    let _lock = layout.lock().map_err(|e| TrainError::RunFolder {
        path: run_dir.to_path_buf(),
        message: e.to_string(),
    })?;
    if !resuming && !ctx.overwrite && layout.holds_run() {
        return Err(TrainError::RunFolder {
            path: run_dir.to_path_buf(),
            message: "holds a run already: continue it with --resume, replace it with \
                      --overwrite, or choose another run folder"
                .into(),
        });
    }

    let (device, device_notice) = device_for(plan.device)?;
    // Train and dev are read every epoch: keep their decoded clips within one shared budget.
    let clip_budget = clip_cache_budget_from_env()?;
    let train_set = load_split(&plan.data, Split::Train)?.with_cache(clip_budget.clone());
    let dev_set = load_split(&plan.data, Split::Dev)?.with_cache(clip_budget);
    if train_set.is_empty() {
        return Err(TrainError::EmptySplit { split: "train" });
    }
    if dev_set.is_empty() {
        return Err(TrainError::EmptySplit { split: "dev" });
    }
    let (model, model_notes) = build_model_reporting(
        plan.model.kind,
        &plan.model.options,
        plan.train.seed,
        &device,
        candle_core::DType::F32,
    )?;
    let num_params: usize = model
        .trainable()
        .iter()
        .map(|v| v.var.as_tensor().elem_count())
        .sum();
    let t = &plan.train;
    let b = t.batch_size.min(train_set.len());
    let steps_per_epoch = (train_set.len() / b) as u64;
    let total_steps = match t.max_steps {
        Some(m) => m.min(steps_per_epoch * t.epochs as u64),
        None => steps_per_epoch * t.epochs as u64,
    };

    let schedule = plan
        .schedule
        .build(plan.optim.lr, total_steps.max(1))
        .map_err(|e| super::config::ConfigError::Invalid {
            key: "schedule".into(),
            message: e.to_string(),
        })?;
    let mut side = if resuming {
        // Weights and sidecar are checked against each other and against the configuration
        // before anything in the folder is touched.
        check_same_model(plan, &layout)?;
        let mut side = checkpoint::load_sidecar(&last_side)?;
        checkpoint::load_checkpoint_weights(model.as_ref(), &last_weights, &side)?;
        checkpoint::restore_optimizer(&last_weights, &mut side)?;
        // A resumed run makes its own final model, summary and test results; until then the
        // old ones would describe weights this run is changing.
        let (final_weights, final_side) = layout.checkpoint("final");
        for path in [
            final_weights,
            final_side,
            layout.summary(),
            layout.tests_summary(),
        ] {
            if path.exists() {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        for path in layout.jsonl_files() {
            truncate_jsonl(&path, side.step)?;
        }
        side
    } else {
        if ctx.overwrite {
            layout.clear_run_files().map_err(io_err(run_dir))?;
        }
        Sidecar {
            epoch: 0,
            batch_in_epoch: 0,
            step: 0,
            optimizer: plan.optim.config.build().map_err(|e| {
                super::config::ConfigError::Invalid {
                    key: "optim".into(),
                    message: e.to_string(),
                }
            })?,
            aligner: GradientAligner::new(t.align),
            rng: Rng::new(t.seed ^ STREAM_DROPOUT),
            best_dev_loss: None,
            best_epoch: None,
            dev_eer_threshold: None,
            epochs_since_best: 0,
            kept_best: BestCheckpoints::new(t.keep_best),
            epoch_conflicts: 0,
            epoch_dual_steps: 0,
            epoch_loss_sum: 0.0,
            epoch_loss_count: 0,
            weights_sha256: None,
        }
    };
    std::fs::create_dir_all(&ckpt_dir).map_err(io_err(&ckpt_dir))?;
    write_atomically(&layout.config(), plan.resolved_toml.as_bytes())?;
    let mut metrics = JsonLines::open(layout.metrics())?;
    let mut layer_file = JsonLines::open(layout.layer_cos())?;
    let mut epochs_file = JsonLines::open(layout.epochs())?;
    let mut last_saved = Instant::now();
    let emit = ctx.emit;
    let mut listening = emit(TrainEvent::Started {
        run_dir: run_dir.to_path_buf(),
        num_params,
        num_train_clips: train_set.len(),
        num_dev_clips: dev_set.len(),
        steps_per_epoch,
        total_steps,
        resumed_at_step: resuming.then_some(side.step),
    });
    for message in device_notice.into_iter().chain(model_notes) {
        listening &= emit(TrainEvent::Notice { message });
    }

    let mut state = StepState {
        optimizer: side.optimizer.clone(),
        aligner: side.aligner.clone(),
        rng: side.rng.clone(),
    };
    let want_orig = t.mode != TrainMode::Augmented;
    let want_aug = t.mode != TrainMode::Plain;
    let mut reason = "epochs";
    let mut epoch_start = Instant::now();

    'epochs: while side.epoch < t.epochs as u64 {
        let epoch = side.epoch;
        let order = epoch_order(train_set.len(), t.seed, epoch);
        while side.batch_in_epoch < steps_per_epoch {
            // Control flags: checked once per iteration.
            if ctx.control.pause.load(Ordering::SeqCst) && listening {
                listening = emit(TrainEvent::Paused);
                while ctx.control.pause.load(Ordering::SeqCst)
                    && !ctx.control.stop.load(Ordering::SeqCst)
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if listening {
                    listening = emit(TrainEvent::Resumed);
                }
            }
            let at_limit = t.max_steps.is_some_and(|m| side.step >= m);
            if ctx.control.stop.load(Ordering::SeqCst) || !listening || at_limit {
                side.optimizer = state.optimizer.clone();
                side.aligner = state.aligner.clone();
                side.rng = state.rng.clone();
                let path = checkpoint::save(&ckpt_dir, "last", model.as_ref(), &side)?;
                if listening {
                    emit(TrainEvent::Checkpoint {
                        epoch,
                        step: side.step,
                        path,
                        is_best: false,
                    });
                }
                if at_limit && !ctx.control.stop.load(Ordering::SeqCst) && listening {
                    reason = "max_steps";
                    break 'epochs;
                }
                if listening {
                    emit(TrainEvent::Stopped);
                }
                return Ok(summary(run_dir, &side, Vec::new(), None, None, "stopped"));
            }
            let started = Instant::now();
            let lo = (side.batch_in_epoch as usize) * b;
            let indices = &order[lo..lo + b];
            let augment = want_aug.then_some(AugmentSpec {
                algo: plan.data.rawboost_algo,
                params: &plan.data.rawboost,
                seed: t.seed,
                epoch,
            });
            let batch = prepare_batch(
                &train_set,
                indices,
                plan.data.num_samples,
                want_orig,
                augment,
            )?;
            let lr = schedule.lr_at(side.step);
            let step_number = side.step + 1;
            if t.inject_panic_at_step == Some(step_number) {
                panic!("injected panic at step {step_number}");
            }
            let want_layer = t.per_layer_cos_every.is_some_and(|k| step_number % k == 0)
                && t.mode == TrainMode::Dual;
            let outcome = train_step(
                model.as_ref(),
                plan,
                &mut state,
                &batch,
                lr,
                want_layer,
                t.inject_nan_at_step == Some(step_number),
                &device,
                (step_number, epoch),
            )?;
            side.step = step_number;
            side.batch_in_epoch += 1;
            for l in [outcome.loss_orig, outcome.loss_aug].into_iter().flatten() {
                side.epoch_loss_sum += l;
                side.epoch_loss_count += 1;
            }
            let conflict = outcome.grad_cos.map(|c| c < 0.0);
            if conflict.is_some() {
                side.epoch_dual_steps += 1;
                side.epoch_conflicts += u64::from(conflict == Some(true));
            }
            let m = StepMetrics {
                step: side.step,
                epoch,
                loss_orig: outcome.loss_orig,
                loss_aug: outcome.loss_aug,
                grad_norm_orig: outcome.grad_norm_orig,
                grad_norm_aug: outcome.grad_norm_aug,
                grad_cos: outcome.grad_cos,
                conflict,
                conflict_frac: conflict
                    .map(|_| side.epoch_conflicts as f64 / side.epoch_dual_steps as f64),
                lr,
                step_time_ms: started.elapsed().as_secs_f64() * 1e3,
            };
            metrics.write(&m)?;
            if listening {
                listening = emit(TrainEvent::Step(m));
            }
            if let Some(pairs) = outcome.layer_cos {
                let lc = LayerCos {
                    step: side.step,
                    names: pairs.iter().map(|(n, _)| n.clone()).collect(),
                    cos: pairs.iter().map(|(_, c)| Some(*c)).collect(),
                };
                layer_file.write(&lc)?;
                if listening {
                    listening = emit(TrainEvent::LayerCos(lc));
                }
            }
            // Mid-epoch checkpoints, by step count or by time: a run killed outright loses at
            // most the work since the last one (resume continues at the next batch, exactly).
            let by_steps = t
                .checkpoint_every_steps
                .is_some_and(|k| side.step % k == 0 && side.batch_in_epoch < steps_per_epoch);
            let by_time = t
                .checkpoint_every
                .is_some_and(|every| last_saved.elapsed() >= every);
            if by_steps || by_time {
                side.optimizer = state.optimizer.clone();
                side.aligner = state.aligner.clone();
                side.rng = state.rng.clone();
                checkpoint::save(&ckpt_dir, "last", model.as_ref(), &side)?;
                last_saved = Instant::now();
            }
        }

        // End of epoch: dev loss and EER, bookkeeping, checkpoints.
        let dev = evaluate(
            model.as_ref(),
            &dev_set,
            plan.data.num_samples,
            t.eval_batch_size,
            t.class_weights,
            &device,
        )?;
        // train.dev_loss: ours or the reference's (batches of 8); it decides everything below.
        let dev_loss = dev.loss_by(t.dev_loss);
        let (dev_eer, dev_threshold) = eer_of(&dev_set, &dev.scores);
        let sharp = m_sharpness(model.as_ref(), plan, &dev_set, &device)?;
        let is_best = side.best_dev_loss.is_none_or(|best| dev_loss < best);
        if is_best {
            side.best_dev_loss = Some(dev_loss);
            side.best_epoch = Some(epoch);
            side.epochs_since_best = 0;
        } else {
            side.epochs_since_best += 1;
        }
        let em = EpochMetrics {
            epoch,
            step: side.step,
            train_loss: side.epoch_loss_sum / side.epoch_loss_count.max(1) as f64,
            dev_loss,
            dev_eer,
            dev_eer_threshold: dev_threshold,
            conflict_frac: (side.epoch_dual_steps > 0)
                .then(|| side.epoch_conflicts as f64 / side.epoch_dual_steps as f64),
            m_sharpness: sharp,
            is_best,
            epoch_time_s: epoch_start.elapsed().as_secs_f64(),
        };
        epochs_file.write(&em)?;
        if listening {
            listening = emit(TrainEvent::Epoch(em));
        }
        side.dev_eer_threshold = Some(dev_threshold);
        side.epoch = epoch + 1;
        side.batch_in_epoch = 0;
        side.epoch_conflicts = 0;
        side.epoch_dual_steps = 0;
        side.epoch_loss_sum = 0.0;
        side.epoch_loss_count = 0;
        side.optimizer = state.optimizer.clone();
        side.aligner = state.aligner.clone();
        side.rng = state.rng.clone();
        // Keep the k best epochs by dev loss (files named relative to the checkpoint folder, so
        // a run folder can be moved).
        let stem = RunLayout::epoch_stem(epoch);
        let mut evicted_file = None;
        if let Offer::Kept { evicted } =
            side.kept_best
                .offer(epoch, dev_loss, format!("{stem}.safetensors"))
        {
            let path = checkpoint::save(&ckpt_dir, &stem, model.as_ref(), &side)?;
            if listening {
                listening = emit(TrainEvent::Checkpoint {
                    epoch,
                    step: side.step,
                    path,
                    is_best,
                });
            }
            evicted_file = evicted;
        }
        checkpoint::save(&ckpt_dir, "last", model.as_ref(), &side)?;
        // Only once `last` no longer lists it may the evicted checkpoint go: a crash before this
        // point resumes with every file its sidecar names.
        if let Some(file) = evicted_file.take() {
            let weights = ckpt_dir.join(&file);
            let _ = std::fs::remove_file(weights.with_extension("json"));
            let _ = std::fs::remove_file(weights);
        }
        last_saved = Instant::now();
        epoch_start = Instant::now();
        if side.epochs_since_best >= t.patience as u64 {
            reason = "early_stop";
            break;
        }
    }

    // Final model: the kept best checkpoints averaged as train.averaging says (the current
    // weights when none); the summary names the epochs that entered with a non-zero weight.
    let kept = side.kept_best.entries();
    let counts = t.averaging.counts(kept.len());
    let averaged: Vec<u64> = kept
        .iter()
        .zip(&counts)
        .filter(|(_, &count)| count > 0.0)
        .map(|(e, _)| e.epoch)
        .collect();
    if !averaged.is_empty() {
        let paths: Vec<PathBuf> = side.kept_best.paths().map(|p| ckpt_dir.join(p)).collect();
        let tensors = checkpoint::average_with(&paths, t.averaging)?;
        checkpoint::set_model_state(model.as_ref(), &tensors, &ckpt_dir)?;
    }
    let final_path = checkpoint::save(&ckpt_dir, "final", model.as_ref(), &side)?;
    if listening {
        listening = emit(TrainEvent::Checkpoint {
            epoch: side.epoch,
            step: side.step,
            path: final_path.clone(),
            is_best: false,
        });
    }
    let (eval_eer, scores_path) = if plan.data.score_eval {
        score_eval(plan, model.as_ref(), run_dir, &device)?
    } else {
        (None, None)
    };
    if !plan.tests.is_empty() {
        let mut notes = Vec::new();
        test_sets(
            plan,
            model,
            &final_path,
            run_dir,
            &device,
            ctx.control,
            &mut notes,
        )?;
        if listening {
            for message in notes {
                listening = emit(TrainEvent::Notice { message });
            }
        }
    }
    let s = summary(run_dir, &side, averaged, eval_eer, scores_path, reason);
    let summary_path = layout.summary();
    let json = serde_json::to_string_pretty(&s).map_err(|e| TrainError::Checkpoint {
        path: summary_path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&summary_path, json).map_err(io_err(&summary_path))?;
    if listening {
        emit(TrainEvent::Finished { summary: s.clone() });
    }
    Ok(s)
}

fn score_eval(
    plan: &Plan,
    model: &dyn Model,
    run_dir: &Path,
    device: &Device,
) -> Result<(Option<f64>, Option<PathBuf>), TrainError> {
    let eval_set = load_split(&plan.data, Split::Eval)?;
    if eval_set.is_empty() {
        return Ok((None, None));
    }
    let ev = evaluate(
        model,
        &eval_set,
        plan.data.num_samples,
        plan.train.eval_batch_size,
        plan.train.class_weights,
        device,
    )?;
    let rows: Vec<ScoreRow> = eval_set
        .ids
        .iter()
        .zip(&ev.scores)
        .map(|(id, s)| ScoreRow {
            utt_id: id.clone(),
            score: *s,
            attack: None,
            label: None,
        })
        .collect();
    let path = RunLayout::new(run_dir).scores_eval();
    let file = std::fs::File::create(&path).map_err(io_err(&path))?;
    write_scores(std::io::BufWriter::new(file), ScoreFormat::TwoColumn, &rows)
        .map_err(|e| TrainError::Metric(format!("{}: {e}", path.display())))?;
    let (eer, _) = eer_of(&eval_set, &ev.scores);
    Ok((eer.is_finite().then_some(eer), Some(path)))
}

/// Score and evaluate the `[[test]]` sets with the final model; `notes` gets the log lines and
/// the summary table.
fn test_sets(
    plan: &Plan,
    model: Box<dyn Model>,
    final_path: &Path,
    run_dir: &Path,
    device: &Device,
    control: &Control,
    notes: &mut Vec<String>,
) -> Result<(), TrainError> {
    let info = crate::inference::ModelInfo {
        name: plan.model.kind.name().to_string(),
        name_origin: "this run".into(),
        num_samples: plan.data.num_samples,
        num_samples_origin: "the run's data.num_samples".into(),
        weights: final_path.to_path_buf(),
        best: Some(crate::inference::layout::BestKind::Final),
        threshold: None,
    };
    let scorer = crate::inference::Scorer::from_model(model, info, device.clone());
    let layout = crate::inference::RunLayout::new(run_dir);
    let outcomes = crate::inference::testsets::evaluate_all(
        &scorer,
        &plan.tests,
        &layout,
        &mut |line| notes.push(line),
        &|| control.stop.load(Ordering::SeqCst),
    )
    .map_err(|e| TrainError::TestSets(e.to_string()))?;
    notes.push(crate::inference::testsets::summary_table(&outcomes));
    Ok(())
}

/// A resumed run must train the model its checkpoint holds: the architecture and its options in
/// the run's `config.toml` and in the plan must agree (other settings, e.g. more epochs, may
/// change).
fn check_same_model(plan: &Plan, layout: &RunLayout) -> Result<(), TrainError> {
    let config = layout.config();
    let Ok(text) = std::fs::read_to_string(&config) else {
        return Ok(());
    };
    let stored = super::config::plan_from_str(&text, &config.display().to_string(), &[])?;
    if stored.model != plan.model {
        return Err(TrainError::RunFolder {
            path: layout.root().to_path_buf(),
            message: format!(
                "--resume with another model ({} {:?}) than the run's ({} {:?} in {}); resume \
                 with the run's own configuration (dpda train {} --run-dir … --resume)",
                plan.model.kind,
                plan.model.options,
                stored.model.kind,
                stored.model.options,
                config.display(),
                config.display()
            ),
        });
    }
    Ok(())
}

/// Write `bytes` to `path` through a temporary file renamed into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

fn summary(
    run_dir: &Path,
    side: &Sidecar,
    averaged_epochs: Vec<u64>,
    eval_eer: Option<f64>,
    scores_path: Option<PathBuf>,
    reason: &str,
) -> RunSummary {
    RunSummary {
        run_dir: run_dir.to_path_buf(),
        num_steps: side.step,
        num_epochs: side.epoch,
        best_epoch: side.best_epoch,
        best_dev_loss: side.best_dev_loss,
        averaged_epochs,
        eval_eer,
        scores_path,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_errors_lose_candle_backtraces() {
        let inner = candle_core::Error::Msg("CUDA_ERROR_NO_DEVICE".to_string());
        let wrapped = candle_core::Error::WithBacktrace {
            inner: Box::new(inner),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        assert!(wrapped.to_string().contains('\n'));
        assert_eq!(device_error_text(wrapped), "CUDA_ERROR_NO_DEVICE");
        let plain = candle_core::Error::Msg("no GPU".to_string());
        assert_eq!(device_error_text(plain), "no GPU");
    }

    #[test]
    fn auto_device_falls_back_to_the_cpu_with_a_reason() {
        let (device, notice) = device_for(DeviceKind::Auto { ordinal: 0 }).unwrap();
        match notice {
            Some(message) => {
                assert!(device.is_cpu());
                assert!(message.contains("training on the CPU"), "{message}");
            }
            None => assert!(device.is_cuda()),
        }
        let strict = device_for(DeviceKind::Cuda { ordinal: 0 });
        if let Err(e) = strict {
            assert!(e.to_string().contains("device.kind = \"auto\""), "{e}");
        }
    }
}
