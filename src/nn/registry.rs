//! The model registry: names → freshly initialised models.
//!
//! The trainer, the scorer, the CLI and the GUI build every model through [`build_model`], from a
//! registry name and [`ModelOptions`] (the `[model]` table of a run config, parsed strictly so a
//! misspelt option is an error, not a silent default).

use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

use super::aasist::{Aasist, AasistConfig};
use super::lcnn::{Lcnn, LcnnSmall};
use super::{Model, NnError};
use crate::rng::Rng;

/// Every name [`build_model`] accepts.
pub const MODEL_NAMES: &[&str] = &["lcnn", "lcnn-small", "aasist", "aasist-l"];

/// Architecture options; absent fields take each model's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelOptions {
    /// Dropout probability before the back end (`lcnn` 0.7, `lcnn-small` 0.0 when absent).
    pub dropout: Option<f64>,
    /// Add the baseline's two BLSTM layers to `lcnn` (off by default).
    pub blstm: bool,
}

/// A model by registry name, initialised from `seed`, with variables of `dtype` on `device`.
pub fn build_model(
    name: &str,
    options: &ModelOptions,
    seed: u64,
    device: &Device,
    dtype: DType,
) -> Result<Box<dyn Model>, NnError> {
    if options.blstm && name != "lcnn" {
        return Err(NnError::InvalidOption {
            field: "blstm",
            message: format!("only the 'lcnn' model has a BLSTM option, not '{name}'"),
        });
    }
    match name {
        "lcnn" => Ok(Box::new(Lcnn::new(
            options.dropout.unwrap_or(Lcnn::DEFAULT_DROPOUT),
            options.blstm,
            seed,
            device,
            dtype,
        )?)),
        "lcnn-small" => Ok(Box::new(LcnnSmall::new(
            options.dropout.unwrap_or(LcnnSmall::DEFAULT_DROPOUT),
            seed,
            device,
            dtype,
        )?)),
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
            Ok(Box::new(Aasist::new(
                config,
                dtype,
                device,
                &mut Rng::new(seed),
            )?))
        }
        _ => Err(NnError::UnknownModel {
            name: name.to_string(),
            known: MODEL_NAMES.join(", "),
        }),
    }
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
