//! Score calibration: an affine map from a detector's raw score (the bona fide logit) to a
//! log-likelihood ratio, `LLR = a·score + b`, fitted by prior-weighted logistic regression.
//!
//! **The fit.** With bona fide scores `s⁺` (n⁺ of them), spoof scores `s⁻` (n⁻), an effective
//! prior π of bona fide and `o = logit π`, the map minimises
//!
//! ```text
//! π/n⁺ · Σ softplus(−(a·s⁺ + b + o)) + (1−π)/n⁻ · Σ softplus(a·s⁻ + b + o) + ½·λ·a²
//! ```
//!
//! (softplus(x) = ln(1 + eˣ)), the cross-entropy of the posterior `σ(LLR + o)` with the classes
//! weighted as if they occurred with prior π. The default π = ½ weighs both classes equally
//! whatever their counts, so the fitted log posterior odds *are* the LLR. `b` is not penalised;
//! `λ` (default [`DEFAULT_RIDGE`]) is a tiny ridge on the slope only: without it a dev set that
//! the scores separate perfectly has no minimum (the slope would grow without bound); with it
//! the slope stays finite and on overlapping scores it moves the fit by a negligible amount.
//! This is scikit-learn's `LogisticRegression(C = 1/λ)` with sample weights π/n⁺ and (1−π)/n⁻
//! and intercept `b + o` (`scripts/calibration_reference.py`; the tests match it to 1e-6).
//!
//! **The solver** is Newton's method on the two parameters with a backtracking line search
//! (halving the step until the objective decreases), which converges in a handful of steps; the
//! objective is strictly convex with λ > 0.
//!
//! **The file** (`CAL.json`, a run's `calibration.json`) records the map, the fit's prior and
//! ridge, the class counts, what it was fitted on, the model and input length it belongs to, and
//! CLLR/actDCF of the fitting set before and after; it is read back strictly (unknown fields are
//! refused, the format and version are checked).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dcf::{act_dcf, cllr, min_dcf, DcfCosts};
use super::eer::eer;

/// The `format` field of every calibration file.
pub const CALIBRATION_FORMAT: &str = "dpda-calibration";
/// The version of the file layout written here.
pub const CALIBRATION_VERSION: u32 = 1;
/// Default ridge λ on the slope (see the module docs).
pub const DEFAULT_RIDGE: f64 = 1e-4;
/// Default effective prior of bona fide.
pub const DEFAULT_PRIOR: f64 = 0.5;

/// Why a calibration cannot be fitted, read or written.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("no {class} scores: calibration needs both bona fide and spoof trials")]
    EmptyClass { class: &'static str },
    #[error("{class} score {index} is not finite ({value})")]
    NonFiniteScore {
        class: &'static str,
        index: usize,
        value: f64,
    },
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    #[error("the logistic regression did not converge in {iterations} Newton steps (gradient {gradient:e})")]
    NoConvergence { iterations: usize, gradient: f64 },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a calibration file: {message}")]
    Format { path: PathBuf, message: String },
}

/// Settings of the fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitSettings {
    /// Effective prior of bona fide, in (0, 1).
    pub prior: f64,
    /// Ridge λ on the slope, ≥ 0 (with 0, scores that separate the classes have no finite fit:
    /// the solver stops where the gradient underflows).
    pub ridge: f64,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings {
            prior: DEFAULT_PRIOR,
            ridge: DEFAULT_RIDGE,
        }
    }
}

/// The fitted affine map and how the solver got there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineFit {
    /// Slope.
    pub a: f64,
    /// Offset.
    pub b: f64,
    /// Value of the objective at (a, b), in nats.
    pub objective: f64,
    /// Newton steps taken.
    pub iterations: usize,
}

/// ln(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// 1 / (1 + e⁻ˣ) without overflow.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ln(p / (1 − p)).
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// P(bona fide | clip) for a clip with log-likelihood ratio `llr` at a prior `prior` of bona fide:
/// σ(llr + logit prior).
pub fn posterior_bonafide(llr: f64, prior: f64) -> f64 {
    sigmoid(llr + logit(prior))
}

fn check_class(class: &'static str, scores: &[f64]) -> Result<(), CalibrationError> {
    if scores.is_empty() {
        return Err(CalibrationError::EmptyClass { class });
    }
    if let Some(index) = scores.iter().position(|s| !s.is_finite()) {
        return Err(CalibrationError::NonFiniteScore {
            class,
            index,
            value: scores[index],
        });
    }
    Ok(())
}

