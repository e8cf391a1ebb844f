//! Checkpoint averaging and the "keep the k best checkpoints by dev loss" bookkeeping.
//!
//! The paper averages the 5 best checkpoints by dev loss into the final model. The trainer offers
//! every epoch's checkpoint to [`BestCheckpoints`], deletes the file it is told to evict, and at
//! the end loads the kept checkpoints as named flat tensors and calls [`average_checkpoints`].
//! The reference (dpda_ga `main.py`) aliases its state dicts while summing and ends up with
//! `(2·b₁ + b₂ + b₃ + b₄)/5`, dropping the best checkpoint; here every checkpoint enters exactly once
//! with weight `1/k` unless `train.averaging = "reference"` asks for the reference's weights
//! ([`Averaging`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why checkpoints cannot be averaged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AverageError {
    #[error("no checkpoints to average")]
    Empty,
    #[error("{source_name}: tensor '{name}' appears more than once")]
    DuplicateTensor { source_name: String, name: String },
    #[error("{source_name}: tensor '{name}' has {num_values} values but shape {shape:?}")]
    BadLength {
        source_name: String,
        name: String,
        shape: Vec<usize>,
        num_values: usize,
    },
    #[error("{source_name}: tensor '{name}' is missing (present in {first_source})")]
    MissingTensor {
        source_name: String,
        name: String,
        first_source: String,
    },
    #[error("{source_name}: tensor '{name}' is not in {first_source}")]
    ExtraTensor {
        source_name: String,
        name: String,
        first_source: String,
    },
    #[error("{source_name}: tensor '{name}' has shape {found:?}, {first_source} has {expected:?}")]
    ShapeMismatch {
        source_name: String,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
        first_source: String,
    },
}

/// One named tensor of a checkpoint, flattened in row-major order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedTensor {
    /// Stable variable name, e.g. `conv1.weight`.
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, `shape.iter().product()` of them.
    pub values: Vec<f32>,
}

/// The tensors of one checkpoint and where they came from (named in errors).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointTensors {
    /// File path or other label of the checkpoint.
    pub source_name: String,
    /// Its tensors.
    pub tensors: Vec<NamedTensor>,
}

/// How the kept checkpoints (best first, `b₀ … b_{k−1}`) are weighted into the final model
/// (config key `train.averaging`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Averaging {
    /// Every kept checkpoint with weight `1/k` (the default): the average the paper describes.
    #[default]
    Uniform,
    /// The weights dpda_ga's `main.py` actually applies. It loads `b₀` into the model and keeps
    /// `sd = model.state_dict()`, whose tensors share the model's storage; loading `b₁` therefore
    /// overwrites `sd` too, so the first sum is `b₁ + b₁`, and from then on `sd` holds fresh
    /// tensors: `(2·b₁ + b₂ + … + b_{k−1}) / k`. `b₀`, the best checkpoint, is lost. With one
    /// checkpoint the result is `b₀`. For runs that must end with the paper's code's model.
    Reference,
}

