//! `dpda train`: run a training configuration in a run folder with a progress bar (loss, gradient
//! cosine, conflict fraction, ETA) and a summary at the end. A thin front end over the trainer's
//! worker API, the same one the GUI drives.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::train::{self, SpawnOptions, TrainEvent};

/// Arguments of `dpda train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training configuration (TOML; see `experiments/`).
    pub config: PathBuf,
    /// Run folder (default: `runs/<config name>`).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Stop after this many optimizer steps in total.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Override a configuration key, e.g. `--set train.align=pcgrad` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Continue from the run folder's last checkpoint (an error when it has none).
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Start afresh in a run folder that holds a run, replacing it (without this, or --resume,
    /// such a folder is refused).
    #[arg(long)]
    pub overwrite: bool,
    /// No progress bar (events still go to the run folder's files).
    #[arg(long)]
    pub quiet: bool,
}

/// Train, showing progress; fails when the run ends with an error.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut overrides = args.set.clone();
    if args.max_steps == Some(0) {
        anyhow::bail!("--max-steps must be at least 1 (leave it out for no limit)");
    }
    if let Some(n) = args.max_steps {
        overrides.push(format!("train.max_steps={n}"));
    }
    let plan = train::load_plan(&args.config, &overrides)
        .with_context(|| format!("configuration {}", args.config.display()))?;
    let run_dir = args.run_dir.clone().unwrap_or_else(|| {
        let stem = args
            .config
            .file_stem()
            .map_or("run".into(), |s| s.to_string_lossy().into_owned());
        crate::inference::layout::default_run_dir(Path::new("runs"), &stem)
    });
    let options = SpawnOptions {
        resume: args.resume,
        overwrite: args.overwrite,
        waker: None,
    };
    let mut handle = train::spawn_with(plan, run_dir.clone(), options)
        .context("cannot start the training thread")?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} steps {msg} ({elapsed}, ETA {eta})")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let out = Output {
        bar: &bar,
        verbose: !args.quiet,
    };
    let mut error = None;
    let mut last_epoch_line = String::new();
    // First Ctrl-C / SIGTERM: stop after the current step, saving `last`; a second one ends the
    // process at once.
    let interrupts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let interrupts = interrupts.clone();
        let handler = ctrlc::set_handler(move || {
            if interrupts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 1 {
                eprintln!("interrupted again: exiting without waiting for the step to end");
                std::process::exit(130);
            }
        });
        if let Err(e) = handler {
            out.notice(format!("Ctrl-C will end the process at once ({e})"));
        }
    }
    let mut stopping = false;
    loop {
        if !stopping && interrupts.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            stopping = true;
            out.notice(
                "interrupted: stopping after the current step and saving a checkpoint \
                 (interrupt again to exit at once)",
            );
            handle.stop();
        }
        let Some(event) = handle.recv_timeout(Duration::from_millis(100)) else {
            if handle.is_finished() {
                // Drain what the worker left behind, then stop.
                match handle.try_recv() {
                    Some(ev) => {
                        if handle_event(ev, &out, &mut error, &mut last_epoch_line) {
                            break;
                        }
                        continue;
                    }
                    None => break,
                }
            }
            continue;
        };
        if handle_event(event, &out, &mut error, &mut last_epoch_line) {
            break;
        }
    }
    handle.join();
    bar.finish_and_clear();
    if let Some(message) = error {
        anyhow::bail!("training failed in {}: {message}", run_dir.display());
    }
    if stopping {
        let mut again = format!(
            "dpda train {} --run-dir {} --resume",
            args.config.display(),
            run_dir.display()
        );
        for set in &args.set {
            again.push_str(&format!(" --set {set}"));
        }
        if let Some(n) = args.max_steps {
            again.push_str(&format!(" --max-steps {n}"));
        }
        anyhow::bail!(
            "interrupted; the run's state is saved in {}/checkpoints/last: continue with `{again}`",
            run_dir.display()
        );
    }
    Ok(())
}

