//! The `tiny` model: a few-thousand-parameter frame-energy network (framing → linear filterbank →
//! log magnitude → time mean → BatchNorm → MLP) built only from ops whose CPU gradients are exact
//! in candle 0.11.1 (matmul, abs, log, mean, broadcast arithmetic, relu). It keeps trainer tests
//! and the benchmark fast and independent of the bigger architectures; the registry builds it as
//! `tiny` with the options `bands` and `hidden`.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use super::{param, Mode, Model, NamedVar, NnError};
use crate::rng::Rng;

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
    /// Default filterbank size (`bands`).
    pub const DEFAULT_BANDS: usize = 16;
    /// Default MLP width (`hidden`).
    pub const DEFAULT_HIDDEN: usize = 8;

    /// A model with `bands` filterbank channels and an MLP `hidden` wide, initialised from
    /// `seed`, with variables of `dtype` (f64 for gradient checks) on `device`.
    pub fn new(
        bands: usize,
        hidden: usize,
        seed: u64,
        device: &Device,
        dtype: DType,
    ) -> Result<Self, NnError> {
        for (field, value) in [("bands", bands), ("hidden", hidden)] {
            if value == 0 {
                return Err(NnError::InvalidOption {
                    field,
                    message: "expected a positive integer, got 0".into(),
                });
            }
        }
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
