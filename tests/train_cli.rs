//! `dpda train` writing to a pipe (logs, batch jobs): run lines and notices reach stderr even
//! though the progress bar is hidden, and `--quiet` keeps only the notices.

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
