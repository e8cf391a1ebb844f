//! Detection metrics as the ASVspoof references compute them (EER, DET, t-DCF, minDCF/actDCF, CLLR)
//! and score-file I/O.
//!
//! The metric functions are pure: they take bona fide and spoof scores as `&[f64]` (bona fide is
//! the target class; a higher score means more bona fide) and reproduce the official Python
//! evaluation packages to the last bits, so numbers reported here can be compared with published
//! ones. `dpda eval`, training validation and the workbench call them; score files are read and
//! joined with keys in [`scores`].

pub mod breakdown;
pub mod dcf;
pub mod eer;
pub mod scores;
pub mod tdcf;

pub use breakdown::{eer_by_group, GroupEer};
pub use dcf::{act_dcf, cllr, min_dcf, ActDcf, DcfCosts, MinDcf};
pub use eer::{det_curve, eer, DetCurve, Eer};
pub use tdcf::{
    asv_error_rates, asv_error_rates_at_eer, min_tdcf, min_tdcf_legacy, tdcf_coefficients,
    AsvErrorRates, LegacyTdcfCosts, MinTdcf, TdcfCoefficients, TdcfCosts,
};

/// Why a metric cannot be computed from the given scores.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("no {class} scores: a metric needs both bona fide and spoof trials")]
    EmptyClass { class: &'static str },
    #[error("{class} score {index} is NaN")]
    NanScore { class: &'static str, index: usize },
    #[error("{class} score {index} is not finite ({value}); t-DCF needs finite scores")]
    NonFiniteScore {
        class: &'static str,
        index: usize,
        value: f64,
    },
    #[error("only {unique} distinct CM scores: t-DCF needs soft scores, not binary decisions")]
    HardDecisions { unique: usize },
    #[error("t-DCF weights must not be negative (C0 = {c0}, C1 = {c1}, C2 = {c2}); check the ASV error rates")]
    NegativeWeights { c0: f64, c1: f64, c2: f64 },
    #[error("no ASV {class} scores: t-DCF needs target, nontarget and spoof ASV scores")]
    EmptyAsvClass { class: &'static str },
}

/// Reject empty classes and NaN scores, which make every ASVspoof metric meaningless.
pub(crate) fn check_scores(bonafide: &[f64], spoof: &[f64]) -> Result<(), MetricError> {
    for (class, scores) in [("bona fide", bonafide), ("spoof", spoof)] {
        if scores.is_empty() {
            return Err(MetricError::EmptyClass { class });
        }
        if let Some(index) = scores.iter().position(|s| s.is_nan()) {
            return Err(MetricError::NanScore { class, index });
        }
    }
    Ok(())
}
