//! The run's recorder: each record the run loop produces is written to its file in the run folder
//! (`metrics.jsonl`, `layer_cos.jsonl`, `epochs.jsonl`, `summary.json`) and reported to the
//! front-end as a [`TrainEvent`], both in one method per record kind. It also remembers whether
//! anybody still listens: once the event sink says no, nothing more is sent and the loop stops
//! at its next iteration. Used by [`super::run`] and [`super::run_loop`] only.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{io_err, TrainError};
use super::events::{EpochMetrics, LayerCos, RunSummary, StepMetrics, TrainEvent};
use crate::inference::RunLayout;

/// Receives every event; returns false when nobody listens any more.
pub type EventSink<'a> = &'a mut dyn FnMut(TrainEvent) -> bool;

/// An append-only file of one JSON object per line.
struct JsonLines {
    path: PathBuf,
    file: std::fs::File,
}

impl JsonLines {
    fn open(path: PathBuf) -> Result<Self, TrainError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(Self { path, file })
    }

    fn write<T: serde::Serialize>(&mut self, value: &T) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(value).map_err(|e| TrainError::Checkpoint {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(io_err(&self.path))
    }
}

/// Keep the lines of a JSON-lines file whose `step` is at most `max_step` (a resumed run cuts its
/// records back to the checkpoint it continues).
pub fn truncate_jsonl(path: &Path, max_step: u64) -> Result<(), TrainError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                .is_some_and(|s| s <= max_step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(path, kept).map_err(io_err(path))
}

/// Writes the run's records and reports its events, each exactly once.
pub struct Recorder<'a> {
    metrics: JsonLines,
    layer_cos: JsonLines,
    epochs: JsonLines,
    summary_path: PathBuf,
    emit: EventSink<'a>,
    listening: bool,
}

impl<'a> Recorder<'a> {
    /// Open (append to) the records of the run in `layout`.
    pub fn open(layout: &RunLayout, emit: EventSink<'a>) -> Result<Self, TrainError> {
        Ok(Self {
            metrics: JsonLines::open(layout.metrics())?,
            layer_cos: JsonLines::open(layout.layer_cos())?,
            epochs: JsonLines::open(layout.epochs())?,
            summary_path: layout.summary(),
            emit,
            listening: true,
        })
    }

    /// Whether the front-end still takes events.
    pub fn listening(&self) -> bool {
        self.listening
    }

    /// Report an event that has no file of its own (while anybody listens).
    pub fn send(&mut self, event: TrainEvent) {
        if self.listening {
            self.listening = (self.emit)(event);
        }
    }

    /// One step's figures: a `metrics.jsonl` line and a `Step` event.
    pub fn step(&mut self, metrics: StepMetrics) -> Result<(), TrainError> {
        self.metrics.write(&metrics)?;
        self.send(TrainEvent::Step(metrics));
        Ok(())
    }

    /// Per-tensor gradient cosines: a `layer_cos.jsonl` line and a `LayerCos` event.
    pub fn layer_cos(&mut self, layer_cos: LayerCos) -> Result<(), TrainError> {
        self.layer_cos.write(&layer_cos)?;
        self.send(TrainEvent::LayerCos(layer_cos));
        Ok(())
    }

    /// One epoch's figures: an `epochs.jsonl` line and an `Epoch` event.
    pub fn epoch(&mut self, metrics: EpochMetrics) -> Result<(), TrainError> {
        self.epochs.write(&metrics)?;
        self.send(TrainEvent::Epoch(metrics));
        Ok(())
    }

    /// A checkpoint the loop wrote.
    pub fn checkpoint(&mut self, epoch: u64, step: u64, path: PathBuf, is_best: bool) {
        self.send(TrainEvent::Checkpoint {
            epoch,
            step,
            path,
            is_best,
        });
    }

    /// Something the user should know.
    pub fn notice(&mut self, message: String) {
        self.send(TrainEvent::Notice { message });
    }

    /// The end of a finished run: `summary.json` and a `Finished` event.
    pub fn finished(&mut self, summary: &RunSummary) -> Result<(), TrainError> {
        let path = &self.summary_path;
        let json = serde_json::to_string_pretty(summary).map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(path, json).map_err(io_err(path))?;
        self.send(TrainEvent::Finished {
            summary: summary.clone(),
        });
        Ok(())
    }
}
