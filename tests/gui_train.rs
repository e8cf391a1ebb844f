//! The train view driven through its UI (egui_kittest, headless, no GPU or display): a short
//! run on the tiny demo corpus started and stopped by clicking, plots receiving points, an
//! invalid field blocking Start, a failing run showing its error, overlays of previous runs and
//! settings surviving a relaunch.
#![cfg(feature = "gui")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use dpda::gui::form::{CorpusChoice, ExperimentForm};
use dpda::gui::train::RunStatus;
use dpda::gui::{Tab, Workbench};
use dpda::train::config::RawPath;
use egui::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;

/// A workbench whose form trains the tiny test model on the tiny demo corpus (a step takes
/// milliseconds), with runs under `runs_dir`.
fn tiny_workbench(runs_dir: &Path) -> Workbench {
    let mut wb = Workbench::new(None);
    wb.shared.runs_dir = runs_dir.to_path_buf();
    wb.train.form = ExperimentForm {
        seed: "7".into(),
        ..ExperimentForm::tiny_demo()
    };
    wb
}

fn harness(wb: Workbench) -> Harness<'static, Workbench> {
    Harness::builder()
        .with_size([1500.0, 1000.0])
        .build_ui_state(|ui, wb: &mut Workbench| wb.frame(ui), wb)
}

