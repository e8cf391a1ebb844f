//! The sweep view driven through its UI (egui_kittest, headless): a finished result shown as a
//! heatmap with its difference column, an empty field refused by name, the fields kept across a
//! relaunch, and a sweep of a tiny run over the tiny corpus started from the view.
#![cfg(feature = "gui")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{dpda, success_stdout, TINY_DEMO_CONFIG};
use dpda::gui::sweep::SweepStatus;
use dpda::gui::{Tab, Workbench};
use dpda::sweep::{SweepCheckpoint, SweepCondition, SweepGrid, SweepResult};
use egui::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

fn workbench() -> Workbench {
    let mut wb = Workbench::new(None);
    wb.tab = Tab::Sweep;
    wb
}

fn harness(wb: Workbench) -> Harness<'static, Workbench> {
    Harness::builder()
        .with_size([1200.0, 900.0])
        .build_ui_state(|ui, wb: &mut Workbench| wb.frame(ui), wb)
}

/// Two checkpoints over three conditions, made-up EERs.
fn made_up_result() -> SweepResult {
    let grid = SweepGrid::from_toml(
        "[noise]\nkinds = [\"babble\"]\nsnr_db = [5]\n[codec]\nkinds = [\"ulaw\"]\n",
        std::path::Path::new("grid.toml"),
    )
    .unwrap();
    let checkpoint = |label: &str| SweepCheckpoint {
        label: label.to_string(),
        path: PathBuf::from(label),
        model: "model tiny".to_string(),
    };
    SweepResult {
        checkpoints: vec![checkpoint("baseline"), checkpoint("dpda")],
        conditions: grid.conditions.clone(),
        condition_names: grid.names(),
        eer: vec![
            vec![Some(0.125), Some(0.10)],
            vec![Some(0.30), Some(0.35)],
            vec![Some(0.20), None],
        ],
        num_bonafide: 8,
        num_spoof: 12,
        num_key_without_audio: 0,
        num_audio_without_key: 0,
        failures: Vec::new(),
        cancelled: false,
    }
}

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
fn a_result_is_shown_as_a_heatmap_with_the_difference() {
    let mut wb = workbench();
    wb.sweep.result = Some(made_up_result());
    let mut h = harness(wb);
    h.run();
    assert_eq!(
        made_up_result().conditions[0],
        SweepCondition::Clean,
        "the grid starts clean"
    );
    for label in [
        "clean",
        "noise-babble-5db",
        "codec-ulaw",
        "[1] EER %",
        "[2] EER %",
        "[2] − [1] pp",
        "12.50",
        "10.00",
        "-2.50",
        "30.00",
        "35.00",
        "+5.00",
        "20.00",
    ] {
        assert!(h.query_by_label(label).is_some(), "no label {label}");
    }
    assert!(h.query_by_label_contains("[2] dpda").is_some());
    assert!(h
        .query_by_label_contains("8 bona fide and 12 spoofed")
        .is_some());
    // Start with the first checkpoint empty: refused, naming the field.
    h.get_by_role_and_label(Role::Button, "▶ Start").click();
    h.run();
    assert!(h.query_by_label("Checkpoint 1 is empty").is_some());
}

#[test]
fn the_fields_are_kept_across_a_relaunch() {
    let mut wb = workbench();
    wb.sweep.checkpoint_a = "runs/a".into();
    wb.sweep.checkpoint_b = "runs/b".into();
    wb.sweep.folder = "clips".into();
    wb.sweep.key = "clips/key.csv".into();
    wb.sweep.grid = "grid.toml".into();
    let mut store = MemoryStore::default();
    wb.save_to(&mut store);
    let again = Workbench::new(Some(&store));
    assert_eq!(again.tab, Tab::Sweep);
    assert_eq!(
        [
            again.sweep.checkpoint_a.as_str(),
            again.sweep.checkpoint_b.as_str(),
            again.sweep.folder.as_str(),
            again.sweep.key.as_str(),
            again.sweep.grid.as_str()
        ],
        ["runs/a", "runs/b", "clips", "clips/key.csv", "grid.toml"]
    );
}

#[test]
fn a_sweep_of_a_tiny_run_runs_from_the_view() {
    let dir = tempfile::tempdir().unwrap();
    success_stdout(
        dpda()
            .args(["corpus", "export"])
            .arg(dir.path().join("corpus"))
            .args(["--size", "tiny", "--quiet"])
            .output()
            .unwrap(),
    );
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, TINY_DEMO_CONFIG).unwrap();
    let run = dir.path().join("run");
    success_stdout(
        dpda()
            .args([
                "train",
                config.to_str().unwrap(),
                "--quiet",
                "--max-steps",
                "2",
            ])
            .args([
                "--set",
                "device.kind=cpu",
                "--run-dir",
                run.to_str().unwrap(),
            ])
            .output()
            .unwrap(),
    );
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "[level]\ngain_db = [-10]\n").unwrap();
    let wild = dir.path().join("corpus/wild");
    let mut wb = workbench();
    wb.sweep.checkpoint_a = run.display().to_string();
    wb.sweep.folder = wild.join("flac").display().to_string();
    wb.sweep.key = wild.join("key.csv").display().to_string();
    wb.sweep.grid = grid.display().to_string();
    let mut h = harness(wb);
    h.run();
    h.get_by_role_and_label(Role::Button, "▶ Start").click();
    let deadline = Instant::now() + Duration::from_secs(60);
    h.step();
    while h.state().sweep.is_running() {
        assert!(Instant::now() < deadline, "the sweep did not finish");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run();
    assert_eq!(h.state().sweep.status, SweepStatus::Finished);
    let result = h.state().sweep.result.clone().unwrap();
    assert_eq!(result.condition_names, ["clean", "level-10db"]);
    assert!(!result.cancelled);
    // Each cell shows its EER.
    for row in 0..2 {
        let text = format!("{:.2}", result.eer_percent(row, 0).unwrap());
        assert!(
            h.query_all_by_label(&text).next().is_some(),
            "no cell {text}"
        );
    }
    assert!(h.query_by_label("done").is_some());
}
