//! LFCC-LCNN models: the ASVspoof 2021 baseline (B03) and a small 40,450-parameter variant.
//!
//! Built by [`super::registry::build_model`] under the names `lcnn` and `lcnn-small`. Both take
//! 16 kHz waveforms and compute the baseline's LFCC front end ([`crate::features::Lfcc`], 60 dims:
//! 20 coefficients + Δ + ΔΔ, 20 ms frames, 10 ms hop) inside `forward`, on the CPU and outside the
//! gradient graph, giving `[B, 1, frames, 60]`.
//!
//! # `lcnn` (asvspoof-challenge/2021, `LA/Baseline-LFCC-LCNN/project/baseline_LA/model.py`)
//! Channel plan of the baseline's `m_transform`, kept layer for layer (conv bias on, BatchNorm
//! without affine parameters as there):
//!
//! | layer | shape | params |
//! |---|---|---|
//! | conv1 5×5, MFM, max-pool 2×2 | 1 → 64 → 32 | 1,664 |
//! | conv2 1×1, MFM, bn2 | 32 → 64 → 32 | 2,112 |
//! | conv3 3×3, MFM, max-pool, bn3 | 32 → 96 → 48 | 27,744 |
//! | conv4 1×1, MFM, bn4 | 48 → 96 → 48 | 4,704 |
//! | conv5 3×3, MFM, max-pool | 48 → 128 → 64 | 55,424 |
//! | conv6 1×1, MFM, bn6 | 64 → 128 → 64 | 8,320 |
//! | conv7 3×3, MFM, bn7 | 64 → 64 → 32 | 36,928 |
//! | conv8 1×1, MFM, bn8 | 32 → 64 → 32 | 2,112 |
//! | conv9 3×3, MFM, max-pool, dropout 0.7 | 32 → 64 → 32 | 18,496 |
//! | (optional) 2 × BLSTM 96 → 2×48, added to their input | | 112,128 |
//! | mean over time, fc | 96 → 2 | 194 |
//!
//! Total 157,698 parameters without the BLSTM part, 269,826 with it (the baseline's ~270 k; its
//! output layer has one logit for a sigmoid, here two for cross-entropy). After four 2×2 pools the
//! 60 LFCC dims become 3, so the per-frame vector is 32 × 3 = 96 as in the baseline's
//! `(lfcc_dim // 16) * 32`. The BLSTM part is off by default (it is sequential in time and the
//! slowest part on a CPU); `blstm = true` turns it on.
//!
//! # `lcnn-small`
//! Four blocks [conv → MFM → 2×2 max-pool → BatchNorm2d (affine)], mean over time and frequency,
//! fc → 2 logits. Channels after MFM 16, 24, 32, 32; the first conv is 5×5 (as the baseline's
//! first layer), the other three 3×3, all with bias and "same" padding: conv1 1→32 (832), bn1
//! (32), conv2 16→48 (6,960), bn2 (48), conv3 24→64 (13,888), bn3 (64), conv4 32→64 (18,496),
//! bn4 (64) and fc 32→2 (66) make 40,450 parameters. An all-3×3 stack with a regular channel
//! progression cannot reach exactly 40,450, hence the 5×5 first layer.
//!
//! # Minimum length
//! Four 2×2 pools need at least 16 frames: `1 + n/160 ≥ 16`, i.e. n ≥ 2,400 samples (0.15 s at
//! 16 kHz). Shorter clips are rejected with an error naming the minimum.

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarMap;

use super::layers::{BatchNorm, BiLstm, Conv2d, Dropout, Linear, ParamBuilder};
use super::{Mode, Model, NamedVar, NnError};
use crate::features::{Lfcc, LfccConfig};
use crate::rng::Rng;

/// Frames that survive four 2×2 pools.
const MIN_FRAMES: usize = 16;

/// The shortest clip both models accept: 16 LFCC frames at a 160-sample hop.
pub const MIN_NUM_SAMPLES: usize = (MIN_FRAMES - 1) * 160;

/// LFCC of every waveform as `[B, 1, frames, dims]` in `dtype` on `device` (no gradient).
fn lfcc_input(
    lfcc: &Lfcc,
    waveforms: &Tensor,
    min_num_samples: usize,
    device: &Device,
    dtype: DType,
) -> Result<Tensor> {
    let (batch, num_samples) = waveforms.dims2()?;
    if num_samples < min_num_samples {
        candle_core::bail!(
            "clips of {num_samples} samples are too short: the model needs at least {min_num_samples} samples ({:.3} s at 16 kHz)",
            min_num_samples as f64 / 16_000.0
        );
    }
    let clips: Vec<Vec<f32>> = waveforms
        .to_device(&Device::Cpu)?
        .to_dtype(DType::F32)?
        .to_vec2()?;
    let features = lfcc
        .compute_batch(&clips)
        .map_err(|e| candle_core::Error::Msg(format!("LFCC front end: {e}")))?;
    let frames = features.first().map_or(0, |f| f.num_frames);
    let dims = lfcc.num_dims();
    let mut values = Vec::with_capacity(batch * frames * dims);
    for f in &features {
        values.extend_from_slice(&f.values);
    }
    Tensor::from_vec(values, (batch, 1, frames, dims), &Device::Cpu)?
        .to_dtype(dtype)?
        .to_device(device)
}

