//! UI flows of the augment and detect views, headless through egui_kittest: a RawBoost draw with
//! its realised figures, scoring a demo clip with a checkpoint trained here, and the
//! "audio unavailable" message when there is no audio device.
#![cfg(all(feature = "gui", feature = "audio"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dpda::audio::device::AudioBackend;
use dpda::augment::{rawboost, RawBoostAlgo};
use dpda::gui::augment::AugmentView;
use dpda::gui::detect::{CheckpointKind, DetectView};
use dpda::gui::Shared;
use dpda::rng::Rng;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

mod common;

use common::detect::{detect_harness, step_until, train_tiny_run};

const NO_AUDIO: &str = "no sound card in this test";

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name)
}

struct AugmentState {
    view: AugmentView,
    shared: Shared,
}

fn augment_harness(view: AugmentView) -> Harness<'static, AugmentState> {
    let state = AugmentState {
        view,
        shared: Shared::default(),
    };
    let mut harness = Harness::new_ui_state(
        |ui, s: &mut AugmentState| {
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

#[test]
fn augment_view_draws_and_shows_the_realised_figures() {
    let mut view = AugmentView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(NO_AUDIO.into()));
    view.settings.algo = RawBoostAlgo::LnlIsdSsi;
    view.settings.seed = 42;
    let mut harness = augment_harness(view);
    harness.step();
    let path = asset("demo_bonafide.wav");
    {
        let s = harness.state_mut();
        s.view.open_file(path.clone(), &mut s.shared);
    }
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.augmented_samples().is_some()
    });

    // The draw is the library's RawBoost with the shown seed: reproducible from the seed alone.
    let clip = dpda::audio::load_mono_16k(&path).unwrap();
    let params = harness.state().view.settings.params.clone();
    let expected = rawboost(
        &clip.samples,
        16_000,
        RawBoostAlgo::LnlIsdSsi,
        &params,
        &mut Rng::new(42),
    )
    .unwrap();
    assert_eq!(
        harness.state().view.augmented_samples().unwrap(),
        expected.samples.as_slice()
    );
    let snr = expected
        .report
        .ssi
        .as_ref()
        .unwrap()
        .realised_snr_db
        .unwrap();
    assert!(harness.query_by_label("realised SNR").is_some());
    assert!(harness
        .query_all_by_label(&format!("{snr:.1} dB"))
        .next()
        .is_some());
    assert!(harness.query_by_label("samples hit").is_some());
    assert!(harness.query_by_label("term x^1 notches").is_some());

    // "New draw" changes the seed and the augmented clip.
    harness.get_by_label("New draw").click();
    harness.run_steps(3);
    let seed = harness.state().view.settings.seed;
    assert_ne!(seed, 42);
    assert_ne!(
        harness.state().view.augmented_samples().unwrap(),
        expected.samples.as_slice()
    );

    // Without an audio device, playing says why and the rest keeps working; the space bar
    // (A/B) tries to play too.
    assert_eq!(harness.state().view.audio_error(), None);
    harness.key_press(egui::Key::Space);
    harness.run_steps(2);
    assert!(harness.state().view.audio_error().is_some());
    harness.get_by_label("Play original").click();
    harness.run_steps(2);
    let message = format!("audio unavailable: {NO_AUDIO}");
    assert_eq!(harness.state().view.audio_error(), Some(message.as_str()));
    assert!(harness.query_by_label(&message).is_some());
    assert!(harness.query_by_label("stopped").is_some());
}

