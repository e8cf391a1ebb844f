//! Augmentation chains: an ordered list of stages (RawBoost, additive noise, reverberation,
//! codecs, speed, pitch, band limits, gain, clipping), each applied with its own probability and
//! with parameters drawn per clip from `[low, high]` ranges.
//!
//! A chain is written as TOML (`[[stages]]` tables with `kind = "…"`) and parsed into a
//! [`ChainSpec`]; [`ChainSpec::validate`] checks every range without touching the disk (the
//! trainer calls it when it reads a config), and [`ChainSpec::prepare`] also reads the noise and
//! impulse-response folders once, giving a [`Chain`] that worker threads share. `dpda augment
//! --chain`, the Augment view and the trainer's augmentation paths all go through
//! [`Chain::apply`]; the Augment view's per-stage audition uses [`Chain::apply_stages`].
//!
//! The stages call the generators of [`crate::augment::conditions`] (the same noise, room,
//! G.711 and codec stand-in code the demo corpus's `wild` split is made with),
//! [`crate::augment::codecs`] (MP3, Vorbis and Opus round trips) and
//! [`crate::augment::rawboost`]; only speed, pitch, gain and the folder sources are new here.
//! Clips stay at their own sample rate. Draws come from the caller's [`Rng`], in stage order; a
//! stage with `p = 1` draws no coin, so a one-stage RawBoost chain reproduces [`rawboost`]
//! exactly.
//!
//! [`rawboost`]: crate::augment::rawboost()

mod bank;
mod pitch;
mod stages;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audio::AudioError;
use crate::augment::codecs::LossyCodec;
use crate::augment::{RawBoostAlgo, RawBoostError, RawBoostParams};
use crate::rng::Rng;

pub use pitch::wsola_stretch;

/// An augmentation chain as written in a chain file: stages applied in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    /// The stages, in the order they run.
    pub stages: Vec<StageSpec>,
}

fn p_one() -> f64 {
    1.0
}
fn default_snr_db() -> [f64; 2] {
    [5.0, 20.0]
}
fn default_num_talkers() -> [u32; 2] {
    [3, 6]
}
fn default_rt60_s() -> [f64; 2] {
    [0.2, 1.0]
}
fn default_drr_db() -> [f64; 2] {
    [-3.0, 10.0]
}
fn default_cutoff_hz() -> [f64; 2] {
    [4000.0, 7000.0]
}
fn default_mask_db() -> [f64; 2] {
    [25.0, 45.0]
}
fn default_step_db() -> [f64; 2] {
    [2.0, 6.0]
}
fn default_factor() -> [f64; 2] {
    [0.9, 1.1]
}
fn default_semitones() -> [f64; 2] {
    [-2.0, 2.0]
}
fn default_low_hz() -> [f64; 2] {
    [100.0, 300.0]
}
fn default_high_hz() -> [f64; 2] {
    [3400.0, 7000.0]
}
fn default_gain_db() -> [f64; 2] {
    [-6.0, 6.0]
}
fn default_threshold() -> [f64; 2] {
    [0.3, 0.9]
}

/// Where a noise stage's noise comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseSource {
    /// Flat-spectrum Gaussian noise.
    White,
    /// 1/f noise (−3 dB per octave).
    #[default]
    Pink,
    /// 1/f² noise (−6 dB per octave).
    Brown,
    /// Several talkers at once: the voices in `folder`, or synthetic voices without one.
    Babble,
    /// Recorded noise: a random excerpt of a random file of `folder`.
    Folder,
}

impl NoiseSource {
    /// Every source, in the order the Augment view lists them.
    pub const ALL: [NoiseSource; 5] = [
        NoiseSource::White,
        NoiseSource::Pink,
        NoiseSource::Brown,
        NoiseSource::Babble,
        NoiseSource::Folder,
    ];

