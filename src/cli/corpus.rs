//! `dpda corpus …`: write the built-in demo corpus to disk in the ASVspoof 2019 LA layout, with a
//! progress bar and a summary. The generation itself is `dpda::data::demo`'s.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::corpus::Split;
use crate::data::demo::{DemoCorpus, DemoSize, DEFAULT_SEED};

#[derive(clap::Subcommand, Debug)]
pub enum CorpusCommand {
    /// Write the demo corpus in the ASVspoof 2019 LA layout (FLAC + protocols).
    Export(ExportArgs),
}

/// Arguments of `dpda corpus export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Output folder (created if missing; existing files of the same names are overwritten).
    pub dir: PathBuf,
    /// Seed of the generator: the same seed always gives the same corpus.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Corpus size: tiny, small, default or large.
    #[arg(long, default_value = "default", value_parser = parse_size)]
    pub size: DemoSize,
    /// No progress bar (summary only).
    #[arg(long)]
    pub quiet: bool,
}

fn parse_size(s: &str) -> Result<DemoSize, String> {
    s.parse()
}

pub fn run(cmd: CorpusCommand) -> anyhow::Result<()> {
    match cmd {
        CorpusCommand::Export(args) => export(args),
    }
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let corpus = DemoCorpus::new(args.size, args.seed);
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new((corpus.items.len() + corpus.wild.len()) as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:40}] {pos}/{len} files, {elapsed} (ETA {eta})",
        )
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    bar.set_prefix("demo corpus");
    let summary = corpus
        .write_asvspoof2019(&args.dir, &|_| bar.inc(1))
        .with_context(|| format!("writing the demo corpus to {}", args.dir.display()))?;
    bar.finish_and_clear();
    let elapsed_s = started.elapsed().as_secs_f64();
    outln!(
        "Wrote the synthetic demo corpus (size {}, seed {}) to {}",
        args.size,
        args.seed,
        args.dir.display()
    );
    outln!(
        "{} files, {:.1} min of audio, in {:.1} s",
        summary.num_files,
        summary.total_duration_s / 60.0,
        elapsed_s
    );
    for split in Split::ALL {
        let mut parts = Vec::new();
        let mut total = 0;
        for ((s, attack), n) in &summary.counts {
            if *s == split {
                parts.push(format!("{attack} {n}"));
                total += n;
            }
        }
        outln!("  {:<5} {total:>5}: {}", split.name(), parts.join(", "));
    }
    let parts: Vec<String> = summary
        .wild_counts
        .iter()
        .map(|(attack, n)| format!("{attack} {n}"))
        .collect();
    outln!(
        "  {:<5} {:>5}: {} (conditions never seen in training; key wild/key.csv)",
        crate::data::demo::WILD_NAME,
        summary.wild_counts.values().sum::<usize>(),
        parts.join(", ")
    );
    Ok(())
}
