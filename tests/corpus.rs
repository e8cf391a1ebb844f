//! Flow tests of the corpus layer: the demo corpus (determinism, counts, attacks, levels), its
//! export in the ASVspoof 2019 LA layout read back by the loader, and the loaders on small
//! fixture trees built in temporary folders.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;
use std::path::Path;

use dpda::data::corpus::{
    load_asvspoof2019_la, load_asvspoof2021, load_csv, load_for, load_in_the_wild, Split, Track2021,
};
use dpda::data::demo::{
    ensure_cached, Attack, DemoCorpus, DemoSize, COMPLETE_MARKER, DEMO_SAMPLE_RATE_HZ,
    EVAL_ATTACKS, SEEN_ATTACKS,
};
use dpda::data::{DataError, Label, OnProblem};

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

#[test]
fn same_seed_gives_identical_audio_and_other_seeds_differ() {
    let a = DemoCorpus::new(DemoSize::Tiny, 7);
    let b = DemoCorpus::new(DemoSize::Tiny, 7);
    let c = DemoCorpus::new(DemoSize::Tiny, 8);
    assert_eq!(a.items, b.items);
    for i in [0, 5, 20] {
        assert_eq!(a.render(&a.items[i]), b.render(&b.items[i]));
    }
    // Rendering order does not matter: each item has its own stream.
    let late_first = a.render(&a.items[20]);
    let _ = a.render(&a.items[3]);
    assert_eq!(late_first, b.render(&b.items[20]));
    let xa = a.render(&a.items[0]);
    let xc = c.render(&c.items[0]);
    assert_ne!(xa, xc);
}

#[test]
fn tiny_corpus_has_the_documented_counts_and_unseen_eval_attacks() {
    let corpus = DemoCorpus::new(DemoSize::Tiny, 1);
    let attacks = |split| -> BTreeSet<Attack> {
        corpus.split_items(split).filter_map(|i| i.attack).collect()
    };
    for split in Split::ALL {
        let spec = DemoSize::Tiny.spec(split);
        let items: Vec<_> = corpus.split_items(split).collect();
        assert_eq!(items.len(), spec.num_utterances());
        let bonafide = items.iter().filter(|i| i.label == Label::Bonafide).count();
        assert_eq!(bonafide, spec.num_bonafide);
        for &attack in spec.attacks() {
            let n = items.iter().filter(|i| i.attack == Some(attack)).count();
            assert_eq!(n, spec.spoofs_per_attack, "{split} {attack:?}");
        }
    }
    assert_eq!(attacks(Split::Train), SEEN_ATTACKS.into_iter().collect());
    assert_eq!(attacks(Split::Eval), EVAL_ATTACKS.into_iter().collect());
    let unseen: Vec<_> = attacks(Split::Eval)
        .difference(&attacks(Split::Train))
        .copied()
        .collect();
    assert_eq!(unseen, vec![Attack::D05, Attack::D06]);
    assert!(corpus.items.len() < 60);
}

#[test]
fn clips_are_finite_bounded_and_within_the_length_range() {
    let corpus = DemoCorpus::new(DemoSize::Tiny, 2);
    let (min_s, max_s) = DemoSize::Tiny.duration_range_s();
    for item in &corpus.items {
        let x = corpus.render(item);
        let duration_s = x.len() as f64 / DEMO_SAMPLE_RATE_HZ as f64;
        assert!(
            (min_s..=max_s).contains(&duration_s),
            "{} {duration_s}",
            item.utt_id
        );
        assert!(x.iter().all(|v| v.is_finite()), "{}", item.utt_id);
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak <= 1.0 && peak > 0.01, "{} peak {peak}", item.utt_id);
        let level_dbfs = 20.0 * rms(&x).log10();
        assert!(
            (-40.0..=-19.0).contains(&level_dbfs),
            "{} level {level_dbfs}",
            item.utt_id
        );
    }
}

