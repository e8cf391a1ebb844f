//! Runs a study: every condition × seed as a child `dpda train` process in its own run folder,
//! one after another or `jobs` at a time (each child then gets `cores / jobs` threads through
//! `RAYON_NUM_THREADS`, which rayon and candle both read). Finished runs (`summary.json`) are
//! skipped and interrupted ones resumed, so running a study again continues it. Progress goes
//! to a callback as [`StudyEvent`]s; the front end (CLI or GUI) decides how to show them.
//!
//! Stopping: the caller sets `stop` (the CLI on Ctrl-C, the GUI's Stop button). No further run
//! starts, and each running child gets one interrupt (SIGINT), on which `dpda train` saves a
//! checkpoint after its current step and ends; they are waited for. Children run in their own
//! process group so that a terminal's Ctrl-C reaches them only through the study, once: a
//! second interrupt would make `dpda train` exit without saving. A failed child is recorded (`study-run.json`, with
//! the end of its output) and the other runs go on.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::plan::{run_dir, RunSpec, StudyPlan};
use super::results::{
    collect_with_keys, evaluate_set, log_path, prepare_keys, read_record, write_record, LoadedKey,
    RunRecord, RunStatus, StudyResults,
};
use super::{write_err, write_outputs, OutputPaths, StudyError};
use crate::inference::layout::RunLayout;

/// How the runner starts its children.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// The `dpda` executable the runs are started with.
    pub exe: PathBuf,
    /// The study folder.
    pub out_dir: PathBuf,
    /// Training processes at once (at least 1).
    pub jobs: usize,
    /// Set to stop: no new run starts, running ones are waited for.
    pub stop: Arc<AtomicBool>,
}

/// What the runner reports.
#[derive(Clone, Debug, PartialEq)]
pub enum StudyEvent {
    /// The run had finished before: not run again.
    RunSkipped {
        condition: String,
        seed: u64,
        run_dir: PathBuf,
    },
    /// A training process started (`resume`: continuing a checkpoint).
    RunStarted {
        condition: String,
        seed: u64,
        run_dir: PathBuf,
        resume: bool,
    },
    /// A run ended with its summary; `eer` per test set as a fraction.
    RunFinished {
        condition: String,
        seed: u64,
        run_dir: PathBuf,
        wall_time_s: f64,
        eer: BTreeMap<String, f64>,
    },
    /// A run failed; `error` is the end of its output.
    RunFailed {
        condition: String,
        seed: u64,
        run_dir: PathBuf,
        wall_time_s: f64,
        exit_code: Option<i32>,
        error: String,
    },
    /// A run stopped on the interrupt with a checkpoint; the next study run resumes it.
    RunInterrupted {
        condition: String,
        seed: u64,
        run_dir: PathBuf,
    },
}

/// How a study run ended, with the results written.
#[derive(Clone, Debug)]
pub struct StudyOutcome {
    pub num_finished: usize,
    pub num_skipped: usize,
    pub num_failed: usize,
    pub num_interrupted: usize,
    /// The stop flag was set: runs remain.
    pub stopped: bool,
    pub results: StudyResults,
    pub outputs: OutputPaths,
}

/// A training process in flight.
struct Running {
    spec: RunSpec,
    dir: PathBuf,
    child: Child,
    started: Instant,
    previous_wall_time_s: f64,
    attempts: u32,
}

/// Lines of a failed run's output kept in its record.
const ERROR_TAIL_LINES: usize = 20;

/// Threads per child: the cores (or `RAYON_NUM_THREADS` of this process) shared by `jobs`.
fn threads_per_job(jobs: usize) -> usize {
    let cores = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1);
    split_cores(cores, jobs)
}

/// Threads of each of `jobs` parallel runs on `cores` cores: an equal share, at least one.
fn split_cores(cores: usize, jobs: usize) -> usize {
    (cores / jobs.max(1)).max(1)
}

