//! The models folder: `dpda models` lists run folders and weights files with what scoring would
//! use (a calibration beside a weights file included), and lists a file that does not load with
//! its reason; the Detect view lists the same
//! folder and scores a demo clip with a listed model in two clicks ("Use", then the clip).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};

mod common;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A models folder with a tiny trained run (`tiny run`), a file that is no checkpoint
/// (`broken.pth`) and something that is not a model (`notes.txt`).
fn models_folder(dir: &Path) -> PathBuf {
    let models = dir.join("my models");
    std::fs::create_dir_all(&models).unwrap();
    let config = dir.join("tiny.toml");
    std::fs::write(
        &config,
        TINY_DEMO_CONFIG.replace("epochs = 2", "epochs = 1"),
    )
    .unwrap();
    success_stdout(
        dpda()
            .arg("train")
            .arg(&config)
            .arg("--quiet")
            .arg("--run-dir")
            .arg(models.join("tiny run"))
            .output()
            .unwrap(),
    );
    std::fs::write(models.join("broken.pth"), b"not a state dict").unwrap();
    std::fs::write(models.join("notes.txt"), b"read me").unwrap();
    models
}

#[test]
fn dpda_models_lists_what_scoring_would_use() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_folder(dir.path());
    let released = manifest().join("../shared/data/pretrained/AASIST-L.pth");
    let with_released = released.is_file();
    if with_released {
        std::fs::copy(&released, models.join("AASIST-L.pth")).unwrap();
    } else {
        println!("released weights absent: listing our own checkpoints only");
    }

    let text = success_stdout(dpda().arg("models").arg(&models).output().unwrap());
    let lines: Vec<&str> = text.lines().collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let mut want = vec!["broken.pth", "tiny run"];
    if with_released {
        want.insert(0, "AASIST-L.pth");
    }
    assert_eq!(names, want, "{text}");
    let broken = lines.iter().find(|l| l.starts_with("broken.pth")).unwrap();
    assert!(broken.contains("does not load"), "{broken}");
    let run = lines.iter().find(|l| l.starts_with("tiny run")).unwrap();
    assert!(run.contains("tiny\t1600 samples"), "{run}");

    // The JSON lines agree with what `dpda score` loads.
    let json = success_stdout(
        dpda()
            .args(["models", "--json"])
            .env("DPDA_MODELS_DIR", &models)
            .output()
            .unwrap(),
    );
    let entries: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), want.len());
    for entry in &entries {
        let path = entry["path"].as_str().unwrap();
        if entry["error"].is_null() {
            let score = dpda()
                .args(["score", "--checkpoint", path])
                .arg(manifest().join("assets/demo_bonafide.wav"))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&score.stderr);
            let n = entry["num_samples"].as_u64().unwrap();
            assert!(
                stderr.contains(&format!("input {n} samples")),
                "{path}: {stderr}"
            );
            assert!(stderr.contains(&format!("model {}", entry["model"].as_str().unwrap())));
        } else {
            assert_eq!(entry["kind"], "pth");
        }
    }
    if with_released {
        assert_eq!(entries[0]["model"], "aasist-l");
        assert_eq!(entries[0]["num_samples"], 64_600);
    }

    // A calibration beside a weights file (`<stem>.calibration.json`) is listed and applied.
    if with_released {
        let scores = dir.path().join("fit scores.txt");
        let key = dir.path().join("fit key.csv");
        std::fs::write(&scores, "a 2.0\nb 1.0\nc -1.5\nd 0.5\ne -0.2\nf -2.0\n").unwrap();
        std::fs::write(
            &key,
            "file,label\na,bona-fide\nb,bona-fide\nc,spoof\nd,spoof\ne,bona-fide\nf,spoof\n",
        )
        .unwrap();
        let beside = models.join("AASIST-L.calibration.json");
        success_stdout(
            dpda()
                .args(["calibrate", "--scores"])
                .arg(&scores)
                .arg("--key")
                .arg(&key)
                .arg("--out")
                .arg(&beside)
                .output()
                .unwrap(),
        );
        let listed = success_stdout(dpda().arg("models").arg(&models).output().unwrap());
        let line = listed
            .lines()
            .find(|l| l.starts_with("AASIST-L.pth"))
            .unwrap();
        assert!(line.contains("calibrated (beside the weights"), "{line}");
        let cal: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&beside).unwrap()).unwrap();
        let (a, b) = (cal["a"].as_f64().unwrap(), cal["b"].as_f64().unwrap());
        let clip = manifest().join("assets/demo_bonafide.wav");
        let weights = models.join("AASIST-L.pth");
        let score_of = |extra: &[&str]| -> f64 {
            let out = success_stdout(
                dpda()
                    .arg("score")
                    .arg("--checkpoint")
                    .arg(&weights)
                    .args(extra)
                    .arg(&clip)
                    .output()
                    .unwrap(),
            );
            out.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        let raw = score_of(&["--raw"]);
        let llr = score_of(&[]);
        assert!((llr - (a * raw + b)).abs() < 1e-9, "{llr} vs {a}·{raw}+{b}");
    }

    // A folder that does not exist is named in the error.
    let missing = dpda().args(["models", "no such folder"]).output().unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such folder"));
}

#[cfg(all(feature = "gui", feature = "audio"))]
#[test]
fn detect_view_scores_a_clip_with_a_listed_model_in_two_clicks() {
    use std::time::Duration;

    use common::detect::{detect_harness, quiet_view, step_until};
    use egui_kittest::kittest::Queryable;

    let limit = Duration::from_secs(60);
    let dir = tempfile::tempdir().unwrap();
    let models = models_folder(dir.path());
    let mut view = quiet_view();
    view.settings.models_dir = models.display().to_string();
    let mut h = detect_harness(view, None);
    step_until(&mut h, limit, |s| s.view.model_entries().len() == 2);
    assert_eq!(h.state().view.model_entries(), ["broken.pth", "tiny run"]);
    assert!(h.query_by_label("does not load").is_some());
    assert!(h.query_by_label_contains("tiny · 0.10 s input").is_some());

    // Click one: the listed run loads.
    h.get_by_label("Use").click();
    step_until(&mut h, limit, |s| {
        s.view.model().is_some() || s.view.error().is_some()
    });
    assert_eq!(h.state().view.error(), None);
    let info = h.state().view.model().unwrap().clone();
    assert_eq!(info.name, "tiny");
    assert!(info.weights.starts_with(models.join("tiny run")));

    // Click two: a demo clip, scored by that model.
    h.get_by_label("demo_bonafide.wav").click();
    step_until(&mut h, limit, |s| {
        (s.view.score().is_some() && !s.view.is_busy()) || s.view.error().is_some()
    });
    let scorer =
        dpda::inference::Scorer::load(&dpda::inference::ModelRequest::new(models.join("tiny run")))
            .unwrap();
    let clip = dpda::audio::load_mono_16k(&manifest().join("assets/demo_bonafide.wav")).unwrap();
    let want = scorer.score(&clip.samples).unwrap();
    let got = h.state().view.score().unwrap();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
}
