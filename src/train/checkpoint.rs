//! Checkpoints: the model's [`VarMap`](candle_nn::VarMap) as safetensors (trainable variables and
//! BatchNorm running statistics) plus a JSON sidecar with everything else an exact resume needs
//! (position in the epoch, optimizer, aligner and RNG state, early-stopping bookkeeping). Also
//! loading weights back into a model and averaging the k best checkpoints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::align::GradientAligner;
use super::average::{
    weighted_average_checkpoints, Averaging, BestCheckpoints, CheckpointTensors, NamedTensor,
};
use super::error::{io_err, TrainError};
use super::optim::Optimizer;
use crate::nn::Model;
use crate::rng::Rng;

/// Everything of a run's state that is not a model tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Epoch the run is in (or about to start).
    pub epoch: u64,
    /// Batches of `epoch` already done.
    pub batch_in_epoch: u64,
    /// Optimizer steps done.
    pub step: u64,
    pub optimizer: Optimizer,
    pub aligner: GradientAligner,
    pub rng: Rng,
    pub best_dev_loss: Option<f64>,
    pub best_epoch: Option<u64>,
    /// Dev EER threshold (bona fide logit) of the checkpoint's epoch.
    pub dev_eer_threshold: Option<f64>,
    pub epochs_since_best: u64,
    /// The kept best checkpoints by dev loss (paths relative to the checkpoint folder).
    pub kept_best: BestCheckpoints,
    /// Running counters of the current epoch.
    pub epoch_conflicts: u64,
    pub epoch_dual_steps: u64,
    /// Conflicting steps of the current epoch per pair of paths (keyed `"a|b"`); absent in
    /// checkpoints written before K-path training, which then count from zero.
    #[serde(default)]
    pub epoch_pair_conflicts: std::collections::BTreeMap<String, u64>,
    pub epoch_loss_sum: f64,
    pub epoch_loss_count: u64,
    /// SHA-256 of the weights file this sidecar belongs to (hex). A crash between writing the
    /// two files, or a weights file changed afterwards, shows as a mismatch, refused at load.
    /// Absent in checkpoints written before it existed, which load unchecked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_sha256: Option<String>,
}

/// SHA-256 of a file, as lower-case hex.
pub fn file_sha256(path: &Path) -> Result<String, TrainError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Check that `weights` is the file `sidecar` was written with (when the sidecar records it).
pub fn verify_weights(weights: &Path, sidecar: &Sidecar) -> Result<(), TrainError> {
    let Some(want) = &sidecar.weights_sha256 else {
        return Ok(());
    };
    let got = file_sha256(weights)?;
    if &got != want {
        return Err(TrainError::Checkpoint {
            path: weights.to_path_buf(),
            message: format!(
                "does not match its sidecar {} (SHA-256 {got}, the sidecar expects {want}): the \
                 checkpoint was split by a crash or changed afterwards; it is not used",
                weights.with_extension("json").display()
            ),
        });
    }
    Ok(())
}

/// Names of the optimizer's state tensors in a checkpoint's weights file (`__optimizer__.exp_avg`,
/// …): they travel with the weights, covered by the same hash, and every model loader skips them.
pub use crate::nn::import::OPTIMIZER_STATE_PREFIX as OPTIMIZER_PREFIX;

/// Paths of a checkpoint's two files.
pub fn checkpoint_paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.safetensors")),
        dir.join(format!("{stem}.json")),
    )
}

