//! The run folder: one type owns its file names and decides which checkpoint a run's "best"
//! model is, so the trainer writes, and the CLI, the GUI and the test-set evaluation read, the
//! same files.
//!
//! ```text
//! <run>/config.toml            the resolved configuration
//! <run>/metrics.jsonl          one line per iteration
//! <run>/layer_cos.jsonl        per-tensor cosines every K iterations
//! <run>/epochs.jsonl           one line per epoch
//! <run>/checkpoints/<stem>.safetensors + <stem>.json   last, epoch-NNN (the kept best), final
//! <run>/scores-eval.txt        scores of the corpus's eval split
//! <run>/scores-<test>.txt      scores of each [[test]] set
//! <run>/tests.json             the test sets' results
//! <run>/summary.json           how the run ended
//! ```
//!
//! It also names run folders and finds them: [`default_run_dir`] is the CLI's `runs/<config
//! stem>`, [`fresh_run_dir`] the GUI's folder that never holds a run yet, and [`list_runs`] the
//! run folders under a runs folder, newest first.

use std::path::{Path, PathBuf};

/// Which checkpoint [`RunLayout::best_weights`] chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BestKind {
    /// `final`: the average of the kept best epochs, written when the run ended.
    Final,
    /// The best epoch by dev loss so far (the run has not ended).
    BestEpoch(u64),
    /// `last`: no better choice exists (no epoch has ended with a kept checkpoint).
    Last,
}

impl BestKind {
    /// Words for the user.
    pub fn describe(self) -> String {
        match self {
            BestKind::Final => "final (average of the kept best epochs)".into(),
            BestKind::BestEpoch(e) => format!("best epoch so far ({e}); the run has not ended"),
            BestKind::Last => "last checkpoint (no best epoch recorded)".into(),
        }
    }
}

/// The files of one run folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLayout {
    root: PathBuf,
}

impl RunLayout {
    /// The layout of the run folder `root` (nothing is read).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunLayout { root: root.into() }
    }

    /// The run folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `root` holds a run (its resolved configuration).
    pub fn is_run(&self) -> bool {
        self.config().is_file()
    }

    /// Whether the run can be continued: it has a `last` checkpoint and did not end (a run that
    /// ends writes `summary.json`; one stopped, killed or crashed does not).
    pub fn is_resumable(&self) -> bool {
        let (weights, sidecar) = self.checkpoint("last");
        self.is_run() && weights.is_file() && sidecar.is_file() && !self.summary().exists()
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    pub fn layer_cos(&self) -> PathBuf {
        self.root.join("layer_cos.jsonl")
    }

    pub fn epochs(&self) -> PathBuf {
        self.root.join("epochs.jsonl")
    }

    /// The three per-run JSON-lines files.
    pub fn jsonl_files(&self) -> [PathBuf; 3] {
        [self.metrics(), self.layer_cos(), self.epochs()]
    }

    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }

    pub fn scores_eval(&self) -> PathBuf {
        self.root.join("scores-eval.txt")
    }

    /// Score file of test set `name`.
    pub fn test_scores(&self, name: &str) -> PathBuf {
        self.root.join(format!("scores-{name}.txt"))
    }

    /// The score calibration fitted on the dev scores of the final model.
    pub fn calibration(&self) -> PathBuf {
        self.root.join("calibration.json")
    }

    /// The test sets' results.
    pub fn tests_summary(&self) -> PathBuf {
        self.root.join("tests.json")
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// Stem of the checkpoint of epoch `epoch` (0-based): `epoch-NNN`.
    pub fn epoch_stem(epoch: u64) -> String {
        format!("epoch-{epoch:03}")
    }

    /// `(weights, sidecar)` of checkpoint `stem`.
    pub fn checkpoint(&self, stem: &str) -> (PathBuf, PathBuf) {
        let dir = self.checkpoints();
        (
            dir.join(format!("{stem}.safetensors")),
            dir.join(format!("{stem}.json")),
        )
    }

    /// The weights of the run's best model: `final` when the run has ended, else the best
    /// epoch's checkpoint (named by `last`'s sidecar), else `last`.
    pub fn best_weights(&self) -> Option<(PathBuf, BestKind)> {
        let (final_path, _) = self.checkpoint("final");
        if final_path.is_file() {
            return Some((final_path, BestKind::Final));
        }
        let (last, last_side) = self.checkpoint("last");
        if let Some(epoch) = read_best_epoch(&last_side) {
            let (best, _) = self.checkpoint(&Self::epoch_stem(epoch));
            if best.is_file() {
                return Some((best, BestKind::BestEpoch(epoch)));
            }
        }
        last.is_file().then_some((last, BestKind::Last))
    }

    /// The run folder a checkpoint file belongs to: `<run>` for `<run>/checkpoints/<file>`.
    pub fn of_checkpoint(weights: &Path) -> Option<RunLayout> {
        let dir = weights.parent()?;
        let candidates = [dir.parent(), Some(dir)];
        candidates
            .into_iter()
            .flatten()
            .map(RunLayout::new)
            .find(RunLayout::is_run)
    }
}

