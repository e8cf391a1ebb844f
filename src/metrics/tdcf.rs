//! Tandem detection cost function (t-DCF) of a countermeasure in front of a fixed ASV system:
//! the ASVspoof 2021 formulation (`compute_tDCF` of the 2021 evaluation package, C0 + C1·Pmiss_cm
//! + C2·Pfa_cm normalised by C0 + min(C1, C2)) and the 2019 legacy one (`compute_tDCF` of the
//! 2019 package / AASIST's `evaluation.py`, C1·Pmiss_cm + C2·Pfa_cm normalised by min(C1, C2)).
//!
//! ASV error rates are taken at the ASV EER threshold. Called by `dpda eval --asv-scores`.

use super::eer::{det_curve, eer};
use super::{check_scores, MetricError};

/// Priors and costs of the ASVspoof 2021 t-DCF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TdcfCosts {
    pub p_spoof: f64,
    pub p_tar: f64,
    pub p_non: f64,
    /// Cost of the tandem system rejecting a target speaker.
    pub c_miss: f64,
    /// Cost of the tandem system accepting a nontarget speaker.
    pub c_fa: f64,
    /// Cost of the tandem system accepting a spoof.
    pub c_fa_spoof: f64,
}

impl Default for TdcfCosts {
    /// ASVspoof 2021: Pspoof 0.05, Ptar 0.95·0.99, Pnon 0.95·0.01, Cmiss 1, Cfa 10, Cfa_spoof 10.
    fn default() -> Self {
        let p_spoof = 0.05;
        TdcfCosts {
            p_spoof,
            p_tar: (1.0 - p_spoof) * 0.99,
            p_non: (1.0 - p_spoof) * 0.01,
            c_miss: 1.0,
            c_fa: 10.0,
            c_fa_spoof: 10.0,
        }
    }
}

/// Priors and costs of the ASVspoof 2019 (legacy) t-DCF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LegacyTdcfCosts {
    pub p_spoof: f64,
    pub p_tar: f64,
    pub p_non: f64,
    pub c_miss_asv: f64,
    pub c_fa_asv: f64,
    pub c_miss_cm: f64,
    pub c_fa_cm: f64,
}

impl Default for LegacyTdcfCosts {
    /// ASVspoof 2019: Pspoof 0.05, Ptar 0.95·0.99, Pnon 0.95·0.01, Cmiss 1, Cfa 10 for ASV and CM.
    fn default() -> Self {
        let p_spoof = 0.05;
        LegacyTdcfCosts {
            p_spoof,
            p_tar: (1.0 - p_spoof) * 0.99,
            p_non: (1.0 - p_spoof) * 0.01,
            c_miss_asv: 1.0,
            c_fa_asv: 10.0,
            c_miss_cm: 1.0,
            c_fa_cm: 10.0,
        }
    }
}

/// Error rates of the ASV system at a fixed threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AsvErrorRates {
    /// Nontargets accepted (score ≥ threshold).
    pub pfa_asv: f64,
    /// Targets rejected (score < threshold).
    pub pmiss_asv: f64,
    /// Spoofs rejected.
    pub pmiss_spoof_asv: f64,
    /// Spoofs accepted.
    pub pfa_spoof_asv: f64,
}

/// The three t-DCF weights of the 2021 formulation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TdcfCoefficients {
    pub c0: f64,
    pub c1: f64,
    pub c2: f64,
}

/// The minimum of the normalised t-DCF curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinTdcf {
    pub min_tdcf: f64,
    /// The CM threshold of the first minimum.
    pub threshold: f64,
}