    /// The name written in chain files.
    pub fn name(self) -> &'static str {
        match self {
            NoiseSource::White => "white",
            NoiseSource::Pink => "pink",
            NoiseSource::Brown => "brown",
            NoiseSource::Babble => "babble",
            NoiseSource::Folder => "folder",
        }
    }
}

/// Where a reverb stage's room comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReverbSource {
    /// A simulated room (the `wild` split's model) with a drawn RT60.
    #[default]
    Simulated,
    /// A recorded impulse response: a random file of `folder`.
    Folder,
}

/// Which codec a codec stage applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodecKind {
    /// G.711 μ-law at 8 kHz and back.
    #[default]
    Mulaw,
    /// G.711 A-law at 8 kHz and back.
    Alaw,
    /// The band-limit-and-quantise stand-in for low-rate lossy codecs.
    LossySim,
    /// MP3 through LAME at a drawn constant bit rate (the `codecs` feature).
    Mp3,
    /// Ogg Vorbis at a drawn average bit rate (the `codecs` feature).
    Vorbis,
    /// Opus at a drawn constant bit rate (the `codecs` feature).
    Opus,
}

impl CodecKind {
    /// Every codec, in the order the Augment view lists them.
    pub const ALL: [CodecKind; 6] = [
        CodecKind::Mulaw,
        CodecKind::Alaw,
        CodecKind::LossySim,
        CodecKind::Mp3,
        CodecKind::Vorbis,
        CodecKind::Opus,
    ];

    /// The name written in chain files.
    pub fn name(self) -> &'static str {
        match self {
            CodecKind::Mulaw => "mulaw",
            CodecKind::Alaw => "alaw",
            CodecKind::LossySim => "lossy-sim",
            CodecKind::Mp3 => "mp3",
            CodecKind::Vorbis => "vorbis",
            CodecKind::Opus => "opus",
        }
    }

    /// The real lossy codec this is, if it is one.
    pub fn lossy(self) -> Option<LossyCodec> {
        LossyCodec::from_name(self.name())
    }

    /// The bit rates drawn when a stage names none (kbit/s): the low-to-middle rates of
    /// streamed and VoIP speech, where the codecs are audible.
    pub fn default_bitrate_kbps(self) -> Option<[f64; 2]> {
        match self.lossy()? {
            LossyCodec::Mp3 => Some([16.0, 64.0]),
            LossyCodec::Vorbis => Some([16.0, 64.0]),
            LossyCodec::Opus => Some([8.0, 32.0]),
        }
    }
}

