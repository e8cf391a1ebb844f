//! Detection metrics as the ASVspoof references compute them (EER, DET, t-DCF, minDCF/actDCF, CLLR)
//! and score-file I/O.
//!
//! The metric functions are pure: they take bona fide and spoof scores as `&[f64]` (bona fide is
//! the target class; a higher score means more bona fide) and reproduce the official Python
//! evaluation packages to the last bits, so numbers reported here can be compared with published
//! ones. `dpda eval`, training validation and the workbench call them; score files are read and
//! joined with keys in [`scores`].

pub mod breakdown;
pub mod calibration;
pub mod dcf;
pub mod eer;
pub mod report;
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

/// Golden values from the official ASVspoof reference code (`scripts/metrics_reference.py` runs
/// AASIST's `evaluation.py`, the ASVspoof 2021 `eval-package` and the ASVspoof 5
/// `evaluation-package` on seeded score sets and writes `tests/fixtures/metrics/golden.json`).
#[cfg(test)]
pub(crate) mod golden_tests {
    use super::*;
    use serde_json::Value;

    const TOL: f64 = 1e-12;

    fn golden() -> Value {
        let text = include_str!("../../tests/fixtures/metrics/golden.json");
        serde_json::from_str(text).unwrap()
    }

    /// A JSON array of numbers (the reference fixtures' lists).
    pub(crate) fn vec_of(v: &Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    fn close(what: &str, got: f64, want: f64) {
        assert!(
            (got - want).abs() <= TOL,
            "{what}: got {got:e}, reference {want:e}"
        );
    }

    fn asv_rates(a: &Value) -> AsvErrorRates {
        asv_error_rates_at_eer(
            &vec_of(&a["target"]),
            &vec_of(&a["nontarget"]),
            &vec_of(&a["spoof"]),
        )
        .unwrap()
    }

    #[test]
    fn asv_error_rates_and_coefficients_match_reference() {
        let g = golden();
        let sets = g["asv"].as_object().unwrap();
        assert!(sets.len() >= 2);
        for (name, a) in sets {
            let e = eer(&vec_of(&a["target"]), &vec_of(&a["nontarget"])).unwrap();
            close(&format!("{name} eer"), e.eer, a["eer"].as_f64().unwrap());
            close(
                &format!("{name} thr"),
                e.threshold,
                a["threshold"].as_f64().unwrap(),
            );
            let r = asv_rates(a);
            for (field, got) in [
                ("pfa_asv", r.pfa_asv),
                ("pmiss_asv", r.pmiss_asv),
                ("pmiss_spoof_asv", r.pmiss_spoof_asv),
                ("pfa_spoof_asv", r.pfa_spoof_asv),
            ] {
                close(&format!("{name} {field}"), got, a[field].as_f64().unwrap());
            }
            let c = tdcf_coefficients(&r, &TdcfCosts::default());
            close(&format!("{name} c0"), c.c0, a["c0"].as_f64().unwrap());
            close(&format!("{name} c1"), c.c1, a["c1"].as_f64().unwrap());
            close(&format!("{name} c2"), c.c2, a["c2"].as_f64().unwrap());
        }
    }

    #[test]
    fn eer_det_dcf_cllr_match_reference() {
        let g = golden();
        let cases = g["cases"].as_array().unwrap();
        assert!(cases.len() >= 8);
        let costs = DcfCosts::default();
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let bona = vec_of(&c["bonafide"]);
            let spoof = vec_of(&c["spoof"]);
            let e = eer(&bona, &spoof).unwrap();
            close(&format!("{name} eer"), e.eer, c["eer"].as_f64().unwrap());
            close(
                &format!("{name} eer threshold"),
                e.threshold,
                c["eer_threshold"].as_f64().unwrap(),
            );
            let m = min_dcf(&bona, &spoof, &costs).unwrap();
            close(
                &format!("{name} minDCF"),
                m.min_dcf,
                c["min_dcf"].as_f64().unwrap(),
            );
            close(
                &format!("{name} minDCF threshold"),
                m.threshold,
                c["min_dcf_threshold"].as_f64().unwrap(),
            );
            let a = act_dcf(&bona, &spoof, &costs).unwrap();
            close(
                &format!("{name} actDCF"),
                a.act_dcf,
                c["act_dcf"].as_f64().unwrap(),
            );
            close(
                &format!("{name} actDCF threshold"),
                a.threshold,
                c["act_dcf_threshold"].as_f64().unwrap(),
            );
            close(
                &format!("{name} CLLR"),
                cllr(&bona, &spoof).unwrap(),
                c["cllr"].as_f64().unwrap(),
            );
            if !c["det"].is_null() {
                let det = det_curve(&bona, &spoof).unwrap();
                for (field, got) in [
                    ("frr", &det.frr),
                    ("far", &det.far),
                    ("thresholds", &det.thresholds),
                ] {
                    let want = vec_of(&c["det"][field]);
                    assert_eq!(got.len(), want.len(), "{name} {field} length");
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        close(&format!("{name} {field}[{i}]"), *g, *w);
                    }
                }
            }
        }
    }

    #[test]
    fn tdcf_2021_and_legacy_match_reference() {
        let g = golden();
        let mut checked = 0;
        let mut refused = 0;
        for c in g["cases"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let bona = vec_of(&c["bonafide"]);
            let spoof = vec_of(&c["spoof"]);
            for t in c["tdcf"].as_array().unwrap() {
                let a = &g["asv"][t["asv"].as_str().unwrap()];
                let rates = asv_rates(a);
                let coeffs = tdcf_coefficients(&rates, &TdcfCosts::default());
                let from_rates = min_tdcf(&bona, &spoof, &coeffs);
                let legacy = min_tdcf_legacy(&bona, &spoof, &rates, &LegacyTdcfCosts::default());
                if t["min_tdcf_2021"].is_null() {
                    // The reference exits on hard decisions; so must we.
                    assert!(t["error_2021"].as_str().unwrap().contains("soft CM scores"));
                    assert!(
                        matches!(from_rates, Err(MetricError::HardDecisions { .. })),
                        "{name}"
                    );
                    assert!(
                        matches!(legacy, Err(MetricError::HardDecisions { .. })),
                        "{name}"
                    );
                    refused += 1;
                    continue;
                }
                let m = from_rates.unwrap();
                close(
                    &format!("{name} min t-DCF"),
                    m.min_tdcf,
                    t["min_tdcf_2021"].as_f64().unwrap(),
                );
                close(
                    &format!("{name} min t-DCF threshold"),
                    m.threshold,
                    t["min_tdcf_2021_threshold"].as_f64().unwrap(),
                );
                let direct = TdcfCoefficients {
                    c0: a["c0"].as_f64().unwrap(),
                    c1: a["c1"].as_f64().unwrap(),
                    c2: a["c2"].as_f64().unwrap(),
                };
                let m = min_tdcf(&bona, &spoof, &direct).unwrap();
                close(
                    &format!("{name} min t-DCF (C012)"),
                    m.min_tdcf,
                    t["min_tdcf_c012"].as_f64().unwrap(),
                );
                let l = legacy.unwrap();
                close(
                    &format!("{name} legacy"),
                    l.min_tdcf,
                    t["min_tdcf_legacy"].as_f64().unwrap(),
                );
                close(
                    &format!("{name} legacy threshold"),
                    l.threshold,
                    t["min_tdcf_legacy_threshold"].as_f64().unwrap(),
                );
                checked += 1;
            }
        }
        assert!(checked >= 10 && refused >= 2, "{checked} {refused}");
    }
}
