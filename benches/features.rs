//! LFCC throughput: one 4.175 s clip (66,800 samples, the DPDA crop) on one thread, and a batch of
//! 8 such clips on the rayon pool.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dpda::features::{log_power_spectrogram, Lfcc, LfccConfig, SpectrogramConfig};

const CLIP_SAMPLES: usize = 66_800;

/// A deterministic speech-like test signal: a few drifting partials plus a noise-like term.
fn clip(seed: u32) -> Vec<f32> {
    (0..CLIP_SAMPLES)
        .map(|n| {
            let t = n as f32 / 16_000.0;
            let s = seed as f32;
            0.3 * (2.0 * std::f32::consts::PI * (150.0 + 20.0 * s) * t * (1.0 + 0.1 * t)).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 2300.0 * t).sin()
                + 0.02 * ((n as f32 * 12.9898 + s).sin() * 43_758.547).fract()
        })
        .collect()
}

fn bench_lfcc(c: &mut Criterion) {
    for (name, config) in [
        ("asvspoof2021", LfccConfig::default()),
        ("full_band_512", LfccConfig::full_band_512()),
    ] {
        let lfcc = Lfcc::new(&config).expect("valid preset");
        let one = clip(0);
        let mut scratch = lfcc.scratch();
        c.bench_function(&format!("lfcc_{name}_one_clip_single_thread"), |b| {
            b.iter(|| lfcc.compute_with(black_box(&one), &mut scratch))
        });
        let batch: Vec<Vec<f32>> = (0..8).map(clip).collect();
        c.bench_function(&format!("lfcc_{name}_batch8_rayon"), |b| {
            b.iter(|| lfcc.compute_batch(black_box(&batch)))
        });
    }
    let one = clip(1);
    let cfg = SpectrogramConfig::default();
    c.bench_function("log_power_spectrogram_one_clip", |b| {
        b.iter(|| log_power_spectrogram(black_box(&one), 16_000, &cfg))
    });
}

criterion_group!(benches, bench_lfcc);
criterion_main!(benches);
