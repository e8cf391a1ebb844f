//! `dpda import-weights`: convert released PyTorch weights (e.g. the AASIST authors' `.pth` state
//! dicts) into the project's safetensors checkpoints, with a JSON sidecar recording the model name
//! and the source file. A thin front end over [`crate::nn::import`].

use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{DType, Device};

use crate::nn::aasist::{Aasist, AasistConfig};
use crate::nn::import::{assign_state, read_pth, read_safetensors, save_weights};
use crate::nn::Model;
use crate::rng::Rng;

/// Model architectures whose released weights can be imported.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportModel {
    /// AASIST (clovaai `AASIST.pth`).
    Aasist,
    /// AASIST-L (clovaai `AASIST-L.pth`).
    #[value(name = "aasist-l")]
    AasistL,
}

impl ImportModel {
    fn config(self) -> AasistConfig {
        match self {
            ImportModel::Aasist => AasistConfig::aasist(),
            ImportModel::AasistL => AasistConfig::aasist_l(),
        }
    }
}

/// Arguments of `dpda import-weights`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The weights to import: a zip-format PyTorch state dict (`.pth`/`.pt`) or safetensors.
    pub input: PathBuf,
    /// The safetensors checkpoint to write; a JSON sidecar goes next to it (`.json`).
    pub output: PathBuf,
    /// The architecture; by default the one whose every tensor name and shape fits the file.
    #[arg(long, value_enum)]
    pub model: Option<ImportModel>,
}

/// The sidecar's path: the checkpoint's path with the extension `json`.
pub fn sidecar_path(output: &Path) -> PathBuf {
    output.with_extension("json")
}

/// Load, check against the architecture, write the checkpoint and its sidecar.
pub fn run(args: Args) -> anyhow::Result<()> {
    let is_safetensors = args
        .input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    let tensors = if is_safetensors {
        read_safetensors(&args.input)?
    } else {
        read_pth(&args.input)?
    };
    let candidates = match args.model {
        Some(m) => vec![m],
        None => vec![ImportModel::AasistL, ImportModel::Aasist],
    };
    let mut errors = Vec::new();
    let mut imported = None;
    for candidate in candidates {
        // The random initial values are all overwritten by the strict assignment.
        let model = Aasist::new(
            candidate.config(),
            DType::F32,
            &Device::Cpu,
            &mut Rng::new(0),
        )?;
        match assign_state(&model, &tensors, &args.input) {
            Ok(()) => {
                imported = Some(model);
                break;
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let Some(model) = imported else {
        anyhow::bail!("{}", errors.join("\n"));
    };
    save_weights(&model, &args.output)?;
    let sidecar = serde_json::json!({
        "model": model.name(),
        "source": args.input.display().to_string(),
        "source_format": if is_safetensors { "safetensors" } else { "pytorch-state-dict" },
        "num_parameters": model.num_parameters(),
        "num_tensors": tensors.len(),
    });
    let sidecar_file = sidecar_path(&args.output);
    let text = serde_json::to_string_pretty(&sidecar).context("cannot serialise the sidecar")?;
    std::fs::write(&sidecar_file, text + "\n")
        .with_context(|| format!("cannot write {}", sidecar_file.display()))?;
    outln!(
        "{} → {} (model {}, {} parameters; sidecar {})",
        args.input.display(),
        args.output.display(),
        model.name(),
        model.num_parameters(),
        sidecar_file.display()
    );
    Ok(())
}
