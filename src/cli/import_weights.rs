//! `dpda import-weights`: convert released PyTorch weights (e.g. the AASIST authors' `.pth` state
//! dicts) into the project's safetensors checkpoints, with a JSON sidecar recording the model name
//! and the source file. A thin front end over [`crate::nn::import`].

use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{DType, Device};

use crate::nn::import::{assign_state, read_pth, read_safetensors, save_weights};
use crate::nn::registry::{build_model, ModelKind, ModelOptions};

/// The architectures whose released weights can be imported (clovaai's `AASIST.pth` and
/// `AASIST-L.pth`).
const IMPORTABLE: [ModelKind; 2] = [ModelKind::AasistL, ModelKind::Aasist];

fn parse_importable(name: &str) -> Result<ModelKind, String> {
    let kind: ModelKind = name
        .parse()
        .map_err(|e: crate::nn::NnError| e.to_string())?;
    if IMPORTABLE.contains(&kind) {
        Ok(kind)
    } else {
        Err(format!(
            "released weights can be imported for aasist and aasist-l, not {kind}"
        ))
    }
}

/// Arguments of `dpda import-weights`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The weights to import: a zip-format PyTorch state dict (`.pth`/`.pt`) or safetensors.
    pub input: PathBuf,
    /// The safetensors checkpoint to write; a JSON sidecar goes next to it (`.json`).
    pub output: PathBuf,
    /// The architecture, `aasist` or `aasist-l`; by default the one whose every tensor name and
    /// shape fits the file.
    #[arg(long, value_parser = parse_importable)]
    pub model: Option<ModelKind>,
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
        None => IMPORTABLE.to_vec(),
    };
    let mut errors = Vec::new();
    let mut imported = None;
    for candidate in candidates {
        // The random initial values are all overwritten by the strict assignment.
        let model = build_model(
            candidate,
            &ModelOptions::default(),
            0,
            &Device::Cpu,
            DType::F32,
        )?;
        match assign_state(model.as_ref(), &tensors, &args.input) {
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
    save_weights(model.as_ref(), &args.output)?;
    let sidecar = serde_json::json!({
        "model": model.name(),
        "source": args.input.display().to_string(),
        "source_format": if is_safetensors { "safetensors" } else { "pytorch-state-dict" },
        "num_parameters": model.num_parameters(),
        "num_tensors": tensors.len(),
    });
    let sidecar_file = sidecar_path(&args.output);
    let text = serde_json::to_string_pretty(&sidecar).context("cannot serialise the sidecar")?;
    crate::atomic_file::write_atomically(&sidecar_file, (text + "\n").as_bytes())
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
