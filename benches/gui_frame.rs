//! Frame time of the workbench (CPU: egui pass plus tessellation, no GPU) with the train view
//! showing runs of one million iterations, fed through the same event path the live view uses,
//! while a real short training runs on the worker thread, and while a training and a sweep
//! (scoring a corpus under many conditions) run at once on their workers.
//!
//! `cargo bench --bench gui_frame`; prints per-frame figures (goal: ≤ 16 ms).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant};

use dpda::gui::form::ExperimentForm;
use dpda::gui::sweep::SweepCommand;
use dpda::gui::Workbench;
use dpda::train::{EpochMetrics, LayerCos, StepMetrics, TrainEvent};

const NUM_STEPS: u64 = 1_000_000;
const LAYER_EVERY: u64 = 10;
const NUM_LAYERS: usize = 30;
const STEPS_PER_EPOCH: u64 = 10_000;

fn input() -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 1000.0),
        )),
        ..Default::default()
    }
}

/// One frame: the egui pass and tessellation, as eframe does before handing meshes to the GPU.
fn frame(ctx: &egui::Context, wb: &mut Workbench) -> Duration {
    let started = Instant::now();
    let out = ctx.run_ui(input(), |ui| wb.frame(ui));
    let meshes = ctx.tessellate(out.shapes, out.pixels_per_point);
    std::hint::black_box(meshes);
    started.elapsed()
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len() as f64;
    let pick = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    println!(
        "{what}: {} frames, mean {mean:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        times.len(),
        pick(0.5),
        pick(0.95),
        pick(1.0)
    );
}

fn synthetic_events(wb: &mut Workbench) -> Duration {
    let names: Vec<String> = (0..NUM_LAYERS)
        .map(|i| format!("block{i}.conv.weight"))
        .collect();
    let started = Instant::now();
    wb.train.apply_event(TrainEvent::Started {
        run_dir: "runs/synthetic".into(),
        num_params: 157_698,
        num_train_clips: 50_000,
        num_dev_clips: 5_000,
        steps_per_epoch: STEPS_PER_EPOCH,
        total_steps: NUM_STEPS,
        resumed_at_step: None,
    });
    let mut rng = dpda::rng::Rng::new(1);
    for step in 1..=NUM_STEPS {
        let t = step as f64 / NUM_STEPS as f64;
        let cos = 0.3 * (step as f64 * 1e-3).sin() + 0.4 * rng.normal();
        let epoch = (step - 1) / STEPS_PER_EPOCH;
        wb.train.apply_event(TrainEvent::Step(StepMetrics {
            step,
            epoch,
            loss_orig: Some(0.7 * (-3.0 * t).exp() + 0.05 * rng.uniform01()),
            loss_aug: Some(0.8 * (-2.5 * t).exp() + 0.05 * rng.uniform01()),
            grad_norm_orig: Some(1.0 + 0.2 * rng.normal().abs()),
            grad_norm_aug: Some(1.3 + 0.2 * rng.normal().abs()),
            grad_cos: Some(cos),
            conflict: Some(cos < 0.0),
            conflict_frac: Some(0.3),
            lr: 1e-3,
            step_time_ms: 10.0,
            path_loss: None,
            path_grad_norm: None,
            // A three-path run, so the frame includes the pairwise cosine matrix.
            pair_cos: Some(
                [
                    ("clean|rawboost", cos),
                    ("clean|noise", cos + 0.1),
                    ("rawboost|noise", 0.5),
                ]
                .into_iter()
                .map(|(k, c)| (k.to_string(), c))
                .collect(),
            ),
            pair_conflict: Some(
                [
                    ("clean|rawboost", cos < 0.0),
                    ("clean|noise", cos + 0.1 < 0.0),
                    ("rawboost|noise", false),
                ]
                .into_iter()
                .map(|(k, c)| (k.to_string(), c))
                .collect(),
            ),
        }));
        if step % LAYER_EVERY == 0 {
            wb.train.apply_event(TrainEvent::LayerCos(LayerCos {
                step,
                names: names.clone(),
                cos: (0..NUM_LAYERS)
                    .map(|_| Some(rng.uniform(-1.0, 1.0)))
                    .collect(),
            }));
        }
        if step % STEPS_PER_EPOCH == 0 {
            wb.train.apply_event(TrainEvent::Epoch(EpochMetrics {
                epoch,
                step,
                train_loss: 0.5 * (-3.0 * t).exp(),
                dev_loss: 0.6 * (-2.0 * t).exp(),
                dev_eer: 0.2 * (-2.0 * t).exp(),
                dev_eer_threshold: 0.0,
                conflict_frac: Some(0.3),
                pair_conflict_frac: None,
                m_sharpness: None,
                is_best: true,
                epoch_time_s: 60.0,
            }));
        }
    }
    started.elapsed()
}

