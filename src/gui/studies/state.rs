//! The studies view's state: the study shown, the runner's status, the table's sort order and
//! what is kept between launches. [`sorted_conditions`] orders the table (pure, unit-tested).

use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::super::tasks::{Task, Worker};
use super::super::train::Notice;
use crate::study::{ConditionResults, StudyEvent, StudyOutcome, StudyPlan, StudyResults};

/// Key of the view's settings in eframe's store.
pub(super) const STORAGE_KEY: &str = "dpda.studies_view";

/// A column the table can be sorted by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    Name,
    /// Mean EER on this test set.
    Eer(String),
    /// Mean difference from the baseline on this test set.
    Delta(String),
    /// p-value of the paired test against the baseline on this test set.
    PValue(String),
    ConflictFrac,
    EpochsToBest,
}

/// The table's order: a column, and whether it runs high to low.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    /// The order after clicking `key`'s header: ascending, or reversed if it was sorted by it.
    pub fn clicked(current: Option<&Sort>, key: SortKey) -> Sort {
        match current {
            Some(s) if s.key == key => Sort {
                key,
                descending: !s.descending,
            },
            _ => Sort {
                key,
                descending: false,
            },
        }
    }
}

/// The value of `key` for condition `c` (numbers; names sort on their own).
fn sort_value(results: &StudyResults, c: &ConditionResults, key: &SortKey) -> Option<f64> {
    let comparison = |set: &str| {
        results
            .comparisons
            .iter()
            .find(|x| x.condition == c.name && x.test_set == set)
    };
    match key {
        SortKey::Name => None,
        SortKey::Eer(set) => c.eer.get(set).map(|s| s.mean),
        SortKey::Delta(set) => comparison(set).map(|x| x.test.mean_diff),
        SortKey::PValue(set) => comparison(set).and_then(|x| x.test.p_value),
        SortKey::ConflictFrac => c.conflict_frac.as_ref().map(|s| s.mean),
        SortKey::EpochsToBest => c.epochs_to_best.as_ref().map(|s| s.mean),
    }
}

/// Indices of `results.conditions` in table order: the study's order without a sort; rows
/// without a value for the column go last either way.
pub fn sorted_conditions(results: &StudyResults, sort: Option<&Sort>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..results.conditions.len()).collect();
    let Some(sort) = sort else {
        return order;
    };
    let conditions = &results.conditions;
    let direction = |o: Ordering| if sort.descending { o.reverse() } else { o };
    if sort.key == SortKey::Name {
        order.sort_by(|&a, &b| direction(conditions[a].name.cmp(&conditions[b].name)));
        return order;
    }
    let values: Vec<Option<f64>> = conditions
        .iter()
        .map(|c| sort_value(results, c, &sort.key))
        .collect();
    // A stable sort keeps the study's order among equal values.
    order.sort_by(|&a, &b| match (values[a], values[b]) {
        (Some(x), Some(y)) => direction(x.total_cmp(&y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    order
}

/// Where the study started from this view stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunnerStatus {
    /// No study started from here.
    Idle,
    /// Reading the study file.
    Starting,
    Running,
    /// Stop requested: no further run starts; the one training now finishes first.
    Stopping,
    /// Every run has ended (`failed` of them failed).
    Finished {
        failed: usize,
    },
    /// Stopped with runs left; starting the study again continues it.
    Stopped,
    Failed(String),
}

impl RunnerStatus {
    /// Whether the runner thread is (or may still be) working.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            RunnerStatus::Starting | RunnerStatus::Running | RunnerStatus::Stopping
        )
    }
}

/// What the runner thread sends.
pub(super) enum RunnerMsg {
    /// The study file was read: its plan (the view collects results with it).
    Plan(Box<StudyPlan>),
    Event(StudyEvent),
    Done(Result<Box<StudyOutcome>, String>),
}

/// A file dialog's purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DialogTarget {
    Folder,
    StudyFile,
}

/// What the view keeps between launches.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(super) struct Persisted {
    folder: Option<PathBuf>,
    study_file: String,
}

/// The studies view's state.
pub struct StudiesView {
    /// The study-folder field.
    pub folder_text: String,
    /// The study-file field.
    pub study_file_text: String,
    /// The study folder shown (its `study.json`, or the output folder of the study running).
    pub folder: Option<PathBuf>,
    pub results: Option<StudyResults>,
    pub sort: Option<Sort>,
    pub status: RunnerStatus,
    pub notice: Option<Notice>,
    /// The `dpda` program studies are run with; `None`: this program (tests set the binary).
    pub dpda_exe: Option<PathBuf>,
    /// The plan of the study running (results are collected with it).
    pub(super) plan: Option<StudyPlan>,
    pub(super) runner: Option<Worker<(), RunnerMsg>>,
    pub(super) stop: Option<Arc<AtomicBool>>,
    /// Reading a `study.json`, for this folder.
    pub(super) open_task: Option<(PathBuf, Task<Result<StudyResults, String>>)>,
    pub(super) collect_task: Option<Task<Result<StudyResults, String>>>,
    /// A run ended while a collect was under way: collect again when it is done.
    pub(super) collect_again: bool,
    pub(super) dialog: Option<(DialogTarget, Task<Option<PathBuf>>)>,
    /// A folder to open on the next frame (set without a context: at launch, by a drop).
    pub(super) pending_open: Option<PathBuf>,
}

