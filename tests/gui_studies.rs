//! The studies view driven through its UI (egui_kittest, headless): a study folder written by
//! hand (2 conditions × 2 seeds, made-up numbers) opened and shown as a table, a header click
//! sorting it, a run clicked into the train view as an overlay, the folder reopened after a
//! relaunch, and a tiny study started and run to its end from the view.
#![cfg(feature = "gui")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dpda::gui::studies::{RunnerStatus, SortKey};
use dpda::gui::{Tab, Workbench};
use dpda::study::results::{comparisons, condition_results};
use dpda::study::{RunResult, RunStatus, StudyResults};
use egui::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

fn run(condition: &str, seed: u64, eer: f64) -> RunResult {
    RunResult {
        seed,
        run_dir: PathBuf::from(format!("runs/{condition}/seed-{seed}")),
        status: RunStatus::Finished,
        eer: BTreeMap::from([("eval".to_string(), eer)]),
        scores: BTreeMap::new(),
        attack_eer: BTreeMap::new(),
        condition_eer: BTreeMap::new(),
        best_epoch: Some(1),
        epochs_to_best: Some(2),
        epochs: Some(3),
        conflict_frac: (condition != "plain").then_some(0.25 + 0.01 * seed as f64),
        wall_time_s: Some(5.0),
        errors: Vec::new(),
        dev_eer_by_epoch: vec![0.4, 0.3, 0.2 + 0.01 * seed as f64],
        conflict_frac_by_epoch: if condition == "plain" {
            vec![None; 3]
        } else {
            vec![Some(0.3), Some(0.25), Some(0.2)]
        },
        pair_conflict_frac: BTreeMap::new(),
    }
}

/// `plain` (the baseline: EER 10 % and 12 %) and `dual` (6 % and 7 %), seeds 1 and 2.
fn made_up_results() -> StudyResults {
    let conditions = vec![
        condition_results(
            "plain",
            &[],
            vec![run("plain", 1, 0.10), run("plain", 2, 0.12)],
        ),
        condition_results(
            "dual",
            &["train.mode=\"dual\"".to_string()],
            vec![run("dual", 1, 0.06), run("dual", 2, 0.07)],
        ),
    ];
    StudyResults {
        name: "made-up".into(),
        study_file: PathBuf::from("made-up.toml"),
        base_config: PathBuf::from("base.toml"),
        seeds: vec![1, 2],
        baseline: "plain".into(),
        overrides: Vec::new(),
        test_sets: BTreeMap::from([("eval".to_string(), None)]),
        comparisons: comparisons(&conditions, "plain"),
        conditions,
        notes: Vec::new(),
        methods: String::new(),
    }
}

/// A study folder with `study.json` and, for `plain` seed 1, a run folder with three
/// iterations and three epochs (what an overlay reads).
fn study_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let json = serde_json::to_string_pretty(&made_up_results()).unwrap();
    std::fs::write(dir.path().join("study.json"), json).unwrap();
    let run_dir = dir.path().join("runs/plain/seed-1");
    std::fs::create_dir_all(&run_dir).unwrap();
    let mut metrics = String::new();
    let mut epochs = String::new();
    for step in 1..=3u64 {
        let m = serde_json::json!({
            "step": step, "epoch": step - 1, "loss_orig": 0.7 / step as f64, "loss_aug": null,
            "grad_norm_orig": 1.0, "grad_norm_aug": null, "grad_cos": null, "conflict": null,
            "conflict_frac": null, "lr": 0.001, "step_time_ms": 3.0
        });
        metrics.push_str(&format!("{m}\n"));
        let e = serde_json::json!({
            "epoch": step - 1, "step": step, "train_loss": 0.6, "dev_loss": 0.5,
            "dev_eer": 0.4 - 0.1 * step as f64, "dev_eer_threshold": 0.0, "conflict_frac": null,
            "m_sharpness": null, "is_best": true, "epoch_time_s": 1.0
        });
        epochs.push_str(&format!("{e}\n"));
    }
    std::fs::write(run_dir.join("metrics.jsonl"), metrics).unwrap();
    std::fs::write(run_dir.join("epochs.jsonl"), epochs).unwrap();
    dir
}

