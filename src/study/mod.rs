//! Studies: multi-seed comparisons of training conditions. A study file ([`plan`]) names a base
//! training configuration, seeds and conditions (sets of `--set` overrides); the [`runner`]
//! trains every condition × seed as a child `dpda train` process in its own run folder, and
//! [`collect`] rebuilds the results from the output folder at any time (finished or still
//! running): per-run EERs on every test set computed from the score files and keys, their mean,
//! standard deviation and 95 % Student t interval per condition ([`stats`]), paired comparisons
//! with the baseline, breakdowns, training curves. [`write_outputs`] writes `study.json`,
//! `report.md` and the plots.
//!
//! ```text
//! <out>/study.json                      the results (StudyResults)
//! <out>/report.md                       the same for people
//! <out>/eer.{png,svg} curves.{png,svg}  plots
//! <out>/keys/                           keys written for the demo corpus
//! <out>/runs/<condition>/seed-<seed>/   run folders (+ study-run.log, study-run.json)
//! ```
//!
//! `dpda study` (src/cli/study.rs) drives it; a GUI can use the same three steps.

use std::path::{Path, PathBuf};

pub mod plan;
pub mod plots;
pub mod report;
pub mod results;
pub mod runner;
pub mod stats;

pub use plan::{load_study, run_dir, ConditionPlan, KeySource, RunSpec, StudyPlan, TestSetSpec};
pub use results::{
    collect, Comparison, ConditionResults, Curves, RunResult, RunStatus, StudyResults,
};
pub use runner::{run_study, RunnerOptions, StudyEvent, StudyOutcome};

/// Errors of a study; each names the file, the condition or the run.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("condition '{condition}', seed {seed}{key}: {source}")]
    Condition {
        condition: String,
        seed: u64,
        /// ` (key 'x.y')` when one override alone is at fault, else empty.
        key: String,
        source: crate::train::config::ConfigError,
    },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("cannot start {exe}: {source}")]
    Spawn {
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
    #[error("demo corpus keys: {0}")]
    Data(#[from] crate::data::DataError),
}

pub(crate) fn write_err(path: &Path) -> impl Fn(std::io::Error) -> StudyError + '_ {
    move |e| StudyError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The files [`write_outputs`] writes.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputPaths {
    pub study_json: PathBuf,
    pub report_md: PathBuf,
    pub plots: Vec<PathBuf>,
}

/// Write `study.json`, `report.md` and the plots of `results` into `out_dir` (each atomically).
/// A plot that cannot be drawn does not stop the other outputs; its error is returned last.
pub fn write_outputs(out_dir: &Path, results: &StudyResults) -> Result<OutputPaths, StudyError> {
    std::fs::create_dir_all(out_dir).map_err(write_err(out_dir))?;
    let study_json = out_dir.join("study.json");
    let json = serde_json::to_string_pretty(results).map_err(|e| StudyError::Write {
        path: study_json.clone(),
        message: e.to_string(),
    })?;
    crate::atomic_file::write_atomically(&study_json, (json + "\n").as_bytes())
        .map_err(write_err(&study_json))?;
    let report_md = out_dir.join("report.md");
    crate::atomic_file::write_atomically(&report_md, report::markdown(results).as_bytes())
        .map_err(write_err(&report_md))?;
    let plots = plots::write_plots(out_dir, results)?;
    Ok(OutputPaths {
        study_json,
        report_md,
        plots,
    })
}
