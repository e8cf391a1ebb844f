//! One evaluation of joined trials: EER and its threshold, minDCF/actDCF/CLLR, the min t-DCF
//! (2021 and 2019) when ASV scores are given, and per-attack / per-condition EERs.
//!
//! `dpda eval` prints it and the trainer's test-set evaluation stores it, so both report the
//! same numbers the same way.

use serde::Serialize;

use super::scores::{AsvScores, JoinedTrial};
use super::{
    act_dcf, asv_error_rates_at_eer, cllr, eer, eer_by_group, min_dcf, min_tdcf, min_tdcf_legacy,
    tdcf_coefficients, AsvErrorRates, DcfCosts, GroupEer, LegacyTdcfCosts, MetricError,
    TdcfCoefficients, TdcfCosts,
};
use crate::data::Label;
use crate::metrics::breakdown::{attack_groups, condition_groups};

/// The min t-DCF figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TdcfReport {
    pub min_tdcf: f64,
    pub min_tdcf_threshold: f64,
    pub min_tdcf_legacy: f64,
    pub min_tdcf_legacy_threshold: f64,
    pub c0: f64,
    pub c1: f64,
    pub c2: f64,
    #[serde(skip)]
    pub rates: AsvErrorRates,
    #[serde(skip)]
    pub coefficients: TdcfCoefficients,
}

/// A group's EER for the JSON output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupReport {
    pub name: String,
    pub n_bonafide: usize,
    pub n_spoof: usize,
    pub eer: Option<f64>,
    pub eer_threshold: Option<f64>,
}

impl From<&GroupEer> for GroupReport {
    fn from(g: &GroupEer) -> Self {
        GroupReport {
            name: g.name.clone(),
            n_bonafide: g.n_bonafide,
            n_spoof: g.n_spoof,
            eer: g.eer.map(|e| e.eer),
            eer_threshold: g.eer.map(|e| e.threshold),
        }
    }
}

/// Every figure of one evaluation (EER as a fraction).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    pub n_trials: usize,
    pub n_bonafide: usize,
    pub n_spoof: usize,
    pub eer: f64,
    pub eer_threshold: f64,
    pub min_dcf: f64,
    pub min_dcf_threshold: f64,
    pub act_dcf: f64,
    pub act_dcf_threshold: f64,
    pub cllr_bits: f64,
    pub tdcf: Option<TdcfReport>,
    pub attacks: Vec<GroupReport>,
    pub conditions: Vec<GroupReport>,
}

/// Evaluate `trials`; with `asv`, also the min t-DCF; with `breakdown`, per-attack (pooled bona
/// fide) and per-condition EERs.
pub fn evaluate(
    trials: &[JoinedTrial],
    asv: Option<&AsvScores>,
    breakdown: bool,
) -> Result<EvalReport, MetricError> {
    let mut bonafide = Vec::new();
    let mut spoof = Vec::new();
    for t in trials {
        match t.label {
            Label::Bonafide => bonafide.push(t.score),
            Label::Spoof => spoof.push(t.score),
        }
    }
    let e = eer(&bonafide, &spoof)?;
    let costs = DcfCosts::default();
    let mdcf = min_dcf(&bonafide, &spoof, &costs)?;
    let adcf = act_dcf(&bonafide, &spoof, &costs)?;
    let cllr_bits = cllr(&bonafide, &spoof)?;
    let tdcf = match asv {
        None => None,
        Some(asv) => {
            let rates = asv_error_rates_at_eer(&asv.target, &asv.nontarget, &asv.spoof)?;
            let coefficients = tdcf_coefficients(&rates, &TdcfCosts::default());
            let t2021 = min_tdcf(&bonafide, &spoof, &coefficients)?;
            let legacy = min_tdcf_legacy(&bonafide, &spoof, &rates, &LegacyTdcfCosts::default())?;
            Some(TdcfReport {
                min_tdcf: t2021.min_tdcf,
                min_tdcf_threshold: t2021.threshold,
                min_tdcf_legacy: legacy.min_tdcf,
                min_tdcf_legacy_threshold: legacy.threshold,
                c0: coefficients.c0,
                c1: coefficients.c1,
                c2: coefficients.c2,
                rates,
                coefficients,
            })
        }
    };
    let (attacks, conditions) = if breakdown {
        let a = eer_by_group(&attack_groups(
            trials
                .iter()
                .map(|t| (t.score, t.label == Label::Bonafide, t.attack.as_deref())),
        ))?;
        let c =
            eer_by_group(&condition_groups(trials.iter().map(|t| {
                (t.score, t.label == Label::Bonafide, t.condition.as_deref())
            })))?;
        (
            a.iter().map(GroupReport::from).collect(),
            c.iter().map(GroupReport::from).collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(EvalReport {
        n_trials: trials.len(),
        n_bonafide: bonafide.len(),
        n_spoof: spoof.len(),
        eer: e.eer,
        eer_threshold: e.threshold,
        min_dcf: mdcf.min_dcf,
        min_dcf_threshold: mdcf.threshold,
        act_dcf: adcf.act_dcf,
        act_dcf_threshold: adcf.threshold,
        cllr_bits,
        tdcf,
        attacks,
        conditions,
    })
}

/// Keep the trials of `subset` (a 2021 key's `progress`, `eval` or `hidden_track`); fails naming
/// the subsets the key has when none match.
pub fn select_subset(trials: &mut Vec<JoinedTrial>, subset: &str) -> Result<(), String> {
    let mut available: Vec<&str> = trials.iter().filter_map(|t| t.subset.as_deref()).collect();
    available.sort_unstable();
    available.dedup();
    let available = if available.is_empty() {
        "none".to_string()
    } else {
        available.join(", ")
    };
    trials.retain(|t| t.subset.as_deref() == Some(subset));
    if trials.is_empty() {
        return Err(format!(
            "no trials in subset '{subset}' (subsets in the key: {available})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(score: f64, label: Label, attack: Option<&str>, subset: &str) -> JoinedTrial {
        JoinedTrial {
            utt_id: format!("t{score}"),
            score,
            label,
            attack: attack.map(str::to_string),
            condition: None,
            subset: Some(subset.to_string()),
        }
    }

    #[test]
    fn report_matches_the_single_metrics_and_subsets_filter() {
        let mut trials = vec![
            trial(2.0, Label::Bonafide, None, "eval"),
            trial(1.0, Label::Bonafide, None, "progress"),
            trial(-1.0, Label::Spoof, Some("A1"), "eval"),
            trial(1.5, Label::Spoof, Some("A2"), "eval"),
        ];
        let r = evaluate(&trials, None, true).unwrap();
        let e = eer(&[2.0, 1.0], &[-1.0, 1.5]).unwrap();
        assert_eq!((r.eer, r.eer_threshold), (e.eer, e.threshold));
        assert_eq!(r.attacks.len(), 2);
        assert!(r.tdcf.is_none());
        select_subset(&mut trials, "eval").unwrap();
        assert_eq!(trials.len(), 3);
        let err = select_subset(&mut trials, "hidden_track").unwrap_err();
        assert!(err.contains("eval"), "{err}");
    }
}