/// A one-epoch run of the tiny model on the tiny demo corpus; returns the run folder.
#[test]
fn detect_view_scores_a_demo_clip_with_the_current_runs_best() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny_run(dir.path());
    // The trainer's threshold for the checkpoint, read here from its own epoch log.
    let epochs = std::fs::read_to_string(run_dir.join("epochs.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(epochs.lines().last().unwrap()).unwrap();
    let threshold = last["dev_eer_threshold"].as_f64().unwrap();

    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(NO_AUDIO.into()));
    view.settings.kind = CheckpointKind::CurrentRun;
    view.settings.window_s = 0.5;
    view.settings.hop_s = 0.25;
    let mut harness = detect_harness(view, Some(run_dir.clone()));
    harness.step();
    harness.get_by_label("Load model").click();
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.model().is_some() || s.view.error().is_some()
    });
    assert_eq!(harness.state().view.error(), None);
    assert_eq!(harness.state().view.threshold(), threshold);

    let clip_path = asset("demo_spoof_D05.wav");
    {
        let s = harness.state_mut();
        s.view.open_file(clip_path.clone(), &mut s.shared);
    }
    step_until(&mut harness, Duration::from_secs(20), |s| {
        (s.view.score().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    assert_eq!(harness.state().view.error(), None);

    // Same score as the library's scorer on the run folder.
    let scorer =
        dpda::inference::Scorer::load(&dpda::inference::ModelRequest::new(&run_dir)).unwrap();
    let clip = dpda::audio::load_mono_16k(&clip_path).unwrap();
    let expected = scorer.score(&clip.samples).unwrap();
    let score = harness.state().view.score().unwrap();
    assert!((score - expected).abs() < 1e-9, "{score} vs {expected}");

    let verdict = if score >= threshold {
        "likely bona fide"
    } else {
        "likely spoofed"
    };
    assert!(harness.query_by_label(verdict).is_some());
    assert!(harness
        .query_by_label_contains("higher means more bona fide")
        .is_some());
    assert!(harness
        .query_by_label_contains("trained on one corpus can be wrong")
        .is_some());
    assert!(harness
        .query_by_label_contains(&format!("duration {:.2} s", clip.duration_s()))
        .is_some());

    // No input device: recording reports why.
    harness.get_by_label("Record").click();
    harness.run_steps(2);
    assert!(harness
        .query_by_label(&format!("audio unavailable: {NO_AUDIO}"))
        .is_some());
}

#[test]
fn detect_view_scores_a_folder_to_a_score_file() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny_run(dir.path());
    let folder = dir.path().join("clips");
    std::fs::create_dir_all(&folder).unwrap();
    for name in ["demo_bonafide.wav", "demo_spoof_D05.wav"] {
        std::fs::copy(asset(name), folder.join(name)).unwrap();
    }
    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(NO_AUDIO.into()));
    view.settings.kind = CheckpointKind::RunFolder;
    view.settings.checkpoint_path = run_dir.display().to_string();
    view.settings.folder = folder.display().to_string();
    let mut harness = detect_harness(view, None);
    harness.step();
    harness.get_by_label("Load model").click();
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.model().is_some() || s.view.error().is_some()
    });
    harness.get_by_label("Score folder").click();
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.folder_message().is_some()
    });
    let out = folder.join("scores.txt");
    let text = std::fs::read_to_string(&out).unwrap();
    let scorer =
        dpda::inference::Scorer::load(&dpda::inference::ModelRequest::new(&run_dir)).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, name) in lines.iter().zip(["demo_bonafide", "demo_spoof_D05"]) {
        let (id, score) = line.split_once(' ').unwrap();
        assert_eq!(id, name);
        let clip = dpda::audio::load_mono_16k(&folder.join(format!("{name}.wav"))).unwrap();
        let expected = scorer.score(&clip.samples).unwrap();
        assert!((score.parse::<f64>().unwrap() - expected).abs() < 1e-9);
    }
    assert!(harness.query_by_label_contains("wrote 2 scores").is_some());
}