/// Write the model state and the sidecar as `<stem>.safetensors` and `<stem>.json` (each through
/// a temporary file, so an interrupted write never leaves a half checkpoint under the final name).
pub fn save(
    dir: &Path,
    stem: &str,
    model: &dyn Model,
    sidecar: &Sidecar,
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let (weights, side) = checkpoint_paths(dir, stem);
    let tmp_weights = dir.join(format!(".{stem}.safetensors.tmp"));
    let tmp_side = dir.join(format!(".{stem}.json.tmp"));
    let result = (|| {
        // Weights that went non-finite must not replace the last good checkpoint.
        crate::nn::import::check_finite(model, &weights).map_err(|e| TrainError::Checkpoint {
            path: weights.clone(),
            message: format!("{e}; the checkpoint on disk is kept"),
        })?;
        let mut tensors: HashMap<String, Tensor> = model
            .state()
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
            .collect();
        for (name, values) in sidecar.optimizer.state_tensors() {
            let t = Tensor::from_slice(values, values.len(), &Device::Cpu)?;
            tensors.insert(format!("{OPTIMIZER_PREFIX}{name}"), t);
        }
        candle_core::safetensors::save(&tensors, &tmp_weights).map_err(|e| {
            TrainError::Checkpoint {
                path: tmp_weights.clone(),
                message: e.to_string(),
            }
        })?;
        let sidecar = &Sidecar {
            weights_sha256: Some(file_sha256(&tmp_weights)?),
            ..sidecar.clone()
        };
        let json = serde_json::to_string(sidecar).map_err(|e| TrainError::Checkpoint {
            path: side.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp_side, json).map_err(io_err(&tmp_side))?;
        // Weights first: a crash between the renames leaves new weights beside the old
        // sidecar, whose recorded hash then refuses them.
        std::fs::rename(&tmp_weights, &weights).map_err(io_err(&weights))?;
        std::fs::rename(&tmp_side, &side).map_err(io_err(&side))
    })();
    if result.is_err() {
        // A failed write (disk full, …) leaves no temporary files behind.
        let _ = std::fs::remove_file(&tmp_weights);
        let _ = std::fs::remove_file(&tmp_side);
    }
    result?;
    Ok(weights)
}

/// Load checkpoint weights into `model` after checking them against their sidecar, refusing
/// non-finite values.
pub fn load_checkpoint_weights(
    model: &dyn Model,
    weights: &Path,
    sidecar: &Sidecar,
) -> Result<(), TrainError> {
    verify_weights(weights, sidecar)?;
    crate::nn::import::load_weights(model, weights)?;
    crate::nn::import::check_finite(model, weights)?;
    Ok(())
}

/// The optimizer state tensors stored in a checkpoint's weights file, put into `sidecar`'s
/// optimizer (older checkpoints carry them in the JSON instead and have none here).
pub fn restore_optimizer(weights: &Path, sidecar: &mut Sidecar) -> Result<(), TrainError> {
    let mut state = HashMap::new();
    for (name, t) in load_tensors(weights, &Device::Cpu)? {
        if let Some(short) = name.strip_prefix(OPTIMIZER_PREFIX) {
            state.insert(
                short.to_string(),
                t.flatten_all()?
                    .to_dtype(candle_core::DType::F32)?
                    .to_vec1::<f32>()?,
            );
        }
    }
    sidecar
        .optimizer
        .restore_state_tensors(state)
        .map_err(|message| TrainError::Checkpoint {
            path: weights.to_path_buf(),
            message,
        })
}

/// Read a sidecar.
pub fn load_sidecar(path: &Path) -> Result<Sidecar, TrainError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The fields of a checkpoint sidecar that readers of finished runs use (inference, the run
/// list), read leniently: a field that is missing or has another type is `None`, so sidecars of
/// older versions still give what they have.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SidecarInfo {
    /// Epoch the run was about to start when the checkpoint was written (= epochs done).
    pub epoch: Option<u64>,
    pub best_epoch: Option<u64>,
    pub dev_eer_threshold: Option<f64>,
    pub weights_sha256: Option<String>,
}

/// Read [`SidecarInfo`] from a sidecar; `None` when the file cannot be read or holds no JSON
/// object.
pub fn read_sidecar_info(path: &Path) -> Option<SidecarInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let object = value.as_object()?;
    let field = |name: &str| object.get(name);
    Some(SidecarInfo {
        epoch: field("epoch").and_then(serde_json::Value::as_u64),
        best_epoch: field("best_epoch").and_then(serde_json::Value::as_u64),
        dev_eer_threshold: field("dev_eer_threshold").and_then(serde_json::Value::as_f64),
        weights_sha256: field("weights_sha256")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
    })
}

