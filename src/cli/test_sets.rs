//! `dpda test RUN_DIR`: score and evaluate the `[[test]]` sets of a run's configuration with its
//! best model, as the trainer does when a run ends; prints the summary table and writes
//! `scores-<name>.txt` and `tests.json` into the run folder. A thin front end over
//! [`crate::inference::testsets`].

use std::path::PathBuf;

use anyhow::Context;

use super::print_line;
use crate::inference::{testsets, ModelRequest, RunLayout, Scorer};

/// Arguments of `dpda test`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Evaluate only these sets (by name; repeatable).
    #[arg(long = "only")]
    pub only: Vec<String>,
    /// Take the `[[test]]` sets from this configuration instead of the run's own.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Evaluate; fails when a set could not be evaluated.
pub fn run(args: Args) -> anyhow::Result<()> {
    let layout = RunLayout::new(&args.run_dir);
    if !layout.is_run() {
        anyhow::bail!(
            "{} is not a run folder (no config.toml)",
            args.run_dir.display()
        );
    }
    let config = args.config.clone().unwrap_or_else(|| layout.config());
    let plan = crate::train::load_plan(&config, &[])
        .with_context(|| format!("reading the test sets of {}", config.display()))?;
    let mut sets = plan.tests.clone();
    for name in &args.only {
        if !sets.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = plan.tests.iter().map(|s| s.name.as_str()).collect();
            anyhow::bail!(
                "--only {name}: no such test set in {} (known: {})",
                config.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    if !args.only.is_empty() {
        sets.retain(|s| args.only.contains(&s.name));
    }
    if sets.is_empty() {
        anyhow::bail!(
            "{} has no [[test]] sets; add them (see experiments/paper/) or pass --config",
            config.display()
        );
    }
    testsets::check_paths(&sets)?;
    // The trainer may be writing this folder (its own test sets at the end of a run).
    let _lock = layout.lock()?;
    let scorer = Scorer::load(&ModelRequest::new(&args.run_dir))
        .with_context(|| format!("cannot load the model of {}", args.run_dir.display()))?;
    eprintln!("scoring with {}", scorer.info().describe());
    let outcomes = testsets::evaluate_all(
        &scorer,
        &sets,
        &layout,
        &mut |line| eprintln!("{line}"),
        &|| false,
    )?;
    print_line(testsets::summary_table(&outcomes).trim_end())?;
    eprintln!("results: {}", layout.tests_summary().display());
    let failed = outcomes.iter().filter(|o| o.report.is_none()).count();
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} test sets could not be evaluated",
            outcomes.len()
        );
    }
    Ok(())
}
