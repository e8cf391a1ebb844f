//! Training configuration: a TOML file (plus `--set key=value` overrides) parsed once into raw
//! structs that refuse unknown keys, then checked into one validated [`Plan`] that is all the
//! trainer, the CLI and the GUI ever see. The resolved configuration (defaults filled in, overrides
//! applied) is kept as TOML so that each run folder records the settings that produced it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::align::{AlignMethod, CaGradSolver, GradVacGranularity};
use super::average::Averaging;
use super::dev_loss::DevLoss;
use super::optim::{OptimizerConfig, OptimizerKind};
use super::schedule::ScheduleConfig;
use crate::augment::chain::{ChainSpec, StageSpec};
use crate::augment::{RawBoostAlgo, RawBoostParams};
use crate::data::demo::DemoSize;
use crate::nn::registry::{ModelKind, ModelOptions};
use crate::nn::NnError;

/// Errors reading or checking a training configuration; each names the file or the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("override '{assignment}': {message}")]
    Override { assignment: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// Longest crop a run may ask for: 60 s at 16 kHz (a batch holds this many samples per clip).
pub const MAX_NUM_SAMPLES: usize = 60 * 16_000;

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// `[data]`: which corpus, how long the crops are and which RawBoost algorithm makes the
/// augmented path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawData {
    /// `demo`, `asvspoof2019-la` or `csv`.
    pub corpus: String,
    /// Demo corpus size (`tiny`, `small`, `default`, `large`).
    pub demo_size: String,
    /// Demo corpus seed.
    pub demo_seed: u64,
    /// ASVspoof 2019 LA root (the folder holding `ASVspoof2019_LA_train`, …).
    pub root: Option<PathBuf>,
    /// CSV lists (`path,label[,attack]`) for the `csv` corpus.
    pub train_csv: Option<PathBuf>,
    pub dev_csv: Option<PathBuf>,
    pub eval_csv: Option<PathBuf>,
    /// Crop length: the first `num_samples` samples, shorter clips repeated to length.
    pub num_samples: usize,
    /// RawBoost algorithm number (0–8) for the augmented path.
    pub rawboost_algo: i64,
    /// RawBoost parameters (reference defaults when omitted).
    pub rawboost: RawBoostParams,
    /// Use at most this many dev clips (0 = all); a quick check on big corpora.
    pub max_dev_clips: usize,
    /// Use at most this many eval clips (0 = all); 0 eval clips is allowed with `score_eval = false`.
    pub max_eval_clips: usize,
    /// Score the eval split with the averaged model at the end.
    pub score_eval: bool,
}

impl Default for RawData {
    fn default() -> Self {
        Self {
            corpus: "demo".into(),
            demo_size: "default".into(),
            demo_seed: crate::data::demo::DEFAULT_SEED,
            root: None,
            train_csv: None,
            dev_csv: None,
            eval_csv: None,
            num_samples: 66_800,
            rawboost_algo: 4,
            rawboost: RawBoostParams::default(),
            max_dev_clips: 0,
            max_eval_clips: 0,
            score_eval: true,
        }
    }
}

/// `[model]`: registry name and model-specific options (passed through to the registry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawModel {
    pub name: String,
    pub options: toml::Table,
}

impl Default for RawModel {
    fn default() -> Self {
        Self {
            name: "lcnn".into(),
            options: toml::Table::new(),
        }
    }
}

/// `[train]`: the training scheme and the loop's bookkeeping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTrain {
    /// `plain`, `augmented` or `dual`.
    pub mode: String,
    /// `joint` (one forward over both paths) or `separate` (one forward per path).
    pub layout: String,
    /// One of [`AlignMethod::NAMES`]: `none`, `pcgrad`, `gradvac`, `cagrad`, `mgda`, `imtl-g`,
    /// `nash-mtl`, `aligned-mtl`, `config`, `famo` or `cosine-gated`.
    pub align: String,
    /// Clips per path per step.
    pub batch_size: usize,
    pub epochs: usize,
    /// Stop when the dev loss has not improved for this many epochs.
    pub patience: usize,
    /// Keep (and finally average) the k best checkpoints by dev loss.
    pub keep_best: usize,
    pub seed: u64,
    /// Stop after this many optimizer steps in total (0 = no limit).
    pub max_steps: u64,
    /// Per-layer gradient cosine every K steps (0 = never).
    pub per_layer_cos_every: u64,
    /// Cross-entropy class weights `[spoof, bona fide]`.
    pub class_weights: [f64; 2],
    /// Clip the combined gradient to this global L2 norm (0 = no clipping).
    pub clip_grad_norm: f64,
    /// Dev/eval forward batch size (0 = twice `batch_size`).
    pub eval_batch_size: usize,
    /// Which dev loss picks the best epoch, stops early and ranks the checkpoints to average:
    /// `weighted` (default: one class-weighted mean over the dev set) or `reference` (dpda_ga's:
    /// the mean over unshuffled dev batches of 8 of each batch's class-weighted mean).
    pub dev_loss: String,
    /// How the kept checkpoints are averaged: `uniform` (default: each with weight 1/k) or
    /// `reference` (dpda_ga's aliasing bug: (2·b₁ + b₂ + … + b_{k−1})/k, the best one dropped).
    pub averaging: String,
    /// CAGrad's weight solver: `exact` (default: the exact minimiser) or `reference` (scipy's
    /// SLSQP as dpda_ga calls it, which leaves the weight at ½ for small gradients). Only read
    /// with `align = "cagrad"`.
    pub cagrad_solver: String,
    /// GradVac's parameter groups: `whole` (default), `layer` or `tensor`. Only read with
    /// `align = "gradvac"`.
    pub gradvac_granularity: String,
    /// FAMO's learning rate of its task logits (default 0.025). Only read with `align = "famo"`.
    pub famo_lr: f64,
    /// Also save `checkpoints/last` every this many steps within an epoch (0 = only at epoch
    /// ends, on a stop and on an interruption).
    pub checkpoint_every_steps: u64,
    /// Also save `checkpoints/last` when this many minutes have passed since the last save
    /// (0 = never by time). A run killed outright then loses at most this much work.
    pub checkpoint_every_minutes: f64,
    /// K-path training (`mode = "dual"` only): the clean path first, then each augmentation
    /// pipeline, every one named. Empty = the two paths of the paper: `clean` and `rawboost` (the
    /// `[data]` RawBoost settings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<RawPath>,
}