fn lfcc_front_end() -> std::result::Result<Lfcc, NnError> {
    Lfcc::new(&LfccConfig::default()).map_err(|e| NnError::InvalidOption {
        field: "lfcc",
        message: e.to_string(),
    })
}

fn check_dropout(p: f64) -> std::result::Result<(), NnError> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(NnError::InvalidOption {
            field: "dropout",
            message: format!("must be in [0, 1), got {p}"),
        })
    }
}

/// The LFCC-LCNN of the ASVspoof 2021 baseline (see the module docs for the layer plan).
pub struct Lcnn {
    lfcc: Lfcc,
    device: Device,
    dtype: DType,
    convs: Vec<Conv2d>,
    bns: Vec<BatchNorm>,
    dropout: Dropout,
    blstm: Option<(BiLstm, BiLstm)>,
    fc: Linear,
    varmap: VarMap,
    trainable: Vec<NamedVar>,
}

impl Lcnn {
    /// Default dropout before the back end, as in the baseline.
    pub const DEFAULT_DROPOUT: f64 = 0.7;

    /// A freshly initialised model (PyTorch-default init drawn from `Rng::new(seed)`).
    pub fn new(
        dropout: f64,
        blstm: bool,
        seed: u64,
        device: &Device,
        dtype: DType,
    ) -> std::result::Result<Self, NnError> {
        check_dropout(dropout)?;
        let varmap = VarMap::new();
        let mut rng = Rng::new(seed);
        let mut pb = ParamBuilder::new(&varmap, &mut rng, device, dtype);
        // (name, in, out, kernel) of the nine convolutions; MFM halves `out`.
        let plan: [(&str, usize, usize, usize); 9] = [
            ("conv1", 1, 64, 5),
            ("conv2", 32, 64, 1),
            ("conv3", 32, 96, 3),
            ("conv4", 48, 96, 1),
            ("conv5", 48, 128, 3),
            ("conv6", 64, 128, 1),
            ("conv7", 64, 64, 3),
            ("conv8", 32, 64, 1),
            ("conv9", 32, 64, 3),
        ];
        let mut convs = Vec::with_capacity(plan.len());
        for (name, cin, cout, k) in plan {
            let pad = k / 2;
            convs.push(Conv2d::new(
                &mut pb,
                name,
                cin,
                cout,
                (k, k),
                1,
                (pad, pad),
                true,
            )?);
        }
        // BatchNorms without affine parameters, numbered after the conv they follow.
        let mut bns = Vec::new();
        for (name, c) in [
            ("bn2", 32),
            ("bn3", 48),
            ("bn4", 48),
            ("bn6", 64),
            ("bn7", 32),
            ("bn8", 32),
        ] {
            bns.push(BatchNorm::new(&mut pb, name, c, false)?);
        }
        let blstm = if blstm {
            Some((
                BiLstm::new(&mut pb, "blstm1", 96, 48)?,
                BiLstm::new(&mut pb, "blstm2", 96, 48)?,
            ))
        } else {
            None
        };
        let fc = Linear::new(&mut pb, "fc", 96, 2, true)?;
        let trainable = pb.into_trainable();
        Ok(Self {
            lfcc: lfcc_front_end()?,
            device: device.clone(),
            dtype,
            convs,
            bns,
            dropout: Dropout::new(dropout),
            blstm,
            fc,
            varmap,
            trainable,
        })
    }

    /// Logits from LFCC features `[B, 1, frames, 60]` (the part of `forward` after the front end).
    pub fn forward_features(&self, x: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        const POOL: Option<(usize, usize)> = Some((2, 2));
        let c = &self.convs;
        let bn = &self.bns;
        let x = c[0].forward_mfm(x, POOL)?;
        let x = c[1].forward_mfm(&x, None)?;
        let x = c[2].forward_mfm(&bn[0].forward(&x, mode)?, POOL)?;
        let x = bn[1].forward(&x, mode)?;
        let x = c[3].forward_mfm(&x, None)?;
        let x = c[4].forward_mfm(&bn[2].forward(&x, mode)?, POOL)?;
        let x = c[5].forward_mfm(&x, None)?;
        let x = c[6].forward_mfm(&bn[3].forward(&x, mode)?, None)?;
        let x = bn[4].forward(&x, mode)?;
        let x = c[7].forward_mfm(&x, None)?;
        let x = c[8].forward_mfm(&bn[5].forward(&x, mode)?, POOL)?;
        let x = self.dropout.forward(&x, mode, rng)?; // [B, 32, frames/16, 3]
        let (b, ch, t, f) = x.dims4()?;
        let x = x.permute((0, 2, 1, 3))?.reshape((b, t, ch * f))?; // [B, T, 96]
        let x = match &self.blstm {
            Some((l1, l2)) => (l2.forward(&l1.forward(&x)?)? + &x)?,
            None => x,
        };
        self.fc.forward(&x.mean(1)?)
    }

