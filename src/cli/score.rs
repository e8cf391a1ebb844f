//! `dpda score`: score audio files with a trained model and print (or write) `<name> <score>`
//! lines that `dpda eval` reads. A thin front end over [`crate::train::score::Scorer`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::train::score::Scorer;

/// Arguments of `dpda score`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The score of a clip is the model's bona fide logit: higher means more bona fide \
                  (more likely genuine speech), lower more likely spoofed."
)]
pub struct Args {
    /// A run folder (uses checkpoints/final.safetensors) or a .safetensors checkpoint.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Model name, when the checkpoint has no run configuration next to it.
    #[arg(long)]
    pub model: Option<String>,
    /// Score windows of this length (seconds) instead of the first crop of each clip; the clip
    /// score is the mean of its windows.
    #[arg(long)]
    pub window_s: Option<f64>,
    /// Hop between windows in seconds (default: the window length).
    #[arg(long, requires = "window_s")]
    pub hop_s: Option<f64>,
    /// Also print each window's score as `<name>@<start_s> <score>`.
    #[arg(long, requires = "window_s")]
    pub per_window: bool,
    /// Audio files, folders (searched recursively) or .txt lists of paths (one per line,
    /// relative to the list's folder).
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Write the score file here as well as printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn expand_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            files.extend(
                crate::audio::find_audio_files(input)
                    .with_context(|| format!("cannot list {}", input.display()))?,
            );
        } else if input
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
        {
            let text = std::fs::read_to_string(input)
                .with_context(|| format!("cannot read list {}", input.display()))?;
            let base = input.parent().unwrap_or(Path::new("."));
            files.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(|l| base.join(l)),
            );
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Score every input; fails at the end if any file could not be scored.
pub fn run(args: Args) -> anyhow::Result<()> {
    let scorer = Scorer::load(&args.checkpoint, args.model.as_deref())
        .with_context(|| format!("cannot load the model from {}", args.checkpoint.display()))?;
    let files = expand_inputs(&args.inputs)?;
    let window = match args.window_s {
        Some(w) if !(w.is_finite() && w > 0.0) => anyhow::bail!("--window-s must be > 0, got {w}"),
        Some(w) => {
            let hop = args.hop_s.unwrap_or(w);
            if !(hop.is_finite() && hop > 0.0) {
                anyhow::bail!("--hop-s must be > 0, got {hop}");
            }
            Some((
                (w * 16_000.0).round() as usize,
                (hop * 16_000.0).round() as usize,
            ))
        }
        None => None,
    };
    let mut lines = Vec::new();
    let mut num_failed = 0usize;
    for path in &files {
        let name = crate::data::protocol::utt_stem(&path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ))
        .to_string();
        let result = crate::audio::load_mono_16k(path)
            .map_err(anyhow::Error::from)
            .and_then(|clip| match window {
                None => Ok((scorer.score(&clip.samples)?, Vec::new())),
                Some((len, hop)) => {
                    let per = scorer.score_windows(&clip.samples, len, hop)?;
                    let mean = per.iter().map(|(_, s)| s).sum::<f64>() / per.len() as f64;
                    Ok((mean, per))
                }
            });
        match result {
            Ok((score, windows)) => {
                if args.per_window {
                    for (start, s) in windows {
                        println!("{name}@{:.3} {s}", start as f64 / 16_000.0);
                    }
                }
                let line = format!("{name} {score}");
                println!("{line}");
                lines.push(line);
            }
            Err(e) => {
                num_failed += 1;
                eprintln!("error: {}: {e:#}", path.display());
            }
        }
    }
    if let Some(out) = &args.out {
        let mut f = std::fs::File::create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        for line in &lines {
            writeln!(f, "{line}").with_context(|| format!("cannot write {}", out.display()))?;
        }
    }
    if num_failed > 0 {
        anyhow::bail!("{num_failed} of {} files could not be scored", files.len());
    }
    Ok(())
}