/// One `[[train.paths]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPath {
    /// 1–32 characters of `A–Z a–z 0–9 - _ . +`, unique within the run.
    pub name: String,
    /// A chain file (`[[stages]]`, as `dpda augment --chain` reads), relative to the working
    /// directory as `data.root` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<PathBuf>,
    /// The chain's stages inline. A path after the first with neither `chain` nor `stages` is
    /// RawBoost with the `[data]` settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSpec>,
}

impl Default for RawTrain {
    fn default() -> Self {
        Self {
            mode: "dual".into(),
            layout: "joint".into(),
            align: "none".into(),
            batch_size: 5,
            epochs: 100,
            patience: 7,
            keep_best: 5,
            seed: 1234,
            max_steps: 0,
            per_layer_cos_every: 0,
            class_weights: [0.1, 0.9],
            clip_grad_norm: 0.0,
            eval_batch_size: 0,
            dev_loss: "weighted".into(),
            averaging: "uniform".into(),
            cagrad_solver: "exact".into(),
            gradvac_granularity: "whole".into(),
            famo_lr: 0.025,
            checkpoint_every_steps: 0,
            checkpoint_every_minutes: 10.0,
            paths: Vec::new(),
        }
    }
}

/// `[optim]`: the base optimizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOptim {
    /// `adam` (L2 weight decay added to the gradient, as PyTorch's Adam), `adamw` or `sgd`.
    pub name: String,
    pub lr: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// SGD momentum.
    pub momentum: f64,
}

impl Default for RawOptim {
    fn default() -> Self {
        Self {
            name: "adam".into(),
            lr: 1e-6,
            weight_decay: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            momentum: 0.0,
        }
    }
}

/// `[schedule]`: learning-rate schedule over optimizer steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSchedule {
    /// `constant` or `cosine`.
    pub name: String,
    /// Linear warm-up steps from 0 to `lr`.
    pub warmup_steps: u64,
    /// Cosine floor as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Warm-up starts at this fraction of `lr` (PyTorch `LinearLR`'s `start_factor`).
    pub warmup_start_factor: f64,
}

impl Default for RawSchedule {
    fn default() -> Self {
        Self {
            name: "constant".into(),
            warmup_steps: 0,
            min_lr_ratio: 0.0,
            warmup_start_factor: 1.0 / 3.0,
        }
    }
}

/// `[sam]`: sharpness-aware minimisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSam {
    pub enabled: bool,
    pub rho: f64,
    /// ASAM: ε scaled element-wise by |w|.
    pub adaptive: bool,
    /// Measure m-sharpness on the dev set after each epoch.
    pub m_sharpness: bool,
    /// ASAM's η: ε is scaled by `|w| + η` (Kwon et al. 2021). Default 0.01, the ASAM paper's
    /// value, so that weights at 0 can still move; 0 reproduces SAM-AntiSpoofing, whose ASAM
    /// scales by `|w|` alone.
    pub eta: f64,
}

impl Default for RawSam {
    fn default() -> Self {
        Self {
            enabled: false,
            rho: 0.05,
            adaptive: false,
            m_sharpness: false,
            eta: 0.01,
        }
    }
}

/// `[device]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDevice {
    /// `cpu`, `cuda` (fails without a usable GPU) or `auto` (the GPU when usable, else the CPU).
    pub kind: String,
    pub cuda_ordinal: usize,
}

impl Default for RawDevice {
    fn default() -> Self {
        Self {
            kind: "cpu".into(),
            cuda_ordinal: 0,
        }
    }
}

/// The whole file as written, before checking.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub data: RawData,
    pub model: RawModel,
    pub train: RawTrain,
    pub optim: RawOptim,
    pub schedule: RawSchedule,
    pub sam: RawSam,
    pub device: RawDevice,
    /// `[[test]]`: test sets evaluated when the run ends (and by `dpda test`).
    #[serde(rename = "test", skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<RawTestSet>,
}

