//! What a checkpoint path holds, and the model to score with: resolved once here for the CLI,
//! the GUI and the trainer.
//!
//! A path is
//! - a **run folder**: its best weights ([`RunLayout::best_weights`]) with the model, options and
//!   input length of its `config.toml`;
//! - a **`.safetensors` checkpoint**: the model of the run it sits in, else the `model` named by
//!   its import sidecar (`<stem>.json`, written by `dpda import-weights`), else the one whose
//!   tensors it holds;
//! - a **PyTorch `.pth`/`.pt`** state dict: the AASIST authors' released `AASIST.pth` /
//!   `AASIST-L.pth`, or a dpda_ga `best.pth` of XLS-R + AASIST or Conformer-TCM (fairseq layout
//!   under `ssl_model.model.`), recognised from its tensors.
//!
//! Loading is strict (every model tensor present with its shape, nothing left over) and refuses
//! weights that are not finite. The model's input length for a whole-clip score is the run's
//! `data.num_samples`, else the architecture's own: the AASIST family was trained and evaluated on
//! the first 64,600 samples (clovaai's `nb_samp`), dpda_ga's models on 66,800. A released model
//! scored on another length gives other scores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use super::layout::{BestKind, RunLayout};
use super::{io_err, InferenceError};
use crate::nn::registry::{ModelKind, ModelOptions};
use crate::nn::Model;

pub use crate::nn::registry::{AASIST_NUM_SAMPLES, DPDA_GA_NUM_SAMPLES};

/// Longest input length accepted for one model input (60 s at 16 kHz, as for training): beyond
/// it a single forward pass of the larger models needs tens of gigabytes.
pub const MAX_NUM_SAMPLES: usize = crate::train::config::MAX_NUM_SAMPLES;

/// The architecture's own input length and where it comes from.
pub fn default_num_samples(kind: ModelKind) -> (usize, &'static str) {
    (kind.input_num_samples(), kind.input_num_samples_origin())
}

/// What to load.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelRequest {
    /// A run folder or a checkpoint file.
    pub path: PathBuf,
    /// The architecture, overriding what the checkpoint says or is recognised as.
    pub model: Option<String>,
    /// The whole-clip input length in samples, overriding the model's own.
    pub num_samples: Option<usize>,
    /// Which calibration turns the raw logit into an LLR.
    pub calibration: CalibrationRequest,
}

/// Which calibration to apply to the scores of a loaded model.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum CalibrationRequest {
    /// The checkpoint's own: a run folder's `calibration.json` when its final model is loaded,
    /// `<stem>.calibration.json` beside a weights file outside a run; none otherwise.
    #[default]
    RunOwn,
    /// This calibration file (`dpda calibrate` writes them).
    File(PathBuf),
    /// None: scores are the raw bona fide logit.
    Raw,
}

/// A calibration applied to a loaded model's scores, and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct AppliedCalibration {
    /// The map and its record.
    pub calibration: crate::metrics::calibration::Calibration,
    /// The file it was read from.
    pub path: PathBuf,
    /// Why it applies, e.g. "the run's own" or "as requested".
    pub origin: String,
    /// Set when it was fitted for another model or input length than the one loaded.
    pub mismatch: Option<String>,
}

impl AppliedCalibration {
    /// One line: the file, why it applies and the map.
    pub fn describe(&self) -> String {
        format!(
            "calibration {} ({}): {}",
            self.path.display(),
            self.origin,
            self.calibration.describe()
        )
    }
}

impl ModelRequest {
    /// A request for `path` with nothing overridden.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ModelRequest {
            path: path.into(),
            ..ModelRequest::default()
        }
    }
}

/// A decision threshold and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredThreshold {
    /// Threshold on the bona fide logit: at or above it a clip is called bona fide.
    pub value: f64,
    /// Human-readable origin, e.g. "dev EER threshold stored with epoch-003.json".
    pub source: String,
}

