//! `dpda train` and `dpda score` through the binary: a short run on the tiny demo corpus, then
//! scoring WAV files, a folder and a list, whole and per window.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;

mod common;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG as CONFIG};

fn write_tone(path: &Path, freq_hz: f32, num_samples: usize) {
    let samples: Vec<f32> = (0..num_samples)
        .map(|i| 0.3 * (std::f32::consts::TAU * freq_hz * i as f32 / 16_000.0).sin())
        .collect();
    dpda::audio::write_wav(path, &samples, 16_000, dpda::audio::WavFormat::Float32).unwrap();
}

#[test]
fn train_then_score_files_folders_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let run_dir = dir.path().join("run");
    let out = dpda()
        .args([
            "train",
            config.to_str().unwrap(),
            "--quiet",
            "--max-steps",
            "3",
        ])
        .args([
            "--set",
            "train.layout=separate",
            "--run-dir",
            run_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    success_stdout(out);
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 3);
    assert!(std::fs::read_to_string(run_dir.join("config.toml"))
        .unwrap()
        .contains("layout = \"separate\""));

    let audio = dir.path().join("audio");
    std::fs::create_dir_all(audio.join("sub")).unwrap();
    write_tone(&audio.join("a.wav"), 220.0, 8000);
    write_tone(&audio.join("sub/b.wav"), 440.0, 3000);
    std::fs::write(
        dir.path().join("list.txt"),
        "audio/a.wav\n# comment\naudio/sub/b.wav\n",
    )
    .unwrap();
    let scores_path = dir.path().join("scores.txt");
    let out = dpda()
        .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
        .arg(audio.join("a.wav"))
        .arg(dir.path().join("list.txt"))
        .args(["--out", scores_path.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = success_stdout(out);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    // A file is named by its stem, list lines by the path as written there.
    assert_eq!(names, ["a", "audio/a", "audio/sub/b"]);
    let a1: f64 = stdout
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let a2: f64 = stdout
        .lines()
        .nth(1)
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(a1, a2, "the same file scores the same");
    assert_eq!(std::fs::read_to_string(&scores_path).unwrap(), stdout);

    // Per-window scores of a 0.5 s clip with 0.2 s windows every 0.1 s: starts 0 … 0.3 s.
    let out = dpda()
        .args([
            "score",
            "--checkpoint",
            run_dir
                .join("checkpoints/final.safetensors")
                .to_str()
                .unwrap(),
        ])
        .args(["--window-s", "0.2", "--hop-s", "0.1", "--per-window"])
        .arg(audio.join("a.wav"))
        .output()
        .unwrap();
    let stdout = success_stdout(out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("a@0.000 ") && lines[3].starts_with("a@0.300 "));
    let windows: Vec<f64> = lines[..4]
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    let mean: f64 = lines[4].split(' ').nth(1).unwrap().parse().unwrap();
    assert!((mean - windows.iter().sum::<f64>() / 4.0).abs() < 1e-9);

    // Help says what the score means.
    let help = dpda().args(["score", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("higher means more bona fide"));
}

#[test]
fn score_of_an_unrecognised_checkpoint_asks_for_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("w.safetensors");
    let mut tensors = std::collections::HashMap::new();
    tensors.insert(
        "w".to_string(),
        candle_core::Tensor::zeros(3, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, &ckpt).unwrap();
    let wav = dir.path().join("a.wav");
    write_tone(&wav, 100.0, 1000);
    let out = dpda()
        .args([
            "score",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            wav.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--model") && stderr.contains("w.safetensors"),
        "{stderr}"
    );
}

/// An unknown model name is said once, with the known names, by `score` and by `train`.
#[test]
fn unknown_model_names_are_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_tone(&wav, 100.0, 1000);
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let ckpt = dir.path().join("w.safetensors");
    let mut tensors = std::collections::HashMap::new();
    tensors.insert(
        "w".to_string(),
        candle_core::Tensor::zeros(3, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, &ckpt).unwrap();
    for args in [
        vec![
            "score".to_string(),
            "--model".into(),
            "resnet".into(),
            "--checkpoint".into(),
            ckpt.display().to_string(),
            wav.display().to_string(),
        ],
        vec![
            "train".to_string(),
            config.display().to_string(),
            "--set".into(),
            "model.name=resnet".into(),
            "--run-dir".into(),
            dir.path().join("run").display().to_string(),
        ],
    ] {
        let out = dpda().args(&args).output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.matches("unknown model").count(), 1, "{stderr}");
        assert!(stderr.contains("lcnn"), "{stderr}");
    }
}
