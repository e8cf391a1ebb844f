//! Loading pretrained XLS-R weights into the front end of `xlsr-*` models, and the key mapping
//! for the released dpda_ga detectors.
//!
//! Four layouts are recognised by their key names:
//! - fairseq pretraining (`xlsr2_300m.pt`: the state dict under the key `model`, names such as
//!   `feature_extractor.conv_layers.0.0.weight`, `encoder.pos_conv.0.weight_g`); the rest of
//!   such a checkpoint (`cfg` as an omegaconf `DictConfig`, `args`, `extra_state`,
//!   `last_optimizer_state` with Adam's tensors) is parsed by the pickle reader but not used;
//! - fairseq fine-tuning (a `wav2vec_ctc` checkpoint): the same names under
//!   `w2v_encoder.w2v_model.`, next to the CTC projection `w2v_encoder.proj.*`;
//! - Hugging Face (`facebook/wav2vec2-xls-r-300m`: `pytorch_model.bin` or `model.safetensors`,
//!   names such as `wav2vec2.feature_extractor.conv_layers.0.conv.weight`,
//!   `encoder.pos_conv_embed.conv.weight_g` or its `parametrizations.weight.original0` form);
//! - a whole detector (dpda_ga `best.pth`, or this project's checkpoints): `ssl_model.model.*`.
//!
//! Entries with no counterpart in the encoder (quantizer, projection heads, mask embedding, a CTC
//! output layer) are set aside deliberately and listed in [`FrontEndLoad::ignored`]. Loading is
//! strict within the front end: every front-end variable must be present with its shape, and a
//! front-end tensor the model does not have is an error, so a wrong size fails with the names
//! and both shapes. The CLI's `--init-front-end` style options and [`crate::nn::registry`] users
//! call [`load_front_end`]; whole-detector files go through [`crate::nn::import::load_weights`].

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;

use super::import::{assign_strict, is_pretraining_only, load_error, read_pth, read_safetensors};
use super::{Model, NnError, FRONT_END_PREFIX};

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

/// The prefix of the encoder inside a fairseq fine-tuned (`wav2vec_ctc`) checkpoint.
pub const FAIRSEQ_FINE_TUNED_PREFIX: &str = "w2v_encoder.w2v_model.";

/// The layout a set of keys comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontEndLayout {
    /// fairseq's wav2vec 2.0 names (a pretraining checkpoint such as `xlsr2_300m.pt`).
    Fairseq,
    /// A fairseq fine-tuned CTC checkpoint: fairseq names under `w2v_encoder.w2v_model.`.
    FairseqFineTuned,
    /// Hugging Face's `Wav2Vec2Model` / `Wav2Vec2ForPreTraining` names.
    HuggingFace,
    /// A whole detector with the front end under `ssl_model.model.`.
    Detector,
}

impl FrontEndLayout {
    /// A short description for messages, e.g. "fairseq fine-tuned (CTC)".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Fairseq => "fairseq",
            Self::FairseqFineTuned => "fairseq fine-tuned (CTC)",
            Self::HuggingFace => "Hugging Face",
            Self::Detector => "detector",
        }
    }
}

/// Recognises the layout from the key names.
pub fn detect_layout<'a>(keys: impl IntoIterator<Item = &'a String>) -> FrontEndLayout {
    let mut layout = FrontEndLayout::Fairseq;
    for k in keys {
        if k.starts_with("ssl_model.model.") {
            return FrontEndLayout::Detector;
        }
        if k.starts_with(FAIRSEQ_FINE_TUNED_PREFIX) {
            return FrontEndLayout::FairseqFineTuned;
        }
        if k.contains("feature_projection.") || k.contains("pos_conv_embed.") {
            layout = FrontEndLayout::HuggingFace;
        }
    }
    layout
}

/// The fairseq name of `key` in `layout`, `None` for entries outside the encoder (back-end
/// entries of a detector, a fine-tuned checkpoint's CTC projection).
fn to_fairseq(layout: FrontEndLayout, key: &str) -> Option<String> {
    match layout {
        FrontEndLayout::Fairseq => Some(key.to_string()),
        FrontEndLayout::FairseqFineTuned => key
            .strip_prefix(FAIRSEQ_FINE_TUNED_PREFIX)
            .map(str::to_string),
        FrontEndLayout::HuggingFace => hf_to_fairseq(key),
        FrontEndLayout::Detector => key
            .strip_prefix(FRONT_END_PREFIX)
            .and_then(|k| k.strip_prefix('.'))
            .map(str::to_string),
    }
}