fn check_settings(settings: &FitSettings) -> Result<(), CalibrationError> {
    if !(settings.prior > 0.0 && settings.prior < 1.0) {
        return Err(CalibrationError::Invalid {
            what: "prior".into(),
            message: format!("{} is outside (0, 1)", settings.prior),
        });
    }
    if !(settings.ridge >= 0.0 && settings.ridge.is_finite()) {
        return Err(CalibrationError::Invalid {
            what: "ridge".into(),
            message: format!("{} is not a finite number ≥ 0", settings.ridge),
        });
    }
    Ok(())
}

/// The objective of the module docs and, on request, its gradient and Hessian in (a, b).
struct Objective<'a> {
    bonafide: &'a [f64],
    spoof: &'a [f64],
    w_bonafide: f64,
    w_spoof: f64,
    offset: f64,
    ridge: f64,
}

impl Objective<'_> {
    fn value(&self, a: f64, b: f64) -> f64 {
        let c = b + self.offset;
        let bona: f64 = self.bonafide.iter().map(|&s| softplus(-(a * s + c))).sum();
        let spoof: f64 = self.spoof.iter().map(|&s| softplus(a * s + c)).sum();
        self.w_bonafide * bona + self.w_spoof * spoof + 0.5 * self.ridge * a * a
    }

    /// `(gradient [∂a, ∂b], Hessian [[aa, ab], [ab, bb]])`.
    fn derivatives(&self, a: f64, b: f64) -> ([f64; 2], [f64; 3]) {
        let c = b + self.offset;
        let mut g = [self.ridge * a, 0.0];
        let mut h = [self.ridge, 0.0, 0.0];
        let mut add = |s: f64, weight: f64, residual: f64, p: f64| {
            let curvature = weight * p * (1.0 - p);
            g[0] += weight * residual * s;
            g[1] += weight * residual;
            h[0] += curvature * s * s;
            h[1] += curvature * s;
            h[2] += curvature;
        };
        for &s in self.bonafide {
            let p = sigmoid(a * s + c);
            add(s, self.w_bonafide, p - 1.0, p);
        }
        for &s in self.spoof {
            let p = sigmoid(a * s + c);
            add(s, self.w_spoof, p, p);
        }
        (g, h)
    }
}

/// Fit `LLR = a·score + b` to bona fide and spoof scores (see the module docs).
pub fn fit_affine(
    bonafide: &[f64],
    spoof: &[f64],
    settings: &FitSettings,
) -> Result<AffineFit, CalibrationError> {
    check_class("bona fide", bonafide)?;
    check_class("spoof", spoof)?;
    check_settings(settings)?;
    let objective = Objective {
        bonafide,
        spoof,
        w_bonafide: settings.prior / bonafide.len() as f64,
        w_spoof: (1.0 - settings.prior) / spoof.len() as f64,
        offset: logit(settings.prior),
        ridge: settings.ridge,
    };
    const MAX_ITERATIONS: usize = 200;
    // Start at the identity map with the offset that makes the prior hold on average.
    let (mut a, mut b) = (1.0, -objective.offset);
    let mut value = objective.value(a, b);
    if !value.is_finite() {
        a = 0.0;
        value = objective.value(a, b);
    }
    let mut gradient_norm = f64::INFINITY;
    for iteration in 0..MAX_ITERATIONS {
        let (g, h) = objective.derivatives(a, b);
        gradient_norm = g[0].abs().max(g[1].abs());
        // The objective's weights sum to 1, so its gradient is on the scale of the scores.
        if gradient_norm <= 1e-13 {
            return Ok(AffineFit {
                a,
                b,
                objective: value,
                iterations: iteration,
            });
        }
        let det = h[0] * h[2] - h[1] * h[1];
        // Newton direction −H⁻¹g; plain gradient descent where H is numerically singular
        // (every score saturated).
        let (mut da, mut db) = if det > 1e-300 && det.is_finite() {
            (
                -(h[2] * g[0] - h[1] * g[1]) / det,
                -(h[0] * g[1] - h[1] * g[0]) / det,
            )
        } else {
            (-g[0], -g[1])
        };
        if da * g[0] + db * g[1] >= 0.0 {
            (da, db) = (-g[0], -g[1]);
        }
        let mut step = 1.0;
        let mut moved = false;
        for _ in 0..60 {
            let (na, nb) = (a + step * da, b + step * db);
            let v = objective.value(na, nb);
            if v.is_finite() && v <= value {
                moved = na != a || nb != b;
                (a, b, value) = (na, nb, v);
                break;
            }
            step *= 0.5;
        }
        if !moved {
            // No representable step decreases the objective: this is its minimum to the last
            // bit when the gradient is small on the scale of the problem.
            if gradient_norm <= 1e-8 {
                return Ok(AffineFit {
                    a,
                    b,
                    objective: value,
                    iterations: iteration + 1,
                });
            }
            break;
        }
    }
    Err(CalibrationError::NoConvergence {
        iterations: MAX_ITERATIONS,
        gradient: gradient_norm,
    })
}

