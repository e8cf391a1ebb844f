//! Flow tests of the demo corpus's wild split: `dpda corpus export` writes its FLACs and key,
//! `dpda eval --breakdown` reads the key with per-attack and per-condition EERs, and a tiny
//! training run scores it next to eval.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::collections::BTreeSet;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG};
use dpda::data::demo::{DemoCorpus, DemoSize, WildCondition, WILD_KEY_HEADER};

#[test]
fn export_writes_the_wild_key_and_decodable_flacs_that_eval_breaks_down() {
    let dir = tempfile::tempdir().unwrap();
    let out = dpda()
        .args(["corpus", "export"])
        .arg(dir.path())
        .args(["--size", "tiny", "--seed", "5", "--quiet"])
        .output()
        .unwrap();
    let stdout = success_stdout(out);
    assert!(stdout.contains("wild"), "{stdout}");
    let wild = dir.path().join("wild");
    let key = std::fs::read_to_string(wild.join("key.csv")).unwrap();
    let mut lines = key.lines();
    assert_eq!(lines.next(), Some(WILD_KEY_HEADER));
    let corpus = DemoCorpus::new(DemoSize::Tiny, 5);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), corpus.wild.len());
    let mut scores = String::new();
    let mut conditions = BTreeSet::new();
    for (row, item) in rows.iter().zip(&corpus.wild) {
        assert_eq!(row.len(), 9, "{row:?}");
        assert_eq!(row[0], format!("flac/{}.flac", item.utt_id));
        let clip = dpda::audio::load_mono(&wild.join(row[0])).unwrap();
        assert_eq!(clip.sample_rate_hz, 16_000);
        assert_eq!(clip.samples.len(), item.num_samples);
        conditions.insert(row[4].to_string());
        // A made-up detector that is right about bona fide clips and unsure about spoofs.
        let score = if row[3] == "bonafide" { 2.0 } else { 0.0 };
        scores.push_str(&format!("{} {score}\n", item.utt_id));
    }
    assert_eq!(conditions.len(), WildCondition::ALL.len());
    let score_path = dir.path().join("scores.txt");
    std::fs::write(&score_path, scores).unwrap();
    let out = dpda()
        .args(["eval", "--breakdown", "--json", "--scores"])
        .arg(&score_path)
        .arg("--key")
        .arg(wild.join("key.csv"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&success_stdout(out)).unwrap();
    assert_eq!(v["eer"].as_f64(), Some(0.0));
    let attacks: BTreeSet<_> = v["breakdown"]["attack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(attacks.len(), 6, "{attacks:?}");
    let by_condition: BTreeSet<_> = v["breakdown"]["condition"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(by_condition, conditions);
    // The text report prints a row per condition too.
    let out = dpda()
        .args(["eval", "--breakdown", "--scores"])
        .arg(&score_path)
        .arg("--key")
        .arg(wild.join("key.csv"))
        .output()
        .unwrap();
    let text = success_stdout(out);
    for name in ["telephone-ulaw", "lossy-codec", "mixed"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn a_tiny_run_scores_the_wild_split_into_its_own_file_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, TINY_DEMO_CONFIG).unwrap();
    let run_dir = dir.path().join("run");
    let out = dpda()
        .args(["train", config.to_str().unwrap(), "--max-steps", "2"])
        .args([
            "--set",
            "device.kind=cpu",
            "--run-dir",
            run_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = success_stdout(out);
    let printed = format!("{stdout}{stderr}");
    assert!(printed.contains("wild EER"), "{printed}");
    let corpus = DemoCorpus::new(DemoSize::Tiny, dpda::data::demo::DEFAULT_SEED);
    let scores = std::fs::read_to_string(run_dir.join("scores-wild.txt")).unwrap();
    let ids: Vec<&str> = scores
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(fields.len(), 2, "{l}");
            assert!(fields[1].parse::<f64>().unwrap().is_finite());
            fields[0]
        })
        .collect();
    let expected: Vec<&str> = corpus.wild.iter().map(|w| w.utt_id.as_str()).collect();
    assert_eq!(ids, expected);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    let eers = summary["test_eers"].as_object().unwrap();
    assert!(
        eers.contains_key("eval") && eers.contains_key("wild"),
        "{eers:?}"
    );
    assert_eq!(summary["eval_eer"], eers["eval"]);
}

#[test]
fn a_test_set_may_not_be_called_wild() {
    let config =
        format!("{TINY_DEMO_CONFIG}[[test]]\nname = \"wild\"\nkind = \"itw\"\nroot = \".\"\n");
    let err = dpda::train::config::plan_from_str(&config, "tiny.toml", &[]).unwrap_err();
    assert!(err.to_string().contains("wild split"), "{err}");
}