impl Default for StudiesView {
    fn default() -> Self {
        Self {
            folder_text: String::new(),
            study_file_text: String::new(),
            folder: None,
            results: None,
            sort: None,
            status: RunnerStatus::Idle,
            notice: None,
            dpda_exe: None,
            plan: None,
            runner: None,
            stop: None,
            open_task: None,
            collect_task: None,
            collect_again: false,
            dialog: None,
            pending_open: None,
        }
    }
}

impl StudiesView {
    /// Restores the view's settings from eframe's store; the last study folder is opened again.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        let persisted: Persisted = storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default();
        Self {
            folder_text: persisted
                .folder
                .as_ref()
                .map_or_else(String::new, |f| f.display().to_string()),
            study_file_text: persisted.study_file,
            pending_open: persisted.folder,
            ..Self::default()
        }
    }

    /// Saves the view's settings into eframe's store.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        let persisted = Persisted {
            folder: self.folder.clone(),
            study_file: self.study_file_text.clone(),
        };
        eframe::set_value(storage, STORAGE_KEY, &persisted);
    }

    /// Whether a study started from this view is running.
    pub fn is_running(&self) -> bool {
        self.status.is_active()
    }

    /// Whether a `study.json` is being read.
    pub fn is_loading(&self) -> bool {
        self.open_task.is_some()
    }

    /// The table's rows: indices into the conditions, in the chosen order.
    pub fn table_order(&self) -> Vec<usize> {
        self.results
            .as_ref()
            .map(|r| sorted_conditions(r, self.sort.as_ref()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;
    use crate::study::results::condition_results;
    use crate::study::stats::summarize;
    use crate::study::Comparison;

    fn condition(name: &str, eer: &[f64], conflict: Option<f64>) -> ConditionResults {
        let mut c = condition_results(name, &[], Vec::new());
        c.eer.insert("eval".into(), summarize(eer).unwrap());
        c.conflict_frac = conflict.and_then(|v| summarize(&[v]));
        c
    }

    fn results() -> StudyResults {
        let conditions = vec![
            condition("plain", &[0.10, 0.12], None),
            condition("dual", &[0.20, 0.22], Some(0.3)),
            condition("pcgrad", &[0.05, 0.07], Some(0.1)),
        ];
        let comparison = |name: &str, diff: f64| Comparison {
            condition: name.into(),
            baseline: "plain".into(),
            test_set: "eval".into(),
            seeds: vec![1, 2],
            test: crate::study::stats::paired_t_test(&[diff, diff + 0.01], &[0.0, 0.0]).unwrap(),
            within_noise: None,
        };
        StudyResults {
            name: "s".into(),
            study_file: "s.toml".into(),
            base_config: "base.toml".into(),
            seeds: vec![1, 2],
            baseline: "plain".into(),
            overrides: Vec::new(),
            test_sets: BTreeMap::from([("eval".to_string(), None)]),
            conditions,
            comparisons: vec![comparison("dual", 0.1), comparison("pcgrad", -0.05)],
            notes: Vec::new(),
            methods: String::new(),
        }
    }

    fn names(r: &StudyResults, sort: Option<&Sort>) -> Vec<String> {
        sorted_conditions(r, sort)
            .into_iter()
            .map(|i| r.conditions[i].name.clone())
            .collect()
    }

    #[test]
    fn sorting_by_a_column_then_again_reverses_it() {
        let r = results();
        assert_eq!(names(&r, None), ["plain", "dual", "pcgrad"]);
        let by_eer = Sort::clicked(None, SortKey::Eer("eval".into()));
        assert!(!by_eer.descending);
        assert_eq!(names(&r, Some(&by_eer)), ["pcgrad", "plain", "dual"]);
        let reversed = Sort::clicked(Some(&by_eer), SortKey::Eer("eval".into()));
        assert!(reversed.descending);
        assert_eq!(names(&r, Some(&reversed)), ["dual", "plain", "pcgrad"]);
        // Another column starts ascending again.
        let by_name = Sort::clicked(Some(&reversed), SortKey::Name);
        assert!(!by_name.descending);
        assert_eq!(names(&r, Some(&by_name)), ["dual", "pcgrad", "plain"]);
    }

    #[test]
    fn rows_without_a_value_go_last_in_both_directions() {
        let r = results();
        // The baseline has no difference from itself and no conflict fraction.
        for descending in [false, true] {
            for key in [SortKey::Delta("eval".into()), SortKey::ConflictFrac] {
                let sort = Sort {
                    key: key.clone(),
                    descending,
                };
                let order = names(&r, Some(&sort));
                assert_eq!(order[2], "plain", "{key:?} descending={descending}");
                let expected = if descending {
                    ["dual", "pcgrad"]
                } else {
                    ["pcgrad", "dual"]
                };
                assert_eq!(order[..2], expected, "{key:?} descending={descending}");
            }
        }
    }
}
