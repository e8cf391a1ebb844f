//! `dpda demo` end to end on the tiny demo corpus: files written, and its EERs equal what
//! `dpda eval` computes from the score files it leaves behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::Command;

fn dpda() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dpda"))
}

#[test]
fn demo_writes_scores_that_eval_reproduces() {
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let status = dpda()
        .args([
            "demo",
            "--size",
            "tiny",
            "--train-steps",
            "6",
            "--cache-dir",
        ])
        .arg(cache.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    // The story: an augmented-only run and a dual-path PCGrad run, each evaluated on eval and
    // wild; only the dual run has two gradients to compare, and the report says how often they
    // conflicted.
    let stdout = String::from_utf8_lossy(&status.stdout);
    let runs = summary["training"].as_array().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["augmented", "dual-pcgrad"]);
    for run in runs {
        assert_eq!(run["num_steps"], 6);
        for set in ["eval", "wild"] {
            let e = run["eer"][set].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&e), "{set} {e}");
        }
        let dir = std::path::Path::new(run["run_dir"].as_str().unwrap());
        assert!(dir.join("scores-wild.txt").is_file(), "{}", dir.display());
    }
    assert!(runs[0]["conflict_frac"].is_null());
    let frac = runs[1]["conflict_frac"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&frac));
    assert!(
        stdout.contains(&format!("{:.1} % of steps", frac * 100.0)),
        "{stdout}"
    );
    for file in [
        "rawboost-example-original.wav",
        "rawboost-example-augmented.wav",
    ] {
        let clip = dpda::audio::load_mono(&out.path().join(file)).unwrap();
        assert_eq!(
            clip.samples.len(),
            dpda::audio::DEFAULT_NUM_SAMPLES,
            "{file}"
        );
    }
    let key = cache
        .path()
        .join("demo-tiny-seed2024/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt");
    for variant in ["plain", "rawboost"] {
        let scores = out.path().join(format!("scores-{variant}-eval.txt"));
        let eval = dpda()
            .arg("eval")
            .arg("--scores")
            .arg(&scores)
            .arg("--key")
            .arg(&key)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            eval.status.success(),
            "{}",
            String::from_utf8_lossy(&eval.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
        let from_eval = report["eer"].as_f64().unwrap();
        let from_demo = summary[variant]["eval"]["eer"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&from_demo));
        assert_eq!(from_eval, from_demo, "{variant}");
    }
}

/// `dpda demo | head -1`: the reader goes away after one line; the demo neither panics nor
/// leaves its files unwritten.
#[test]
fn demo_survives_a_closed_stdout() {
    use std::io::BufRead;
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut child = dpda()
        .args([
            "demo",
            "--size",
            "tiny",
            "--train-steps",
            "2",
            "--cache-dir",
        ])
        .arg(cache.path())
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
    }
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.path().join("summary.json").is_file());
}
