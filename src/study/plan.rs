//! The study file: a TOML document naming a base training configuration, the seeds, the
//! overrides shared by every run and the conditions to compare. It is parsed once (unknown keys
//! refused, with the line) and checked into a [`StudyPlan`]: every condition × seed training
//! plan is loaded with its overrides before any run starts, so a mistyped key fails at once.
//!
//! ```toml
//! base = "../demo-dual-pcgrad.toml"   # relative to the study file
//! seeds = [1, 2, 3]                    # each run sets train.seed
//! baseline = "plain"                   # optional; the first condition by default
//! [set]                                # overrides of every run, as `dpda train --set`
//! "train.epochs" = 5
//! [[condition]]
//! name = "plain"
//! set = { "train.mode" = "plain" }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::data::demo::DemoSize;
use crate::data::protocol::KeyFormat;
use crate::train::config::{ConfigError, CorpusPlan, Plan, TestKind};

use super::StudyError;

/// The study file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    base: PathBuf,
    seeds: Vec<u64>,
    #[serde(default)]
    baseline: Option<String>,
    #[serde(default)]
    set: toml::Table,
    #[serde(default, rename = "condition")]
    conditions: Vec<RawCondition>,
}

/// One `[[condition]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    name: String,
    #[serde(default)]
    set: toml::Table,
}

/// One checked condition: its name (a folder name) and its `--set` overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct ConditionPlan {
    pub name: String,
    /// `key=value` assignments as `dpda train --set` takes them.
    pub overrides: Vec<String>,
}

/// Where a test set's labels come from.
#[derive(Clone, Debug, PartialEq)]
pub enum KeySource {
    /// A split of the demo corpus (`eval` or `wild`): the key is written into the study's
    /// `keys/` folder.
    Demo { size: DemoSize, seed: u64 },
    /// A key file on disk, read in `format`; `subset` selects a 2021 evaluation subset.
    File {
        path: PathBuf,
        format: KeyFormat,
        subset: Option<String>,
    },
    /// No key file is known: the EER is the one the run wrote in its `tests.json`.
    TestsJson,
}

/// One test set every run is evaluated on: its name (`scores-<name>.txt`) and its key.
#[derive(Clone, Debug, PartialEq)]
pub struct TestSetSpec {
    pub name: String,
    pub key: KeySource,
}

/// One training run of the study.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub condition: String,
    pub seed: u64,
    /// Every `--set` of the run: the study's, the condition's and `train.seed`.
    pub overrides: Vec<String>,
}

/// A checked study.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyPlan {
    /// The study file.
    pub path: PathBuf,
    /// The study's name (the file's stem).
    pub name: String,
    /// The base training configuration, resolved against the study file's folder.
    pub base: PathBuf,
    pub seeds: Vec<u64>,
    pub baseline: String,
    /// Overrides shared by every run.
    pub overrides: Vec<String>,
    pub conditions: Vec<ConditionPlan>,
    /// The test sets of the corpus and of the configuration's `[[test]]` entries.
    pub test_sets: Vec<TestSetSpec>,
}

impl StudyPlan {
    /// Every run, condition by condition, seed by seed.
    pub fn runs(&self) -> Vec<RunSpec> {
        let mut runs = Vec::new();
        for c in &self.conditions {
            for &seed in &self.seeds {
                runs.push(RunSpec {
                    condition: c.name.clone(),
                    seed,
                    overrides: run_overrides(&self.overrides, &c.overrides, seed),
                });
            }
        }
        runs
    }

    /// The default output folder: beside the study file, named after its stem
    /// (`experiments/studies/paper-toy.toml` → `experiments/studies/paper-toy/`).
    pub fn default_out_dir(&self) -> PathBuf {
        self.path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.name)
    }
}

/// The run folder of one run: `<out>/runs/<condition>/seed-<seed>`.
pub fn run_dir(out_dir: &Path, condition: &str, seed: u64) -> PathBuf {
    out_dir
        .join("runs")
        .join(condition)
        .join(format!("seed-{seed}"))
}

fn run_overrides(common: &[String], condition: &[String], seed: u64) -> Vec<String> {
    let mut all = common.to_vec();
    all.extend(condition.iter().cloned());
    all.push(format!("train.seed={seed}"));
    all
}

/// `set` tables as `key=value` overrides: nested tables become dotted keys, values are written
/// as TOML (strings quoted), which `dpda train --set` reads back as the same value.
fn flatten_set(prefix: &str, table: &toml::Table, out: &mut Vec<(String, String)>) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            // A dotted key written unquoted (`train.epochs = 5`) arrives as nested tables.
            toml::Value::Table(t) if !t.is_empty() => flatten_set(&full, t, out),
            other => out.push((full, other.to_string())),
        }
    }
}

