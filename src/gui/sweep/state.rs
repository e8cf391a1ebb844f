//! The sweep view's state: the fields, the worker's status, the result shown and what is kept
//! between launches.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::super::tasks::Worker;
use crate::inference::ModelRequest;
use crate::sweep::{SweepGrid, SweepPlan, SweepProgress, SweepResult};

/// Key of the view's settings in eframe's store.
pub(super) const STORAGE_KEY: &str = "dpda.sweep_view";

/// Where the sweep started from this view stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum SweepStatus {
    #[default]
    Idle,
    /// Scoring: clips done of the clips to score.
    Running(SweepProgress),
    /// Stop requested; the clips being scored finish first.
    Stopping,
    /// The result is shown (it says whether it was stopped early).
    Finished,
    Failed(String),
}

impl SweepStatus {
    /// Whether the worker is (or may still be) working.
    pub fn is_active(&self) -> bool {
        matches!(self, SweepStatus::Running(_) | SweepStatus::Stopping)
    }
}

/// What the worker sends.
pub(super) enum SweepMsg {
    Progress(SweepProgress),
    Done(Result<Box<SweepResult>, String>),
}

/// What the view keeps between launches: its fields.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(default)]
pub(super) struct Persisted {
    checkpoint_a: String,
    checkpoint_b: String,
    folder: String,
    key: String,
    grid: String,
}

/// The sweep view's state.
#[derive(Default)]
pub struct SweepView {
    /// First checkpoint (a run folder or a checkpoint file).
    pub checkpoint_a: String,
    /// Second checkpoint; empty for one column.
    pub checkpoint_b: String,
    /// The folder (or file, or `.txt` list) of clips.
    pub folder: String,
    /// The key labelling the clips.
    pub key: String,
    /// A grid file; empty for the default grid.
    pub grid: String,
    pub status: SweepStatus,
    /// The last result (set by the worker, or by a caller showing a saved one).
    pub result: Option<SweepResult>,
    pub(super) worker: Option<Worker<(), SweepMsg>>,
    pub(super) stop: Option<Arc<AtomicBool>>,
}

impl SweepView {
    /// Restores the fields from eframe's store.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        let p: Persisted = storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default();
        Self {
            checkpoint_a: p.checkpoint_a,
            checkpoint_b: p.checkpoint_b,
            folder: p.folder,
            key: p.key,
            grid: p.grid,
            ..Self::default()
        }
    }

    /// Saves the fields into eframe's store.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        let p = Persisted {
            checkpoint_a: self.checkpoint_a.clone(),
            checkpoint_b: self.checkpoint_b.clone(),
            folder: self.folder.clone(),
            key: self.key.clone(),
            grid: self.grid.clone(),
        };
        eframe::set_value(storage, STORAGE_KEY, &p);
    }

    /// Whether a sweep started from this view is running.
    pub fn is_running(&self) -> bool {
        self.status.is_active()
    }

    /// The plan the fields describe; the error names the empty or invalid field.
    pub fn plan(&self) -> Result<SweepPlan, String> {
        let field = |text: &str, name: &str| -> Result<PathBuf, String> {
            let t = text.trim();
            if t.is_empty() {
                Err(format!("{name} is empty"))
            } else {
                Ok(PathBuf::from(t))
            }
        };
        let mut checkpoints = vec![ModelRequest::new(field(
            &self.checkpoint_a,
            "Checkpoint 1",
        )?)];
        if !self.checkpoint_b.trim().is_empty() {
            checkpoints.push(ModelRequest::new(self.checkpoint_b.trim()));
        }
        let grid = if self.grid.trim().is_empty() {
            SweepGrid::default()
        } else {
            SweepGrid::load(std::path::Path::new(self.grid.trim())).map_err(|e| e.to_string())?
        };
        Ok(SweepPlan {
            checkpoints,
            key: field(&self.key, "Key")?,
            inputs: vec![field(&self.folder, "Clips")?],
            grid,
        })
    }
}
