//! A run from start to end: [`run`] checks and locks the run folder, loads the data and the model,
//! starts afresh or resumes from `checkpoints/last.*`, hands the prepared run to the private
//! `run_loop::RunLoop` for the epochs of steps, and finishes it: averaging of the k best
//! checkpoints into the final model, eval scores, `[[test]]` sets and `summary.json`. Records and
//! events go through one `recorder::Recorder`. Front-ends call it through
//! [`super::worker::spawn`]; tests may call [`run`] directly.
//!
//! Run folder layout: `config.toml` (resolved), `metrics.jsonl`, `layer_cos.jsonl`,
//! `epochs.jsonl`, `checkpoints/{last,epoch-NNN,final}.{safetensors,json}`, `scores-eval.txt`,
//! `scores-wild.txt` (the demo corpus's wild split, scored with eval), `calibration.json` (fitted on
//! the final model's dev scores), `summary.json`. Resuming reloads `checkpoints/last.*`, cuts the metrics files back to that
//! checkpoint's step and continues at the same batch of the same epoch, so an interrupted and
//! resumed CPU run writes the same metrics as an uninterrupted one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use candle_core::Device;

use super::align::GradientAligner;
use super::average::BestCheckpoints;
use super::checkpoint::{self, Sidecar};
use super::config::{CorpusPlan, DeviceKind, PathSource, Plan};
use super::control::{Control, FaultHooks};
use super::data::{
    clip_cache_budget_from_env, demo_wild, eer_of, load_split, split_scores, ClipSet, PathAugment,
};
use super::error::{io_err, TrainError};
use super::events::{RunSummary, StopReason, TrainEvent};
use super::recorder::{truncate_jsonl, Recorder};
use super::run_loop::RunLoop;
use super::step::evaluate;
use crate::data::corpus::Split;
use crate::inference::RunLayout;
use crate::metrics::scores::{write_scores, ScoreFormat, ScoreRow};
use crate::nn::registry::build_model_reporting;
use crate::nn::Model;
use crate::rng::Rng;

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
    /// Failures to inject (tests only; `FaultHooks::default()` injects none).
    #[doc(hidden)]
    pub faults: FaultHooks,
}

/// Run (or resume) training as `plan` says, in `ctx.run_dir`.
pub fn run(plan: &Plan, ctx: RunContext<'_>) -> Result<RunSummary, TrainError> {
    let run_dir = ctx.run_dir;
    let layout = RunLayout::new(run_dir);
    // A test set that cannot be found fails the run before it trains, not after.
    crate::inference::testsets::check_paths(&plan.tests)
        .map_err(|e| TrainError::TestSets(e.to_string()))?;
    // Noise and impulse-response folders are read before the run folder is touched: a missing
    // one fails the run with nothing written.
    let augment_paths = augment_paths(plan)?;
    let _lock = open_run_folder(&layout, ctx.resume, ctx.overwrite)?;

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
    let num_params = model.num_parameters();
    let t = &plan.train;
    let batch_size = t.batch_size.min(train_set.len());
    let steps_per_epoch = (train_set.len() / batch_size) as u64;
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
    let side = if ctx.resume {
        resumed_sidecar(plan, &layout, model.as_ref())?
    } else {
        if ctx.overwrite {
            layout.clear_run_files().map_err(io_err(run_dir))?;
        }
        fresh_sidecar(plan)?
    };
    let ckpt_dir = layout.checkpoints();
    std::fs::create_dir_all(&ckpt_dir).map_err(io_err(&ckpt_dir))?;
    write_atomically(&layout.config(), plan.resolved_toml.as_bytes())?;
    let last_saved = Instant::now();
    let mut recorder = Recorder::open(&layout, ctx.emit)?;
    recorder.send(TrainEvent::Started {
        run_dir: run_dir.to_path_buf(),
        num_params,
        num_train_clips: train_set.len(),
        num_dev_clips: dev_set.len(),
        steps_per_epoch,
        total_steps,
        resumed_at_step: ctx.resume.then_some(side.step),
    });
    for message in device_notice.into_iter().chain(model_notes) {
        recorder.notice(message);
    }

    let mut run_loop = RunLoop {
        plan,
        model,
        device,
        train_set,
        dev_set,
        schedule,
        ckpt_dir,
        side,
        batch_size,
        steps_per_epoch,
        control: ctx.control,
        faults: ctx.faults,
        recorder,
        last_saved,
        epoch_start: Instant::now(),
        augment_paths,
    };
    match run_loop.train()? {
        // Stopped: `last` is saved and resumable; no final model, no summary.json.
        StopReason::Stopped => Ok(summary(
            run_dir,
            &run_loop.side,
            Vec::new(),
            TestScores::default(),
            StopReason::Stopped,
        )),
        reason => finish(run_loop, run_dir, reason),
    }
}

