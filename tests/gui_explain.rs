//! The detect view's Explain panel, headless through egui_kittest: a clip of half silence and
//! half tone, scored with a tiny model trained here, then explained — the overlay, its legend
//! and the speech vs non-speech shares appear, and agree with the library's explanation.
#![cfg(all(feature = "gui", feature = "audio"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dpda::audio::device::AudioBackend;
use dpda::gui::detect::{CheckpointKind, DetectView};
use dpda::gui::Shared;
use dpda::inference::{ExplainConfig, ModelRequest, Scorer};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

struct DetectState {
    view: DetectView,
    shared: Shared,
}

fn step_until(
    harness: &mut Harness<'_, DetectState>,
    limit: Duration,
    done: impl Fn(&DetectState) -> bool,
) {
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

/// A few steps of the tiny model on the tiny demo corpus; returns the run folder.
fn train_tiny_run(dir: &Path) -> PathBuf {
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
seed = 3
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

#[test]
fn explain_draws_the_overlay_and_the_speech_shares() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny_run(dir.path());
    let clip_path = dir.path().join("half.wav");
    let mut samples = vec![0.0f32; 8000];
    samples.extend(
        (0..8000).map(|i| 0.3 * (std::f32::consts::TAU * 440.0 * i as f32 / 16_000.0).sin()),
    );
    dpda::audio::write_wav(
        &clip_path,
        &samples,
        16_000,
        dpda::audio::WavFormat::Float32,
    )
    .unwrap();

    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(
        "no sound card in this test".into(),
    ));
    view.settings.kind = CheckpointKind::RunFolder;
    view.settings.checkpoint_path = run_dir.display().to_string();
    // The whole second is the model's input: 4 time blocks of the default 0.25 s.
    view.settings.num_samples = "16000".into();
    view.settings.window_s = 0.5;
    view.settings.hop_s = 0.5;
    let mut harness = Harness::new_ui_state(
        |ui, s: &mut DetectState| {
            let ctx = ui.ctx().clone();
            s.view.logic(&ctx, &mut s.shared);
            let commands = s.view.ui(ui, &s.shared);
            s.view.apply_all(commands, &mut s.shared);
        },
        DetectState {
            view,
            shared: Shared::default(),
        },
    );
    harness.set_size(egui::vec2(1400.0, 1400.0));
    harness.step();
    assert!(harness.query_by_label("Explain").is_none());
    harness.get_by_label("Load model").click();
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.model().is_some() || s.view.error().is_some()
    });
    {
        let s = harness.state_mut();
        s.view.open_file(clip_path.clone(), &mut s.shared);
    }
    step_until(&mut harness, Duration::from_secs(20), |s| {
        (s.view.score().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    assert_eq!(harness.state().view.error(), None);
    assert!(!harness.state().view.shows_attribution_overlay());

    harness.get_by_label("Explain").click();
    harness.step();
    // The worker's answer is drained at the next frame at the earliest.
    assert!(harness.state().view.is_explaining());
    step_until(&mut harness, Duration::from_secs(20), |s| {
        !s.view.is_explaining()
    });
    assert!(harness
        .query_by_label_contains("explanation failed")
        .is_none());
    harness.run_steps(2);
    let view = &harness.state().view;
    let e = view.explanation().expect("an explanation").clone();
    assert!(view.shows_attribution_overlay());
    assert_eq!((e.num_blocks(), e.num_bands()), (4, 8));

    // The same numbers as the library's explanation with the same model.
    let scorer = Scorer::load(&ModelRequest {
        num_samples: Some(16_000),
        ..ModelRequest::new(&run_dir)
    })
    .unwrap();
    let expected = scorer
        .explain(&samples, &ExplainConfig::default(), &mut |_, _| true)
        .unwrap()
        .unwrap();
    assert_eq!(e.attributions, expected.attributions);

    let s = &e.shares;
    assert_eq!(s.speech_time_fraction, 0.5);
    let shares_line = match s.non_speech_share {
        Some(n) => format!(
            "attribution on speech {:.0}%, on non-speech {:.0}%",
            100.0 * (1.0 - n),
            100.0 * n
        ),
        None => "no tile changes the score".to_string(),
    };
    assert!(
        harness.query_by_label_contains(&shares_line).is_some(),
        "{shares_line}"
    );
    assert_eq!(
        harness
            .query_by_label_contains("rests mostly on non-speech audio")
            .is_some(),
        s.mostly_non_speech
    );
    let max_abs = e.max_abs();
    assert!(harness
        .query_by_label(&format!("{max_abs:+.3} towards bona fide"))
        .is_some());
    assert!(harness
        .query_by_label(&format!("{:+.3} towards spoofed", -max_abs))
        .is_some());

    // Unticking "overlay" hides it; the numbers stay.
    harness.get_by_label("overlay").click();
    harness.run_steps(2);
    assert!(!harness.state().view.shows_attribution_overlay());
    assert!(harness.state().view.explanation().is_some());
}
