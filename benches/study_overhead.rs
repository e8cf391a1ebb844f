//! What a study costs beyond its runs: the same runs (2 conditions × 2 seeds of LFCC-LCNN-small
//! on the small demo corpus) once through `dpda study` and once as plain `dpda train` commands,
//! one after another, side by side in one process so that both see the same machine. The
//! overhead is the study's wall time over the direct runs' wall time, minus one; the goal is at
//! most 2 %. Alternating the order over rounds keeps warm caches from favouring either side.
//!
//! `cargo bench --bench study_overhead [-- ROUNDS STEPS]` (defaults: 2 rounds, 80 steps a run).
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is the failure report

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BASE: &str = r#"
[data]
corpus = "demo"
demo_size = "small"
num_samples = 32000
rawboost_algo = 4
[model]
name = "lcnn-small"
[train]
mode = "dual"
align = "pcgrad"
batch_size = 5
epochs = 100
patience = 100
keep_best = 3
[optim]
name = "adam"
lr = 1e-3
"#;

const CONDITIONS: [(&str, &[&str]); 2] = [
    ("plain", &["train.mode=\"plain\"", "train.align=\"none\""]),
    (
        "dual-pcgrad",
        &["train.mode=\"dual\"", "train.align=\"pcgrad\""],
    ),
];
const SEEDS: [u64; 2] = [1, 2];

fn dpda() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpda"));
    c.env(
        "DPDA_CACHE_DIR",
        std::env::temp_dir().join("dpda-bench-cache"),
    );
    c
}

fn study_once(dir: &Path, steps: u64) -> f64 {
    let mut study =
        format!("base = \"base.toml\"\nseeds = {SEEDS:?}\n[set]\n\"train.max_steps\" = {steps}\n");
    for (name, sets) in CONDITIONS {
        let table: Vec<String> = sets
            .iter()
            .map(|s| {
                let (k, v) = s.split_once('=').unwrap();
                format!("\"{k}\" = {v}")
            })
            .collect();
        study.push_str(&format!(
            "[[condition]]\nname = \"{name}\"\nset = {{ {} }}\n",
            table.join(", ")
        ));
    }
    std::fs::write(dir.join("study.toml"), study).unwrap();
    let out = dir.join("study-out");
    let _ = std::fs::remove_dir_all(&out);
    let t = Instant::now();
    let status = dpda()
        .arg("study")
        .arg(dir.join("study.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    t.elapsed().as_secs_f64()
}

fn direct_once(dir: &Path, steps: u64) -> f64 {
    let runs = dir.join("direct");
    let _ = std::fs::remove_dir_all(&runs);
    let t = Instant::now();
    for (name, sets) in CONDITIONS {
        for seed in SEEDS {
            let mut c = dpda();
            c.arg("train")
                .arg(dir.join("base.toml"))
                .arg("--run-dir")
                .arg(runs.join(format!("{name}-{seed}")))
                .arg("--quiet")
                .arg("--set")
                .arg(format!("train.seed={seed}"))
                .arg("--set")
                .arg(format!("train.max_steps={steps}"));
            for s in sets.iter() {
                c.arg("--set").arg(s);
            }
            let out = c.output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2);
    let steps: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(80);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.toml"), BASE).unwrap();
    // Render the demo corpus's disk cache once, outside the timings.
    study_once(dir.path(), 1);
    let (mut study_s, mut direct_s) = (0.0, 0.0);
    for round in 0..rounds {
        let (s, d) = if round % 2 == 0 {
            let s = study_once(dir.path(), steps);
            (s, direct_once(dir.path(), steps))
        } else {
            let d = direct_once(dir.path(), steps);
            (study_once(dir.path(), steps), d)
        };
        println!(
            "round {round}: study {s:.2} s, direct runs {d:.2} s, ratio {:.4}",
            s / d
        );
        study_s += s;
        direct_s += d;
    }
    println!(
        "study overhead over {} runs × {rounds} rounds ({steps} steps a run): {:+.2} % \
         (study {study_s:.1} s, direct {direct_s:.1} s; goal ≤ 2 %)",
        CONDITIONS.len() * SEEDS.len(),
        (study_s / direct_s - 1.0) * 100.0
    );
}
