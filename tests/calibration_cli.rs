//! Score calibration through the binary: a tiny run stores `calibration.json`, `dpda score`
//! applies it (or `--raw`, or a `--calibration` file), `dpda calibrate` fits one on an exported
//! corpus's dev split or on a score file, and `dpda eval --calibration` reports before and after.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

mod common;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG as CONFIG};
use dpda::metrics::calibration::Calibration;

fn scores_of(stdout: &str) -> BTreeMap<String, f64> {
    stdout
        .lines()
        .map(|l| {
            let (name, score) = l.split_once(' ').unwrap();
            (name.to_string(), score.parse().unwrap())
        })
        .collect()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn runs_store_a_calibration_that_score_calibrate_and_eval_use() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let run = dir.path().join("run");
    success_stdout(
        dpda()
            .args(["train", s(&config), "--quiet", "--max-steps", "3"])
            .args(["--run-dir", s(&run)])
            .output()
            .unwrap(),
    );
    let own = Calibration::read(&run.join("calibration.json")).unwrap();
    let model = own.model.clone().unwrap();
    assert_eq!((model.name.as_str(), model.num_samples), ("tiny", 1600));
    assert!(own.source.starts_with("dev set of run"), "{}", own.source);
    // The tiny demo corpus's dev split: 4 bona fide, 8 spoof.
    assert_eq!((own.n_bonafide, own.n_spoof), (4, 8));

    let corpus = dir.path().join("corpus");
    success_stdout(
        dpda()
            .args(["corpus", "export", s(&corpus), "--size", "tiny", "--quiet"])
            .output()
            .unwrap(),
    );
    let dev = corpus.join("ASVspoof2019_LA_dev/flac");
    let key = corpus.join("ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.dev.trl.txt");

    // The run's own calibration is applied by default: LLR = a·logit + b of the --raw scores.
    let raw_path = dir.path().join("raw.txt");
    let out = dpda()
        .args(["score", "--checkpoint", s(&run), "--raw", s(&dev)])
        .args(["--out", s(&raw_path)])
        .output()
        .unwrap();
    assert!(stderr_of(&out).contains("raw bona fide logits"));
    let raw = scores_of(&success_stdout(out));
    let out = dpda()
        .args(["score", "--checkpoint", s(&run), s(&dev)])
        .output()
        .unwrap();
    assert!(
        stderr_of(&out).contains("the run's own"),
        "{}",
        stderr_of(&out)
    );
    let llr = scores_of(&success_stdout(out));
    assert_eq!(raw.len(), 12);
    for (name, r) in &raw {
        let want = own.a * r + own.b;
        assert!(
            (llr[name] - want).abs() < 1e-9,
            "{name}: {} {want}",
            llr[name]
        );
    }
    // So it is on the run's final checkpoint file.
    let final_weights = run.join("checkpoints/final.safetensors");
    let out = dpda()
        .args(["score", "--checkpoint", s(&final_weights), s(&dev)])
        .output()
        .unwrap();
    assert_eq!(scores_of(&success_stdout(out)), llr);

    // `dpda calibrate` scores the clips as `dpda score --raw` does: fitting on those scores
    // gives the same map.
    let from_clips = dir.path().join("clips.json");
    let out = dpda()
        .args([
            "calibrate",
            "--checkpoint",
            s(&run),
            "--key",
            s(&key),
            s(&dev),
        ])
        .args(["--out", s(&from_clips)])
        .output()
        .unwrap();
    let summary = success_stdout(out);
    assert!(
        summary.contains("CLLR:") && summary.contains("actDCF:"),
        "{summary}"
    );
    let from_scores = dir.path().join("scores.json");
    success_stdout(
        dpda()
            .args(["calibrate", "--scores", s(&raw_path), "--key", s(&key)])
            .args(["--out", s(&from_scores)])
            .output()
            .unwrap(),
    );
    let c1 = Calibration::read(&from_clips).unwrap();
    let c2 = Calibration::read(&from_scores).unwrap();
    assert_eq!((c1.a, c1.b), (c2.a, c2.b));
    assert_eq!(c1.model.as_ref().unwrap().num_samples, 1600);
    assert_eq!(c2.model, None);
    assert!(summary.contains(&format!("a = {}", c1.a)), "{summary}");

    // `--calibration` applies that file instead of the run's own.
    let out = dpda()
        .args([
            "score",
            "--checkpoint",
            s(&run),
            "--calibration",
            s(&from_clips),
        ])
        .arg(&dev)
        .output()
        .unwrap();
    let with_file = scores_of(&success_stdout(out));
    for (name, r) in &raw {
        assert!((with_file[name] - (c1.a * r + c1.b)).abs() < 1e-9, "{name}");
    }
    // Another input length than the one fitted for is warned about.
    let out = dpda()
        .args(["score", "--checkpoint", s(&run), "--num-samples", "3200"])
        .args(["--calibration", s(&from_clips), s(&dev)])
        .output()
        .unwrap();
    let warning = stderr_of(&out);
    success_stdout(out);
    assert!(
        warning.contains("warning") && warning.contains("input length 1600"),
        "{warning}"
    );

    // `dpda eval --calibration`: before and after on the fitting set are the fit's own record.
    let out = dpda()
        .args(["eval", "--scores", s(&raw_path), "--key", s(&key), "--json"])
        .args(["--calibration", s(&from_clips)])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&success_stdout(out)).unwrap();
    let cal = &v["calibration"];
    let close = |field: &str, want: f64| {
        let got = cal[field].as_f64().unwrap();
        assert!((got - want).abs() < 1e-12, "{field}: {got} {want}");
    };
    close("cllr_bits_before", c1.fit_set.cllr_before);
    close("cllr_bits_after", c1.fit_set.cllr_after);
    close("act_dcf_before", c1.fit_set.act_dcf_before);
    close("act_dcf_after", c1.fit_set.act_dcf_after);
    close("cllr_bits_before", v["cllr_bits"].as_f64().unwrap());
    let text = success_stdout(
        dpda()
            .args(["eval", "--scores", s(&raw_path), "--key", s(&key)])
            .args(["--calibration", s(&from_clips)])
            .output()
            .unwrap(),
    );
    assert!(text.contains("before → after: CLLR"), "{text}");
}