/// One stage of a chain. Every stage has `p`, the probability that it runs on a clip (default
/// 1); every `[low, high]` range is drawn uniformly once per clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StageSpec {
    /// RawBoost algorithm `algo` (0–8); the other fields override [`RawBoostParams`] (names as
    /// the struct's fields, or as the `dpda augment` flags in snake_case; ISD's `P` is
    /// `p_percent` here since `p` is the stage's probability).
    #[serde(rename = "rawboost")]
    RawBoost {
        #[serde(default = "p_one")]
        p: f64,
        algo: RawBoostAlgo,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n_f: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n_bands: Option<u32>,
        #[serde(default, alias = "min_f", skip_serializing_if = "Option::is_none")]
        min_f_hz: Option<f64>,
        #[serde(default, alias = "max_f", skip_serializing_if = "Option::is_none")]
        max_f_hz: Option<f64>,
        #[serde(default, alias = "min_bw", skip_serializing_if = "Option::is_none")]
        min_bw_hz: Option<f64>,
        #[serde(default, alias = "max_bw", skip_serializing_if = "Option::is_none")]
        max_bw_hz: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_coeff: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_coeff: Option<u32>,
        #[serde(default, alias = "min_g", skip_serializing_if = "Option::is_none")]
        min_g_db: Option<f64>,
        #[serde(default, alias = "max_g", skip_serializing_if = "Option::is_none")]
        max_g_db: Option<f64>,
        #[serde(
            default,
            alias = "min_bias_lin_non_lin",
            skip_serializing_if = "Option::is_none"
        )]
        min_bias_lin_non_lin_db: Option<f64>,
        #[serde(
            default,
            alias = "max_bias_lin_non_lin",
            skip_serializing_if = "Option::is_none"
        )]
        max_bias_lin_non_lin_db: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p_percent: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        g_sd: Option<f64>,
        #[serde(default, alias = "snr_min", skip_serializing_if = "Option::is_none")]
        snr_min_db: Option<f64>,
        #[serde(default, alias = "snr_max", skip_serializing_if = "Option::is_none")]
        snr_max_db: Option<f64>,
    },
    /// Additive noise at a drawn SNR (default 5–20 dB). `folder` holds the noise files
    /// (`source = "folder"`) or the babble voices (`source = "babble"`, optional); babble mixes
    /// `num_talkers` voices (default 3–6).
    Noise {
        #[serde(default = "p_one")]
        p: f64,
        #[serde(default)]
        source: NoiseSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        folder: Option<PathBuf>,
        #[serde(default = "default_snr_db")]
        snr_db: [f64; 2],
        #[serde(default = "default_num_talkers")]
        num_talkers: [u32; 2],
    },
    /// Reverberation: a simulated room (RT60 default 0.2–1.0 s, direct-to-reverberant ratio
    /// −3 to +10 dB, as the `wild` split draws) or a recorded impulse response from `folder`.
    Reverb {
        #[serde(default = "p_one")]
        p: f64,
        #[serde(default)]
        source: ReverbSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        folder: Option<PathBuf>,
        #[serde(default = "default_rt60_s")]
        rt60_s: [f64; 2],
        #[serde(default = "default_drr_db")]
        drr_db: [f64; 2],
    },
    /// A codec round trip. `cutoff_hz`, `mask_db` and `step_db` set the lossy stand-in (defaults
    /// as the `wild` split: 4–7 kHz, 25–45 dB, 2–6 dB) and are ignored by the others;
    /// `bitrate_kbps` is the range MP3, Vorbis and Opus draw their bit rate from (default
    /// [`CodecKind::default_bitrate_kbps`]).
    Codec {
        #[serde(default = "p_one")]
        p: f64,
        #[serde(default)]
        codec: CodecKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bitrate_kbps: Option<[f64; 2]>,
        #[serde(default = "default_cutoff_hz")]
        cutoff_hz: [f64; 2],
        #[serde(default = "default_mask_db")]
        mask_db: [f64; 2],
        #[serde(default = "default_step_db")]
        step_db: [f64; 2],
    },
    /// Speed change by resampling (tempo and pitch together; the length becomes len/factor).
    Speed {
        #[serde(default = "p_one")]
        p: f64,
        #[serde(default = "default_factor")]
        factor: [f64; 2],
    },
    /// Pitch shift keeping the duration: resampling, then a WSOLA time stretch back.
    Pitch {
        #[serde(default = "p_one")]
        p: f64,
        #[serde(default = "default_semitones")]
        semitones: [f64; 2],
    },
    /// Band-pass between a drawn `low_hz` (0 = none) and `high_hz` (below the clip's Nyquist).
    BandLimit {
        #[serde(default = "p_one")]
        p: f64,
        #[serde(default = "default_low_hz")]
        low_hz: [f64; 2],
        #[serde(default = "default_high_hz")]
        high_hz: [f64; 2],
    },
    /// A gain in dB (no clipping: that is the `clip` stage).
    Gain {
        #[serde(default = "p_one")]
        p: f64,
        #[serde(default = "default_gain_db")]
        gain_db: [f64; 2],
    },
    /// Hard clipping at a drawn fraction of the clip's peak.
    Clip {
        #[serde(default = "p_one")]
        p: f64,
        #[serde(default = "default_threshold")]
        threshold: [f64; 2],
    },
}