#[test]
fn augment_view_opens_a_typed_path_and_a_demo_corpus_clip_without_a_dialog() {
    let mut view = AugmentView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(NO_AUDIO.into()));
    view.settings.algo = RawBoostAlgo::Isd;
    let mut harness = augment_harness(view);
    harness.step();

    // A typed path works with no file-dialog portal.
    let path = asset("demo_spoof_D05.wav");
    let field = harness.get_by_label("Path:");
    field.focus();
    field.type_text(&path.display().to_string());
    harness.run_steps(2);
    harness.get_by_label("Open path").click();
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.augmented_samples().is_some()
    });
    let clip = dpda::audio::load_mono_16k(&path).unwrap();
    assert_eq!(
        harness.state().view.augmented_samples().unwrap().len(),
        clip.samples.len()
    );
    assert!(harness.query_by_label("samples hit").is_some());
    assert!(harness.query_by_label("realised SNR").is_none());

    // With no corpus on the train form, the tiny demo corpus is listed; bona fide only.
    let start = Instant::now();
    while harness
        .query_all_by_label_contains("LA_T_")
        .next()
        .is_none()
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the demo corpus was not listed"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.get_by_label("bona fide").click();
    harness.run_steps(2);
    assert!(harness
        .query_all_by_label_contains("  spoof  ")
        .next()
        .is_none());
    let demo = dpda::data::demo::DemoCorpus::new(dpda::data::demo::DemoSize::Tiny, 0);
    let item = demo
        .split_items(dpda::data::corpus::Split::Train)
        .find(|i| i.label == dpda::data::Label::Bonafide)
        .unwrap();
    let utt_id = item.utt_id.clone();
    harness.get_by_label_contains(&utt_id).click();
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.clip_name() == Some(utt_id.as_str()) && s.view.augmented_samples().is_some()
    });
    // The corpus clip is the demo corpus's own rendering of that utterance.
    assert_eq!(
        harness.state().view.augmented_samples().unwrap().len(),
        demo.render(item).len()
    );
}

/// The Detect view with the authors' released AASIST-L `.pth`: the model is recognised, scored at
/// its own 64,600 samples (shown in the view), and the score equals the authors' PyTorch
/// pipeline on the same file (`tests/fixtures/released`, `scripts/released_score_reference.py`);
/// a typed input length overrides it.
#[test]
fn detect_view_scores_with_released_weights_at_their_input_length() {
    let weights =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pretrained/AASIST-L.pth");
    if !weights.is_file() {
        println!("skipping: {} is absent", weights.display());
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/released");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("scores.json")).unwrap())
            .unwrap();
    let mut view = DetectView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(NO_AUDIO.into()));
    view.settings.kind = CheckpointKind::Pth;
    view.settings.checkpoint_path = weights.display().to_string();
    view.settings.model_name = "auto".into();
    let mut harness = detect_harness(view, None);
    harness.step();
    for (length, key) in [("auto", "aasist_l"), ("66800", "aasist_l_66800")] {
        harness.state_mut().view.settings.num_samples = length.into();
        let shown = if length == "auto" { "64600" } else { length };
        harness.get_by_label("Load model").click();
        let wanted = format!("input {shown} samples");
        step_until(&mut harness, Duration::from_secs(60), |s| {
            s.view
                .model()
                .is_some_and(|m| m.describe().contains(&wanted) && !s.view.is_busy())
                || s.view.error().is_some()
        });
        assert_eq!(harness.state().view.error(), None);
        let described = harness.state().view.model().unwrap().describe();
        assert!(
            described.contains(&format!("input {shown} samples")),
            "{described}"
        );
        assert!(
            harness
                .query_by_label_contains(&format!("input {shown} samples"))
                .is_some(),
            "the view shows: {described}"
        );
        let clip = fixtures.join("speechlike_2s.wav");
        {
            let s = harness.state_mut();
            s.view.open_file(clip, &mut s.shared);
        }
        step_until(&mut harness, Duration::from_secs(60), |s| {
            (s.view.score().is_some() && !s.view.is_busy()) || s.view.error().is_some()
        });
        let score = harness.state().view.score().unwrap();
        let want = reference[key]["speechlike_2s.wav"].as_f64().unwrap();
        assert!((score - want).abs() < 1e-3, "{length}: {score} vs {want}");
    }
}

/// The Augment view on the demo clip (seed `seed`, no audio device), switched to Chain mode;
/// returns the harness and the clip's path.
fn chain_mode_on_demo_clip(seed: u64) -> (Harness<'static, AugmentState>, PathBuf) {
    let mut view = AugmentView::load(None);
    view.set_audio_backend(AudioBackend::Unavailable(NO_AUDIO.into()));
    view.settings.seed = seed;
    let mut harness = augment_harness(view);
    harness.step();
    let path = asset("demo_bonafide.wav");
    {
        let s = harness.state_mut();
        s.view.open_file(path.clone(), &mut s.shared);
    }
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.augmented_samples().is_some()
    });
    harness.get_by_label("Chain").click();
    harness.run_steps(2);
    (harness, path)
}

