//! Equal error rate and the DET curve, computed exactly as the ASVspoof evaluation packages'
//! `compute_det_curve` / `compute_eer` (ASVspoof 2019/2021, ASVspoof 5, AASIST): a stable sort of
//! all scores, cumulative miss / false-alarm rates at every score, ties not merged.
//!
//! Called by `dpda eval`, validation during training, the t-DCF and DCF code and the workbench
//! plots.

use std::cmp::Ordering;

use super::{check_scores, MetricError};

/// Miss and false-alarm rates at every candidate threshold (the DET curve).
#[derive(Clone, Debug, PartialEq)]
pub struct DetCurve {
    /// False rejection (bona fide miss) rate at each threshold, from 0 up to 1.
    pub frr: Vec<f64>,
    /// False acceptance (spoof accepted) rate at each threshold, from 1 down to 0.
    pub far: Vec<f64>,
    /// `min − 0.001`, then every score in ascending order.
    pub thresholds: Vec<f64>,
}

/// Equal error rate and the threshold where it is reached.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eer {
    /// EER as a fraction in [0, 1] (multiply by 100 for %).
    pub eer: f64,
    /// The score at the EER operating point.
    pub threshold: f64,
}

/// The DET curve of bona fide (target) against spoof scores.
///
/// As the reference: scores are sorted ascending with a stable sort (numpy mergesort), bona fide
/// first among equal scores because they come first in the concatenation; after the k-th sorted
/// score FRR = bona fide among the first k / #bona fide and FAR = spoofs after them / #spoof; the
/// point FRR = 0, FAR = 1 at threshold `min − 0.001` is prepended.
pub fn det_curve(bonafide: &[f64], spoof: &[f64]) -> Result<DetCurve, MetricError> {
    check_scores(bonafide, spoof)?;
    let n_bonafide = bonafide.len();
    let n_spoof = spoof.len();
    let n_scores = n_bonafide + n_spoof;
    // (score, is bona fide) in concatenation order; sort_by is stable like numpy's mergesort.
    // NaN was rejected above, so partial_cmp never fails; -0.0 and 0.0 compare equal as in numpy.
    let mut labelled: Vec<(f64, bool)> = bonafide
        .iter()
        .map(|&s| (s, true))
        .chain(spoof.iter().map(|&s| (s, false)))
        .collect();
    labelled.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));

    let mut frr = Vec::with_capacity(n_scores + 1);
    let mut far = Vec::with_capacity(n_scores + 1);
    let mut thresholds = Vec::with_capacity(n_scores + 1);
    frr.push(0.0);
    far.push(1.0);
    thresholds.push(labelled[0].0 - 0.001);
    let mut bonafide_below = 0usize;
    for (k, &(score, is_bonafide)) in labelled.iter().enumerate() {
        if is_bonafide {
            bonafide_below += 1;
        }
        let spoof_above = n_spoof - (k + 1 - bonafide_below);
        // Integer counts divided once, as numpy divides its exact float cumulative sums.
        frr.push(bonafide_below as f64 / n_bonafide as f64);
        far.push(spoof_above as f64 / n_spoof as f64);
        thresholds.push(score);
    }
    Ok(DetCurve {
        frr,
        far,
        thresholds,
    })
}

impl DetCurve {
    /// The EER point: the first index minimising |FRR − FAR|, EER = (FRR + FAR) / 2 there.
    pub fn eer(&self) -> Eer {
        let mut best = 0;
        let mut best_diff = f64::INFINITY;
        for (i, (frr, far)) in self.frr.iter().zip(&self.far).enumerate() {
            let diff = (frr - far).abs();
            // Strict `<` keeps the first minimum, like np.argmin.
            if diff < best_diff {
                best_diff = diff;
                best = i;
            }
        }
        Eer {
            eer: (self.frr[best] + self.far[best]) / 2.0,
            threshold: self.thresholds[best],
        }
    }
}

/// Equal error rate of bona fide against spoof scores, as the ASVspoof `compute_eer`.
pub fn eer(bonafide: &[f64], spoof: &[f64]) -> Result<Eer, MetricError> {
    Ok(det_curve(bonafide, spoof)?.eer())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_scores_have_zero_eer() {
        let e = eer(&[2.0, 3.0], &[0.0, 1.0]).unwrap();
        assert_eq!(e.eer, 0.0);
        // Sorted: 0 1 2 3 → after two spoofs FRR = 0 = FAR; the threshold is the score there.
        assert_eq!(e.threshold, 1.0);
    }

    #[test]
    fn reversed_scores_have_eer_one() {
        let e = eer(&[0.0], &[1.0]).unwrap();
        assert_eq!(e.eer, 1.0);
    }

    #[test]
    fn det_curve_prepends_start_point_and_keeps_ties() {
        let det = det_curve(&[0.5, 0.5], &[0.5]).unwrap();
        assert_eq!(det.thresholds, [0.5 - 0.001, 0.5, 0.5, 0.5]);
        // Stable order: both bona fide first, then the spoof.
        assert_eq!(det.frr, [0.0, 0.5, 1.0, 1.0]);
        assert_eq!(det.far, [1.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn empty_or_nan_is_an_error() {
        assert_eq!(
            eer(&[], &[1.0]),
            Err(MetricError::EmptyClass { class: "bona fide" })
        );
        assert_eq!(
            eer(&[1.0], &[0.0, f64::NAN]),
            Err(MetricError::NanScore {
                class: "spoof",
                index: 1
            })
        );
    }
}
