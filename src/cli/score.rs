//! `dpda score`: score audio files with a trained or released model and print (or write)
//! `<trial> <score>` lines that `dpda eval` reads. A thin front end over [`crate::inference`].

use std::path::PathBuf;

use anyhow::Context;

use super::{print_line, ClosedPipe};
use crate::data::protocol::encode_trial_field;
use crate::inference::{
    check_samples, check_windows, collect_trials, CalibrationRequest, ClipScores, InputWarning,
    ModelRequest, Scorer, Windows,
};
use crate::metrics::scores::ScoreRow;

/// Arguments of `dpda score`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The score of a clip is the model's bona fide logit: higher means more bona fide \
                  (more likely genuine speech), lower more likely spoofed. With a calibration \
                  (--calibration, or a run folder's own calibration.json) it is the calibrated \
                  log-likelihood ratio a·logit + b instead.\n\n\
                  Trials are named by their path relative to the folder given (FoR: \
                  fake/file1848…), a single file by its stem; whitespace in a name is written \
                  as %20 (and % as %25), which `dpda eval` reads back.\n\n\
                  Input warnings go to stderr as `warning: <file>: <message>` (and into \
                  `--json`): digital silence or no speech, under half the model's input, \
                  clipping, very low level, and — with --window-s, which also scores the whole \
                  clip for this — whole-clip and window decisions that disagree."
)]
pub struct Args {
    /// A run folder (its best model: final, else the best epoch, else last), a .safetensors
    /// checkpoint, a released AASIST/AASIST-L .pth or a dpda_ga XLS-R .pth.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Model name, overriding what the checkpoint says or is recognised as.
    #[arg(long)]
    pub model: Option<String>,
    /// Whole-clip input length in samples (default: the run's, else the model's own — 64,600
    /// for AASIST/AASIST-L, 66,800 for the others).
    #[arg(long)]
    pub num_samples: Option<usize>,
    /// Score windows of this length (seconds) covering the whole clip instead of the first
    /// crop; the clip score is the mean of its windows.
    #[arg(long)]
    pub window_s: Option<f64>,
    /// Hop between windows in seconds (default: the window length; the last window ends at the
    /// clip's end).
    #[arg(long, requires = "window_s")]
    pub hop_s: Option<f64>,
    /// Also print each window's score as `<trial>@<start_s> <score>`.
    #[arg(long, requires = "window_s")]
    pub per_window: bool,
    /// Audio files, folders (searched recursively) or .txt lists of paths (one per line,
    /// relative to the list's folder).
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Write the score file here as well as printing it (written whole, at the end).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object per trial instead of `<trial> <score>` lines: `trial`, `score`,
    /// `warnings` (`[{code, message}]`) and, with `--per-window`, `windows`
    /// (`[{start_s, score}]`).
    #[arg(long)]
    pub json: bool,
    /// Write calibrated LLRs (`dpda calibrate` writes the file); a run folder's own
    /// calibration.json is applied without it.
    #[arg(long, conflicts_with = "raw")]
    pub calibration: Option<PathBuf>,
    /// Write the raw bona fide logit even when the run has a calibration.
    #[arg(long)]
    pub raw: bool,
}

/// Refuse an `--out` that is one of the inputs or an audio file to be scored.
fn check_out(
    out: &std::path::Path,
    args: &Args,
    trials: &[crate::inference::Trial],
) -> anyhow::Result<()> {
    let Ok(out_real) = out.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    let same = |p: &std::path::Path| p.canonicalize().is_ok_and(|c| c == out_real);
    if args.inputs.iter().any(|p| same(p)) || trials.iter().any(|t| same(&t.path)) {
        anyhow::bail!(
            "--out {} is one of the inputs; choose another file",
            out.display()
        );
    }
    Ok(())
}

/// Standard output that may close under us: once its reader has gone, lines are dropped and
/// scoring goes on only for `--out`.
struct Printer {
    printing: bool,
}

impl Printer {
    fn print(&mut self, line: &str) -> anyhow::Result<()> {
        if self.printing {
            match print_line(line) {
                Err(e) if e.is::<ClosedPipe>() => self.printing = false,
                other => other?,
            }
        }
        Ok(())
    }
}

