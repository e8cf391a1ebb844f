//! The statistics of a study: mean, sample standard deviation, the Student t 95 % interval of a
//! mean and the paired t-test against the baseline. Pure functions of slices of numbers, used by
//! [`super::report`] when results are collected.
//!
//! Methods:
//! - standard deviation: the sample one, with `n − 1` in the denominator;
//! - 95 % interval of a mean: `mean ± t₀.₉₇₅,ₙ₋₁ · sd / √n` (Student t with `n − 1` degrees of
//!   freedom); with one value there is no interval;
//! - paired comparison: the differences `condition − baseline` over the seeds both have, their
//!   mean and 95 % t interval, and the two-sided p-value `2 · (1 − F(|t|))` of
//!   `t = mean / (sd / √n)` under Student t with `n − 1` degrees of freedom.
//!
//! The Student t distribution function comes from the regularized incomplete beta function,
//! `F(t) = 1 − I_{ν/(ν+t²)}(ν/2, 1/2) / 2` for `t ≥ 0`, evaluated by its continued fraction
//! (modified Lentz); quantiles by bisection on `F`.

use serde::{Deserialize, Serialize};

/// Mean of `values`; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// Sample standard deviation (`n − 1` denominator); `None` with fewer than two values.
pub fn sample_std(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (values.len() - 1) as f64).sqrt())
}

/// `ln Γ(x)` for `x > 0` (Lanczos approximation, g = 7, nine coefficients; relative error
/// below 1e-13 over the range the t distribution needs).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz), valid for
/// `x < (a + 1) / (a + b + 2)`.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        // Even step.
        let aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        // Odd step.
        let aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function `I_x(a, b)` for `a, b > 0`, `0 ≤ x ≤ 1`.
pub fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    // The continued fraction converges fast on one side of the mean; use the symmetry
    // I_x(a, b) = 1 − I_{1−x}(b, a) on the other.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

/// The Student t distribution function `P(T ≤ t)` with `df > 0` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    if t * t < df {
        // Near the centre the complementary form keeps its precision:
        // F(t) = 1/2 ± I_{t²/(ν+t²)}(1/2, ν/2) / 2.
        let half = 0.5 * regularized_incomplete_beta(0.5, df / 2.0, t * t / (df + t * t));
        return if t >= 0.0 { 0.5 + half } else { 0.5 - half };
    }
    let tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The quantile `t_{p, df}` of Student t (`0 < p < 1`), by bisection on [`student_t_cdf`].
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (-1.0, 1.0);
    while student_t_cdf(lo, df) > p {
        lo *= 2.0;
    }
    while student_t_cdf(hi, df) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi.abs().max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Two-sided p-value of a t statistic with `df` degrees of freedom.
pub fn two_sided_p(t: f64, df: f64) -> f64 {
    (2.0 * (1.0 - student_t_cdf(t.abs(), df))).clamp(0.0, 1.0)
}

/// Mean, sample standard deviation and 95 % Student t interval of a set of values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many values (seeds).
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation; `None` with one value.
    pub std: Option<f64>,
    /// `[lo, hi]` = mean ± t₀.₉₇₅,ₙ₋₁ · sd / √n; `None` with one value.
    pub ci95: Option<[f64; 2]>,
}

/// Half width of the 95 % t interval of a mean of `n` values with sample deviation `sd`.
fn half_width_95(sd: f64, n: usize) -> f64 {
    student_t_quantile(0.975, (n - 1) as f64) * sd / (n as f64).sqrt()
}

/// [`Summary`] of `values`; `None` when empty.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let m = mean(values)?;
    let sd = sample_std(values);
    let ci95 = sd.map(|sd| {
        let h = half_width_95(sd, values.len());
        [m - h, m + h]
    });
    Some(Summary {
        n: values.len(),
        mean: m,
        std: sd,
        ci95,
    })
}

/// A paired comparison: the differences `condition − baseline` on the seeds both have.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// Number of pairs.
    pub n: usize,
    pub mean_diff: f64,
    /// Sample standard deviation of the differences; `None` with one pair.
    pub std_diff: Option<f64>,
    /// 95 % t interval of the mean difference; `None` with one pair.
    pub ci95: Option<[f64; 2]>,
    /// `mean / (sd / √n)`; `None` with one pair or when every difference is the same.
    pub t: Option<f64>,
    /// Two-sided p-value of the paired t-test; `None` with one pair. Differences that are all
    /// equal give 0 (a non-zero shift) or 1 (no shift).
    pub p_value: Option<f64>,
}

