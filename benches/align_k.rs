//! K-path gradient-alignment cost per training step on one thread: every method on flattened
//! gradients of 1 M parameters with K = 2 and K = 3 paths (one clean, the rest augmented).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dpda::nn::flat::FlatLayout;
use dpda::rng::Rng;
use dpda::train::align::{AlignMethod, GradVacGranularity, GradientAligner};

const NUM_PARAMS: usize = 1_000_000;

/// A layout of 1 M parameters in 40 tensors of 20 layers, so GradVac's layer and tensor
/// granularities have realistic group counts.
fn layout() -> FlatLayout {
    let mut entries = Vec::new();
    let per_layer = NUM_PARAMS / 20;
    let mut offset = 0;
    for layer in 0..20 {
        let bias = 1_000;
        for (name, len) in [("weight", per_layer - bias), ("bias", bias)] {
            entries.push((format!("layer{layer}.{name}"), offset, len, vec![len]));
            offset += len;
        }
    }
    FlatLayout { entries }
}

fn methods() -> Vec<AlignMethod> {
    let mut methods: Vec<AlignMethod> = AlignMethod::NAMES
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    for granularity in [GradVacGranularity::Layer, GradVacGranularity::Tensor] {
        methods.push(AlignMethod::GradVac {
            beta: 0.5,
            granularity,
        });
    }
    methods
}

fn bench_align_k(c: &mut Criterion) {
    let mut group = c.benchmark_group("align_k");
    group.sample_size(10);
    let layout = layout();
    let mut rng = Rng::new(11);
    let clean: Vec<f32> = (0..NUM_PARAMS).map(|_| rng.normal() as f32).collect();
    for k in [2usize, 3] {
        // Augmented paths partly opposed to the clean one so the conflict branches run.
        let grads: Vec<Vec<f32>> = (0..k)
            .map(|i| {
                if i == 0 {
                    clean.clone()
                } else {
                    clean
                        .iter()
                        .map(|&g| -0.4 * g + 0.6 * rng.normal() as f32)
                        .collect()
                }
            })
            .collect();
        let views: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
        let losses: Vec<f64> = (0..k).map(|i| 0.5 + 0.1 * i as f64).collect();
        let mut out = vec![0.0f32; NUM_PARAMS];
        group.throughput(Throughput::Elements((NUM_PARAMS * k) as u64));
        for method in methods() {
            let id = match method {
                AlignMethod::GradVac { granularity, .. } => {
                    format!("gradvac-{}", granularity.name())
                }
                other => other.name().to_string(),
            };
            let mut aligner = GradientAligner::new(method);
            group.bench_with_input(BenchmarkId::new(id, k), &k, |b, _| {
                b.iter(|| {
                    let stats =
                        aligner.combine_paths(black_box(&views), &losses, &layout, &mut out);
                    if aligner.needs_losses_after_step() {
                        aligner.after_step(&losses);
                    }
                    black_box(stats)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_align_k);
criterion_main!(benches);
