//! Shared by the Detect view's kittest flows: the view in a harness, stepping until a condition
//! holds, a tiny run trained in-process, and loading a model or scoring a clip through the view.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dpda::audio::device::AudioBackend;
use dpda::gui::detect::DetectView;
use dpda::gui::Shared;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

/// The view and the state it shares with the other views.
pub struct DetectState {
    pub view: DetectView,
    pub shared: Shared,
}

/// A view with default settings and no audio device.
pub fn quiet_view() -> DetectView {
    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(
        "no sound card in this test".into(),
    ));
    view
}

/// `view` in a 1400 × 1400 harness that runs a frame as the app does (logic, draw, apply);
/// `current_run` is what the train view would have started.
pub fn detect_harness(
    view: DetectView,
    current_run: Option<PathBuf>,
) -> Harness<'static, DetectState> {
    let mut harness = Harness::new_ui_state(
        |ui, s: &mut DetectState| {
            let ctx = ui.ctx().clone();
            s.view.logic(&ctx, &mut s.shared);
            let commands = s.view.ui(ui, &s.shared);
            s.view.apply_all(commands, &mut s.shared);
        },
        DetectState {
            view,
            shared: Shared {
                current_run,
                ..Shared::default()
            },
        },
    );
    harness.set_size(egui::vec2(1400.0, 1400.0));
    harness
}

/// Step the harness until `done` holds (background threads need real time), with a deadline.
pub fn step_until<S>(harness: &mut Harness<'_, S>, limit: Duration, done: impl Fn(&S) -> bool) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.step();
}

/// One epoch of the tiny model on the tiny demo corpus, trained in this process (seconds);
/// returns the run folder `dir/run`, which ends with `final` and its calibration.
pub fn train_tiny_run(dir: &Path) -> PathBuf {
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
    assert!(run_dir.join("checkpoints/final.safetensors").is_file());
    run_dir
}

/// Press "Load model" and wait for the model (or an error, which fails the test).
pub fn load_model(harness: &mut Harness<'_, DetectState>) {
    harness.step();
    harness.get_by_label("Load model").click();
    step_until(harness, Duration::from_secs(60), |s| {
        (s.view.model().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    assert_eq!(harness.state().view.error(), None);
}

/// Open `clip` in the view and wait for its score (or an error, which fails the test).
pub fn score_clip(harness: &mut Harness<'_, DetectState>, clip: &Path) {
    {
        let s = harness.state_mut();
        s.view.open_file(clip.to_path_buf(), &mut s.shared);
    }
    step_until(harness, Duration::from_secs(60), |s| {
        (s.view.score().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    assert_eq!(harness.state().view.error(), None);
}
