//! LFCC parity with the numpy transcription of the ASVspoof 2021 LFCC-LCNN front end
//! (`scripts/lfcc_reference.py`, float64), and the batch path against the single-clip path.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use dpda::features::{Lfcc, LfccConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    config: String,
    signal: String,
    num_frames: usize,
    num_dims: usize,
    values: Vec<f64>,
}

#[derive(Deserialize)]
struct Fixture {
    configs: BTreeMap<String, LfccConfig>,
    signals: BTreeMap<String, Vec<f32>>,
    cases: Vec<Case>,
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/features/lfcc_reference.json");
    serde_json::from_str(text).expect("fixture parses")
}

#[test]
fn lfcc_matches_numpy_reference_to_1e_4() {
    let fx = fixture();
    assert_eq!(fx.cases.len(), 6);
    // The fixture's config sections must be the presets the library ships.
    assert_eq!(fx.configs["asvspoof2021"], LfccConfig::default());
    assert_eq!(fx.configs["full_band_512"], LfccConfig::full_band_512());
    for case in &fx.cases {
        let lfcc = Lfcc::new(&fx.configs[&case.config]).unwrap();
        let signal = &fx.signals[&case.signal];
        let out = lfcc.compute(signal).unwrap();
        let tag = format!("{}/{}", case.config, case.signal);
        assert_eq!(out.shape(), (case.num_frames, case.num_dims), "{tag}");
        let mut worst = 0.0f64;
        for (i, (&got, &want)) in out.values.iter().zip(&case.values).enumerate() {
            // Relative error, with values below 1 in magnitude compared absolutely: deltas of
            // nearly equal frames cancel to ~0, where a pure ratio says nothing.
            let err = (got as f64 - want).abs() / want.abs().max(1.0);
            worst = worst.max(err);
            assert!(
                err <= 1e-4,
                "{tag}: frame {} dim {}: rust {got} vs numpy {want}",
                i / case.num_dims,
                i % case.num_dims
            );
        }
        eprintln!("{tag}: worst scaled error {worst:.2e}");
    }
}

#[test]
fn batch_equals_single_clip_results_in_order() {
    let fx = fixture();
    let lfcc = Lfcc::new(&LfccConfig::default()).unwrap();
    let clips: Vec<&Vec<f32>> = fx.signals.values().collect();
    let batch = lfcc.compute_batch(&clips).unwrap();
    assert_eq!(batch.len(), clips.len());
    for (clip, got) in clips.iter().zip(&batch) {
        assert_eq!(got, &lfcc.compute(clip).unwrap());
    }
}

#[test]
fn four_second_clip_has_418_frames_of_60() {
    // 66,800 samples (the DPDA crop): torch.stft(center=True) gives 1 + 66800 // 160 = 418 frames.
    let lfcc = Lfcc::new(&LfccConfig::default()).unwrap();
    let clip: Vec<f32> = (0..66_800).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    let out = lfcc.compute(&clip).unwrap();
    assert_eq!(out.shape(), (418, 60));
    assert!(out.values.iter().all(|v| v.is_finite()));
}