/// One `[[test]]` entry as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTestSet {
    /// Short name: the run's score file is `scores-<name>.txt`.
    pub name: String,
    /// `la2019`, `la2021`, `df2021`, `itw`, `for` or `csv`.
    pub kind: String,
    /// The dataset folder (ASVspoof root, In-the-Wild folder, FoR root or split folder).
    pub root: PathBuf,
    /// The key file: required for `la2021`/`df2021` (`trial_metadata.txt`) and `csv`; for `itw`
    /// defaults to `<root>/meta.csv`; for `for`, a `file,label` key (dpda_ga's) with names under
    /// `root` = the split folder, else `root/testing/{real,fake}` is scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// 2021 keys: the evaluation subset (`eval` by default, as the official package; `progress`,
    /// `hidden_track`, or `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    /// ASV scores for the min t-DCF (LA sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asv_scores: Option<PathBuf>,
    /// 2021 trial list (e.g. `ASVspoof2021.DF.cm.eval.trl.txt`): only these trials are scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<PathBuf>,
}

/// The corpus layout of a test set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestKind {
    La2019,
    La2021,
    Df2021,
    InTheWild,
    For,
    Csv,
}

impl TestKind {
    /// Every kind as written in a configuration.
    pub const NAMES: [&'static str; 6] = ["la2019", "la2021", "df2021", "itw", "for", "csv"];

    /// The name as written in a configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::La2019 => "la2019",
            TestKind::La2021 => "la2021",
            TestKind::Df2021 => "df2021",
            TestKind::InTheWild => "itw",
            TestKind::For => "for",
            TestKind::Csv => "csv",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "la2019" => TestKind::La2019,
            "la2021" => TestKind::La2021,
            "df2021" => TestKind::Df2021,
            "itw" => TestKind::InTheWild,
            "for" => TestKind::For,
            "csv" => TestKind::Csv,
            _ => return None,
        })
    }
}

/// A checked `[[test]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct TestSetPlan {
    pub name: String,
    pub kind: TestKind,
    pub root: PathBuf,
    pub key: Option<PathBuf>,
    pub subset: Option<String>,
    pub asv_scores: Option<PathBuf>,
    pub trials: Option<PathBuf>,
}

/// Check the `[[test]]` entries: known kinds, names usable in file names and unique, the keys
/// each kind needs. Paths are checked when a run starts (`inference::testsets::check_paths`).
pub fn plan_test_sets(raw: &[RawTestSet]) -> Result<Vec<TestSetPlan>, ConfigError> {
    let mut seen = std::collections::HashSet::new();
    let mut plans = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let at = |field: &str| format!("test[{i}].{field}");
        let name_ok = !t.name.is_empty()
            && t.name.len() <= 64
            && t.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !t.name.starts_with('.');
        if !name_ok {
            return Err(invalid(
                at("name"),
                format!(
                    "'{}' must be 1–64 letters, digits, '-', '_' or '.' (it names scores-<name>.txt)",
                    t.name
                ),
            ));
        }
        if t.name == "eval" {
            return Err(invalid(
                at("name"),
                "'eval' names the corpus's own eval split (scores-eval.txt); choose another",
            ));
        }
        if t.name == crate::data::demo::WILD_NAME {
            return Err(invalid(
                at("name"),
                "'wild' names the demo corpus's wild split (scores-wild.txt); choose another",
            ));
        }
        if !seen.insert(t.name.clone()) {
            return Err(invalid(at("name"), format!("'{}' is used twice", t.name)));
        }
        let kind = TestKind::parse(&t.kind).ok_or_else(|| {
            invalid(
                at("kind"),
                format!(
                    "unknown kind '{}' (known: {})",
                    t.kind,
                    TestKind::NAMES.join(", ")
                ),
            )
        })?;
        if t.root.as_os_str().is_empty() {
            return Err(invalid(at("root"), "must name the dataset folder"));
        }
        let needs_key = matches!(kind, TestKind::La2021 | TestKind::Df2021);
        if needs_key && t.key.is_none() {
            return Err(invalid(
                at("key"),
                format!("a '{}' set needs its key file (trial_metadata.txt)", t.kind),
            ));
        }
        if t.subset.is_some() && !needs_key {
            return Err(invalid(
                at("subset"),
                "only 2021 keys have evaluation subsets",
            ));
        }
        if let Some(s) = &t.subset {
            if !["eval", "progress", "hidden_track", "all"].contains(&s.as_str()) {
                return Err(invalid(
                    at("subset"),
                    format!("'{s}' is not one of eval, progress, hidden_track, all"),
                ));
            }
        }
        if t.trials.is_some() && !needs_key {
            return Err(invalid(at("trials"), "only 2021 sets take a trial list"));
        }
        plans.push(TestSetPlan {
            name: t.name.clone(),
            kind,
            root: t.root.clone(),
            key: t.key.clone(),
            subset: t.subset.clone(),
            asv_scores: t.asv_scores.clone(),
            trials: t.trials.clone(),
        });
    }
    Ok(plans)
}

/// Where the clips come from.
#[derive(Clone, Debug, PartialEq)]
pub enum CorpusPlan {
    /// The built-in synthetic corpus, rendered in memory.
    Demo { size: DemoSize, seed: u64 },
    /// ASVspoof 2019 LA under `root`.
    Asvspoof2019La { root: PathBuf },
    /// CSV lists.
    Csv {
        train: PathBuf,
        dev: PathBuf,
        eval: Option<PathBuf>,
    },
}

/// Which paths a step uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainMode {
    /// Original clips only.
    Plain,
    /// Each clip replaced by its RawBoost version.
    Augmented,
    /// Both paths, one gradient each, combined by an aligner.
    Dual,
}

