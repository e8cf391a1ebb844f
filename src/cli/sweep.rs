//! `dpda sweep`: score a keyed set of clips under a grid of conditions with one or more
//! checkpoints and print the EER of each checkpoint under each condition. A thin front end over
//! [`crate::sweep`].

use std::path::PathBuf;

use anyhow::Context;

use crate::inference::ModelRequest;
use crate::sweep::{run_sweep, SweepGrid, SweepPlan, SweepResult};

/// Arguments of `dpda sweep`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The default grid has 14 conditions: clean; white noise and babble (other clips \
                  of the set) at 15 and 5 dB SNR; rooms of RT60 0.3 and 0.8 s; G.711 μ-law and \
                  A-law lines, the telephone band alone and the lossy-codec stand-in; the first \
                  1 s; −20 dB and +20 dB (clipping). A grid file has optional tables [noise] \
                  kinds/snr_db, [reverb] rt60_s, [codec] kinds, [duration] duration_s, [level] \
                  gain_db and a top-level clean = true|false."
)]
pub struct Args {
    /// A run folder or checkpoint (as for `dpda score`); repeat to compare (two give a
    /// difference column: second minus first).
    #[arg(long, required = true)]
    pub checkpoint: Vec<PathBuf>,
    /// The key labelling the clips (any format `dpda eval` reads).
    #[arg(long)]
    pub key: PathBuf,
    /// A TOML grid of conditions instead of the default grid.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Write the result here: JSON when the name ends in .json, else CSV.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Audio files, folders (searched recursively) or .txt lists of paths.
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
}

/// The result as a table: one row per condition, EER % per checkpoint (and the difference).
pub fn table(result: &SweepResult) -> Vec<String> {
    let width = result
        .condition_names
        .iter()
        .map(String::len)
        .chain(std::iter::once("condition".len()))
        .max()
        .unwrap_or(9);
    let col = |s: &str| format!("{s:>12}");
    let mut header = format!("{:<width$}", "condition");
    for i in 0..result.checkpoints.len() {
        header.push_str(&col(&format!("[{}] EER %", i + 1)));
    }
    let two = result.checkpoints.len() == 2;
    if two {
        header.push_str(&col("diff pp"));
    }
    let mut lines = Vec::new();
    for (i, c) in result.checkpoints.iter().enumerate() {
        lines.push(format!("[{}] {}", i + 1, c.label));
    }
    lines.push(header);
    let num = |v: Option<f64>, signed: bool| match (v, signed) {
        (Some(v), true) => col(&format!("{v:+.2}")),
        (Some(v), false) => col(&format!("{v:.2}")),
        (None, _) => col("-"),
    };
    for (i, name) in result.condition_names.iter().enumerate() {
        let mut line = format!("{name:<width$}");
        for k in 0..result.checkpoints.len() {
            line.push_str(&num(result.eer_percent(i, k), false));
        }
        if two {
            line.push_str(&num(result.difference_percent(i), true));
        }
        lines.push(line);
    }
    lines
}

/// Refuse an `--out` that is an input, the key, the grid or a checkpoint.
fn check_out(out: &std::path::Path, args: &Args) -> anyhow::Result<()> {
    let Ok(out_real) = out.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    let same = |p: &PathBuf| p.canonicalize().is_ok_and(|c| c == out_real);
    let inside = |p: &PathBuf| p.canonicalize().is_ok_and(|c| out_real.starts_with(c));
    if args.inputs.iter().any(inside)
        || args.checkpoint.iter().any(inside)
        || same(&args.key)
        || args.grid.as_ref().is_some_and(same)
    {
        anyhow::bail!(
            "--out {} is one of the inputs; choose another file",
            out.display()
        );
    }
    Ok(())
}

/// Run the sweep and print the table (or JSON).
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        check_out(out, &args)?;
    }
    let grid = match &args.grid {
        Some(path) => SweepGrid::load(path)?,
        None => SweepGrid::default(),
    };
    let plan = SweepPlan {
        checkpoints: args.checkpoint.iter().map(ModelRequest::new).collect(),
        key: args.key.clone(),
        inputs: args.inputs.clone(),
        grid,
    };
    eprintln!(
        "sweeping {} conditions with {} checkpoint(s)",
        plan.grid.conditions.len(),
        plan.checkpoints.len()
    );
    let result = run_sweep(&plan, &mut |p| {
        eprint!("\r{}/{} clips", p.done_clips, p.total_clips);
        true
    })?;
    eprintln!();
    for c in &result.checkpoints {
        eprintln!("{}: {}", c.label, c.model);
    }
    eprintln!(
        "{} bona fide and {} spoofed clips scored",
        result.num_bonafide, result.num_spoof
    );
    if result.num_key_without_audio > 0 {
        eprintln!(
            "note: {} key trials have no audio among the inputs",
            result.num_key_without_audio
        );
    }
    if result.num_audio_without_key > 0 {
        eprintln!(
            "note: {} audio files are not in the key and were not scored",
            result.num_audio_without_key
        );
    }
    for f in &result.failures {
        eprintln!("error: {}: {}", f.path.display(), f.message);
    }
    if let Some(out) = &args.out {
        result
            .write(out)
            .with_context(|| format!("cannot write --out {}", out.display()))?;
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        for line in table(&result) {
            outln!("{line}");
        }
    }
    if !result.failures.is_empty() {
        anyhow::bail!(
            "{} of {} files could not be read",
            result.failures.len(),
            result.failures.len() + result.num_bonafide + result.num_spoof
        );
    }
    Ok(())
}