/// The model a calibration was fitted for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibratedModel {
    /// Registry name of the model.
    pub name: String,
    /// The weights file scored.
    pub weights: String,
    /// Whole-clip input length in samples.
    pub num_samples: usize,
}

/// Metrics of the fitting set under the raw scores and the calibrated LLRs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitSetMetrics {
    /// EER as a fraction (the same before and after when a > 0).
    pub eer: f64,
    /// minDCF (threshold-free, the same before and after when a > 0).
    pub min_dcf: f64,
    /// CLLR in bits with the raw scores taken as LLRs.
    pub cllr_before: f64,
    /// CLLR in bits of the calibrated LLRs.
    pub cllr_after: f64,
    /// actDCF (ASVspoof 5 costs) with the raw scores taken as LLRs.
    pub act_dcf_before: f64,
    /// actDCF of the calibrated LLRs.
    pub act_dcf_after: f64,
}

/// A fitted calibration, as stored in a calibration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Always [`CALIBRATION_FORMAT`].
    pub format: String,
    /// [`CALIBRATION_VERSION`] when written.
    pub version: u32,
    /// Slope: LLR = a·score + b.
    pub a: f64,
    /// Offset.
    pub b: f64,
    /// The effective bona fide prior of the fit.
    pub prior: f64,
    /// The ridge λ on the slope.
    pub ridge: f64,
    /// Bona fide trials fitted on.
    pub n_bonafide: usize,
    /// Spoof trials fitted on.
    pub n_spoof: usize,
    /// What it was fitted on, e.g. "key data/key.txt" or "dev set of run runs/x".
    pub source: String,
    /// The model and input length the scores came from, when known.
    pub model: Option<CalibratedModel>,
    /// Metrics of the fitting set before and after.
    pub fit_set: FitSetMetrics,
}

/// Before/after metrics of a score set under a calibration.
pub fn before_after(
    bonafide: &[f64],
    spoof: &[f64],
    map: impl Fn(f64) -> f64,
) -> Result<FitSetMetrics, super::MetricError> {
    let costs = DcfCosts::default();
    let cal_bona: Vec<f64> = bonafide.iter().map(|&s| map(s)).collect();
    let cal_spoof: Vec<f64> = spoof.iter().map(|&s| map(s)).collect();
    Ok(FitSetMetrics {
        eer: eer(bonafide, spoof)?.eer,
        min_dcf: min_dcf(bonafide, spoof, &costs)?.min_dcf,
        cllr_before: cllr(bonafide, spoof)?,
        cllr_after: cllr(&cal_bona, &cal_spoof)?,
        act_dcf_before: act_dcf(bonafide, spoof, &costs)?.act_dcf,
        act_dcf_after: act_dcf(&cal_bona, &cal_spoof, &costs)?.act_dcf,
    })
}

impl Calibration {
    /// Fit a calibration on labelled scores; `source` and `model` are recorded as given.
    pub fn fit(
        bonafide: &[f64],
        spoof: &[f64],
        settings: &FitSettings,
        source: String,
        model: Option<CalibratedModel>,
    ) -> Result<Self, CalibrationError> {
        let fit = fit_affine(bonafide, spoof, settings)?;
        let fit_set = before_after(bonafide, spoof, |s| fit.a * s + fit.b).map_err(|e| {
            CalibrationError::Invalid {
                what: "scores".into(),
                message: e.to_string(),
            }
        })?;
        Ok(Calibration {
            format: CALIBRATION_FORMAT.into(),
            version: CALIBRATION_VERSION,
            a: fit.a,
            b: fit.b,
            prior: settings.prior,
            ridge: settings.ridge,
            n_bonafide: bonafide.len(),
            n_spoof: spoof.len(),
            source,
            model,
            fit_set,
        })
    }

    /// The calibrated LLR of a raw score.
    pub fn llr(&self, score: f64) -> f64 {
        self.a * score + self.b
    }