impl Averaging {
    /// The names accepted in configs.
    pub const NAMES: [&'static str; 2] = ["uniform", "reference"];

    /// How many times each of `k` checkpoints (best first) enters the sum that is then divided
    /// by `k`: the weights are `counts[i] / k` (empty for `k = 0`).
    ///
    /// `Uniform`: `[1, 1, …, 1]`. `Reference` with `k ≥ 2`: `[0, 2, 1, …, 1]`, i.e. weights
    /// `[0, 2/k, 1/k, …, 1/k]`; with `k = 1`: `[1]`. Where a run keeps fewer checkpoints than
    /// `train.keep_best` (it ended early), `k` is the number kept.
    pub fn counts(self, k: usize) -> Vec<f64> {
        let mut counts = vec![1.0; k];
        if self == Averaging::Reference && k >= 2 {
            counts[0] = 0.0;
            counts[1] = 2.0;
        }
        counts
    }
}

/// Averages the checkpoints with equal weights, each exactly once; tensors come out in the order
/// of the first checkpoint.
///
/// Every checkpoint must hold the same names with the same shapes.
pub fn average_checkpoints(
    checkpoints: &[CheckpointTensors],
) -> Result<Vec<NamedTensor>, AverageError> {
    weighted_average_checkpoints(checkpoints, &Averaging::Uniform.counts(checkpoints.len()))
}

/// `Σ counts[i]·checkpoints[i] / Σ counts`, tensor by tensor (sums in `f64`); tensors come out in
/// the order of the first checkpoint. A checkpoint with count 0 is still checked for matching
/// names and shapes.
///
/// Every checkpoint must hold the same names with the same shapes.
///
/// # Panics
/// If `counts` and `checkpoints` differ in length, or the counts do not sum to a positive number
/// (caller bugs: see [`Averaging::counts`]).
pub fn weighted_average_checkpoints(
    checkpoints: &[CheckpointTensors],
    counts: &[f64],
) -> Result<Vec<NamedTensor>, AverageError> {
    assert_eq!(checkpoints.len(), counts.len(), "one count per checkpoint");
    let total: f64 = counts.iter().sum();
    assert!(
        checkpoints.is_empty() || total > 0.0,
        "checkpoint counts must sum to a positive number: {counts:?}"
    );
    let first = checkpoints.first().ok_or(AverageError::Empty)?;
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(first.tensors.len());
    for checkpoint in checkpoints {
        for tensor in &checkpoint.tensors {
            let expected_len: usize = tensor.shape.iter().product();
            if expected_len != tensor.values.len() {
                return Err(AverageError::BadLength {
                    source_name: checkpoint.source_name.clone(),
                    name: tensor.name.clone(),
                    shape: tensor.shape.clone(),
                    num_values: tensor.values.len(),
                });
            }
        }
    }
    for (i, tensor) in first.tensors.iter().enumerate() {
        if index.insert(tensor.name.as_str(), i).is_some() {
            return Err(AverageError::DuplicateTensor {
                source_name: first.source_name.clone(),
                name: tensor.name.clone(),
            });
        }
    }
    // Sums in f64 so the result does not depend on the order of the checkpoints beyond rounding
    // of the final division.
    let mut sums: Vec<Vec<f64>> = first
        .tensors
        .iter()
        .map(|t| t.values.iter().map(|&v| counts[0] * f64::from(v)).collect())
        .collect();
    for (checkpoint, &count) in checkpoints[1..].iter().zip(&counts[1..]) {
        let mut seen = vec![false; first.tensors.len()];
        for tensor in &checkpoint.tensors {
            let Some(&i) = index.get(tensor.name.as_str()) else {
                return Err(AverageError::ExtraTensor {
                    source_name: checkpoint.source_name.clone(),
                    name: tensor.name.clone(),
                    first_source: first.source_name.clone(),
                });
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(AverageError::DuplicateTensor {
                    source_name: checkpoint.source_name.clone(),
                    name: tensor.name.clone(),
                });
            }
            if tensor.shape != first.tensors[i].shape {
                return Err(AverageError::ShapeMismatch {
                    source_name: checkpoint.source_name.clone(),
                    name: tensor.name.clone(),
                    expected: first.tensors[i].shape.clone(),
                    found: tensor.shape.clone(),
                    first_source: first.source_name.clone(),
                });
            }
            for (s, &v) in sums[i].iter_mut().zip(&tensor.values) {
                *s += count * f64::from(v);
            }
        }
        if let Some(i) = seen.iter().position(|&s| !s) {
            return Err(AverageError::MissingTensor {
                source_name: checkpoint.source_name.clone(),
                name: first.tensors[i].name.clone(),
                first_source: first.source_name.clone(),
            });
        }
    }
    Ok(first
        .tensors
        .iter()
        .zip(sums)
        .map(|(tensor, sum)| NamedTensor {
            name: tensor.name.clone(),
            shape: tensor.shape.clone(),
            values: sum.into_iter().map(|s| (s / total) as f32).collect(),
        })
        .collect())
}

/// One kept checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestEntry {
    /// Epoch (or step) that produced it.
    pub epoch: u64,
    /// Its dev loss (lower is better).
    pub dev_loss: f64,
    /// Where it is stored.
    pub path: PathBuf,
}

