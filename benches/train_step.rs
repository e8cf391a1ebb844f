//! One training iteration of `augmented` against `dual` (joint and separate layouts) at the same
//! number of clips per step, and the per-step cost of each alignment method plus its bookkeeping
//! (cosine, norms) on a gradient of the model's size, and a step with K = 3 paths against K = 2.
//! Model: `lcnn-small`, 2 s crops.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::hint::black_box;

use candle_core::{DType, Device};
use criterion::{criterion_group, criterion_main, Criterion};
use dpda::nn::flat::cosine;
use dpda::nn::registry::build_model;
use dpda::rng::Rng;
use dpda::train::align::{AlignMethod, GradientAligner};
use dpda::train::data::Batch;
use dpda::train::step::{train_step, StepState};
use dpda::train::{plan_from_str, Plan};

const NUM_SAMPLES: usize = 32_000;
/// Clips per step in every configuration.
const CLIPS_PER_STEP: usize = 8;

fn plan(mode: &str, layout: &str) -> Plan {
    plan_k("lcnn-small", mode, layout, 0)
}

/// `extra_paths` > 0: a dual run with the clean path, RawBoost, and that many more RawBoost
/// paths (the augmentation's own cost is outside the step, so the kind does not matter here).
fn plan_k(model: &str, mode: &str, layout: &str, extra_paths: usize) -> Plan {
    // `lcnn-blstm`: LFCC-LCNN with the baseline's two BLSTM layers (270k parameters).
    let model = match model {
        "lcnn-blstm" => "name = \"lcnn\"\n[model.options]\nblstm = true".to_string(),
        other => format!("name = \"{other}\""),
    };
    let mut text = format!(
        "[data]\nnum_samples = {NUM_SAMPLES}\n[model]\n{model}\n[train]\nmode = \"{mode}\"\nlayout = \"{layout}\"\n[optim]\nlr = 1e-3\n"
    );
    if extra_paths > 0 {
        text.push_str("[[train.paths]]\nname = \"clean\"\n[[train.paths]]\nname = \"rawboost\"\n");
        for k in 0..extra_paths {
            text.push_str(&format!("[[train.paths]]\nname = \"rawboost{k}\"\n"));
        }
    }
    plan_from_str(&text, "bench", &[]).expect("bench config")
}

fn noise(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| (rng.normal() * 0.1) as f32).collect()
}

/// Benchmarks `train_step` of `plan` on `batch` as `name` in `group` (a fresh model, optimizer
/// and aligner per case).
fn bench_one_step(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    plan: &Plan,
    batch: &Batch,
) {
    let device = Device::Cpu;
    let model =
        build_model(plan.model.kind, &plan.model.options, 1, &device, DType::F32).expect("model");
    let mut optimizer = plan.optim.config.build().expect("optimizer");
    let mut aligner = GradientAligner::new(plan.train.align);
    let mut dropout_rng = Rng::new(3);
    let mut state = StepState {
        optimizer: &mut optimizer,
        aligner: &mut aligner,
        rng: &mut dropout_rng,
    };
    group.bench_function(name, |b| {
        b.iter(|| {
            train_step(
                model.as_ref(),
                plan,
                &mut state,
                black_box(batch),
                1e-3,
                false,
                false,
                &device,
                (1, 0),
            )
            .expect("step")
        })
    });
}

fn bench_steps(c: &mut Criterion) {
    dpda::nn::kernels::retain_freed_memory();
    let mut group = c.benchmark_group("train_step_lcnn_small_8_clips");
    group.sample_size(10);
    for (name, mode, layout, per_path) in [
        ("augmented", "augmented", "joint", CLIPS_PER_STEP),
        ("dual_joint", "dual", "joint", CLIPS_PER_STEP / 2),
        ("dual_separate", "dual", "separate", CLIPS_PER_STEP / 2),
    ] {
        let plan = plan(mode, layout);
        let mut rng = Rng::new(2);
        let batch = Batch {
            orig: (mode == "dual").then(|| noise(&mut rng, per_path * NUM_SAMPLES)),
            aug: Some(noise(&mut rng, per_path * NUM_SAMPLES)),
            extra: Vec::new(),
            labels: (0..per_path as u32).map(|i| i % 2).collect(),
            num_samples: NUM_SAMPLES,
        };
        bench_one_step(&mut group, name, &plan, &batch);
    }
    group.finish();
}

/// A step with K = 2 and K = 3 paths at the same clips per path (the goal: K = 3 costs at most
/// 1.6× K = 2), in both layouts.
fn bench_k_paths(c: &mut Criterion) {
    dpda::nn::kernels::retain_freed_memory();
    let per_path = CLIPS_PER_STEP / 2;
    let mut group = c.benchmark_group("train_step_k_paths_4_clips_per_path");
    group.sample_size(10);
    // The K = 3 step of a larger model, to set the aligners' cost (benches/align_k.rs, 1 M
    // parameters) against.
    let cases = [
        ("lcnn-small", "separate", 2usize),
        ("lcnn-small", "separate", 3),
        ("lcnn-small", "joint", 2),
        ("lcnn-small", "joint", 3),
        ("lcnn-blstm", "separate", 3),
    ];
    for (model_name, layout, k) in cases {
        let plan = plan_k(model_name, "dual", layout, k - 2);
        let mut rng = Rng::new(2);
        let batch = Batch {
            orig: Some(noise(&mut rng, per_path * NUM_SAMPLES)),
            aug: Some(noise(&mut rng, per_path * NUM_SAMPLES)),
            extra: (2..k)
                .map(|_| noise(&mut rng, per_path * NUM_SAMPLES))
                .collect(),
            labels: (0..per_path as u32).map(|i| i % 2).collect(),
            num_samples: NUM_SAMPLES,
        };
        bench_one_step(
            &mut group,
            &format!("{model_name}_{layout}_k{k}"),
            &plan,
            &batch,
        );
    }
    group.finish();
}

fn bench_alignment(c: &mut Criterion) {
    let plan = plan("dual", "joint");
    let model = build_model(
        plan.model.kind,
        &plan.model.options,
        1,
        &Device::Cpu,
        DType::F32,
    )
    .expect("model");
    let num_params: usize = model
        .trainable()
        .iter()
        .map(|v| v.var.as_tensor().elem_count())
        .sum();
    let mut rng = Rng::new(4);
    let g1 = noise(&mut rng, num_params);
    let g2 = noise(&mut rng, num_params);
    let mut out = vec![0.0f32; num_params];
    let mut group = c.benchmark_group(format!("align_{num_params}_params"));
    for name in AlignMethod::NAMES {
        let mut aligner = GradientAligner::new(name.parse().expect("method"));
        group.bench_function(name, |b| {
            b.iter(|| {
                let cos = cosine(black_box(&g1), black_box(&g2));
                let stats = aligner.combine(&g1, &g2, &mut out);
                black_box((cos, stats))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_steps, bench_k_paths, bench_alignment);
criterion_main!(benches);