/// How the dual path runs its forward passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// One forward over the concatenated 2B batch (BatchNorm normalises both paths together, as
    /// the reference does), two backward passes.
    Joint,
    /// One forward and one backward per path (BatchNorm sees each path alone and updates its
    /// running statistics twice per step).
    Separate,
}

/// Validated optimizer settings: the base learning rate and the optimizer itself.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimPlan {
    pub lr: f64,
    pub config: OptimizerConfig,
}

/// Validated SAM settings (present only when enabled).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamPlan {
    pub rho: f64,
    pub adaptive: bool,
    pub m_sharpness: bool,
    /// ASAM's η (unused by plain SAM).
    pub eta: f64,
}

/// Compute device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    /// This GPU or an error: for runs that would be hopeless on a CPU.
    Cuda {
        ordinal: usize,
    },
    /// This GPU when one is usable, else the CPU with a notice saying why.
    Auto {
        ordinal: usize,
    },
}

/// Validated data settings.
#[derive(Clone, Debug, PartialEq)]
pub struct DataPlan {
    pub corpus: CorpusPlan,
    pub num_samples: usize,
    pub rawboost_algo: RawBoostAlgo,
    pub rawboost: RawBoostParams,
    pub max_dev_clips: usize,
    pub max_eval_clips: usize,
    pub score_eval: bool,
}

/// Validated model choice: the architecture and the options that apply to it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPlan {
    pub kind: ModelKind,
    pub options: ModelOptions,
}

/// Validated training-loop settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainPlan {
    pub mode: TrainMode,
    pub layout: Layout,
    pub align: AlignMethod,
    pub batch_size: usize,
    pub epochs: usize,
    pub patience: usize,
    pub keep_best: usize,
    pub seed: u64,
    pub max_steps: Option<u64>,
    pub per_layer_cos_every: Option<u64>,
    /// Save `last` every this many steps within an epoch.
    pub checkpoint_every_steps: Option<u64>,
    /// Save `last` when this much time has passed since the last save.
    pub checkpoint_every: Option<std::time::Duration>,
    pub class_weights: [f64; 2],
    pub clip_grad_norm: Option<f64>,
    pub eval_batch_size: usize,
    /// The dev loss that decides the best epoch, early stopping and the averaged checkpoints.
    pub dev_loss: DevLoss,
    /// How the kept checkpoints are averaged into the final model.
    pub averaging: Averaging,
    /// The paths a step trains on, in order: `[clean]` for plain, `[rawboost]` for augmented,
    /// the clean path and K ≥ 1 augmentation pipelines for dual.
    pub paths: Vec<PathPlan>,
}

/// Most paths (clean included) a dual run may have: each costs a forward and a backward pass.
pub const MAX_PATHS: usize = 8;

/// What makes one path's input from a clip.
#[derive(Clone, Debug, PartialEq)]
pub enum PathSource {
    /// The clip itself.
    Clean,
    /// RawBoost with the `[data]` algorithm and parameters.
    RawBoost,
    /// An augmentation chain.
    Chain(ChainSpec),
}

/// One validated path of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct PathPlan {
    pub name: String,
    pub source: PathSource,
}

impl PathPlan {
    fn new(name: &str, source: PathSource) -> Self {
        PathPlan {
            name: name.to_string(),
            source,
        }
    }
}

fn check_path_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("'{name}' is not a path name (1–32 characters of A–Z a–z 0–9 - _ . +)"),
        ))
    }
}

/// The paths of a run from `train.mode` and `train.paths` (see [`RawTrain::paths`]).
fn plan_paths(
    mode: TrainMode,
    mode_name: &str,
    raw: &[RawPath],
) -> Result<Vec<PathPlan>, ConfigError> {
    if raw.is_empty() {
        return Ok(match mode {
            TrainMode::Plain => vec![PathPlan::new("clean", PathSource::Clean)],
            TrainMode::Augmented => vec![PathPlan::new("rawboost", PathSource::RawBoost)],
            TrainMode::Dual => vec![
                PathPlan::new("clean", PathSource::Clean),
                PathPlan::new("rawboost", PathSource::RawBoost),
            ],
        });
    }
    if mode != TrainMode::Dual {
        return Err(invalid(
            "train.paths",
            format!("paths need train.mode = \"dual\" (mode is \"{mode_name}\")"),
        ));
    }
    if !(2..=MAX_PATHS).contains(&raw.len()) {
        return Err(invalid(
            "train.paths",
            format!(
                "{} paths listed; a dual run has the clean path and 1 to {} augmented ones",
                raw.len(),
                MAX_PATHS - 1
            ),
        ));
    }
    let mut plans: Vec<PathPlan> = Vec::with_capacity(raw.len());
    for (k, p) in raw.iter().enumerate() {
        let key = format!("train.paths[{k}]");
        check_path_name(&format!("{key}.name"), &p.name)?;
        if let Some(first) = plans.iter().position(|q| q.name == p.name) {
            return Err(invalid(
                format!("{key}.name"),
                format!("'{}' is also the name of train.paths[{first}]", p.name),
            ));
        }
        let source = if k == 0 {
            if p.chain.is_some() || !p.stages.is_empty() {
                return Err(invalid(
                    key,
                    format!(
                        "the first path ('{}') is the clean one: it takes no chain or stages",
                        p.name
                    ),
                ));
            }
            PathSource::Clean
        } else {
            match (&p.chain, p.stages.is_empty()) {
                (Some(_), false) => {
                    return Err(invalid(
                        key,
                        format!("path '{}' has both chain and stages: give one", p.name),
                    ))
                }
                (Some(file), true) => {
                    let chain = read_chain(file).map_err(|m| invalid(format!("{key}.chain"), m))?;
                    chain.validate().map_err(|e| {
                        invalid(format!("{key}.chain"), format!("{}: {e}", file.display()))
                    })?;
                    PathSource::Chain(chain)
                }
                (None, false) => {
                    let chain = ChainSpec {
                        stages: p.stages.clone(),
                    };
                    chain
                        .validate()
                        .map_err(|e| invalid(format!("{key}.stages"), e.to_string()))?;
                    PathSource::Chain(chain)
                }
                (None, true) => PathSource::RawBoost,
            }
        };
        plans.push(PathPlan::new(&p.name, source));
    }
    Ok(plans)
}