/// Whether `name` can name a folder on every platform: 1–64 letters, digits, `-`, `_`, `.`,
/// not starting with a dot.
fn folder_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Read and check the study file at `path`.
pub fn load_study(path: &Path) -> Result<StudyPlan, StudyError> {
    let text = std::fs::read_to_string(path).map_err(|source| StudyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    study_from_str(&text, path)
}

/// Parse and check study `text`, read from `path` (relative paths are taken from its folder).
pub fn study_from_str(text: &str, path: &Path) -> Result<StudyPlan, StudyError> {
    let invalid = |message: String| StudyError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    // toml's message carries the line and column and shows the offending line.
    let raw: RawStudy = toml::from_str(text).map_err(|e| StudyError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if raw.seeds.is_empty() {
        return Err(invalid("seeds: list at least one seed".into()));
    }
    let mut seen_seeds = BTreeSet::new();
    for s in &raw.seeds {
        if !seen_seeds.insert(*s) {
            return Err(invalid(format!("seeds: {s} is listed twice")));
        }
    }
    if raw.conditions.is_empty() {
        return Err(invalid(
            "no [[condition]]: list at least one condition to run".into(),
        ));
    }
    let check_keys = |what: &str, pairs: &[(String, String)]| {
        for (key, _) in pairs {
            if key == "train.seed" {
                return Err(invalid(format!(
                    "{what}: 'train.seed' is set by the study from `seeds`"
                )));
            }
        }
        Ok(())
    };
    let mut common_pairs = Vec::new();
    flatten_set("", &raw.set, &mut common_pairs);
    check_keys("[set]", &common_pairs)?;
    let overrides: Vec<String> = common_pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut conditions: Vec<ConditionPlan> = Vec::new();
    for (i, c) in raw.conditions.iter().enumerate() {
        if !folder_name_ok(&c.name) {
            return Err(invalid(format!(
                "condition[{i}].name: '{}' must be 1–64 letters, digits, '-', '_' or '.' \
                 (it names the condition's run folder)",
                c.name
            )));
        }
        if conditions.iter().any(|p| p.name == c.name) {
            return Err(invalid(format!(
                "condition[{i}].name: '{}' is used twice",
                c.name
            )));
        }
        let mut pairs = Vec::new();
        flatten_set("", &c.set, &mut pairs);
        check_keys(&format!("condition '{}'", c.name), &pairs)?;
        conditions.push(ConditionPlan {
            name: c.name.clone(),
            overrides: pairs.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        });
    }
    let baseline = match raw.baseline {
        Some(b) => {
            if !conditions.iter().any(|c| c.name == b) {
                let names: Vec<&str> = conditions.iter().map(|c| c.name.as_str()).collect();
                return Err(invalid(format!(
                    "baseline: '{b}' is not a condition (conditions: {})",
                    names.join(", ")
                )));
            }
            b
        }
        None => conditions[0].name.clone(),
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let base = folder.join(&raw.base);
    if !base.is_file() {
        return Err(invalid(format!(
            "base: no training configuration at {}",
            base.display()
        )));
    }
    let name = path
        .file_stem()
        .map_or("study".into(), |s| s.to_string_lossy().into_owned());

    // Every run's plan must load before anything runs.
    let mut test_sets: Option<(String, Vec<TestSetSpec>)> = None;
    for c in &conditions {
        for &seed in &raw.seeds {
            let all = run_overrides(&overrides, &c.overrides, seed);
            let plan = crate::train::load_plan(&base, &all)
                .map_err(|source| blame(&base, &overrides, c, seed, source))?;
            let sets = plan_test_sets(&plan);
            match &test_sets {
                None => test_sets = Some((c.name.clone(), sets)),
                Some((first, known)) if *known != sets => {
                    return Err(invalid(format!(
                        "condition '{}' (seed {seed}) evaluates other test sets than condition \
                         '{first}' (different corpus or [[test]] sets): the conditions of a study \
                         must be compared on the same data",
                        c.name
                    )));
                }
                Some(_) => {}
            }
        }
    }
    Ok(StudyPlan {
        path: path.to_path_buf(),
        name,
        base,
        seeds: raw.seeds,
        baseline,
        overrides,
        conditions,
        test_sets: test_sets.map(|(_, s)| s).unwrap_or_default(),
    })
}

/// The error of a condition × seed whose plan does not load, naming the condition and, when one
/// alone is at fault, the key.
fn blame(
    base: &Path,
    common: &[String],
    condition: &ConditionPlan,
    seed: u64,
    source: ConfigError,
) -> StudyError {
    let mut so_far = common.to_vec();
    so_far.push(format!("train.seed={seed}"));
    let mut culprit = None;
    if crate::train::load_plan(base, &so_far).is_ok() {
        for assignment in &condition.overrides {
            so_far.push(assignment.clone());
            if crate::train::load_plan(base, &so_far).is_err() {
                culprit = assignment.split_once('=').map(|(k, _)| k.to_string());
                break;
            }
        }
    }
    StudyError::Condition {
        condition: condition.name.clone(),
        seed,
        key: culprit.map_or(String::new(), |k| format!(" (key '{k}')")),
        source,
    }
}

/// The test sets a run of `plan` writes scores for, with the key each is evaluated against.
fn plan_test_sets(plan: &Plan) -> Vec<TestSetSpec> {
    let mut sets = Vec::new();
    if plan.data.score_eval {
        let key = match &plan.data.corpus {
            CorpusPlan::Demo { size, seed } => {
                // The trainer scores the demo corpus's wild split next to its eval split.
                sets.push(TestSetSpec {
                    name: crate::data::demo::WILD_NAME.into(),
                    key: KeySource::Demo {
                        size: *size,
                        seed: *seed,
                    },
                });
                Some(KeySource::Demo {
                    size: *size,
                    seed: *seed,
                })
            }
            CorpusPlan::Asvspoof2019La { root } => Some(KeySource::File {
                path: crate::data::corpus::asvspoof2019_la_paths(
                    root,
                    crate::data::corpus::Split::Eval,
                )
                .0,
                format: KeyFormat::La2019,
                subset: None,
            }),
            CorpusPlan::Csv { eval, .. } => eval.as_ref().map(|path| KeySource::File {
                path: path.clone(),
                format: KeyFormat::Csv,
                subset: None,
            }),
        };
        if let Some(key) = key {
            sets.push(TestSetSpec {
                name: "eval".into(),
                key,
            });
        }
    }
    for t in &plan.tests {
        let key = match (t.kind, &t.key) {
            (TestKind::La2019, Some(k)) => file_key(k, KeyFormat::La2019, None),
            (TestKind::La2019, None) => file_key(
                &crate::data::corpus::asvspoof2019_la_paths(
                    &t.root,
                    crate::data::corpus::Split::Eval,
                )
                .0,
                KeyFormat::La2019,
                None,
            ),
            (TestKind::La2021, Some(k)) => file_key(k, KeyFormat::La2021, Some(subset_2021(t))),
            (TestKind::Df2021, Some(k)) => file_key(k, KeyFormat::Df2021, Some(subset_2021(t))),
            (TestKind::InTheWild, k) => file_key(
                &k.clone().unwrap_or_else(|| t.root.join("meta.csv")),
                KeyFormat::InTheWild,
                None,
            ),
            (TestKind::Csv | TestKind::For, Some(k)) => file_key(k, KeyFormat::Csv, None),
            // 2021 sets always have a key (checked by the trainer's plan); FoR without one is
            // scanned from its folders.
            _ => KeySource::TestsJson,
        };
        sets.push(TestSetSpec {
            name: t.name.clone(),
            key,
        });
    }
    sets
}

fn subset_2021(t: &crate::train::config::TestSetPlan) -> String {
    t.subset.clone().unwrap_or_else(|| "eval".into())
}

fn file_key(path: &Path, format: KeyFormat, subset: Option<String>) -> KeySource {
    KeySource::File {
        path: path.to_path_buf(),
        format,
        subset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_tables_become_train_overrides() {
        let table: toml::Table = toml::from_str(
            "\"train.mode\" = \"dual\"\ndata.demo_size = \"tiny\"\n\"train.epochs\" = 5\n\
             \"optim.lr\" = 0.001\n\"data.score_eval\" = true\n\"x.y\" = [0.1, 0.9]\n",
        )
        .unwrap();
        let mut pairs = Vec::new();
        flatten_set("", &table, &mut pairs);
        let mut doc = toml::Table::new();
        for (k, v) in &pairs {
            crate::train::config::apply_override(&mut doc, &format!("{k}={v}")).unwrap();
        }
        let expected: toml::Table = toml::from_str(
            "[train]\nmode = \"dual\"\nepochs = 5\n[data]\ndemo_size = \"tiny\"\nscore_eval = true\n\
             [optim]\nlr = 0.001\n[x]\ny = [0.1, 0.9]\n",
        )
        .unwrap();
        assert_eq!(doc, expected);
    }

    #[test]
    fn folder_names() {
        assert!(folder_name_ok("dual-pcgrad_2.a"));
        for bad in ["", ".hidden", "a/b", "a b", "ü"] {
            assert!(!folder_name_ok(bad), "{bad}");
        }
    }
}
