//! Flow tests of `dpda sweep`: two tiny runs (two seeds) swept over the demo corpus's wild split
//! under a small grid, checked against `dpda score` + `dpda eval` on the clean clips, with the
//! table, the JSON and the `--out` CSV telling the same numbers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};

use common::{dpda, success_stdout, TINY_DEMO_CONFIG};

/// Export the tiny demo corpus into `dir`; returns the wild split's folder.
pub fn export_tiny_corpus(dir: &Path) -> PathBuf {
    let out = dpda()
        .args(["corpus", "export"])
        .arg(dir.join("corpus"))
        .args(["--size", "tiny", "--quiet"])
        .output()
        .unwrap();
    success_stdout(out);
    dir.join("corpus").join("wild")
}

/// Train a tiny run with `seed` into `dir/run-<seed>`.
fn train_tiny(dir: &Path, seed: u64) -> PathBuf {
    let config = dir.join("tiny.toml");
    std::fs::write(&config, TINY_DEMO_CONFIG).unwrap();
    let run_dir = dir.join(format!("run-{seed}"));
    let out = dpda()
        .args(["train", config.to_str().unwrap(), "--quiet"])
        .args(["--max-steps", "2", "--set", "device.kind=cpu"])
        .args(["--set", &format!("train.seed={seed}")])
        .args(["--run-dir", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    success_stdout(out);
    run_dir
}

/// The `condition_names` of a sweep's JSON.
fn condition_names(v: &serde_json::Value) -> Vec<&str> {
    v["condition_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

const GRID: &str = "clean = true\n[noise]\nkinds = [\"white\"]\nsnr_db = [0]\n\
                    [duration]\nduration_s = [0.5]\n[level]\ngain_db = [30]\n";

#[test]
fn two_tiny_runs_are_swept_over_the_wild_split() {
    let dir = tempfile::tempdir().unwrap();
    let wild = export_tiny_corpus(dir.path());
    let key = wild.join("key.csv");
    let run_a = train_tiny(dir.path(), 1);
    let run_b = train_tiny(dir.path(), 2);
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, GRID).unwrap();
    let out_csv = dir.path().join("sweep.csv");
    let sweep = |extra: &[&str]| {
        let mut cmd = dpda();
        cmd.arg("sweep")
            .arg("--checkpoint")
            .arg(&run_a)
            .arg("--checkpoint")
            .arg(&run_b)
            .arg("--key")
            .arg(&key)
            .arg("--grid")
            .arg(&grid)
            .args(extra)
            .arg(wild.join("flac"));
        cmd.output().unwrap()
    };
    let json = success_stdout(sweep(&["--json", "--out", out_csv.to_str().unwrap()]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let names = condition_names(&v);
    assert_eq!(
        names,
        ["clean", "noise-white-0db", "duration-0.5s", "level+30db"]
    );
    let key_rows = std::fs::read_to_string(&key).unwrap().lines().count() - 1;
    let n_bonafide = v["num_bonafide"].as_u64().unwrap() as usize;
    let n_spoof = v["num_spoof"].as_u64().unwrap() as usize;
    assert_eq!(n_bonafide + n_spoof, key_rows);
    assert!(n_bonafide > 0 && n_spoof > 0);
    let eer: Vec<Vec<f64>> = v["eer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(eer.len(), 4);
    assert!(eer
        .iter()
        .all(|row| row.len() == 2 && row.iter().all(|e| (0.0..=1.0).contains(e))));

    // The clean row is what `dpda score --raw` + `dpda eval` give for each checkpoint (the sweep
    // ranks raw logits; a run's calibration, an affine map, changes no EER unless its slope is
    // negative, as it can be for these 2-step models).
    for (k, run) in [&run_a, &run_b].into_iter().enumerate() {
        let scores = dir.path().join(format!("scores-{k}.txt"));
        success_stdout(
            dpda()
                .arg("score")
                .arg("--raw")
                .arg("--checkpoint")
                .arg(run)
                .arg("--out")
                .arg(&scores)
                .arg(wild.join("flac"))
                .output()
                .unwrap(),
        );
        let eval = success_stdout(
            dpda()
                .args(["eval", "--json", "--scores"])
                .arg(&scores)
                .arg("--key")
                .arg(&key)
                .output()
                .unwrap(),
        );
        let e: serde_json::Value = serde_json::from_str(&eval).unwrap();
        let reference = e["eer"].as_f64().unwrap();
        assert!(
            (eer[0][k] - reference).abs() < 1e-9,
            "checkpoint {k}: sweep {} vs eval {reference}",
            eer[0][k]
        );
    }

    // The CSV written by --out: one row per condition, percentages and the difference.
    let csv = std::fs::read_to_string(&out_csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("condition,run-1 eer_%,run-2 eer_%,difference_pp"));
    for (row, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], names[row]);
        let a: f64 = fields[1].parse().unwrap();
        let b: f64 = fields[2].parse().unwrap();
        let d: f64 = fields[3].parse().unwrap();
        assert!((a - 100.0 * eer[row][0]).abs() < 1e-4, "{line}");
        assert!((b - 100.0 * eer[row][1]).abs() < 1e-4, "{line}");
        assert!((d - (b - a)).abs() < 2e-4, "{line}");
    }

    // The table: a row per condition with the same numbers to two decimals (the degraded audio
    // is the same on a second run).
    let out_json = dir.path().join("sweep.json");
    let table = success_stdout(sweep(&["--out", out_json.to_str().unwrap()]));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_json).unwrap()).unwrap();
    assert_eq!(written["eer"], v["eer"]);
    assert!(
        table.contains("[1] EER %") && table.contains("diff pp"),
        "{table}"
    );
    for (row, name) in names.iter().enumerate() {
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row {name} in {table}"));
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[1], format!("{:.2}", 100.0 * eer[row][0]), "{line}");
        assert_eq!(cells[2], format!("{:.2}", 100.0 * eer[row][1]), "{line}");
    }

    // --out never overwrites an input.
    let out = sweep(&["--out", key.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--out"), "{stderr}");
}

#[test]
fn a_bad_grid_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "[reverb]\nrt60_s = [0.5, 9]\n").unwrap();
    let out = dpda()
        .args([
            "sweep",
            "--checkpoint",
            "none",
            "--key",
            "none.csv",
            "--grid",
        ])
        .arg(&grid)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("grid.toml") && stderr.contains("`reverb.rt60_s[1]`"),
        "{stderr}"
    );
}