/// What was loaded, for the user and for the scorer.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// Registry name.
    pub name: String,
    /// How the architecture was decided, e.g. "run configuration", "recognised from its tensors".
    pub name_origin: String,
    /// Whole-clip input length in samples (first samples, shorter clips repeated to length).
    pub num_samples: usize,
    /// Where the input length comes from.
    pub num_samples_origin: String,
    /// The weights file read.
    pub weights: PathBuf,
    /// For a run folder: which of its checkpoints was taken.
    pub best: Option<BestKind>,
    /// The threshold stored with the checkpoint, when the trainer wrote one.
    pub threshold: Option<StoredThreshold>,
    /// The calibration applied to its scores, if any (boxed: it is large and usually absent).
    pub calibration: Option<Box<AppliedCalibration>>,
}

impl ModelInfo {
    /// One line: model, input length and weights.
    pub fn describe(&self) -> String {
        let chosen = self
            .best
            .map_or_else(String::new, |b| format!(", {}", b.describe()));
        format!(
            "model {} ({}); input {} samples = {:.3} s ({}); weights {}{chosen}",
            self.name,
            self.name_origin,
            self.num_samples,
            self.num_samples as f64 / f64::from(crate::audio::TARGET_SAMPLE_RATE_HZ),
            self.num_samples_origin,
            self.weights.display()
        )
    }

    /// The score to report for a raw bona fide logit: the calibrated LLR when a calibration is
    /// applied, else the logit itself.
    pub fn output_score(&self, raw_logit: f64) -> f64 {
        self.calibration
            .as_ref()
            .map_or(raw_logit, |c| c.calibration.llr(raw_logit))
    }
}

/// Where a weights file outside a run keeps its own calibration: `<stem>.calibration.json` in
/// its folder.
pub fn calibration_beside(weights: &Path) -> PathBuf {
    weights.with_extension("calibration.json")
}

/// The calibration `request` asks for, for `weights` of model `name` at `num_samples`.
fn resolve_calibration(
    request: &CalibrationRequest,
    run: Option<&RunLayout>,
    weights: &Path,
    name: &str,
    num_samples: usize,
) -> Result<Option<Box<AppliedCalibration>>, InferenceError> {
    use crate::metrics::calibration::Calibration;
    let (path, origin) = match request {
        CalibrationRequest::Raw => return Ok(None),
        CalibrationRequest::File(path) => (path.clone(), "as requested".to_string()),
        CalibrationRequest::RunOwn => {
            // The run's calibration was fitted on its final model's dev scores: it is applied
            // only when that model is the one loaded.
            let Some(run) = run else {
                // A weights file outside a run (a models folder's released `.pth`) carries its
                // calibration beside it, e.g. `AASIST-L.calibration.json`.
                let beside = calibration_beside(weights);
                if !beside.is_file() {
                    return Ok(None);
                }
                let calibration = Calibration::read(&beside)?;
                let mismatch = calibration.mismatch(name, num_samples);
                return Ok(Some(Box::new(AppliedCalibration {
                    calibration,
                    path: beside,
                    origin: "beside the weights".to_string(),
                    mismatch,
                })));
            };
            let (final_weights, _) = run.checkpoint("final");
            let path = run.calibration();
            let same = |p: &Path| p.canonicalize().ok();
            if !path.is_file() || same(weights).is_none() || same(weights) != same(&final_weights) {
                return Ok(None);
            }
            (path, "the run's own, fitted on its dev set".to_string())
        }
    };
    let calibration = Calibration::read(&path)?;
    let mismatch = calibration.mismatch(name, num_samples);
    Ok(Some(Box::new(AppliedCalibration {
        calibration,
        path,
        origin,
        mismatch,
    })))
}

/// The architecture to build: kind, `[model.options]`, seed.
struct Arch {
    kind: ModelKind,
    options: ModelOptions,
    seed: u64,
    origin: String,
    /// A run's `data.num_samples`.
    run_num_samples: Option<usize>,
}