/// Steps frames until `done` holds; panics with `what` after `limit`.
fn step_until(
    h: &mut Harness<'_, Workbench>,
    limit: Duration,
    what: &str,
    done: impl Fn(&Workbench) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn start_button_enabled(h: &Harness<'_, Workbench>) -> bool {
    !h.get_by_role_and_label(Role::Button, "▶ Start")
        .accesskit_node()
        .is_disabled()
}

#[test]
fn start_shows_live_points_and_stop_ends_the_run() {
    let runs = tempfile::tempdir().unwrap();
    let mut h = harness(tiny_workbench(runs.path()));
    h.run();
    assert!(start_button_enabled(&h));
    h.get_by_role_and_label(Role::Button, "▶ Start").click();
    step_until(&mut h, Duration::from_secs(60), "five iterations", |wb| {
        wb.train.live.loss_combined.len() >= 5 && wb.train.live.layers.num_records() >= 2
    });
    {
        let wb = h.state();
        assert!(wb.train.is_running());
        let live = &wb.train.live;
        assert_eq!(live.loss_orig.len(), live.loss_aug.len());
        assert_eq!(live.grad_cos.len(), live.loss_combined.len());
        assert!(live.grad_cos.ys().iter().all(|c| c.abs() <= 1.0 + 1e-9));
        assert!(wb.train.progress.total_steps > 0);
        assert!(wb.train.progress.step >= 5);
        // The current run is shared with the other views and so is the corpus.
        let run_dir = wb.shared.current_run.clone().unwrap();
        assert!(run_dir.starts_with(runs.path()));
        assert!(wb.shared.data.is_some());
    }
    h.get_by_role_and_label(Role::Button, "⏹ Stop").click();
    step_until(&mut h, Duration::from_secs(60), "the run to stop", |wb| {
        wb.train.status == RunStatus::Stopped && !wb.train.is_running()
    });
    let run_dir = h.state().shared.current_run.clone().unwrap();
    assert!(run_dir.join("checkpoints/last.safetensors").is_file());
    assert!(h.query_by_label_contains("Stopped").is_some());
    // The stopped run is listed as a previous run; selecting it overlays its curves, read back
    // from its metrics file (the same number of iterations the live plots received).
    let live_steps = h.state().train.live.loss_combined.len();
    // The run folders are listed in the background once the run has ended.
    step_until(&mut h, Duration::from_secs(10), "the run list", |wb| {
        wb.train.runs.iter().any(|r| r.dir == run_dir)
    });
    let index = h
        .state()
        .train
        .runs
        .iter()
        .position(|r| r.dir == run_dir)
        .expect("the stopped run is listed");
    let name = h.state().train.runs[index].name.clone();
    h.get_by_role_and_label(Role::CheckBox, &name).click();
    step_until(&mut h, Duration::from_secs(30), "the overlay", |wb| {
        wb.train.runs[index].curves.is_some()
    });
    let overlay = h.state().train.runs[index].curves.as_ref().unwrap();
    assert_eq!(overlay.loss_combined.len(), live_steps);
    // JSON text keeps 17 significant digits; serde_json's reading may differ in the last bit.
    let live = h.state().train.live.grad_cos.ys();
    assert_eq!(overlay.grad_cos.len(), live.len());
    for (a, b) in overlay.grad_cos.ys().iter().zip(live) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn a_three_path_run_shows_the_pairwise_cosine_matrix() {
    let runs = tempfile::tempdir().unwrap();
    let mut wb = tiny_workbench(runs.path());
    wb.train.form.base.train.paths = ["clean", "rawboost", "rawboost-2"]
        .map(|name| RawPath {
            name: name.into(),
            chain: None,
            stages: Vec::new(),
        })
        .to_vec();
    let mut h = harness(wb);
    h.run();
    // The controls name the run's paths.
    h.get_by_label("Paths: clean, rawboost, rawboost-2");
    h.get_by_role_and_label(Role::Button, "▶ Start").click();
    step_until(&mut h, Duration::from_secs(60), "three iterations", |wb| {
        wb.train.live.pairs.pairs.values().all(|t| t.steps >= 3)
            && wb.train.live.pairs.pairs.len() == 3
    });
    {
        let pairs = &h.state().train.live.pairs;
        assert_eq!(pairs.paths, ["clean", "rawboost", "rawboost-2"]);
        for t in pairs.pairs.values() {
            assert!(t.latest.abs() <= 1.0 + 1e-9);
            assert!((0.0..=1.0).contains(&t.run_conflict_frac()));
        }
    }
    h.run_steps(2);
    // The per-pair table lists every pair.
    for pair in [
        "clean | rawboost",
        "clean | rawboost-2",
        "rawboost | rawboost-2",
    ] {
        h.get_by_label(pair);
    }
    if h.state().train.is_running() {
        h.get_by_role_and_label(Role::Button, "⏹ Stop").click();
    }
    step_until(&mut h, Duration::from_secs(60), "the run to stop", |wb| {
        !wb.train.is_running()
    });
}

#[test]
fn an_invalid_field_blocks_start_and_says_why() {
    let runs = tempfile::tempdir().unwrap();
    let mut h = harness(tiny_workbench(runs.path()));
    h.state_mut().train.form.lr = "-1".into();
    h.state_mut().train.form.batch_size = "zero".into();
    h.run();
    assert!(!start_button_enabled(&h));
    assert!(h
        .query_by_label_contains("must be a finite number > 0, got -1")
        .is_some());
    assert!(h.query_by_label_contains("'zero' is not").is_some());
    assert!(h.query_by_label_contains("Fix the marked fields").is_some());
    h.get_by_role_and_label(Role::Button, "▶ Start").click();
    h.run();
    assert_eq!(h.state().train.status, RunStatus::Idle);
    assert!(h.state().shared.current_run.is_none());
    // Fixing the fields allows starting again.
    h.state_mut().train.form.lr = "0.01".into();
    h.state_mut().train.form.batch_size = "4".into();
    h.run();
    assert!(start_button_enabled(&h));
    assert!(h.query_by_label_contains("Fix the marked fields").is_none());
}

#[test]
fn a_failing_run_shows_its_error_and_the_app_stays_usable() {
    let runs = tempfile::tempdir().unwrap();
    let missing = runs.path().join("no-such-dataset");
    let mut wb = tiny_workbench(runs.path());
    wb.train.form.corpus = CorpusChoice::Asvspoof2019La;
    wb.train.form.dataset_root = missing.display().to_string();
    let mut h = harness(wb);
    h.run();
    h.get_by_role_and_label(Role::Button, "▶ Start").click();
    step_until(&mut h, Duration::from_secs(30), "the run to fail", |wb| {
        matches!(wb.train.status, RunStatus::Failed(_)) && !wb.train.is_running()
    });
    let RunStatus::Failed(message) = h.state().train.status.clone() else {
        unreachable!()
    };
    assert!(message.contains("no-such-dataset"), "{message}");
    h.run();
    assert!(h.query_by_label_contains("Run failed:").is_some());
    assert!(start_button_enabled(&h));
}

/// eframe's store, in memory.
#[derive(Default)]
struct MemoryStore(HashMap<String, String>);

impl eframe::Storage for MemoryStore {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

#[test]
fn settings_survive_a_relaunch() {
    let runs = tempfile::tempdir().unwrap();
    let mut wb = tiny_workbench(runs.path());
    wb.tab = Tab::Detect;
    wb.train.form.align = "cagrad".into();
    wb.train.form.sam_enabled = true;
    wb.train.form.sam_rho = "0.1".into();
    let mut store = MemoryStore::default();
    wb.save_to(&mut store);
    let again = Workbench::new(Some(&store));
    assert_eq!(again.tab, Tab::Detect);
    assert_eq!(again.shared.runs_dir, runs.path());
    assert_eq!(again.train.form, wb.train.form);
    // Without a store: the demo experiment, ready to start.
    let fresh = Workbench::new(None);
    assert_eq!(fresh.tab, Tab::Train);
    assert_eq!(fresh.train.form.corpus, CorpusChoice::Demo);
    assert!(fresh.train.check.plan.is_some());
}

#[test]
fn auto_device_without_a_gpu_trains_on_the_cpu_and_says_so() {
    let runs = tempfile::tempdir().unwrap();
    let mut wb = tiny_workbench(runs.path());
    wb.train.form.device = "auto".into();
    wb.train.form.max_steps = "3".into();
    let mut h = harness(wb);
    h.run();
    h.get_by_role_and_label(Role::Button, "▶ Start").click();
    step_until(&mut h, Duration::from_secs(60), "the run to end", |wb| {
        !wb.train.is_running() && wb.train.live.loss_combined.len() >= 3
    });
    let wb = h.state();
    // Built without CUDA (as CI is) the notice must appear; with a usable GPU there is none.
    if !candle_core::utils::cuda_is_available() {
        let notice = wb.train.notice.as_ref().expect("a CPU fallback notice");
        assert!(
            notice.text.contains("training on the CPU"),
            "{}",
            notice.text
        );
        assert!(!notice.is_error);
    }
    assert!(matches!(wb.train.status, RunStatus::Finished(_)));
}

/// A run that crashed (or was killed) before its end is listed with "⟳ Continue"; clicking it
/// resumes from the last checkpoint with the run's own configuration and ends the run.
#[test]
fn a_crashed_run_is_listed_and_continued_from_its_last_checkpoint() {
    let runs = tempfile::tempdir().unwrap();
    let crashed = runs.path().join("crashed");
    let form = ExperimentForm {
        seed: "7".into(),
        ..ExperimentForm::tiny_demo()
    };
    let plan = dpda::train::plan_from_str(
        &form.to_toml().unwrap(),
        "form",
        // Three epochs, not the preset's thousand: the continued run must end within the wait
        // below even on a loaded machine.
        &["train.checkpoint_every_steps=1", "train.epochs=3"].map(String::from),
    )
    .unwrap();
    let faults = dpda::train::FaultHooks {
        panic_at_step: Some(3),
        ..Default::default()
    };
    let mut handle = dpda::train::spawn_with_faults(
        plan,
        crashed.clone(),
        dpda::train::SpawnOptions::default(),
        faults,
    )
    .unwrap();
    assert!(handle.join().is_none(), "the injected crash ends the run");
    assert!(!crashed.join("summary.json").exists());

    let mut h = harness(tiny_workbench(runs.path()));
    h.run();
    h.get_by_role_and_label(Role::Button, "Refresh").click();
    step_until(&mut h, Duration::from_secs(10), "the run list", |wb| {
        wb.train.runs.iter().any(|r| r.resumable)
    });
    h.run();
    h.get_by_role_and_label(Role::Button, "⟳ Continue").click();
    step_until(
        &mut h,
        Duration::from_secs(60),
        "the continued run to end",
        |wb| matches!(wb.train.status, RunStatus::Finished(_)),
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(crashed.join("summary.json")).unwrap())
            .unwrap();
    assert_ne!(summary["reason"], "stopped");
    // It continued the same folder from step 2 rather than starting over.
    let steps: Vec<u64> = std::fs::read_to_string(crashed.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, (1..=steps.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        h.state().shared.current_run.as_deref(),
        Some(crashed.as_path())
    );
}