/// Where run lines go: above the progress bar on a terminal, else (logs, pipes, where
/// indicatif hides the bar) straight to stderr.
struct Output<'a> {
    bar: &'a ProgressBar,
    /// Whether ordinary lines are wanted (`--quiet` keeps only notices).
    verbose: bool,
}

impl Output<'_> {
    fn line(&self, text: impl AsRef<str>) {
        self.emit(text.as_ref(), self.verbose);
    }

    fn notice(&self, text: impl AsRef<str>) {
        self.emit(text.as_ref(), true);
    }

    fn emit(&self, text: &str, wanted: bool) {
        if !self.bar.is_hidden() {
            self.bar.println(text);
        } else if wanted {
            eprintln!("{text}");
        }
    }
}

/// Update the display for one event; true when the run is over.
fn handle_event(
    event: TrainEvent,
    out: &Output<'_>,
    error: &mut Option<String>,
    last_epoch_line: &mut String,
) -> bool {
    match event {
        TrainEvent::Started {
            run_dir,
            num_params,
            num_train_clips,
            num_dev_clips,
            total_steps,
            resumed_at_step,
            ..
        } => {
            out.bar.set_length(total_steps);
            out.bar.set_position(resumed_at_step.unwrap_or(0));
            out.line(format!(
                "run {}: {num_params} parameters, {num_train_clips} train / {num_dev_clips} dev clips{}",
                run_dir.display(),
                resumed_at_step.map_or(String::new(), |s| format!(", resumed at step {s}"))
            ));
        }
        TrainEvent::Step(m) => {
            out.bar.set_position(m.step);
            let loss = m.loss_orig.or(m.loss_aug).unwrap_or(f64::NAN);
            let mut msg = format!("epoch {} loss {loss:.4}", m.epoch);
            if let (Some(cos), Some(frac)) = (m.grad_cos, m.conflict_frac) {
                msg.push_str(&format!(" cos {cos:+.3} conflicts {:.0}%", frac * 100.0));
            }
            out.bar.set_message(msg);
        }
        TrainEvent::Epoch(e) => {
            *last_epoch_line = format!(
                "epoch {}: train loss {:.4}, dev loss {:.4}, dev EER {:.2} %{}{}{}",
                e.epoch,
                e.train_loss,
                e.dev_loss,
                e.dev_eer * 100.0,
                e.conflict_frac
                    .map_or(String::new(), |f| format!(", conflicts {:.1} %", f * 100.0)),
                e.m_sharpness
                    .map_or(String::new(), |s| format!(", m-sharpness {s:.4}")),
                if e.is_best { " (best)" } else { "" }
            );
            out.line(last_epoch_line.as_str());
        }
        TrainEvent::LayerCos(_) | TrainEvent::Checkpoint { .. } => {}
        TrainEvent::Paused => out.line("paused"),
        TrainEvent::Resumed => out.line("resumed"),
        TrainEvent::Notice { message } => out.notice(format!("note: {message}")),
        TrainEvent::Stopped => {
            out.line("stopped; resume with --resume");
            return true;
        }
        TrainEvent::Error { message } => {
            *error = Some(message);
            return true;
        }
        TrainEvent::Finished { summary } => {
            out.line(format!(
                "finished ({}) after {} steps, {} epochs; best dev loss {} (epoch {}); averaged \
                 epochs {:?}; eval EER {}{}; scores {}",
                summary.reason,
                summary.num_steps,
                summary.num_epochs,
                summary
                    .best_dev_loss
                    .map_or("-".into(), |l| format!("{l:.4}")),
                summary.best_epoch.map_or("-".into(), |e| e.to_string()),
                summary.averaged_epochs,
                summary
                    .eval_eer
                    .map_or("-".into(), |e| format!("{:.2} %", e * 100.0)),
                // The demo corpus's wild split is scored with eval; other corpora have none.
                summary
                    .test_eers
                    .get(crate::data::demo::WILD_NAME)
                    .map_or(String::new(), |e| format!("; wild EER {:.2} %", e * 100.0)),
                summary
                    .scores_path
                    .map_or("-".into(), |p| p.display().to_string()),
            ));
            return true;
        }
    }
    false
}
