//! Test sets of a run: the `[[test]]` entries of its configuration, scored with the run's model
//! and evaluated like `dpda eval` (EER, minDCF/actDCF/CLLR, min t-DCF with ASV scores, per-attack
//! and per-condition EERs), each into `scores-<name>.txt`, all into `tests.json`.
//!
//! The trainer evaluates them when a run ends; `dpda test RUN_DIR` evaluates an existing run.
//! ASVspoof 2021 LA/DF sets are scored on every trial of the key (or trial list) and evaluated on
//! one subset — `eval` unless the entry says otherwise — as the official evaluation package does;
//! `subset = "all"` evaluates every trial.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::scorer::{write_score_file, Scorer};
use super::{InferenceError, RunLayout};
use crate::data::corpus::{
    asvspoof2019_la_paths, load_asvspoof2019_la, load_asvspoof2021, load_for, load_in_the_wild,
    Corpus, Split, Track2021,
};
use crate::data::protocol::{load_key, trial_name, Key, KeyEntry, KeyFormat};
use crate::data::{DataError, OnProblem};
use crate::metrics::report::{evaluate, select_subset, EvalReport};
use crate::metrics::scores::{
    join_scores, load_asv_scores, JoinPolicy, ScoreEntry, ScoreFile, ScoreFormat, ScoreRow,
};
use crate::train::config::{TestKind, TestSetPlan};

/// What evaluating one test set gave.
#[derive(Clone, Debug, Serialize)]
pub struct TestOutcome {
    pub name: String,
    pub kind: String,
    /// The score file written.
    pub scores: Option<PathBuf>,
    /// Files scored, and files that could not be read.
    pub num_scored: usize,
    pub num_unreadable: usize,
    /// Key trials whose audio is missing, left out of the evaluation.
    pub num_missing: usize,
    /// The subset evaluated (2021 keys).
    pub subset: Option<String>,
    pub report: Option<EvalReport>,
    /// Why the set could not be evaluated.
    pub error: Option<String>,
}

/// The audio files and the key of one test set.
fn corpus_and_key(set: &TestSetPlan) -> Result<(Corpus, Key), DataError> {
    let skip = OnProblem::SkipAndReport;
    Ok(match set.kind {
        TestKind::La2019 => match &set.key {
            // A protocol of one's own (e.g. a subset): its trials, the eval split's FLACs.
            Some(protocol) => {
                let key = load_key(protocol, KeyFormat::La2019, skip)?;
                let (_, flac_dir) = asvspoof2019_la_paths(&set.root, Split::Eval);
                (csv_corpus(&key, &flac_dir), key)
            }
            None => {
                let (protocol, _) = asvspoof2019_la_paths(&set.root, Split::Eval);
                let corpus = load_asvspoof2019_la(&set.root, Split::Eval, skip)?;
                (corpus, load_key(&protocol, KeyFormat::La2019, skip)?)
            }
        },
        TestKind::La2021 | TestKind::Df2021 => {
            let (track, format) = if set.kind == TestKind::La2021 {
                (Track2021::La, KeyFormat::La2021)
            } else {
                (Track2021::Df, KeyFormat::Df2021)
            };
            let key_path = set.key.as_deref().unwrap_or(&set.root);
            let corpus = load_asvspoof2021(
                &set.root,
                track,
                key_path,
                set.trials.as_deref(),
                None,
                skip,
            )?;
            (corpus, load_key(key_path, format, skip)?)
        }
        TestKind::InTheWild => match &set.key {
            // A key kept apart from the audio (dpda_ga's ood_ds_keys/ITW/meta.csv): its names
            // are files under `root`.
            Some(meta) => {
                let key = load_key(meta, KeyFormat::InTheWild, skip)?;
                (csv_corpus(&key, &set.root), key)
            }
            None => {
                let meta = set.root.join("meta.csv");
                let corpus = load_in_the_wild(&meta, skip)?;
                (corpus, load_key(&meta, KeyFormat::InTheWild, skip)?)
            }
        },
        TestKind::For => match &set.key {
            // dpda_ga's FoR key names `fake/…` / `real/…` under the split folder, without `.wav`.
            Some(key_path) => {
                let key = load_key(key_path, KeyFormat::Csv, skip)?;
                let corpus = csv_corpus(&key, &set.root);
                (corpus, key)
            }
            None => {
                let corpus = load_for(&set.root, Split::Eval, skip)?;
                let key = corpus_key(&corpus, &set.root);
                (corpus, key)
            }
        },
        TestKind::Csv => {
            let key_path = set.key.as_deref().unwrap_or(&set.root);
            let key = load_key(key_path, KeyFormat::Csv, skip)?;
            let root = if set.key.is_some() {
                set.root.clone()
            } else {
                key_path.parent().unwrap_or(Path::new(".")).to_path_buf()
            };
            let corpus = csv_corpus(&key, &root);
            (corpus, key)
        }
    })
}