#[test]
fn calibrate_refuses_to_overwrite_what_is_not_a_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("scores.txt");
    let key = dir.path().join("key.csv");
    std::fs::write(&scores, "a 2.0\nb 1.0\nc -1.0\nd 0.5\n").unwrap();
    std::fs::write(
        &key,
        "file,label\na,bona-fide\nb,bona-fide\nc,spoof\nd,spoof\n",
    )
    .unwrap();
    let other = dir.path().join("notes.json");
    std::fs::write(&other, "{\"keep\": true}").unwrap();
    for (out, why) in [
        (&other, "not a calibration file"),
        (&scores, "one of the inputs"),
    ] {
        let before = std::fs::read(out).unwrap();
        let res = dpda()
            .args(["calibrate", "--scores", s(&scores), "--key", s(&key)])
            .args(["--out", s(out)])
            .output()
            .unwrap();
        assert!(!res.status.success());
        assert!(stderr_of(&res).contains(why), "{}", stderr_of(&res));
        assert_eq!(std::fs::read(out).unwrap(), before);
    }
    // A calibration file may be replaced; one class only is refused with its name.
    let cal = dir.path().join("cal.json");
    for _ in 0..2 {
        success_stdout(
            dpda()
                .args(["calibrate", "--scores", s(&scores), "--key", s(&key)])
                .args(["--out", s(&cal)])
                .output()
                .unwrap(),
        );
    }
    let c = Calibration::read(&cal).unwrap();
    assert!(
        c.a > 0.0 && c.fit_set.cllr_after < c.fit_set.cllr_before,
        "{c:?}"
    );
    std::fs::write(&key, "file,label\na,spoof\nb,spoof\nc,spoof\nd,spoof\n").unwrap();
    let res = dpda()
        .args(["calibrate", "--scores", s(&scores), "--key", s(&key)])
        .args(["--out", s(&dir.path().join("x.json"))])
        .output()
        .unwrap();
    assert!(
        stderr_of(&res).contains("no bona fide scores"),
        "{}",
        stderr_of(&res)
    );
}