    /// Trainable parameter count from the layer plan (the module docs' table).
    pub fn expected_num_params(blstm: bool) -> usize {
        let convs: usize = [
            (1, 64, 5),
            (32, 64, 1),
            (32, 96, 3),
            (48, 96, 1),
            (48, 128, 3),
            (64, 128, 1),
            (64, 64, 3),
            (32, 64, 1),
            (32, 64, 3),
        ]
        .iter()
        .map(|&(i, o, k)| i * o * k * k + o)
        .sum();
        // One bidirectional layer: 2 directions × (4H·(I+H) + 2·4H), H = 48, I = 96.
        let lstm_layer = 2 * (4 * 48 * (96 + 48) + 2 * 4 * 48);
        convs + if blstm { 2 * lstm_layer } else { 0 } + 96 * 2 + 2
    }
}

/// Both LCNNs share the LFCC front end and the model plumbing; only `forward_features` differs.
macro_rules! lfcc_model {
    ($ty:ty, $name:literal) => {
        impl Model for $ty {
            fn name(&self) -> &str {
                $name
            }

            fn forward(&self, waveforms: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
                let x = lfcc_input(
                    &self.lfcc,
                    waveforms,
                    MIN_NUM_SAMPLES,
                    &self.device,
                    self.dtype,
                )?;
                self.forward_features(&x, mode, rng)
            }

            fn trainable(&self) -> &[NamedVar] {
                &self.trainable
            }

            fn state(&self) -> &VarMap {
                &self.varmap
            }

            fn min_num_samples(&self) -> usize {
                MIN_NUM_SAMPLES
            }
        }
    };
}

lfcc_model!(Lcnn, "lcnn");

/// The small LCNN of four [conv → MFM → max-pool → BatchNorm] blocks, 40,450 parameters.
pub struct LcnnSmall {
    lfcc: Lfcc,
    device: Device,
    dtype: DType,
    convs: Vec<Conv2d>,
    bns: Vec<BatchNorm>,
    dropout: Dropout,
    fc: Linear,
    varmap: VarMap,
    trainable: Vec<NamedVar>,
}

impl LcnnSmall {
    /// Default dropout before the output layer (none).
    pub const DEFAULT_DROPOUT: f64 = 0.0;

    /// `(in, out before MFM, kernel)` of the four convolutions.
    const PLAN: [(usize, usize, usize); 4] = [(1, 32, 5), (16, 48, 3), (24, 64, 3), (32, 64, 3)];

    /// A freshly initialised model (PyTorch-default init drawn from `Rng::new(seed)`).
    pub fn new(
        dropout: f64,
        seed: u64,
        device: &Device,
        dtype: DType,
    ) -> std::result::Result<Self, NnError> {
        check_dropout(dropout)?;
        let varmap = VarMap::new();
        let mut rng = Rng::new(seed);
        let mut pb = ParamBuilder::new(&varmap, &mut rng, device, dtype);
        let mut convs = Vec::new();
        let mut bns = Vec::new();
        for (i, &(cin, cout, k)) in Self::PLAN.iter().enumerate() {
            let pad = k / 2;
            convs.push(Conv2d::new(
                &mut pb,
                &format!("conv{}", i + 1),
                cin,
                cout,
                (k, k),
                1,
                (pad, pad),
                true,
            )?);
            bns.push(BatchNorm::new(
                &mut pb,
                &format!("bn{}", i + 1),
                cout / 2,
                true,
            )?);
        }
        let fc = Linear::new(&mut pb, "fc", 32, 2, true)?;
        let trainable = pb.into_trainable();
        Ok(Self {
            lfcc: lfcc_front_end()?,
            device: device.clone(),
            dtype,
            convs,
            bns,
            dropout: Dropout::new(dropout),
            fc,
            varmap,
            trainable,
        })
    }