/// The last `lines` lines of a file (its last 64 KiB at most).
fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Start the training process of `spec`; `Ok(None)` when the run had finished already.
fn start(
    plan: &StudyPlan,
    options: &RunnerOptions,
    spec: &RunSpec,
    threads: usize,
    on_event: &mut dyn FnMut(StudyEvent),
) -> Result<Option<Running>, StudyError> {
    let dir = run_dir(&options.out_dir, &spec.condition, spec.seed);
    let layout = RunLayout::new(&dir);
    if layout.summary().is_file() {
        on_event(StudyEvent::RunSkipped {
            condition: spec.condition.clone(),
            seed: spec.seed,
            run_dir: dir,
        });
        return Ok(None);
    }
    std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    let previous = read_record(&dir);
    let mut command = Command::new(&options.exe);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    command
        .arg("train")
        .arg(&plan.base)
        .arg("--run-dir")
        .arg(&dir)
        .arg("--quiet");
    for o in &spec.overrides {
        command.arg("--set").arg(o);
    }
    let resume = layout.is_resumable();
    if resume {
        command.arg("--resume");
    } else if layout.holds_run() {
        let has_checkpoint =
            std::fs::read_dir(layout.checkpoints()).is_ok_and(|mut d| d.next().is_some());
        if has_checkpoint {
            // Checkpoints without a resumable `last`: never thrown away silently.
            let record = RunRecord {
                status: RunStatus::Failed,
                wall_time_s: previous.as_ref().map_or(0.0, |r| r.wall_time_s),
                attempts: previous.as_ref().map_or(0, |r| r.attempts),
                exit_code: None,
                error: Some(format!(
                    "{} holds checkpoints but no resumable last checkpoint; remove the folder to \
                     run it again",
                    dir.display()
                )),
            };
            write_record(&dir, &record)?;
            on_event(StudyEvent::RunFailed {
                condition: spec.condition.clone(),
                seed: spec.seed,
                run_dir: dir,
                wall_time_s: 0.0,
                exit_code: None,
                error: record.error.unwrap_or_default(),
            });
            return Ok(None);
        }
        // Only records of a run that never saved a checkpoint: start afresh.
        command.arg("--overwrite");
    }
    let log = log_path(&dir);
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(write_err(&log))?;
    let log_err = log_file.try_clone().map_err(write_err(&log))?;
    command
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    let attempts = previous.as_ref().map_or(0, |r| r.attempts) + 1;
    let previous_wall_time_s = previous.as_ref().map_or(0.0, |r| r.wall_time_s);
    write_record(
        &dir,
        &RunRecord {
            status: RunStatus::Running,
            wall_time_s: previous_wall_time_s,
            attempts,
            exit_code: None,
            error: None,
        },
    )?;
    let child = command.spawn().map_err(|source| StudyError::Spawn {
        exe: options.exe.clone(),
        source,
    })?;
    on_event(StudyEvent::RunStarted {
        condition: spec.condition.clone(),
        seed: spec.seed,
        run_dir: dir.clone(),
        resume,
    });
    Ok(Some(Running {
        spec: spec.clone(),
        dir,
        child,
        started: Instant::now(),
        previous_wall_time_s,
        attempts,
    }))
}

/// Counts kept while the study runs.
#[derive(Default)]
struct Counts {
    finished: usize,
    skipped: usize,
    failed: usize,
    interrupted: usize,
}

