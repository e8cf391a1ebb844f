//! The Detect view's trust aids, headless through egui_kittest: a silent clip's verdict reads
//! "unreliable: …" with the warning listed, and — through a PulseAudio null sink
//! (`eval "$(scripts/null_sink.sh)"`, which sets `DPDA_AUDIO_LOOPBACK`) — the live score track
//! grows window by window while recording, with its real-time factor and latency shown. The
//! live test is skipped, with a message, without that setup; with the released AASIST-L weights
//! at `../shared/data/pretrained/AASIST-L.pth` it also scores live with them and prints the
//! real-time factor.
#![cfg(all(feature = "gui", feature = "audio"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dpda::audio::device::{AudioBackend, Player};
use dpda::gui::detect::{CheckpointKind, DetectView, LiveStats};
use dpda::gui::Shared;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

struct DetectState {
    view: DetectView,
    shared: Shared,
}

fn harness(view: DetectView) -> Harness<'static, DetectState> {
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
    harness
}

/// Step the harness until `done` holds (background threads need real time), with a deadline.
fn step_until<S>(harness: &mut Harness<'_, S>, limit: Duration, done: impl Fn(&S) -> bool) {
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

/// One training step of the tiny model on the tiny demo corpus; returns the run folder.
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
max_steps = 1
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

fn load_model(harness: &mut Harness<'_, DetectState>) {
    harness.step();
    harness.get_by_label("Load model").click();
    step_until(harness, Duration::from_secs(60), |s| {
        (s.view.model().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    assert_eq!(harness.state().view.error(), None);
}

#[test]
fn a_silent_clip_reads_unreliable_with_its_warning() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny_run(dir.path());
    let silent = dir.path().join("silent.wav");
    dpda::audio::write_wav(&silent, &[0.0; 8000], 16_000, dpda::audio::WavFormat::Int16).unwrap();
    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(
        "no sound card in this test".into(),
    ));
    view.settings.kind = CheckpointKind::RunFolder;
    view.settings.checkpoint_path = run_dir.display().to_string();
    let mut harness = harness(view);
    load_model(&mut harness);
    {
        let s = harness.state_mut();
        s.view.open_file(silent, &mut s.shared);
    }
    step_until(&mut harness, Duration::from_secs(20), |s| {
        (s.view.score().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    let codes: Vec<&str> = harness
        .state()
        .view
        .warnings()
        .iter()
        .map(|w| w.code.as_str())
        .collect();
    assert_eq!(codes, ["silence"]);
    assert!(harness
        .query_by_label("unreliable: silence or no speech")
        .is_some());
    assert!(harness
        .query_by_label_contains("warning: digital silence: peak -inf dBFS")
        .is_some());
    // The model's own decision is still shown, in small print.
    assert!(harness.query_by_label("the model alone says:").is_some());

    // A clean clip of the same length has no warnings and no "unreliable".
    let tone: Vec<f32> = (0..8000)
        .map(|i| 0.3 * (std::f32::consts::TAU * 220.0 * i as f32 / 16_000.0).sin())
        .collect();
    let clean = dir.path().join("clean.wav");
    dpda::audio::write_wav(&clean, &tone, 16_000, dpda::audio::WavFormat::Int16).unwrap();
    {
        let s = harness.state_mut();
        s.view.settings.window_s = 0.5;
        s.view.open_file(clean, &mut s.shared);
    }
    step_until(&mut harness, Duration::from_secs(20), |s| {
        (s.view.score().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    assert!(harness.state().view.warnings().is_empty());
    assert!(harness.query_by_label_contains("unreliable").is_none());
}

/// Whether the environment points at a PulseAudio null sink set up for loop-back.
fn loopback() -> bool {
    let socket = std::env::var("PULSE_SERVER")
        .ok()
        .and_then(|s| s.strip_prefix("unix:").map(PathBuf::from))
        .is_some_and(|p| p.exists());
    socket && std::env::var("DPDA_AUDIO_LOOPBACK").is_ok()
}

/// A 220 Hz tone with a slow tremolo, at 16 kHz.
fn tone(duration_s: f64) -> Vec<f32> {
    (0..(duration_s * 16_000.0) as usize)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            0.3 * (std::f32::consts::TAU * 220.0 * t).sin()
                * (0.6 + 0.4 * (std::f32::consts::TAU * 2.0 * t).sin())
        })
        .collect()
}

/// Record `record_s` seconds through the null sink while playing a tone into it, with live
/// scoring by the loaded model; returns the live stats and whether points arrived while the
/// recording was still running.
fn record_live(harness: &mut Harness<'_, DetectState>, record_s: f64) -> (LiveStats, usize, bool) {
    harness.state_mut().view.settings.record_limit_s = record_s;
    let mut player = Player::new(AudioBackend::PulseAudio);
    player
        .play(&tone(record_s + 1.0), 16_000, 0.0, false)
        .unwrap();
    harness.get_by_label("Record").click();
    harness.step();
    assert!(
        harness.state().view.is_recording(),
        "recording did not start"
    );
    let start = Instant::now();
    let mut points_while_recording = 0usize;
    while harness.state().view.is_recording() {
        assert!(start.elapsed() < Duration::from_secs_f64(record_s + 10.0));
        harness.step();
        if harness.state().view.is_recording() {
            points_while_recording = harness.state().view.live_points().map_or(0, <[_]>::len);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the window in flight and the final whole-clip score arrive.
    step_until(harness, Duration::from_secs(60), |s| !s.view.is_busy());
    harness.run_steps(3);
    player.stop();
    let view = &harness.state().view;
    let points = view.live_points().unwrap().to_vec();
    assert!(
        points.windows(2).all(|p| p[1].0 > p[0].0),
        "window starts increase: {points:?}"
    );
    assert!(points.iter().all(|p| p.1.is_finite()));
    (
        view.live_stats().unwrap(),
        points.len(),
        points_while_recording > 0,
    )
}

#[test]
fn the_live_score_track_grows_while_recording_through_a_null_sink() {
    if !loopback() {
        eprintln!(
            "skipped: no PulseAudio null sink set up for loop-back (run \
             `eval \"$(scripts/null_sink.sh)\"`, which sets DPDA_AUDIO_LOOPBACK)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny_run(dir.path());
    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::PulseAudio);
    view.settings.kind = CheckpointKind::RunFolder;
    view.settings.checkpoint_path = run_dir.display().to_string();
    view.settings.window_s = 0.5;
    view.settings.hop_s = 0.25;
    let mut harness = harness(view);
    load_model(&mut harness);
    let (stats, num_points, during) = record_live(&mut harness, 3.0);
    eprintln!("tiny model live: {num_points} windows, {stats:?}");
    assert!(during, "no live score arrived while recording");
    // 3 s of audio hold windows starting at 0, 0.25, …, 2.5 s: 11, scored or skipped.
    assert_eq!(stats.windows_scored, num_points);
    assert!(
        (9..=11).contains(&(stats.windows_scored + stats.windows_skipped)),
        "{stats:?}"
    );
    assert!(stats.windows_scored >= 5, "{stats:?}");
    let rtf = stats.real_time_factor.unwrap();
    assert!(rtf > 0.0 && rtf < 1.0, "{rtf}");
    assert!(harness
        .query_by_label_contains("real-time factor")
        .is_some());
    assert!(harness.query_by_label_contains("latency").is_some());
    // The recording itself was then scored as a clip.
    assert!(harness.state().view.score().is_some());

    // With the released AASIST-L weights: the real-time factor of live scoring, reported.
    let weights =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pretrained/AASIST-L.pth");
    if !weights.is_file() {
        println!("skipping AASIST-L: {} is absent", weights.display());
        return;
    }
    {
        let view = &mut harness.state_mut().view;
        view.settings.kind = CheckpointKind::Pth;
        view.settings.checkpoint_path = weights.display().to_string();
        view.settings.model_name = "auto".into();
        view.settings.window_s = 2.0;
        view.settings.hop_s = 0.5;
    }
    load_model(&mut harness);
    let (stats, num_points, during) = record_live(&mut harness, 6.0);
    println!(
        "AASIST-L live, 2 s windows every 0.5 s: {num_points} scored, {} skipped, real-time \
         factor {:.3} (last window), latency {:.0} ms (last), {:.0} ms (max)",
        stats.windows_skipped,
        stats.real_time_factor.unwrap(),
        1000.0 * stats.latency_s.unwrap(),
        1000.0 * stats.max_latency_s.unwrap()
    );
    assert!(during, "no live AASIST-L score arrived while recording");
}