/// Real codecs as sweep conditions through the CLI: one row per codec and bit rate, named so, and
/// the same EERs on a rerun (the codecs are deterministic).
#[cfg(feature = "codecs")]
#[test]
fn real_codecs_sweep_at_each_bit_rate() {
    let dir = tempfile::tempdir().unwrap();
    let wild = export_tiny_corpus(dir.path());
    let run = train_tiny(dir.path(), 3);
    let grid = dir.path().join("codec grid.toml");
    std::fs::write(
        &grid,
        "clean = false\n[codec]\nkinds = [\"ulaw\", \"mp3\", \"vorbis\", \"opus\"]\n\
         bitrate_kbps = [16, 48]\n",
    )
    .unwrap();
    let sweep = || {
        let out = dpda()
            .arg("sweep")
            .arg("--checkpoint")
            .arg(&run)
            .arg("--key")
            .arg(wild.join("key.csv"))
            .arg("--grid")
            .arg(&grid)
            .arg("--json")
            .arg(wild.join("flac"))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&success_stdout(out)).unwrap();
        v
    };
    let v = sweep();
    let names = condition_names(&v);
    assert_eq!(
        names,
        [
            "codec-ulaw",
            "codec-mp3-16kbps",
            "codec-mp3-48kbps",
            "codec-vorbis-16kbps",
            "codec-vorbis-48kbps",
            "codec-opus-16kbps",
            "codec-opus-48kbps"
        ]
    );
    let eer = v["eer"].as_array().unwrap();
    assert_eq!(eer.len(), 7);
    assert!(eer
        .iter()
        .all(|row| row[0].as_f64().is_some_and(|e| (0.0..=1.0).contains(&e))));
    assert_eq!(sweep()["eer"], v["eer"]);
}
