//! `dpda calibrate`: fit the score → log-likelihood-ratio map of
//! [`crate::metrics::calibration`] on labelled clips (scored as `dpda score` scores them) or on an
//! existing score file, and write it as a calibration file that `dpda score --calibration`,
//! `dpda eval --calibration` and the Detect view read.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::print_line;
use crate::data::protocol::{load_key, KeyFormat};
use crate::data::OnProblem;
use crate::inference::{collect_trials, CalibrationRequest, ModelRequest, Scorer};
use crate::metrics::calibration::{
    CalibratedModel, Calibration, FitSettings, DEFAULT_PRIOR, DEFAULT_RIDGE,
};
use crate::metrics::scores::{
    join_scores, load_scores, JoinPolicy, ScoreEntry, ScoreFile, ScoreFormat,
};

/// Arguments of `dpda calibrate`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The map is LLR = a·score + b, fitted by logistic regression with the classes \
                  weighted to the effective prior (--prior 0.5: equal weight whatever the \
                  counts, so the log posterior odds are the LLR) and a tiny ridge on a \
                  (--ridge) that keeps it finite when the scores separate the classes."
)]
pub struct Args {
    /// A run folder, a .safetensors checkpoint or a released .pth (as `dpda score`); the
    /// clips are scored with it (raw logits, whole clip).
    #[arg(long, required_unless_present = "scores", conflicts_with = "scores")]
    pub checkpoint: Option<PathBuf>,
    /// Fit on an existing score file instead of scoring clips.
    #[arg(long)]
    pub scores: Option<PathBuf>,
    /// Model name, overriding what the checkpoint says (as `dpda score`).
    #[arg(long, requires = "checkpoint")]
    pub model: Option<String>,
    /// Whole-clip input length in samples (as `dpda score`).
    #[arg(long, requires = "checkpoint")]
    pub num_samples: Option<usize>,
    /// Key (protocol) file with the labels.
    #[arg(long)]
    pub key: PathBuf,
    /// Key layout: auto, la2019, la2021, df2021, itw, csv or asvspoof5.
    #[arg(long, default_value = "auto")]
    pub format: KeyFormat,
    /// Fit on the trials present in both the key and the scores (default: refuse when they
    /// differ).
    #[arg(long)]
    pub intersection: bool,
    /// Effective prior of bona fide of the fit, in (0, 1).
    #[arg(long, default_value_t = DEFAULT_PRIOR)]
    pub prior: f64,
    /// Ridge on the slope (see the module documentation).
    #[arg(long, default_value_t = DEFAULT_RIDGE)]
    pub ridge: f64,
    /// Audio files, folders or .txt lists to score (with --checkpoint).
    #[arg(num_args = 0.., requires = "checkpoint")]
    pub inputs: Vec<PathBuf>,
    /// The calibration file to write (JSON).
    #[arg(long)]
    pub out: PathBuf,
}

/// `--out` must not be an input, and may replace only an earlier calibration file.
fn check_out(out: &Path, inputs: &[&Path]) -> anyhow::Result<()> {
    let Ok(out_real) = out.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    if inputs
        .iter()
        .any(|p| p.canonicalize().is_ok_and(|c| c == out_real))
    {
        anyhow::bail!(
            "--out {} is one of the inputs; choose another file",
            out.display()
        );
    }
    if let Err(e) = Calibration::read(out) {
        anyhow::bail!(
            "--out {} exists and is not a calibration file ({e}); choose another file",
            out.display()
        );
    }
    Ok(())
}

