//! State that more than one view reads.

use std::path::PathBuf;

use crate::train::config::DataPlan;

/// What the views share: the corpus the train view is set to, and where runs live.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The corpus of the experiment form (the augment view browses it).
    pub data: Option<DataPlan>,
    /// Folder that holds run folders (`runs/` by default).
    pub runs_dir: PathBuf,
    /// The run folder of the current or last run started from the train view.
    pub current_run: Option<PathBuf>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            data: None,
            runs_dir: PathBuf::from("runs"),
            current_run: None,
        }
    }
}