    /// Logits from features `[B, 1, frames, dims]` (the part of `forward` after the front end).
    pub fn forward_features(&self, x: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let mut x = x.clone();
        for (conv, bn) in self.convs.iter().zip(&self.bns) {
            x = bn.forward(&conv.forward_mfm(&x, Some((2, 2)))?, mode)?;
        }
        let x = x.mean(3)?.mean(2)?; // [B, 32]
        let x = self.dropout.forward(&x, mode, rng)?;
        self.fc.forward(&x)
    }

    /// Trainable parameter count from the layer plan: 40,450.
    pub fn expected_num_params() -> usize {
        Self::PLAN
            .iter()
            .map(|&(i, o, k)| i * o * k * k + o + o) // conv weight + bias, BN weight + bias (o/2 each)
            .sum::<usize>()
            + 32 * 2
            + 2
    }
}

lfcc_model!(LcnnSmall, "lcnn-small");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{gradcheck, projection_loss, GradcheckOptions};

    fn num_params(m: &dyn Model) -> usize {
        m.trainable().iter().map(|v| v.var.elem_count()).sum()
    }

    fn waveforms(batch: usize, num_samples: usize, dtype: DType, seed: u64) -> Tensor {
        let mut rng = Rng::new(seed);
        let v: Vec<f32> = (0..batch * num_samples)
            .map(|_| rng.uniform(-0.5, 0.5) as f32)
            .collect();
        Tensor::from_vec(v, (batch, num_samples), &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    #[test]
    fn parameter_counts_match_the_plans() {
        let m = Lcnn::new(0.7, false, 1, &Device::Cpu, DType::F32).unwrap();
        assert_eq!(num_params(&m), Lcnn::expected_num_params(false));
        assert_eq!(num_params(&m), 157_698);
        let m = Lcnn::new(0.7, true, 1, &Device::Cpu, DType::F32).unwrap();
        assert_eq!(num_params(&m), Lcnn::expected_num_params(true));
        assert_eq!(num_params(&m), 269_826);
        let s = LcnnSmall::new(0.0, 1, &Device::Cpu, DType::F32).unwrap();
        assert_eq!(num_params(&s), LcnnSmall::expected_num_params());
        assert_eq!(num_params(&s), 40_450);
        // Running statistics are in the state but not trainable.
        assert_eq!(s.state().all_vars().len(), s.trainable().len() + 2 * 4);
    }

    #[test]
    fn shapes_and_minimum_length() {
        let m = Lcnn::new(0.7, false, 2, &Device::Cpu, DType::F32).unwrap();
        let mut rng = Rng::new(0);
        let y = m
            .forward(&waveforms(2, 4000, DType::F32, 3), Mode::Eval, &mut rng)
            .unwrap();
        assert_eq!(y.dims(), &[2, 2]);
        let err = m
            .forward(
                &waveforms(2, MIN_NUM_SAMPLES - 1, DType::F32, 3),
                Mode::Eval,
                &mut rng,
            )
            .unwrap_err();
        assert!(err.to_string().contains("2400"), "{err}");
        assert!(m
            .forward(
                &waveforms(1, MIN_NUM_SAMPLES, DType::F32, 3),
                Mode::Eval,
                &mut rng
            )
            .is_ok());
    }

    fn check_model(m: &dyn Model, mode: Mode) {
        let x = waveforms(2, MIN_NUM_SAMPLES, DType::F64, 4);
        let opts = GradcheckOptions {
            samples_per_tensor: 3,
            ..GradcheckOptions::default()
        };
        let report = gradcheck(
            || projection_loss(&m.forward(&x, mode, &mut Rng::new(5))?, 6),
            m.trainable(),
            None,
            &opts,
        )
        .unwrap();
        assert!(report.failures(1e-4).is_empty(), "{report:?}");
        assert_eq!(report.per_tensor.len(), m.trainable().len());
    }

    #[test]
    fn lcnn_gradchecks_end_to_end_in_f64() {
        let m = Lcnn::new(0.7, false, 7, &Device::Cpu, DType::F64).unwrap();
        check_model(&m, Mode::Train);
        check_model(&m, Mode::Eval);
    }

    #[test]
    fn lcnn_with_blstm_gradchecks_in_f64() {
        let m = Lcnn::new(0.7, true, 8, &Device::Cpu, DType::F64).unwrap();
        check_model(&m, Mode::Train);
    }

    #[test]
    fn lcnn_small_gradchecks_end_to_end_in_f64() {
        let m = LcnnSmall::new(0.2, 9, &Device::Cpu, DType::F64).unwrap();
        check_model(&m, Mode::Train);
        check_model(&m, Mode::TrainFrozenStats);
        check_model(&m, Mode::Eval);
    }

    #[test]
    fn bad_dropout_is_an_option_error() {
        assert!(matches!(
            Lcnn::new(1.0, false, 0, &Device::Cpu, DType::F32),
            Err(NnError::InvalidOption {
                field: "dropout",
                ..
            })
        ));
    }
}