/// An exclusive lock on a run folder (`<run>/.lock`, an OS file lock): held while a run or an
/// evaluation writes into the folder, released when dropped or when the process dies, however it
/// dies.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// Why a run folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path} is in use by another dpda process ({holder}); wait for it to end or use another run folder")]
    Held { path: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RunLayout {
    /// The lock file.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(".lock")
    }

    /// Take the folder's exclusive lock (creating the folder), or say who holds it.
    pub fn lock(&self) -> Result<RunLock, LockError> {
        use std::io::{Read, Seek, Write};
        let path = self.lock_file();
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.root).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    path: self.root.clone(),
                    holder: if holder.is_empty() {
                        "holder unknown".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Say who holds it, for the message a second process shows.
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(
            file,
            "pid {}, started at unix time {started}",
            std::process::id()
        );
        let _ = file.flush();
        Ok(RunLock { _file: file })
    }

    /// Whether the folder holds anything a run wrote: its configuration, metrics or checkpoints.
    pub fn holds_run(&self) -> bool {
        self.config().exists()
            || self.jsonl_files().iter().any(|p| p.exists())
            || std::fs::read_dir(self.checkpoints()).is_ok_and(|mut d| d.next().is_some())
    }

    /// Remove what a previous run wrote (configuration, metrics, checkpoints, scores, summaries),
    /// before a run that was told to overwrite it. Other files in the folder are left alone.
    pub fn clear_run_files(&self) -> std::io::Result<()> {
        let mut files = vec![
            self.config(),
            self.summary(),
            self.tests_summary(),
            self.calibration(),
        ];
        files.extend(self.jsonl_files());
        for path in files {
            if path.exists() {
                std::fs::remove_file(&path)?;
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("scores-") && name.ends_with(".txt") {
                    std::fs::remove_file(entry.path())?;
                }
            }
        }
        let dir = self.checkpoints();
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir)?;
        }
        Ok(())
    }
}

/// The default run folder of an experiment named `stem`: `<runs_root>/<stem>` (what `dpda train`
/// uses without `--run-dir`; it refuses a folder that holds a run unless resuming or overwriting).
pub fn default_run_dir(runs_root: &Path, stem: &str) -> PathBuf {
    runs_root.join(stem)
}

/// A run folder for a new run of `stem` that does not exist yet: [`default_run_dir`] when free,
/// else `<stem>-<UTC YYYYMMDD-HHMMSS>` with `-2`, `-3`… when that is taken too.
pub fn fresh_run_dir(runs_root: &Path, stem: &str) -> PathBuf {
    fresh_run_dir_at(runs_root, stem, jiff::Timestamp::now())
}

