//! Input warnings of `dpda score`: constructed silent, short (1 and 100 samples) and clipped
//! clips are reported on stderr and in `--json`; a clean clip is not; the default output keeps
//! its two columns.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;

mod common;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG as CONFIG};

fn write(path: &Path, samples: &[f32]) {
    dpda::audio::write_wav(path, samples, 16_000, dpda::audio::WavFormat::Float32).unwrap();
}

fn tone(num_samples: usize, amplitude: f32) -> Vec<f32> {
    (0..num_samples)
        .map(|i| amplitude * (std::f32::consts::TAU * 220.0 * i as f32 / 16_000.0).sin())
        .collect()
}

#[test]
fn score_warns_on_silent_short_and_clipped_clips() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let run_dir = dir.path().join("run");
    success_stdout(
        dpda()
            .args(["train", config.to_str().unwrap(), "--quiet"])
            .args(["--max-steps", "1", "--run-dir", run_dir.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    // The tiny run's input is 1600 samples (0.1 s).
    let audio = dir.path().join("audio");
    std::fs::create_dir_all(&audio).unwrap();
    write(&audio.join("clean.wav"), &tone(3200, 0.3));
    write(&audio.join("silent.wav"), &vec![0.0; 3200]);
    write(&audio.join("one.wav"), &[0.3]);
    write(&audio.join("hundred.wav"), &tone(100, 0.3));
    let clipped: Vec<f32> = tone(3200, 10.0)
        .iter()
        .map(|x| x.clamp(-1.0, 1.0))
        .collect();
    write(&audio.join("clipped.wav"), &clipped);
    let expected = [
        ("clean", vec![]),
        ("clipped", vec!["clipping"]),
        ("hundred", vec!["too_short"]),
        ("one", vec!["too_short"]),
        ("silent", vec!["silence"]),
    ];

    let score = |extra: &[&str]| {
        let out = dpda()
            .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
            .args(extra)
            .arg(&audio)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (success_stdout(out), stderr)
    };

    // Default output: two columns as before, warnings on stderr naming the file.
    let (stdout, stderr) = score(&[]);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(names, expected.iter().map(|e| e.0).collect::<Vec<_>>());
    assert!(
        stdout.lines().all(|l| l.split(' ').count() == 2),
        "{stdout}"
    );
    for (name, codes) in &expected {
        let file = audio.join(format!("{name}.wav"));
        let prefix = format!("warning: {}: ", file.display());
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(lines.len(), codes.len(), "{name}: {stderr}");
    }
    assert!(
        stderr.contains(&format!(
            "warning: {}: digital silence: peak -inf dBFS is below -80 dBFS\n",
            audio.join("silent.wav").display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("repeated 1600 times"), "{stderr}");
    assert!(stderr.contains("repeated 16 times"), "{stderr}");
    assert!(stderr.contains("clipping: "), "{stderr}");

    // --json: one object per trial with the same scores and the warning codes.
    let (json, _) = score(&["--json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), expected.len());
    assert!(
        json.lines().all(|l| l.starts_with(r#"{"trial":"#)),
        "{json}"
    );
    for ((row, (name, codes)), line) in rows.iter().zip(&expected).zip(stdout.lines()) {
        assert_eq!(row["trial"], *name);
        let plain: f64 = line.split(' ').nth(1).unwrap().parse().unwrap();
        // serde_json's default float parsing may differ in the last bit.
        assert!((row["score"].as_f64().unwrap() - plain).abs() < 1e-12);
        let got: Vec<&str> = row["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["code"].as_str().unwrap())
            .collect();
        assert_eq!(&got, codes, "{name}");
        assert!(row["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| !w["message"].as_str().unwrap().is_empty()));
        assert!(row.get("windows").is_none());
    }

    // --json with windows: each trial lists its windows, their mean is the score.
    let (json, _) = score(&["--json", "--window-s", "0.1", "--per-window"]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let windows = first["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 2, "{first}");
    assert_eq!(windows[1]["start_s"].as_f64().unwrap(), 0.1);
    let mean = windows
        .iter()
        .map(|w| w["score"].as_f64().unwrap())
        .sum::<f64>()
        / 2.0;
    assert!((first["score"].as_f64().unwrap() - mean).abs() < 1e-9);
}
