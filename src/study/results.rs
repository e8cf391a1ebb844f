//! The results of a study, rebuilt from its output folder: what each run folder holds (summary,
//! epochs, score files, the study's own `study-run.json`) evaluated against the test sets' keys,
//! then summarised per condition and compared with the baseline. [`collect`] reads a finished or
//! running study alike, so a viewer can open either; `study.json` is [`StudyResults`] as JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::{run_dir, KeySource, StudyPlan, TestSetSpec};
use super::stats::{paired_t_test, summarize, PairedTest, Summary};
use super::{write_err, StudyError};
use crate::data::demo::{DemoCorpus, DemoSize};
use crate::data::protocol::{load_key, Key, KeyFormat};
use crate::data::OnProblem;
use crate::inference::layout::RunLayout;
use crate::metrics::report::{evaluate, select_subset};
use crate::metrics::scores::{join_scores, load_scores, JoinPolicy, ScoreFormat};
use crate::train::events::{EpochMetrics, RunSummary};

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Not started yet.
    Pending,
    /// Started by a study process that has not recorded its end (still running, or killed).
    Running,
    /// Ended with `summary.json`.
    Finished,
    /// The training process failed; the next study run starts it again.
    Failed,
    /// Stopped by an interrupt with a checkpoint; the next study run resumes it.
    Interrupted,
}

impl RunStatus {
    /// The name used in study.json and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// What the study records in each run folder (`study-run.json`): how its last attempt ended
/// and the wall time of all attempts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub status: RunStatus,
    /// Wall time of the training processes, summed over attempts (a resumed run adds up).
    pub wall_time_s: f64,
    pub attempts: u32,
    pub exit_code: Option<i32>,
    /// The end of the process's output when it failed.
    pub error: Option<String>,
}

/// The record file of a run folder.
pub fn record_path(run_dir: &Path) -> PathBuf {
    run_dir.join("study-run.json")
}

/// The log of a run's training process (its stdout and stderr).
pub fn log_path(run_dir: &Path) -> PathBuf {
    run_dir.join("study-run.log")
}

/// Read a run's record; `None` when absent or unreadable (a run never started by a study).
pub fn read_record(run_dir: &Path) -> Option<RunRecord> {
    let text = std::fs::read_to_string(record_path(run_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Write a run's record atomically.
pub fn write_record(run_dir: &Path, record: &RunRecord) -> Result<(), StudyError> {
    let path = record_path(run_dir);
    let json = serde_json::to_string_pretty(record).map_err(|e| StudyError::Write {
        path: path.clone(),
        message: e.to_string(),
    })?;
    crate::atomic_file::write_atomically(&path, json.as_bytes()).map_err(write_err(&path))
}

/// One run's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub seed: u64,
    /// The run folder, relative to the study folder.
    pub run_dir: PathBuf,
    pub status: RunStatus,
    /// EER as a fraction per test set.
    pub eer: BTreeMap<String, f64>,
    /// Score file per test set, relative to the study folder.
    pub scores: BTreeMap<String, PathBuf>,
    /// EER per attack (pooled bona fide) per test set.
    pub attack_eer: BTreeMap<String, BTreeMap<String, f64>>,
    /// EER per recording condition per test set (sets whose key names conditions).
    pub condition_eer: BTreeMap<String, BTreeMap<String, f64>>,
    /// 0-based epoch of the best dev loss.
    pub best_epoch: Option<u64>,
    /// Epochs until the best dev loss (`best_epoch + 1`).
    pub epochs_to_best: Option<u64>,
    /// Epochs trained.
    pub epochs: Option<u64>,
    /// Mean of the per-epoch conflict fractions (dual runs).
    pub conflict_frac: Option<f64>,
    pub wall_time_s: Option<f64>,
    /// Why the run failed, or why a test set could not be evaluated.
    pub errors: Vec<String>,
    /// Dev EER per epoch (index = epoch).
    pub dev_eer_by_epoch: Vec<f64>,
    /// Conflict fraction per epoch (`None` for runs without two paths).
    pub conflict_frac_by_epoch: Vec<Option<f64>>,
    /// Mean over epochs of each pair of paths' conflict fraction, keyed `"a|b"` (dual runs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pair_conflict_frac: BTreeMap<String, f64>,
}

/// Mean and standard deviation over seeds of a per-epoch figure; `None` where no run has it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub mean: Vec<Option<f64>>,
    pub std: Vec<Option<f64>>,
    /// Runs with a value at each epoch.
    pub n: Vec<usize>,
}

/// Per-epoch curves of a condition (finished runs), for plotting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// 0-based epochs.
    pub epoch: Vec<u64>,
    pub dev_eer: Curve,
    pub conflict_frac: Curve,
}

