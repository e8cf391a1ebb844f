//! The detect view's model worker: a [`Worker`] that owns the loaded model and answers load,
//! score, folder-scoring and explain commands in order, so that a clip is never scored by a model that is
//! still loading.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::super::tasks::{Emitter, Worker};
use super::super::theme;
use std::time::Instant;

use crate::audio::{resample, Clip, TARGET_SAMPLE_RATE_HZ};
use crate::inference::{
    check_samples, collect_trials, ExplainConfig, Explanation, FolderScores, InputWarning,
    ModelInfo, ModelRequest, ScoreTrack, Scorer, Windows,
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
    /// One window of live recording, at the device rate.
    LiveWindow(LiveWindow),
    /// Occlusion explanation of the clip's score (see [`crate::inference::explain`]).
    Explain {
        clip_id: u64,
        samples: Arc<Clip>,
        config: ExplainConfig,
        cancel: Arc<AtomicBool>,
    },
}

/// A window of the recording in progress, sent when its last sample has arrived.
pub(super) struct LiveWindow {
    /// Which recording it belongs to.
    pub(super) session: u64,
    /// Where the window starts in the recording, in seconds.
    pub(super) start_s: f64,
    /// Mono samples at `rate_hz`.
    pub(super) samples: Vec<f32>,
    pub(super) rate_hz: u32,
    /// When the UI found the window complete (its last sample captured).
    pub(super) captured_at: Instant,
}

/// The score of a [`LiveWindow`].
pub(super) struct LiveScore {
    pub(super) session: u64,
    pub(super) start_s: f64,
    pub(super) result: Result<f64, String>,
    /// Seconds the worker spent resampling and scoring the window.
    pub(super) scoring_s: f64,
    /// Seconds of audio in the window.
    pub(super) audio_s: f64,
    pub(super) captured_at: Instant,
}

/// What the worker reports.
pub(super) enum WorkerEvent {
    Loaded(Result<ModelInfo, String>),
    Scored {
        clip_id: u64,
        result: Result<ScoredClip, String>,
    },
    LiveScored(LiveScore),
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

/// A clip's whole-clip score, its score track and the warnings found on its samples.
pub(super) struct ScoredClip {
    pub(super) score: f64,
    pub(super) track: ScoreTrack,
    pub(super) warnings: Vec<InputWarning>,
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
                        .and_then(|score| {
                            let windows = Windows::from_seconds(
                                window_s,
                                hop_s,
                                ("score-track window", "score-track hop"),
                            )?;
                            let track = d.score_track(&samples.samples, windows)?;
                            let warnings = check_samples(&samples.samples, d.info().num_samples);
                            Ok(ScoredClip {
                                score,
                                track,
                                warnings,
                            })
                        })
                        .map_err(|e| e.to_string()),
                };
                WorkerEvent::Scored { clip_id, result }
            }
            WorkerCommand::LiveWindow(window) => {
                WorkerEvent::LiveScored(score_live(detector.as_ref(), window))
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

/// Resample a live window to 16 kHz and score it as one window; times the work.
fn score_live(detector: Option<&Scorer>, window: LiveWindow) -> LiveScore {
    let started = Instant::now();
    let audio_s = window.samples.len() as f64 / f64::from(window.rate_hz.max(1));
    let result = match detector {
        None => Err("no model loaded".to_string()),
        Some(d) => score_one_window(d, &window.samples, window.rate_hz),
    };
    LiveScore {
        session: window.session,
        start_s: window.start_s,
        result,
        scoring_s: started.elapsed().as_secs_f64(),
        audio_s,
        captured_at: window.captured_at,
    }
}

fn score_one_window(d: &Scorer, samples: &[f32], rate_hz: u32) -> Result<f64, String> {
    let samples = if rate_hz == TARGET_SAMPLE_RATE_HZ {
        samples.to_vec()
    } else {
        resample(samples, rate_hz, TARGET_SAMPLE_RATE_HZ).map_err(|e| e.to_string())?
    };
    let len = samples.len().max(1);
    let windows = Windows {
        window_len: len,
        hop_len: len,
    };
    let scores = d
        .score_windows(&samples, windows)
        .map_err(|e| e.to_string())?;
    scores
        .first()
        .map(|&(_, s)| s)
        .ok_or_else(|| "the window gave no score".to_string())
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