/// Pick `kind` in the "kind to add" combo and press "Add stage".
fn add_stage(harness: &mut Harness<'static, AugmentState>, kind: &str) {
    harness.get_by_label("kind to add").click();
    harness.run_steps(2);
    harness.get_by_label(kind).click();
    harness.run_steps(2);
    harness.get_by_label("Add stage").click();
}

/// Chain mode: a two-stage chain (gain, then pink noise) built with the view's buttons and
/// combos, run on a clip; the output after each stage exists, the stages differ, the last one
/// is the library's chain with the shown seed, and auditioning stage 0 shows its output.
#[test]
fn augment_view_builds_a_chain_and_auditions_each_stage() {
    use dpda::augment::{ChainSpec, StageSpec};
    let (mut harness, path) = chain_mode_on_demo_clip(5);
    // First stage: gain, second: noise, each chosen in the kind combo.
    add_stage(&mut harness, "gain");
    harness.run_steps(2);
    add_stage(&mut harness, "noise");
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.chain_stage_outputs().len() == 2
    });

    let kinds: Vec<&str> = harness
        .state()
        .view
        .settings
        .chain
        .stages
        .iter()
        .map(StageSpec::kind)
        .collect();
    assert_eq!(kinds, ["gain", "noise"]);
    let outputs: Vec<Vec<f32>> = harness
        .state()
        .view
        .chain_stage_outputs()
        .iter()
        .map(|o| o.to_vec())
        .collect();
    let clip = dpda::audio::load_mono_16k(&path).unwrap();
    assert_eq!(outputs[0].len(), clip.samples.len());
    assert_ne!(outputs[0], clip.samples);
    assert_ne!(outputs[0], outputs[1]);
    let chain = ChainSpec {
        stages: harness.state().view.settings.chain.stages.clone(),
    }
    .prepare(Path::new("."))
    .unwrap();
    let (expected, _) = chain
        .apply(&clip.samples, 16_000, &mut Rng::new(5))
        .unwrap();
    assert_eq!(outputs[1], expected);
    assert_eq!(
        harness.state().view.augmented_samples().unwrap(),
        expected.as_slice()
    );

    // Audition the output after stage 0.
    harness.get_by_label_contains("after 0: gain(").click();
    harness.run_steps(2);
    assert_eq!(
        harness.state().view.augmented_samples().unwrap(),
        outputs[0].as_slice()
    );
    assert!(harness
        .query_by_label_contains("output after stage 0")
        .is_some());

    // Remove the first stage: the chain reruns with noise alone.
    harness.get_all_by_label("Remove").next().unwrap().click();
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.chain_stage_outputs().len() == 1
    });
    assert_eq!(harness.state().view.chain_stage_reports()[0].kind, "noise");
}

/// Chain mode with a real codec: a codec stage switched to Opus in its combo shows the bit-rate
/// range, runs Opus at a rate from the default range and keeps the clip's length.
#[cfg(feature = "codecs")]
#[test]
fn augment_view_runs_an_opus_stage_at_a_drawn_bit_rate() {
    let (mut harness, path) = chain_mode_on_demo_clip(1);
    add_stage(&mut harness, "codec");
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view.chain_stage_outputs().len() == 1
    });
    // G.711 (the default) reads no bit rate; Opus does.
    assert!(harness.query_by_label("bit rate (kbit/s)").is_none());
    harness.get_by_label("codec").click();
    harness.run_steps(2);
    harness.get_by_label("opus").click();
    step_until(&mut harness, Duration::from_secs(20), |s| {
        s.view
            .chain_stage_reports()
            .first()
            .is_some_and(|r| r.params["codec"] == "opus")
    });
    assert!(harness.query_by_label("bit rate (kbit/s)").is_some());
    let report = &harness.state().view.chain_stage_reports()[0];
    let kbps = report.params["bitrate_kbps"].as_f64().unwrap();
    assert!((8.0..=32.0).contains(&kbps), "{kbps}");
    let clip = dpda::audio::load_mono_16k(&path).unwrap();
    let output = harness.state().view.chain_stage_outputs()[0].to_vec();
    assert_eq!(output.len(), clip.samples.len());
    assert_ne!(output, clip.samples);
}