/// Raw whole-clip logits of the inputs as a score file in memory, and the model they came from.
fn score_inputs(args: &Args, checkpoint: &Path) -> anyhow::Result<(ScoreFile, CalibratedModel)> {
    if args.inputs.is_empty() {
        anyhow::bail!("no INPUT to score: name the labelled audio files, folders or lists");
    }
    let trials = collect_trials(&args.inputs)?;
    let mut all: Vec<&Path> = args.inputs.iter().map(PathBuf::as_path).collect();
    all.extend(trials.iter().map(|t| t.path.as_path()));
    all.push(&args.key);
    check_out(&args.out, &all)?;
    let request = ModelRequest {
        path: checkpoint.to_path_buf(),
        model: args.model.clone(),
        num_samples: args.num_samples,
        calibration: CalibrationRequest::Raw,
    };
    let scorer = Scorer::load(&request)
        .with_context(|| format!("cannot load the model from {}", checkpoint.display()))?;
    let info = scorer.info();
    eprintln!("scoring with {}", info.describe());
    let mut entries = Vec::with_capacity(trials.len());
    for trial in &trials {
        let clip = crate::audio::load_mono_16k(&trial.path)
            .with_context(|| format!("cannot read {}", trial.path.display()))?;
        entries.push(ScoreEntry {
            utt_id: trial.name.clone(),
            score: scorer.score(&clip.samples)?,
            line: 0,
        });
    }
    let model = CalibratedModel {
        name: info.name.clone(),
        weights: info.weights.display().to_string(),
        num_samples: info.num_samples,
    };
    let file = ScoreFile {
        path: checkpoint.to_path_buf(),
        format: ScoreFormat::TwoColumn,
        entries,
    };
    Ok((file, model))
}

/// Run `dpda calibrate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let key = load_key(&args.key, args.format, OnProblem::Fail)
        .with_context(|| format!("reading key {}", args.key.display()))?;
    let (scores, model, scored_by) = match (&args.scores, &args.checkpoint) {
        (Some(path), _) => {
            check_out(&args.out, &[path, &args.key])?;
            let scores = load_scores(path, ScoreFormat::Auto)
                .with_context(|| format!("reading scores {}", path.display()))?;
            (scores, None, format!("scores {}", path.display()))
        }
        (None, Some(checkpoint)) => {
            let (scores, model) = score_inputs(&args, checkpoint)?;
            let by = format!(
                "{} clips scored with {}",
                scores.entries.len(),
                model.weights
            );
            (scores, Some(model), by)
        }
        (None, None) => anyhow::bail!("give --checkpoint with INPUTs, or --scores"),
    };
    let policy = if args.intersection {
        JoinPolicy::Intersection
    } else {
        JoinPolicy::RequireAll
    };
    let joined = join_scores(&scores, &key, policy).context(
        "joining scores with the key (pass --intersection to fit on the common trials only)",
    )?;
    let (bonafide, spoof) = joined.split_by_label();
    let settings = FitSettings {
        prior: args.prior,
        ridge: args.ridge,
    };
    let source = format!("key {} ({scored_by})", args.key.display());
    let cal = Calibration::fit(&bonafide, &spoof, &settings, source, model).with_context(|| {
        format!(
            "fitting the calibration on {} (--prior {}, --ridge {})",
            args.key.display(),
            args.prior,
            args.ridge
        )
    })?;
    cal.write(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let m = &cal.fit_set;
    print_line(&format!(
        "calibration written to {}: {}",
        args.out.display(),
        cal.describe()
    ))?;
    print_line(&format!("a = {}  b = {}", cal.a, cal.b))?;
    print_line(&format!(
        "CLLR:   {:.5} → {:.5} bits",
        m.cllr_before, m.cllr_after
    ))?;
    print_line(&format!(
        "actDCF: {:.5} → {:.5}",
        m.act_dcf_before, m.act_dcf_after
    ))?;
    print_line(&format!(
        "EER:    {:.4} % and minDCF {:.5} (unchanged by an increasing map)",
        m.eer * 100.0,
        m.min_dcf
    ))?;
    if cal.a <= 0.0 {
        eprintln!(
            "warning: the fitted slope a = {} is not positive: higher scores mean less bona fide \
             on this set (wrong key or labels swapped?)",
            cal.a
        );
    }
    Ok(())
}
