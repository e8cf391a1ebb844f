//! One dual-path training iteration timed the way `scripts/torch_lcnn_bench.py` times the same
//! architecture in PyTorch: two forward/backward passes (original and augmented batch), PCGrad on
//! the two flat gradients, one Adam step. `scripts/speed_vs_torch.sh` runs both and prints the
//! ratio table.
//!
//! Usage: `cargo bench --bench torch_compare -- [--model lcnn|lcnn-small|aasist-l]
//! [--iters N] [--batch B] [--frames T] [--dims D] [--samples N] [--default-malloc]`. The LCNN models take LFCC-like
//! features `[B, 1, frames, dims]` (the front end is outside the timed step, as in PyTorch);
//! AASIST-L takes raw waveforms `[B, samples]`. Threads: `RAYON_NUM_THREADS`. Prints one line
//! `RESULT model=… threads=… s_per_iter=… peak_rss_mib=…`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use dpda::nn::flat::{gather_grads, read_params, write_params};
use dpda::nn::lcnn::{Lcnn, LcnnSmall};
use dpda::nn::registry::{build_model, ModelOptions};
use dpda::nn::{Mode, Model};
use dpda::rng::Rng;
use dpda::train::align::pcgrad;
use dpda::train::optim::OptimizerConfig;

enum Net {
    Lcnn(Lcnn),
    Small(LcnnSmall),
    Other(Box<dyn Model>),
}

impl Net {
    fn model(&self) -> &dyn Model {
        match self {
            Net::Lcnn(m) => m as &dyn Model,
            Net::Small(m) => m as &dyn Model,
            Net::Other(m) => m.as_ref(),
        }
    }

    fn forward(&self, x: &Tensor, rng: &mut Rng) -> candle_core::Result<Tensor> {
        match self {
            Net::Lcnn(m) => m.forward_features(x, Mode::Train, rng),
            Net::Small(m) => m.forward_features(x, Mode::Train, rng),
            Net::Other(m) => m.forward(x, Mode::Train, rng),
        }
    }
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn num(args: &[String], name: &str, default: usize) -> usize {
    arg(args, name, &default.to_string())
        .parse()
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let name = arg(&args, "--model", "lcnn");
    let iters = num(&args, "--iters", 5).max(1);
    let batch = num(&args, "--batch", 8);
    let frames = num(&args, "--frames", 400);
    let dims = num(&args, "--dims", 60);
    let samples = num(&args, "--samples", 64_600);
    // As the binary does; `--default-malloc` measures what the setting is worth.
    if !args.iter().any(|a| a == "--default-malloc") {
        dpda::nn::kernels::retain_freed_memory();
    }
    let device = Device::Cpu;
    let net = match name.as_str() {
        "lcnn" => Net::Lcnn(Lcnn::new(
            Lcnn::DEFAULT_DROPOUT,
            false,
            1,
            &device,
            DType::F32,
        )?),
        "lcnn-small" => Net::Small(LcnnSmall::new(0.0, 1, &device, DType::F32)?),
        other => Net::Other(build_model(
            other.parse()?,
            &ModelOptions::default(),
            1,
            &device,
            DType::F32,
        )?),
    };
    let mut rng = Rng::new(7);
    let shape: Vec<usize> = match net {
        Net::Other(_) => vec![batch, samples],
        _ => vec![batch, 1, frames, dims],
    };
    let n: usize = shape.iter().product();
    let input = |rng: &mut Rng| -> candle_core::Result<Tensor> {
        let v: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        Tensor::from_vec(v, shape.as_slice(), &device)
    };
    let x_orig = input(&mut rng)?;
    let x_aug = input(&mut rng)?;
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % 2).collect();
    let labels = Tensor::new(labels.as_slice(), &device)?;
    let trainable = net.model().trainable().to_vec();
    let mut optimizer = OptimizerConfig::default().build()?;
    let mut combined = vec![0.0f32; read_params(&trainable)?.len()];

    let mut step = |rng: &mut Rng| -> Result<(), Box<dyn std::error::Error>> {
        let mut flat = Vec::with_capacity(2);
        for x in [&x_orig, &x_aug] {
            let logits = net.forward(x, rng)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
            flat.push(gather_grads(&loss.backward()?, &trainable)?);
        }
        pcgrad(&flat[0], &flat[1], &mut combined);
        let mut params = read_params(&trainable)?;
        optimizer.step(&mut params, &combined, 1e-3)?;
        write_params(&trainable, &params)?;
        Ok(())
    };
    // One warm-up iteration (allocator, rayon pool), then the timed ones.
    step(&mut rng)?;
    let start = Instant::now();
    for _ in 0..iters {
        step(&mut rng)?;
    }
    let s_per_iter = start.elapsed().as_secs_f64() / iters as f64;
    let threads = rayon::current_num_threads();
    println!(
        "RESULT model={name} threads={threads} s_per_iter={s_per_iter:.4} peak_rss_mib={:.1} input={shape:?}",
        dpda::nn::kernels::peak_rss_mib().unwrap_or(0.0)
    );
    Ok(())
}
