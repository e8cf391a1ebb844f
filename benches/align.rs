//! Gradient-alignment cost per training step on one thread, for flattened gradients of 40 k
//! (LCNN-sized back ends), 85 k (AASIST-L) and 1 M parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dpda::rng::Rng;
use dpda::train::align::{AlignMethod, GradientAligner};

fn gradient(rng: &mut Rng, num_params: usize) -> Vec<f32> {
    (0..num_params).map(|_| rng.normal() as f32).collect()
}

fn bench_align(c: &mut Criterion) {
    let mut group = c.benchmark_group("align");
    for num_params in [40_000usize, 85_000, 1_000_000] {
        let mut rng = Rng::new(7);
        let g_orig = gradient(&mut rng, num_params);
        // Mostly opposed to g_orig so every method takes its conflict branch.
        let g_aug: Vec<f32> = g_orig
            .iter()
            .map(|&g| -0.5 * g + 0.5 * rng.normal() as f32)
            .collect();
        let mut out = vec![0.0f32; num_params];
        group.throughput(Throughput::Elements(num_params as u64));
        for name in AlignMethod::NAMES {
            let Ok(method) = name.parse::<AlignMethod>() else {
                continue;
            };
            let mut aligner = GradientAligner::new(method);
            // Keep GradVac's target above the observed cosine so it adjusts every time.
            aligner.gradvac_target.rho_target = 0.5;
            group.bench_with_input(BenchmarkId::new(name, num_params), &num_params, |b, _| {
                b.iter(|| {
                    let stats = aligner.combine(black_box(&g_orig), black_box(&g_aug), &mut out);
                    aligner.gradvac_target.rho_target = 0.5;
                    black_box(stats)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_align);
criterion_main!(benches);
