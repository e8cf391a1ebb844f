//! `dpda train` writing to a pipe (logs, batch jobs): run lines and notices reach stderr even
//! though the progress bar is hidden, and `--quiet` keeps only the notices.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG};

fn train(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, TINY_DEMO_CONFIG).unwrap();
    let run_dir = dir.path().join("run");
    let out = dpda()
        .args(["train", config.to_str().unwrap(), "--max-steps", "2"])
        .args([
            "--set",
            "device.kind=auto",
            "--run-dir",
            run_dir.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    success_stdout(out);
    stderr
}

#[test]
fn piped_training_prints_run_lines_and_the_device_notice() {
    let cuda = candle_core::utils::cuda_is_available();
    let stderr = train(&[]);
    assert!(stderr.contains("parameters"), "{stderr}");
    assert!(stderr.contains("finished ("), "{stderr}");
    // Without a usable GPU (CI), `auto` falls back and says so.
    if !cuda {
        assert!(stderr.contains("training on the CPU"), "{stderr}");
    }
    let quiet = train(&["--quiet"]);
    assert!(!quiet.contains("finished ("), "{quiet}");
    if !cuda {
        assert!(quiet.contains("training on the CPU"), "{quiet}");
    }
}

#[test]
fn a_pretrained_front_end_is_reported_when_training_starts() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/xlsr/fairseq_xlsr_tiny.pt");
    let config = TINY_DEMO_CONFIG.replace(
        "name = \"tiny\"",
        &format!(
            "name = \"xlsr-tiny-aasist\"\n[model.options]\nfront_end_weights = {:?}",
            fixture.to_str().unwrap()
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("xlsr.toml");
    std::fs::write(&path, config).unwrap();
    let out = dpda()
        .args([
            "train",
            path.to_str().unwrap(),
            "--max-steps",
            "1",
            "--quiet",
        ])
        .args(["--run-dir", dir.path().join("run").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    success_stdout(out);
    assert!(stderr.contains("front end from"), "{stderr}");
    assert!(stderr.contains("(fairseq)"), "{stderr}");
    assert!(
        stderr.contains("set aside (") && stderr.contains("mask_emb"),
        "{stderr}"
    );
}