#[test]
fn every_attack_changes_its_source_but_keeps_its_level_and_length() {
    // Take one spoofed item per attack from a corpus big enough to hold them all.
    let corpus = DemoCorpus::new(DemoSize::Tiny, 3);
    for attack in Attack::ALL {
        let item = corpus
            .items
            .iter()
            .find(|i| i.attack == Some(attack))
            .expect("every attack appears in the tiny eval split");
        let (source, spoof) = corpus.render_with_source(item);
        assert_eq!(source.len(), spoof.len(), "{attack:?}");
        let ratio = rms(&spoof) / rms(&source);
        assert!((0.8..1.25).contains(&ratio), "{attack:?} RMS ratio {ratio}");
        let diff: Vec<f32> = source.iter().zip(&spoof).map(|(a, b)| a - b).collect();
        let relative_change = rms(&diff) / rms(&source);
        assert!(
            relative_change > 0.1,
            "{attack:?} barely changed: {relative_change}"
        );
    }
    // The pipelines differ from one another too, not only from the source.
    let item = &corpus.items[0];
    let (source, _) = corpus.render_with_source(item);
    let outputs: Vec<Vec<f32>> = Attack::ALL
        .iter()
        .map(|a| a.apply(&source, &mut dpda::rng::Rng::new(1)))
        .collect();
    for i in 0..outputs.len() {
        for j in i + 1..outputs.len() {
            let d: Vec<f32> = outputs[i]
                .iter()
                .zip(&outputs[j])
                .map(|(a, b)| a - b)
                .collect();
            assert!(rms(&d) > 0.05 * rms(&source), "D0{} vs D0{}", i + 1, j + 1);
        }
    }
}

#[test]
fn export_reads_back_with_the_la_loader_and_decodes_to_the_generated_samples() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = DemoCorpus::new(DemoSize::Tiny, 11);
    let written = std::sync::atomic::AtomicUsize::new(0);
    let summary = corpus
        .write_asvspoof2019(dir.path(), &|_| {
            written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
    assert_eq!(written.into_inner(), corpus.items.len() + corpus.wild.len());
    assert_eq!(summary.num_files, corpus.items.len() + corpus.wild.len());
    let readme = std::fs::read_to_string(dir.path().join("README.txt")).unwrap();
    assert!(readme.contains("SYNTHETIC"));
    for split in Split::ALL {
        let loaded = load_asvspoof2019_la(dir.path(), split, OnProblem::Fail).unwrap();
        assert!(loaded.problems.is_empty());
        let expected: Vec<_> = corpus.split_items(split).collect();
        assert_eq!(loaded.utterances.len(), expected.len());
        for (u, item) in loaded.utterances.iter().zip(&expected) {
            assert_eq!(u.id, item.utt_id);
            assert_eq!(u.label, item.label);
            assert_eq!(u.attack.as_deref(), item.attack.map(|a| a.id()));
            assert_eq!(u.speaker.as_deref(), Some(corpus.speaker_id(item)));
        }
        // Decode a few files with the audio module and compare with a fresh rendering.
        for (u, item) in loaded.utterances.iter().zip(&expected).step_by(5) {
            let clip = dpda::audio::load_mono(&u.path).unwrap();
            assert_eq!(clip.sample_rate_hz, DEMO_SAMPLE_RATE_HZ);
            let generated = corpus.render(item);
            assert_eq!(clip.samples.len(), generated.len());
            let max_err = clip
                .samples
                .iter()
                .zip(&generated)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(max_err <= 1.5 / 32768.0, "{} error {max_err}", u.id);
        }
    }
}

#[test]
fn ensure_cached_writes_once_then_reuses_and_replaces_stale_copies() {
    let root = tempfile::tempdir().unwrap();
    let dir = ensure_cached(DemoSize::Tiny, 5, root.path()).unwrap();
    assert!(dir.join(COMPLETE_MARKER).is_file());
    let probe = dir.join("ASVspoof2019_LA_train/flac/probe.txt");
    std::fs::write(&probe, "kept if reused").unwrap();
    assert_eq!(ensure_cached(DemoSize::Tiny, 5, root.path()).unwrap(), dir);
    assert!(
        probe.is_file(),
        "a complete cache must be reused, not rewritten"
    );
    // No temporary folders are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    // A copy without a valid marker (e.g. from a crash or an old generator) is regenerated.
    std::fs::write(dir.join(COMPLETE_MARKER), "generator_version 0").unwrap();
    assert_eq!(ensure_cached(DemoSize::Tiny, 5, root.path()).unwrap(), dir);
    assert!(!probe.exists());
    let train = load_asvspoof2019_la(&dir, Split::Train, OnProblem::Fail).unwrap();
    assert_eq!(
        train.utterances.len(),
        DemoSize::Tiny.spec(Split::Train).num_utterances()
    );
}

// ---------------------------------------------------------------------------------------------
// Loaders on fixture trees

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn touch_audio(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"not decoded by the loaders").unwrap();
}

