//! Loading weights into a model: the project's safetensors checkpoints and the zip-format PyTorch
//! state dicts released with reference models (e.g. clovaai/aasist `models/weights/*.pth`).
//!
//! [`load_weights`] is the one entry point for a whole model's weights: the trainer (resuming
//! from a checkpoint, whose optimizer state it sets aside), the scorer and `dpda import-weights`
//! all go through it (or through [`assign_state`] on tensors already read); wherever a checkpoint
//! path is accepted a `.pth` works too. Only an XLS-R front end alone is filled elsewhere
//! ([`super::import_xlsr`], which builds on the readers here). Loading is strict: every tensor of the model's state
//! ([`Model::state`], BatchNorm running statistics included) must be present with its exact
//! shape, and nothing else may be in the file, so a wrong configuration fails with a list of the
//! offending names instead of silently half-loading (candle's `VarMap::load` ignores extras).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};

use super::{Model, NnError, FRONT_END_PREFIX};

/// How many names an error lists before summarising the rest.
const MAX_LISTED: usize = 12;

/// The model name a PyTorch state-dict key maps to, or `None` for entries with no counterpart.
///
/// Our variable names are the reference keys themselves; only BatchNorm's `num_batches_tracked`
/// counters are dropped (PyTorch uses them only when `momentum=None`, which these models do not).
pub fn pth_key_to_name(key: &str) -> Option<String> {
    if key.ends_with(".num_batches_tracked") || key == "num_batches_tracked" {
        None
    } else if key
        .strip_prefix(&format!("{FRONT_END_PREFIX}."))
        .is_some_and(is_pretraining_only)
    {
        // dpda_ga detectors carry XLS-R's pretraining heads, unused when fine-tuning.
        None
    } else {
        Some(key.to_string())
    }
}

/// Whether a fairseq wav2vec 2.0 key belongs to pretraining only (no counterpart in the encoder).
pub fn is_pretraining_only(fairseq_key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "mask_emb",
        "quantizer.",
        "project_q.",
        "final_proj.",
        "label_embs_concat",
        "target_glu.",
    ];
    PREFIXES.iter().any(|p| fairseq_key.starts_with(p))
}