fn fresh_run_dir_at(runs_root: &Path, stem: &str, now: jiff::Timestamp) -> PathBuf {
    let dir = default_run_dir(runs_root, stem);
    if !dir.exists() {
        return dir;
    }
    let base = format!("{stem}-{}", now.strftime("%Y%m%d-%H%M%S"));
    let mut dir = runs_root.join(&base);
    let mut n = 2;
    while dir.exists() {
        dir = runs_root.join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

/// `YYYYMMDD-HHMMSS` (UTC) of Unix time `unix_s`, as in [`fresh_run_dir`] names.
pub fn run_stamp(unix_s: i64) -> String {
    jiff::Timestamp::from_second(unix_s).map_or_else(
        |_| "00000000-000000".into(),
        |t| t.strftime("%Y%m%d-%H%M%S").to_string(),
    )
}

/// The run folders directly under `runs_root` (those with a `metrics.jsonl`), newest first by
/// the time their metrics were last written; an unreadable folder lists nothing.
pub fn list_runs(runs_root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(runs_root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter_map(|dir| {
            let modified = std::fs::metadata(RunLayout::new(&dir).metrics())
                .ok()
                .filter(|m| m.is_file())?
                .modified()
                .unwrap_or(std::time::UNIX_EPOCH);
            Some((modified, dir))
        })
        .collect();
    found.sort_by_key(|run| std::cmp::Reverse(run.0));
    found.into_iter().map(|(_, dir)| dir).collect()
}

fn read_best_epoch(sidecar: &Path) -> Option<u64> {
    crate::train::checkpoint::read_sidecar_info(sidecar)?.best_epoch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_names_its_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunLayout::new(dir.path().join("run"));
        let lock = run.lock().unwrap();
        let e = run.lock().unwrap_err().to_string();
        assert!(
            e.contains("in use") && e.contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(lock);
        run.lock().unwrap();
    }

    #[test]
    fn clearing_removes_run_files_and_keeps_others() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunLayout::new(dir.path());
        assert!(!run.holds_run());
        std::fs::create_dir_all(run.checkpoints()).unwrap();
        assert!(!run.holds_run(), "an empty checkpoints folder holds no run");
        for p in [
            run.metrics(),
            run.checkpoint("last").0,
            run.test_scores("itw"),
            run.config(),
        ] {
            std::fs::write(p, b"x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        assert!(run.holds_run());
        run.clear_run_files().unwrap();
        assert!(!run.holds_run());
        assert!(!run.test_scores("itw").exists());
        assert!(dir.path().join("notes.txt").exists());
    }

    #[test]
    fn best_prefers_final_then_best_epoch_then_last() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunLayout::new(dir.path());
        std::fs::create_dir_all(run.checkpoints()).unwrap();
        assert_eq!(run.best_weights(), None);
        std::fs::write(run.checkpoint("last").0, b"x").unwrap();
        assert_eq!(
            run.best_weights(),
            Some((run.checkpoint("last").0, BestKind::Last))
        );
        std::fs::write(run.checkpoint("last").1, r#"{"best_epoch": 1}"#).unwrap();
        // The named best epoch's file is missing: still `last`.
        assert_eq!(run.best_weights().unwrap().1, BestKind::Last);
        std::fs::write(run.checkpoint("epoch-001").0, b"x").unwrap();
        assert_eq!(
            run.best_weights(),
            Some((run.checkpoint("epoch-001").0, BestKind::BestEpoch(1)))
        );
        std::fs::write(run.checkpoint("final").0, b"x").unwrap();
        assert_eq!(
            run.best_weights(),
            Some((run.checkpoint("final").0, BestKind::Final))
        );
    }

    #[test]
    fn run_stamps_match_known_dates() {
        // `date -u -d @0` and `date -u -d @1700000000`.
        assert_eq!(run_stamp(0), "19700101-000000");
        assert_eq!(run_stamp(1_700_000_000), "20231114-221320");
        // 2000-02-29 (a leap day in a year divisible by 400): `date -u -d @951782400`.
        assert_eq!(run_stamp(951_782_400), "20000229-000000");
    }

    #[test]
    fn fresh_run_dirs_take_the_stem_then_a_stamp_then_a_suffix() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        assert_eq!(default_run_dir(root, "exp"), root.join("exp"));
        assert_eq!(fresh_run_dir_at(root, "exp", now), root.join("exp"));
        std::fs::create_dir_all(root.join("exp")).unwrap();
        let stamped = root.join("exp-20231114-221320");
        assert_eq!(fresh_run_dir_at(root, "exp", now), stamped);
        std::fs::create_dir_all(&stamped).unwrap();
        assert_eq!(
            fresh_run_dir_at(root, "exp", now),
            root.join("exp-20231114-221320-2")
        );
    }

    #[test]
    fn a_checkpoint_file_finds_its_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunLayout::new(dir.path());
        std::fs::create_dir_all(run.checkpoints()).unwrap();
        let (weights, _) = run.checkpoint("final");
        assert_eq!(RunLayout::of_checkpoint(&weights), None);
        std::fs::write(run.config(), "").unwrap();
        assert_eq!(RunLayout::of_checkpoint(&weights), Some(run.clone()));
        assert_eq!(RunLayout::epoch_stem(3), "epoch-003");
        assert_eq!(run.test_scores("itw"), dir.path().join("scores-itw.txt"));
    }
}
