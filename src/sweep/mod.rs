//! Robustness sweeps: score a keyed set of clips under a grid of conditions (noise, rooms,
//! channels and codecs, shorter clips, levels) with one or more checkpoints, and report the EER
//! of every checkpoint under every condition.
//!
//! Each clip is decoded once and degraded once per condition ([`grid`]), and every checkpoint
//! scores the same degraded audio (batched through [`Scorer::score_clips`]). Only the clips the
//! key names are scored. The work runs through [`run_sweep`], which reports progress after each
//! group of clips and stops when its callback says so, so the CLI and a GUI worker share it.

pub mod grid;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

pub use grid::{CodecKind, NoiseKind, SweepCondition, SweepGrid};

use crate::augment::conditions::ConditionError;
use crate::data::protocol::{load_key, KeyFormat};
use crate::data::{Label, OnProblem};
use crate::inference::{collect_trials, InferenceError, ModelRequest, Scorer};
use crate::metrics::scores::{join_scores, JoinPolicy, ScoreEntry, ScoreFile, ScoreFormat};

/// Most other clips mixed into one babble condition.
pub const BABBLE_TALKERS: usize = 4;

/// Clips decoded, degraded and scored together (bounds the memory of a sweep).
const CLIPS_PER_GROUP: usize = 8;

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    // The causes are part of the messages (not `source`s), so a printed chain says them once.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("grid file {path}: {message}")]
    GridParse { path: PathBuf, message: String },
    #[error("grid file {path}: `{field}` {message}")]
    Grid {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("checkpoint {path}: {error}")]
    Checkpoint {
        path: PathBuf,
        error: Box<InferenceError>,
    },
    #[error(transparent)]
    Inference(#[from] Box<InferenceError>),
    #[error("{path}: condition `{condition}`: {error}")]
    Condition {
        path: PathBuf,
        condition: String,
        error: ConditionError,
    },
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
}

impl From<InferenceError> for SweepError {
    fn from(e: InferenceError) -> Self {
        SweepError::Inference(Box::new(e))
    }
}

/// What to sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPlan {
    /// The checkpoints compared, in column order.
    pub checkpoints: Vec<ModelRequest>,
    /// The key giving each clip's label (any format [`load_key`] reads).
    pub key: PathBuf,
    /// Audio files, folders or `.txt` lists, named as `dpda score` names them.
    pub inputs: Vec<PathBuf>,
    pub grid: SweepGrid,
}

/// Progress of a sweep: clips done out of the clips to score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepProgress {
    pub done_clips: usize,
    pub total_clips: usize,
}

/// A checkpoint of a finished sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepCheckpoint {
    /// Short column label (the file or folder name, or the whole path when two share it).
    pub label: String,
    pub path: PathBuf,
    /// What was loaded, in one line.
    pub model: String,
}

/// A clip that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepFailure {
    pub path: PathBuf,
    pub message: String,
}

/// The EERs of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepResult {
    pub checkpoints: Vec<SweepCheckpoint>,
    pub conditions: Vec<SweepCondition>,
    /// Condition names, in row order.
    pub condition_names: Vec<String>,
    /// EER as a fraction, `[condition][checkpoint]`; `None` without both classes.
    pub eer: Vec<Vec<Option<f64>>>,
    /// Scored clips by class.
    pub num_bonafide: usize,
    pub num_spoof: usize,
    /// Key trials with no audio among the inputs.
    pub num_key_without_audio: usize,
    /// Audio files the key does not name (not scored).
    pub num_audio_without_key: usize,
    pub failures: Vec<SweepFailure>,
    /// Stopped before every clip was scored (the EERs cover the clips done).
    pub cancelled: bool,
}

impl SweepResult {
    /// EER in percent of a cell.
    pub fn eer_percent(&self, condition: usize, checkpoint: usize) -> Option<f64> {
        self.eer
            .get(condition)
            .and_then(|row| row.get(checkpoint))
            .copied()
            .flatten()
            .map(|e| 100.0 * e)
    }

    /// Second checkpoint's EER minus the first's, in percentage points (two checkpoints only).
    pub fn difference_percent(&self, condition: usize) -> Option<f64> {
        if self.checkpoints.len() != 2 {
            return None;
        }
        Some(self.eer_percent(condition, 1)? - self.eer_percent(condition, 0)?)
    }

