//! Shared by the flow tests: the binary, a tiny demo-corpus config, and output checks.
// Each test crate compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// A dual-path PCGrad run of the tiny model on the tiny demo corpus: seconds in the dev profile.
pub const TINY_DEMO_CONFIG: &str = r#"
[data]
corpus = "demo"
demo_size = "tiny"
num_samples = 1600
[model]
name = "tiny"
[train]
mode = "dual"
align = "pcgrad"
batch_size = 4
epochs = 2
[optim]
lr = 0.01
"#;

/// The `dpda` binary under test.
pub fn dpda() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dpda"))
}

/// Asserts the command succeeded (showing its stderr if not) and returns its stdout.
pub fn success_stdout(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

#[cfg(all(feature = "gui", feature = "audio"))]
pub mod detect;

/// `dpda train CONFIG --quiet --run-dir RUN_DIR EXTRA…`, its output collected.
pub fn train_cli(config: &Path, run_dir: &Path, extra: &[&str]) -> Output {
    dpda()
        .args(["train", &config.to_string_lossy(), "--quiet", "--run-dir"])
        .arg(run_dir)
        .args(extra)
        .output()
        .expect("dpda train runs")
}