/// A small 2019 LA train split with one missing file, one duplicate, one unknown label, one
/// short line and a protocol with an extra column.
fn la2019_tree(root: &Path) -> std::path::PathBuf {
    let protocol = root.join("ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.train.trn.txt");
    write(
        &protocol,
        "LA_0079 LA_T_0000001 - - bonafide 4.5\n\
         LA_0079 LA_T_0000002 - A01 spoof 2.0\n\
         LA_0080 LA_T_0000003 - A02 spoof 1.0\n\
         LA_0080 LA_T_0000002 - A03 spoof 1.0\n\
         LA_0080 LA_T_0000004 - A04 maybe\n\
         LA_0081 LA_T_0000005\n",
    );
    for id in [
        "LA_T_0000001",
        "LA_T_0000002",
        "LA_T_0000004",
        "LA_T_0000005",
    ] {
        touch_audio(&root.join(format!("ASVspoof2019_LA_train/flac/{id}.flac")));
    }
    protocol
}

#[test]
fn la2019_loader_reports_missing_duplicate_unknown_and_malformed_lines() {
    let root = tempfile::tempdir().unwrap();
    let protocol = la2019_tree(root.path());
    let corpus = load_asvspoof2019_la(root.path(), Split::Train, OnProblem::SkipAndReport).unwrap();
    let ids: Vec<_> = corpus.utterances.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["LA_T_0000001", "LA_T_0000002"]);
    assert_eq!(corpus.utterances[1].attack.as_deref(), Some("A01"));
    assert_eq!(corpus.utterances[0].speaker.as_deref(), Some("LA_0079"));
    let mut lines: Vec<usize> = corpus.problems.iter().map(|p| p.line).collect();
    lines.sort();
    assert_eq!(lines, [3, 4, 5, 6], "{:?}", corpus.problems);
    assert!(corpus.problems.iter().all(|p| p.file == protocol));
    let text: Vec<String> = corpus.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains(":3: audio file missing")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains(":4:") && t.contains("duplicate")),
        "{text:?}"
    );
    assert!(text
        .iter()
        .any(|t| t.contains(":5:") && t.contains("unknown label 'maybe'")));

    match load_asvspoof2019_la(root.path(), Split::Train, OnProblem::Fail) {
        Err(DataError::Problem(p)) => {
            let message = p.to_string();
            assert!(
                message.contains("ASVspoof2019.LA.cm.train.trn.txt:"),
                "{message}"
            );
        }
        other => panic!("expected the first problem as an error, got {other:?}"),
    }
    // A wrong root is an error, not thousands of missing files.
    assert!(load_asvspoof2019_la(root.path(), Split::Dev, OnProblem::SkipAndReport).is_err());
}

#[test]
fn asvspoof2021_loader_filters_by_trial_list_and_subset() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("keys/DF/CM/trial_metadata.txt");
    write(
        &key,
        "LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -\n\
         TEF2 DF_E_2000013 low_m4a vcc2020 Task1-team20 spoof notrim eval - - - - -\n\
         LA_0043 DF_E_2000024 mp3m4a asvspoof - bonafide notrim eval - - - - -\n\
         LA_0044 DF_E_2000025 mp3m4a asvspoof - bonafide notrim hidden_track - - - - -\n",
    );
    for id in [
        "DF_E_2000011",
        "DF_E_2000013",
        "DF_E_2000024",
        "DF_E_2000025",
    ] {
        touch_audio(
            &root
                .path()
                .join(format!("ASVspoof2021_DF_eval/flac/{id}.flac")),
        );
    }
    let list = root.path().join("ASVspoof2021.DF.cm.eval.trl.txt");
    write(&list, "DF_E_2000011\nDF_E_2000013\nDF_E_2000024\n");
    let all = load_asvspoof2021(
        root.path(),
        Track2021::Df,
        &key,
        None,
        None,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(all.counts(), (2, 2));
    let listed = load_asvspoof2021(
        root.path(),
        Track2021::Df,
        &key,
        Some(&list),
        None,
        OnProblem::Fail,
    )
    .unwrap();
    assert_eq!(listed.utterances.len(), 3);
    let eval_only = load_asvspoof2021(
        root.path(),
        Track2021::Df,
        &key,
        Some(&list),
        Some("eval"),
        OnProblem::Fail,
    )
    .unwrap();
    let ids: Vec<_> = eval_only.utterances.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["DF_E_2000013", "DF_E_2000024"]);
    assert_eq!(
        eval_only.utterances[0].attack.as_deref(),
        Some("Task1-team20")
    );
    // A listed trial missing from the key is reported against the trial list.
    write(&list, "DF_E_2000011\nDF_E_9999999\n");
    let partial = load_asvspoof2021(
        root.path(),
        Track2021::Df,
        &key,
        Some(&list),
        None,
        OnProblem::SkipAndReport,
    )
    .unwrap();
    assert_eq!(partial.utterances.len(), 1);
    assert_eq!(partial.problems.len(), 1);
    assert!(partial.problems[0].message.contains("DF_E_9999999"));
    assert_eq!(partial.problems[0].file, list);
}

