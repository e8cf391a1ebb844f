//! Times the paper's dual-path training iteration of an XLS-R detector: 5 original + 5
//! RawBoost-path clips of 66,800 samples, one forward per path, two backward passes, PCGrad,
//! one Adam step — the loop of `dpda train` with `mode = "dual"`, `align = "pcgrad"`.
//!
//! `scripts/gpu_xlsr_bench.sh` runs it on a GPU next to the PyTorch reference:
//!
//! ```text
//! cargo run --release --features cuda --example xlsr_step -- [model] [device] [steps]
//! ```
//! `model` defaults to `xlsr-aasist`, `device` to `cuda` (`cpu` also works), `steps` to 5.
//! The random input stands in for audio: the cost of a step does not depend on the samples.
//! `--forward` times the evaluation forward pass of the same 10 clips instead (no graph), as
//! scoring runs it. On the CPU the last line also gives the peak resident memory;
//! `scripts/xlsr_cpu_bench.sh` runs it there next to the PyTorch reference.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::Instant;

use anyhow::Context;
use dpda::nn::registry::build_model;
use dpda::rng::Rng;
use dpda::train::align::GradientAligner;
use dpda::train::data::Batch;
use dpda::train::plan_from_str;
use dpda::train::run::device_for;
use dpda::train::step::{train_step, StepState};

const NUM_SAMPLES: usize = 66_800;
const CLIPS_PER_PATH: usize = 5;

fn main() -> anyhow::Result<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let forward_only = all.iter().any(|a| a == "--forward");
    let args: Vec<&String> = all.iter().filter(|a| !a.starts_with("--")).collect();
    let model_name = args.first().map_or("xlsr-aasist", |a| a.as_str());
    let device_kind = args.get(1).map_or("cuda", |a| a.as_str());
    let steps: usize = args.get(2).map_or(Ok(5), |s| s.parse())?;
    let text = format!(
        "[data]\nnum_samples = {NUM_SAMPLES}\n[model]\nname = \"{model_name}\"\n\
         [train]\nmode = \"dual\"\nalign = \"pcgrad\"\nbatch_size = {CLIPS_PER_PATH}\n\
         [optim]\nlr = 1e-6\n[device]\nkind = \"{device_kind}\"\n"
    );
    let plan = plan_from_str(&text, "xlsr_step", &[]).context("bench config")?;
    let (device, notice) = device_for(plan.device).context("device")?;
    if device.is_cpu() {
        // As the binary does.
        dpda::nn::kernels::retain_freed_memory();
    }
    if let Some(notice) = notice {
        eprintln!("note: {notice}");
    }
    let t0 = Instant::now();
    let model = build_model(
        plan.model.kind,
        &plan.model.options,
        1,
        &device,
        candle_core::DType::F32,
    )
    .with_context(|| format!("building {model_name}"))?;
    let num_params: usize = model.trainable().iter().map(|v| v.var.elem_count()).sum();
    println!(
        "model {model_name}: {num_params} trainable parameters, built in {:.1} s on {device_kind}",
        t0.elapsed().as_secs_f64()
    );
    let mut rng = Rng::new(2);
    let mut noise =
        |n: usize| -> Vec<f32> { (0..n).map(|_| (rng.normal() * 0.1) as f32).collect() };
    let batch = Batch {
        orig: Some(noise(CLIPS_PER_PATH * NUM_SAMPLES)),
        aug: Some(noise(CLIPS_PER_PATH * NUM_SAMPLES)),
        extra: Vec::new(),
        labels: (0..CLIPS_PER_PATH as u32).map(|i| i % 2).collect(),
        num_samples: NUM_SAMPLES,
    };
    let mut optimizer = plan.optim.config.build().context("optimizer")?;
    let mut aligner = GradientAligner::new(plan.train.align);
    let mut dropout_rng = Rng::new(3);
    let mut state = StepState {
        optimizer: &mut optimizer,
        aligner: &mut aligner,
        rng: &mut dropout_rng,
    };
    let mut times_s = Vec::with_capacity(steps);
    if forward_only {
        let mut both = batch.orig.clone().unwrap_or_default();
        both.extend(batch.aug.iter().flatten());
        let x = candle_core::Tensor::from_vec(both, (2 * CLIPS_PER_PATH, NUM_SAMPLES), &device)?;
        for step in 0..steps {
            let t = Instant::now();
            let logits = dpda::nn::no_grad(|| {
                model
                    .forward(&x, dpda::nn::Mode::Eval, &mut Rng::new(0))?
                    .to_dtype(candle_core::DType::F32)?
                    .to_vec2::<f32>()
            })?;
            device.synchronize().context("synchronize")?;
            times_s.push(t.elapsed().as_secs_f64());
            println!(
                "forward {step}: {:.3} s, first logits {:?}",
                times_s[step], logits[0]
            );
        }
    }
    for step in (0..steps).filter(|_| !forward_only) {
        let t = Instant::now();
        let outcome = train_step(
            model.as_ref(),
            &plan,
            &mut state,
            &batch,
            1e-6,
            false,
            false,
            &device,
            (step as u64 + 1, 0),
        )
        .context("train step")?;
        device.synchronize().context("synchronize")?;
        let dt = t.elapsed().as_secs_f64();
        times_s.push(dt);
        println!(
            "step {step}: {dt:.3} s, loss {:.4}/{:.4}, grad cos {:.3}",
            outcome.loss_orig.unwrap_or(f64::NAN),
            outcome.loss_aug.unwrap_or(f64::NAN),
            outcome.grad_cos.unwrap_or(f64::NAN)
        );
    }
    // The first step pays for kernel compilation and allocation; report the rest.
    let steady: Vec<f64> = times_s.iter().skip(1).copied().collect();
    if !steady.is_empty() {
        let mean = steady.iter().sum::<f64>() / steady.len() as f64;
        let what = if forward_only { "forward" } else { "step" };
        let rss = dpda::nn::kernels::peak_rss_mib()
            .filter(|_| device.is_cpu())
            .map_or(String::new(), |mib| format!(" peak_rss_mib {mib:.0}"));
        println!("RESULT rust {model_name} {device_kind} {what} mean_step_s {mean:.4}{rss}");
    }
    Ok(())
}
