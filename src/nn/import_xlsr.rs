//! Loading pretrained XLS-R weights into the front end of `xlsr-*` models, and the key mapping
//! for the released dpda_ga detectors.
//!
//! Three layouts are recognised by their key names:
//! - fairseq (`xlsr2_300m.pt`: the state dict under the key `model`, names such as
//!   `feature_extractor.conv_layers.0.0.weight`, `encoder.pos_conv.0.weight_g`);
//! - Hugging Face (`facebook/wav2vec2-xls-r-300m`: `pytorch_model.bin` or `model.safetensors`,
//!   names such as `wav2vec2.feature_extractor.conv_layers.0.conv.weight`,
//!   `encoder.pos_conv_embed.conv.weight_g` or its `parametrizations.weight.original0` form);
//! - a whole detector (dpda_ga `best.pth`, or this project's checkpoints): `ssl_model.model.*`.
//!
//! Pretraining-only entries (quantizer, projection heads, mask embedding) are dropped. Loading is
//! strict within the front end: every front-end variable must be present with its shape, and a
//! front-end tensor the model does not have is an error, so a wrong size fails with the names.
//! The CLI's `--init-front-end` style options and [`crate::nn::registry`] users call
//! [`load_front_end`]; whole-detector files go through [`crate::nn::import::load_weights`].

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;

use super::import::{assign_strict, load_error, read_pth, read_safetensors};
use super::ssl_aasist::FRONT_END_PREFIX;
use super::{Model, NnError};

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

/// The fairseq name of a Hugging Face wav2vec 2.0 key, `None` for keys with no counterpart
/// (pretraining heads, `masked_spec_embed`).
pub fn hf_to_fairseq(key: &str) -> Option<String> {
    let key = key.strip_prefix("wav2vec2.").unwrap_or(key);
    const DROPPED: &[&str] = &[
        "masked_spec_embed",
        "quantizer.",
        "project_hid.",
        "project_q.",
        "lm_head.",
        "dropout_features",
    ];
    if DROPPED.iter().any(|p| key.starts_with(p)) {
        return None;
    }
    if let Some(rest) = key.strip_prefix("feature_extractor.conv_layers.") {
        let (index, leaf) = rest.split_once('.')?;
        let mapped = match leaf {
            "conv.weight" => "0.weight",
            "conv.bias" => "0.bias",
            "layer_norm.weight" => "2.1.weight",
            "layer_norm.bias" => "2.1.bias",
            _ => return Some(key.to_string()),
        };
        return Some(format!("feature_extractor.conv_layers.{index}.{mapped}"));
    }
    if let Some(rest) = key.strip_prefix("feature_projection.") {
        return Some(match rest.strip_prefix("projection.") {
            Some(leaf) => format!("post_extract_proj.{leaf}"),
            None => rest.to_string(),
        });
    }
    if let Some(leaf) = key.strip_prefix("encoder.pos_conv_embed.conv.") {
        let leaf = match leaf {
            "parametrizations.weight.original0" => "weight_g",
            "parametrizations.weight.original1" => "weight_v",
            other => other,
        };
        return Some(format!("encoder.pos_conv.0.{leaf}"));
    }
    if let Some(rest) = key.strip_prefix("encoder.layers.") {
        let (index, leaf) = rest.split_once('.')?;
        let leaf = if let Some(l) = leaf.strip_prefix("attention.") {
            format!("self_attn.{l}")
        } else if let Some(l) = leaf.strip_prefix("layer_norm.") {
            format!("self_attn_layer_norm.{l}")
        } else if let Some(l) = leaf.strip_prefix("feed_forward.intermediate_dense.") {
            format!("fc1.{l}")
        } else if let Some(l) = leaf.strip_prefix("feed_forward.output_dense.") {
            format!("fc2.{l}")
        } else {
            leaf.to_string()
        };
        return Some(format!("encoder.layers.{index}.{leaf}"));
    }
    Some(key.to_string())
}

/// The layout a set of keys comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontEndLayout {
    /// fairseq's wav2vec 2.0 names.
    Fairseq,
    /// Hugging Face's `Wav2Vec2Model` / `Wav2Vec2ForPreTraining` names.
    HuggingFace,
    /// A whole detector with the front end under `ssl_model.model.`.
    Detector,
}

/// Recognises the layout from the key names.
pub fn detect_layout<'a>(keys: impl IntoIterator<Item = &'a String>) -> FrontEndLayout {
    let mut layout = FrontEndLayout::Fairseq;
    for k in keys {
        if k.starts_with("ssl_model.model.") {
            return FrontEndLayout::Detector;
        }
        if k.contains("feature_projection.") || k.contains("pos_conv_embed.") {
            layout = FrontEndLayout::HuggingFace;
        }
    }
    layout
}

