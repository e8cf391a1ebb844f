//! `dpda eval` end to end: the binary on fixture keys and score files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dpda::data::protocol::{load_key, KeyFormat};
use dpda::data::OnProblem;
use dpda::metrics::scores::{join_scores, load_asv_scores, load_scores, JoinPolicy, ScoreFormat};
use dpda::metrics::{
    asv_error_rates_at_eer, eer, min_dcf, min_tdcf, tdcf_coefficients, DcfCosts, TdcfCosts,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn key_path() -> PathBuf {
    root().join("tests/fixtures/protocols/la2019_train_excerpt.txt")
}

fn scores_path(name: &str) -> PathBuf {
    root().join("tests/fixtures/metrics").join(name)
}

fn dpda_eval(extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpda"))
        .arg("eval")
        .args(extra)
        .output()
        .unwrap()
}

/// `dpda eval --scores SCORES --key <fixture key> EXTRA…`.
fn eval_against_key(scores: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--scores", scores.to_str().unwrap(), "--key"];
    let key = key_path();
    args.push(key.to_str().unwrap());
    args.extend_from_slice(extra);
    dpda_eval(&args)
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// serde_json's default float parser may be one ulp off, so JSON numbers are compared to 1e-12.
fn assert_close(json: &serde_json::Value, want: f64) {
    let got = json.as_f64().unwrap();
    assert!((got - want).abs() <= 1e-12, "got {got}, library {want}");
}

fn library_split(scores: &Path, policy: JoinPolicy) -> (Vec<f64>, Vec<f64>) {
    let key = load_key(&key_path(), KeyFormat::Auto, OnProblem::Fail).unwrap();
    let s = load_scores(scores, ScoreFormat::Auto).unwrap();
    join_scores(&s, &key, policy).unwrap().split_by_label()
}

#[test]
fn json_output_matches_the_library() {
    let scores = scores_path("excerpt_scores.txt");
    let asv = scores_path("asv_scores.txt");
    let out = eval_against_key(
        &scores,
        &[
            "--asv-scores",
            asv.to_str().unwrap(),
            "--breakdown",
            "--json",
        ],
    );
    assert_success(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (bona, spoof) = library_split(&scores, JoinPolicy::RequireAll);
    let e = eer(&bona, &spoof).unwrap();
    let got = v["eer"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&got));
    assert_close(&v["eer"], e.eer);
    assert_close(&v["eer_threshold"], e.threshold);
    assert_eq!(v["n_bonafide"], 8);
    assert_eq!(v["n_spoof"], 12);
    assert_eq!(v["key_format"], "la2019");
    let m = min_dcf(&bona, &spoof, &DcfCosts::default()).unwrap();
    assert_close(&v["min_dcf"], m.min_dcf);

    let a = load_asv_scores(&asv).unwrap();
    let rates = asv_error_rates_at_eer(&a.target, &a.nontarget, &a.spoof).unwrap();
    let t = min_tdcf(
        &bona,
        &spoof,
        &tdcf_coefficients(&rates, &TdcfCosts::default()),
    )
    .unwrap();
    assert_close(&v["tdcf"]["min_tdcf"], t.min_tdcf);

    let attacks = v["breakdown"]["attack"].as_array().unwrap();
    assert_eq!(attacks.len(), 6);
    assert_eq!(attacks[0]["name"], "A01");
    assert_eq!(attacks[0]["n_bonafide"], 8);
    assert_eq!(attacks[0]["n_spoof"], 2);
}

#[test]
fn missing_trials_are_refused_with_counts() {
    let scores = scores_path("excerpt_scores_partial.txt");
    let out = eval_against_key(&scores, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 of 20 key trials have no score"), "{err}");
    assert!(err.contains("first: LA_T_1060877"), "{err}");
    assert!(
        err.contains("1 of 18 scored trials are not in the key (first: LA_T_9999999)"),
        "{err}"
    );
    assert!(err.contains("--intersection"), "{err}");
}

#[test]
fn intersection_evaluates_common_trials() {
    let scores = scores_path("excerpt_scores_partial.txt");
    let out = eval_against_key(&scores, &["--intersection", "--json"]);
    assert_success(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n_trials"], 17);
    assert_eq!(v["n_missing"], 3);
    assert_eq!(v["n_unknown"], 1);
    let (bona, spoof) = library_split(&scores, JoinPolicy::Intersection);
    assert_close(&v["eer"], eer(&bona, &spoof).unwrap().eer);
    assert!(String::from_utf8_lossy(&out.stderr).contains("evaluating the intersection: 17 trials"));
}

#[test]
fn bad_score_line_names_file_and_line() {
    let scores = scores_path("excerpt_scores_bad.txt");
    let out = eval_against_key(&scores, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("excerpt_scores_bad.txt:3: cannot read score '0.1.2' as a number"),
        "{err}"
    );
}

#[test]
fn text_output_reports_eer_percent() {
    let scores = scores_path("excerpt_scores.txt");
    let out = eval_against_key(
        &scores,
        &["--format", "la2019", "--score-format", "two-column"],
    );
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let (bona, spoof) = library_split(&scores, JoinPolicy::RequireAll);
    let e = eer(&bona, &spoof).unwrap();
    assert!(
        text.contains(&format!("EER:    {:.4} %", e.eer * 100.0)),
        "{text}"
    );
    assert!(
        text.contains("trials: 20 (8 bona fide, 12 spoof)"),
        "{text}"
    );
}

/// `dpda eval … | head -1`: a closed standard output ends the command quietly, with success.
#[test]
fn eval_into_a_closed_pipe_ends_quietly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("s.txt");
    let key = dir.path().join("k.csv");
    let mut s = String::new();
    // Thousands of attacks: the per-attack table is far larger than a pipe's buffer, so the
    // writer meets the closed pipe.
    let mut k = String::from("file,label,attack\n");
    for i in 0..6000 {
        s.push_str(&format!("t{i} {}\n", (i as f64 * 0.37).sin()));
        if i % 3 == 0 {
            k.push_str(&format!("t{i},bonafide,-\n"));
        } else {
            k.push_str(&format!("t{i},spoof,A{i}\n"));
        }
    }
    std::fs::write(&scores, s).unwrap();
    std::fs::write(&key, k).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dpda"))
        .args(["eval", "--breakdown", "--scores"])
        .arg(&scores)
        .arg("--key")
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with("trials:"), "{first}");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