/// A chain file's stages; the message names the file.
fn read_chain(file: &Path) -> Result<ChainSpec, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// Everything a run needs, checked once.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub data: DataPlan,
    pub model: ModelPlan,
    pub train: TrainPlan,
    pub optim: OptimPlan,
    pub schedule: ScheduleConfig,
    pub sam: Option<SamPlan>,
    pub device: DeviceKind,
    /// Test sets evaluated when the run ends.
    pub tests: Vec<TestSetPlan>,
    /// The resolved configuration as TOML (written to the run folder).
    pub resolved_toml: String,
}

/// Read `path`, apply `overrides` (`key.path=value`), parse and validate.
pub fn load_plan(path: &Path, overrides: &[String]) -> Result<Plan, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    plan_from_str(&text, &path.display().to_string(), overrides)
}

/// Parse TOML `text` (named `origin` in errors), apply `overrides` and validate.
pub fn plan_from_str(text: &str, origin: &str, overrides: &[String]) -> Result<Plan, ConfigError> {
    // The file alone first, so that its errors carry its own line numbers.
    let raw = parse_raw(text, origin)?;
    let raw = if overrides.is_empty() {
        raw
    } else {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        for assignment in overrides {
            apply_override(&mut doc, assignment)?;
        }
        let text = toml::to_string(&doc).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        // The file parsed, so an error now comes from an override: name them, not a line of the
        // re-serialised document (which the user never saw).
        toml::from_str(&text).map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: format!("{origin} with --set {}", overrides.join(" --set ")),
            message: e.message().to_string(),
        })?
    };
    raw.into_plan()
}

fn parse_raw(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        origin: origin.to_string(),
        message: e.to_string(),
    })
}

/// Set `a.b.c=value` in a TOML document; `value` is read as TOML (`0.5`, `true`, `"x"`,
/// `[0.1, 0.9]`) and otherwise taken as a bare string.
pub fn apply_override(doc: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let fail = |message: &str| ConfigError::Override {
        assignment: assignment.to_string(),
        message: message.to_string(),
    };
    let (key, value_text) = assignment
        .split_once('=')
        .ok_or_else(|| fail("expected key=value"))?;
    let parts: Vec<&str> = key.trim().split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(fail("empty key segment"));
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {}", value_text.trim())) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(value_text.trim().to_string())),
        Err(_) => toml::Value::String(value_text.trim().to_string()),
    };
    let (last, parents) = parts.split_last().ok_or_else(|| fail("empty key"))?;
    let mut table = doc;
    for part in parents {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(fail(&format!("'{part}' is not a table"))),
        };
    }
    table.insert(last.to_string(), value);
    Ok(())
}

fn check_positive(key: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}

fn check_non_negative(key: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("must be a finite number ≥ 0, got {value}"),
        ))
    }
}

fn one_of<T: Copy>(
    key: &'static str,
    value: &str,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value.trim()))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            invalid(
                key,
                format!(
                    "unknown value '{value}' (expected one of {})",
                    names.join(", ")
                ),
            )
        })
}

