//! Model construction for runs, and the training loss.
//!
//! The trainer builds models by registry name through [`build_model`]. Besides the registry's
//! models it knows `tiny`: a few-thousand-parameter frame-energy network (framing → linear
//! filterbank → log magnitude → time mean → BatchNorm → MLP) built only from ops whose CPU
//! gradients are exact in candle 0.11.1 (matmul, abs, log, mean, broadcast arithmetic, relu). It
//! keeps trainer tests and the benchmark fast and independent of the bigger architectures.
//!
//! It also holds the class-weighted cross-entropy every path's loss uses.

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::VarMap;

use crate::nn::registry::ModelOptions;
use crate::nn::{param, Mode, Model, NamedVar, NnError};
use crate::rng::Rng;

/// Parse a `[model.options]` table into the registry's options (unknown keys refused).
pub fn registry_options(options: &toml::Table) -> Result<ModelOptions, NnError> {
    toml::Value::Table(options.clone())
        .try_into::<ModelOptions>()
        .map_err(|e| NnError::InvalidOption {
            field: "model.options",
            message: e.to_string().trim().to_string(),
        })
}

/// Build model `name` (`tiny` or a registry model) with `options`, initialised from `seed`.
pub fn build_model(
    name: &str,
    options: &toml::Table,
    seed: u64,
    device: &Device,
) -> Result<Box<dyn Model>, NnError> {
    build_model_reporting(name, options, seed, device).map(|(model, _)| model)
}

/// [`build_model`] with the registry's notes for the user (see
/// [`crate::nn::registry::build_model_reporting`]).
pub fn build_model_reporting(
    name: &str,
    options: &toml::Table,
    seed: u64,
    device: &Device,
) -> Result<(Box<dyn Model>, Vec<String>), NnError> {
    match name {
        "tiny" => Ok((Box::new(TinyModel::new(options, seed, device)?), Vec::new())),
        _ => {
            let options = registry_options(options)?;
            crate::nn::registry::build_model_reporting(name, &options, seed, device, DType::F32)
                .map_err(|e| match e {
                    NnError::UnknownModel { name, known } => NnError::UnknownModel {
                        name,
                        known: format!("tiny, {known}"),
                    },
                    other => other,
                })
        }
    }
}

/// Frame length of the tiny model (10 ms at 16 kHz).
const TINY_FRAME_LEN: usize = 160;
const BN_MOMENTUM: f64 = 0.1;
const BN_EPS: f64 = 1e-5;

/// The `tiny` model (see the module docs).
pub struct TinyModel {
    trainable: Vec<NamedVar>,
    state: VarMap,
    w_fb: Var,
    bn_weight: Var,
    bn_bias: Var,
    bn_mean: Var,
    bn_var: Var,
    w1: Var,
    b1: Var,
    w2: Var,
    b2: Var,
}

fn option_usize(
    options: &toml::Table,
    key: &'static str,
    default: usize,
) -> Result<usize, NnError> {
    match options.get(key) {
        None => Ok(default),
        Some(toml::Value::Integer(v)) if *v > 0 => Ok(*v as usize),
        Some(other) => Err(NnError::InvalidOption {
            field: key,
            message: format!("expected a positive integer, got {other}"),
        }),
    }
}

fn seeded(
    rng: &mut Rng,
    shape: &[usize],
    scale: f64,
    device: &Device,
    dtype: DType,
) -> Result<Var, NnError> {
    let n: usize = shape.iter().product();
    // Drawn in f32 whatever the dtype, so an f64 model starts from the f32 model's weights.
    let values: Vec<f32> = (0..n).map(|_| (rng.normal() * scale) as f32).collect();
    let t = Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?;
    Ok(Var::from_tensor(&t)?)
}

fn constant(value: f32, shape: &[usize], device: &Device, dtype: DType) -> Result<Var, NnError> {
    let n: usize = shape.iter().product();
    let t = Tensor::from_vec(vec![value; n], shape, device)?.to_dtype(dtype)?;
    Ok(Var::from_tensor(&t)?)
}

impl TinyModel {
    /// Options: `bands` (filterbank size, default 16), `hidden` (MLP width, default 8).
    pub fn new(options: &toml::Table, seed: u64, device: &Device) -> Result<Self, NnError> {
        Self::with_dtype(options, seed, device, DType::F32)
    }