/// Score every input; fails at the end if any file could not be scored.
pub fn run(args: Args) -> anyhow::Result<()> {
    let windows = match args.window_s {
        Some(w) => Some(Windows::from_seconds(
            w,
            args.hop_s.unwrap_or(w),
            ("--window-s", "--hop-s"),
        )?),
        None => None,
    };
    let request = ModelRequest {
        path: args.checkpoint.clone(),
        model: args.model.clone(),
        num_samples: args.num_samples,
        calibration: match (&args.calibration, args.raw) {
            (Some(path), _) => CalibrationRequest::File(path.clone()),
            (None, true) => CalibrationRequest::Raw,
            (None, false) => CalibrationRequest::RunOwn,
        },
    };
    let trials = collect_trials(&args.inputs)?;
    if let Some(out) = &args.out {
        check_out(out, &args, &trials)?;
    }
    let scorer = Scorer::load(&request)
        .with_context(|| format!("cannot load the model from {}", args.checkpoint.display()))?;
    let info = scorer.info();
    match windows {
        None => eprintln!("scoring with {}", info.describe()),
        Some(w) => eprintln!(
            "scoring with {}; windows of {} samples every {} samples, the last flush with the clip's end",
            info.describe(),
            scorer.window_len(w),
            w.hop_len
        ),
    }
    match &info.calibration {
        Some(c) => {
            eprintln!(
                "scores are calibrated LLRs: {} (--raw for the logit)",
                c.describe()
            );
            if let Some(why) = &c.mismatch {
                eprintln!(
                    "warning: calibration {} was {why}; its LLRs may be wrong for this model",
                    c.path.display()
                );
            }
        }
        None => eprintln!("scores are raw bona fide logits (uncalibrated)"),
    }
    let mut rows = Vec::new();
    let mut num_failed = 0usize;
    let mut out = Printer { printing: true };
    // Files are decoded ahead on their own thread and scored a group at a time, the group's
    // inputs sharing forward passes; lines still come out in input order.
    let group = scorer.group_size(windows);
    let mut ahead = scorer.prefetch(&trials, windows);
    loop {
        let decoded = ahead.take_group(group);
        if decoded.is_empty() {
            break;
        }
        let clips: Vec<&[f32]> = decoded
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok().map(|c| c.samples.as_slice()))
            .collect();
        let mut scored = scorer.score_many(&clips, windows).map(Vec::into_iter);
        for (i, decoded) in &decoded {
            let trial = &trials[*i];
            let mut warnings = Vec::new();
            let result = match (decoded, &mut scored) {
                (Err(e), _) => Err(anyhow::anyhow!("{e}")),
                (Ok(_), Err(e)) => Err(anyhow::anyhow!("{e}")),
                (Ok(clip), Ok(scores)) => match scores.next() {
                    Some(scores) => {
                        let (score, per, found) = checked(&scorer, &clip.samples, scores);
                        warnings = found;
                        Ok((score, per))
                    }
                    None => Err(anyhow::anyhow!("the model gave no score")),
                },
            };
            for w in &warnings {
                eprintln!("warning: {}: {}", trial.path.display(), w.message);
            }
            let field = encode_trial_field(&trial.name);
            match result {
                Ok((score, per_window)) if args.json => {
                    out.print(&json_line(
                        &trial.name,
                        score,
                        &warnings,
                        args.per_window,
                        &per_window,
                    ))?;
                }
                Ok((score, per_window)) => {
                    if args.per_window {
                        for (start, s) in per_window {
                            out.print(&format!("{field}@{:.3} {s}", start as f64 / 16_000.0))?;
                        }
                    }
                    out.print(&format!("{field} {score}"))?;
                    rows.push(ScoreRow {
                        utt_id: trial.name.clone(),
                        score,
                        attack: None,
                        label: None,
                    });
                }
                Err(e) => {
                    num_failed += 1;
                    eprintln!("error: {}: {e:#}", trial.path.display());
                }
            }
            if !out.printing && args.out.is_none() {
                return Err(ClosedPipe.into());
            }
        }
    }
    if let Some(out) = &args.out {
        crate::inference::scorer::write_score_file(out, &rows)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if num_failed > 0 {
        anyhow::bail!("{num_failed} of {} files could not be scored", trials.len());
    }
    if !out.printing {
        return Err(ClosedPipe.into());
    }
    Ok(())
}

/// A clip score, its window scores as `(start sample, score)`, and its input warnings.
type Checked = (f64, Vec<(usize, f64)>, Vec<InputWarning>);

/// A clip's output score (whole clip, or the mean of its windows), its window scores as
/// `(start sample, output score)`, and its input warnings. With windows the whole-clip score is
/// there as well, for the disagreement check against the model's stored threshold (0 when none
/// is stored); without windows that check does not run.
fn checked(scorer: &Scorer, samples: &[f32], scores: ClipScores) -> Checked {
    let info = scorer.info();
    let mut warnings = check_samples(samples, info.num_samples);
    // The checks compare raw logits with the stored threshold (a logit too); what is written is
    // the output score (the calibrated LLR when a calibration applies, an affine map, so the mean
    // of window LLRs is the LLR of the mean logit).
    if scores.windows.is_empty() {
        return (info.output_score(scores.whole), Vec::new(), warnings);
    }
    let window_scores: Vec<f64> = scores.windows.iter().map(|(_, s)| *s).collect();
    let mean = window_scores.iter().sum::<f64>() / window_scores.len() as f64;
    let threshold = info.threshold.as_ref().map_or(0.0, |t| t.value);
    warnings.extend(check_windows(scores.whole, &window_scores, threshold));
    let per = scores
        .windows
        .into_iter()
        .map(|(start, s)| (start, info.output_score(s)))
        .collect();
    (info.output_score(mean), per, warnings)
}

/// One `--json` line: `{"trial", "score", "warnings": [{code, message}], "windows"?}`.
fn json_line(
    trial: &str,
    score: f64,
    warnings: &[InputWarning],
    with_windows: bool,
    per_window: &[(usize, f64)],
) -> String {
    #[derive(serde::Serialize)]
    struct Window {
        start_s: f64,
        score: f64,
    }
    #[derive(serde::Serialize)]
    struct Row<'a> {
        trial: &'a str,
        score: f64,
        warnings: &'a [InputWarning],
        #[serde(skip_serializing_if = "Option::is_none")]
        windows: Option<Vec<Window>>,
    }
    let windows = with_windows.then(|| {
        per_window
            .iter()
            .map(|&(start, score)| Window {
                start_s: start as f64 / 16_000.0,
                score,
            })
            .collect()
    });
    let row = Row {
        trial,
        score,
        warnings,
        windows,
    };
    // A row of strings and numbers always serialises (a NaN score becomes null).
    serde_json::to_string(&row).unwrap_or_default()
}