/// A workbench on the studies tab with an empty runs folder (the train view's scan is quick).
fn workbench(runs_dir: &Path) -> Workbench {
    let mut wb = Workbench::new(None);
    wb.shared.runs_dir = runs_dir.to_path_buf();
    wb.tab = Tab::Studies;
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

fn condition_names_in_table_order(wb: &Workbench) -> Vec<String> {
    let results = wb.studies.results.as_ref().unwrap();
    wb.studies
        .table_order()
        .into_iter()
        .map(|i| results.conditions[i].name.clone())
        .collect()
}

#[test]
fn a_study_folder_shows_its_table_sorts_and_overlays_a_run_in_the_train_view() {
    assert_eq!(Tab::from_name("studies"), Some(Tab::Studies));
    let study = study_folder();
    let runs = tempfile::tempdir().unwrap();
    let mut wb = workbench(runs.path());
    let mut shared = wb.shared.clone();
    // As if the folder had been dropped on the view.
    wb.studies
        .open_file(study.path().to_path_buf(), &mut shared);
    let mut h = harness(wb);
    step_until(&mut h, Duration::from_secs(10), "study.json", |wb| {
        wb.studies.results.is_some()
    });
    h.run();
    // Conditions and their numbers: EER mean ± sd in percent, the difference from the baseline.
    // (Condition names also label the curve plots' legends.)
    assert!(h.query_all_by_label("plain").next().is_some());
    assert!(h.query_all_by_label("dual").next().is_some());
    assert!(h.query_by_label("11.00 ± 1.41").is_some());
    assert!(h.query_by_label("6.50 ± 0.71").is_some());
    assert!(h.query_by_label_contains("-4.50 [").is_some());
    assert!(h.query_by_label("baseline").is_some());
    assert_eq!(condition_names_in_table_order(h.state()), ["plain", "dual"]);

    // Sort by the EER: lowest first; again: reversed.
    h.get_by_role_and_label(Role::Button, "eval EER %").click();
    h.run();
    assert_eq!(
        h.state().studies.sort.as_ref().map(|s| s.key.clone()),
        Some(SortKey::Eer("eval".into()))
    );
    assert_eq!(condition_names_in_table_order(h.state()), ["dual", "plain"]);
    h.get_by_role_and_label(Role::Button, "eval EER % ⬆")
        .click();
    h.run();
    assert_eq!(condition_names_in_table_order(h.state()), ["plain", "dual"]);
    assert!(h.query_by_label("eval EER % ⬇").is_some());

    // The first "seed 1" is plain's: it opens in the train view as an overlay.
    let run_dir = study.path().join("runs/plain/seed-1");
    h.get_all_by_role_and_label(Role::Button, "seed 1")
        .next()
        .unwrap()
        .click();
    // Not `run()`: the overlay loads on a background task whose wake-ups may keep the UI
    // repainting for a few frames; `step_until` below waits for it.
    h.run_steps(2);
    assert_eq!(h.state().tab, Tab::Train);
    step_until(&mut h, Duration::from_secs(10), "the overlay", |wb| {
        wb.train
            .runs
            .iter()
            .any(|r| r.dir == run_dir && r.selected && r.curves.is_some())
    });
    let overlay = h
        .state()
        .train
        .runs
        .iter()
        .find(|r| r.dir == run_dir)
        .unwrap();
    assert_eq!(overlay.name, "plain/seed-1");
    assert_eq!(overlay.curves.as_ref().unwrap().loss_orig.len(), 3);
    assert_eq!(overlay.curves.as_ref().unwrap().dev_eer.len(), 3);
    // It is listed (and checked) with the train view's runs, and survives a rescan.
    h.run();
    assert!(h.query_by_label("plain/seed-1").is_some());
    h.get_by_role_and_label(Role::Button, "Refresh").click();
    step_until(&mut h, Duration::from_secs(10), "the rescan", |wb| {
        wb.train.runs.iter().any(|r| r.dir == run_dir)
    });
    h.run();
    assert!(h.state().train.runs.iter().any(|r| r.dir == run_dir));
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
fn the_last_study_folder_is_opened_again_after_a_relaunch() {
    let study = study_folder();
    let runs = tempfile::tempdir().unwrap();
    let mut wb = workbench(runs.path());
    wb.studies.folder_text = study.path().display().to_string();
    let mut h = harness(wb);
    h.run();
    h.get_by_role_and_label(Role::Button, "Open").click();
    step_until(&mut h, Duration::from_secs(10), "study.json", |wb| {
        wb.studies.results.is_some()
    });
    let mut store = MemoryStore::default();
    h.state().save_to(&mut store);
    let again = Workbench::new(Some(&store));
    assert_eq!(again.tab, Tab::Studies);
    let mut h = harness(again);
    step_until(&mut h, Duration::from_secs(10), "study.json again", |wb| {
        wb.studies.results.is_some()
    });
    assert_eq!(h.state().studies.folder.as_deref(), Some(study.path()));
    // study.json's numbers come back (to JSON's precision).
    let got = h.state().studies.results.clone().unwrap();
    let want = made_up_results();
    assert_eq!(got.name, want.name);
    assert_eq!(got.conditions.len(), want.conditions.len());
    for (g, w) in got.conditions.iter().zip(&want.conditions) {
        assert_eq!(g.name, w.name);
        assert_eq!(g.runs.len(), w.runs.len());
        assert!((g.eer["eval"].mean - w.eer["eval"].mean).abs() < 1e-12);
    }
}

#[test]
fn a_folder_without_study_json_says_why() {
    let empty = tempfile::tempdir().unwrap();
    let runs = tempfile::tempdir().unwrap();
    let mut wb = workbench(runs.path());
    wb.studies.folder_text = empty.path().display().to_string();
    let mut h = harness(wb);
    h.run();
    h.get_by_role_and_label(Role::Button, "Open").click();
    step_until(&mut h, Duration::from_secs(10), "the answer", |wb| {
        !wb.studies.is_loading() && wb.studies.notice.is_some()
    });
    h.run();
    assert!(h.query_by_label_contains("no study.json in").is_some());
    assert!(h.state().studies.results.is_none());
}

#[test]
fn a_study_file_started_from_the_view_runs_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), common::TINY_DEMO_CONFIG).unwrap();
    let study_file = dir.path().join("gui-study.toml");
    std::fs::write(
        &study_file,
        r#"base = "tiny.toml"
seeds = [1]
[set]
"train.max_steps" = 3
"data.demo_size" = "tiny"
[[condition]]
name = "plain"
set = { "train.mode" = "plain", "train.align" = "none" }
[[condition]]
name = "dual"
set = { "train.mode" = "dual", "train.align" = "pcgrad" }
"#,
    )
    .unwrap();
    let runs = tempfile::tempdir().unwrap();
    let mut wb = workbench(runs.path());
    wb.studies.dpda_exe = Some(PathBuf::from(env!("CARGO_BIN_EXE_dpda")));
    wb.studies.study_file_text = study_file.display().to_string();
    let mut h = harness(wb);
    h.run();
    h.get_by_role_and_label(Role::Button, "▶ Start").click();
    // (A spinner turns while the study runs: step frames instead of running to a still frame.)
    h.step();
    step_until(&mut h, Duration::from_secs(120), "the study's end", |wb| {
        !wb.studies.is_running()
    });
    h.run();
    let view = &h.state().studies;
    assert_eq!(view.status, RunnerStatus::Finished { failed: 0 });
    let out_dir = dir.path().join("gui-study");
    assert_eq!(view.folder.as_deref(), Some(out_dir.as_path()));
    assert!(out_dir.join("study.json").is_file());
    let results = view.results.as_ref().unwrap();
    assert_eq!(results.conditions.len(), 2);
    for c in &results.conditions {
        assert_eq!(c.runs[0].status, RunStatus::Finished, "{}", c.name);
        assert!(c.runs[0].eer.contains_key("eval"), "{}", c.name);
    }
    assert!(h.query_by_label("Study finished.").is_some());
}