/// Paired t-test of `a[i] − b[i]`; `None` when there are no pairs or the lengths differ.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Option<PairedTest> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = diffs.len();
    let m = mean(&diffs)?;
    let sd = sample_std(&diffs);
    let (t, p_value) = match sd {
        None => (None, None),
        Some(0.0) => (None, Some(if m == 0.0 { 1.0 } else { 0.0 })),
        Some(sd) => {
            let t = m / (sd / (n as f64).sqrt());
            (Some(t), Some(two_sided_p(t, (n - 1) as f64)))
        }
    };
    Some(PairedTest {
        n,
        mean_diff: m,
        std_diff: sd,
        ci95: sd.map(|sd| {
            let h = half_width_95(sd, n);
            [m - h, m + h]
        }),
        t,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn mean_and_sample_std_by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, sd = √(32/7).
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&v), Some(5.0));
        assert!(close(
            sample_std(&v).unwrap(),
            (32.0f64 / 7.0).sqrt(),
            1e-12
        ));
        assert_eq!(sample_std(&[3.0]), None);
        assert_eq!(mean(&[]), None);
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 95 % critical values from standard t tables.
        for (df, t) in [(1.0, 12.706_205), (2.0, 4.302_653), (4.0, 2.776_445)] {
            let q = student_t_quantile(0.975, df);
            assert!(close(q, t, 1e-5), "df {df}: {q}");
        }
        assert!(close(student_t_quantile(0.975, 1.0), 12.7062, 1e-4));
        assert!(close(student_t_quantile(0.975, 2.0), 4.3027, 1e-4));
        assert!(close(student_t_quantile(0.975, 4.0), 2.7764, 1e-4));
        assert!(close(student_t_quantile(0.975, 10.0), 2.2281, 1e-4));
        assert!(close(student_t_quantile(0.975, 30.0), 2.0423, 1e-4));
        let median = student_t_quantile(0.5, 7.0);
        assert!(close(median, 0.0, 1e-9), "{median}");
    }

    #[test]
    fn t_cdf_matches_closed_forms() {
        // df = 1 is the Cauchy distribution: F(1) = 3/4. df = 2: F(t) = 1/2 + t / (2√(2 + t²)).
        assert!(close(student_t_cdf(1.0, 1.0), 0.75, 1e-12));
        assert!(close(student_t_cdf(-1.0, 1.0), 0.25, 1e-12));
        let t: f64 = 1.5;
        let f2 = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
        assert!(close(student_t_cdf(t, 2.0), f2, 1e-12));
        // Table: P(|T| > 2.0) with 10 degrees of freedom = 0.07339.
        assert!(close(two_sided_p(2.0, 10.0), 0.07339, 1e-5));
        // The 95 % critical value gives p = 0.05.
        assert!(close(two_sided_p(2.776_445, 4.0), 0.05, 1e-6));
    }

    #[test]
    fn summary_interval_by_hand() {
        // 0.10, 0.12, 0.14: mean 0.12, sd 0.02, half width 4.3027 · 0.02 / √3 = 0.049683.
        let s = summarize(&[0.10, 0.12, 0.14]).unwrap();
        assert_eq!(s.n, 3);
        assert!(close(s.mean, 0.12, 1e-12));
        assert!(close(s.std.unwrap(), 0.02, 1e-12));
        let [lo, hi] = s.ci95.unwrap();
        assert!(close(lo, 0.12 - 0.049_683, 1e-5));
        assert!(close(hi, 0.12 + 0.049_683, 1e-5));
        let one = summarize(&[0.3]).unwrap();
        assert_eq!((one.std, one.ci95), (None, None));
    }

    #[test]
    fn paired_test_by_hand() {
        // Differences 0.02, 0.04, 0.03: mean 0.03, sd 0.01, t = 0.03 / (0.01/√3) = 5.19615,
        // df 2: p = 2(1 − F(5.19615)) = 0.035099 (from F of df 2 in closed form).
        let a = [0.12, 0.14, 0.13];
        let b = [0.10, 0.10, 0.10];
        let p = paired_t_test(&a, &b).unwrap();
        assert_eq!(p.n, 3);
        assert!(close(p.mean_diff, 0.03, 1e-12));
        assert!(close(p.std_diff.unwrap(), 0.01, 1e-12));
        let t = 0.03 / (0.01 / 3f64.sqrt());
        assert!(close(p.t.unwrap(), t, 1e-9));
        let p_expected = 1.0 - t / (2.0 + t * t).sqrt();
        assert!(close(p.p_value.unwrap(), p_expected, 1e-9));
        assert!(close(p_expected, 0.035_099, 1e-5));
        let [lo, hi] = p.ci95.unwrap();
        assert!(close(hi - 0.03, 4.302_653 * 0.01 / 3f64.sqrt(), 1e-6));
        assert!(close(0.03 - lo, hi - 0.03, 1e-12));
        // One pair: a difference but no test.
        let one = paired_t_test(&[0.2], &[0.1]).unwrap();
        assert_eq!((one.ci95, one.p_value), (None, None));
        // Identical shifts: no spread, p 0; none at all: p 1.
        assert_eq!(
            paired_t_test(&[1.5, 2.5], &[0.5, 1.5]).unwrap().p_value,
            Some(0.0)
        );
        assert_eq!(
            paired_t_test(&[0.1, 0.2], &[0.1, 0.2]).unwrap().p_value,
            Some(1.0)
        );
        assert!(paired_t_test(&[0.1], &[]).is_none());
    }
}