/// ASV error rates at `threshold_asv` (`obtain_asv_error_rates` of the references).
pub fn asv_error_rates(
    target: &[f64],
    nontarget: &[f64],
    spoof: &[f64],
    threshold_asv: f64,
) -> Result<AsvErrorRates, MetricError> {
    for (class, scores) in [
        ("target", target),
        ("nontarget", nontarget),
        ("spoof", spoof),
    ] {
        if scores.is_empty() {
            return Err(MetricError::EmptyAsvClass { class });
        }
    }
    let rate = |xs: &[f64], accept: bool| {
        let n = xs
            .iter()
            .filter(|&&s| (s >= threshold_asv) == accept)
            .count();
        n as f64 / xs.len() as f64
    };
    Ok(AsvErrorRates {
        pfa_asv: rate(nontarget, true),
        pmiss_asv: rate(target, false),
        pmiss_spoof_asv: rate(spoof, false),
        pfa_spoof_asv: rate(spoof, true),
    })
}

/// ASV error rates at the ASV's own EER threshold (target vs nontarget), as the ASVspoof
/// packages fix the ASV operating point.
pub fn asv_error_rates_at_eer(
    target: &[f64],
    nontarget: &[f64],
    spoof: &[f64],
) -> Result<AsvErrorRates, MetricError> {
    if target.is_empty() {
        return Err(MetricError::EmptyAsvClass { class: "target" });
    }
    if nontarget.is_empty() {
        return Err(MetricError::EmptyAsvClass { class: "nontarget" });
    }
    let threshold = eer(target, nontarget)?.threshold;
    asv_error_rates(target, nontarget, spoof, threshold)
}

/// The 2021 weights: C0 = Ptar·Cmiss·Pmiss_asv + Pnon·Cfa·Pfa_asv, C1 = Ptar·Cmiss − C0,
/// C2 = Pspoof·Cfa_spoof·Pfa_spoof_asv.
pub fn tdcf_coefficients(asv: &AsvErrorRates, costs: &TdcfCosts) -> TdcfCoefficients {
    let c0 = costs.p_tar * costs.c_miss * asv.pmiss_asv + costs.p_non * costs.c_fa * asv.pfa_asv;
    TdcfCoefficients {
        c0,
        c1: costs.p_tar * costs.c_miss - c0,
        c2: costs.p_spoof * costs.c_fa_spoof * asv.pfa_spoof_asv,
    }
}

/// The reference's sanity checks on CM scores: finite, and at least three distinct values.
fn check_soft_scores(bonafide: &[f64], spoof: &[f64]) -> Result<(), MetricError> {
    check_scores(bonafide, spoof)?;
    for (class, scores) in [("bona fide", bonafide), ("spoof", spoof)] {
        if let Some(index) = scores.iter().position(|s| !s.is_finite()) {
            return Err(MetricError::NonFiniteScore {
                class,
                index,
                value: scores[index],
            });
        }
    }
    let mut all: Vec<f64> = bonafide.iter().chain(spoof).copied().collect();
    all.sort_by(f64::total_cmp);
    // -0.0 and 0.0 count as one value, as np.unique counts them.
    let mut unique = 1;
    for w in all.windows(2) {
        if w[1] != w[0] {
            unique += 1;
        }
    }
    if unique < 3 {
        return Err(MetricError::HardDecisions { unique });
    }
    Ok(())
}

/// Minimum normalised t-DCF, 2021 formulation, for given weights C0, C1, C2 (from
/// [`tdcf_coefficients`] or the pre-computed values the 2021 package ships per condition).
pub fn min_tdcf(
    bonafide: &[f64],
    spoof: &[f64],
    coefficients: &TdcfCoefficients,
) -> Result<MinTdcf, MetricError> {
    check_soft_scores(bonafide, spoof)?;
    let TdcfCoefficients { c0, c1, c2 } = *coefficients;
    if c0 < 0.0 || c1 < 0.0 || c2 < 0.0 {
        return Err(MetricError::NegativeWeights { c0, c1, c2 });
    }
    let det = det_curve(bonafide, spoof)?;
    let default_cost = c0 + c1.min(c2);
    Ok(curve_min(
        &det.frr,
        &det.far,
        &det.thresholds,
        |pmiss, pfa| (c0 + c1 * pmiss + c2 * pfa) / default_cost,
    ))
}

