//! `dpda eval`: score a countermeasure's score file against a key and print EER (with its
//! threshold), minDCF, actDCF and CLLR, the min t-DCF when ASV scores are given, and per-attack /
//! per-condition EERs on request; `--json` prints one JSON object instead of text.
//!
//! A thin front end over `data::protocol` and `metrics`; all numbers come from the library.

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::data::protocol::{load_key, KeyFormat};
use crate::data::{Label, OnProblem};
use crate::metrics::breakdown::{attack_groups, condition_groups};
use crate::metrics::scores::{join_scores, load_asv_scores, load_scores, JoinPolicy, ScoreFormat};
use crate::metrics::{
    act_dcf, asv_error_rates_at_eer, cllr, eer, eer_by_group, min_dcf, min_tdcf, min_tdcf_legacy,
    tdcf_coefficients, DcfCosts, GroupEer, LegacyTdcfCosts, TdcfCosts,
};

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
    /// Print one JSON object (EER as a fraction) instead of text.
    #[arg(long)]
    pub json: bool,
}

fn group_json(groups: &[GroupEer]) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|g| {
                json!({
                    "name": g.name,
                    "n_bonafide": g.n_bonafide,
                    "n_spoof": g.n_spoof,
                    "eer": g.eer.map(|e| e.eer),
                    "eer_threshold": g.eer.map(|e| e.threshold),
                })
            })
            .collect(),
    )
}

fn print_groups(title: &str, groups: &[GroupEer]) {
    if groups.is_empty() {
        return;
    }
    println!("{title}:");
    for g in groups {
        match g.eer {
            Some(e) => println!(
                "  {:<16} {:>7} bona fide {:>8} spoof   EER {:8.4} %  (threshold {:.6})",
                g.name,
                g.n_bonafide,
                g.n_spoof,
                e.eer * 100.0,
                e.threshold
            ),
            None => println!(
                "  {:<16} {:>7} bona fide {:>8} spoof   EER n/a (needs both classes)",
                g.name, g.n_bonafide, g.n_spoof
            ),
        }
    }
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
        let mut available: Vec<&str> = trials.iter().filter_map(|t| t.subset.as_deref()).collect();
        available.sort_unstable();
        available.dedup();
        let available = available.join(", ");
        trials.retain(|t| t.subset.as_deref() == Some(subset.as_str()));
        if trials.is_empty() {
            bail!(
                "no trials in subset '{subset}' (subsets in the key: {})",
                if available.is_empty() {
                    "none"
                } else {
                    &available
                }
            );
        }
    }
    let bonafide: Vec<f64> = trials
        .iter()
        .filter(|t| t.label == Label::Bonafide)
        .map(|t| t.score)
        .collect();
    let spoof: Vec<f64> = trials
        .iter()
        .filter(|t| t.label == Label::Spoof)
        .map(|t| t.score)
        .collect();

    let e = eer(&bonafide, &spoof).context("computing the EER")?;
    let costs = DcfCosts::default();
    let mdcf = min_dcf(&bonafide, &spoof, &costs).context("computing minDCF")?;
    let adcf = act_dcf(&bonafide, &spoof, &costs).context("computing actDCF")?;
    let cllr_bits = cllr(&bonafide, &spoof).context("computing CLLR")?;

    let tdcf = match &args.asv_scores {
        None => None,
        Some(path) => {
            let asv = load_asv_scores(path)
                .with_context(|| format!("reading ASV scores {}", path.display()))?;
            let rates = asv_error_rates_at_eer(&asv.target, &asv.nontarget, &asv.spoof)
                .with_context(|| format!("ASV error rates from {}", path.display()))?;
            let coeffs = tdcf_coefficients(&rates, &TdcfCosts::default());
            let t2021 = min_tdcf(&bonafide, &spoof, &coeffs).context("computing min t-DCF")?;
            let legacy = min_tdcf_legacy(&bonafide, &spoof, &rates, &LegacyTdcfCosts::default())
                .context("computing the 2019 (legacy) min t-DCF")?;
            Some((rates, coeffs, t2021, legacy))
        }
    };

    let (attacks, conditions) = if args.breakdown {
        let a = eer_by_group(&attack_groups(
            trials
                .iter()
                .map(|t| (t.score, t.label == Label::Bonafide, t.attack.as_deref())),
        ))?;
        let c =
            eer_by_group(&condition_groups(trials.iter().map(|t| {
                (t.score, t.label == Label::Bonafide, t.condition.as_deref())
            })))?;
        (a, c)
    } else {
        (Vec::new(), Vec::new())
    };

    if args.json {
        let mut out = json!({
            "scores": args.scores.display().to_string(),
            "key": args.key.display().to_string(),
            "key_format": key.format.as_str(),
            "score_format": scores.format.as_str(),
            "subset": args.subset,
            "n_trials": trials.len(),
            "n_bonafide": bonafide.len(),
            "n_spoof": spoof.len(),
            "n_missing": joined.missing.len(),
            "n_unknown": joined.unknown.len(),
            "eer": e.eer,
            "eer_percent": e.eer * 100.0,
            "eer_threshold": e.threshold,
            "min_dcf": mdcf.min_dcf,
            "min_dcf_threshold": mdcf.threshold,
            "act_dcf": adcf.act_dcf,
            "act_dcf_threshold": adcf.threshold,
            "cllr_bits": cllr_bits,
            "tdcf": Value::Null,
        });
        if let Some((rates, coeffs, t2021, legacy)) = &tdcf {
            out["tdcf"] = json!({
                "min_tdcf": t2021.min_tdcf,
                "min_tdcf_threshold": t2021.threshold,
                "min_tdcf_legacy": legacy.min_tdcf,
                "min_tdcf_legacy_threshold": legacy.threshold,
                "c0": coeffs.c0, "c1": coeffs.c1, "c2": coeffs.c2,
                "pfa_asv": rates.pfa_asv,
                "pmiss_asv": rates.pmiss_asv,
                "pmiss_spoof_asv": rates.pmiss_spoof_asv,
                "pfa_spoof_asv": rates.pfa_spoof_asv,
            });
        }
        if args.breakdown {
            out["breakdown"] = json!({
                "attack": group_json(&attacks),
                "condition": group_json(&conditions),
            });
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }

    println!(
        "trials: {} ({} bona fide, {} spoof){}",
        trials.len(),
        bonafide.len(),
        spoof.len(),
        args.subset
            .as_deref()
            .map(|s| format!(", subset {s}"))
            .unwrap_or_default()
    );
    println!(
        "EER:    {:.4} %  (threshold {:.6}; scores >= threshold count as bona fide)",
        e.eer * 100.0,
        e.threshold
    );
    println!(
        "minDCF: {:.5}  actDCF: {:.5} (LLR threshold {:.4})  CLLR: {:.5} bits",
        mdcf.min_dcf, adcf.act_dcf, adcf.threshold, cllr_bits
    );
    if let Some((_, coeffs, t2021, legacy)) = &tdcf {
        println!(
            "min t-DCF: {:.5} (ASVspoof 2021; C0 {:.5}, C1 {:.5}, C2 {:.5})  legacy 2019: {:.5}",
            t2021.min_tdcf, coeffs.c0, coeffs.c1, coeffs.c2, legacy.min_tdcf
        );
    }
    print_groups("per attack (pooled bona fide)", &attacks);
    print_groups("per condition", &conditions);
    Ok(())
}
