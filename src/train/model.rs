//! The training loss: the class-weighted cross-entropy every path of a training step uses.
//!
//! Models themselves are built by the registry ([`crate::nn::registry`]).

use candle_core::{Tensor, D};

/// Class-weighted cross-entropy with PyTorch's weighted-mean reduction:
/// Σ w[yᵢ]·(−log pᵢ[yᵢ]) / Σ w[yᵢ]. `logits` `[batch, 2]`, `labels` class indices (0 spoof,
/// 1 bona fide).
pub fn weighted_cross_entropy(
    logits: &Tensor,
    labels: &[u32],
    class_weights: [f64; 2],
) -> candle_core::Result<Tensor> {
    let device = logits.device();
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let index = Tensor::from_slice(labels, (labels.len(), 1), device)?;
    // [batch]
    let picked = log_probs.gather(&index, 1)?.squeeze(1)?;
    let weights: Vec<f32> = labels
        .iter()
        .map(|&l| class_weights[l as usize] as f32)
        .collect();
    let total_weight: f32 = weights.iter().sum();
    let weights = Tensor::from_vec(weights, labels.len(), device)?.to_dtype(logits.dtype())?;
    (picked * weights)?.sum_all()?.neg()? / total_weight.max(f32::MIN_POSITIVE) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Mode, Model};
    use crate::rng::Rng;
    use candle_core::{DType, Device};

    #[test]
    fn weighted_ce_matches_a_hand_computation() {
        // logits rows (0, 0) label 1 and (ln 3, 0) label 0: −log p = ln 2 and ln(4/3).
        let logits = Tensor::new(&[[0.0f32, 0.0], [3f32.ln(), 0.0]], &Device::Cpu).unwrap();
        let loss = weighted_cross_entropy(&logits, &[1, 0], [0.1, 0.9])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let expected = (0.9 * 2f64.ln() + 0.1 * (4.0f64 / 3.0).ln()) / 1.0;
        assert!(
            (loss as f64 - expected).abs() < 1e-6,
            "{loss} vs {expected}"
        );
    }

    #[test]
    fn tiny_model_gradchecks_every_tensor_in_f64() {
        use crate::nn::gradcheck::{gradcheck, GradcheckOptions};
        let device = Device::Cpu;
        let model = crate::nn::tiny::TinyModel::new(
            crate::nn::tiny::TinyModel::DEFAULT_BANDS,
            crate::nn::tiny::TinyModel::DEFAULT_HIDDEN,
            3,
            &device,
            DType::F64,
        )
        .unwrap();
        let mut rng = Rng::new(1);
        let x: Vec<f64> = (0..4 * 800).map(|_| rng.normal() * 0.1).collect();
        let x = Tensor::from_vec(x, (4, 800), &device).unwrap();
        let labels = [0u32, 1, 1, 0];
        let opts = GradcheckOptions {
            samples_per_tensor: 6,
            ..GradcheckOptions::default()
        };
        for mode in [Mode::Train, Mode::Eval] {
            let report = gradcheck(
                || {
                    let logits = model.forward(&x, mode, &mut Rng::new(0))?;
                    weighted_cross_entropy(&logits, &labels, [0.1, 0.9])
                },
                model.trainable(),
                None,
                &opts,
            )
            .unwrap();
            assert!(report.failures(1e-4).is_empty(), "{mode:?}: {report:?}");
            assert_eq!(report.per_tensor.len(), model.trainable().len());
        }
    }
}