    /// One CSV row per condition: `condition,<label> eer_%…[,difference_pp],n_bonafide,n_spoof`.
    pub fn to_csv(&self) -> String {
        let field = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut header = vec!["condition".to_string()];
        header.extend(
            self.checkpoints
                .iter()
                .map(|c| field(&format!("{} eer_%", c.label))),
        );
        if self.checkpoints.len() == 2 {
            header.push("difference_pp".to_string());
        }
        header.extend(["n_bonafide".to_string(), "n_spoof".to_string()]);
        let mut out = header.join(",") + "\n";
        let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
        for (i, name) in self.condition_names.iter().enumerate() {
            let mut row = vec![field(name)];
            row.extend((0..self.checkpoints.len()).map(|c| num(self.eer_percent(i, c))));
            if self.checkpoints.len() == 2 {
                row.push(num(self.difference_percent(i)));
            }
            row.extend([self.num_bonafide.to_string(), self.num_spoof.to_string()]);
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }

    /// Write the result atomically: JSON when `path` ends in `.json`, else CSV.
    pub fn write(&self, path: &Path) -> Result<(), SweepError> {
        let io = |error| SweepError::Io {
            path: path.to_path_buf(),
            error,
        };
        let text = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))? + "\n"
        } else {
            self.to_csv()
        };
        let mut file = crate::atomic_file::AtomicFile::create(path).map_err(io)?;
        std::io::Write::write_all(file.writer(), text.as_bytes()).map_err(io)?;
        file.commit().map_err(io)
    }
}

/// Column labels: each checkpoint's file or folder name, the whole path where two share one.
fn checkpoint_labels(paths: &[&Path]) -> Vec<String> {
    let short: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    short
        .iter()
        .zip(paths)
        .map(|(s, p)| {
            if short.iter().filter(|o| *o == s).count() > 1 {
                p.display().to_string()
            } else {
                s.clone()
            }
        })
        .collect()
}

/// A keyed clip to score.
struct SweepTrial {
    name: String,
    path: PathBuf,
    label: Label,
}

/// The clips among `inputs` that the key names, with their labels, and the two mismatch counts.
fn keyed_trials(plan: &SweepPlan) -> Result<(Vec<SweepTrial>, usize, usize), SweepError> {
    let key =
        load_key(&plan.key, KeyFormat::Auto, OnProblem::Fail).map_err(InferenceError::from)?;
    let trials = collect_trials(&plan.inputs)?;
    if trials.is_empty() {
        return Err(SweepError::Invalid {
            what: "inputs".to_string(),
            message: "no audio file found".to_string(),
        });
    }
    // Join by name with the key's own matching rules; the score stands for the trial's index.
    let names = ScoreFile {
        path: plan.inputs.first().cloned().unwrap_or_default(),
        format: ScoreFormat::TwoColumn,
        entries: trials
            .iter()
            .enumerate()
            .map(|(i, t)| ScoreEntry {
                utt_id: t.name.clone(),
                score: i as f64,
                line: 0,
            })
            .collect(),
    };
    let joined =
        join_scores(&names, &key, JoinPolicy::Intersection).map_err(InferenceError::from)?;
    let mut keyed: Vec<SweepTrial> = joined
        .trials
        .iter()
        .map(|j| {
            let t = &trials[j.score as usize];
            SweepTrial {
                name: t.name.clone(),
                path: t.path.clone(),
                label: j.label,
            }
        })
        .collect();
    keyed.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((keyed, joined.missing.len(), joined.unknown.len()))
}

