//! RawBoost against scipy reference values (tests/fixtures/rawboost/scipy_fir.json, written by
//! scripts/rawboost_scipy_fixtures.py) and statistical checks of the random algorithms.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use dpda::augment::fir::{
    fir_filter_crop, fir_sum_crop_fft, firwin_bandstop, freqz, freqz_max_abs, odd_taps,
};
use dpda::augment::rawboost::{
    draw_notch_filter, isd_additive_noise, lnl_convolutive_noise, ssi_additive_noise,
};
use dpda::augment::{rawboost, rawboost_batch, RawBoostAlgo, RawBoostParams};
use dpda::rng::Rng;
use serde_json::Value;

const TOL: f64 = 1e-6;
const FS_HZ: u32 = 16_000;

fn fixtures() -> Value {
    let text = include_str!("fixtures/rawboost/scipy_fir.json");
    serde_json::from_str(text).expect("fixture JSON parses")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tol, "{what}[{i}]: {a} vs scipy {e}");
    }
}

/// A speech-like test clip: a few partials with an envelope, peak about 0.6.
fn clip(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..len)
        .map(|n| {
            let t = n as f64 / FS_HZ as f64;
            let env = 0.5 + 0.5 * (std::f64::consts::TAU * 3.0 * t).sin();
            let s = 0.3 * (std::f64::consts::TAU * 220.0 * t).sin()
                + 0.15 * (std::f64::consts::TAU * 1330.0 * t).sin()
                + 0.05 * rng.normal();
            (env * s) as f32
        })
        .collect()
}

#[test]
fn firwin_bandstop_matches_scipy() {
    let fx = fixtures();
    for case in fx["firwin"].as_array().unwrap() {
        let requested = case["requested_taps"].as_u64().unwrap() as usize;
        let num_taps = odd_taps(requested);
        assert_eq!(num_taps as u64, case["num_taps"].as_u64().unwrap());
        let taps = firwin_bandstop(
            num_taps,
            case["f1_hz"].as_f64().unwrap(),
            case["f2_hz"].as_f64().unwrap(),
            case["fs_hz"].as_f64().unwrap(),
        )
        .unwrap();
        assert_close(
            &taps,
            &floats(&case["taps"]),
            TOL,
            &format!("firwin {requested}"),
        );
    }
}

#[test]
fn cascade_freqz_and_normalisation_match_scipy() {
    let fx = fixtures();
    for case in fx["cascade"].as_array().unwrap() {
        let fs_hz = case["fs_hz"].as_f64().unwrap();
        let mut b = vec![1.0];
        for band in case["bands"].as_array().unwrap() {
            let h = firwin_bandstop(
                band["num_taps"].as_u64().unwrap() as usize,
                band["f1_hz"].as_f64().unwrap(),
                band["f2_hz"].as_f64().unwrap(),
                fs_hz,
            )
            .unwrap();
            b = dpda::augment::fir::convolve(&h, &b);
        }
        let response: Vec<f64> = freqz(&b).iter().map(|h| h.norm()).collect();
        assert_close(&response, &floats(&case["freqz_abs"]), TOL, "freqz |H|");
        let peak = freqz_max_abs(&b);
        assert!((peak - case["freqz_max_abs"].as_f64().unwrap()).abs() < TOL);
        let gain = 10f64.powf(case["gain_db"].as_f64().unwrap() / 20.0);
        let scaled: Vec<f64> = b.iter().map(|v| v * gain / peak).collect();
        assert_close(
            &scaled,
            &floats(&case["normalised_taps"]),
            TOL,
            "normalised",
        );
    }
}

#[test]
fn pad_filter_crop_matches_scipy_lfilter_and_fft_path_agrees() {
    let fx = fixtures();
    for case in fx["filter_crop"].as_array().unwrap() {
        let x = floats(&case["input"]);
        let b = floats(&case["taps"]);
        let expected = floats(&case["output"]);
        let direct = fir_filter_crop(&x, &b);
        assert_close(
            &direct,
            &expected,
            TOL,
            &format!("filterFIR len {}", x.len()),
        );
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let fast: Vec<f64> = fir_sum_crop_fft(&x32, std::slice::from_ref(&b))
            .iter()
            .map(|&v| v as f64)
            .collect();
        assert_close(
            &fast,
            &expected,
            1e-5,
            &format!("FFT filterFIR len {}", x.len()),
        );
    }
}

