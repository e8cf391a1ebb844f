//! The detect view's model worker: a [`Worker`] that owns the loaded model and answers load,
//! score, folder-scoring and explain commands in order, so that a clip is never scored by a model that is
//! still loading.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::super::tasks::{Emitter, Worker};
use super::super::theme;
use crate::audio::Clip;
use crate::inference::{
    collect_trials, ExplainConfig, Explanation, FolderScores, ModelInfo, ModelRequest, ScoreTrack,
    Scorer, Windows,
};

/// Events the worker may have outstanding before it waits for the UI to drain them.
const CAPACITY: usize = 64;

/// What the worker is asked to do.
pub(super) enum WorkerCommand {
    Load(ModelRequest),
    Score {
        clip_id: u64,
        samples: Arc<Clip>,
        window_s: f64,
        hop_s: f64,
    },
    ScoreFolder {
        folder: PathBuf,
        out: PathBuf,
        cancel: Arc<AtomicBool>,
    },
    /// Occlusion explanation of the clip's score (see [`crate::inference::explain`]).
    Explain {
        clip_id: u64,
        samples: Arc<Clip>,
        config: ExplainConfig,
        cancel: Arc<AtomicBool>,
    },
}

/// What the worker reports.
pub(super) enum WorkerEvent {
    Loaded(Result<ModelInfo, String>),
    Scored {
        clip_id: u64,
        result: Result<(f64, ScoreTrack), String>,
    },
    FolderProgress {
        done: usize,
        total: usize,
    },
    FolderDone(Result<FolderScores, String>),
    ExplainProgress {
        clip_id: u64,
        done: usize,
        total: usize,
    },
    /// `Ok(None)`: stopped before the end.
    Explained {
        clip_id: u64,
        result: Result<Option<Explanation>, String>,
    },
}

pub(super) type ModelWorker = Worker<WorkerCommand, WorkerEvent>;

/// Starts the worker on the thread `dpda-detect`.
pub(super) fn spawn(ctx: Option<&egui::Context>) -> Result<ModelWorker, String> {
    Worker::spawn(ctx, "dpda-detect", CAPACITY, run)
        .map_err(|e| format!("cannot start the detect worker: {e}"))
}

fn run(commands: std::sync::mpsc::Receiver<WorkerCommand>, out: Emitter<WorkerEvent>) {
    let mut detector: Option<Scorer> = None;
    for cmd in commands {
        let event = match cmd {
            WorkerCommand::Load(request) => {
                detector = None;
                match Scorer::load(&request) {
                    Ok(d) => {
                        let info = d.info().clone();
                        detector = Some(d);
                        WorkerEvent::Loaded(Ok(info))
                    }
                    Err(e) => WorkerEvent::Loaded(Err(format!(
                        "cannot load {}: {e}",
                        request.path.display()
                    ))),
                }
            }
            WorkerCommand::Score {
                clip_id,
                samples,
                window_s,
                hop_s,
            } => {
                let result = match &detector {
                    None => Err("no model loaded".to_string()),
                    Some(d) => d
                        .score(&samples.samples)
                        .and_then(|s| {
                            let windows = Windows::from_seconds(
                                window_s,
                                hop_s,
                                ("score-track window", "score-track hop"),
                            )?;
                            d.score_track(&samples.samples, windows).map(|t| (s, t))
                        })
                        .map_err(|e| e.to_string()),
                };
                WorkerEvent::Scored { clip_id, result }
            }
            WorkerCommand::ScoreFolder {
                folder,
                out: scores_out,
                cancel,
            } => {
                let result = match &detector {
                    None => Err("no model loaded".to_string()),
                    Some(d) => score_folder(d, &folder, &scores_out, &cancel, &out),
                };
                WorkerEvent::FolderDone(result)
            }
            WorkerCommand::Explain {
                clip_id,
                samples,
                config,
                cancel,
            } => {
                let result = match &detector {
                    None => Err("no model loaded".to_string()),
                    Some(d) => explain(d, clip_id, &samples, &config, &cancel, &out),
                };
                WorkerEvent::Explained { clip_id, result }
            }
        };
        if !out.emit(event) {
            return;
        }
    }
}

fn score_folder(
    detector: &Scorer,
    folder: &Path,
    out: &Path,
    cancel: &AtomicBool,
    events: &Emitter<WorkerEvent>,
) -> Result<FolderScores, String> {
    let files = collect_trials(&[folder.to_path_buf()]).map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(format!("no audio files under {}", folder.display()));
    }
    let mut last_sent = std::time::Instant::now();
    detector
        .score_files(&files, out, &mut |done, total| {
            // Batch progress events: at most one per interval, and always the last.
            if done == total || last_sent.elapsed() >= theme::PROGRESS_INTERVAL {
                last_sent = std::time::Instant::now();
                events.emit(WorkerEvent::FolderProgress { done, total });
            }
            !cancel.load(Ordering::Relaxed)
        })
        .map_err(|e| e.to_string())
}

fn explain(
    detector: &Scorer,
    clip_id: u64,
    clip: &Clip,
    config: &ExplainConfig,
    cancel: &AtomicBool,
    events: &Emitter<WorkerEvent>,
) -> Result<Option<Explanation>, String> {
    let mut last_sent = std::time::Instant::now();
    detector
        .explain(&clip.samples, config, &mut |done, total| {
            // As for folders: at most one progress event per interval, and always the last.
            if done == total || last_sent.elapsed() >= theme::PROGRESS_INTERVAL {
                last_sent = std::time::Instant::now();
                events.emit(WorkerEvent::ExplainProgress {
                    clip_id,
                    done,
                    total,
                });
            }
            !cancel.load(Ordering::Relaxed)
        })
        .map_err(|e| e.to_string())
}
