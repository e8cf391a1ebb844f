//! Realised figures of a RawBoost draw, for people: what a [`RawBoostReport`] says the draw was
//! (SSI's signal-to-noise ratio, the share of samples ISD hit, LnL's notch frequencies and gains)
//! as labelled rows, plus figures measured by comparing the augmented clip with the original.
//!
//! The GUI's augment view shows these beside the two spectrograms; `dpda augment` may print them.
//! Everything here is a pure function of its inputs.

use super::rawboost::{NotchFilter, RawBoostReport};

/// One labelled figure of a draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Which stage drew it: `LnL`, `ISD`, `SSI`, `sum` or `measured`.
    pub stage: &'static str,
    /// What the figure is, e.g. "realised SNR".
    pub name: String,
    /// The value with its unit, e.g. "23.4 dB".
    pub value: String,
}

fn figure(stage: &'static str, name: impl Into<String>, value: impl Into<String>) -> Figure {
    Figure {
        stage,
        name: name.into(),
        value: value.into(),
    }
}

/// The notches of a filter as "centre Hz (bandwidth Hz)" items, in cascade order.
pub fn notch_list(filter: &NotchFilter) -> String {
    filter
        .bands
        .iter()
        .map(|b| format!("{:.0} Hz (bw {:.0} Hz)", b.centre_hz, b.bandwidth_hz))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The figures a report holds, stage by stage (nothing for algorithm 0).
pub fn realised_figures(report: &RawBoostReport) -> Vec<Figure> {
    let mut rows = Vec::new();
    if let Some(lnl) = &report.lnl {
        for (i, term) in lnl.terms.iter().enumerate() {
            let power = i + 1;
            rows.push(figure(
                "LnL",
                format!("term x^{power} gain"),
                format!("{:.1} dB", term.gain_db),
            ));
            rows.push(figure(
                "LnL",
                format!("term x^{power} notches"),
                notch_list(term),
            ));
        }
        if lnl.peak_normalised {
            rows.push(figure("LnL", "peak-normalised", "yes"));
        }
    }
    if let Some(isd) = &report.isd {
        rows.push(figure(
            "ISD",
            "drawn share (beta)",
            format!("{:.2} %", isd.beta_percent),
        ));
        rows.push(figure(
            "ISD",
            "samples hit",
            format!(
                "{} ({:.2} % of the clip)",
                isd.num_changed,
                100.0 * isd.changed_share
            ),
        ));
        if isd.peak_normalised {
            rows.push(figure("ISD", "peak-normalised", "yes"));
        }
    }
    if let Some(ssi) = &report.ssi {
        rows.push(figure("SSI", "drawn SNR", format!("{:.1} dB", ssi.snr_db)));
        rows.push(figure(
            "SSI",
            "realised SNR",
            ssi.realised_snr_db
                .map_or_else(|| "n/a (silent clip)".to_string(), |s| format!("{s:.1} dB")),
        ));
        rows.push(figure(
            "SSI",
            "noise colour gain",
            format!("{:.1} dB", ssi.filter.gain_db),
        ));
        rows.push(figure("SSI", "noise notches", notch_list(&ssi.filter)));
    }
    if report.sum_peak_normalised {
        rows.push(figure("sum", "LnL + ISD peak-normalised", "yes"));
    }
    rows
}

/// Signal-to-change ratio in dB: `10·log10(Σ x² / Σ (y − x)²)` over the common length; `None`
/// when nothing changed or the original is silent.
pub fn change_snr_db(original: &[f32], augmented: &[f32]) -> Option<f64> {
    let (signal, change) =
        original
            .iter()
            .zip(augmented)
            .fold((0.0f64, 0.0f64), |(s, c), (&x, &y)| {
                let d = f64::from(y) - f64::from(x);
                (s + f64::from(x) * f64::from(x), c + d * d)
            });
    (signal > 0.0 && change > 0.0).then(|| 10.0 * (signal / change).log10())
}

/// Share of samples (over the common length) whose value differs between the two clips.
pub fn changed_share(original: &[f32], augmented: &[f32]) -> f64 {
    let n = original.len().min(augmented.len());
    if n == 0 {
        return 0.0;
    }
    let changed = original
        .iter()
        .zip(augmented)
        .filter(|(x, y)| x != y)
        .count();
    changed as f64 / n as f64
}

/// [`realised_figures`] followed by the measured comparison of `augmented` with `original`.
pub fn figures_with_measurements(
    report: &RawBoostReport,
    original: &[f32],
    augmented: &[f32],
) -> Vec<Figure> {
    let mut rows = realised_figures(report);
    rows.push(figure(
        "measured",
        "signal-to-change ratio",
        change_snr_db(original, augmented)
            .map_or_else(|| "n/a (no change)".to_string(), |s| format!("{s:.1} dB")),
    ));
    rows.push(figure(
        "measured",
        "samples changed",
        format!("{:.2} %", 100.0 * changed_share(original, augmented)),
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::{rawboost, RawBoostAlgo, RawBoostParams};
    use crate::rng::Rng;

    fn tone(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.3 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 16_000.0).sin())
            .collect()
    }

    #[test]
    fn change_snr_and_share_by_hand() {
        // Σx² = 1 + 4 = 5, Σd² = 0.05 → 10·log10(100) = 20 dB; one sample of two differs.
        let x = [1.0f32, 2.0];
        let y = [1.0f32, 2.0 + 0.05f32.sqrt()];
        let snr = change_snr_db(&x, &y).unwrap();
        assert!((snr - 20.0).abs() < 1e-4, "{snr}");
        assert_eq!(changed_share(&x, &y), 0.5);
        assert_eq!(change_snr_db(&x, &x), None);
        assert_eq!(change_snr_db(&[0.0], &[1.0]), None);
        assert_eq!(changed_share(&[], &[]), 0.0);
    }

    #[test]
    fn ssi_realised_snr_matches_the_measured_change() {
        let x = tone(16_000);
        let out = rawboost(
            &x,
            16_000,
            RawBoostAlgo::Ssi,
            &RawBoostParams::default(),
            &mut Rng::new(7),
        )
        .unwrap();
        let reported = out.report.ssi.as_ref().unwrap().realised_snr_db.unwrap();
        let measured = change_snr_db(&x, &out.samples).unwrap();
        assert!(
            (reported - measured).abs() < 0.01,
            "{reported} vs {measured}"
        );
        let rows = realised_figures(&out.report);
        let realised = rows.iter().find(|r| r.name == "realised SNR").unwrap();
        assert_eq!(realised.value, format!("{reported:.1} dB"));
        assert!(rows
            .iter()
            .any(|r| r.stage == "SSI" && r.name == "noise notches"));
    }

    #[test]
    fn isd_share_reported_bounds_the_measured_share() {
        let x = tone(16_000);
        let params = RawBoostParams {
            g_sd: 0.5,
            ..RawBoostParams::default()
        };
        let out = rawboost(&x, 16_000, RawBoostAlgo::Isd, &params, &mut Rng::new(3)).unwrap();
        let isd = out.report.isd.as_ref().unwrap();
        assert!(!isd.peak_normalised);
        // Without peak normalisation only the drawn positions can change (some by zero).
        let measured = changed_share(&x, &out.samples);
        assert!(measured <= isd.changed_share + 1e-12);
        assert!(
            measured > 0.5 * isd.changed_share,
            "{measured} vs {}",
            isd.changed_share
        );
        let rows = figures_with_measurements(&out.report, &x, &out.samples);
        assert!(rows
            .iter()
            .any(|r| r.name == "samples hit" && r.value.starts_with(&isd.num_changed.to_string())));
        assert!(rows.iter().any(|r| r.stage == "measured"));
    }

    #[test]
    fn lnl_lists_one_gain_and_notch_row_per_term() {
        let x = tone(8_000);
        let params = RawBoostParams::default();
        let out = rawboost(&x, 16_000, RawBoostAlgo::Lnl, &params, &mut Rng::new(1)).unwrap();
        let rows = realised_figures(&out.report);
        let gains = rows.iter().filter(|r| r.name.ends_with("gain")).count();
        let notches: Vec<_> = rows
            .iter()
            .filter(|r| r.name.ends_with("notches"))
            .collect();
        assert_eq!(gains, params.n_f as usize);
        assert_eq!(notches.len(), params.n_f as usize);
        let first = &out.report.lnl.as_ref().unwrap().terms[0];
        assert_eq!(
            notches[0].value.matches("Hz (bw").count(),
            first.bands.len()
        );
        assert!(notches[0]
            .value
            .starts_with(&format!("{:.0} Hz", first.bands[0].centre_hz)));
        assert!(realised_figures(
            &rawboost(&x, 16_000, RawBoostAlgo::None, &params, &mut Rng::new(1))
                .unwrap()
                .report
        )
        .is_empty());
    }
}
