//! The models on a CUDA device against the same weights on the CPU: logits and gradients of one
//! training-mode loss agree. Runs only in a `--features cuda` build on a machine with a usable
//! GPU; elsewhere (CI) each test says why it did nothing and returns.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use candle_core::{DType, Device, Tensor};
use dpda::nn::flat::gather_grads;
use dpda::nn::registry::{build_model, ModelOptions};
use dpda::nn::{Mode, Model};
use dpda::rng::Rng;

/// GPU device 0, or why there is none.
fn gpu() -> Result<Device, String> {
    if !candle_core::utils::cuda_is_available() {
        return Err("built without the `cuda` feature".into());
    }
    Device::new_cuda(0).map_err(|e| format!("no usable CUDA device: {e}"))
}

/// Logits and flat gradient of a cross-entropy loss on `x`, computed on `device` with the
/// weights of `reference` (built on the CPU).
fn loss_and_grads(
    name: &str,
    reference: &dyn Model,
    x: &Tensor,
    device: &Device,
) -> (Vec<f32>, Vec<f32>) {
    let model = build_model(
        name.parse().unwrap(),
        &ModelOptions::default(),
        3,
        device,
        DType::F32,
    )
    .unwrap();
    for (dst, src) in model.trainable().iter().zip(reference.trainable()) {
        assert_eq!(dst.name, src.name);
        dst.var
            .set(&src.var.as_tensor().to_device(device).unwrap())
            .unwrap();
    }
    let x = x.to_device(device).unwrap();
    let labels = Tensor::new(&[0u32, 1], device).unwrap();
    // Frozen statistics: BatchNorm normalises with the running values on both devices.
    let logits = model
        .forward(&x, Mode::TrainFrozenStats, &mut Rng::new(5))
        .unwrap();
    let loss = candle_nn::loss::cross_entropy(&logits, &labels).unwrap();
    let grads = gather_grads(&loss.backward().unwrap(), model.trainable()).unwrap();
    let logits = logits
        .to_device(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    (logits, grads)
}

fn max_rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-12f64, |m, v| m.max(v.abs() as f64));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() as f64)
        .fold(0.0, f64::max)
        / scale
}

fn gpu_matches_cpu(name: &str, num_samples: usize) {
    let device = match gpu() {
        Ok(d) => d,
        Err(why) => {
            eprintln!("{name} on CUDA: not run, {why}");
            return;
        }
    };
    let reference = build_model(
        name.parse().unwrap(),
        &ModelOptions::default(),
        3,
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    let mut rng = Rng::new(9);
    let samples: Vec<f32> = (0..2 * num_samples)
        .map(|_| (0.1 * rng.normal()) as f32)
        .collect();
    let x = Tensor::from_vec(samples, (2, num_samples), &Device::Cpu).unwrap();
    let (cpu_logits, cpu_grads) = loss_and_grads(name, reference.as_ref(), &x, &Device::Cpu);
    let (gpu_logits, gpu_grads) = loss_and_grads(name, reference.as_ref(), &x, &device);
    assert!(
        max_rel_err(&gpu_logits, &cpu_logits) < 1e-3,
        "{name} logits differ"
    );
    assert!(
        max_rel_err(&gpu_grads, &cpu_grads) < 1e-3,
        "{name} gradients differ"
    );
}

#[test]
fn lcnn_on_cuda_matches_the_cpu() {
    gpu_matches_cpu("lcnn", 16_000);
}

#[test]
fn aasist_l_on_cuda_matches_the_cpu() {
    gpu_matches_cpu("aasist-l", 16_000);
}

#[test]
fn xlsr_tiny_aasist_on_cuda_matches_the_cpu() {
    gpu_matches_cpu("xlsr-tiny-aasist", 16_000);
}