/// Read the tensors of a safetensors file.
pub fn load_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>, TrainError> {
    candle_core::safetensors::load(path, device).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Copy `tensors` into the model's state; every model tensor must be present with its shape.
pub fn set_model_state(
    model: &dyn Model,
    tensors: &HashMap<String, Tensor>,
    origin: &Path,
) -> Result<(), TrainError> {
    let data = model
        .state()
        .data()
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for (name, var) in data.iter() {
        let fail = |message: String| TrainError::Checkpoint {
            path: origin.to_path_buf(),
            message,
        };
        let t = tensors
            .get(name)
            .ok_or_else(|| fail(format!("tensor '{name}' missing (model {})", model.name())))?;
        if t.dims() != var.as_tensor().dims() {
            return Err(fail(format!(
                "tensor '{name}' has shape {:?}, the model expects {:?}",
                t.dims(),
                var.as_tensor().dims()
            )));
        }
        let t = t
            .to_device(var.as_tensor().device())?
            .to_dtype(var.as_tensor().dtype())?;
        var.set(&t)?;
    }
    Ok(())
}

/// Element-wise mean of several checkpoints (each loaded once, independently; the reference's
/// aliasing bug, which weighted one checkpoint twice and dropped another, is avoided).
pub fn average(paths: &[PathBuf]) -> Result<HashMap<String, Tensor>, TrainError> {
    average_with(paths, Averaging::Uniform)
}

/// Checkpoints `paths` (best first) averaged as `averaging` weights them
/// ([`Averaging::counts`]).
pub fn average_with(
    paths: &[PathBuf],
    averaging: Averaging,
) -> Result<HashMap<String, Tensor>, TrainError> {
    let mut checkpoints = Vec::with_capacity(paths.len());
    for path in paths {
        let mut tensors: Vec<NamedTensor> = Vec::new();
        let mut loaded: Vec<(String, Tensor)> = load_tensors(path, &Device::Cpu)?
            .into_iter()
            .filter(|(name, _)| !name.starts_with(OPTIMIZER_PREFIX))
            .collect();
        loaded.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in loaded {
            tensors.push(NamedTensor {
                shape: t.dims().to_vec(),
                values: t
                    .flatten_all()?
                    .to_dtype(candle_core::DType::F32)?
                    .to_vec1::<f32>()?,
                name,
            });
        }
        checkpoints.push(CheckpointTensors {
            source_name: path.display().to_string(),
            tensors,
        });
    }
    let counts = averaging.counts(checkpoints.len());
    let averaged = weighted_average_checkpoints(&checkpoints, &counts).map_err(|e| {
        TrainError::Checkpoint {
            path: paths.first().cloned().unwrap_or_default(),
            message: e.to_string(),
        }
    })?;
    averaged
        .into_iter()
        .map(|t| {
            let tensor = Tensor::from_vec(t.values, t.shape, &Device::Cpu)?;
            Ok((t.name, tensor))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_info_takes_what_a_sidecar_has() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last.json");
        std::fs::write(
            &path,
            r#"{"epoch": 3, "best_epoch": 1, "dev_eer_threshold": -0.5, "weights_sha256": "ab"}"#,
        )
        .unwrap();
        assert_eq!(
            read_sidecar_info(&path),
            Some(SidecarInfo {
                epoch: Some(3),
                best_epoch: Some(1),
                dev_eer_threshold: Some(-0.5),
                weights_sha256: Some("ab".into()),
            })
        );
        // An older sidecar: fields missing or of another type are `None`, the rest still read.
        std::fs::write(&path, r#"{"epoch": "3", "best_epoch": 2}"#).unwrap();
        let info = read_sidecar_info(&path).unwrap();
        assert_eq!((info.epoch, info.best_epoch), (None, Some(2)));
        std::fs::write(&path, "[1, 2]").unwrap();
        assert_eq!(read_sidecar_info(&path), None);
        assert_eq!(read_sidecar_info(&dir.path().join("missing.json")), None);
    }
}
