//! `dpda models`: list the models folder — each entry's architecture, input length, stored
//! threshold and calibration, as `dpda score` would load it. A thin front end over [`crate::inference::models`].

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use super::print_line;
use crate::inference::models::{default_models_dir, list_models, MODELS_DIR_ENV};

/// Arguments of `dpda models`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Put released weights (AASIST.pth, AASIST-L.pth), .safetensors \
                        checkpoints or whole run folders in the models folder; the workbench's \
                        Detect view lists the same entries."
)]
pub struct Args {
    /// The models folder (default: $DPDA_MODELS_DIR, else `models`).
    pub dir: Option<PathBuf>,
    /// Print one JSON object per model instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Which calibration scoring would apply, in a few words.
pub(crate) fn calibration_words(info: &crate::inference::ModelInfo) -> String {
    match &info.calibration {
        Some(c) => format!("calibrated ({}, {})", c.origin, c.path.display()),
        None => "uncalibrated".to_string(),
    }
}

/// Run `dpda models`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.dir.unwrap_or_else(default_models_dir);
    let entries = list_models(&dir).with_context(|| {
        format!(
            "cannot list the models folder {} (create it and put weights in it, or set {MODELS_DIR_ENV})",
            dir.display()
        )
    })?;
    if entries.is_empty() {
        eprintln!(
            "{}: no .pth, .pt or .safetensors file and no run folder",
            dir.display()
        );
    }
    for entry in &entries {
        let c = &entry.candidate;
        if args.json {
            let value = match &entry.info {
                Ok(info) => json!({
                    "name": c.label,
                    "path": c.path.display().to_string(),
                    "kind": c.kind,
                    "model": info.name,
                    "num_samples": info.num_samples,
                    "input_s": info.num_samples as f64 / f64::from(crate::audio::TARGET_SAMPLE_RATE_HZ),
                    "threshold": info.threshold.as_ref().map(|t| t.value),
                    "calibration": info.calibration.as_ref().map(|c| c.path.display().to_string()),
                    "error": null,
                }),
                Err(e) => json!({
                    "name": c.label,
                    "path": c.path.display().to_string(),
                    "kind": c.kind,
                    "error": e,
                }),
            };
            print_line(&value.to_string())?;
            continue;
        }
        match &entry.info {
            Ok(info) => print_line(&format!(
                "{}\t{}\t{} samples ({:.2} s)\t{}\t{}\t{}",
                c.label,
                info.name,
                info.num_samples,
                info.num_samples as f64 / f64::from(crate::audio::TARGET_SAMPLE_RATE_HZ),
                info.threshold.as_ref().map_or_else(
                    || "no stored threshold".to_string(),
                    |t| format!("threshold {:.4}", t.value)
                ),
                calibration_words(info),
                c.kind.describe(),
            ))?,
            Err(e) => print_line(&format!("{}\tdoes not load: {e}", c.label))?,
        }
    }
    Ok(())
}