fn main() {
    let ctx = egui::Context::default();
    let runs = std::env::temp_dir().join(format!("dpda-gui-bench-{}", std::process::id()));

    let mut wb = Workbench::new(None);
    wb.shared.runs_dir = runs.clone();
    let fed = synthetic_events(&mut wb);
    let events = NUM_STEPS + NUM_STEPS / LAYER_EVERY + NUM_STEPS / STEPS_PER_EPOCH;
    println!(
        "fed {events} synthetic events ({NUM_STEPS} iterations, {NUM_LAYERS} layers every \
         {LAYER_EVERY}) in {:.2} s ({:.2} M events/s)",
        fed.as_secs_f64(),
        events as f64 / fed.as_secs_f64() / 1e6
    );
    // The first frames build fonts, the heatmap texture and plot memory.
    for _ in 0..5 {
        frame(&ctx, &mut wb);
    }
    let times: Vec<Duration> = (0..100).map(|_| frame(&ctx, &mut wb)).collect();
    report("1M iterations per series, whole range", times);

    // A real short run on the worker: the tiny model on the tiny demo corpus.
    let ctx = egui::Context::default();
    let mut wb = Workbench::new(None);
    wb.shared.runs_dir = runs.clone();
    wb.train.form = ExperimentForm::tiny_demo();
    wb.train.autostart = true;
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut times = Vec::new();
    while Instant::now() < deadline {
        times.push(frame(&ctx, &mut wb));
        // About 60 frames per second, as the window would ask for.
        std::thread::sleep(Duration::from_millis(16));
    }
    let steps = wb.train.live.loss_combined.len();
    report(
        &format!("while training on the worker ({steps} iterations arrived)"),
        times,
    );
    drop(wb);

    // A training and a sweep at once: both workers busy while the window draws.
    let (sweep_fields, sweep_tmp) = sweep_inputs();
    let ctx = egui::Context::default();
    let mut wb = Workbench::new(None);
    wb.shared.runs_dir = runs.clone();
    wb.train.form = ExperimentForm::tiny_demo();
    wb.train.autostart = true;
    wb.sweep.checkpoint_a = sweep_fields[0].clone();
    wb.sweep.folder = sweep_fields[1].clone();
    wb.sweep.key = sweep_fields[2].clone();
    wb.sweep.grid = sweep_fields[3].clone();
    let deadline = Instant::now() + Duration::from_secs(8);
    let (mut times, mut frames_with_sweep, mut sweeps) = (Vec::new(), 0, 0);
    while Instant::now() < deadline {
        // One sweep of the tiny corpus takes well under a second: start the next as each ends.
        if !wb.sweep.is_running() {
            wb.sweep.apply(SweepCommand::Start, &ctx);
            sweeps += 1;
        }
        frames_with_sweep += usize::from(wb.sweep.is_running());
        times.push(frame(&ctx, &mut wb));
        std::thread::sleep(Duration::from_millis(16));
    }
    let steps = wb.train.live.loss_combined.len();
    report(
        &format!(
            "while training ({steps} iterations arrived) and sweeping ({sweeps} sweeps started, \
             {frames_with_sweep} frames with one running)"
        ),
        times,
    );
    assert!(
        frames_with_sweep > 0,
        "the sweep never ran: {:?}",
        wb.sweep.status
    );
    drop(wb);
    drop(sweep_tmp);
    let _ = std::fs::remove_dir_all(&runs);
}

/// A sweep's four fields (checkpoint, clips, key, grid) over the tiny exported corpus, with a
/// two-step run of the tiny model as the checkpoint and a grid of 13 conditions, made with the
/// `dpda` binary; the folder holding them lives as long as the returned guard.
fn sweep_inputs() -> ([String; 4], tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let dpda = || std::process::Command::new(env!("CARGO_BIN_EXE_dpda"));
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(dpda()
        .args(["corpus", "export"])
        .arg(dir.path().join("corpus"))
        .args(["--size", "tiny", "--quiet"])
        .output()
        .unwrap());
    let config = dir.path().join("tiny.toml");
    std::fs::write(
        &config,
        "[data]\ncorpus = \"demo\"\ndemo_size = \"tiny\"\nnum_samples = 1600\n[model]\n\
         name = \"tiny\"\n[train]\nbatch_size = 4\nepochs = 1\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    ok(dpda()
        .arg("train")
        .arg(&config)
        .args([
            "--quiet",
            "--max-steps",
            "2",
            "--set",
            "device.kind=cpu",
            "--run-dir",
        ])
        .arg(&run)
        .output()
        .unwrap());
    let grid = dir.path().join("grid.toml");
    std::fs::write(
        &grid,
        "[level]\ngain_db = [-20, -10, -5, 5]\n[noise]\nkinds = [\"white\", \"babble\"]\n\
         snr_db = [0, 10, 20]\n[codec]\nkinds = [\"ulaw\", \"alaw\"]\n",
    )
    .unwrap();
    let wild = dir.path().join("corpus/wild");
    let fields = [
        run.display().to_string(),
        wild.join("flac").display().to_string(),
        wild.join("key.csv").display().to_string(),
        grid.display().to_string(),
    ];
    (fields, dir)
}