/// Utterances of a CSV key whose names are paths under `root` (`.wav`/`.flac` appended when
/// the name has no audio extension and the bare path does not exist); missing files are left out
/// and counted when joining.
fn csv_corpus(key: &Key, root: &Path) -> Corpus {
    let mut utterances = Vec::with_capacity(key.entries.len());
    for e in &key.entries {
        let written = root.join(&e.utt_id);
        let found = [
            written.clone(),
            root.join(format!("{}.wav", e.utt_id)),
            root.join(format!("{}.flac", e.utt_id)),
        ]
        .into_iter()
        .find(|p| p.is_file());
        if let Some(path) = found {
            utterances.push(crate::data::corpus::Utterance {
                id: trial_name(&e.utt_id),
                path,
                label: e.label,
                attack: e.attack.clone(),
                speaker: e.speaker.clone(),
            });
        }
    }
    Corpus {
        name: key.path.display().to_string(),
        utterances,
        problems: Vec::new(),
    }
}

/// A key made from a scanned corpus (FoR without a key file: labels from the folders).
fn corpus_key(corpus: &Corpus, root: &Path) -> Key {
    Key {
        path: root.to_path_buf(),
        format: KeyFormat::Csv,
        entries: corpus
            .utterances
            .iter()
            .enumerate()
            .map(|(i, u)| KeyEntry {
                utt_id: u.id.clone(),
                label: u.label,
                attack: u.attack.clone(),
                speaker: u.speaker.clone(),
                condition: None,
                subset: None,
                line: i + 1,
            })
            .collect(),
        problems: Vec::new(),
    }
}

