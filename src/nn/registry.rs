//! The model registry: names → freshly initialised models.
//!
//! The trainer, the scorer, the CLI and the GUI build every model through [`build_model`], from a
//! registry name and [`ModelOptions`] (the `[model]` table of a run config, parsed strictly so a
//! misspelt option is an error, not a silent default).

use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

use super::aasist::{Aasist, AasistConfig};
use super::conformer::{ConformerTcm, ConformerTcmConfig};
use super::lcnn::{Lcnn, LcnnSmall};
use super::ssl_aasist::{SslAasist, SslAasistConfig};
use super::{Model, NnError};
use crate::rng::Rng;

/// Every name [`build_model`] accepts.
pub const MODEL_NAMES: &[&str] = &[
    "lcnn",
    "lcnn-small",
    "aasist",
    "aasist-l",
    "xlsr-tiny-aasist",
    "xlsr-tiny-tcm",
];

/// Registry names of the XLS-R 300M detectors, accepted by [`build_model`] like
/// [`MODEL_NAMES`] but kept apart because one instance holds ~1.3 GB of f32 weights (loops over
/// every model in tests and menus should not build them by accident).
pub const LARGE_MODEL_NAMES: &[&str] = &["xlsr-aasist", "xlsr-tcm"];

/// Whether [`build_model`] knows `name`.
pub fn is_known_model(name: &str) -> bool {
    MODEL_NAMES.contains(&name) || LARGE_MODEL_NAMES.contains(&name)
}

/// Architecture options; absent fields take each model's default.
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
}

/// A model by registry name, initialised from `seed`, with variables of `dtype` on `device`.
pub fn build_model(
    name: &str,
    options: &ModelOptions,
    seed: u64,
    device: &Device,
    dtype: DType,
) -> Result<Box<dyn Model>, NnError> {
    build_model_reporting(name, options, seed, device, dtype).map(|(model, _)| model)
}

/// [`build_model`], plus one line per thing worth telling the user (what a pretrained front-end
/// file was read as, which of its entries were set aside).
pub fn build_model_reporting(
    name: &str,
    options: &ModelOptions,
    seed: u64,
    device: &Device,
    dtype: DType,
) -> Result<(Box<dyn Model>, Vec<String>), NnError> {
    if (options.freeze_front_end || options.front_end_weights.is_some())
        && !name.starts_with("xlsr-")
    {
        return Err(NnError::InvalidOption {
            field: "freeze_front_end",
            message: format!("only 'xlsr-*' models have an XLS-R front end, not '{name}'"),
        });
    }
    if options.blstm && name != "lcnn" {
        return Err(NnError::InvalidOption {
            field: "blstm",
            message: format!("only the 'lcnn' model has a BLSTM option, not '{name}'"),
        });
    }
    let model: Box<dyn Model> = match name {
        "lcnn" => Box::new(Lcnn::new(
            options.dropout.unwrap_or(Lcnn::DEFAULT_DROPOUT),
            options.blstm,
            seed,
            device,
            dtype,
        )?),
        "lcnn-small" => Box::new(LcnnSmall::new(
            options.dropout.unwrap_or(LcnnSmall::DEFAULT_DROPOUT),
            seed,
            device,
            dtype,
        )?),
        "aasist" | "aasist-l" => {
            // AASIST's dropout rates are fixed by the reference architecture.
            if options.dropout.is_some() {
                return Err(NnError::InvalidOption {
                    field: "dropout",
                    message: format!("'{name}' uses the reference's fixed dropout rates"),
                });
            }
            let config = if name == "aasist" {
                AasistConfig::aasist()
            } else {
                AasistConfig::aasist_l()
            };
            Box::new(Aasist::new(config, dtype, device, &mut Rng::new(seed))?)
        }
        "xlsr-aasist" | "xlsr-tiny-aasist" | "xlsr-tcm" | "xlsr-tiny-tcm" => {
            if options.dropout.is_some() {
                return Err(NnError::InvalidOption {
                    field: "dropout",
                    message: format!("'{name}' uses the reference's fixed dropout rates"),
                });
            }
            let mut rng = Rng::new(seed);
            let model: Box<dyn Model> = if name.ends_with("aasist") {
                let mut config = if name == "xlsr-aasist" {
                    SslAasistConfig::xlsr_aasist()
                } else {
                    SslAasistConfig::tiny()
                };
                config.freeze_front_end = options.freeze_front_end;
                Box::new(SslAasist::new(config, dtype, device, &mut rng)?)
            } else {
                let mut config = if name == "xlsr-tcm" {
                    ConformerTcmConfig::xlsr_tcm()
                } else {
                    ConformerTcmConfig::tiny()
                };
                config.freeze_front_end = options.freeze_front_end;
                Box::new(ConformerTcm::new(config, dtype, device, &mut rng)?)
            };
            let mut notes = Vec::new();
            if let Some(path) = &options.front_end_weights {
                let report = super::import_xlsr::load_front_end_report(model.as_ref(), path)?;
                notes.push(front_end_note(path, &report));
            }
            return Ok((model, notes));
        }
        _ => {
            return Err(NnError::UnknownModel {
                name: name.to_string(),
                known: format!(
                    "{}, {}",
                    MODEL_NAMES.join(", "),
                    LARGE_MODEL_NAMES.join(", ")
                ),
            })
        }
    };
    Ok((model, Vec::new()))
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

    #[test]
    fn every_name_builds() {
        for name in MODEL_NAMES {
            let m =
                build_model(name, &ModelOptions::default(), 0, &Device::Cpu, DType::F32).unwrap();
            assert_eq!(m.name(), *name);
            assert!(!m.trainable().is_empty());
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = build_model(
            "resnet",
            &ModelOptions::default(),
            0,
            &Device::Cpu,
            DType::F32,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("resnet") && err.contains("lcnn-small"),
            "{err}"
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
    }

    #[test]
    fn invalid_options_name_the_field() {
        let o = ModelOptions {
            blstm: true,
            ..ModelOptions::default()
        };
        let err = build_model("lcnn-small", &o, 0, &Device::Cpu, DType::F32)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("blstm"), "{err}");
        let o = ModelOptions {
            dropout: Some(-0.1),
            ..ModelOptions::default()
        };
        assert!(matches!(
            build_model("lcnn", &o, 0, &Device::Cpu, DType::F32),
            Err(NnError::InvalidOption {
                field: "dropout",
                ..
            })
        ));
    }
}