/// One condition: its runs and their summaries (finished runs only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConditionResults {
    pub name: String,
    pub overrides: Vec<String>,
    pub runs: Vec<RunResult>,
    /// EER per test set over seeds.
    pub eer: BTreeMap<String, Summary>,
    /// Per test set, per attack.
    pub attack_eer: BTreeMap<String, BTreeMap<String, Summary>>,
    /// Per test set, per recording condition.
    pub condition_eer: BTreeMap<String, BTreeMap<String, Summary>>,
    pub conflict_frac: Option<Summary>,
    /// Per pair of paths (`"a|b"`), its conflict fraction over seeds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pair_conflict_frac: BTreeMap<String, Summary>,
    pub epochs_to_best: Option<Summary>,
    pub wall_time_s: Option<Summary>,
    pub curves: Curves,
}

/// A condition against the baseline on one test set (EER differences, condition − baseline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub condition: String,
    pub baseline: String,
    pub test_set: String,
    /// The seeds both finished.
    pub seeds: Vec<u64>,
    #[serde(flatten)]
    pub test: PairedTest,
    /// Whether the 95 % interval of the difference contains 0; `None` without an interval.
    pub within_noise: Option<bool>,
}

/// Everything `study.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyResults {
    pub name: String,
    pub study_file: PathBuf,
    pub base_config: PathBuf,
    pub seeds: Vec<u64>,
    pub baseline: String,
    /// Overrides of every run.
    pub overrides: Vec<String>,
    /// Key file per test set; `null` where the EER is read from the runs' `tests.json`.
    pub test_sets: BTreeMap<String, Option<PathBuf>>,
    pub conditions: Vec<ConditionResults>,
    pub comparisons: Vec<Comparison>,
    /// Things the reader should know (keys that could not be read, …).
    pub notes: Vec<String>,
    /// How the statistics are computed.
    pub methods: String,
}

/// The statistics, in words (study.json and report.md).
pub const METHODS: &str = "EERs are computed per run from its score file and the test set's key \
(the same join and EER as `dpda eval`). Per condition: mean over seeds, sample standard \
deviation (n-1), 95 % interval mean ± t(0.975, n-1)·sd/√n (Student t; none with one seed). \
Comparisons pair each condition's seeds with the baseline's: mean difference (condition - \
baseline), its 95 % t interval and the two-sided paired t-test p-value; a difference whose \
interval contains 0 is within noise. Only finished runs count.";

/// Write the demo corpus's test keys into `dir`: `eval.txt` (ASVspoof 2019 protocol lines) and
/// `wild.csv` (with the recording condition of every clip), from the corpus plan alone.
pub fn demo_test_keys(
    size: DemoSize,
    seed: u64,
    dir: &Path,
) -> Result<BTreeMap<String, PathBuf>, StudyError> {
    Ok(DemoCorpus::new(size, seed).write_test_keys(dir)?)
}

/// A test set's key, ready to join scores with.
pub struct LoadedKey {
    pub path: PathBuf,
    pub key: Key,
    pub subset: Option<String>,
}