/// Fails naming the first `[[test]]` path that does not exist, so a run learns it before
/// training rather than after.
pub fn check_paths(sets: &[TestSetPlan]) -> Result<(), InferenceError> {
    for set in sets {
        let paths = [
            Some(&set.root),
            set.key.as_ref(),
            set.asv_scores.as_ref(),
            set.trials.as_ref(),
        ];
        for (what, path) in ["root", "key", "asv_scores", "trials"].iter().zip(paths) {
            if let Some(p) = path {
                if !p.exists() {
                    return Err(InferenceError::Invalid {
                        what: format!("[[test]] '{}' {what}", set.name),
                        message: format!("{} does not exist", p.display()),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Score and evaluate one set; `progress(done, total)` after each file, `false` stops.
pub fn evaluate_set(
    scorer: &Scorer,
    set: &TestSetPlan,
    scores_path: &Path,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> TestOutcome {
    let mut outcome = TestOutcome {
        name: set.name.clone(),
        kind: set.kind.as_str().to_string(),
        scores: None,
        num_scored: 0,
        num_unreadable: 0,
        num_missing: 0,
        subset: set.subset.clone(),
        report: None,
        error: None,
    };
    if let Err(e) = evaluate_into(scorer, set, scores_path, progress, &mut outcome) {
        outcome.error = Some(format!("{e:#}"));
    }
    outcome
}

fn evaluate_into(
    scorer: &Scorer,
    set: &TestSetPlan,
    scores_path: &Path,
    progress: &mut dyn FnMut(usize, usize) -> bool,
    outcome: &mut TestOutcome,
) -> Result<(), InferenceError> {
    let (corpus, key) = corpus_and_key(set)?;
    if corpus.utterances.is_empty() {
        return Err(InferenceError::Invalid {
            what: format!("[[test]] '{}'", set.name),
            message: format!("no audio of the key found under {}", set.root.display()),
        });
    }
    let mut rows = Vec::with_capacity(corpus.utterances.len());
    let total = corpus.utterances.len();
    for (i, u) in corpus.utterances.iter().enumerate() {
        match crate::audio::load_mono_16k(&u.path) {
            Ok(clip) => rows.push(ScoreRow {
                utt_id: u.id.clone(),
                score: scorer.score(&clip.samples)?,
                attack: None,
                label: None,
            }),
            Err(_) => outcome.num_unreadable += 1,
        }
        if !progress(i + 1, total) {
            return Err(InferenceError::Invalid {
                what: format!("[[test]] '{}'", set.name),
                message: "stopped".into(),
            });
        }
    }
    write_score_file(scores_path, &rows)?;
    outcome.scores = Some(scores_path.to_path_buf());
    outcome.num_scored = rows.len();
    let file = ScoreFile {
        path: scores_path.to_path_buf(),
        format: ScoreFormat::TwoColumn,
        entries: rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| ScoreEntry {
                utt_id: r.utt_id,
                score: r.score,
                line: i + 1,
            })
            .collect(),
    };
    let joined = join_scores(&file, &key, JoinPolicy::Intersection)?;
    // Key trials without a score: those whose audio was not found (unreadable files are counted
    // apart).
    outcome.num_missing = joined.missing.len().saturating_sub(outcome.num_unreadable);
    let mut trials = joined.trials;
    let subset = match set.kind {
        TestKind::La2021 | TestKind::Df2021 => Some(set.subset.clone().unwrap_or("eval".into())),
        _ => set.subset.clone(),
    };
    if let Some(s) = subset.as_deref().filter(|s| *s != "all") {
        select_subset(&mut trials, s).map_err(|message| InferenceError::Invalid {
            what: format!("[[test]] '{}' subset", set.name),
            message,
        })?;
    }
    outcome.subset = subset;
    let asv = match &set.asv_scores {
        Some(p) => Some(load_asv_scores(p)?),
        None => None,
    };
    let report = evaluate(&trials, asv.as_ref(), true).map_err(|e| InferenceError::Invalid {
        what: format!("[[test]] '{}'", set.name),
        message: e.to_string(),
    })?;
    outcome.report = Some(report);
    Ok(())
}

/// Evaluate every set into `run`'s folder and write `tests.json`; `log` gets one line per event.
pub fn evaluate_all(
    scorer: &Scorer,
    sets: &[TestSetPlan],
    run: &RunLayout,
    log: &mut dyn FnMut(String),
    stop: &dyn Fn() -> bool,
) -> Result<Vec<TestOutcome>, InferenceError> {
    let mut outcomes = Vec::with_capacity(sets.len());
    for set in sets {
        log(format!("test set '{}' ({})", set.name, set.kind.as_str()));
        let outcome = evaluate_set(scorer, set, &run.test_scores(&set.name), &mut |_, _| {
            !stop()
        });
        if let Some(e) = &outcome.error {
            log(format!("test set '{}': {e}", set.name));
        }
        outcomes.push(outcome);
    }
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "model": scorer.info().describe(),
        "sets": outcomes,
    }))
    .map_err(|e| InferenceError::Invalid {
        what: "tests.json".into(),
        message: e.to_string(),
    })?;
    let path = run.tests_summary();
    std::fs::write(&path, json + "\n").map_err(super::io_err(&path))?;
    Ok(outcomes)
}

/// The summary table: one row per set.
pub fn summary_table(outcomes: &[TestOutcome]) -> String {
    let mut out = format!(
        "{:<16} {:<7} {:>8} {:>8} {:>9} {:>9} {:>8}\n",
        "test set", "kind", "trials", "EER %", "min t-DCF", "minDCF", "CLLR"
    );
    for o in outcomes {
        match &o.report {
            Some(r) => out.push_str(&format!(
                "{:<16} {:<7} {:>8} {:>8.3} {:>9} {:>9.4} {:>8.4}\n",
                o.name,
                o.kind,
                r.n_trials,
                r.eer * 100.0,
                r.tdcf
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |t| format!("{:.4}", t.min_tdcf)),
                r.min_dcf,
                r.cllr_bits
            )),
            None => out.push_str(&format!(
                "{:<16} {:<7} not evaluated: {}\n",
                o.name,
                o.kind,
                o.error.as_deref().unwrap_or("unknown reason")
            )),
        }
        if o.num_missing > 0 || o.num_unreadable > 0 {
            out.push_str(&format!(
                "{:<16} ({} key trials without audio, {} unreadable files left out)\n",
                "", o.num_missing, o.num_unreadable
            ));
        }
    }
    out
}