/// The outcome of offering a checkpoint to [`BestCheckpoints`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Kept; `evicted` is the file that dropped out of the top k and should be deleted.
    Kept { evicted: Option<PathBuf> },
    /// Not among the k best (or a NaN loss): the offered file should not be kept.
    Rejected,
}

/// The k checkpoints with the lowest dev loss so far, best first; ties keep the earlier epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestCheckpoints {
    capacity: usize,
    entries: Vec<BestEntry>,
}

impl BestCheckpoints {
    /// Keeps at most `capacity` checkpoints (the paper keeps 5).
    pub fn new(capacity: usize) -> Self {
        BestCheckpoints {
            capacity,
            entries: Vec::with_capacity(capacity),
        }
    }

    /// How many checkpoints are kept at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The kept checkpoints, best first.
    pub fn entries(&self) -> &[BestEntry] {
        &self.entries
    }

    /// The best checkpoint so far.
    pub fn best(&self) -> Option<&BestEntry> {
        self.entries.first()
    }

    /// Paths of the kept checkpoints, best first.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.entries.iter().map(|e| e.path.as_path())
    }

    /// Offers an epoch's checkpoint; says whether to keep it and which file to delete.
    pub fn offer(&mut self, epoch: u64, dev_loss: f64, path: impl Into<PathBuf>) -> Offer {
        if dev_loss.is_nan() || self.capacity == 0 {
            return Offer::Rejected;
        }
        // First position whose loss is worse: equal losses stay ahead of the newcomer.
        let position = self.entries.partition_point(|e| e.dev_loss <= dev_loss);
        if position >= self.capacity {
            return Offer::Rejected;
        }
        self.entries.insert(
            position,
            BestEntry {
                epoch,
                dev_loss,
                path: path.into(),
            },
        );
        let evicted = (self.entries.len() > self.capacity)
            .then(|| self.entries.pop().map(|e| e.path))
            .flatten();
        Offer::Kept { evicted }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(source: &str, tensors: &[(&str, &[usize], &[f32])]) -> CheckpointTensors {
        CheckpointTensors {
            source_name: source.to_string(),
            tensors: tensors
                .iter()
                .map(|(name, shape, values)| NamedTensor {
                    name: name.to_string(),
                    shape: shape.to_vec(),
                    values: values.to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn every_checkpoint_counts_once_with_equal_weight() {
        // Distinct powers of two expose any double-counted or dropped checkpoint: the reference's
        // aliasing bug would give (2·2 + 4 + 8 + 16)/5 = 6.4 instead of 31/5 = 6.2.
        let values = [1.0f32, 2.0, 4.0, 8.0, 16.0];
        let checkpoints: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                checkpoint(
                    &format!("epoch{i}.ckpt"),
                    &[("a.weight", &[2], &[v, -v]), ("b.bias", &[1], &[v * 0.5])],
                )
            })
            .collect();
        let averaged = average_checkpoints(&checkpoints).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(averaged.len(), 2);
        assert_eq!(averaged[0].name, "a.weight");
        assert_eq!(averaged[0].values, [6.2, -6.2]);
        assert_eq!(averaged[1].values, [3.1]);
        // Order of the other checkpoints' tensors does not matter.
        let mut shuffled = checkpoints.clone();
        shuffled[2].tensors.reverse();
        assert_eq!(average_checkpoints(&shuffled), Ok(averaged));
    }

    #[test]
    fn mismatched_checkpoints_are_reported_with_their_source() {
        let a = checkpoint("a.ckpt", &[("w", &[2], &[1.0, 2.0])]);
        let shape = checkpoint("b.ckpt", &[("w", &[1, 2], &[1.0, 2.0])]);
        let missing = checkpoint("c.ckpt", &[]);
        let extra = checkpoint("d.ckpt", &[("w", &[2], &[1.0, 2.0]), ("v", &[1], &[0.0])]);
        let bad_len = checkpoint("e.ckpt", &[("w", &[3], &[1.0, 2.0])]);
        assert_eq!(average_checkpoints(&[]), Err(AverageError::Empty));
        let message = |cks: &[CheckpointTensors]| match average_checkpoints(cks) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert!(message(&[a.clone(), shape]).contains("b.ckpt: tensor 'w' has shape [1, 2]"));
        assert!(message(&[a.clone(), missing]).contains("c.ckpt: tensor 'w' is missing"));
        assert!(message(&[a.clone(), extra]).contains("d.ckpt: tensor 'v' is not in a.ckpt"));
        assert!(message(&[a, bad_len]).contains("e.ckpt: tensor 'w' has 2 values"));
    }

    #[test]
    fn keeps_the_k_lowest_losses_and_names_the_file_to_delete() {
        let mut best = BestCheckpoints::new(3);
        assert_eq!(best.offer(1, 0.9, "e1"), Offer::Kept { evicted: None });
        assert_eq!(best.offer(2, 0.5, "e2"), Offer::Kept { evicted: None });
        assert_eq!(best.offer(3, 0.7, "e3"), Offer::Kept { evicted: None });
        assert_eq!(
            best.offer(4, 0.6, "e4"),
            Offer::Kept {
                evicted: Some(PathBuf::from("e1"))
            }
        );
        assert_eq!(best.offer(5, 0.95, "e5"), Offer::Rejected);
        // A tie with the worst kept loss does not displace the earlier epoch.
        assert_eq!(best.offer(6, 0.7, "e6"), Offer::Rejected);
        assert_eq!(best.offer(7, f64::NAN, "e7"), Offer::Rejected);
        let epochs: Vec<u64> = best.entries().iter().map(|e| e.epoch).collect();
        assert_eq!(epochs, [2, 4, 3]);
        assert_eq!(best.best().map(|e| e.epoch), Some(2));
        let paths: Vec<&Path> = best.paths().collect();
        assert_eq!(paths, [Path::new("e2"), Path::new("e4"), Path::new("e3")]);
        let json = serde_json::to_string(&best).unwrap_or_default();
        let restored: Result<BestCheckpoints, _> = serde_json::from_str(&json);
        assert_eq!(restored.ok(), Some(best));
    }

    #[test]
    fn reference_averaging_counts_the_second_best_twice_and_drops_the_best() {
        assert_eq!(Averaging::Uniform.counts(3), [1.0, 1.0, 1.0]);
        assert_eq!(Averaging::Reference.counts(5), [0.0, 2.0, 1.0, 1.0, 1.0]);
        assert_eq!(Averaging::Reference.counts(2), [0.0, 2.0]);
        assert_eq!(Averaging::Reference.counts(1), [1.0]);
        assert!(Averaging::Reference.counts(0).is_empty());
        // Best first: b₀ = 1, b₁ = 2, b₂ = 4, b₃ = 8, b₄ = 16. By hand, as dpda_ga's main.py
        // computes it: (2·2 + 4 + 8 + 16)/5 = 32/5 = 6.4 (uniform: 31/5 = 6.2).
        let values = [1.0f32, 2.0, 4.0, 8.0, 16.0];
        let checkpoints: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                checkpoint(
                    &format!("best_{i}.ckpt"),
                    &[("a.weight", &[2], &[v, -v]), ("b.bias", &[1], &[v * 0.5])],
                )
            })
            .collect();
        let averaged = weighted_average_checkpoints(&checkpoints, &Averaging::Reference.counts(5))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(averaged[0].values, [6.4, -6.4]);
        assert_eq!(averaged[1].values, [3.2]);
        // Three kept: (2·2 + 4)/3 = 8/3; two kept: 2·2/2 = 2 (the second best alone); one: b₀.
        let three =
            weighted_average_checkpoints(&checkpoints[..3], &Averaging::Reference.counts(3))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(three[0].values, [8.0 / 3.0, -8.0 / 3.0]);
        let two = weighted_average_checkpoints(&checkpoints[..2], &Averaging::Reference.counts(2))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(two[0].values, [2.0, -2.0]);
        let one = weighted_average_checkpoints(&checkpoints[..1], &Averaging::Reference.counts(1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one[0].values, [1.0, -1.0]);
        // The dropped best checkpoint must still match the others.
        let mut mismatched = checkpoints.clone();
        mismatched[0].tensors[0].shape = vec![1, 2];
        assert!(
            weighted_average_checkpoints(&mismatched, &Averaging::Reference.counts(5)).is_err()
        );
    }
}