/// Check that the run folder may be used as asked and lock it (nothing in it changes before the
/// lock is held and the start is known to be wanted).
fn open_run_folder(
    layout: &RunLayout,
    resume: bool,
    overwrite: bool,
) -> Result<crate::inference::layout::RunLock, TrainError> {
    let run_dir = layout.root();
    let (last_weights, last_side) = layout.checkpoint("last");
    if resume && !(last_side.is_file() && last_weights.is_file()) {
        return Err(TrainError::RunFolder {
            path: run_dir.to_path_buf(),
            message: "nothing to resume: no checkpoints/last.safetensors with its last.json \
                      (check the folder name; start a new run without --resume)"
                .into(),
        });
    }
    let lock = layout.lock().map_err(|e| TrainError::RunFolder {
        path: run_dir.to_path_buf(),
        message: e.to_string(),
    })?;
    if !resume && !overwrite && layout.holds_run() {
        return Err(TrainError::RunFolder {
            path: run_dir.to_path_buf(),
            message: "holds a run already: continue it with --resume, replace it with \
                      --overwrite, or choose another run folder"
                .into(),
        });
    }
    Ok(lock)
}

/// The state of a new run: position zero, a fresh optimizer, aligner and dropout RNG.
fn fresh_sidecar(plan: &Plan) -> Result<Sidecar, TrainError> {
    let t = &plan.train;
    Ok(Sidecar {
        epoch: 0,
        batch_in_epoch: 0,
        step: 0,
        optimizer: plan
            .optim
            .config
            .build()
            .map_err(|e| super::config::ConfigError::Invalid {
                key: "optim".into(),
                message: e.to_string(),
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
        epoch_pair_conflicts: BTreeMap::new(),
        epoch_loss_sum: 0.0,
        epoch_loss_count: 0,
        weights_sha256: None,
    })
}

/// What makes each augmented path of `plan` (every path but the clean one), chains prepared:
/// their noise and impulse-response folders read, relative paths against the working directory.
pub fn augment_paths(plan: &Plan) -> Result<Vec<PathAugment>, TrainError> {
    plan.train
        .paths
        .iter()
        .filter(|p| p.source != PathSource::Clean)
        .map(|p| match &p.source {
            PathSource::Clean | PathSource::RawBoost => Ok(PathAugment::RawBoost {
                algo: plan.data.rawboost_algo,
                params: plan.data.rawboost.clone(),
            }),
            PathSource::Chain(spec) => spec
                .prepare(Path::new("."))
                .map(|chain| PathAugment::Chain(std::sync::Arc::new(chain)))
                .map_err(|source| TrainError::PathSetup {
                    path: p.name.clone(),
                    source: Box::new(source),
                }),
        })
        .collect()
}

/// The state of the run in `layout` from `checkpoints/last.*`, its weights loaded into `model`;
/// the outputs of the run's old end removed and its records cut back to the checkpoint's step.
fn resumed_sidecar(
    plan: &Plan,
    layout: &RunLayout,
    model: &dyn Model,
) -> Result<Sidecar, TrainError> {
    let (last_weights, last_side) = layout.checkpoint("last");
    // Weights and sidecar are checked against each other and against the configuration before
    // anything in the folder is touched.
    check_same_model(plan, layout)?;
    let mut side = checkpoint::load_sidecar(&last_side)?;
    checkpoint::load_checkpoint_weights(model, &last_weights, &side)?;
    checkpoint::restore_optimizer(&last_weights, &mut side)?;
    // A resumed run makes its own final model, summary and test results; until then the old ones
    // would describe weights this run is changing.
    let (final_weights, final_side) = layout.checkpoint("final");
    for path in [
        final_weights,
        final_side,
        layout.summary(),
        layout.tests_summary(),
        layout.calibration(),
    ] {
        if path.exists() {
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
    }
    for path in layout.jsonl_files() {
        truncate_jsonl(&path, side.step)?;
    }
    Ok(side)
}

/// The end of a run that was not stopped: the final model (the kept best checkpoints averaged as
/// train.averaging says, the current weights when none), eval scores, test sets, summary.json.
fn finish(
    run_loop: RunLoop<'_, '_>,
    run_dir: &Path,
    reason: StopReason,
) -> Result<RunSummary, TrainError> {
    let RunLoop {
        plan,
        model,
        device,
        ckpt_dir,
        side,
        control,
        mut recorder,
        dev_set,
        ..
    } = run_loop;
    let t = &plan.train;
    // The summary names the epochs that entered the average with a non-zero weight.
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
    recorder.checkpoint(side.epoch, side.step, final_path.clone(), false);
    // Only a calibration that could not be fitted is announced: a notice replaces the one the
    // workbench shows (e.g. the device fallback), and `dpda score` says which calibration it
    // applies anyway.
    if let Err(message) = calibrate_on_dev(
        plan,
        model.as_ref(),
        &dev_set,
        &final_path,
        run_dir,
        &device,
    )? {
        recorder.notice(message);
    }
    let scores = if plan.data.score_eval {
        score_test_splits(plan, model.as_ref(), run_dir, &device)?
    } else {
        TestScores::default()
    };
    if !plan.tests.is_empty() {
        let mut notes = Vec::new();
        test_sets(
            plan,
            model,
            &final_path,
            run_dir,
            &device,
            control,
            &mut notes,
        )?;
        for message in notes {
            recorder.notice(message);
        }
    }
    let s = summary(run_dir, &side, averaged, scores, reason);
    recorder.finished(&s)?;
    Ok(s)
}

/// Fit the score calibration on the final model's dev scores and write `calibration.json`
/// (see [`crate::metrics::calibration`]); returns its summary line, or why the dev scores could
/// not be calibrated (one class only), in which case the run has no calibration.
fn calibrate_on_dev(
    plan: &Plan,
    model: &dyn Model,
    dev_set: &ClipSet,
    final_path: &Path,
    run_dir: &Path,
    device: &Device,
) -> Result<Result<String, String>, TrainError> {
    use crate::metrics::calibration::{CalibratedModel, Calibration, FitSettings};
    let ev = evaluate(
        model,
        dev_set,
        plan.data.num_samples,
        plan.train.eval_batch_size,
        plan.train.class_weights,
        device,
    )?;
    let (bonafide, spoof) = split_scores(dev_set, &ev.scores);
    let layout = RunLayout::new(run_dir);
    let path = layout.calibration();
    let fitted = Calibration::fit(
        &bonafide,
        &spoof,
        &FitSettings::default(),
        format!("dev set of run {}", run_dir.display()),
        Some(CalibratedModel {
            name: plan.model.kind.name().to_string(),
            weights: final_path.display().to_string(),
            num_samples: plan.data.num_samples,
        }),
    );
    match fitted {
        Ok(cal) => {
            cal.write(&path)
                .map_err(|e| TrainError::Metric(e.to_string()))?;
            Ok(Ok(format!(
                "calibration {}: {}; dev CLLR {:.4} → {:.4} bits, actDCF {:.4} → {:.4}",
                path.display(),
                cal.describe(),
                cal.fit_set.cllr_before,
                cal.fit_set.cllr_after,
                cal.fit_set.act_dcf_before,
                cal.fit_set.act_dcf_after
            )))
        }
        Err(e) => Ok(Err(format!(
            "no calibration.json: the dev scores cannot be calibrated ({e})"
        ))),
    }
}

/// What scoring the corpus's own test splits gave.
#[derive(Default)]
struct TestScores {
    eval_eer: Option<f64>,
    eval_scores: Option<PathBuf>,
    /// EER per scored split (`eval`, `wild`).
    eers: BTreeMap<String, f64>,
}

/// Score the eval split into `scores-eval.txt` and, for the demo corpus, its wild split into
/// `scores-wild.txt` (at most `data.max_eval_clips` clips of each).
fn score_test_splits(
    plan: &Plan,
    model: &dyn Model,
    run_dir: &Path,
    device: &Device,
) -> Result<TestScores, TrainError> {
    let layout = RunLayout::new(run_dir);
    let mut scores = TestScores::default();
    let eval_set = load_split(&plan.data, Split::Eval)?;
    if !eval_set.is_empty() {
        let path = layout.scores_eval();
        let eer = score_set(plan, model, &eval_set, &path, device)?;
        if let Some(eer) = eer {
            scores.eers.insert("eval".into(), eer);
        }
        scores.eval_eer = eer;
        scores.eval_scores = Some(path);
    }
    if let CorpusPlan::Demo { size, seed } = &plan.data.corpus {
        let mut wild_set = demo_wild(*size, *seed)?;
        wild_set.truncate(plan.data.max_eval_clips);
        let name = crate::data::demo::WILD_NAME;
        if let Some(eer) = score_set(plan, model, &wild_set, &layout.test_scores(name), device)? {
            scores.eers.insert(name.into(), eer);
        }
    }
    Ok(scores)
}

/// Score `set` with the model into a two-column score file at `path`; its EER when defined.
fn score_set(
    plan: &Plan,
    model: &dyn Model,
    set: &ClipSet,
    path: &Path,
    device: &Device,
) -> Result<Option<f64>, TrainError> {
    let ev = evaluate(
        model,
        set,
        plan.data.num_samples,
        plan.train.eval_batch_size,
        plan.train.class_weights,
        device,
    )?;
    let rows: Vec<ScoreRow> = set
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
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    write_scores(std::io::BufWriter::new(file), ScoreFormat::TwoColumn, &rows)
        .map_err(|e| TrainError::Metric(format!("{}: {e}", path.display())))?;
    let (eer, _) = eer_of(set, &ev.scores);
    Ok(eer.is_finite().then_some(eer))
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
        // Test-set score files hold raw logits, as scores-eval.txt does.
        calibration: None,
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
    crate::atomic_file::write_atomically(path, bytes).map_err(io_err(path))
}

fn summary(
    run_dir: &Path,
    side: &Sidecar,
    averaged_epochs: Vec<u64>,
    scores: TestScores,
    reason: StopReason,
) -> RunSummary {
    RunSummary {
        run_dir: run_dir.to_path_buf(),
        num_steps: side.step,
        num_epochs: side.epoch,
        best_epoch: side.best_epoch,
        best_dev_loss: side.best_dev_loss,
        averaged_epochs,
        eval_eer: scores.eval_eer,
        scores_path: scores.eval_scores,
        test_eers: scores.eers,
        reason,
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