/// Record how a child ended and report it.
fn finish(
    plan: &StudyPlan,
    run: Running,
    exit: std::process::ExitStatus,
    stop_requested: bool,
    keys: &BTreeMap<String, Option<LoadedKey>>,
    counts: &mut Counts,
    on_event: &mut dyn FnMut(StudyEvent),
) -> Result<(), StudyError> {
    let layout = RunLayout::new(&run.dir);
    let elapsed_s = run.started.elapsed().as_secs_f64();
    let wall_time_s = run.previous_wall_time_s + elapsed_s;
    let finished = exit.success() && layout.summary().is_file();
    let status = if finished {
        RunStatus::Finished
    } else if stop_requested && layout.is_resumable() {
        RunStatus::Interrupted
    } else {
        RunStatus::Failed
    };
    let error = (status == RunStatus::Failed).then(|| tail(&log_path(&run.dir), ERROR_TAIL_LINES));
    write_record(
        &run.dir,
        &RunRecord {
            status,
            wall_time_s,
            attempts: run.attempts,
            exit_code: exit.code(),
            error: error.clone(),
        },
    )?;
    let condition = run.spec.condition;
    let seed = run.spec.seed;
    let run_dir = run.dir.clone();
    match status {
        RunStatus::Finished => {
            counts.finished += 1;
            let mut eer = BTreeMap::new();
            for set in &plan.test_sets {
                let key = keys.get(&set.name).and_then(Option::as_ref);
                if let Ok(e) = evaluate_set(&layout, set, key) {
                    eer.insert(set.name.clone(), e.eer);
                }
            }
            on_event(StudyEvent::RunFinished {
                condition,
                seed,
                run_dir,
                wall_time_s: elapsed_s,
                eer,
            });
        }
        RunStatus::Interrupted => {
            counts.interrupted += 1;
            on_event(StudyEvent::RunInterrupted {
                condition,
                seed,
                run_dir,
            });
        }
        _ => {
            counts.failed += 1;
            on_event(StudyEvent::RunFailed {
                condition,
                seed,
                run_dir,
                wall_time_s: elapsed_s,
                exit_code: exit.code(),
                error: error.unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// Run every run of `plan` that has not finished, then collect the results and write
/// `study.json`, `report.md` and the plots into `options.out_dir`.
pub fn run_study(
    plan: &StudyPlan,
    options: &RunnerOptions,
    on_event: &mut dyn FnMut(StudyEvent),
) -> Result<StudyOutcome, StudyError> {
    let out_dir = &options.out_dir;
    std::fs::create_dir_all(out_dir).map_err(write_err(out_dir))?;
    let mut notes = Vec::new();
    let keys = prepare_keys(plan, out_dir, &mut notes)?;
    let jobs = options.jobs.max(1);
    let threads = threads_per_job(jobs);
    let mut queue: VecDeque<RunSpec> = plan.runs().into();
    let mut running: Vec<Running> = Vec::new();
    let mut counts = Counts::default();
    let mut stopped = false;
    loop {
        if !stopped && options.stop.load(Ordering::SeqCst) {
            stopped = true;
            for run in &mut running {
                interrupt(&mut run.child);
            }
        }
        while !stopped && running.len() < jobs {
            let Some(spec) = queue.pop_front() else {
                break;
            };
            match start(plan, options, &spec, threads, on_event)? {
                Some(r) => running.push(r),
                None => {
                    let dir = run_dir(out_dir, &spec.condition, spec.seed);
                    if RunLayout::new(&dir).summary().is_file() {
                        counts.skipped += 1;
                    } else {
                        counts.failed += 1;
                    }
                }
            }
        }
        if running.is_empty() && (stopped || queue.is_empty()) {
            break;
        }
        let mut i = 0;
        while i < running.len() {
            let exit = running[i].child.try_wait().map_err(|e| StudyError::Write {
                path: running[i].dir.clone(),
                message: format!("cannot wait for the training process: {e}"),
            })?;
            match exit {
                Some(status) => {
                    let run = running.swap_remove(i);
                    let stop_now = options.stop.load(Ordering::SeqCst);
                    finish(plan, run, status, stop_now, &keys, &mut counts, on_event)?;
                }
                None => i += 1,
            }
        }
        // A short poll: a finished run is noticed (and the next one started) within 20 ms.
        std::thread::sleep(Duration::from_millis(20));
    }
    let results = collect_with_keys(out_dir, plan, &keys, notes)?;
    let outputs = write_outputs(out_dir, &results)?;
    Ok(StudyOutcome {
        num_finished: counts.finished,
        num_skipped: counts.skipped,
        num_failed: counts.failed,
        num_interrupted: counts.interrupted,
        stopped,
        results,
        outputs,
    })
}

/// Ask a training child to stop after its current step (`dpda train` saves a checkpoint on
/// SIGINT). Where signals cannot be sent, the child is killed: it resumes from its previous
/// checkpoint.
fn interrupt(child: &mut Child) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: `kill` has no memory-safety preconditions; `pid` is our own child, not
            // yet reaped (we still hold its `Child`), so the id cannot name another process.
            let sent = unsafe { libc::kill(pid, libc::SIGINT) };
            if sent == 0 {
                return;
            }
        }
    }
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_runs_share_the_cores() {
        assert_eq!(split_cores(2, 1), 2);
        assert_eq!(split_cores(2, 2), 1);
        assert_eq!(split_cores(16, 3), 5);
        assert_eq!(split_cores(1, 4), 1);
        assert_eq!(split_cores(8, 0), 8);
    }
}