#[test]
fn lnl_with_one_term_and_fixed_draws_is_the_normalised_filter() {
    let fx = fixtures();
    let case = &fx["lnl_single_term"];
    let centre_hz = case["centre_hz"].as_f64().unwrap();
    let bandwidth_hz = case["bandwidth_hz"].as_f64().unwrap();
    let coeff = case["coeff"].as_u64().unwrap() as u32;
    let params = RawBoostParams {
        n_f: 1,
        n_bands: 1,
        min_f_hz: centre_hz,
        max_f_hz: centre_hz,
        min_bw_hz: bandwidth_hz,
        max_bw_hz: bandwidth_hz,
        min_coeff: coeff,
        max_coeff: coeff,
        ..Default::default()
    };
    let x: Vec<f32> = floats(&case["input"]).iter().map(|&v| v as f32).collect();
    let (y, report) = lnl_convolutive_noise(&x, FS_HZ, &params, &mut Rng::new(1)).unwrap();
    assert_eq!(report.terms[0].bands[0].num_taps, 41);
    let y: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    assert_close(&y, &floats(&case["output"]), 1e-5, "LnL single term");
}

#[test]
fn every_algorithm_keeps_the_length_and_is_deterministic() {
    let params = RawBoostParams::default();
    for len in [1usize, 37, 5_000] {
        let x = clip(len, 1);
        for algo in RawBoostAlgo::ALL {
            let a = rawboost(&x, FS_HZ, algo, &params, &mut Rng::for_item(7, 0, 3)).unwrap();
            let b = rawboost(&x, FS_HZ, algo, &params, &mut Rng::for_item(7, 0, 3)).unwrap();
            assert_eq!(a.samples.len(), len, "algo {algo} len {len}");
            assert_eq!(a.samples, b.samples, "algo {algo} len {len}");
            assert_eq!(a.report, b.report);
            assert!(a.samples.iter().all(|v| v.is_finite()), "algo {algo}");
            if algo != RawBoostAlgo::None && len > 1_000 {
                let c = rawboost(&x, FS_HZ, algo, &params, &mut Rng::for_item(8, 0, 3)).unwrap();
                assert_ne!(a.samples, c.samples, "algo {algo}: seed must matter");
                assert_ne!(a.samples, x, "algo {algo}: clip must change");
            } else if algo == RawBoostAlgo::None {
                assert_eq!(a.samples, x);
            }
        }
    }
}

#[test]
fn peak_is_at_most_one_where_the_reference_normalises() {
    let params = RawBoostParams {
        g_sd: 50.0,
        p_percent: 100.0,
        ..Default::default()
    };
    // A loud clip (peak 3) forces the normalisation branches.
    let x: Vec<f32> = clip(8_000, 2).iter().map(|v| v * 5.0).collect();
    for algo in [
        RawBoostAlgo::Lnl,
        RawBoostAlgo::Isd,
        RawBoostAlgo::LnlIsd,
        RawBoostAlgo::LnlParallelIsd,
    ] {
        for seed in 0..5 {
            let out = rawboost(&x, FS_HZ, algo, &params, &mut Rng::new(seed)).unwrap();
            let peak = out.samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(peak <= 1.0 + 1e-6, "algo {algo} seed {seed}: peak {peak}");
        }
    }
}

#[test]
fn silent_clip_gives_no_nan_for_any_algorithm() {
    let x = vec![0.0f32; 4_000];
    for algo in RawBoostAlgo::ALL {
        let out = rawboost(
            &x,
            FS_HZ,
            algo,
            &RawBoostParams::default(),
            &mut Rng::new(3),
        )
        .unwrap();
        assert!(out.samples.iter().all(|v| *v == 0.0), "algo {algo}");
        if let Some(ssi) = &out.report.ssi {
            assert_eq!(ssi.realised_snr_db, None);
        }
    }
}

#[test]
fn ssi_realised_snr_equals_the_drawn_snr() {
    let params = RawBoostParams::default();
    let x = clip(16_000, 4);
    for seed in 0..20 {
        let (y, report) = ssi_additive_noise(&x, FS_HZ, &params, &mut Rng::new(seed)).unwrap();
        assert!((10.0..40.0).contains(&report.snr_db));
        let signal: f64 = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
        let noise: f64 = y
            .iter()
            .zip(&x)
            .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let measured_db = 20.0 * (signal / noise).log10();
        assert!(
            (measured_db - report.snr_db).abs() < 1e-3,
            "seed {seed}: drawn {} measured {measured_db}",
            report.snr_db
        );
        let realised = report.realised_snr_db.unwrap();
        assert!((realised - report.snr_db).abs() < 1e-3);
    }
}