#[test]
fn in_the_wild_loader_reads_meta_csv() {
    let root = tempfile::tempdir().unwrap();
    write(
        &root.path().join("meta.csv"),
        "file,speaker,label\n0.wav,Alec Guinness,spoof\n1.wav,Alec Guinness,bona-fide\n2.wav,Barack Obama,bona-fide\n",
    );
    touch_audio(&root.path().join("0.wav"));
    touch_audio(&root.path().join("1.wav"));
    let corpus = load_in_the_wild(root.path(), OnProblem::SkipAndReport).unwrap();
    assert_eq!(corpus.counts(), (1, 1));
    assert_eq!(corpus.utterances[0].id, "0");
    assert_eq!(
        corpus.utterances[0].speaker.as_deref(),
        Some("Alec Guinness")
    );
    assert_eq!(corpus.problems.len(), 1);
    assert_eq!(corpus.problems[0].line, 4);
    assert!(load_in_the_wild(root.path(), OnProblem::Fail).is_err());
}

#[test]
fn for_loader_names_trials_by_class_folder_and_flags_duplicate_stems() {
    let root = tempfile::tempdir().unwrap();
    for rel in [
        "training/real/file1.wav",
        "training/real/file2.wav",
        "training/fake/file3.wav",
        "training/fake/file1.wav",
        "training/fake/file3.WAV",
        "training/fake/notes.txt",
    ] {
        touch_audio(&root.path().join(rel));
    }
    let corpus = load_for(root.path(), Split::Train, OnProblem::SkipAndReport).unwrap();
    // FoR has the same file name under real/ and fake/: two trials, told apart by the folder.
    assert_eq!(corpus.counts(), (2, 2));
    let ids: Vec<&str> = corpus.utterances.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(
        ids,
        ["real/file1", "real/file2", "fake/file1", "fake/file3"]
    );
    assert_eq!(corpus.problems.len(), 1);
    assert!(
        corpus.problems[0]
            .message
            .contains("duplicate ID 'fake/file3'"),
        "{}",
        corpus.problems[0].message
    );
    assert!(corpus.problems[0].file.ends_with("fake/file3.wav"));
    assert!(load_for(root.path(), Split::Train, OnProblem::Fail).is_err());
    assert!(load_for(root.path(), Split::Eval, OnProblem::SkipAndReport).is_err());
}

#[test]
fn csv_loader_resolves_relative_paths_and_for_keys_without_extensions() {
    let root = tempfile::tempdir().unwrap();
    touch_audio(&root.path().join("audio/a.wav"));
    touch_audio(&root.path().join("audio/b.flac"));
    touch_audio(&root.path().join("file33.wav"));
    let csv = root.path().join("key.csv");
    write(
        &csv,
        "path,label,attack\naudio/a.wav,bonafide,-\naudio/b.flac,fake,X1\nfile33,spoof,X2\naudio/c.wav,spoof,X3\naudio/a.wav,real,-\naudio/d.wav,neither,-\n",
    );
    let corpus = load_csv(&csv, OnProblem::SkipAndReport).unwrap();
    let ids: Vec<_> = corpus.utterances.iter().map(|u| u.id.as_str()).collect();
    // Trial names keep the folders the key writes (FoR keys tell fake/x from real/x so).
    assert_eq!(ids, ["audio/a", "audio/b", "file33"]);
    assert!(corpus.utterances[2].path.ends_with("file33.wav"));
    assert_eq!(corpus.utterances[1].label, Label::Spoof);
    let mut lines: Vec<usize> = corpus.problems.iter().map(|p| p.line).collect();
    lines.sort();
    assert_eq!(lines, [5, 6, 7], "{:?}", corpus.problems);
    let first = load_csv(&csv, OnProblem::Fail).unwrap_err().to_string();
    assert!(first.contains("key.csv:"), "{first}");
}

/// `dpda corpus export … | head -1`: a closed stdout after the files are written ends the command
/// quietly (it panicked in `println!`).
#[test]
fn corpus_export_into_a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dpda"))
        .args(["corpus", "export", "--size", "tiny", "--quiet"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader is gone before the command prints anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let protocols = dir.path().join("ASVspoof2019_LA_cm_protocols");
    assert!(protocols.join("ASVspoof2019.LA.cm.eval.trl.txt").is_file());
}
