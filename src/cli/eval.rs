//! `dpda eval`: score a countermeasure's score file against a key and print EER (with its
//! threshold), minDCF, actDCF and CLLR, the min t-DCF when ASV scores are given, and per-attack /
//! per-condition EERs on request; `--json` prints one JSON object instead of text.
//!
//! A thin front end over `data::protocol` and `metrics`; all numbers come from the library.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Value};

use super::print_line;
use crate::data::protocol::{load_key, KeyFormat};
use crate::data::{Label, OnProblem};
use crate::metrics::calibration::{before_after, Calibration};
use crate::metrics::report::{evaluate, select_subset, GroupReport};
use crate::metrics::scores::{join_scores, load_asv_scores, load_scores, JoinPolicy, ScoreFormat};

/// Arguments of `dpda eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Score file: `<utt> <score>`, AASIST `<utt> <src> <key> <score>` or ASVspoof 5 TSV.
    #[arg(long)]
    pub scores: PathBuf,
    /// Key (protocol) file with the ground truth.
    #[arg(long)]
    pub key: PathBuf,
    /// Key layout: auto, la2019, la2021, df2021, itw, csv or asvspoof5.
    #[arg(long, default_value = "auto")]
    pub format: KeyFormat,
    /// Score file layout: auto, two-column, aasist or asvspoof5.
    #[arg(long, default_value = "auto")]
    pub score_format: ScoreFormat,
    /// Evaluate only the trials present in both the key and the score file (default: refuse when
    /// they differ).
    #[arg(long)]
    pub intersection: bool,
    /// Evaluate one subset of a 2021 key (progress, eval or hidden_track) after the join.
    #[arg(long)]
    pub subset: Option<String>,
    /// ASV scores `<id> <target|nontarget|spoof> <score>` for the min t-DCF.
    #[arg(long)]
    pub asv_scores: Option<PathBuf>,
    /// Also print the EER of each attack (pooled bona fide) and of each condition.
    #[arg(long)]
    pub breakdown: bool,
    /// A calibration file (`dpda calibrate`): also report CLLR and actDCF of the calibrated
    /// LLRs a·score + b next to those of the scores as given.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Print one JSON object (EER as a fraction) instead of text.
    #[arg(long)]
    pub json: bool,
}

fn print_groups(title: &str, groups: &[GroupReport]) -> anyhow::Result<()> {
    if groups.is_empty() {
        return Ok(());
    }
    print_line(&format!("{title}:"))?;
    for g in groups {
        match g.eer {
            Some(e) => print_line(&format!(
                "  {:<16} {:>7} bona fide {:>8} spoof   EER {:8.4} %  (threshold {:.6})",
                g.name,
                g.n_bonafide,
                g.n_spoof,
                e * 100.0,
                g.eer_threshold.unwrap_or(f64::NAN)
            ))?,
            None => print_line(&format!(
                "  {:<16} {:>7} bona fide {:>8} spoof   EER undefined (one class is empty)",
                g.name, g.n_bonafide, g.n_spoof
            ))?,
        }
    }
    Ok(())
}