#[test]
fn isd_changes_at_most_p_percent_of_samples() {
    // Quiet enough (peak < 1/3) that (1 + g_sd)·x never needs peak normalisation.
    let x: Vec<f32> = clip(20_000, 5).iter().map(|v| v * 0.3).collect();
    let mut shares = Vec::new();
    for p_percent in [0.0, 1.0, 10.0, 60.0] {
        let params = RawBoostParams {
            p_percent,
            ..Default::default()
        };
        for seed in 0..10 {
            let (y, report) = isd_additive_noise(&x, &params, &mut Rng::new(seed));
            assert!(!report.peak_normalised);
            let changed = y.iter().zip(&x).filter(|(a, b)| a != b).count();
            assert!(changed <= report.num_changed);
            assert!(report.num_changed as f64 <= x.len() as f64 * p_percent / 100.0);
            assert_eq!(
                report.num_changed,
                (x.len() as f64 * report.beta_percent / 100.0) as usize
            );
            assert!(report.beta_percent <= p_percent);
            shares.push((p_percent, report.changed_share));
            // Changed samples stay within (1 ± g_sd)·x.
            for (a, b) in y.iter().zip(&x) {
                assert!((a - b).abs() <= 2.0 * b.abs() + 1e-6);
            }
        }
    }
    // β ~ U[0, P]: with P = 60 the mean share over 10 draws is well above zero.
    let mean60: f64 = shares
        .iter()
        .filter(|s| s.0 == 60.0)
        .map(|s| s.1)
        .sum::<f64>()
        / 10.0;
    assert!(mean60 > 0.1 && mean60 < 0.5, "{mean60}");
}

#[test]
fn notch_filters_centre_frequencies_follow_the_ranges() {
    let params = RawBoostParams::default();
    let mut rng = Rng::new(9);
    let mut centres = Vec::new();
    for _ in 0..200 {
        let f = draw_notch_filter(&params, 0.0, 0.0, FS_HZ, &mut rng).unwrap();
        for band in &f.bands {
            assert!((20.0..8000.0).contains(&band.centre_hz));
            assert!((100.0..1000.0).contains(&band.bandwidth_hz));
            assert!(band.num_taps % 2 == 1 && (11..=99).contains(&band.num_taps));
            centres.push(band.centre_hz);
        }
    }
    let mean = centres.iter().sum::<f64>() / centres.len() as f64;
    assert!((mean - 4010.0).abs() < 200.0, "{mean}");
}

#[test]
fn lnl_output_has_zero_mean() {
    let x = clip(10_000, 6);
    let (y, _) =
        lnl_convolutive_noise(&x, FS_HZ, &RawBoostParams::default(), &mut Rng::new(2)).unwrap();
    let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
    assert!(mean.abs() < 1e-6, "{mean}");
}

#[test]
fn batch_uses_one_stream_per_clip() {
    let clips: Vec<Vec<f32>> = (0..6).map(|i| clip(3_000 + 100 * i, i as u64)).collect();
    let refs: Vec<&[f32]> = clips.iter().map(|c| c.as_slice()).collect();
    let params = RawBoostParams::default();
    let batch = rawboost_batch(&refs, FS_HZ, RawBoostAlgo::LnlIsdSsi, &params, 11, 2);
    assert_eq!(batch.len(), clips.len());
    for (i, out) in batch.iter().enumerate() {
        let single = rawboost(
            &clips[i],
            FS_HZ,
            RawBoostAlgo::LnlIsdSsi,
            &params,
            &mut Rng::for_item(11, 2, i as u64),
        )
        .unwrap();
        assert_eq!(out.as_ref().unwrap().samples, single.samples);
    }
}

#[test]
fn empty_clip_and_bad_rate_are_errors() {
    let params = RawBoostParams::default();
    assert!(rawboost(&[], FS_HZ, RawBoostAlgo::Lnl, &params, &mut Rng::new(0)).is_err());
    let err = rawboost(
        &[0.1; 100],
        8_000,
        RawBoostAlgo::Ssi,
        &params,
        &mut Rng::new(0),
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_f_hz"), "{err}");
    // ISD designs no filter, so it runs at any rate.
    assert!(rawboost(
        &[0.1; 100],
        8_000,
        RawBoostAlgo::Isd,
        &params,
        &mut Rng::new(0)
    )
    .is_ok());
}
