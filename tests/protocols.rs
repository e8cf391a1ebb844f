//! Key parsing on excerpts of real protocol files, damaged variants and (when present) the full
//! shared protocol files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};

use dpda::data::protocol::{load_key, load_trial_list, utt_stem, KeyFormat};
use dpda::data::{DataError, Label, OnProblem};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/protocols")
        .join(name)
}

#[test]
fn la2019_excerpt_with_mos_column() {
    let key = load_key(
        &fixture("la2019_train_excerpt.txt"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(key.format, KeyFormat::La2019);
    assert_eq!(key.entries.len(), 20);
    assert_eq!(key.counts(), (8, 12));
    let attacks: Vec<&str> = key
        .entries
        .iter()
        .filter_map(|e| e.attack.as_deref())
        .collect();
    assert_eq!(attacks.len(), 12);
    assert!(attacks.iter().all(|a| a.starts_with("A0")));
    assert!(key.problems.is_empty());
}

#[test]
fn itw_excerpt_and_trial_list_agree() {
    let key = load_key(
        &fixture("itw_meta_excerpt.csv"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(key.format, KeyFormat::InTheWild);
    assert_eq!(key.counts(), (9, 11));
    assert_eq!(key.entries[0].speaker.as_deref(), Some("Alec Guinness"));
    assert_eq!(key.entries[0].line, 2);
    let ids = load_trial_list(&fixture("itw_eval_excerpt.txt")).unwrap();
    let key_ids: Vec<&str> = key.entries.iter().map(|e| e.utt_id.as_str()).collect();
    assert_eq!(ids, key_ids);
}

#[test]
fn broken_la2019_fails_at_first_problem_or_reports_all() {
    let path = fixture("la2019_broken.txt");
    let err = load_key(&path, KeyFormat::La2019, OnProblem::Fail).unwrap_err();
    match &err {
        DataError::Problem(p) => assert_eq!(p.line, 2),
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("la2019_broken.txt:2:"), "{err}");
    let key = load_key(&path, KeyFormat::La2019, OnProblem::SkipAndReport).unwrap();
    assert_eq!(key.entries.len(), 3);
    let lines: Vec<usize> = key.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 3, 5]);
    assert!(key.problems[1].message.contains("spooof"));
    assert!(key.problems[2].message.contains("duplicate"));
}

#[test]
fn broken_itw_reports_missing_column_and_unknown_label() {
    let key = load_key(
        &fixture("itw_meta_broken.csv"),
        KeyFormat::InTheWild,
        OnProblem::SkipAndReport,
    )
    .unwrap();
    assert_eq!(key.entries.len(), 5);
    let lines: Vec<usize> = key.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [5, 6]);
}

#[test]
fn empty_key_is_refused() {
    let err = load_key(&fixture("empty.txt"), KeyFormat::Auto, OnProblem::Fail).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn constructed_2021_for_and_asvspoof5_keys() {
    let la = load_key(
        &fixture("la2021_constructed.txt"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(la.format, KeyFormat::La2021);
    let subsets: Vec<&str> = la
        .entries
        .iter()
        .filter_map(|e| e.subset.as_deref())
        .collect();
    assert_eq!(subsets, ["eval", "progress", "hidden_track", "eval"]);
    assert_eq!(la.entries[1].attack, None);

    let df = load_key(
        &fixture("df2021_constructed.txt"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(df.format, KeyFormat::Df2021);
    assert_eq!(df.entries[1].attack.as_deref(), Some("Task1-team20"));
    assert_eq!(df.entries[1].condition.as_deref(), Some("low_mp3"));
    assert_eq!(df.counts(), (1, 2));

    let for_key = load_key(
        &fixture("for_constructed.csv"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(for_key.format, KeyFormat::Csv);
    assert_eq!(for_key.entries[1].label, Label::Bonafide);
    // FoR names lacking ".wav" and names carrying it meet at the same stem.
    assert_eq!(utt_stem(&for_key.entries[2].utt_id), "file3");
    assert_eq!(
        utt_stem("testing/real/file2.wav"),
        for_key.entries[1].utt_id
    );

    let a5 = load_key(
        &fixture("asvspoof5_constructed.tsv"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(a5.format, KeyFormat::Asvspoof5);
    assert_eq!(a5.counts(), (1, 1));
}

/// The only test that reads the full shared protocol files; it checks the counts their README
/// states and skips when they are not there.
#[test]
fn full_shared_protocols_match_their_readme_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/protocols");
    if !dir.is_dir() {
        eprintln!(
            "skipping: {} not present (full-count check only)",
            dir.display()
        );
        return;
    }
    let la = load_key(
        &dir.join("ASVspoof2019.LA.cm.train.trn.with_mos.txt"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(la.format, KeyFormat::La2019);
    assert_eq!(la.entries.len(), 25_380);
    assert_eq!(la.counts(), (2_580, 22_800));
    let mut attacks: Vec<&str> = la
        .entries
        .iter()
        .filter_map(|e| e.attack.as_deref())
        .collect();
    attacks.sort_unstable();
    attacks.dedup();
    assert_eq!(attacks, ["A01", "A02", "A03", "A04", "A05", "A06"]);

    let itw = load_key(
        &dir.join("in_the_wild.meta.csv"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(itw.format, KeyFormat::InTheWild);
    assert_eq!(itw.entries.len(), 31_779);
    assert_eq!(itw.counts(), (19_963, 11_816));
    let mut speakers: Vec<&str> = itw
        .entries
        .iter()
        .filter_map(|e| e.speaker.as_deref())
        .collect();
    speakers.sort_unstable();
    speakers.dedup();
    assert_eq!(speakers.len(), 54);

    let ids = load_trial_list(&dir.join("in_the_wild.eval.txt")).unwrap();
    assert_eq!(ids.len(), 31_779);
}

/// dpda_ga's published FoR key (`database/ood_ds_keys/FoR/meta.csv`, read unchanged): the same
/// file name under `fake/` and `real/` is two trials, names lack `.wav`. The full file, when it
/// is beside the repository as `../shared/data/protocols/for_meta.csv`, has 4,634 rows.
#[test]
fn published_for_key_keeps_fake_and_real_apart() {
    let key = load_key(
        &fixture("for_meta_excerpt.csv"),
        KeyFormat::Auto,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(key.format, KeyFormat::Csv);
    assert!(key.problems.is_empty(), "{:?}", key.problems);
    assert_eq!(key.counts(), (4, 11));
    assert!(key
        .entries
        .iter()
        .any(|e| e.utt_id == "fake/file1848.wav_16k.wav_norm.wav_mono.wav_silence"));
    assert!(key
        .entries
        .iter()
        .any(|e| e.utt_id == "real/file1848.wav_16k.wav_norm.wav_mono.wav_silence"));
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/protocols/for_meta.csv");
    if full.is_file() {
        let key = load_key(&full, KeyFormat::Auto, OnProblem::Fail).unwrap();
        assert_eq!(key.counts(), (2_264, 2_370));
    }
}