impl RawConfig {
    /// Check every field and build the [`Plan`].
    pub fn into_plan(self) -> Result<Plan, ConfigError> {
        let resolved_toml = toml::to_string(&self).map_err(|e| ConfigError::Parse {
            origin: "resolved configuration".into(),
            message: e.to_string(),
        })?;
        let d = self.data;
        let corpus = match d.corpus.trim().to_ascii_lowercase().as_str() {
            "demo" => CorpusPlan::Demo {
                size: d
                    .demo_size
                    .parse()
                    .map_err(|m: String| invalid("data.demo_size", m))?,
                seed: d.demo_seed,
            },
            "asvspoof2019-la" => CorpusPlan::Asvspoof2019La {
                root: d.root.clone().ok_or_else(|| {
                    invalid(
                        "data.root",
                        "required when data.corpus = \"asvspoof2019-la\"",
                    )
                })?,
            },
            "csv" => CorpusPlan::Csv {
                train: d.train_csv.clone().ok_or_else(|| {
                    invalid("data.train_csv", "required when data.corpus = \"csv\"")
                })?,
                dev: d.dev_csv.clone().ok_or_else(|| {
                    invalid("data.dev_csv", "required when data.corpus = \"csv\"")
                })?,
                eval: d.eval_csv.clone(),
            },
            other => {
                return Err(invalid(
                    "data.corpus",
                    format!("unknown corpus '{other}' (expected demo, asvspoof2019-la or csv)"),
                ))
            }
        };
        if d.num_samples == 0 || d.num_samples > MAX_NUM_SAMPLES {
            return Err(invalid(
                "data.num_samples",
                format!(
                    "{} is outside 1..={MAX_NUM_SAMPLES} (60 s at 16 kHz; every clip of a batch \
                     is this long)",
                    d.num_samples
                ),
            ));
        }
        let rawboost_algo = RawBoostAlgo::from_number(d.rawboost_algo)
            .map_err(|e| invalid("data.rawboost_algo", e.to_string()))?;
        d.rawboost
            .validate_for_rate(16_000)
            .map_err(|e| invalid("data.rawboost", e.to_string()))?;
        let data = DataPlan {
            corpus,
            num_samples: d.num_samples,
            rawboost_algo,
            rawboost: d.rawboost,
            max_dev_clips: d.max_dev_clips,
            max_eval_clips: d.max_eval_clips,
            score_eval: d.score_eval,
        };

        if self.model.name.trim().is_empty() {
            return Err(invalid("model.name", "must not be empty"));
        }
        let kind: ModelKind = self
            .model
            .name
            .trim()
            .parse()
            .map_err(|e: NnError| invalid("model.name", e.to_string()))?;
        let options = ModelOptions::from_table(&self.model.options)
            .and_then(|options| kind.check_options(&options).map(|()| options))
            .map_err(|e| invalid("model.options", e.to_string()))?;
        let model = ModelPlan { kind, options };

        let t = self.train;
        // At most a week: beyond it the setting means "never", which 0 says.
        if !(0.0..=10_080.0).contains(&t.checkpoint_every_minutes) {
            return Err(invalid(
                "train.checkpoint_every_minutes",
                format!(
                    "{} is outside 0..=10080 (0: only at epoch ends)",
                    t.checkpoint_every_minutes
                ),
            ));
        }
        let mode = one_of(
            "train.mode",
            &t.mode,
            &[
                ("plain", TrainMode::Plain),
                ("augmented", TrainMode::Augmented),
                ("dual", TrainMode::Dual),
            ],
        )?;
        let layout = one_of(
            "train.layout",
            &t.layout,
            &[("joint", Layout::Joint), ("separate", Layout::Separate)],
        )?;
        let align: AlignMethod =
            t.align.trim().to_ascii_lowercase().parse().map_err(
                |e: super::align::UnknownAlignMethod| invalid("train.align", e.to_string()),
            )?;
        if mode != TrainMode::Dual && align != AlignMethod::None {
            return Err(invalid(
                "train.align",
                format!(
                    "alignment needs train.mode = \"dual\" (mode is \"{}\")",
                    t.mode
                ),
            ));
        }
        if t.batch_size == 0 {
            return Err(invalid("train.batch_size", "must be ≥ 1"));
        }
        if t.epochs == 0 {
            return Err(invalid("train.epochs", "must be ≥ 1"));
        }
        if t.patience == 0 {
            return Err(invalid("train.patience", "must be ≥ 1"));
        }
        if t.keep_best == 0 {
            return Err(invalid("train.keep_best", "must be ≥ 1"));
        }
        for w in t.class_weights {
            check_non_negative("train.class_weights", w)?;
        }
        if t.class_weights.iter().sum::<f64>() <= 0.0 {
            return Err(invalid("train.class_weights", "must not both be 0"));
        }
        check_non_negative("train.clip_grad_norm", t.clip_grad_norm)?;
        // The reference-exact switches (README, "Reference-exact switches").
        let cagrad_solver = one_of(
            "train.cagrad_solver",
            &t.cagrad_solver,
            &[
                ("exact", CaGradSolver::Exact),
                ("reference", CaGradSolver::Reference),
            ],
        )?;
        let gradvac_granularity = one_of(
            "train.gradvac_granularity",
            &t.gradvac_granularity,
            &[
                ("whole", GradVacGranularity::Whole),
                ("layer", GradVacGranularity::Layer),
                ("tensor", GradVacGranularity::Tensor),
            ],
        )?;
        if !(t.famo_lr.is_finite() && t.famo_lr > 0.0) {
            return Err(invalid(
                "train.famo_lr",
                format!("must be a positive number (got {})", t.famo_lr),
            ));
        }
        let align = match align {
            AlignMethod::CaGrad { c, .. } => AlignMethod::CaGrad {
                c,
                solver: cagrad_solver,
            },
            AlignMethod::GradVac { beta, .. } => AlignMethod::GradVac {
                beta,
                granularity: gradvac_granularity,
            },
            AlignMethod::Famo { gamma, .. } => AlignMethod::Famo {
                lr: t.famo_lr,
                gamma,
            },
            other => other,
        };
        let dev_loss = one_of(
            "train.dev_loss",
            &t.dev_loss,
            &[
                ("weighted", DevLoss::Weighted),
                ("reference", DevLoss::Reference),
            ],
        )?;
        if dev_loss == DevLoss::Reference && t.class_weights.iter().any(|&w| w <= 0.0) {
            return Err(invalid(
                "train.dev_loss",
                "\"reference\" averages per-batch weighted means and needs both \
                 train.class_weights > 0 (a batch of one class would have no weight)",
            ));
        }
        let averaging = one_of(
            "train.averaging",
            &t.averaging,
            &[
                ("uniform", Averaging::Uniform),
                ("reference", Averaging::Reference),
            ],
        )?;
        let train = TrainPlan {
            mode,
            layout,
            align,
            batch_size: t.batch_size,
            epochs: t.epochs,
            patience: t.patience,
            keep_best: t.keep_best,
            seed: t.seed,
            max_steps: (t.max_steps > 0).then_some(t.max_steps),
            per_layer_cos_every: (t.per_layer_cos_every > 0).then_some(t.per_layer_cos_every),
            checkpoint_every_steps: (t.checkpoint_every_steps > 0)
                .then_some(t.checkpoint_every_steps),
            checkpoint_every: (t.checkpoint_every_minutes > 0.0)
                .then(|| std::time::Duration::from_secs_f64(t.checkpoint_every_minutes * 60.0)),
            class_weights: t.class_weights,
            clip_grad_norm: (t.clip_grad_norm > 0.0).then_some(t.clip_grad_norm),
            eval_batch_size: if t.eval_batch_size == 0 {
                2 * t.batch_size
            } else {
                t.eval_batch_size
            },
            dev_loss,
            averaging,
            paths: plan_paths(mode, &t.mode, &t.paths)?,
        };

        let o = self.optim;
        let kind = one_of(
            "optim.name",
            &o.name,
            &[
                ("adam", OptimizerKind::Adam),
                ("adamw", OptimizerKind::AdamW),
                ("sgd", OptimizerKind::Sgd),
            ],
        )?;
        check_positive("optim.lr", o.lr)?;
        let is_sgd = kind == OptimizerKind::Sgd;
        let config = OptimizerConfig {
            kind,
            weight_decay: Some(o.weight_decay),
            beta1: (!is_sgd).then_some(o.beta1),
            beta2: (!is_sgd).then_some(o.beta2),
            eps: (!is_sgd).then_some(o.eps),
            momentum: is_sgd.then_some(o.momentum),
            nesterov: None,
            max_grad_norm: (t.clip_grad_norm > 0.0).then_some(t.clip_grad_norm),
        };
        config.build().map_err(|e| match e {
            super::optim::OptimError::InvalidConfig { field, message } => {
                let key = if field == "max_grad_norm" {
                    "train.clip_grad_norm".to_string()
                } else {
                    format!("optim.{field}")
                };
                invalid(key, message)
            }
            other => invalid("optim", other.to_string()),
        })?;
        let optim = OptimPlan { lr: o.lr, config };

        let s = self.schedule;
        if !(0.0..=1.0).contains(&s.min_lr_ratio) {
            return Err(invalid(
                "schedule.min_lr_ratio",
                format!("must be in [0, 1], got {}", s.min_lr_ratio),
            ));
        }
        if !(s.warmup_start_factor > 0.0 && s.warmup_start_factor <= 1.0) {
            return Err(invalid(
                "schedule.warmup_start_factor",
                format!("must be in (0, 1], got {}", s.warmup_start_factor),
            ));
        }
        let schedule = match one_of(
            "schedule.name",
            &s.name,
            &[("constant", false), ("cosine", true)],
        )? {
            false => ScheduleConfig::Constant {
                warmup_steps: s.warmup_steps,
                warmup_start_factor: s.warmup_start_factor,
            },
            true => ScheduleConfig::Cosine {
                eta_min: o.lr * s.min_lr_ratio,
                warmup_steps: s.warmup_steps,
                warmup_start_factor: s.warmup_start_factor,
            },
        };

        let sam = if self.sam.enabled {
            check_positive("sam.rho", self.sam.rho)?;
            check_non_negative("sam.eta", self.sam.eta)?;
            Some(SamPlan {
                rho: self.sam.rho,
                adaptive: self.sam.adaptive,
                m_sharpness: self.sam.m_sharpness,
                eta: self.sam.eta,
            })
        } else {
            if self.sam.m_sharpness {
                return Err(invalid("sam.m_sharpness", "needs sam.enabled = true"));
            }
            None
        };

        let ordinal = self.device.cuda_ordinal;
        let device = one_of(
            "device.kind",
            &self.device.kind,
            &[
                ("cpu", DeviceKind::Cpu),
                ("cuda", DeviceKind::Cuda { ordinal }),
                ("auto", DeviceKind::Auto { ordinal }),
            ],
        )?;
        let tests = plan_test_sets(&self.tests)?;

        Ok(Plan {
            data,
            model,
            train,
            optim,
            schedule,
            sam,
            device,
            tests,
            resolved_toml,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_paper_defaults() {
        let plan = plan_from_str("", "test", &[]).unwrap();
        assert_eq!(plan.data.num_samples, 66_800);
        assert_eq!(plan.train.class_weights, [0.1, 0.9]);
        assert_eq!(plan.train.batch_size, 5);
        assert_eq!(plan.train.patience, 7);
        assert_eq!(plan.train.keep_best, 5);
        assert_eq!(plan.data.rawboost_algo, RawBoostAlgo::LnlIsdSsi);
        assert_eq!(plan.optim.config.kind, OptimizerKind::Adam);
        assert_eq!(plan.optim.config.weight_decay, Some(1e-4));
    }

    #[test]
    fn overrides_reach_nested_keys_and_are_validated() {
        let plan = plan_from_str(
            "[train]\nbatch_size = 3\n",
            "test",
            &["train.batch_size=7".into(), "train.align=pcgrad".into()],
        )
        .unwrap();
        assert_eq!(plan.train.batch_size, 7);
        assert_eq!(plan.train.align, AlignMethod::PcGrad);
        assert!(plan.resolved_toml.contains("batch_size = 7"));
        let err = plan_from_str("", "test", &["train.batch_size=0".into()]).unwrap_err();
        assert_eq!(err.to_string(), "train.batch_size: must be ≥ 1");
        let err = plan_from_str("", "test", &["train.bogus=1".into()]).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn unknown_keys_and_values_name_the_key() {
        let err = plan_from_str("[train]\nbatchsize = 3\n", "cfg.toml", &[]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cfg.toml") && text.contains("batchsize"),
            "{text}"
        );
        let err = plan_from_str("[train]\nmode = \"triple\"\n", "cfg.toml", &[]).unwrap_err();
        assert!(err.to_string().starts_with("train.mode:"), "{err}");
        let err = plan_from_str("[optim]\nlr = -1.0\n", "cfg.toml", &[]).unwrap_err();
        assert!(err.to_string().starts_with("optim.lr:"), "{err}");
        let err =
            plan_from_str("[train]\nmode = \"plain\"\nalign = \"pcgrad\"\n", "c", &[]).unwrap_err();
        assert!(err.to_string().starts_with("train.align:"), "{err}");
    }

    #[test]
    fn reference_switches_default_to_ours_and_parse() {
        let plan = plan_from_str("[train]\nalign = \"cagrad\"\n", "test", &[]).unwrap();
        assert_eq!(plan.train.dev_loss, DevLoss::Weighted);
        assert_eq!(plan.train.averaging, Averaging::Uniform);
        assert_eq!(
            plan.train.align,
            AlignMethod::CaGrad {
                c: 0.5,
                solver: CaGradSolver::Exact
            }
        );
        let sam = plan_from_str("[sam]\nenabled = true\nadaptive = true\n", "test", &[])
            .unwrap()
            .sam
            .unwrap();
        assert_eq!(sam.eta, 0.01);

        let text = "[train]\nalign = \"cagrad\"\ndev_loss = \"reference\"\n\
                    averaging = \"reference\"\ncagrad_solver = \"reference\"\n\
                    [sam]\nenabled = true\nadaptive = true\neta = 0.0\n";
        let plan = plan_from_str(text, "test", &[]).unwrap();
        assert_eq!(plan.train.dev_loss, DevLoss::Reference);
        assert_eq!(plan.train.averaging, Averaging::Reference);
        assert_eq!(
            plan.train.align,
            AlignMethod::CaGrad {
                c: 0.5,
                solver: CaGradSolver::Reference
            }
        );
        assert_eq!(plan.sam.map(|s| s.eta), Some(0.0));
        // The resolved configuration records the switches and reads back to the same plan.
        assert!(plan.resolved_toml.contains("cagrad_solver = \"reference\""));
        assert_eq!(
            plan_from_str(&plan.resolved_toml, "resolved", &[]).unwrap(),
            plan
        );
        // The solver is only read with CAGrad.
        let plan = plan_from_str(
            "",
            "test",
            &[
                "train.align=pcgrad".into(),
                "train.cagrad_solver=reference".into(),
            ],
        )
        .unwrap();
        assert_eq!(plan.train.align, AlignMethod::PcGrad);
    }

    #[test]
    fn k_path_aligners_and_their_keys_parse() {
        let plan = plan_from_str(
            "[train]\nalign = \"gradvac\"\ngradvac_granularity = \"layer\"\n",
            "test",
            &[],
        )
        .unwrap();
        assert_eq!(
            plan.train.align,
            AlignMethod::GradVac {
                beta: 0.5,
                granularity: GradVacGranularity::Layer
            }
        );
        let plan =
            plan_from_str("[train]\nalign = \"famo\"\nfamo_lr = 0.1\n", "test", &[]).unwrap();
        assert_eq!(
            plan.train.align,
            AlignMethod::Famo {
                lr: 0.1,
                gamma: 1e-3
            }
        );
        for name in AlignMethod::NAMES {
            let plan =
                plan_from_str(&format!("[train]\nalign = \"{name}\"\n"), "test", &[]).unwrap();
            assert_eq!(plan.train.align.name(), name);
        }
        for (set, key) in [
            (
                "train.gradvac_granularity=\"module\"",
                "train.gradvac_granularity:",
            ),
            ("train.famo_lr=-1.0", "train.famo_lr:"),
            ("train.align=\"nash\"", "train.align:"),
        ] {
            let err = plan_from_str("", "test", &[set.to_string()])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(key), "{set} → {err}");
        }
    }

    #[test]
    fn invalid_reference_switches_name_their_field() {
        for (set, key) in [
            ("train.dev_loss=\"batched\"", "train.dev_loss:"),
            ("train.averaging=\"mean\"", "train.averaging:"),
            ("train.cagrad_solver=\"slsqp\"", "train.cagrad_solver:"),
        ] {
            let err = plan_from_str("", "test", &[set.to_string()])
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(key) && err.contains("reference"),
                "{set} → {err}"
            );
        }
        let err = plan_from_str(
            "[sam]\nenabled = true\nadaptive = true\neta = -0.1\n",
            "test",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("sam.eta:"), "{err}");
        let err = plan_from_str(
            "[train]\ndev_loss = \"reference\"\nclass_weights = [0.0, 1.0]\n",
            "test",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("train.dev_loss:"), "{err}");
        let err = plan_from_str("[sam]\neta_ = 0.0\n", "cfg.toml", &[]).unwrap_err();
        assert!(err.to_string().contains("eta_"), "{err}");
    }
}
