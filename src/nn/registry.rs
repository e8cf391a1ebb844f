//! The model registry: one [`ModelKind`] per architecture, and freshly initialised models.
//!
//! The trainer, the scorer, the CLI and the GUI name a model by a string from a config or the
//! command line; it is parsed once into a [`ModelKind`] (an unknown name is an error listing the
//! known ones), which knows its input length and which [`ModelOptions`] apply to it. Every model
//! is built through [`build_model`] / [`build_model_reporting`]; weights are loaded afterwards
//! through [`crate::nn::import::load_weights`], the one loader for every weights file.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

use super::aasist::{Aasist, AasistConfig};
use super::conformer::{ConformerTcm, ConformerTcmConfig};
use super::lcnn::{Lcnn, LcnnSmall};
use super::ssl_aasist::{SslAasist, SslAasistConfig};
use super::tiny::TinyModel;
use super::{Model, NnError};
use crate::rng::Rng;

/// Input length of the AASIST family (clovaai/aasist `nb_samp`).
pub const AASIST_NUM_SAMPLES: usize = 64_600;

/// Input length of dpda_ga's models (and of runs that do not say).
pub const DPDA_GA_NUM_SAMPLES: usize = crate::audio::DEFAULT_NUM_SAMPLES;

/// A model architecture the registry builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// `tiny`: the few-thousand-parameter test model ([`TinyModel`]).
    Tiny,
    /// `lcnn`: the LFCC-LCNN baseline.
    Lcnn,
    /// `lcnn-small`: a small LCNN.
    LcnnSmall,
    /// `aasist`: AASIST (Jung et al. 2022).
    Aasist,
    /// `aasist-l`: the light AASIST-L.
    AasistL,
    /// `xlsr-tiny-aasist`: XLSR-AASIST's structure with a tiny random front end.
    XlsrTinyAasist,
    /// `xlsr-tiny-tcm`: XLSR-Conformer-TCM's structure with a tiny random front end.
    XlsrTinyTcm,
    /// `xlsr-aasist`: XLSR-AASIST with XLS-R 300M.
    XlsrAasist,
    /// `xlsr-tcm`: XLSR-Conformer-TCM with XLS-R 300M.
    XlsrTcm,
}

impl ModelKind {
    /// Every kind, in the order error messages and menus list them (the large ones last).
    pub const ALL: [ModelKind; 9] = [
        ModelKind::Tiny,
        ModelKind::Lcnn,
        ModelKind::LcnnSmall,
        ModelKind::Aasist,
        ModelKind::AasistL,
        ModelKind::XlsrTinyAasist,
        ModelKind::XlsrTinyTcm,
        ModelKind::XlsrAasist,
        ModelKind::XlsrTcm,
    ];