    /// [`TinyModel::new`] in another dtype (f64 for gradient checks).
    pub fn with_dtype(
        options: &toml::Table,
        seed: u64,
        device: &Device,
        dtype: DType,
    ) -> Result<Self, NnError> {
        for key in options.keys() {
            if key != "bands" && key != "hidden" {
                return Err(NnError::InvalidOption {
                    field: "model.options",
                    message: format!("unknown option '{key}' for model 'tiny' (bands, hidden)"),
                });
            }
        }
        let bands = option_usize(options, "bands", 16)?;
        let hidden = option_usize(options, "hidden", 8)?;
        let mut rng = Rng::new(seed);
        let w_fb = seeded(&mut rng, &[TINY_FRAME_LEN, bands], 1.0, device, dtype)?;
        let bn_weight = constant(1.0, &[bands], device, dtype)?;
        let bn_bias = constant(0.0, &[bands], device, dtype)?;
        let bn_mean = constant(0.0, &[bands], device, dtype)?;
        let bn_var = constant(1.0, &[bands], device, dtype)?;
        let w1 = seeded(
            &mut rng,
            &[bands, hidden],
            (1.0 / bands as f64).sqrt(),
            device,
            dtype,
        )?;
        let b1 = constant(0.0, &[hidden], device, dtype)?;
        let w2 = seeded(
            &mut rng,
            &[hidden, 2],
            (1.0 / hidden as f64).sqrt(),
            device,
            dtype,
        )?;
        let b2 = constant(0.0, &[2], device, dtype)?;
        let named = [
            ("bn.bias", &bn_bias),
            ("bn.weight", &bn_weight),
            ("fb.weight", &w_fb),
            ("fc1.bias", &b1),
            ("fc1.weight", &w1),
            ("fc2.bias", &b2),
            ("fc2.weight", &w2),
        ];
        let trainable: Vec<NamedVar> = named
            .iter()
            .map(|(name, var)| NamedVar {
                name: name.to_string(),
                var: (*var).clone(),
            })
            .collect();
        let state = VarMap::new();
        {
            let mut data = state.data().lock().unwrap_or_else(|e| e.into_inner());
            for nv in &trainable {
                data.insert(nv.name.clone(), nv.var.clone());
            }
            data.insert("bn.running_mean".into(), bn_mean.clone());
            data.insert("bn.running_var".into(), bn_var.clone());
        }
        Ok(Self {
            trainable,
            state,
            w_fb,
            bn_weight,
            bn_bias,
            bn_mean,
            bn_var,
            w1,
            b1,
            w2,
            b2,
        })
    }
}

impl Model for TinyModel {
    fn name(&self) -> &str {
        "tiny"
    }

    fn forward(
        &self,
        waveforms: &Tensor,
        mode: Mode,
        _rng: &mut Rng,
    ) -> candle_core::Result<Tensor> {
        let (batch, num_samples) = waveforms.dims2()?;
        let num_frames = num_samples / TINY_FRAME_LEN;
        // [batch, frames, frame_len]
        let frames = waveforms
            .narrow(1, 0, num_frames * TINY_FRAME_LEN)?
            .reshape((batch, num_frames, TINY_FRAME_LEN))?;
        // [batch, frames, bands] → log magnitude → [batch, bands]
        let fb = frames.broadcast_matmul(&param(&self.w_fb))?;
        let feats = (fb.abs()? + 1e-3)?.log()?.mean(1)?;
        let normed = if mode == Mode::Eval {
            let mean = param(&self.bn_mean).unsqueeze(0)?;
            let std = (&param(&self.bn_var) + BN_EPS)?.sqrt()?.unsqueeze(0)?;
            feats.broadcast_sub(&mean)?.broadcast_div(&std)?
        } else {
            let mean = feats.mean_keepdim(0)?;
            let centred = feats.broadcast_sub(&mean)?;
            let var = centred.sqr()?.mean_keepdim(0)?;
            if mode == Mode::Train {
                // PyTorch semantics: running var is the unbiased batch variance.
                let n = batch as f64;
                let unbiased = if batch > 1 {
                    (var.detach() * (n / (n - 1.0)))?
                } else {
                    var.detach()
                };
                let new_mean = ((&param(&self.bn_mean) * (1.0 - BN_MOMENTUM))?
                    + (mean.detach().squeeze(0)? * BN_MOMENTUM)?)?;
                let new_var = ((&param(&self.bn_var) * (1.0 - BN_MOMENTUM))?
                    + (unbiased.squeeze(0)? * BN_MOMENTUM)?)?;
                self.bn_mean.set(&new_mean)?;
                self.bn_var.set(&new_var)?;
            }
            centred.broadcast_div(&(var + BN_EPS)?.sqrt()?)?
        };
        let h = normed
            .broadcast_mul(&param(&self.bn_weight).unsqueeze(0)?)?
            .broadcast_add(&param(&self.bn_bias).unsqueeze(0)?)?;
        let h = h
            .matmul(&param(&self.w1))?
            .broadcast_add(&param(&self.b1))?
            .relu()?;
        // [batch, 2]
        h.matmul(&param(&self.w2))?.broadcast_add(&param(&self.b2))
    }

    fn trainable(&self) -> &[NamedVar] {
        &self.trainable
    }

    fn state(&self) -> &VarMap {
        &self.state
    }

    fn min_num_samples(&self) -> usize {
        TINY_FRAME_LEN
    }
}

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
        let model = TinyModel::with_dtype(&toml::Table::new(), 3, &device, DType::F64).unwrap();
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