fn checkpoint_err(path: &Path, message: impl Into<String>) -> InferenceError {
    InferenceError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The architecture of a run, from its `config.toml`.
fn run_arch(run: &RunLayout) -> Result<Arch, InferenceError> {
    let config = run.config();
    let text = std::fs::read_to_string(&config).map_err(io_err(&config))?;
    let plan = crate::train::plan_from_str(&text, &config.display().to_string(), &[])
        .map_err(crate::train::TrainError::from)?;
    Ok(Arch {
        kind: plan.model.kind,
        options: plan.model.options.clone(),
        seed: plan.train.seed,
        origin: format!("run configuration {}", config.display()),
        run_num_samples: Some(plan.data.num_samples),
    })
}

/// The `model` field of an import sidecar (`dpda import-weights` writes one): none when there is
/// no readable sidecar or no such field, an error when it names no known model.
fn sidecar_model(weights: &Path) -> Result<Option<ModelKind>, InferenceError> {
    let name = (|| {
        let text = std::fs::read_to_string(weights.with_extension("json")).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        value.get("model")?.as_str().map(str::to_string)
    })();
    Ok(name.map(|n| n.parse()).transpose()?)
}

/// The tensors of a checkpoint file, by model variable name.
fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>, InferenceError> {
    if path.is_dir() {
        return Err(checkpoint_err(
            path,
            "not a run folder (no config.toml) and not a checkpoint file",
        ));
    }
    if !path.exists() {
        return Err(checkpoint_err(path, "no such file or folder"));
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Ok(match extension.as_deref() {
        Some("safetensors") => crate::nn::import::read_safetensors(path)?,
        Some("pth") | Some("pt") | Some("bin") => crate::nn::import::read_pth(path)?,
        _ => {
            return Err(checkpoint_err(
                path,
                "expected a run folder, a .safetensors checkpoint or a PyTorch .pth/.pt file",
            ))
        }
    })
}

/// Architectures tried, in order, for a file that does not name its model. The XLS-R 300M
/// detectors are not in it: they are recognised by their tensors' names and sizes instead of
/// being built (1.3 GB each) just to be tried.
const RECOGNISED: [(ModelKind, bool); 6] = [
    (ModelKind::AasistL, false),
    (ModelKind::Aasist, false),
    (ModelKind::LcnnSmall, false),
    (ModelKind::Lcnn, false),
    (ModelKind::Lcnn, true),
    (ModelKind::Tiny, false),
];

/// The XLS-R detector a tensor set holds, from names and sizes alone.
fn xlsr_arch(tensors: &HashMap<String, Tensor>) -> Option<ModelKind> {
    let front = crate::nn::FRONT_END_PREFIX;
    if !tensors.keys().any(|k| k.starts_with(front)) {
        return None;
    }
    let tcm = tensors.keys().any(|k| k.starts_with("conformer."));
    // XLS-R 300M projects 512 convolution channels to 1024 model dimensions.
    let full = tensors
        .get(&format!("{front}.post_extract_proj.weight"))
        .is_some_and(|t| t.dims().first() == Some(&1024));
    Some(match (tcm, full) {
        (true, true) => ModelKind::XlsrTcm,
        (true, false) => ModelKind::XlsrTinyTcm,
        (false, true) => ModelKind::XlsrAasist,
        (false, false) => ModelKind::XlsrTinyAasist,
    })
}

/// Build `arch` and copy `tensors` into it strictly.
fn build_and_assign(
    arch: &Arch,
    tensors: &HashMap<String, Tensor>,
    weights: &Path,
) -> Result<Box<dyn Model>, InferenceError> {
    let model = crate::nn::registry::build_model(
        arch.kind,
        &arch.options,
        arch.seed,
        &Device::Cpu,
        DType::F32,
    )?;
    crate::nn::import::assign_state(model.as_ref(), tensors, weights)?;
    Ok(model)
}

/// The first architecture whose every tensor `tensors` holds exactly.
fn recognise(
    tensors: &HashMap<String, Tensor>,
    weights: &Path,
) -> Result<(Box<dyn Model>, Arch), InferenceError> {
    let arch = |kind: ModelKind, options: ModelOptions| Arch {
        kind,
        options,
        seed: 0,
        origin: "recognised from its tensors".into(),
        run_num_samples: None,
    };
    if let Some(kind) = xlsr_arch(tensors) {
        let a = arch(kind, ModelOptions::default());
        return Ok((build_and_assign(&a, tensors, weights)?, a));
    }
    let mut reasons = Vec::new();
    for (kind, blstm) in RECOGNISED {
        let options = ModelOptions {
            blstm,
            ..ModelOptions::default()
        };
        let a = arch(kind, options);
        match build_and_assign(&a, tensors, weights) {
            Ok(model) => return Ok((model, a)),
            Err(InferenceError::Model(crate::nn::NnError::Load { message, .. })) => {
                reasons.push(format!("not {kind}: {}", first_clause(&message)))
            }
            Err(e) => return Err(e),
        }
    }
    Err(checkpoint_err(
        weights,
        format!(
            "the tensors fit none of the known models ({}); name the model (--model)",
            reasons.join("; ")
        ),
    ))
}

/// The start of a long mismatch message, for a list of several.
fn first_clause(message: &str) -> &str {
    let cut = message.find(';').unwrap_or(message.len()).min(160);
    let mut end = cut;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// The dev-set EER threshold stored in the trainer's sidecar `<stem>.json` next to a
/// `.safetensors` checkpoint, if any.
pub fn stored_threshold(weights: &Path) -> Option<StoredThreshold> {
    let sidecar = weights.with_extension("json");
    let side = crate::train::checkpoint::read_sidecar_info(&sidecar)?;
    let value = side.dev_eer_threshold.filter(|v| v.is_finite())?;
    let name = sidecar
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    // The sidecar's `epoch` is the next epoch to run, i.e. the number of epochs done when the
    // threshold was measured.
    let measured = side
        .epoch
        .filter(|&e| e > 0)
        .map_or_else(String::new, |e| format!(" (measured after {e} epochs)"));
    // `final` averages the kept best epochs; its sidecar carries the last epoch's threshold.
    let averaged = if weights.file_stem().is_some_and(|s| s == "final") {
        "; the final model averages the best epochs, so it is approximate"
    } else {
        ""
    };
    Some(StoredThreshold {
        value,
        source: format!("dev EER threshold stored with {name}{measured}{averaged}"),
    })
}

/// A trainer checkpoint's weights must be the file its sidecar was written with.
fn check_sidecar_hash(weights: &Path) -> Result<(), InferenceError> {
    let sidecar = weights.with_extension("json");
    let Some(want) =
        crate::train::checkpoint::read_sidecar_info(&sidecar).and_then(|s| s.weights_sha256)
    else {
        return Ok(());
    };
    let got = crate::train::checkpoint::file_sha256(weights)?;
    if got != want {
        return Err(checkpoint_err(
            weights,
            format!(
                "does not match its sidecar {} (SHA-256 differs): the checkpoint was split by a \
                 crash or changed afterwards",
                sidecar.display()
            ),
        ));
    }
    Ok(())
}

/// Load the model `request` names, on the CPU.
pub fn load(request: &ModelRequest) -> Result<(Box<dyn Model>, ModelInfo), InferenceError> {
    let path = &request.path;
    let as_run = RunLayout::new(path);
    let (weights, best, run) = if path.is_dir() && as_run.is_run() {
        let (weights, kind) = as_run.best_weights().ok_or_else(|| {
            checkpoint_err(
                path,
                "this run folder has no checkpoint yet (checkpoints/final, a best epoch or last)",
            )
        })?;
        (weights, Some(kind), Some(as_run))
    } else {
        (path.clone(), None, RunLayout::of_checkpoint(path))
    };
    let tensors = read_tensors(&weights)?;
    // The requested name is parsed once, before anything is built.
    let requested: Option<ModelKind> = request.model.as_deref().map(str::parse).transpose()?;
    let named = match (&requested, &run) {
        (Some(kind), Some(run)) => {
            let mut arch = run_arch(run)?;
            if arch.kind != *kind {
                arch = Arch {
                    kind: *kind,
                    options: ModelOptions::default(),
                    seed: 0,
                    origin: "--model, overriding the run configuration".into(),
                    run_num_samples: arch.run_num_samples,
                };
            }
            Some(arch)
        }
        (None, Some(run)) => Some(run_arch(run)?),
        (Some(kind), None) => Some(Arch {
            kind: *kind,
            options: ModelOptions::default(),
            seed: 0,
            origin: "as requested".into(),
            run_num_samples: None,
        }),
        (None, None) => sidecar_model(&weights)?.map(|kind| Arch {
            kind,
            options: ModelOptions::default(),
            seed: 0,
            origin: format!("named by {}", weights.with_extension("json").display()),
            run_num_samples: None,
        }),
    };
    let (model, arch) = match named {
        Some(arch) => (build_and_assign(&arch, &tensors, &weights)?, arch),
        None => recognise(&tensors, &weights)?,
    };
    drop(tensors);
    crate::nn::import::check_finite(model.as_ref(), &weights)?;
    check_sidecar_hash(&weights)?;
    let (num_samples, num_samples_origin) = match (request.num_samples, arch.run_num_samples) {
        (Some(n), _) => (n, "as requested".to_string()),
        (None, Some(n)) => (n, "the run's data.num_samples".to_string()),
        (None, None) => {
            let (n, why) = default_num_samples(arch.kind);
            (n, why.to_string())
        }
    };
    if num_samples < model.min_num_samples() || num_samples > MAX_NUM_SAMPLES {
        return Err(InferenceError::Invalid {
            what: "input length (--num-samples)".into(),
            message: format!(
                "{num_samples} samples is outside {}..={MAX_NUM_SAMPLES} for model {}",
                model.min_num_samples(),
                arch.kind
            ),
        });
    }
    let calibration = resolve_calibration(
        &request.calibration,
        run.as_ref(),
        &weights,
        model.name(),
        num_samples,
    )?;
    let info = ModelInfo {
        calibration,
        name: model.name().to_string(),
        name_origin: arch.origin,
        num_samples,
        num_samples_origin,
        threshold: stored_threshold(&weights),
        weights,
        best,
    };
    Ok((model, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_lengths_follow_the_architecture() {
        assert_eq!(default_num_samples(ModelKind::Aasist).0, 64_600);
        assert_eq!(default_num_samples(ModelKind::AasistL).0, 64_600);
        assert_eq!(default_num_samples(ModelKind::XlsrAasist).0, 66_800);
        assert_eq!(default_num_samples(ModelKind::Lcnn).0, 66_800);
    }

    #[test]
    fn stored_threshold_reads_only_the_fields_it_needs() {
        let dir = tempfile::tempdir().unwrap();
        let weights = dir.path().join("epoch-002.safetensors");
        std::fs::write(
            dir.path().join("epoch-002.json"),
            r#"{"epoch": 3, "dev_eer_threshold": -0.25, "other": [1, 2]}"#,
        )
        .unwrap();
        let t = stored_threshold(&weights).unwrap();
        assert_eq!(t.value, -0.25);
        assert!(t.source.contains("epoch-002.json"), "{}", t.source);
        assert!(t.source.contains("after 3 epochs"), "{}", t.source);
        std::fs::write(dir.path().join("epoch-002.json"), r#"{"epoch": 3}"#).unwrap();
        assert_eq!(stored_threshold(&weights), None);
        assert_eq!(
            stored_threshold(&dir.path().join("missing.safetensors")),
            None
        );
    }

    #[test]
    fn first_clause_cuts_at_a_char_boundary() {
        assert_eq!(first_clause("a; b"), "a");
        let long = "é".repeat(200);
        assert!(first_clause(&long).len() <= 160);
    }
}
