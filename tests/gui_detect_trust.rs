//! The Detect view's trust aids, headless through egui_kittest:
//! - a silent clip's verdict reads "unreliable: …" with the warning listed;
//! - a run's own calibration gives the clip's LLR and posterior at the prior set, and says where
//!   it came from; a checkpoint without one says it is uncalibrated;
//! - Explain on a clip of half silence and half tone draws the overlay, its legend and the speech
//!   vs non-speech shares, which agree with the library's explanation;
//! - through a PulseAudio null sink (`eval "$(scripts/null_sink.sh)"`, which sets
//!   `DPDA_AUDIO_LOOPBACK`) the live score track grows window by window while recording, with its
//!   real-time factor and latency shown. The live test is skipped, with a message, without that
//!   setup; with the released AASIST-L weights at `../shared/data/pretrained/AASIST-L.pth` it also
//!   scores live with them and prints the real-time factor.
#![cfg(all(feature = "gui", feature = "audio"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dpda::audio::device::{AudioBackend, Player};
use dpda::gui::detect::{CheckpointKind, DetectView, LiveStats};
use dpda::inference::{ExplainConfig, ModelRequest, Scorer};
use dpda::metrics::calibration::Calibration;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

mod common;

use common::detect::{
    detect_harness, load_model, quiet_view, score_clip, step_until, train_tiny_run, DetectState,
};

fn demo_clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_spoof_D05.wav")
}

#[test]
fn a_silent_clip_reads_unreliable_with_its_warning() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny_run(dir.path());
    let silent = dir.path().join("silent.wav");
    dpda::audio::write_wav(&silent, &[0.0; 8000], 16_000, dpda::audio::WavFormat::Int16).unwrap();
    let mut view = quiet_view();
    view.settings.kind = CheckpointKind::RunFolder;
    view.settings.checkpoint_path = run_dir.display().to_string();
    let mut harness = detect_harness(view, None);
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
    // A guard against a hang, not a timing check: on a loaded machine the sound server can
    // drop input while the model's threads hold both cores, and the recording then needs more
    // wall time than its length to gather its samples.
    let hang_guard = Duration::from_secs_f64(10.0 * record_s + 60.0);
    while harness.state().view.is_recording() {
        assert!(
            start.elapsed() < hang_guard,
            "the {record_s} s recording was still running after {:?}",
            start.elapsed()
        );
        harness.step();
        if harness.state().view.is_recording() {
            points_while_recording = harness.state().view.live_points().map_or(0, <[_]>::len);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "the {record_s} s recording took {:.1} s of wall time",
        start.elapsed().as_secs_f64()
    );
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
    let mut harness = detect_harness(view, None);
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

#[test]
fn detect_view_shows_the_llr_and_posterior_of_the_runs_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_tiny_run(dir.path());
    let cal = Calibration::read(&run.join("calibration.json")).unwrap();

    let mut view = quiet_view();
    view.settings.kind = CheckpointKind::CurrentRun;
    view.settings.prior = 0.2;
    let mut harness = detect_harness(view, Some(run.clone()));
    load_model(&mut harness);
    score_clip(&mut harness, &demo_clip());

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
    let mut view = quiet_view();
    view.settings.kind = CheckpointKind::Safetensors;
    view.settings.checkpoint_path = alone.display().to_string();
    view.settings.model_name = "tiny".into();
    view.settings.num_samples = "1600".into();
    let mut harness = detect_harness(view, Some(run.clone()));
    load_model(&mut harness);
    score_clip(&mut harness, &demo_clip());
    assert_eq!(harness.state().view.calibrated(), None);
    assert!(harness
        .query_by_label_contains("uncalibrated: raw logit")
        .is_some());
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

    let mut view = quiet_view();
    view.settings.kind = CheckpointKind::RunFolder;
    view.settings.checkpoint_path = run_dir.display().to_string();
    // The whole second is the model's input: 4 time blocks of the default 0.25 s.
    view.settings.num_samples = "16000".into();
    view.settings.window_s = 0.5;
    view.settings.hop_s = 0.5;
    let mut harness = detect_harness(view, None);
    harness.step();
    assert!(harness.query_by_label("Explain").is_none());
    load_model(&mut harness);
    score_clip(&mut harness, &clip_path);
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