/// Run `dpda eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let key = load_key(&args.key, args.format, OnProblem::Fail)
        .with_context(|| format!("reading key {}", args.key.display()))?;
    if args.format == KeyFormat::Auto {
        eprintln!(
            "key {} read as {}",
            args.key.display(),
            key.format.description()
        );
    }
    let scores = load_scores(&args.scores, args.score_format)
        .with_context(|| format!("reading scores {}", args.scores.display()))?;
    let policy = if args.intersection {
        JoinPolicy::Intersection
    } else {
        JoinPolicy::RequireAll
    };
    let joined = join_scores(&scores, &key, policy).context(
        "joining scores with the key (pass --intersection to evaluate only the common trials)",
    )?;
    if !joined.missing.is_empty() || !joined.unknown.is_empty() {
        eprintln!(
            "evaluating the intersection: {} trials; {} key trials without a score and {} scores not in the key left out",
            joined.trials.len(),
            joined.missing.len(),
            joined.unknown.len()
        );
    }
    let mut trials = joined.trials.clone();
    if let Some(subset) = &args.subset {
        select_subset(&mut trials, subset).map_err(anyhow::Error::msg)?;
    }
    let asv = match &args.asv_scores {
        None => None,
        Some(path) => Some(
            load_asv_scores(path)
                .with_context(|| format!("reading ASV scores {}", path.display()))?,
        ),
    };
    let report = evaluate(&trials, asv.as_ref(), args.breakdown).with_context(|| {
        match &args.asv_scores {
            Some(p) => format!("evaluating (ASV scores {})", p.display()),
            None => "evaluating".to_string(),
        }
    })?;

    let calibrated = match &args.calibration {
        None => None,
        Some(path) => {
            let cal = Calibration::read(path)?;
            let (bona, spoof): (Vec<f64>, Vec<f64>) = {
                let mut b = Vec::new();
                let mut s = Vec::new();
                for t in &trials {
                    match t.label {
                        Label::Bonafide => b.push(t.score),
                        Label::Spoof => s.push(t.score),
                    }
                }
                (b, s)
            };
            let m = before_after(&bona, &spoof, |x| cal.llr(x))
                .with_context(|| format!("evaluating with calibration {}", path.display()))?;
            Some((path, cal, m))
        }
    };

    if args.json {
        let mut out = json!({
            "scores": args.scores.display().to_string(),
            "key": args.key.display().to_string(),
            "key_format": key.format.as_str(),
            "score_format": scores.format.as_str(),
            "subset": args.subset,
            "n_trials": report.n_trials,
            "n_bonafide": report.n_bonafide,
            "n_spoof": report.n_spoof,
            "n_missing": joined.missing.len(),
            "n_unknown": joined.unknown.len(),
            "eer": report.eer,
            "eer_percent": report.eer * 100.0,
            "eer_threshold": report.eer_threshold,
            "min_dcf": report.min_dcf,
            "min_dcf_threshold": report.min_dcf_threshold,
            "act_dcf": report.act_dcf,
            "act_dcf_threshold": report.act_dcf_threshold,
            "cllr_bits": report.cllr_bits,
            "tdcf": Value::Null,
        });
        if let Some(t) = &report.tdcf {
            out["tdcf"] = json!({
                "min_tdcf": t.min_tdcf,
                "min_tdcf_threshold": t.min_tdcf_threshold,
                "min_tdcf_legacy": t.min_tdcf_legacy,
                "min_tdcf_legacy_threshold": t.min_tdcf_legacy_threshold,
                "c0": t.c0, "c1": t.c1, "c2": t.c2,
                "pfa_asv": t.rates.pfa_asv,
                "pmiss_asv": t.rates.pmiss_asv,
                "pmiss_spoof_asv": t.rates.pmiss_spoof_asv,
                "pfa_spoof_asv": t.rates.pfa_spoof_asv,
            });
        }
        if let Some((path, cal, m)) = &calibrated {
            out["calibration"] = json!({
                "path": path.display().to_string(),
                "a": cal.a,
                "b": cal.b,
                "source": cal.source,
                "cllr_bits_before": m.cllr_before,
                "cllr_bits_after": m.cllr_after,
                "act_dcf_before": m.act_dcf_before,
                "act_dcf_after": m.act_dcf_after,
            });
        }
        if args.breakdown {
            out["breakdown"] = json!({
                "attack": report.attacks,
                "condition": report.conditions,
            });
        }
        print_line(&serde_json::to_string_pretty(&out)?)?;
        return Ok(());
    }

    print_line(&format!(
        "trials: {} ({} bona fide, {} spoof){}",
        report.n_trials,
        report.n_bonafide,
        report.n_spoof,
        args.subset
            .as_deref()
            .map(|s| format!(", subset {s}"))
            .unwrap_or_default()
    ))?;
    print_line(&format!(
        "EER:    {:.4} %  (threshold {:.6}; scores >= threshold count as bona fide)",
        report.eer * 100.0,
        report.eer_threshold
    ))?;
    print_line(&format!(
        "minDCF: {:.5}  actDCF: {:.5} (LLR threshold {:.4})  CLLR: {:.5} bits",
        report.min_dcf, report.act_dcf, report.act_dcf_threshold, report.cllr_bits
    ))?;
    if let Some(t) = &report.tdcf {
        print_line(&format!(
            "min t-DCF: {:.5} (ASVspoof 2021; C0 {:.5}, C1 {:.5}, C2 {:.5})  legacy 2019: {:.5}",
            t.min_tdcf, t.c0, t.c1, t.c2, t.min_tdcf_legacy
        ))?;
    }
    if let Some((path, cal, m)) = &calibrated {
        print_line(&format!(
            "calibration {}: {}",
            path.display(),
            cal.describe()
        ))?;
        print_line(&format!(
            "  before → after: CLLR {:.5} → {:.5} bits  actDCF {:.5} → {:.5}",
            m.cllr_before, m.cllr_after, m.act_dcf_before, m.act_dcf_after
        ))?;
    }
    print_groups("per attack (pooled bona fide)", &report.attacks)?;
    print_groups("per condition", &report.conditions)?;
    Ok(())
}
