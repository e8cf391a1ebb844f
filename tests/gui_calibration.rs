//! The detect view's calibration display, headless through egui_kittest: a run's own
//! calibration gives the clip's LLR and posterior at the prior set, and says where it came from;
//! a checkpoint without one says it is uncalibrated.
#![cfg(all(feature = "gui", feature = "audio"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dpda::audio::device::AudioBackend;
use dpda::gui::detect::{CheckpointKind, DetectView};
use dpda::gui::Shared;
use dpda::metrics::calibration::Calibration;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

struct DetectState {
    view: DetectView,
    shared: Shared,
}

fn step_until<S>(harness: &mut Harness<'_, S>, limit: Duration, done: impl Fn(&S) -> bool) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(
            start.elapsed() < limit,
            "condition not reached in {limit:?}"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.step();
}

fn tiny_run(dir: &Path) -> PathBuf {
    let config = r#"
[data]
corpus = "demo"
demo_size = "tiny"
num_samples = 1600
[model]
name = "tiny"
[train]
mode = "plain"
batch_size = 4
epochs = 1
seed = 5
[optim]
lr = 0.01
"#;
    let plan = dpda::train::plan_from_str(config, "test config", &[]).unwrap();
    let run_dir = dir.join("run");
    let mut handle = dpda::train::spawn(plan, run_dir.clone()).unwrap();
    handle.join();
    run_dir
}

fn harness(view: DetectView, run: &Path) -> Harness<'static, DetectState> {
    let state = DetectState {
        view,
        shared: Shared {
            current_run: Some(run.to_path_buf()),
            ..Shared::default()
        },
    };
    let mut harness = Harness::new_ui_state(
        |ui, s: &mut DetectState| {
            let ctx = ui.ctx().clone();
            s.view.logic(&ctx, &mut s.shared);
            let commands = s.view.ui(ui, &s.shared);
            s.view.apply_all(commands, &mut s.shared);
        },
        state,
    );
    harness.set_size(egui::vec2(1400.0, 1400.0));
    harness
}

/// Load the model, then score the demo clip.
fn load_and_score(harness: &mut Harness<'_, DetectState>) {
    harness.step();
    harness.get_by_label("Load model").click();
    step_until(harness, Duration::from_secs(20), |s| {
        s.view.model().is_some() || s.view.error().is_some()
    });
    assert_eq!(harness.state().view.error(), None);
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_spoof_D05.wav");
    {
        let s = harness.state_mut();
        s.view.open_file(clip, &mut s.shared);
    }
    step_until(harness, Duration::from_secs(20), |s| {
        (s.view.score().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    assert_eq!(harness.state().view.error(), None);
}

#[test]
fn detect_view_shows_the_llr_and_posterior_of_the_runs_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path());
    let cal = Calibration::read(&run.join("calibration.json")).unwrap();

    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(
        "no sound card in this test".into(),
    ));
    view.settings.kind = CheckpointKind::CurrentRun;
    view.settings.prior = 0.2;
    let mut harness = harness(view, &run);
    load_and_score(&mut harness);

    let score = harness.state().view.score().unwrap();
    let llr = cal.a * score + cal.b;
    // P = σ(LLR + logit 0.2).
    let posterior = 1.0 / (1.0 + (-(llr + (0.2f64 / 0.8).ln())).exp());
    let (shown_llr, shown_p) = harness.state().view.calibrated().unwrap();
    assert!((shown_llr - llr).abs() < 1e-12 && (shown_p - posterior).abs() < 1e-12);
    let line = format!("LLR {llr:+.3}   P(bona fide | clip) = {posterior:.3} at prior 0.200");
    assert!(harness.query_by_label(&line).is_some(), "{line}");
    assert!(harness
        .query_by_label_contains("(the run's own, fitted on its dev set)")
        .is_some());
    assert!(harness.query_by_label_contains("uncalibrated").is_none());

    // The prior is the user's: another one moves the posterior only.
    harness.state_mut().view.settings.prior = 0.9;
    harness.run_steps(2);
    let (llr_again, p_again) = harness.state().view.calibrated().unwrap();
    assert_eq!(llr_again, llr);
    assert!(p_again > shown_p);
    assert!(harness.query_by_label_contains("at prior 0.900").is_some());

    // The same weights outside their run: no calibration, said plainly.
    let alone = dir.path().join("alone.safetensors");
    std::fs::copy(run.join("checkpoints/final.safetensors"), &alone).unwrap();
    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(
        "no sound card in this test".into(),
    ));
    view.settings.kind = CheckpointKind::Safetensors;
    view.settings.checkpoint_path = alone.display().to_string();
    view.settings.model_name = "tiny".into();
    view.settings.num_samples = "1600".into();
    let mut harness = self::harness(view, &run);
    load_and_score(&mut harness);
    assert_eq!(harness.state().view.calibrated(), None);
    assert!(harness
        .query_by_label_contains("uncalibrated: raw logit")
        .is_some());
}
