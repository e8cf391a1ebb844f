//! Single-clip RawBoost throughput per algorithm on 66,800-sample clips at 16 kHz (the training
//! input length), to compare with the reference numpy/scipy implementation
//! (scripts/rawboost_reference_bench.py).

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

criterion_group!(benches, bench_algorithms);
criterion_main!(benches);