    /// The name configs, the command line and checkpoints use.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Tiny => "tiny",
            ModelKind::Lcnn => "lcnn",
            ModelKind::LcnnSmall => "lcnn-small",
            ModelKind::Aasist => "aasist",
            ModelKind::AasistL => "aasist-l",
            ModelKind::XlsrTinyAasist => "xlsr-tiny-aasist",
            ModelKind::XlsrTinyTcm => "xlsr-tiny-tcm",
            ModelKind::XlsrAasist => "xlsr-aasist",
            ModelKind::XlsrTcm => "xlsr-tcm",
        }
    }

    /// The XLS-R 300M detectors: one instance holds ~1.3 GB of f32 weights, so loops over every
    /// model (tests, menus) leave them out.
    pub fn is_large(self) -> bool {
        matches!(self, ModelKind::XlsrAasist | ModelKind::XlsrTcm)
    }

    /// Every kind but the large ones ([`ModelKind::is_large`]), in [`ModelKind::ALL`]'s order.
    pub fn small() -> impl Iterator<Item = ModelKind> {
        ModelKind::ALL.into_iter().filter(|k| !k.is_large())
    }

    /// Whether the model starts with an XLS-R front end (the `xlsr-*` models).
    pub fn has_front_end(self) -> bool {
        matches!(
            self,
            ModelKind::XlsrTinyAasist
                | ModelKind::XlsrTinyTcm
                | ModelKind::XlsrAasist
                | ModelKind::XlsrTcm
        )
    }

    /// The whole-clip input length the architecture was trained with, in samples at 16 kHz.
    pub fn input_num_samples(self) -> usize {
        match self {
            ModelKind::Aasist | ModelKind::AasistL => AASIST_NUM_SAMPLES,
            _ => DPDA_GA_NUM_SAMPLES,
        }
    }

    /// Where [`ModelKind::input_num_samples`] comes from, for messages.
    pub fn input_num_samples_origin(self) -> &'static str {
        match self {
            ModelKind::Aasist | ModelKind::AasistL => {
                "the AASIST family's training length (clovaai nb_samp)"
            }
            _ => "dpda_ga's training length",
        }
    }

    /// The [`ModelOptions`] fields that apply to this model.
    pub fn option_names(self) -> &'static [&'static str] {
        match self {
            ModelKind::Tiny => &["bands", "hidden"],
            ModelKind::Lcnn => &["dropout", "blstm"],
            ModelKind::LcnnSmall => &["dropout"],
            ModelKind::Aasist | ModelKind::AasistL => &[],
            ModelKind::XlsrTinyAasist
            | ModelKind::XlsrTinyTcm
            | ModelKind::XlsrAasist
            | ModelKind::XlsrTcm => &["freeze_front_end", "front_end_weights"],
        }
    }

    /// Every name, comma-separated, as error messages list them.
    pub fn known_names() -> String {
        ModelKind::ALL.map(ModelKind::name).join(", ")
    }

    /// Fails on an option that does not apply to this model, naming the field.
    pub fn check_options(self, options: &ModelOptions) -> Result<(), NnError> {
        let name = self.name();
        let set = [
            ("dropout", options.dropout.is_some()),
            ("blstm", options.blstm),
            ("freeze_front_end", options.freeze_front_end),
            ("front_end_weights", options.front_end_weights.is_some()),
            ("bands", options.bands.is_some()),
            ("hidden", options.hidden.is_some()),
        ];
        if self == ModelKind::Tiny {
            if let Some((key, _)) = set
                .iter()
                .find(|(k, s)| *s && !self.option_names().contains(k))
            {
                return Err(NnError::InvalidOption {
                    field: "model.options",
                    message: format!("unknown option '{key}' for model 'tiny' (bands, hidden)"),
                });
            }
            return Ok(());
        }
        if (options.freeze_front_end || options.front_end_weights.is_some())
            && !self.has_front_end()
        {
            return Err(NnError::InvalidOption {
                field: "freeze_front_end",
                message: format!("only 'xlsr-*' models have an XLS-R front end, not '{name}'"),
            });
        }
        if options.blstm && self != ModelKind::Lcnn {
            return Err(NnError::InvalidOption {
                field: "blstm",
                message: format!("only the 'lcnn' model has a BLSTM option, not '{name}'"),
            });
        }
        if options.dropout.is_some() && !self.option_names().contains(&"dropout") {
            // AASIST's and XLSR's dropout rates are fixed by the reference architectures.
            return Err(NnError::InvalidOption {
                field: "dropout",
                message: format!("'{name}' uses the reference's fixed dropout rates"),
            });
        }
        for (field, value) in [("bands", options.bands), ("hidden", options.hidden)] {
            if value.is_some() {
                return Err(NnError::InvalidOption {
                    field,
                    message: format!("only the 'tiny' model has this option, not '{name}'"),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = NnError;

    /// A kind from its [`ModelKind::name`]; an unknown name lists the known ones.
    fn from_str(name: &str) -> Result<Self, NnError> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| NnError::UnknownModel {
                name: name.to_string(),
                known: ModelKind::known_names(),
            })
    }
}

impl Serialize for ModelKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ModelKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Architecture options (the `[model.options]` table of a run config, parsed strictly so a
/// misspelt option is an error, not a silent default); absent fields take each model's default,
/// and [`ModelKind::check_options`] refuses those that do not apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelOptions {
    /// Dropout probability before the back end (`lcnn` 0.7, `lcnn-small` 0.0 when absent).
    pub dropout: Option<f64>,
    /// Add the baseline's two BLSTM layers to `lcnn` (off by default).
    pub blstm: bool,
    /// `xlsr-*` models: train only the back end (the XLS-R front end is frozen).
    pub freeze_front_end: bool,
    /// `xlsr-*` models: pretrained XLS-R weights for the front end (fairseq `xlsr2_300m.pt`, a
    /// Hugging Face `pytorch_model.bin`/`model.safetensors`, or a detector checkpoint).
    pub front_end_weights: Option<std::path::PathBuf>,
    /// `tiny`: filterbank size (16 when absent).
    pub bands: Option<usize>,
    /// `tiny`: MLP width (8 when absent).
    pub hidden: Option<usize>,
}

impl ModelOptions {
    /// Parses a `[model.options]` table (unknown keys refused).
    pub fn from_table(options: &toml::Table) -> Result<Self, NnError> {
        toml::Value::Table(options.clone())
            .try_into::<ModelOptions>()
            .map_err(|e| NnError::InvalidOption {
                field: "model.options",
                message: e.to_string().trim().to_string(),
            })
    }
}

/// A model of `kind`, initialised from `seed`, with variables of `dtype` on `device`.
pub fn build_model(
    kind: ModelKind,
    options: &ModelOptions,
    seed: u64,
    device: &Device,
    dtype: DType,
) -> Result<Box<dyn Model>, NnError> {
    build_model_reporting(kind, options, seed, device, dtype).map(|(model, _)| model)
}

/// [`build_model`], plus one line per thing worth telling the user (what a pretrained front-end
/// file was read as, which of its entries were set aside).
pub fn build_model_reporting(
    kind: ModelKind,
    options: &ModelOptions,
    seed: u64,
    device: &Device,
    dtype: DType,
) -> Result<(Box<dyn Model>, Vec<String>), NnError> {
    kind.check_options(options)?;
    let model: Box<dyn Model> = match kind {
        ModelKind::Tiny => Box::new(TinyModel::new(
            options.bands.unwrap_or(TinyModel::DEFAULT_BANDS),
            options.hidden.unwrap_or(TinyModel::DEFAULT_HIDDEN),
            seed,
            device,
            dtype,
        )?),
        ModelKind::Lcnn => Box::new(Lcnn::new(
            options.dropout.unwrap_or(Lcnn::DEFAULT_DROPOUT),
            options.blstm,
            seed,
            device,
            dtype,
        )?),
        ModelKind::LcnnSmall => Box::new(LcnnSmall::new(
            options.dropout.unwrap_or(LcnnSmall::DEFAULT_DROPOUT),
            seed,
            device,
            dtype,
        )?),
        ModelKind::Aasist | ModelKind::AasistL => {
            let config = if kind == ModelKind::Aasist {
                AasistConfig::aasist()
            } else {
                AasistConfig::aasist_l()
            };
            Box::new(Aasist::new(config, dtype, device, &mut Rng::new(seed))?)
        }
        ModelKind::XlsrAasist | ModelKind::XlsrTinyAasist => {
            let mut config = if kind == ModelKind::XlsrAasist {
                SslAasistConfig::xlsr_aasist()
            } else {
                SslAasistConfig::tiny()
            };
            config.freeze_front_end = options.freeze_front_end;
            Box::new(SslAasist::new(config, dtype, device, &mut Rng::new(seed))?)
        }
        ModelKind::XlsrTcm | ModelKind::XlsrTinyTcm => {
            let mut config = if kind == ModelKind::XlsrTcm {
                ConformerTcmConfig::xlsr_tcm()
            } else {
                ConformerTcmConfig::tiny()
            };
            config.freeze_front_end = options.freeze_front_end;
            Box::new(ConformerTcm::new(
                config,
                dtype,
                device,
                &mut Rng::new(seed),
            )?)
        }
    };
    let mut notes = Vec::new();
    if let Some(path) = &options.front_end_weights {
        let report = super::import_xlsr::load_front_end_report(model.as_ref(), path)?;
        notes.push(front_end_note(path, &report));
    }
    Ok((model, notes))
}

/// One line on what a front-end weights file was read as and what of it was not used.
fn front_end_note(path: &std::path::Path, report: &super::import_xlsr::FrontEndLoad) -> String {
    const SHOWN: usize = 8;
    let mut note = format!(
        "front end from {} ({}): {} tensors set",
        path.display(),
        report.layout.describe(),
        report.num_assigned
    );
    if !report.ignored.is_empty() {
        let shown: Vec<&str> = report
            .ignored
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect();
        note.push_str(&format!(
            "; {} entries without an encoder counterpart set aside ({}{})",
            report.ignored.len(),
            shown.join(", "),
            if report.ignored.len() > SHOWN {
                ", …"
            } else {
                ""
            }
        ));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(name: &str, options: &ModelOptions) -> Result<Box<dyn Model>, NnError> {
        build_model(name.parse()?, options, 0, &Device::Cpu, DType::F32)
    }

    #[test]
    fn every_small_kind_builds() {
        for kind in ModelKind::small() {
            let m =
                build_model(kind, &ModelOptions::default(), 0, &Device::Cpu, DType::F32).unwrap();
            assert_eq!(m.name(), kind.name());
            assert!(!m.trainable().is_empty());
        }
    }

    #[test]
    fn names_round_trip_and_agree_with_the_name_lists() {
        for kind in ModelKind::ALL {
            assert_eq!(kind.name().parse::<ModelKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(ModelKind::Aasist.input_num_samples(), 64_600);
        assert_eq!(ModelKind::AasistL.input_num_samples(), 64_600);
        assert_eq!(ModelKind::XlsrAasist.input_num_samples(), 66_800);
        assert_eq!(ModelKind::Tiny.input_num_samples(), 66_800);
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = "resnet"
            .parse::<ModelKind>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "unknown model 'resnet' (known: tiny, lcnn, lcnn-small, aasist, aasist-l, \
             xlsr-tiny-aasist, xlsr-tiny-tcm, xlsr-aasist, xlsr-tcm)"
        );
    }

    #[test]
    fn options_parse_strictly() {
        let o: ModelOptions = toml::from_str("dropout = 0.5\nblstm = true").unwrap();
        assert_eq!(o.dropout, Some(0.5));
        assert!(o.blstm);
        assert!(toml::from_str::<ModelOptions>("dropuot = 0.5").is_err());
        let o: ModelOptions = toml::from_str("").unwrap();
        assert_eq!(o, ModelOptions::default());
        let table: toml::Table = toml::from_str("bands = 4").unwrap();
        assert_eq!(ModelOptions::from_table(&table).unwrap().bands, Some(4));
    }

    #[test]
    fn invalid_options_name_the_field() {
        let o = ModelOptions {
            blstm: true,
            ..ModelOptions::default()
        };
        let err = build("lcnn-small", &o)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("blstm"), "{err}");
        let o = ModelOptions {
            dropout: Some(-0.1),
            ..ModelOptions::default()
        };
        assert!(matches!(
            build("lcnn", &o),
            Err(NnError::InvalidOption {
                field: "dropout",
                ..
            })
        ));
        assert!(matches!(
            build("aasist", &o),
            Err(NnError::InvalidOption {
                field: "dropout",
                ..
            })
        ));
        let err = build("tiny", &o)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("unknown option 'dropout' for model 'tiny'"),
            "{err}"
        );
        let o = ModelOptions {
            bands: Some(4),
            ..ModelOptions::default()
        };
        assert!(matches!(
            build("lcnn", &o),
            Err(NnError::InvalidOption { field: "bands", .. })
        ));
        assert!(build("tiny", &o).is_ok());
        let o = ModelOptions {
            hidden: Some(0),
            ..ModelOptions::default()
        };
        assert!(matches!(
            build("tiny", &o),
            Err(NnError::InvalidOption {
                field: "hidden",
                ..
            })
        ));
    }
}