pub(crate) fn load_error(path: &Path, message: impl Into<String>) -> NnError {
    NnError::Load {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads every tensor of a zip-format PyTorch state dict (a plain `state_dict()`, or one nested
/// under the key `model` / `state_dict`), keyed by model name.
pub fn read_pth(path: &Path) -> Result<HashMap<String, Tensor>, NnError> {
    if !path.is_file() {
        return Err(load_error(path, "no such file"));
    }
    check_zip_magic(path)?;
    // A nested checkpoint read without its key looks empty, so try the usual keys after.
    let mut tensors = None;
    for key in [None, Some("state_dict"), Some("model")] {
        let pth = candle_core::pickle::PthTensors::new(path, key)
            .map_err(|e| load_error(path, format!("not a zip-format PyTorch file: {e}")));
        let pth = match (pth, key) {
            (Ok(pth), _) => pth,
            (Err(e), None) => return Err(e),
            (Err(_), Some(_)) => continue,
        };
        if !pth.tensor_infos().is_empty() {
            tensors = Some(pth);
            break;
        }
    }
    let pth = tensors.ok_or_else(|| load_error(path, "the file holds no tensors"))?;
    let mut out = HashMap::new();
    let mut keys: Vec<&String> = pth.tensor_infos().keys().collect();
    keys.sort();
    for key in keys {
        let Some(name) = pth_key_to_name(key) else {
            continue;
        };
        let tensor = pth
            .get(key)
            .map_err(|e| load_error(path, format!("tensor '{key}': {e}")))?
            .ok_or_else(|| load_error(path, format!("tensor '{key}' vanished while reading")))?;
        out.insert(name, tensor);
    }
    Ok(out)
}

/// Fails with a message saying what the file is when it is not a zip archive: files written by
/// `torch.save` before PyTorch 1.6 (or with `_use_new_zipfile_serialization=False`) are a bare
/// pickle stream, which the zip reader would only call "invalid".
fn check_zip_magic(path: &Path) -> Result<(), NnError> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(|e| load_error(path, format!("cannot read: {e}")))?;
    if read == 4 && magic == *b"PK\x03\x04" {
        Ok(())
    } else if read >= 1 && magic[0] == 0x80 {
        Err(load_error(
            path,
            "a legacy (pre-1.6) torch.save file, not the zip format; re-save it with a current \
             PyTorch (torch.save(torch.load(f), f))",
        ))
    } else {
        Err(load_error(
            path,
            "not a zip-format PyTorch file (no zip signature)",
        ))
    }
}

/// Prefix of the optimizer-state tensors the trainer stores in a checkpoint's weights file
/// (`__optimizer__.exp_avg`, …); model loaders set them aside.
pub const OPTIMIZER_STATE_PREFIX: &str = "__optimizer__.";

/// Reads the model tensors of a safetensors file written by [`save_weights`], by the trainer
/// (its optimizer state is set aside) or by any compatible writer.
pub fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>, NnError> {
    if !path.is_file() {
        return Err(load_error(path, "no such file"));
    }
    let mut tensors = candle_core::safetensors::load(path, &Device::Cpu)
        .map_err(|e| load_error(path, e.to_string()))?;
    tensors.retain(|name, _| !name.starts_with(OPTIMIZER_STATE_PREFIX));
    Ok(tensors)
}

fn list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(MAX_LISTED).map(String::as_str).collect();
    let more = names.len().saturating_sub(MAX_LISTED);
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Copies `tensors` into the model's state after checking that the names and shapes match
/// exactly; converts dtypes. `path` is only used in error messages.
pub fn assign_state(
    model: &dyn Model,
    tensors: &HashMap<String, Tensor>,
    path: &Path,
) -> Result<(), NnError> {
    assign_strict(model, tensors, "", "", path).map(|_| ())
}

/// Copies the tensors named like the model's variables under `prefix` (all of them for `""`)
/// into them, after checking that names and shapes under `prefix` match exactly on both sides;
/// converts dtypes and returns how many were set. `what` opens the mismatch message (e.g.
/// `"front end "`); `path` is only used in error messages.
pub(crate) fn assign_strict(
    model: &dyn Model,
    tensors: &HashMap<String, Tensor>,
    prefix: &str,
    what: &str,
    path: &Path,
) -> Result<usize, NnError> {
    let data = model
        .state()
        .data()
        .lock()
        .map_err(|_| load_error(path, "variable map lock poisoned"))?;
    let ours: BTreeSet<&String> = data.keys().filter(|k| k.starts_with(prefix)).collect();
    let theirs: BTreeSet<&String> = tensors.keys().filter(|k| k.starts_with(prefix)).collect();
    if ours.is_empty() && !prefix.is_empty() {
        return Err(load_error(
            path,
            format!("model '{}' has no variables under '{prefix}'", model.name()),
        ));
    }
    let missing: Vec<String> = ours.difference(&theirs).map(|k| (*k).clone()).collect();
    let unexpected: Vec<String> = theirs.difference(&ours).map(|k| (*k).clone()).collect();
    let mismatched: Vec<String> = ours
        .intersection(&theirs)
        .filter_map(|name| {
            let (t, v) = (&tensors[*name], &data[*name]);
            (t.dims() != v.dims())
                .then(|| format!("{name} (file {:?}, model {:?})", t.dims(), v.dims()))
        })
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("{} missing: {}", missing.len(), list(&missing)));
        }
        if !unexpected.is_empty() {
            parts.push(format!(
                "{} unexpected: {}",
                unexpected.len(),
                list(&unexpected)
            ));
        }
        if !mismatched.is_empty() {
            parts.push(format!(
                "{} with mismatched shapes: {}",
                mismatched.len(),
                list(&mismatched)
            ));
        }
        return Err(load_error(
            path,
            format!(
                "{what}does not fit model '{}': {}",
                model.name(),
                parts.join("; ")
            ),
        ));
    }
    for name in &ours {
        let var = &data[*name];
        let value = tensors[*name]
            .to_dtype(var.dtype())
            .and_then(|t| t.to_device(var.device()))
            .map_err(|e| load_error(path, format!("tensor '{name}': {e}")))?;
        var.set(&value)
            .map_err(|e| load_error(path, format!("tensor '{name}': {e}")))?;
    }
    Ok(ours.len())
}

/// Loads weights from a `.pth` (PyTorch zip state dict) or `.safetensors` file into `model`,
/// strictly (see the module docs).
pub fn load_weights(model: &dyn Model, path: &Path) -> Result<(), NnError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let tensors = match extension.as_deref() {
        Some("pth") | Some("pt") => read_pth(path)?,
        Some("safetensors") => read_safetensors(path)?,
        _ => {
            return Err(load_error(
                path,
                "expected a .pth, .pt or .safetensors file",
            ))
        }
    };
    assign_state(model, &tensors, path)
}

/// Fails when any tensor of the model's state is NaN or infinite: such weights score NaN
/// everywhere, or garbage. `path` is only used in the message.
pub fn check_finite(model: &dyn Model, path: &Path) -> Result<(), NnError> {
    let data = model
        .state()
        .data()
        .lock()
        .map_err(|_| load_error(path, "variable map lock poisoned"))?;
    for (name, var) in data.iter() {
        // 0·x is 0 for every finite x and NaN for NaN and ±inf, so the sum is 0 iff all are finite.
        let probe = (var.as_tensor() * 0.0)
            .and_then(|t| t.sum_all())
            .and_then(|t| t.to_dtype(candle_core::DType::F64))
            .and_then(|t| t.to_scalar::<f64>())
            .map_err(|e| load_error(path, format!("tensor '{name}': {e}")))?;
        if probe != 0.0 {
            return Err(load_error(
                path,
                format!("tensor '{name}' holds NaN or infinite values; the checkpoint is corrupt"),
            ));
        }
    }
    Ok(())
}

/// Writes the model's whole state (trainable variables and BatchNorm running statistics) as
/// safetensors.
pub fn save_weights(model: &dyn Model, path: &Path) -> Result<(), NnError> {
    model
        .state()
        .save(path)
        .map_err(|e| load_error(path, format!("cannot write: {e}")))
}