/// Minimum normalised t-DCF, ASVspoof 2019 (legacy) formulation:
/// C1 = Ptar·(Cmiss_cm − Cmiss_asv·Pmiss_asv) − Pnon·Cfa_asv·Pfa_asv,
/// C2 = Cfa_cm·Pspoof·(1 − Pmiss_spoof_asv), t-DCF = (C1·Pmiss_cm + C2·Pfa_cm) / min(C1, C2).
pub fn min_tdcf_legacy(
    bonafide: &[f64],
    spoof: &[f64],
    asv: &AsvErrorRates,
    costs: &LegacyTdcfCosts,
) -> Result<MinTdcf, MetricError> {
    check_soft_scores(bonafide, spoof)?;
    let c1 = costs.p_tar * (costs.c_miss_cm - costs.c_miss_asv * asv.pmiss_asv)
        - costs.p_non * costs.c_fa_asv * asv.pfa_asv;
    let c2 = costs.c_fa_cm * costs.p_spoof * (1.0 - asv.pmiss_spoof_asv);
    if c1 < 0.0 || c2 < 0.0 {
        return Err(MetricError::NegativeWeights { c0: 0.0, c1, c2 });
    }
    let det = det_curve(bonafide, spoof)?;
    let norm = c1.min(c2);
    Ok(curve_min(
        &det.frr,
        &det.far,
        &det.thresholds,
        |pmiss, pfa| (c1 * pmiss + c2 * pfa) / norm,
    ))
}

/// First minimum of a cost evaluated along the DET curve (np.argmin semantics).
fn curve_min(
    frr: &[f64],
    far: &[f64],
    thresholds: &[f64],
    cost: impl Fn(f64, f64) -> f64,
) -> MinTdcf {
    let mut best = MinTdcf {
        min_tdcf: f64::INFINITY,
        threshold: thresholds[0],
    };
    for ((&pmiss, &pfa), &thr) in frr.iter().zip(far).zip(thresholds) {
        let c = cost(pmiss, pfa);
        if c < best.min_tdcf {
            best = MinTdcf {
                min_tdcf: c,
                threshold: thr,
            };
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perfect_asv() -> AsvErrorRates {
        asv_error_rates_at_eer(&[5.0, 6.0], &[-5.0, -6.0], &[4.0, 7.0]).unwrap()
    }

    #[test]
    fn asv_rates_at_eer_threshold() {
        let asv = perfect_asv();
        // The ASV EER threshold is -5, the highest nontarget score, and `>=` accepts it: the
        // reference reports Pfa_asv = 1/2 even for separable ASV scores.
        assert_eq!(asv.pfa_asv, 0.5);
        assert_eq!(asv.pmiss_asv, 0.0);
        assert_eq!(asv.pfa_spoof_asv, 1.0);
        assert_eq!(asv.pmiss_spoof_asv, 0.0);
    }

    #[test]
    fn perfect_cm_reaches_the_c0_floor() {
        let coeffs = tdcf_coefficients(&perfect_asv(), &TdcfCosts::default());
        let m = min_tdcf(&[1.0, 2.0], &[-1.0, -2.0], &coeffs).unwrap();
        let floor = coeffs.c0 / (coeffs.c0 + coeffs.c1.min(coeffs.c2));
        assert!(floor > 0.0);
        assert_eq!(m.min_tdcf, floor);
        let l = min_tdcf_legacy(
            &[1.0, 2.0],
            &[-1.0, -2.0],
            &perfect_asv(),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(l.min_tdcf, 0.0);
    }

    #[test]
    fn hard_decisions_and_negative_weights_are_refused() {
        let coeffs = tdcf_coefficients(&perfect_asv(), &TdcfCosts::default());
        assert_eq!(
            min_tdcf(&[1.0, 1.0], &[0.0, -0.0], &coeffs),
            Err(MetricError::HardDecisions { unique: 2 })
        );
        let bad = TdcfCoefficients {
            c0: 0.1,
            c1: -0.2,
            c2: 0.3,
        };
        assert!(matches!(
            min_tdcf(&[1.0, 2.0], &[0.0], &bad),
            Err(MetricError::NegativeWeights { .. })
        ));
    }
}