impl StageSpec {
    /// Every kind's name as written in chain files, in the order the Augment view lists them.
    pub const KINDS: [&'static str; 9] = [
        "rawboost",
        "noise",
        "reverb",
        "codec",
        "speed",
        "pitch",
        "band-limit",
        "gain",
        "clip",
    ];

    /// A stage of kind `kind` (a name of [`Self::KINDS`]) with every default.
    pub fn default_of(kind: &str) -> Option<StageSpec> {
        let text = format!("kind = \"{kind}\"\n");
        let text = if kind == "rawboost" {
            format!("{text}algo = 4\n")
        } else {
            text
        };
        toml::from_str(&text).ok()
    }

    /// The kind's name as written in chain files.
    pub fn kind(&self) -> &'static str {
        match self {
            StageSpec::RawBoost { .. } => "rawboost",
            StageSpec::Noise { .. } => "noise",
            StageSpec::Reverb { .. } => "reverb",
            StageSpec::Codec { .. } => "codec",
            StageSpec::Speed { .. } => "speed",
            StageSpec::Pitch { .. } => "pitch",
            StageSpec::BandLimit { .. } => "band-limit",
            StageSpec::Gain { .. } => "gain",
            StageSpec::Clip { .. } => "clip",
        }
    }

    /// The stage's probability of running on a clip.
    pub fn p(&self) -> f64 {
        match self {
            StageSpec::RawBoost { p, .. }
            | StageSpec::Noise { p, .. }
            | StageSpec::Reverb { p, .. }
            | StageSpec::Codec { p, .. }
            | StageSpec::Speed { p, .. }
            | StageSpec::Pitch { p, .. }
            | StageSpec::BandLimit { p, .. }
            | StageSpec::Gain { p, .. }
            | StageSpec::Clip { p, .. } => *p,
        }
    }

    /// The stage's probability, to edit.
    pub fn p_mut(&mut self) -> &mut f64 {
        match self {
            StageSpec::RawBoost { p, .. }
            | StageSpec::Noise { p, .. }
            | StageSpec::Reverb { p, .. }
            | StageSpec::Codec { p, .. }
            | StageSpec::Speed { p, .. }
            | StageSpec::Pitch { p, .. }
            | StageSpec::BandLimit { p, .. }
            | StageSpec::Gain { p, .. }
            | StageSpec::Clip { p, .. } => p,
        }
    }

    /// The folder this stage reads, if any.
    pub fn folder(&self) -> Option<&Path> {
        match self {
            StageSpec::Noise { folder, .. } | StageSpec::Reverb { folder, .. } => folder.as_deref(),
            _ => None,
        }
    }

    /// The RawBoost parameters of a `rawboost` stage: the defaults with its overrides.
    pub fn rawboost_params(&self) -> Option<(RawBoostAlgo, RawBoostParams)> {
        let StageSpec::RawBoost {
            algo,
            n_f,
            n_bands,
            min_f_hz,
            max_f_hz,
            min_bw_hz,
            max_bw_hz,
            min_coeff,
            max_coeff,
            min_g_db,
            max_g_db,
            min_bias_lin_non_lin_db,
            max_bias_lin_non_lin_db,
            p_percent,
            g_sd,
            snr_min_db,
            snr_max_db,
            ..
        } = self
        else {
            return None;
        };
        let d = RawBoostParams::default();
        let params = RawBoostParams {
            n_f: n_f.unwrap_or(d.n_f),
            n_bands: n_bands.unwrap_or(d.n_bands),
            min_f_hz: min_f_hz.unwrap_or(d.min_f_hz),
            max_f_hz: max_f_hz.unwrap_or(d.max_f_hz),
            min_bw_hz: min_bw_hz.unwrap_or(d.min_bw_hz),
            max_bw_hz: max_bw_hz.unwrap_or(d.max_bw_hz),
            min_coeff: min_coeff.unwrap_or(d.min_coeff),
            max_coeff: max_coeff.unwrap_or(d.max_coeff),
            min_g_db: min_g_db.unwrap_or(d.min_g_db),
            max_g_db: max_g_db.unwrap_or(d.max_g_db),
            min_bias_lin_non_lin_db: min_bias_lin_non_lin_db.unwrap_or(d.min_bias_lin_non_lin_db),
            max_bias_lin_non_lin_db: max_bias_lin_non_lin_db.unwrap_or(d.max_bias_lin_non_lin_db),
            p_percent: p_percent.unwrap_or(d.p_percent),
            g_sd: g_sd.unwrap_or(d.g_sd),
            snr_min_db: snr_min_db.unwrap_or(d.snr_min_db),
            snr_max_db: snr_max_db.unwrap_or(d.snr_max_db),
        };
        Some((*algo, params))
    }
}

