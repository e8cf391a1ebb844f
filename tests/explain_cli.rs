//! `dpda explain` through the binary: a short run of the tiny model, then the occlusion
//! explanation of a clip that is half silence, half tone — summary, JSON grid and errors.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;

mod common;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG as CONFIG};

/// 0.5 s of silence then 0.5 s of a 440 Hz tone.
fn write_half_silence(path: &Path) {
    let mut samples = vec![0.0f32; 8000];
    samples.extend(
        (0..8000).map(|i| 0.3 * (std::f32::consts::TAU * 440.0 * i as f32 / 16_000.0).sin()),
    );
    dpda::audio::write_wav(path, &samples, 16_000, dpda::audio::WavFormat::Float32).unwrap();
}

#[test]
fn explain_prints_top_tiles_shares_and_the_json_grid() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let run_dir = dir.path().join("run");
    let out = dpda()
        .args(["train", config.to_str().unwrap(), "--quiet"])
        .args(["--max-steps", "3", "--run-dir", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    success_stdout(out);
    let clip = dir.path().join("half.wav");
    write_half_silence(&clip);
    // The model sees the whole second: 4 blocks of 0.25 s × 4 bands of 2 kHz.
    let common_args = [
        "explain",
        "--checkpoint",
        run_dir.to_str().unwrap(),
        "--num-samples",
        "16000",
        "--bands",
        "4",
    ];

    let json_path = dir.path().join("explanation.json");
    let out = dpda()
        .args(common_args)
        .args(["--json", "--out", json_path.to_str().unwrap()])
        .arg(&clip)
        .output()
        .unwrap();
    let stdout = success_stdout(out);
    assert_eq!(
        std::fs::read_to_string(&json_path).unwrap().trim(),
        stdout.trim()
    );
    let e: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(e["method"], "occlusion");
    assert_eq!(e["explained_samples"], 16_000);
    let grid = e["attributions"].as_array().unwrap();
    assert_eq!(grid.len(), 4);
    assert!(grid.iter().all(|row| row.as_array().unwrap().len() == 4));
    let edges: Vec<f64> = serde_json::from_value(e["block_edges_s"].clone()).unwrap();
    assert_eq!(edges, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    let bands: Vec<f64> = serde_json::from_value(e["band_edges_hz"].clone()).unwrap();
    assert_eq!(bands, vec![0.0, 2000.0, 4000.0, 6000.0, 8000.0]);
    let fractions: Vec<f64> = serde_json::from_value(e["block_speech_fraction"].clone()).unwrap();
    assert_eq!(fractions, vec![0.0, 0.0, 1.0, 1.0]);
    let sum: f64 = grid
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - e["attribution_sum"].as_f64().unwrap()).abs() < 1e-9);

    // The explained score is the clip's raw logit at that input length.
    let out = dpda()
        .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
        .args(["--num-samples", "16000", "--raw"])
        .arg(&clip)
        .output()
        .unwrap();
    let scored: f64 = success_stdout(out)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((scored - e["score"].as_f64().unwrap()).abs() < 1e-9);

    // The summary: score, the top tiles asked for, the shares.
    let out = dpda()
        .args(common_args)
        .args(["--top", "3"])
        .arg(&clip)
        .output()
        .unwrap();
    let stdout = success_stdout(out);
    assert!(
        stdout.contains("by occlusion, 4 time blocks × 4 bands"),
        "{stdout}"
    );
    let tiles: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains(" Hz "))
        .collect();
    assert_eq!(tiles.len(), 3, "{stdout}");
    assert!(stdout.contains("speech 50.0% of the time"), "{stdout}");

    // Errors name the flag or the file; an --out that is the clip is refused.
    let out = dpda()
        .args(common_args)
        .args(["--tiles-s", "0"])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tiles-s"));
    let out = dpda()
        .args(common_args)
        .args(["--out", clip.to_str().unwrap()])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
    let missing = dir.path().join("missing.wav");
    let out = dpda().args(common_args).arg(&missing).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.wav"));
}