    /// Parse a calibration file's text; `path` names it in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, CalibrationError> {
        let format_err = |message: String| CalibrationError::Format {
            path: path.to_path_buf(),
            message,
        };
        let cal: Calibration = serde_json::from_str(text).map_err(|e| format_err(e.to_string()))?;
        if cal.format != CALIBRATION_FORMAT {
            return Err(format_err(format!(
                "field format is \"{}\", expected \"{CALIBRATION_FORMAT}\"",
                cal.format
            )));
        }
        if cal.version != CALIBRATION_VERSION {
            return Err(format_err(format!(
                "field version is {}; this program reads version {CALIBRATION_VERSION}",
                cal.version
            )));
        }
        for (field, value) in [("a", cal.a), ("b", cal.b)] {
            if !value.is_finite() {
                return Err(format_err(format!("field {field} is not finite")));
            }
        }
        Ok(cal)
    }

    /// Read a calibration file.
    pub fn read(path: &Path) -> Result<Self, CalibrationError> {
        let text = std::fs::read_to_string(path).map_err(|source| CalibrationError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Write the calibration as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<(), CalibrationError> {
        let io = |source| CalibrationError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        text.push('\n');
        crate::atomic_file::write_atomically(path, text.as_bytes()).map_err(io)
    }

    /// One line: the map and what it was fitted on.
    pub fn describe(&self) -> String {
        format!(
            "LLR = {:.6}·score {} {:.6} (fitted on {}: {} bona fide, {} spoof, prior {})",
            self.a,
            if self.b < 0.0 { '−' } else { '+' },
            self.b.abs(),
            self.source,
            self.n_bonafide,
            self.n_spoof,
            self.prior
        )
    }

    /// Why this calibration may not fit a model (another model or input length), if it does
    /// not; `None` when it matches or records no model.
    pub fn mismatch(&self, name: &str, num_samples: usize) -> Option<String> {
        let m = self.model.as_ref()?;
        let mut why = Vec::new();
        if m.name != name {
            why.push(format!("model {} (loaded: {name})", m.name));
        }
        if m.num_samples != num_samples {
            why.push(format!(
                "input length {} samples (loaded: {num_samples})",
                m.num_samples
            ));
        }
        (!why.is_empty()).then(|| format!("fitted for {}", why.join(" and ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Scores of a known logistic model: score ~ N(0, 2²), label bona fide with probability
    /// σ(true_a·score + true_b); balanced by construction when true_b = 0.
    fn sample(n: usize, true_a: f64, true_b: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let (mut bona, mut spoof) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let s = 2.0 * rng.normal();
            if rng.uniform01() < sigmoid(true_a * s + true_b) {
                bona.push(s);
            } else {
                spoof.push(s);
            }
        }
        (bona, spoof)
    }

    #[test]
    fn recovers_a_known_logistic_model() {
        // With prior = the sample's bona fide share, the fit is the plain maximum-likelihood
        // logistic regression, which recovers the generating (a, b).
        let (bona, spoof) = sample(40_000, 1.5, -0.7, 7);
        let share = bona.len() as f64 / (bona.len() + spoof.len()) as f64;
        let settings = FitSettings {
            prior: share,
            ridge: 0.0,
        };
        let fit = fit_affine(&bona, &spoof, &settings).unwrap();
        // a, b are LLR parameters: the posterior offset logit(share) is added back.
        let b_posterior = fit.b + logit(share);
        assert!((fit.a - 1.5).abs() < 0.05, "a {}", fit.a);
        assert!((b_posterior + 0.7).abs() < 0.05, "b {b_posterior}");
        assert!(fit.iterations < 30, "{}", fit.iterations);
    }

    #[test]
    fn balanced_prior_ignores_class_counts() {
        // Repeating every spoof score three times changes the counts, not the balanced fit.
        let (bona, spoof) = sample(2_000, 1.0, 0.0, 3);
        let tripled: Vec<f64> = spoof.iter().flat_map(|&s| [s, s, s]).collect();
        let s = FitSettings::default();
        let one = fit_affine(&bona, &spoof, &s).unwrap();
        let three = fit_affine(&bona, &tripled, &s).unwrap();
        assert!((one.a - three.a).abs() < 1e-9 && (one.b - three.b).abs() < 1e-9);
    }

    #[test]
    fn separable_scores_stay_finite() {
        let bona = [3.0, 4.0, 5.0];
        let spoof = [-1.0, -2.0];
        let fit = fit_affine(&bona, &spoof, &FitSettings::default()).unwrap();
        assert!(
            fit.a.is_finite() && fit.b.is_finite() && fit.a > 1.0,
            "{fit:?}"
        );
        // The calibrated LLRs separate the classes at 0.
        assert!(bona.iter().all(|&s| fit.a * s + fit.b > 0.0));
        assert!(spoof.iter().all(|&s| fit.a * s + fit.b < 0.0));
        // The ridge is what holds the slope: a stronger one gives a flatter map.
        let stronger = fit_affine(
            &bona,
            &spoof,
            &FitSettings {
                ridge: 1e-2,
                ..FitSettings::default()
            },
        )
        .unwrap();
        assert!(stronger.a < fit.a, "{stronger:?} {fit:?}");
    }

    #[test]
    fn refuses_empty_classes_non_finite_scores_and_bad_settings() {
        let s = FitSettings::default();
        assert!(matches!(
            fit_affine(&[], &[1.0], &s),
            Err(CalibrationError::EmptyClass { class: "bona fide" })
        ));
        assert!(matches!(
            fit_affine(&[1.0], &[], &s),
            Err(CalibrationError::EmptyClass { class: "spoof" })
        ));
        let e = fit_affine(&[1.0, f64::NAN], &[0.0], &s).unwrap_err();
        assert!(e.to_string().contains("bona fide score 1"), "{e}");
        let e = fit_affine(&[1.0], &[f64::INFINITY], &s).unwrap_err();
        assert!(e.to_string().contains("spoof score 0"), "{e}");
        let bad = FitSettings {
            prior: 1.0,
            ..FitSettings::default()
        };
        assert!(fit_affine(&[1.0], &[0.0], &bad)
            .unwrap_err()
            .to_string()
            .starts_with("prior"));
    }

    #[test]
    fn file_round_trips_and_is_read_strictly() {
        let (bona, spoof) = sample(500, 1.0, 0.3, 11);
        let model = CalibratedModel {
            name: "tiny".into(),
            weights: "w.safetensors".into(),
            num_samples: 4000,
        };
        let cal = Calibration::fit(
            &bona,
            &spoof,
            &FitSettings::default(),
            "test".into(),
            Some(model),
        )
        .unwrap();
        assert!(cal.fit_set.cllr_after <= cal.fit_set.cllr_before + 1e-12);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cal.json");
        cal.write(&path).unwrap();
        assert_eq!(Calibration::read(&path).unwrap(), cal);
        let text = std::fs::read_to_string(&path).unwrap();
        let extra = text.replacen('{', "{\"extra\": 1,", 1);
        let e = Calibration::from_json(&extra, &path).unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
        let v2 = text.replace("\"version\": 1", "\"version\": 2");
        assert!(Calibration::from_json(&v2, &path)
            .unwrap_err()
            .to_string()
            .contains("version"));
        assert_eq!(cal.mismatch("tiny", 4000), None);
        let why = cal.mismatch("aasist", 4000).unwrap();
        assert!(why.contains("model tiny"), "{why}");
        assert!(cal.mismatch("tiny", 64_600).unwrap().contains("64600"));
    }

    #[test]
    fn posterior_follows_the_prior() {
        assert!((posterior_bonafide(0.0, 0.5) - 0.5).abs() < 1e-15);
        assert!((posterior_bonafide(0.0, 0.2) - 0.2).abs() < 1e-12);
        // LLR ln 4 at prior 0.2: odds 4 · 0.25 = 1.
        assert!((posterior_bonafide(4f64.ln(), 0.2) - 0.5).abs() < 1e-12);
        assert_eq!(posterior_bonafide(1e4, 0.5), 1.0);
    }
}

/// Fits against scikit-learn's `LogisticRegression` on the same objective
/// (`scripts/calibration_reference.py` writes `tests/fixtures/calibration/reference.json`).
#[cfg(test)]
mod reference_tests {
    use super::*;
    use serde_json::Value;

    use crate::metrics::golden_tests::vec_of;

    fn close(what: &str, got: f64, want: f64) {
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{what}: got {got:e}, scikit-learn {want:e}"
        );
    }

    #[test]
    fn fits_match_scikit_learn() {
        let text = include_str!("../../tests/fixtures/calibration/reference.json");
        let reference: Value = serde_json::from_str(text).unwrap();
        let cases = reference["cases"].as_array().unwrap();
        assert!(cases.len() >= 9);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let settings = FitSettings {
                prior: c["prior"].as_f64().unwrap(),
                ridge: c["ridge"].as_f64().unwrap(),
            };
            let cal = Calibration::fit(
                &vec_of(&c["bonafide"]),
                &vec_of(&c["spoof"]),
                &settings,
                name.into(),
                None,
            )
            .unwrap();
            close(&format!("{name} a"), cal.a, c["a"].as_f64().unwrap());
            close(&format!("{name} b"), cal.b, c["b"].as_f64().unwrap());
            let probes = vec_of(&c["probe_scores"]);
            for (s, want) in probes.iter().zip(vec_of(&c["probe_llrs"])) {
                close(&format!("{name} LLR({s})"), cal.llr(*s), want);
            }
        }
    }
}