/// A file's tensors sorted into the front end's and the rest.
#[derive(Debug)]
pub struct FrontEndTensors {
    /// The layout recognised from the key names.
    pub layout: FrontEndLayout,
    /// Front-end tensors under the model's names (`ssl_model.model.<fairseq key>`).
    pub tensors: HashMap<String, Tensor>,
    /// The file's names of the entries set aside (pretraining heads, a CTC projection), sorted;
    /// a detector file's back end is not listed.
    pub ignored: Vec<String>,
}

/// Sorts a file's tensors into front-end tensors (renamed to the model's names) and entries with
/// no counterpart in the encoder.
pub fn split_front_end(raw: HashMap<String, Tensor>) -> FrontEndTensors {
    let layout = detect_layout(raw.keys());
    let mut tensors = HashMap::new();
    let mut ignored = Vec::new();
    for (key, t) in raw {
        match to_fairseq(layout, &key) {
            Some(fairseq) if !is_pretraining_only(&fairseq) => {
                tensors.insert(format!("{FRONT_END_PREFIX}.{fairseq}"), t);
            }
            None if layout == FrontEndLayout::Detector => {}
            _ => ignored.push(key),
        }
    }
    ignored.sort();
    FrontEndTensors {
        layout,
        tensors,
        ignored,
    }
}

/// Front-end tensors renamed to the model's names (`ssl_model.model.<fairseq key>`); entries
/// without a counterpart are dropped, and back-end entries of a detector file are ignored.
pub fn front_end_tensors(raw: HashMap<String, Tensor>) -> HashMap<String, Tensor> {
    split_front_end(raw).tensors
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

/// What [`load_front_end_report`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontEndLoad {
    /// The layout the file was read as.
    pub layout: FrontEndLayout,
    /// How many front-end tensors were set.
    pub num_assigned: usize,
    /// The file's entries set aside on purpose (see [`FrontEndTensors::ignored`]).
    pub ignored: Vec<String>,
}

/// Loads pretrained XLS-R weights (fairseq pretrained or fine-tuned, Hugging Face, or a whole
/// detector file) into the front end of an `xlsr-*` model, leaving the back end as it is, and
/// says what was read and what was set aside.
pub fn load_front_end_report(model: &dyn Model, path: &Path) -> Result<FrontEndLoad, NnError> {
    let split = split_front_end(read_any(path)?);
    if split.tensors.is_empty() {
        let mut message = String::from("no wav2vec 2.0 tensors found");
        if !split.ignored.is_empty() {
            message.push_str(&format!(
                " (read as {}; only entries with no encoder counterpart: {})",
                split.layout.describe(),
                split
                    .ignored
                    .iter()
                    .take(6)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return Err(load_error(path, message));
    }
    let what = format!("{} front end ", split.layout.describe());
    let num_assigned = assign_strict(
        model,
        &split.tensors,
        &format!("{FRONT_END_PREFIX}."),
        &what,
        path,
    )?;
    Ok(FrontEndLoad {
        layout: split.layout,
        num_assigned,
        ignored: split.ignored,
    })
}

/// Loads pretrained XLS-R weights into the front end of an `xlsr-*` model (see
/// [`load_front_end_report`]); returns the number of tensors set.
pub fn load_front_end(model: &dyn Model, path: &Path) -> Result<usize, NnError> {
    load_front_end_report(model, path).map(|report| report.num_assigned)
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
        assert_eq!(
            detect_layout(&keys(&[
                "w2v_encoder.proj.weight",
                "w2v_encoder.w2v_model.mask_emb"
            ])),
            FrontEndLayout::FairseqFineTuned
        );
        assert!(is_pretraining_only("quantizer.vars"));
        assert!(!is_pretraining_only("encoder.layer_norm.weight"));
    }

    #[test]
    fn fine_tuned_keys_lose_their_prefix_and_the_ctc_head_is_set_aside() {
        let t = Tensor::zeros(1, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
        let raw: HashMap<String, Tensor> = [
            "w2v_encoder.w2v_model.encoder.layer_norm.bias",
            "w2v_encoder.w2v_model.mask_emb",
            "w2v_encoder.proj.weight",
        ]
        .iter()
        .map(|k| (k.to_string(), t.clone()))
        .collect();
        let split = split_front_end(raw);
        assert_eq!(split.layout, FrontEndLayout::FairseqFineTuned);
        let names: Vec<&String> = split.tensors.keys().collect();
        assert_eq!(names, ["ssl_model.model.encoder.layer_norm.bias"]);
        assert_eq!(
            split.ignored,
            ["w2v_encoder.proj.weight", "w2v_encoder.w2v_model.mask_emb"]
        );
    }
}