/// Why a chain could not be read, checked, prepared or applied. Every message names the stage
/// (`stages[i] (kind)`) and the field, folder or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A field is outside what the stage accepts.
    #[error("stages[{index}] ({kind}).{field}: {message}")]
    Invalid {
        index: usize,
        kind: &'static str,
        field: String,
        message: String,
    },
    /// A noise or impulse-response folder is missing, empty or holds an unusable file.
    #[error("stages[{index}] ({kind}).folder {}: {message}", folder.display())]
    Folder {
        index: usize,
        kind: &'static str,
        folder: PathBuf,
        message: String,
    },
    /// A file of a stage's folder could not be decoded.
    #[error("stages[{index}] ({kind}).folder: {source}")]
    File {
        index: usize,
        kind: &'static str,
        #[source]
        source: AudioError,
    },
    /// A stage failed on a clip (a rate the stage cannot use, a RawBoost filter that does not fit
    /// the rate, …).
    #[error("stages[{index}] ({kind}): {message}")]
    Apply {
        index: usize,
        kind: &'static str,
        message: String,
    },
    /// A chain file could not be read or parsed.
    #[error("chain file {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
}

/// What one stage did to a clip.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// The stage's kind, as in chain files.
    pub kind: String,
    /// Whether the stage ran (its coin came up, or `p = 1`).
    pub applied: bool,
    /// The values drawn and realised (e.g. `snr_db`, `realised_snr_db`, `file`); empty when
    /// the stage did not run.
    pub params: serde_json::Value,
}

/// What a chain did to a clip, stage by stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainReport {
    /// One report per stage, in order.
    pub stages: Vec<StageReport>,
}

impl ChainReport {
    /// One line: each stage with its drawn values, or `-` when it did not run, e.g.
    /// `noise(source=pink snr_db=12.31) → gain(-)`.
    pub fn summary(&self) -> String {
        if self.stages.is_empty() {
            return "(no stages)".to_string();
        }
        let parts: Vec<String> = self.stages.iter().map(StageReport::summary).collect();
        parts.join(" → ")
    }
}

impl StageReport {
    /// `kind(key=value …)`, numbers to two decimals; `kind(-)` when the stage did not run.
    pub fn summary(&self) -> String {
        if !self.applied {
            return format!("{}(-)", self.kind);
        }
        let fields: Vec<String> = match &self.params {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| format!("{k}={}", compact(v)))
                .collect(),
            serde_json::Value::Null => Vec::new(),
            other => vec![compact(other)],
        };
        format!("{}({})", self.kind, fields.join(" "))
    }
}

/// A JSON value written short: numbers to two decimals, strings bare.
fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => format!("{f:.2}"),
            _ => n.to_string(),
        },
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(compact).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

impl ChainSpec {
    /// Parse a chain from TOML text (`[[stages]]` tables).
    pub fn from_toml_str(text: &str) -> Result<ChainSpec, toml::de::Error> {
        toml::from_str(text)
    }

