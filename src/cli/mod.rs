//! The headless command-line front end: argument parsing (clap) and one module per subcommand.
//! Errors are reported here with `anyhow`, displayed with their whole context chain.

use clap::{Parser, Subcommand};

/// `println!` for the commands: a closed standard output ends the command quietly through
/// [`ClosedPipe`] (the enclosing function returns `anyhow::Result`).
macro_rules! outln {
    () => {
        $crate::cli::print_line("")?
    };
    ($($arg:tt)*) => {
        $crate::cli::print_line(&format!($($arg)*))?
    };
}

mod augment;
mod calibrate;
mod corpus;
mod demo;
mod demo_story;
mod eval;
mod explain;
mod import_weights;
mod info;
mod models;
mod score;
mod study;
mod sweep;
mod test_sets;
mod train;

/// DPDA Workbench: dual-path data-augmented training for speech deepfake detection.
#[derive(Parser, Debug)]
#[command(name = "dpda", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply RawBoost to one file or to every audio file in a folder.
    Augment(augment::Args),
    /// Evaluate a score file against a key: EER, thresholds, t-DCF, minDCF.
    Eval(eval::Args),
    /// Fit a score → log-likelihood-ratio calibration on labelled clips or a score file.
    Calibrate(calibrate::Args),
    /// The built-in demo corpus.
    #[command(subcommand)]
    Corpus(corpus::CorpusCommand),
    /// Show an audio file's format, sample rate, duration and peak.
    Info(info::Args),
    /// Run the end-to-end demo on the built-in demo corpus.
    Demo(demo::Args),
    /// Train a model from a TOML configuration (see experiments/).
    Train(train::Args),
    /// List the models folder: each model's architecture and input length.
    Models(models::Args),
    /// Score audio files with a trained model (score = bona fide logit).
    Score(score::Args),
    /// Explain a clip's score: occlusion attribution over time × frequency, speech vs non-speech.
    Explain(explain::Args),
    /// Evaluate a run's [[test]] sets with its best model.
    Test(test_sets::Args),
    /// Compare training conditions over several seeds (see experiments/studies/).
    Study(study::Args),
    /// Score a keyed set under a grid of conditions (noise, rooms, codecs, length, level): EER per condition and checkpoint.
    Sweep(sweep::Args),
    /// Convert released PyTorch weights (AASIST, AASIST-L) into a safetensors checkpoint.
    ImportWeights(import_weights::Args),
}

/// Standard output was closed by its reader (`dpda eval … | head`): not a failure of the command,
/// so `main` ends quietly with success once the command has finished what it must (an `--out`
/// file is still written in full).
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct ClosedPipe;

/// Print one line to standard output; a closed pipe becomes [`ClosedPipe`] instead of a panic.
pub fn print_line(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(ClosedPipe.into()),
        other => Ok(other?),
    }
}

/// No subcommand: the workbench where it is built, else the headless demo.
#[cfg(feature = "gui")]
fn open_workbench() -> anyhow::Result<()> {
    crate::gui::run().map_err(|e| {
        anyhow::anyhow!(
            "cannot open the workbench window ({e}); without a display, run `dpda demo` for the headless demo"
        )
    })
}

#[cfg(not(feature = "gui"))]
fn open_workbench() -> anyhow::Result<()> {
    demo::run(demo::Args::default())
}

/// Parse argv, run the command, map errors to an exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    crate::nn::kernels::retain_freed_memory();
    let result = match cli.command {
        Some(Command::Augment(a)) => augment::run(a),
        Some(Command::Eval(a)) => eval::run(a),
        Some(Command::Calibrate(a)) => calibrate::run(a),
        Some(Command::Corpus(c)) => corpus::run(c),
        Some(Command::Info(a)) => info::run(a),
        Some(Command::Demo(a)) => demo::run(a),
        Some(Command::Train(a)) => train::run(a),
        Some(Command::Models(a)) => models::run(a),
        Some(Command::Score(a)) => score::run(a),
        Some(Command::Explain(a)) => explain::run(a),
        Some(Command::Test(a)) => test_sets::run(a),
        Some(Command::Study(a)) => study::run(a),
        Some(Command::Sweep(a)) => sweep::run(a),
        Some(Command::ImportWeights(a)) => import_weights::run(a),
        None => open_workbench(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.is::<ClosedPipe>() => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