/// Run a sweep. `progress` is called once the models are loaded (0 clips done) and after each
/// group of clips; returning `false` stops early
/// (the result then covers the clips done and says it was cancelled). A clip that cannot be
/// decoded is listed in the result; a condition that fails on a clip is an error naming both.
pub fn run_sweep(
    plan: &SweepPlan,
    progress: &mut dyn FnMut(SweepProgress) -> bool,
) -> Result<SweepResult, SweepError> {
    if plan.checkpoints.is_empty() {
        return Err(SweepError::Invalid {
            what: "checkpoints".to_string(),
            message: "give at least one checkpoint".to_string(),
        });
    }
    let (trials, num_key_without_audio, num_audio_without_key) = keyed_trials(plan)?;
    let mut scorers = Vec::with_capacity(plan.checkpoints.len());
    for request in &plan.checkpoints {
        scorers.push(
            Scorer::load(request).map_err(|error| SweepError::Checkpoint {
                path: request.path.clone(),
                error: Box::new(error),
            })?,
        );
    }
    let labels = checkpoint_labels(
        &plan
            .checkpoints
            .iter()
            .map(|r| r.path.as_path())
            .collect::<Vec<_>>(),
    );
    // Babble mixes the first clips of the set (by name), each clip never with itself.
    let mut pool: Vec<(usize, Vec<f32>)> = Vec::new();
    if plan.grid.needs_babble() {
        for (i, t) in trials.iter().enumerate().take(BABBLE_TALKERS + 1) {
            if let Ok(clip) = crate::audio::load_mono_16k(&t.path) {
                pool.push((i, clip.samples));
            }
        }
    }
    let conditions = &plan.grid.conditions;
    let num_ckpt = scorers.len();
    // scores[checkpoint][condition] = (label, score) of every scored clip.
    let mut scores: Vec<Vec<Vec<(Label, f64)>>> =
        vec![vec![Vec::new(); conditions.len()]; num_ckpt];
    let mut failures = Vec::new();
    let mut cancelled = false;
    let total = trials.len();
    let mut done = 0usize;
    // The models are loaded and the clips known: say how many before the first (slow) group.
    if !progress(SweepProgress {
        done_clips: 0,
        total_clips: total,
    }) {
        cancelled = total > 0;
    }
    for (group_index, group) in trials.chunks(CLIPS_PER_GROUP).enumerate() {
        if cancelled {
            break;
        }
        let mut clips = Vec::with_capacity(group.len());
        for (j, t) in group.iter().enumerate() {
            match crate::audio::load_mono_16k(&t.path) {
                Ok(clip) => clips.push((group_index * CLIPS_PER_GROUP + j, t, clip.samples)),
                Err(e) => failures.push(SweepFailure {
                    path: t.path.clone(),
                    message: e.to_string(),
                }),
            }
        }
        // degraded[clip * conditions + condition]; every clip under every condition, in parallel.
        let degraded: Vec<Vec<f32>> = clips
            .par_iter()
            .flat_map_iter(|(index, t, samples)| {
                let talkers: Vec<Vec<f32>> = pool
                    .iter()
                    .filter(|(i, _)| i != index)
                    .map(|(_, s)| s.clone())
                    .collect();
                conditions.iter().map(move |c| {
                    c.apply(samples, &t.name, &talkers)
                        .map_err(|error| SweepError::Condition {
                            path: t.path.clone(),
                            condition: c.name(),
                            error,
                        })
                })
            })
            .collect::<Result<_, _>>()?;
        let refs: Vec<&[f32]> = degraded.iter().map(Vec::as_slice).collect();
        for (k, scorer) in scorers.iter().enumerate() {
            let s = scorer.score_clips(&refs)?;
            for (ci, (_, t, _)) in clips.iter().enumerate() {
                for c in 0..conditions.len() {
                    scores[k][c].push((t.label, s[ci * conditions.len() + c]));
                }
            }
        }
        done += group.len();
        if !progress(SweepProgress {
            done_clips: done,
            total_clips: total,
        }) {
            cancelled = done < total;
            break;
        }
    }
    let eer = (0..conditions.len())
        .map(|c| {
            (0..num_ckpt)
                .map(|k| {
                    let of = |label: Label| -> Vec<f64> {
                        scores[k][c]
                            .iter()
                            .filter(|(l, _)| *l == label)
                            .map(|(_, s)| *s)
                            .collect()
                    };
                    let (b, s) = (of(Label::Bonafide), of(Label::Spoof));
                    crate::metrics::eer::eer(&b, &s).ok().map(|e| e.eer)
                })
                .collect()
        })
        .collect();
    let scored = scores.first().and_then(|s| s.first());
    let num_bonafide = scored.map_or(0, |s| {
        s.iter().filter(|(l, _)| *l == Label::Bonafide).count()
    });
    let num_spoof = scored.map_or(0, |s| s.len()) - num_bonafide;
    Ok(SweepResult {
        checkpoints: scorers
            .iter()
            .zip(labels)
            .zip(&plan.checkpoints)
            .map(|((s, label), r)| SweepCheckpoint {
                label,
                path: r.path.clone(),
                model: s.info().describe(),
            })
            .collect(),
        conditions: conditions.clone(),
        condition_names: plan.grid.names(),
        eer,
        num_bonafide,
        num_spoof,
        num_key_without_audio,
        num_audio_without_key,
        failures,
        cancelled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(eers: Vec<Vec<Option<f64>>>, labels: &[&str]) -> SweepResult {
        SweepResult {
            checkpoints: labels
                .iter()
                .map(|l| SweepCheckpoint {
                    label: l.to_string(),
                    path: PathBuf::from(l),
                    model: String::new(),
                })
                .collect(),
            conditions: vec![SweepCondition::Clean; eers.len()],
            condition_names: (0..eers.len()).map(|i| format!("c{i}")).collect(),
            eer: eers,
            num_bonafide: 3,
            num_spoof: 4,
            num_key_without_audio: 0,
            num_audio_without_key: 0,
            failures: Vec::new(),
            cancelled: false,
        }
    }

    #[test]
    fn csv_has_a_difference_column_for_two_checkpoints() {
        let r = result(
            vec![vec![Some(0.1), Some(0.25)], vec![None, Some(0.5)]],
            &["a", "b,c"],
        );
        let csv = r.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "condition,a eer_%,\"b,c eer_%\",difference_pp,n_bonafide,n_spoof"
        );
        assert_eq!(lines[1], "c0,10.0000,25.0000,15.0000,3,4");
        assert_eq!(lines[2], "c1,,50.0000,,3,4");
        let one = result(vec![vec![Some(0.1)]], &["a"]);
        assert_eq!(one.difference_percent(0), None);
        assert!(!one.to_csv().contains("difference"));
    }

    #[test]
    fn labels_fall_back_to_the_path_when_names_collide() {
        let labels = checkpoint_labels(&[
            Path::new("runs/a/final.safetensors"),
            Path::new("runs/b/final.safetensors"),
            Path::new("runs/c"),
        ]);
        assert_eq!(
            labels,
            ["runs/a/final.safetensors", "runs/b/final.safetensors", "c"]
        );
    }
}