    /// Read and parse a chain file; the error names the file (and, through TOML's message, the
    /// line and field).
    pub fn load(path: &Path) -> Result<ChainSpec, ChainError> {
        let text = std::fs::read_to_string(path).map_err(|e| ChainError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_toml_str(&text).map_err(|e| ChainError::Read {
            path: path.to_path_buf(),
            message: stage_parse_error(&text).unwrap_or_else(|| e.to_string()),
        })
    }

    /// The chain as TOML text, as [`Self::load`] reads it.
    pub fn to_toml_string(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Check every stage's fields (ranges, probabilities, which fields go together) without
    /// reading any file. Stops at the first problem.
    pub fn validate(&self) -> Result<(), ChainError> {
        for (index, stage) in self.stages.iter().enumerate() {
            stages::validate_stage(index, stage)?;
        }
        Ok(())
    }

    /// [`Self::validate`], then read every noise and impulse-response folder (relative paths
    /// resolve against `base_dir`): the chain that [`Chain::apply`] runs.
    pub fn prepare(&self, base_dir: &Path) -> Result<Chain, ChainError> {
        self.validate()?;
        let stages = self
            .stages
            .iter()
            .enumerate()
            .map(|(index, spec)| stages::PreparedStage::prepare(index, spec, base_dir))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Chain {
            stages: Arc::from(stages),
        })
    }
}

/// When a chain's TOML is well formed but a stage does not parse (an unknown field or kind, a
/// wrong type), `stages[i] (kind): what is wrong`, which TOML's own message (pointing at the
/// `[[stages]]` header) leaves the reader to count.
fn stage_parse_error(text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let stages = table.get("stages")?.as_array()?;
    stages.iter().enumerate().find_map(|(index, stage)| {
        let kind = stage
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("no kind");
        StageSpec::deserialize(stage.clone())
            .err()
            .map(|e| format!("stages[{index}] ({kind}): {}", e.message().trim()))
    })
}

/// A validated chain with its folders read; cheap to clone and shared by worker threads.
#[derive(Clone, Debug)]
pub struct Chain {
    stages: Arc<[stages::PreparedStage]>,
}

impl Chain {
    /// `x` (at `sample_rate_hz`) through every stage, drawing from `rng`, with what each stage
    /// did. An empty clip gives an empty clip.
    pub fn apply(
        &self,
        x: &[f32],
        sample_rate_hz: u32,
        rng: &mut Rng,
    ) -> Result<(Vec<f32>, ChainReport), ChainError> {
        let mut y = x.to_vec();
        let mut report = ChainReport::default();
        for stage in self.stages.iter() {
            let (next, stage_report) = stage.apply(&y, sample_rate_hz, rng)?;
            y = next;
            report.stages.push(stage_report);
        }
        Ok((y, report))
    }

    /// Like [`Self::apply`], keeping the output after every stage (for auditioning a chain
    /// stage by stage); the last output is [`Self::apply`]'s with the same `rng`.
    pub fn apply_stages(
        &self,
        x: &[f32],
        sample_rate_hz: u32,
        rng: &mut Rng,
    ) -> Result<Vec<(Vec<f32>, StageReport)>, ChainError> {
        let mut outputs: Vec<(Vec<f32>, StageReport)> = Vec::with_capacity(self.stages.len());
        for stage in self.stages.iter() {
            let input = outputs.last().map_or(x, |(y, _)| y.as_slice());
            let out = stage.apply(input, sample_rate_hz, rng)?;
            outputs.push(out);
        }
        Ok(outputs)
    }

    /// Number of stages.
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// Whether the chain has no stage (it then returns clips unchanged).
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The stages as specified.
    pub fn specs(&self) -> Vec<StageSpec> {
        self.stages.iter().map(|s| s.spec.clone()).collect()
    }
}

impl From<(usize, &'static str, RawBoostError)> for ChainError {
    fn from((index, kind, err): (usize, &'static str, RawBoostError)) -> Self {
        match err {
            RawBoostError::InvalidParam { field, message } => ChainError::Invalid {
                index,
                kind,
                field: field.to_string(),
                message,
            },
            other => ChainError::Apply {
                index,
                kind,
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
