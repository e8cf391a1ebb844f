//! `dpda study`: run a multi-seed comparison of training conditions (see `crate::study`), one
//! line per run, then the EER table and where `report.md` and `study.json` are. Running the same
//! command again skips finished runs and resumes interrupted ones.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;

use crate::study::{self, report, RunnerOptions, StudyEvent};

/// Arguments of `dpda study`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Study file (TOML: base configuration, seeds, conditions).
    pub study: PathBuf,
    /// Output folder (default: beside the study file, named after it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Training processes at once; each gets cores / N threads.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
}

/// Run the study; fails when a run failed or the study was interrupted (after writing what is
/// finished).
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.jobs == 0 {
        anyhow::bail!("--jobs must be at least 1");
    }
    let plan = study::load_study(&args.study)?;
    let out_dir = args.out.clone().unwrap_or_else(|| plan.default_out_dir());
    let exe = std::env::current_exe().context("cannot find the dpda executable")?;
    // First Ctrl-C / SIGTERM: start no further run and interrupt the running ones, which save a
    // checkpoint after their current step (they sit in their own process group, so the terminal's
    // signal reaches them only through the runner); a second one ends this process at once.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let count = AtomicUsize::new(0);
        let handler = ctrlc::set_handler(move || {
            if count.fetch_add(1, Ordering::SeqCst) >= 1 {
                eprintln!("interrupted again: exiting without waiting for the runs");
                std::process::exit(130);
            }
            eprintln!(
                "interrupted: waiting for the running trainings to save a checkpoint \
                 (interrupt again to exit at once)"
            );
            stop.store(true, Ordering::SeqCst);
        });
        if let Err(e) = handler {
            eprintln!("note: Ctrl-C will end the process at once ({e})");
        }
    }
    let total = plan.conditions.len() * plan.seeds.len();
    outln!(
        "study {}: {} conditions × {} seeds = {total} runs, {} at a time, in {}",
        plan.name,
        plan.conditions.len(),
        plan.seeds.len(),
        args.jobs,
        out_dir.display()
    );
    let options = RunnerOptions {
        exe,
        out_dir: out_dir.clone(),
        jobs: args.jobs,
        stop,
    };
    let outcome = study::run_study(&plan, &options, &mut |event| {
        let line = event_line(&event);
        // Printed as they come; a closed stdout must not stop the study.
        let _ = crate::cli::print_line(&line);
    })?;
    outln!();
    for set in outcome.results.test_sets.keys() {
        outln!("EER on {set} (%):");
        outln!(
            "  {:<24} {:>16} {:>20}",
            "condition",
            "mean ± std",
            "95 % CI"
        );
        for c in &outcome.results.conditions {
            let (ms, ci) = c.eer.get(set).map_or(("—".into(), "—".into()), |s| {
                (report::pct_mean_std(s), report::pct_ci(s.ci95))
            });
            outln!("  {:<24} {:>16} {:>20}", c.name, ms, ci);
        }
    }
    for c in &outcome.results.comparisons {
        outln!(
            "{} vs {} on {}: Δ EER {:+.2} % {}, p {}{}",
            c.condition,
            c.baseline,
            c.test_set,
            c.test.mean_diff * 100.0,
            report::pct_ci(c.test.ci95),
            c.test.p_value.map_or("—".into(), |p| format!("{p:.3}")),
            if c.within_noise == Some(true) {
                " (within noise)"
            } else {
                ""
            }
        );
    }
    outln!("report: {}", outcome.outputs.report_md.display());
    outln!("results: {}", outcome.outputs.study_json.display());
    let again = format!(
        "dpda study {}{}{}",
        args.study.display(),
        args.out
            .as_ref()
            .map_or(String::new(), |o| format!(" --out {}", o.display())),
        if args.jobs > 1 {
            format!(" --jobs {}", args.jobs)
        } else {
            String::new()
        }
    );
    if outcome.stopped {
        anyhow::bail!(
            "interrupted; finished runs are kept and interrupted ones saved a checkpoint: \
             `{again}` continues the study"
        );
    }
    if outcome.num_failed > 0 {
        anyhow::bail!(
            "{} of {total} runs failed (see report.md and each run's study-run.log); `{again}` \
             runs them again",
            outcome.num_failed
        );
    }
    Ok(())
}

fn event_line(event: &StudyEvent) -> String {
    match event {
        StudyEvent::RunSkipped {
            condition, seed, ..
        } => format!("{condition} seed {seed}: finished before, skipped"),
        StudyEvent::RunStarted {
            condition,
            seed,
            run_dir,
            resume,
        } => format!(
            "{condition} seed {seed}: {} in {}",
            if *resume { "resuming" } else { "started" },
            run_dir.display()
        ),
        StudyEvent::RunFinished {
            condition,
            seed,
            wall_time_s,
            eer,
            ..
        } => {
            let eers: Vec<String> = eer
                .iter()
                .map(|(set, e)| format!("{set} EER {:.2} %", e * 100.0))
                .collect();
            format!(
                "{condition} seed {seed}: finished in {wall_time_s:.1} s; {}",
                if eers.is_empty() {
                    "no test set evaluated".into()
                } else {
                    eers.join(", ")
                }
            )
        }
        StudyEvent::RunFailed {
            condition,
            seed,
            run_dir,
            exit_code,
            error,
            ..
        } => format!(
            "{condition} seed {seed}: FAILED (exit code {}) — {} (log: {})",
            exit_code.map_or("none".into(), |c| c.to_string()),
            error.lines().last().unwrap_or(""),
            crate::study::results::log_path(run_dir).display()
        ),
        StudyEvent::RunInterrupted {
            condition, seed, ..
        } => format!("{condition} seed {seed}: interrupted, checkpoint saved"),
    }
}
