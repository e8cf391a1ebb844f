//! `dpda study` end to end on the tiny demo corpus: study file errors refused before any run,
//! a 2 × 2 study with its study.json, report and plots, a failing condition that does not stop
//! the others, and an interrupted study continued by the same command.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};

use common::{dpda, TINY_DEMO_CONFIG};

/// A folder with the tiny base configuration and a study file `study.toml` with `body` after
/// the base line.
fn study_dir(body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY_DEMO_CONFIG).unwrap();
    let study = dir.path().join("study.toml");
    std::fs::write(&study, format!("base = \"tiny.toml\"\n{body}")).unwrap();
    (dir, study)
}

const TWO_CONDITIONS: &str = r#"seeds = [1, 2]
[set]
"train.max_steps" = 4
"data.demo_size" = "tiny"
[[condition]]
name = "plain"
set = { "train.mode" = "plain", "train.align" = "none" }
[[condition]]
name = "dual-pcgrad"
set = { "train.mode" = "dual", "train.align" = "pcgrad" }
"#;

fn run_study(study: &Path, out: &Path) -> std::process::Output {
    run_study_with(study, out, &[])
}

fn run_study_with(study: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    dpda()
        .args([
            "study",
            study.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn study_file_errors_are_refused_before_any_run() {
    // An unknown key names its line.
    let (dir, study) = study_dir("seeds = [1]\nsedes = [2]\n[[condition]]\nname = \"a\"\n");
    let out = run_study(&study, &dir.path().join("out"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("sedes") && stderr.contains("line 3"),
        "{stderr}"
    );

    // A `set` key the training configuration does not have: condition and key named, nothing run.
    let (dir, study) = study_dir(
        "seeds = [1, 2]\n[[condition]]\nname = \"a\"\n[[condition]]\nname = \"b\"\n\
         set = { \"train.mode\" = \"plain\", \"train.algn\" = \"none\" }\n",
    );
    let out_dir = dir.path().join("out");
    let out = run_study(&study, &out_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("condition 'b'") && stderr.contains("train.algn"),
        "{stderr}"
    );
    assert!(
        !out_dir.join("runs").exists(),
        "no run folder may be created"
    );

    // Duplicate condition names, a baseline that is no condition, no seeds.
    for (body, expected) in [
        (
            "seeds = [1]\n[[condition]]\nname = \"a\"\n[[condition]]\nname = \"a\"\n",
            "used twice",
        ),
        (
            "seeds = [1]\nbaseline = \"z\"\n[[condition]]\nname = \"a\"\n",
            "not a condition",
        ),
        (
            "seeds = []\n[[condition]]\nname = \"a\"\n",
            "at least one seed",
        ),
        ("seeds = [1]\n", "at least one condition"),
        ("seeds = [1]\n[[condition]]\nname = \"a/b\"\n", "folder"),
    ] {
        let (dir, study) = study_dir(body);
        let out = run_study(&study, &dir.path().join("out"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{body}");
        assert!(stderr.contains(expected), "{body}: {stderr}");
    }
}

#[test]
fn a_study_runs_every_condition_and_seed_and_reports_them() {
    let (dir, study) = study_dir(TWO_CONDITIONS);
    let out_dir = dir.path().join("out");
    // Two trainings at a time: the results are those of runs made one after another.
    let out = run_study_with(&study, &out_dir, &["--jobs", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 at a time"), "{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("dual-pcgrad seed 2: finished"), "{stdout}");
    assert!(stdout.contains("eval EER"), "{stdout}");
    assert!(stdout.contains("report.md"), "{stdout}");

    let s = json(&out_dir.join("study.json"));
    assert_eq!(s["baseline"], "plain");
    assert_eq!(s["test_sets"]["eval"], "keys/eval.txt");
    assert!(out_dir.join("keys/eval.txt").is_file());
    // The demo corpus's domain-shifted split is a test set of every run, with per-condition
    // breakdowns from the conditions its key records.
    assert_eq!(s["test_sets"]["wild"], "keys/wild.csv");
    assert!(out_dir.join("keys/wild.csv").is_file());
    let conditions = s["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 2);
    for c in conditions {
        let runs = c["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2);
        let mut eers = Vec::new();
        for r in runs {
            assert_eq!(r["status"], "finished");
            let e = r["eer"]["eval"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&e));
            eers.push(e);
            let scores = out_dir.join(r["scores"]["eval"].as_str().unwrap());
            assert!(scores.is_file());
            let wild = r["eer"]["wild"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&wild));
            assert!(out_dir
                .join(r["scores"]["wild"].as_str().unwrap())
                .is_file());
            assert!(!r["condition_eer"]["wild"].as_object().unwrap().is_empty());
            assert!(r["wall_time_s"].as_f64().unwrap() > 0.0);
            assert!(r["best_epoch"].is_u64() && r["epochs"].is_u64());
            let run_dir = out_dir.join(r["run_dir"].as_str().unwrap());
            assert!(run_dir.join("study-run.log").is_file());
            // The seed reached the run and nothing else changed with it.
            let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
            assert!(
                config.contains(&format!("seed = {}", r["seed"])),
                "{config}"
            );
        }
        // The condition's mean is the mean of its seeds.
        let mean = c["eer"]["eval"]["mean"].as_f64().unwrap();
        assert!((mean - (eers[0] + eers[1]) / 2.0).abs() < 1e-12);
        assert!(c["eer"]["eval"]["ci95"].is_array());
        assert!(c["curves"]["dev_eer"]["mean"].is_array());
    }
    assert!(conditions[1]["conflict_frac"]["mean"].is_f64());
    let cmp = &s["comparisons"][0];
    assert_eq!(cmp["condition"], "dual-pcgrad");
    assert_eq!(cmp["test_set"], "eval");
    assert_eq!(cmp["n"], 2);
    // The collected results read back into the library's type.
    let _: dpda::study::StudyResults =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("study.json")).unwrap())
            .unwrap();

    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for needle in [
        "## EER on `eval`",
        "## Comparisons with `plain`",
        "EER per attack",
        "epochs to best dev loss",
        "`train.max_steps=4`",
    ] {
        assert!(report.contains(needle), "{needle}: {report}");
    }
    for plot in ["eer.png", "eer.svg", "curves.png", "curves.svg"] {
        let len = std::fs::metadata(out_dir.join(plot)).unwrap().len();
        assert!(len > 1000, "{plot}");
    }
    assert!(std::fs::read(out_dir.join("eer.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));

    // The same command again runs nothing.
    let summary = out_dir.join("runs/plain/seed-1/summary.json");
    let before = std::fs::metadata(&summary).unwrap().modified().unwrap();
    let again = run_study(&study, &out_dir);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("skipped"));
    assert_eq!(
        std::fs::metadata(&summary).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn a_failing_condition_is_recorded_and_the_others_finish() {
    // `device.kind = "cuda"` passes the plan's checks but fails when the run starts (no CUDA in
    // a build without the `cuda` feature).
    let body = r#"seeds = [1]
[set]
"train.max_steps" = 3
[[condition]]
name = "plain"
set = { "train.mode" = "plain", "train.align" = "none" }
[[condition]]
name = "broken"
set = { "device.kind" = "cuda" }
"#;
    if cfg!(feature = "cuda") {
        return;
    }
    let (dir, study) = study_dir(body);
    let out_dir = dir.path().join("out");
    let out = run_study(&study, &out_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failed run fails the study");
    assert!(stderr.contains("1 of 2 runs failed"), "{stderr}");
    let s = json(&out_dir.join("study.json"));
    assert_eq!(s["conditions"][0]["runs"][0]["status"], "finished");
    let broken = &s["conditions"][1]["runs"][0];
    assert_eq!(broken["status"], "failed");
    assert!(!broken["errors"][0].as_str().unwrap().is_empty());
    assert!(out_dir.join("runs/broken/seed-1/study-run.log").is_file());
    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(report.contains("broken seed 1 (failed"), "{report}");
}

#[test]
fn an_interrupted_study_continues_where_it_stopped() {
    let (dir, study) = study_dir(TWO_CONDITIONS);
    let out_dir = dir.path().join("out");
    assert!(run_study(&study, &out_dir).status.success());
    // As if the study had been stopped during the last run: that run's end is lost, the
    // others are finished.
    let unfinished = out_dir.join("runs/dual-pcgrad/seed-2");
    std::fs::remove_file(unfinished.join("summary.json")).unwrap();
    std::fs::remove_file(unfinished.join("study-run.json")).unwrap();
    let finished = out_dir.join("runs/plain/seed-1/summary.json");
    let before = std::fs::metadata(&finished).unwrap().modified().unwrap();
    let partial = json(&out_dir.join("study.json"));
    assert_eq!(partial["conditions"][1]["runs"][1]["status"], "finished");

    let out = run_study(&study, &out_dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("skipped").count(), 3, "{stdout}");
    assert!(stdout.contains("dual-pcgrad seed 2: resuming"), "{stdout}");
    assert!(unfinished.join("summary.json").is_file());
    assert_eq!(
        std::fs::metadata(&finished).unwrap().modified().unwrap(),
        before
    );
    let s = json(&out_dir.join("study.json"));
    assert_eq!(s["conditions"][1]["runs"][1]["status"], "finished");
}

/// Ctrl-C in a terminal: the whole process group gets SIGINT; the study waits for its child,
/// which saves a checkpoint, writes what is finished and exits non-zero; the same command then
/// completes the study.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn ctrl_c_stops_the_study_and_the_same_command_continues_it() {
    use std::os::unix::process::CommandExt;
    // Long enough runs that the signal lands while the first one trains.
    let body = TWO_CONDITIONS.replace("\"train.max_steps\" = 4", "\"train.epochs\" = 12");
    let (dir, study) = study_dir(&body);
    let out_dir = dir.path().join("out");
    let child = dpda()
        .args([
            "study",
            study.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    // Wait until the first run has written an epoch (a checkpoint exists).
    let first = out_dir.join("runs/plain/seed-1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !first.join("checkpoints/last.json").is_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint written"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pgid = child.id() as i32;
    // SAFETY: kill(2) with a negative pid signals the process group this test created; it
    // touches no memory.
    let rc = unsafe { libc::kill(-pgid, libc::SIGINT) };
    assert_eq!(rc, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("continues the study"), "{stderr}");
    let s = json(&out_dir.join("study.json"));
    let status = s["conditions"][0]["runs"][0]["status"].as_str().unwrap();
    // The signal may land just as the run ends.
    assert!(status == "interrupted" || status == "finished", "{status}");
    assert_eq!(s["conditions"][1]["runs"][0]["status"], "pending");
    assert!(!out_dir.join("runs/dual-pcgrad").exists());

    let again = run_study(&study, &out_dir);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
    if status == "interrupted" {
        assert!(stdout.contains("plain seed 1: resuming"), "{stdout}");
    }
    let s = json(&out_dir.join("study.json"));
    for c in s["conditions"].as_array().unwrap() {
        for r in c["runs"].as_array().unwrap() {
            assert_eq!(r["status"], "finished");
        }
    }
}