/// Keys of the study's test sets: demo keys are written into `<out>/keys/`, key files read.
/// A set without a usable key gets `None` (its EER then comes from `tests.json`), with a note.
pub fn prepare_keys(
    plan: &StudyPlan,
    out_dir: &Path,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<String, Option<LoadedKey>>, StudyError> {
    let mut keys = BTreeMap::new();
    let mut demo_written: Option<BTreeMap<String, PathBuf>> = None;
    for set in &plan.test_sets {
        let file = match &set.key {
            KeySource::Demo { size, seed } => {
                if demo_written.is_none() {
                    demo_written = Some(demo_test_keys(*size, *seed, &out_dir.join("keys"))?);
                }
                let format = if set.name == "eval" {
                    KeyFormat::La2019
                } else {
                    KeyFormat::Csv
                };
                demo_written
                    .as_ref()
                    .and_then(|w| w.get(&set.name))
                    .map(|p| (p.clone(), format, None))
            }
            KeySource::File {
                path,
                format,
                subset,
            } => Some((path.clone(), *format, subset.clone())),
            KeySource::TestsJson => None,
        };
        let loaded = match file {
            None => None,
            Some((path, format, subset)) => {
                match load_key(&path, format, OnProblem::SkipAndReport) {
                    Ok(key) => Some(LoadedKey { path, key, subset }),
                    Err(e) => {
                        notes.push(format!(
                            "test set '{}': key {} unreadable ({e}); EERs taken from the runs' tests.json",
                            set.name,
                            path.display()
                        ));
                        None
                    }
                }
            }
        };
        keys.insert(set.name.clone(), loaded);
    }
    Ok(keys)
}

/// A run's EERs on one test set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetEer {
    pub eer: f64,
    pub attacks: BTreeMap<String, f64>,
    pub conditions: BTreeMap<String, f64>,
}

/// The score file of test set `name` in a run folder.
pub fn scores_path(layout: &RunLayout, name: &str) -> PathBuf {
    if name == "eval" {
        layout.scores_eval()
    } else {
        layout.test_scores(name)
    }
}

/// Evaluate one run's scores of one set against its key (or read its `tests.json`).
pub fn evaluate_set(
    layout: &RunLayout,
    set: &TestSetSpec,
    key: Option<&LoadedKey>,
) -> Result<SetEer, String> {
    let Some(key) = key else {
        return eer_from_tests_json(layout, &set.name);
    };
    let path = scores_path(layout, &set.name);
    let scores = load_scores(&path, ScoreFormat::Auto).map_err(|e| e.to_string())?;
    // Runs may score a subset of the key (`max_eval_clips`, trial lists): evaluate what both have.
    let joined =
        join_scores(&scores, &key.key, JoinPolicy::Intersection).map_err(|e| e.to_string())?;
    let mut trials = joined.trials;
    if let Some(s) = key.subset.as_deref().filter(|s| *s != "all") {
        select_subset(&mut trials, s)?;
    }
    let report = evaluate(&trials, None, true).map_err(|e| format!("{}: {e}", path.display()))?;
    let groups = |g: &[crate::metrics::report::GroupReport]| {
        g.iter()
            .filter_map(|r| r.eer.map(|e| (r.name.clone(), e)))
            .collect()
    };
    Ok(SetEer {
        eer: report.eer,
        attacks: groups(&report.attacks),
        conditions: groups(&report.conditions),
    })
}