/// Front-end tensors renamed to the model's names (`ssl_model.model.<fairseq key>`); entries
/// without a counterpart are dropped, and back-end entries of a detector file are ignored.
pub fn front_end_tensors(raw: HashMap<String, Tensor>) -> HashMap<String, Tensor> {
    let layout = detect_layout(raw.keys());
    let prefix = format!("{FRONT_END_PREFIX}.");
    raw.into_iter()
        .filter_map(|(key, t)| {
            let fairseq = match layout {
                FrontEndLayout::Fairseq => Some(key),
                FrontEndLayout::HuggingFace => hf_to_fairseq(&key),
                FrontEndLayout::Detector => key.strip_prefix(&prefix).map(str::to_string),
            }?;
            (!is_pretraining_only(&fairseq)).then(|| (format!("{prefix}{fairseq}"), t))
        })
        .collect()
}

/// Reads every tensor of a `.pt`/`.pth`/`.bin` (zip-format PyTorch; fairseq's nesting under
/// `model` is handled) or `.safetensors` file.
pub fn read_any(path: &Path) -> Result<HashMap<String, Tensor>, NnError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("pt") | Some("pth") | Some("bin") => read_pth(path),
        Some("safetensors") => read_safetensors(path),
        _ => Err(load_error(
            path,
            "expected a .pt, .pth, .bin or .safetensors file",
        )),
    }
}

/// Copies the tensors named like the model's variables under `prefix` into them, strictly
/// within that prefix; returns how many were set. `path` is only used in error messages.
pub fn assign_prefixed(
    model: &dyn Model,
    tensors: &HashMap<String, Tensor>,
    prefix: &str,
    path: &Path,
) -> Result<usize, NnError> {
    assign_strict(model, tensors, prefix, "front end ", path)
}

/// Loads pretrained XLS-R weights (fairseq, Hugging Face or a whole detector file) into the
/// front end of an `xlsr-*` model; the back end keeps its values. Returns the number of tensors
/// set.
pub fn load_front_end(model: &dyn Model, path: &Path) -> Result<usize, NnError> {
    let tensors = front_end_tensors(read_any(path)?);
    if tensors.is_empty() {
        return Err(load_error(path, "no wav2vec 2.0 tensors found"));
    }
    assign_prefixed(model, &tensors, &format!("{FRONT_END_PREFIX}."), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_names_map_to_fairseq() {
        let cases = [
            (
                "wav2vec2.feature_extractor.conv_layers.3.conv.weight",
                "feature_extractor.conv_layers.3.0.weight",
            ),
            (
                "feature_extractor.conv_layers.0.layer_norm.bias",
                "feature_extractor.conv_layers.0.2.1.bias",
            ),
            ("feature_projection.layer_norm.weight", "layer_norm.weight"),
            (
                "feature_projection.projection.bias",
                "post_extract_proj.bias",
            ),
            (
                "encoder.pos_conv_embed.conv.weight_g",
                "encoder.pos_conv.0.weight_g",
            ),
            (
                "encoder.pos_conv_embed.conv.parametrizations.weight.original1",
                "encoder.pos_conv.0.weight_v",
            ),
            (
                "encoder.layers.23.attention.out_proj.weight",
                "encoder.layers.23.self_attn.out_proj.weight",
            ),
            (
                "encoder.layers.0.layer_norm.weight",
                "encoder.layers.0.self_attn_layer_norm.weight",
            ),
            (
                "encoder.layers.1.feed_forward.output_dense.bias",
                "encoder.layers.1.fc2.bias",
            ),
            (
                "encoder.layers.1.final_layer_norm.bias",
                "encoder.layers.1.final_layer_norm.bias",
            ),
            ("encoder.layer_norm.weight", "encoder.layer_norm.weight"),
        ];
        for (hf, fairseq) in cases {
            assert_eq!(hf_to_fairseq(hf).as_deref(), Some(fairseq), "{hf}");
        }
        assert_eq!(hf_to_fairseq("wav2vec2.masked_spec_embed"), None);
        assert_eq!(hf_to_fairseq("quantizer.codevectors"), None);
        assert_eq!(hf_to_fairseq("project_hid.weight"), None);
    }

    #[test]
    fn layouts_are_recognised() {
        let keys = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            detect_layout(&keys(&["encoder.pos_conv.0.weight_g", "mask_emb"])),
            FrontEndLayout::Fairseq
        );
        assert_eq!(
            detect_layout(&keys(&["wav2vec2.feature_projection.projection.weight"])),
            FrontEndLayout::HuggingFace
        );
        assert_eq!(
            detect_layout(&keys(&["LL.weight", "ssl_model.model.mask_emb"])),
            FrontEndLayout::Detector
        );
        assert!(is_pretraining_only("quantizer.vars"));
        assert!(!is_pretraining_only("encoder.layer_norm.weight"));
    }
}
