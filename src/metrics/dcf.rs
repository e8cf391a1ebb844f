//! ASVspoof 5 Track 1 costs: minimum and actual normalised detection cost (minDCF, actDCF) and the
//! log-likelihood-ratio cost CLLR, as the ASVspoof 5 evaluation package's `compute_mindcf`,
//! `compute_actDCF` and `calculate_CLLR`.
//!
//! Called by `dpda eval` next to the EER.

use super::eer::det_curve;
use super::{check_scores, MetricError};

/// Priors and costs of the ASVspoof 5 DCF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DcfCosts {
    /// Prior of a spoofing attack.
    pub p_spoof: f64,
    /// Cost of rejecting a bona fide trial.
    pub c_miss: f64,
    /// Cost of accepting a spoof.
    pub c_fa: f64,
}

impl Default for DcfCosts {
    /// The ASVspoof 5 evaluation plan: Pspoof 0.05, Cmiss 1, Cfa 10.
    fn default() -> Self {
        DcfCosts {
            p_spoof: 0.05,
            c_miss: 1.0,
            c_fa: 10.0,
        }
    }
}

/// Minimum normalised DCF over all thresholds of the DET curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinDcf {
    pub min_dcf: f64,
    /// The first threshold reaching the minimum.
    pub threshold: f64,
}

/// Normalised DCF at the Bayes threshold for LLR scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActDcf {
    pub act_dcf: f64,
    /// −ln(Cmiss·(1 − Pspoof) / (Cfa·Pspoof)).
    pub threshold: f64,
}

/// minDCF = min over the DET thresholds of Cmiss·Pmiss·(1−Pspoof) + Cfa·Pfa·Pspoof, normalised
/// by min(Cmiss·(1−Pspoof), Cfa·Pspoof).
pub fn min_dcf(bonafide: &[f64], spoof: &[f64], costs: &DcfCosts) -> Result<MinDcf, MetricError> {
    let det = det_curve(bonafide, spoof)?;
    // The reference writes the spoof prior as 1 − p_target with p_target = 1 − Pspoof; keep that
    // rounding so results agree bit for bit.
    let p_target = 1.0 - costs.p_spoof;
    let p_nontarget = 1.0 - p_target;
    let mut min_cost = f64::INFINITY;
    let mut threshold = det.thresholds[0];
    for ((frr, far), thr) in det.frr.iter().zip(&det.far).zip(&det.thresholds) {
        let cost = costs.c_miss * frr * p_target + costs.c_fa * far * p_nontarget;
        if cost < min_cost {
            min_cost = cost;
            threshold = *thr;
        }
    }
    let c_default = (costs.c_miss * p_target).min(costs.c_fa * p_nontarget);
    Ok(MinDcf {
        min_dcf: min_cost / c_default,
        threshold,
    })
}

/// actDCF: the normalised cost at threshold −ln(β), β = Cmiss·(1−Pspoof) / (Cfa·Pspoof), which is
/// the Bayes decision for calibrated log-likelihood-ratio scores. A bona fide trial is missed when
/// its score is below the threshold; a spoof is accepted at or above it.
pub fn act_dcf(bonafide: &[f64], spoof: &[f64], costs: &DcfCosts) -> Result<ActDcf, MetricError> {
    check_scores(bonafide, spoof)?;
    let beta = costs.c_miss * (1.0 - costs.p_spoof) / (costs.c_fa * costs.p_spoof);
    let threshold = -beta.ln();
    let n_miss = bonafide.iter().filter(|&&s| s < threshold).count();
    let n_fa = spoof.iter().filter(|&&s| s >= threshold).count();
    let rate_miss = n_miss as f64 / bonafide.len() as f64;
    let rate_fa = n_fa as f64 / spoof.len() as f64;
    let cost =
        costs.c_miss * (1.0 - costs.p_spoof) * rate_miss + costs.c_fa * costs.p_spoof * rate_fa;
    let c_default = (costs.c_fa * costs.p_spoof).min(costs.c_miss * (1.0 - costs.p_spoof));
    Ok(ActDcf {
        act_dcf: cost / c_default,
        threshold,
    })
}

/// CLLR in bits: ½·(mean log(1 + e^(−s_bona)) + mean log(1 + e^(s_spoof))) / ln 2, scores taken
/// as natural-log likelihood ratios.
pub fn cllr(bonafide: &[f64], spoof: &[f64]) -> Result<f64, MetricError> {
    check_scores(bonafide, spoof)?;
    // log1p(exp(−x)) as the reference writes it (it overflows to +inf only for x < −709).
    let neg_log_sigmoid = |x: f64| (-x).exp().ln_1p();
    let mean = |xs: &[f64], sign: f64| {
        pairwise_sum(
            &xs.iter()
                .map(|&x| neg_log_sigmoid(sign * x))
                .collect::<Vec<_>>(),
        ) / xs.len() as f64
    };
    Ok(0.5 * (mean(bonafide, 1.0) + mean(spoof, -1.0)) / std::f64::consts::LN_2)
}

/// Sum with numpy's pairwise scheme (blocks of 8 partial sums below 128 elements), so means agree
/// with `np.mean` to the last bit or very nearly.
pub(crate) fn pairwise_sum(xs: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    if xs.len() < 8 {
        return xs.iter().fold(-0.0, |acc, x| acc + x);
    }
    if xs.len() <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&xs[..8]);
        let mut i = 8;
        while i + 8 <= xs.len() {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += xs[i + j];
            }
            i += 8;
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &xs[i..] {
            sum += x;
        }
        return sum;
    }
    let mut half = xs.len() / 2;
    half -= half % 8;
    pairwise_sum(&xs[..half]) + pairwise_sum(&xs[half..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_llrs_have_zero_costs() {
        let costs = DcfCosts::default();
        let bona = [10.0, 11.0, 12.0];
        let spoof = [-10.0, -11.0];
        assert_eq!(min_dcf(&bona, &spoof, &costs).unwrap().min_dcf, 0.0);
        assert_eq!(act_dcf(&bona, &spoof, &costs).unwrap().act_dcf, 0.0);
        assert!(cllr(&bona, &spoof).unwrap() < 1e-3);
    }

    #[test]
    fn uninformative_llrs_have_cllr_one() {
        // LLR 0 everywhere: log2(1 + 1) = 1 bit for each class.
        let c = cllr(&[0.0; 3], &[0.0; 5]).unwrap();
        assert!((c - 1.0).abs() < 1e-15, "{c}");
    }

    #[test]
    fn pairwise_sum_matches_plain_sum_on_integers() {
        let xs: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&xs), 499_500.0);
        assert_eq!(pairwise_sum(&xs[..5]), 10.0);
    }
}