fn eer_from_tests_json(layout: &RunLayout, name: &str) -> Result<SetEer, String> {
    let path = layout.tests_summary();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let set = doc["sets"]
        .as_array()
        .and_then(|sets| sets.iter().find(|s| s["name"] == name))
        .ok_or_else(|| format!("{}: no set '{name}'", path.display()))?;
    let report = &set["report"];
    let eer = report["eer"].as_f64().ok_or_else(|| {
        format!(
            "{}: set '{name}' has no EER ({})",
            path.display(),
            set["error"].as_str().unwrap_or("not evaluated")
        )
    })?;
    let groups = |field: &str| -> BTreeMap<String, f64> {
        report[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|g| Some((g["name"].as_str()?.to_string(), g["eer"].as_f64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(SetEer {
        eer,
        attacks: groups("attacks"),
        conditions: groups("conditions"),
    })
}

/// `path` relative to `base`: under it, or beside it with `..` when they share more than the root;
/// otherwise as it is.
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    if let Ok(inside) = path.strip_prefix(base) {
        return inside.to_path_buf();
    }
    // Beside the study folder (the study file, its base configuration): `../…`, so that the
    // folder can move with its study; paths that share no more than the root stay absolute.
    let (p, b): (Vec<_>, Vec<_>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let shares_more_than_root = p
        .iter()
        .take(common)
        .any(|c| matches!(c, std::path::Component::Normal(_)));
    if !path.is_absolute() || !base.is_absolute() || !shares_more_than_root {
        return path.to_path_buf();
    }
    let mut rel = PathBuf::new();
    for _ in common..b.len() {
        rel.push("..");
    }
    for c in &p[common..] {
        rel.push(c.as_os_str());
    }
    rel
}

fn read_summary(layout: &RunLayout) -> Option<RunSummary> {
    let text = std::fs::read_to_string(layout.summary()).ok()?;
    serde_json::from_str(&text).ok()
}

/// The epochs of a run, the last line of each epoch kept (a resumed run rewrites its tail).
fn read_epochs(layout: &RunLayout) -> Vec<EpochMetrics> {
    let Ok(text) = std::fs::read_to_string(layout.epochs()) else {
        return Vec::new();
    };
    let mut by_epoch: BTreeMap<u64, EpochMetrics> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Ok(e) = serde_json::from_str::<EpochMetrics>(line) {
            by_epoch.insert(e.epoch, e);
        }
    }
    by_epoch.into_values().collect()
}

/// One run's results from its folder.
pub fn run_result(
    out_dir: &Path,
    plan: &StudyPlan,
    condition: &str,
    seed: u64,
    keys: &BTreeMap<String, Option<LoadedKey>>,
) -> RunResult {
    let dir = run_dir(out_dir, condition, seed);
    let layout = RunLayout::new(&dir);
    let record = read_record(&dir);
    let summary = read_summary(&layout);
    let status = if summary.is_some() {
        RunStatus::Finished
    } else if let Some(r) = &record {
        r.status
    } else if layout.is_resumable() {
        RunStatus::Interrupted
    } else {
        RunStatus::Pending
    };
    let mut result = RunResult {
        seed,
        run_dir: relative_to(&dir, out_dir),
        status,
        eer: BTreeMap::new(),
        scores: BTreeMap::new(),
        attack_eer: BTreeMap::new(),
        condition_eer: BTreeMap::new(),
        best_epoch: summary.as_ref().and_then(|s| s.best_epoch),
        epochs_to_best: summary.as_ref().and_then(|s| s.best_epoch).map(|e| e + 1),
        epochs: summary.as_ref().map(|s| s.num_epochs),
        conflict_frac: None,
        wall_time_s: record.as_ref().map(|r| r.wall_time_s),
        errors: Vec::new(),
        dev_eer_by_epoch: Vec::new(),
        conflict_frac_by_epoch: Vec::new(),
        pair_conflict_frac: BTreeMap::new(),
    };
    if let Some(message) = record.as_ref().and_then(|r| r.error.clone()) {
        if status == RunStatus::Failed {
            result.errors.push(message);
        }
    }
    let epochs = read_epochs(&layout);
    if result.epochs.is_none() && !epochs.is_empty() {
        result.epochs = Some(epochs.len() as u64);
    }
    let fracs: Vec<f64> = epochs.iter().filter_map(|e| e.conflict_frac).collect();
    result.conflict_frac = super::stats::mean(&fracs);
    result.dev_eer_by_epoch = epochs.iter().map(|e| e.dev_eer).collect();
    result.conflict_frac_by_epoch = epochs.iter().map(|e| e.conflict_frac).collect();
    let mut pair_fracs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for e in &epochs {
        for (pair, &frac) in e.pair_conflict_frac.iter().flatten() {
            pair_fracs.entry(pair.clone()).or_default().push(frac);
        }
    }
    result.pair_conflict_frac = pair_fracs
        .into_iter()
        .filter_map(|(pair, v)| super::stats::mean(&v).map(|m| (pair, m)))
        .collect();
    if status != RunStatus::Finished {
        return result;
    }
    for set in &plan.test_sets {
        let key = keys.get(&set.name).and_then(Option::as_ref);
        match evaluate_set(&layout, set, key) {
            Ok(e) => {
                result.eer.insert(set.name.clone(), e.eer);
                if !e.attacks.is_empty() {
                    result.attack_eer.insert(set.name.clone(), e.attacks);
                }
                if !e.conditions.is_empty() {
                    result.condition_eer.insert(set.name.clone(), e.conditions);
                }
                let scores = scores_path(&layout, &set.name);
                if scores.is_file() {
                    result
                        .scores
                        .insert(set.name.clone(), relative_to(&scores, out_dir));
                }
            }
            Err(message) => result
                .errors
                .push(format!("test set '{}': {message}", set.name)),
        }
    }
    result
}

fn curve(values_by_run: &[&[Option<f64>]]) -> Curve {
    let len = values_by_run.iter().map(|v| v.len()).max().unwrap_or(0);
    let mut c = Curve::default();
    for i in 0..len {
        let values: Vec<f64> = values_by_run
            .iter()
            .filter_map(|v| v.get(i).copied().flatten())
            .collect();
        c.n.push(values.len());
        c.mean.push(super::stats::mean(&values));
        c.std.push(super::stats::sample_std(&values));
    }
    c
}

fn summarize_groups(
    runs: &[&RunResult],
    field: impl Fn(&RunResult) -> &BTreeMap<String, BTreeMap<String, f64>>,
) -> BTreeMap<String, BTreeMap<String, Summary>> {
    let mut values: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for r in runs {
        for (set, groups) in field(r) {
            for (group, eer) in groups {
                values
                    .entry(set.clone())
                    .or_default()
                    .entry(group.clone())
                    .or_default()
                    .push(*eer);
            }
        }
    }
    values
        .into_iter()
        .map(|(set, groups)| {
            let s = groups
                .into_iter()
                .filter_map(|(g, v)| summarize(&v).map(|s| (g, s)))
                .collect();
            (set, s)
        })
        .collect()
}

/// Summaries of one condition from its runs.
pub fn condition_results(
    name: &str,
    overrides: &[String],
    runs: Vec<RunResult>,
) -> ConditionResults {
    let finished: Vec<&RunResult> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Finished)
        .collect();
    let mut eer_values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &finished {
        for (set, e) in &r.eer {
            eer_values.entry(set.clone()).or_default().push(*e);
        }
    }
    let eer = eer_values
        .into_iter()
        .filter_map(|(set, v)| summarize(&v).map(|s| (set, s)))
        .collect();
    let pick = |f: &dyn Fn(&RunResult) -> Option<f64>| -> Option<Summary> {
        let v: Vec<f64> = finished.iter().filter_map(|r| f(r)).collect();
        summarize(&v)
    };
    let dev_eer: Vec<Vec<Option<f64>>> = finished
        .iter()
        .map(|r| r.dev_eer_by_epoch.iter().map(|&e| Some(e)).collect())
        .collect();
    let dev_refs: Vec<&[Option<f64>]> = dev_eer.iter().map(Vec::as_slice).collect();
    let conflict_refs: Vec<&[Option<f64>]> = finished
        .iter()
        .map(|r| r.conflict_frac_by_epoch.as_slice())
        .collect();
    let dev_curve = curve(&dev_refs);
    let curves = Curves {
        epoch: (0..dev_curve.mean.len() as u64).collect(),
        dev_eer: dev_curve,
        conflict_frac: curve(&conflict_refs),
    };
    ConditionResults {
        name: name.to_string(),
        overrides: overrides.to_vec(),
        eer,
        attack_eer: summarize_groups(&finished, |r| &r.attack_eer),
        condition_eer: summarize_groups(&finished, |r| &r.condition_eer),
        conflict_frac: pick(&|r| r.conflict_frac),
        pair_conflict_frac: {
            let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for r in &finished {
                for (pair, &frac) in &r.pair_conflict_frac {
                    values.entry(pair.clone()).or_default().push(frac);
                }
            }
            values
                .into_iter()
                .filter_map(|(pair, v)| summarize(&v).map(|s| (pair, s)))
                .collect()
        },
        epochs_to_best: pick(&|r| r.epochs_to_best.map(|e| e as f64)),
        wall_time_s: pick(&|r| r.wall_time_s),
        curves,
        runs,
    }
}

/// Paired comparisons of every condition with the baseline, per test set.
pub fn comparisons(conditions: &[ConditionResults], baseline: &str) -> Vec<Comparison> {
    let Some(base) = conditions.iter().find(|c| c.name == baseline) else {
        return Vec::new();
    };
    let finished_eer = |c: &ConditionResults, set: &str| -> BTreeMap<u64, f64> {
        c.runs
            .iter()
            .filter(|r| r.status == RunStatus::Finished)
            .filter_map(|r| r.eer.get(set).map(|e| (r.seed, *e)))
            .collect()
    };
    let mut out = Vec::new();
    for c in conditions.iter().filter(|c| c.name != baseline) {
        for set in base.eer.keys() {
            let b = finished_eer(base, set);
            let x = finished_eer(c, set);
            let seeds: Vec<u64> = x.keys().filter(|s| b.contains_key(s)).copied().collect();
            let xs: Vec<f64> = seeds.iter().map(|s| x[s]).collect();
            let bs: Vec<f64> = seeds.iter().map(|s| b[s]).collect();
            if let Some(test) = paired_t_test(&xs, &bs) {
                out.push(Comparison {
                    condition: c.name.clone(),
                    baseline: baseline.to_string(),
                    test_set: set.clone(),
                    seeds,
                    within_noise: test.ci95.map(|[lo, hi]| lo <= 0.0 && 0.0 <= hi),
                    test,
                });
            }
        }
    }
    out
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Rebuild the results of the study `plan` from its output folder `out_dir` (which may hold a
/// finished, partial or running study). Writes the demo keys into `<out>/keys/` when missing.
pub fn collect(out_dir: &Path, plan: &StudyPlan) -> Result<StudyResults, StudyError> {
    let mut notes = Vec::new();
    let keys = prepare_keys(plan, out_dir, &mut notes)?;
    collect_with_keys(out_dir, plan, &keys, notes)
}

/// [`collect`] with keys already loaded (the runner keeps them between runs).
pub fn collect_with_keys(
    out_dir: &Path,
    plan: &StudyPlan,
    keys: &BTreeMap<String, Option<LoadedKey>>,
    notes: Vec<String>,
) -> Result<StudyResults, StudyError> {
    let conditions: Vec<ConditionResults> = plan
        .conditions
        .iter()
        .map(|c| {
            let runs = plan
                .seeds
                .iter()
                .map(|&seed| run_result(out_dir, plan, &c.name, seed, keys))
                .collect();
            condition_results(&c.name, &c.overrides, runs)
        })
        .collect();
    let comparisons = comparisons(&conditions, &plan.baseline);
    let test_sets = plan
        .test_sets
        .iter()
        .map(|s| {
            let key = keys
                .get(&s.name)
                .and_then(Option::as_ref)
                .map(|k| relative_to(&absolute(&k.path), &absolute(out_dir)));
            (s.name.clone(), key)
        })
        .collect();
    Ok(StudyResults {
        name: plan.name.clone(),
        study_file: relative_to(&absolute(&plan.path), &absolute(out_dir)),
        base_config: relative_to(&absolute(&plan.base), &absolute(out_dir)),
        seeds: plan.seeds.clone(),
        baseline: plan.baseline.clone(),
        overrides: plan.overrides.clone(),
        test_sets,
        conditions,
        comparisons,
        notes,
        methods: METHODS.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_relative_to_the_study_folder_where_they_share_one() {
        let out = Path::new("/data/studies/toy");
        assert_eq!(
            relative_to(Path::new("/data/studies/toy/runs/a"), out),
            PathBuf::from("runs/a")
        );
        assert_eq!(
            relative_to(Path::new("/data/studies/toy.toml"), out),
            PathBuf::from("../toy.toml")
        );
        assert_eq!(
            relative_to(Path::new("/data/base.toml"), out),
            PathBuf::from("../../base.toml")
        );
        assert_eq!(
            relative_to(Path::new("/corpora/itw/meta.csv"), out),
            PathBuf::from("/corpora/itw/meta.csv")
        );
    }

    fn run(seed: u64, eer: f64, status: RunStatus) -> RunResult {
        RunResult {
            seed,
            run_dir: PathBuf::from(format!("runs/x/seed-{seed}")),
            status,
            eer: BTreeMap::from([("eval".to_string(), eer)]),
            scores: BTreeMap::new(),
            attack_eer: BTreeMap::from([(
                "eval".to_string(),
                BTreeMap::from([("A01".to_string(), eer / 2.0)]),
            )]),
            condition_eer: BTreeMap::new(),
            best_epoch: Some(seed),
            epochs_to_best: Some(seed + 1),
            epochs: Some(5),
            conflict_frac: Some(0.1 * seed as f64),
            wall_time_s: Some(10.0),
            errors: Vec::new(),
            dev_eer_by_epoch: vec![0.4, 0.2 + 0.01 * seed as f64],
            conflict_frac_by_epoch: vec![Some(0.3), None],
            pair_conflict_frac: BTreeMap::from([("clean|noise".to_string(), 0.1 * seed as f64)]),
        }
    }

    #[test]
    fn conditions_and_comparisons_by_hand() {
        let base = condition_results(
            "plain",
            &[],
            vec![
                run(1, 0.10, RunStatus::Finished),
                run(2, 0.10, RunStatus::Finished),
                run(3, 0.10, RunStatus::Finished),
            ],
        );
        let dual = condition_results(
            "dual",
            &[],
            vec![
                run(1, 0.12, RunStatus::Finished),
                run(2, 0.14, RunStatus::Finished),
                run(3, 0.13, RunStatus::Finished),
                // Not finished: left out of every summary.
                run(4, 0.90, RunStatus::Failed),
            ],
        );
        let s = &dual.eer["eval"];
        assert_eq!(s.n, 3);
        assert!((s.mean - 0.13).abs() < 1e-12);
        assert!((s.std.unwrap() - 0.01).abs() < 1e-12);
        assert!((dual.attack_eer["eval"]["A01"].mean - 0.065).abs() < 1e-12);
        // Epochs to best: 2, 3, 4.
        assert!((dual.epochs_to_best.as_ref().unwrap().mean - 3.0).abs() < 1e-12);
        // Conflict fraction: 0.1, 0.2, 0.3.
        assert!((dual.conflict_frac.as_ref().unwrap().mean - 0.2).abs() < 1e-12);
        let pair = &dual.pair_conflict_frac["clean|noise"];
        assert_eq!(pair.n, 3);
        assert!((pair.mean - 0.2).abs() < 1e-12);
        // Curves: epoch 1 dev EER 0.21, 0.22, 0.23; no conflict fraction at epoch 1.
        assert_eq!(dual.curves.epoch, vec![0, 1]);
        assert!((dual.curves.dev_eer.mean[1].unwrap() - 0.22).abs() < 1e-12);
        assert_eq!(dual.curves.conflict_frac.mean[1], None);
        assert_eq!(dual.curves.conflict_frac.n, vec![3, 0]);

        let cmp = comparisons(&[base, dual], "plain");
        assert_eq!(cmp.len(), 1);
        let c = &cmp[0];
        assert_eq!(c.seeds, vec![1, 2, 3]);
        // Differences 0.02, 0.04, 0.03 (see stats::paired_test_by_hand).
        assert!((c.test.mean_diff - 0.03).abs() < 1e-12);
        assert!((c.test.p_value.unwrap() - 0.035_099).abs() < 1e-5);
        assert_eq!(c.within_noise, Some(false));
    }
}
