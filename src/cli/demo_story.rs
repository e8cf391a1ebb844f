//! The second half of `dpda demo`: the method's story in two short training runs on the same
//! demo corpus — RawBoost-augmented only, and dual path (original + augmented) with PCGrad —
//! printing how often the two paths' gradients conflicted (cosine < 0) and what each run scores
//! on the clean `eval` split and on the domain-shifted `wild` split. Called by [`super::demo`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::demo::DemoSize;
use crate::train::{self, RunSummary, SpawnOptions, TrainEvent};

/// The training recipe of the story: LFCC-LCNN-small, 2 s crops, RawBoost algo 4, batches of
/// 5 + 5 clips, as `experiments/demo-*.toml` but one epoch per `steps_per_epoch` steps.
const STORY_CONFIG: &str = r#"
[data]
corpus = "demo"
num_samples = 32000
rawboost_algo = 4

[model]
name = "lcnn-small"

[train]
batch_size = 5
epochs = 100
patience = 100
keep_best = 1
seed = 1234
per_layer_cos_every = 0
class_weights = [0.1, 0.9]

[optim]
name = "adam"
lr = 1e-3
weight_decay = 1e-4

[schedule]
name = "constant"
"#;

/// What one story run gave.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoryRun {
    pub name: &'static str,
    pub run_dir: PathBuf,
    pub num_steps: u64,
    /// Share of steps whose original and augmented gradients pointed apart (dual path only).
    pub conflict_frac: Option<f64>,
    /// EER (fraction) per test set of the demo corpus (`eval`, `wild`).
    pub eer: std::collections::BTreeMap<String, f64>,
    pub wall_time_s: f64,
}

/// Run the two story runs under `out/runs/` and print the story; `steps` optimizer steps each.
pub fn tell(
    size: DemoSize,
    corpus_seed: u64,
    steps: u64,
    out: &Path,
) -> anyhow::Result<Vec<StoryRun>> {
    let conditions: [(&'static str, &[&str]); 2] = [
        ("augmented", &["train.mode=\"augmented\""]),
        (
            "dual-pcgrad",
            &["train.mode=\"dual\"", "train.align=\"pcgrad\""],
        ),
    ];
    let runs_root = out.join("runs");
    let mut runs = Vec::new();
    for (name, sets) in conditions {
        let mut overrides: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        overrides.push(format!("data.demo_size=\"{size}\""));
        overrides.push(format!("data.demo_seed={corpus_seed}"));
        overrides.push(format!("train.max_steps={steps}"));
        let plan = train::plan_from_str(STORY_CONFIG, "the demo's training recipe", &overrides)
            .context("the demo's training recipe")?;
        let run_dir = crate::inference::layout::fresh_run_dir(&runs_root, name);
        runs.push(one_run(name, plan, run_dir)?);
    }
    Ok(runs)
}

fn one_run(name: &'static str, plan: train::Plan, run_dir: PathBuf) -> anyhow::Result<StoryRun> {
    let started = Instant::now();
    let mut handle = train::spawn_with(plan, run_dir.clone(), SpawnOptions::default())
        .context("cannot start the training thread")?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "  {name:<12} [{{bar:24}}] {{pos}}/{{len}} steps {{msg}} ({{elapsed}})"
        ))
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    let mut summary: Option<RunSummary> = None;
    let mut error = None;
    let mut conflict_frac = None;
    loop {
        let Some(event) = handle.recv_timeout(Duration::from_millis(100)) else {
            if handle.is_finished() {
                match handle.try_recv() {
                    Some(ev) => {
                        if on_event(ev, &bar, &mut summary, &mut error, &mut conflict_frac) {
                            break;
                        }
                        continue;
                    }
                    None => break,
                }
            }
            continue;
        };
        if on_event(event, &bar, &mut summary, &mut error, &mut conflict_frac) {
            break;
        }
    }
    handle.join();
    bar.finish_and_clear();
    if let Some(message) = error {
        anyhow::bail!(
            "demo run '{name}' failed in {}: {message}",
            run_dir.display()
        );
    }
    let summary = summary.with_context(|| format!("demo run '{name}' ended without a summary"))?;
    Ok(StoryRun {
        name,
        run_dir,
        num_steps: summary.num_steps,
        conflict_frac,
        eer: summary_eers(&summary),
        wall_time_s: started.elapsed().as_secs_f64(),
    })
}

/// EER per test set of a finished run.
fn summary_eers(summary: &RunSummary) -> std::collections::BTreeMap<String, f64> {
    let mut eers = summary.test_eers.clone();
    if let Some(e) = summary.eval_eer {
        eers.entry("eval".to_string()).or_insert(e);
    }
    eers
}

/// Show one event; true when the run is over.
fn on_event(
    event: TrainEvent,
    bar: &ProgressBar,
    summary: &mut Option<RunSummary>,
    error: &mut Option<String>,
    conflict_frac: &mut Option<f64>,
) -> bool {
    match event {
        TrainEvent::Started { total_steps, .. } => bar.set_length(total_steps),
        TrainEvent::Step(m) => {
            bar.set_position(m.step);
            if m.conflict_frac.is_some() {
                *conflict_frac = m.conflict_frac;
            }
            let loss = m.loss_orig.or(m.loss_aug).unwrap_or(f64::NAN);
            let mut msg = format!("loss {loss:.3}");
            if let (Some(cos), Some(frac)) = (m.grad_cos, m.conflict_frac) {
                msg.push_str(&format!(" cos {cos:+.2} conflicts {:.0} %", frac * 100.0));
            }
            bar.set_message(msg);
        }
        TrainEvent::Error { message } => {
            *error = Some(message);
            return true;
        }
        TrainEvent::Stopped => {
            *error = Some("stopped".into());
            return true;
        }
        TrainEvent::Finished { summary: s } => {
            *summary = Some(s);
            return true;
        }
        _ => {}
    }
    false
}
