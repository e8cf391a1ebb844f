//! Single-clip RawBoost throughput per algorithm on 66,800-sample clips at 16 kHz (the training
//! input length), to compare with the reference numpy/scipy implementation
//! (scripts/rawboost_reference_bench.py).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dpda::augment::{rawboost, RawBoostAlgo, RawBoostParams};
use dpda::rng::Rng;

const NUM_SAMPLES: usize = 66_800;
const SAMPLE_RATE_HZ: u32 = 16_000;

fn bench_algorithms(c: &mut Criterion) {
    let mut rng = Rng::new(1);
    let clip: Vec<f32> = (0..NUM_SAMPLES)
        .map(|n| {
            let t = n as f64 / SAMPLE_RATE_HZ as f64;
            (0.3 * (std::f64::consts::TAU * 220.0 * t).sin() + 0.05 * rng.normal()) as f32
        })
        .collect();
    let params = RawBoostParams::default();
    let mut group = c.benchmark_group("rawboost_66800");
    for algo in RawBoostAlgo::ALL.into_iter().skip(1) {
        let mut seed = 0u64;
        group.bench_function(format!("algo{}", algo.number()), |b| {
            b.iter(|| {
                seed += 1;
                let mut rng = Rng::new(seed);
                black_box(rawboost(
                    black_box(&clip),
                    SAMPLE_RATE_HZ,
                    algo,
                    &params,
                    &mut rng,
                ))
            })
        });
    }
    group.finish();
}

/// The pieces SSI spends its time in: white noise and one coloured filter.
fn bench_parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("rawboost_parts_66800");
    let mut rng = Rng::new(2);
    let mut white = vec![0.0f32; NUM_SAMPLES];
    group.bench_function("white_noise", |b| {
        b.iter(|| dpda::augment::normal::fill_standard_normal_f32(&mut rng, black_box(&mut white)))
    });
    let params = RawBoostParams::default();
    let filter = dpda::augment::rawboost::draw_notch_filter(
        &params,
        0.0,
        0.0,
        SAMPLE_RATE_HZ,
        &mut Rng::new(3),
    )
    .map(|f| f.taps)
    .unwrap_or_else(|_| vec![1.0]);
    group.bench_function("coloured_filter", |b| {
        b.iter(|| {
            dpda::augment::fir::fir_sum_crop_fft(black_box(&white), std::slice::from_ref(&filter))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_algorithms, bench_parts);
criterion_main!(benches);
