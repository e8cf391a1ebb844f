//! AASIST and AASIST-L: the raw-waveform spectro-temporal graph-attention detectors of Jung et al.
//! (ICASSP 2022), reproduced operation by operation from the authors' `models/AASIST.py`
//! (clovaai/aasist) so that their released weights load and give the same logits.
//!
//! The registry builds these models for the trainer and the scorer; [`crate::nn::import`] loads the
//! authors' PyTorch state dicts into them. Variable names equal the reference state-dict keys
//! (`encoder.0.0.conv1.weight`, `GAT_layer_S.att_proj.weight`, …) so a checkpoint reads the same on
//! both sides.
//!
//! candle 0.11.1 hazards are avoided by construction: the sinc front end is a fixed conv2d on
//! `[batch, 1, 1, samples]` (no conv1d), max-pooling is a reshape followed by `max` over the
//! window axes (exact gradients), softmax is the unfused `candle_nn::ops::softmax`, and SELU is
//! built from primitives so it works in f64 for gradient checks.
//!
//! Reference behaviours reproduced on purpose (they are what the released weights were trained
//! with):
//! - the residual block computes `bn1`/SELU but feeds the *un-normalised* input to `conv1`, so
//!   `bn1` only collects running statistics (its affine parameters never receive a gradient);
//! - the heterogeneous layer uses `att_weight12` for both cross-type blocks;
//! - the first heterogeneous layer of each branch gets the un-expanded master parameter;
//! - all four graph-pooling layers after the heterogeneous layers use `pool_ratios[2]`
//!   (`pool_ratios[3]` is unused), and top-k keeps nodes in descending score order, which matters
//!   because the two branches are merged node by node with an element-wise max;
//! - the frequency-masking augmentation (`Freq_aug`) of the reference is not reproduced.

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::VarMap;

use crate::nn::{Mode, Model, NamedVar, NnError};
use crate::rng::Rng;

/// SELU's constants, as in PyTorch (`torch.nn.SELU`).
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
/// PyTorch's BatchNorm defaults.
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;
/// Dropout probabilities of the reference: graph-layer inputs, graph-pool scores, the two-branch
/// merge (`drop_way`) and the readout (`drop`).
const GAT_INPUT_DROP: f64 = 0.2;
const POOL_DROP: f64 = 0.3;
const WAY_DROP: f64 = 0.2;
const READOUT_DROP: f64 = 0.5;
/// The front-end and encoder pooling windows: (3, 3) after the sinc layer, then (1, 3) per block.
const FIRST_POOL: usize = 3;
const BLOCK_POOL: usize = 3;
const NUM_BLOCKS: usize = 6;

/// Hyper-parameters of one AASIST variant (the `model_config` of the reference `.conf` files).
#[derive(Clone, Debug, PartialEq)]
pub struct AasistConfig {
    /// Registry name (`aasist` or `aasist-l`).
    pub name: String,
    /// Number of fixed mel-spaced sinc band-pass filters (`filts[0]`).
    pub num_sinc_filters: usize,
    /// Sinc filter length as configured (`first_conv`); an even value is made odd (+1) as in the
    /// reference.
    pub sinc_kernel_size: usize,
    /// (in, out) channels of the residual blocks (`filts[1..=4]`; the last pair repeats for
    /// blocks 5 and 6).
    pub block_channels: [(usize, usize); 4],
    /// Output widths of the homogeneous and heterogeneous graph layers (`gat_dims`).
    pub gat_dims: [usize; 2],
    /// Graph-pooling keep ratios (`pool_ratios`).
    pub pool_ratios: [f64; 4],
    /// Attention temperatures (`temperatures`).
    pub temperatures: [f64; 4],
    /// Sample rate the sinc filters are designed for.
    pub sample_rate_hz: u32,
}

impl AasistConfig {
    /// The full AASIST (`config/AASIST.conf`).
    pub fn aasist() -> Self {
        Self {
            name: "aasist".into(),
            num_sinc_filters: 70,
            sinc_kernel_size: 128,
            block_channels: [(1, 32), (32, 32), (32, 64), (64, 64)],
            gat_dims: [64, 32],
            pool_ratios: [0.5, 0.7, 0.5, 0.5],
            temperatures: [2.0, 2.0, 100.0, 100.0],
            sample_rate_hz: 16_000,
        }
    }

    /// The light AASIST-L (`config/AASIST-L.conf`, 85,306 parameters).
    pub fn aasist_l() -> Self {
        Self {
            name: "aasist-l".into(),
            num_sinc_filters: 70,
            sinc_kernel_size: 128,
            block_channels: [(1, 32), (32, 32), (32, 24), (24, 24)],
            gat_dims: [24, 32],
            pool_ratios: [0.4, 0.5, 0.7, 0.5],
            temperatures: [2.0, 2.0, 100.0, 100.0],
            sample_rate_hz: 16_000,
        }
    }

    /// The odd sinc filter length actually used.
    pub fn sinc_taps(&self) -> usize {
        self.sinc_kernel_size | 1
    }

    /// Spectral graph nodes: sinc filters after the (3, 3) pool (23 for 70 filters).
    pub fn num_spectral_nodes(&self) -> usize {
        self.num_sinc_filters / FIRST_POOL
    }

    /// Temporal graph nodes for a clip of `num_samples` (0 when the clip is too short).
    pub fn num_temporal_nodes(&self, num_samples: usize) -> usize {
        let mut width = num_samples.saturating_sub(self.sinc_taps() - 1) / FIRST_POOL;
        for _ in 0..NUM_BLOCKS {
            width /= BLOCK_POOL;
        }
        width
    }

    /// The shortest clip that leaves one temporal node after the encoder (2,315 samples for the
    /// released configurations).
    pub fn min_num_samples(&self) -> usize {
        self.sinc_taps() - 1 + FIRST_POOL * BLOCK_POOL.pow(NUM_BLOCKS as u32)
    }

    fn validate(&self) -> Result<(), NnError> {
        if self.num_sinc_filters < FIRST_POOL {
            return Err(NnError::InvalidOption {
                field: "num_sinc_filters",
                message: format!(
                    "{} is below the pool height {FIRST_POOL}",
                    self.num_sinc_filters
                ),
            });
        }
        if self.block_channels[0].0 != 1 {
            return Err(NnError::InvalidOption {
                field: "block_channels",
                message: "the first residual block must take 1 input channel".into(),
            });
        }
        for (i, pair) in self.block_channels.windows(2).enumerate() {
            if pair[0].1 != pair[1].0 {
                return Err(NnError::InvalidOption {
                    field: "block_channels",
                    message: format!(
                        "block {i} outputs {} but block {} takes {}",
                        pair[0].1,
                        i + 1,
                        pair[1].0
                    ),
                });
            }
        }
        if self.block_channels[3].0 != self.block_channels[3].1 {
            return Err(NnError::InvalidOption {
                field: "block_channels",
                message: "the last pair repeats, so its in and out channels must be equal".into(),
            });
        }
        if let Some(r) = self.pool_ratios.iter().find(|r| !(**r > 0.0 && **r <= 1.0)) {
            return Err(NnError::InvalidOption {
                field: "pool_ratios",
                message: format!("{r} is outside (0, 1]"),
            });
        }
        if let Some(t) = self.temperatures.iter().find(|t| t.is_nan() || **t <= 0.0) {
            return Err(NnError::InvalidOption {
                field: "temperatures",
                message: format!("{t} is not positive"),
            });
        }
        Ok(())
    }
}

/// The fixed mel-spaced band-pass filters of the reference `CONV` layer, `[filters][taps]`.
///
/// Band edges: 257 FFT-bin frequencies up to Nyquist → mel (2595·log10(1 + f/700)) → `filters + 1`
/// equally spaced points between the extreme mels → Hz. Each filter is the difference of two ideal
/// low-pass sinc responses, times a Hamming window.
pub fn sinc_filters(num_filters: usize, num_taps: usize, sample_rate_hz: u32) -> Vec<Vec<f64>> {
    let to_mel = |hz: f64| 2595.0 * (1.0 + hz / 700.0).log10();
    let to_hz = |mel: f64| 700.0 * (10f64.powf(mel / 2595.0) - 1.0);
    let fs = f64::from(sample_rate_hz);
    // The reference spans mels from f = 0 to f = int(fs / 2) on its 512-point FFT grid.
    let mel_max = to_mel(f64::from(sample_rate_hz / 2));
    let mel_min = to_mel(0.0);
    let step = (mel_max - mel_min) / num_filters as f64;
    let edges_hz: Vec<f64> = (0..=num_filters)
        .map(|i| {
            if i == num_filters {
                to_hz(mel_max)
            } else {
                to_hz(mel_min + step * i as f64)
            }
        })
        .collect();
    let sinc = |x: f64| {
        if x == 0.0 {
            1.0
        } else {
            let px = std::f64::consts::PI * x;
            px.sin() / px
        }
    };
    let half = (num_taps as f64 - 1.0) / 2.0;
    let hamming = |n: usize| {
        if num_taps == 1 {
            1.0
        } else {
            0.54 - 0.46 * (2.0 * std::f64::consts::PI * n as f64 / (num_taps as f64 - 1.0)).cos()
        }
    };
    (0..num_filters)
        .map(|i| {
            let (f_low, f_high) = (edges_hz[i], edges_hz[i + 1]);
            (0..num_taps)
                .map(|n| {
                    let t = n as f64 - half;
                    let high = 2.0 * f_high / fs * sinc(2.0 * f_high * t / fs);
                    let low = 2.0 * f_low / fs * sinc(2.0 * f_low * t / fs);
                    hamming(n) * (high - low)
                })
                .collect()
        })
        .collect()
}

/// Creates the model's variables from the seeded generator with PyTorch's default initialisers.
struct Builder<'a> {
    rng: &'a mut Rng,
    dtype: DType,
    device: Device,
    varmap: VarMap,
    trainable: Vec<NamedVar>,
}

enum Init {
    /// U(−bound, bound): PyTorch's default for Linear/Conv weights and biases
    /// (kaiming_uniform with a = √5 gives bound = 1/√fan_in).
    Uniform(f64),
    /// N(0, std²).
    Normal(f64),
    Const(f64),
}

impl Builder<'_> {
    fn tensor(&mut self, dims: &[usize], init: Init) -> candle_core::Result<Tensor> {
        let count: usize = dims.iter().product();
        let values: Vec<f64> = (0..count)
            .map(|_| match init {
                Init::Uniform(bound) => self.rng.uniform(-bound, bound),
                Init::Normal(std) => std * self.rng.normal(),
                Init::Const(c) => c,
            })
            .collect();
        Tensor::from_vec(values, dims, &self.device)?.to_dtype(self.dtype)
    }

    fn insert(&mut self, name: &str, tensor: Tensor) -> candle_core::Result<Var> {
        let var = Var::from_tensor(&tensor)?;
        let mut data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("variable map lock poisoned".into()))?;
        data.insert(name.to_string(), var.clone());
        Ok(var)
    }

    fn param(&mut self, name: &str, dims: &[usize], init: Init) -> candle_core::Result<Var> {
        let tensor = self.tensor(dims, init)?;
        let var = self.insert(name, tensor)?;
        self.trainable.push(NamedVar {
            name: name.to_string(),
            var: var.clone(),
        });
        Ok(var)
    }

    fn buffer(&mut self, name: &str, dims: &[usize], value: f64) -> candle_core::Result<Var> {
        let tensor = self.tensor(dims, Init::Const(value))?;
        self.insert(name, tensor)
    }

    fn linear(&mut self, name: &str, in_dim: usize, out_dim: usize) -> candle_core::Result<Linear> {
        let bound = 1.0 / (in_dim as f64).sqrt();
        Ok(Linear {
            weight: self.param(
                &format!("{name}.weight"),
                &[out_dim, in_dim],
                Init::Uniform(bound),
            )?,
            bias: self.param(&format!("{name}.bias"), &[out_dim], Init::Uniform(bound))?,
        })
    }

    fn conv(
        &mut self,
        name: &str,
        (in_ch, out_ch): (usize, usize),
        (kh, kw): (usize, usize),
        (pad_h, pad_w): (usize, usize),
    ) -> candle_core::Result<Conv2d> {
        let bound = 1.0 / ((in_ch * kh * kw) as f64).sqrt();
        Ok(Conv2d {
            weight: self.param(
                &format!("{name}.weight"),
                &[out_ch, in_ch, kh, kw],
                Init::Uniform(bound),
            )?,
            bias: self.param(&format!("{name}.bias"), &[out_ch], Init::Uniform(bound))?,
            pad_h,
            pad_w,
        })
    }

    fn batch_norm(&mut self, name: &str, channels: usize) -> candle_core::Result<BatchNorm> {
        Ok(BatchNorm {
            weight: self.param(&format!("{name}.weight"), &[channels], Init::Const(1.0))?,
            bias: self.param(&format!("{name}.bias"), &[channels], Init::Const(0.0))?,
            running_mean: self.buffer(&format!("{name}.running_mean"), &[channels], 0.0)?,
            running_var: self.buffer(&format!("{name}.running_var"), &[channels], 1.0)?,
        })
    }

    /// A `(dim, 1)` attention vector, xavier-normal as in the reference (`fan_in` 1, `fan_out` dim).
    fn attention_vector(&mut self, name: &str, dim: usize) -> candle_core::Result<Var> {
        let std = (2.0 / (dim as f64 + 1.0)).sqrt();
        self.param(name, &[dim, 1], Init::Normal(std))
    }
}

/// Fully connected layer over the last axis, `y = x Wᵀ + b`.
struct Linear {
    weight: Var,
    bias: Var,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let dims = x.dims();
        let (lead, in_dim) = dims.split_at(dims.len() - 1);
        let rows: usize = lead.iter().product();
        let y = x
            .reshape((rows, in_dim[0]))?
            .matmul(&self.weight.t()?)?
            .broadcast_add(self.bias.as_tensor())?;
        let mut out_dims = lead.to_vec();
        out_dims.push(self.weight.dim(0)?);
        y.reshape(out_dims)
    }
}

/// 2-D convolution, stride 1, with explicit zero padding (candle pads both axes equally).
struct Conv2d {
    weight: Var,
    bias: Var,
    pad_h: usize,
    pad_w: usize,
}

impl Conv2d {
    /// `[batch, in, H, W]` → `[batch, out, H + 2·pad_h − kh + 1, W + 2·pad_w − kw + 1]`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = x
            .pad_with_zeros(2, self.pad_h, self.pad_h)?
            .pad_with_zeros(3, self.pad_w, self.pad_w)?;
        let out_ch = self.weight.dim(0)?;
        x.conv2d(self.weight.as_tensor(), 0, 1, 1, 1)?
            .broadcast_add(&self.bias.reshape((1, out_ch, 1, 1))?)
    }
}

/// Batch normalisation over axis 1 of a `[rows, C]` or `[batch, C, H, W]` tensor, PyTorch
/// semantics: biased batch variance for normalising, unbiased variance into the running estimate.
struct BatchNorm {
    weight: Var,
    bias: Var,
    running_mean: Var,
    running_var: Var,
}

impl BatchNorm {
    fn broadcast_shape(x: &Tensor) -> Vec<usize> {
        let mut shape = vec![1; x.rank()];
        shape[1] = x.dims()[1];
        shape
    }

    fn reduce_dims(x: &Tensor) -> Vec<usize> {
        (0..x.rank()).filter(|d| *d != 1).collect()
    }

    /// Folds the batch statistics into the running ones (`Mode::Train` only).
    fn update_running(
        &self,
        mean: &Tensor,
        var_biased: &Tensor,
        count: usize,
    ) -> candle_core::Result<()> {
        let channels = self.running_mean.dim(0)?;
        let unbiased = if count > 1 {
            (var_biased.detach() * (count as f64 / (count as f64 - 1.0)))?
        } else {
            var_biased.detach()
        };
        let new_mean = ((self.running_mean.as_tensor() * (1.0 - BN_MOMENTUM))?
            + (mean.detach().reshape(channels)? * BN_MOMENTUM)?)?;
        let new_var = ((self.running_var.as_tensor() * (1.0 - BN_MOMENTUM))?
            + (unbiased.reshape(channels)? * BN_MOMENTUM)?)?;
        self.running_mean.set(&new_mean)?;
        self.running_var.set(&new_var)
    }

    fn batch_stats(x: &Tensor) -> candle_core::Result<(Tensor, Tensor, usize)> {
        let dims = Self::reduce_dims(x);
        let count = x.elem_count() / x.dims()[1];
        let mean = x.mean_keepdim(dims.as_slice())?;
        let var = x
            .broadcast_sub(&mean)?
            .sqr()?
            .mean_keepdim(dims.as_slice())?;
        Ok((mean, var, count))
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> candle_core::Result<Tensor> {
        let shape = Self::broadcast_shape(x);
        let (mean, var) = if mode.is_training() {
            let (mean, var, count) = Self::batch_stats(x)?;
            if mode == Mode::Train {
                self.update_running(&mean, &var, count)?;
            }
            (mean, var)
        } else {
            (
                self.running_mean.reshape(shape.as_slice())?,
                self.running_var.reshape(shape.as_slice())?,
            )
        };
        let inv_std = (var + BN_EPS)?.sqrt()?.recip()?;
        let scale = inv_std.broadcast_mul(&self.weight.reshape(shape.as_slice())?)?;
        x.broadcast_sub(&mean)?
            .broadcast_mul(&scale)?
            .broadcast_add(&self.bias.reshape(shape.as_slice())?)
    }

    /// Running-statistics update without an output: the reference's dead `bn1`.
    fn track(&self, x: &Tensor, mode: Mode) -> candle_core::Result<()> {
        if mode == Mode::Train {
            let (mean, var, count) = Self::batch_stats(&x.detach())?;
            self.update_running(&mean, &var, count)?;
        }
        Ok(())
    }
}

/// SELU from primitives (candle's `selu` builds an f32 constant and fails in f64).
fn selu(x: &Tensor) -> candle_core::Result<Tensor> {
    let negative = ((x.minimum(0.0)?.exp()? - 1.0)? * SELU_ALPHA)?;
    (x.relu()? + negative)? * SELU_SCALE
}

/// Inverted dropout with a mask from the project's seeded generator; identity in eval mode.
fn dropout(x: &Tensor, p: f64, mode: Mode, rng: &mut Rng) -> candle_core::Result<Tensor> {
    if !mode.is_training() || p <= 0.0 {
        return Ok(x.clone());
    }
    let keep_scale = 1.0 / (1.0 - p);
    let mask: Vec<f64> = (0..x.elem_count())
        .map(|_| if rng.uniform01() < p { 0.0 } else { keep_scale })
        .collect();
    let mask = Tensor::from_vec(mask, x.dims(), x.device())?.to_dtype(x.dtype())?;
    x.mul(&mask)
}

/// Non-overlapping max-pool over the last axis, window `k`, trailing remainder dropped (floor
/// mode). Exact gradients, unlike candle's `max_pool2d` backward.
fn max_pool_last(x: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let width = dims[dims.len() - 1] / k;
    let x = x.narrow(dims.len() - 1, 0, width * k)?;
    let mut split = dims[..dims.len() - 1].to_vec();
    split.extend([width, k]);
    x.reshape(split)?.max(D::Minus1)
}

/// `[batch, nodes, dim] → [batch, nodes, nodes, dim]`, entry (i, j) = x_i ⊙ x_j.
fn pairwise_products(x: &Tensor) -> candle_core::Result<Tensor> {
    x.unsqueeze(2)?.broadcast_mul(&x.unsqueeze(1)?)
}

/// `[..., dim] · [dim, 1] → [...]`: attention logits from a projected map.
fn attention_logits(map: &Tensor, weight: &Var) -> candle_core::Result<Tensor> {
    let dims = map.dims();
    let (lead, last) = dims.split_at(dims.len() - 1);
    let rows: usize = lead.iter().product();
    map.reshape((rows, last[0]))?
        .matmul(weight.as_tensor())?
        .reshape(lead)
}

/// BatchNorm1d over the last axis of `[batch, nodes, dim]` (the reference flattens nodes into
/// the batch).
fn node_batch_norm(bn: &BatchNorm, x: &Tensor, mode: Mode) -> candle_core::Result<Tensor> {
    let (b, n, d) = x.dims3()?;
    bn.forward(&x.reshape((b * n, d))?, mode)?
        .reshape((b, n, d))
}

/// The reference `GraphAttentionLayer` (homogeneous graph).
struct GraphAttention {
    att_proj: Linear,
    att_weight: Var,
    proj_with_att: Linear,
    proj_without_att: Linear,
    bn: BatchNorm,
    temperature: f64,
}

impl GraphAttention {
    fn new(
        b: &mut Builder,
        name: &str,
        in_dim: usize,
        out_dim: usize,
        temperature: f64,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            att_proj: b.linear(&format!("{name}.att_proj"), in_dim, out_dim)?,
            att_weight: b.attention_vector(&format!("{name}.att_weight"), out_dim)?,
            proj_with_att: b.linear(&format!("{name}.proj_with_att"), in_dim, out_dim)?,
            proj_without_att: b.linear(&format!("{name}.proj_without_att"), in_dim, out_dim)?,
            bn: b.batch_norm(&format!("{name}.bn"), out_dim)?,
            temperature,
        })
    }

    /// `[batch, nodes, in] → [batch, nodes, out]`.
    fn forward(&self, x: &Tensor, mode: Mode, rng: &mut Rng) -> candle_core::Result<Tensor> {
        let x = dropout(x, GAT_INPUT_DROP, mode, rng)?;
        let map = self.att_proj.forward(&pairwise_products(&x)?)?.tanh()?;
        let logits = (attention_logits(&map, &self.att_weight)? / self.temperature)?;
        // [batch, nodes, nodes]; each node's weights over its neighbours sum to 1.
        let attention = candle_nn::ops::softmax(&logits, 2)?;
        let with_att = self.proj_with_att.forward(&attention.matmul(&x)?)?;
        let without_att = self.proj_without_att.forward(&x)?;
        selu(&node_batch_norm(
            &self.bn,
            &(with_att + without_att)?,
            mode,
        )?)
    }
}

/// The reference `HtrgGraphAttentionLayer`: two node types plus a master node.
struct HeteroGraphAttention {
    proj_type1: Linear,
    proj_type2: Linear,
    att_proj: Linear,
    att_proj_master: Linear,
    att_weight11: Var,
    att_weight22: Var,
    att_weight12: Var,
    att_weight_master: Var,
    proj_with_att: Linear,
    proj_without_att: Linear,
    proj_with_att_master: Linear,
    proj_without_att_master: Linear,
    bn: BatchNorm,
    temperature: f64,
}

impl HeteroGraphAttention {
    fn new(
        b: &mut Builder,
        name: &str,
        in_dim: usize,
        out_dim: usize,
        temperature: f64,
    ) -> candle_core::Result<Self> {
        // Creation order follows the reference constructor so a shared seed gives shared shapes.
        Ok(Self {
            proj_type1: b.linear(&format!("{name}.proj_type1"), in_dim, in_dim)?,
            proj_type2: b.linear(&format!("{name}.proj_type2"), in_dim, in_dim)?,
            att_proj: b.linear(&format!("{name}.att_proj"), in_dim, out_dim)?,
            att_proj_master: b.linear(&format!("{name}.att_projM"), in_dim, out_dim)?,
            att_weight11: b.attention_vector(&format!("{name}.att_weight11"), out_dim)?,
            att_weight22: b.attention_vector(&format!("{name}.att_weight22"), out_dim)?,
            att_weight12: b.attention_vector(&format!("{name}.att_weight12"), out_dim)?,
            att_weight_master: b.attention_vector(&format!("{name}.att_weightM"), out_dim)?,
            proj_with_att: b.linear(&format!("{name}.proj_with_att"), in_dim, out_dim)?,
            proj_without_att: b.linear(&format!("{name}.proj_without_att"), in_dim, out_dim)?,
            proj_with_att_master: b.linear(&format!("{name}.proj_with_attM"), in_dim, out_dim)?,
            proj_without_att_master: b.linear(
                &format!("{name}.proj_without_attM"),
                in_dim,
                out_dim,
            )?,
            bn: b.batch_norm(&format!("{name}.bn"), out_dim)?,
            temperature,
        })
    }

    /// `x1 [batch, n1, in]`, `x2 [batch, n2, in]`, `master [1 or batch, 1, in]` → the updated
    /// three, widths `out`.
    fn forward(
        &self,
        x1: &Tensor,
        x2: &Tensor,
        master: &Tensor,
        mode: Mode,
        rng: &mut Rng,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let n1 = x1.dim(1)?;
        let n2 = x2.dim(1)?;
        let x = Tensor::cat(
            &[self.proj_type1.forward(x1)?, self.proj_type2.forward(x2)?],
            1,
        )?;
        let x = dropout(&x, GAT_INPUT_DROP, mode, rng)?;

        // Node-to-node attention with one weight vector per block of the type × type board.
        let map = self.att_proj.forward(&pairwise_products(&x)?)?.tanh()?;
        let n = n1 + n2;
        let block_mask = |select: &dyn Fn(bool, bool) -> bool| -> candle_core::Result<Tensor> {
            let values: Vec<f64> = (0..n * n)
                .map(|ij| f64::from(u8::from(select(ij / n < n1, ij % n < n1))))
                .collect();
            Tensor::from_vec(values, (1, n, n), x.device())?.to_dtype(x.dtype())
        };
        let logits = (attention_logits(&map, &self.att_weight11)?
            .broadcast_mul(&block_mask(&|i, j| i && j)?)?
            + attention_logits(&map, &self.att_weight22)?
                .broadcast_mul(&block_mask(&|i, j| !i && !j)?)?
            + attention_logits(&map, &self.att_weight12)?
                .broadcast_mul(&block_mask(&|i, j| i != j)?)?)?;
        let attention = candle_nn::ops::softmax(&(logits / self.temperature)?, 2)?;

        // Master node: attention over all nodes, conditioned on the current master.
        let master_map = self
            .att_proj_master
            .forward(&x.broadcast_mul(master)?)?
            .tanh()?;
        let master_logits =
            (attention_logits(&master_map, &self.att_weight_master)? / self.temperature)?;
        let master_attention = candle_nn::ops::softmax(&master_logits, 1)?.unsqueeze(1)?; // [batch, 1, n]
        let new_master = self
            .proj_with_att_master
            .forward(&master_attention.matmul(&x)?)?
            .broadcast_add(&self.proj_without_att_master.forward(master)?)?;

        let with_att = self.proj_with_att.forward(&attention.matmul(&x)?)?;
        let without_att = self.proj_without_att.forward(&x)?;
        let h = selu(&node_batch_norm(
            &self.bn,
            &(with_att + without_att)?,
            mode,
        )?)?;
        Ok((h.narrow(1, 0, n1)?, h.narrow(1, n1, n2)?, new_master))
    }
}

/// The reference `GraphPool`: sigmoid scores, keep the top `⌊n·ratio⌋` (at least 1) nodes in
/// descending score order, each scaled by its score.
struct GraphPool {
    proj: Linear,
    ratio: f64,
}

impl GraphPool {
    fn forward(&self, h: &Tensor, mode: Mode, rng: &mut Rng) -> candle_core::Result<Tensor> {
        let (batch, nodes, dim) = h.dims3()?;
        let z = dropout(h, POOL_DROP, mode, rng)?;
        let scores = candle_nn::ops::sigmoid(&self.proj.forward(&z)?)?; // [batch, nodes, 1]
        let keep = ((nodes as f64 * self.ratio) as usize).max(1);
        let order = scores.squeeze(2)?.contiguous()?.arg_sort_last_dim(false)?;
        let index = order
            .narrow(1, 0, keep)?
            .unsqueeze(2)?
            .broadcast_as((batch, keep, dim))?
            .contiguous()?;
        h.broadcast_mul(&scores)?.gather(&index, 1)
    }
}

/// The reference `Residual_block` (with its unused `bn1`, see the module docs).
struct ResidualBlock {
    bn1: Option<BatchNorm>,
    conv1: Conv2d,
    bn2: BatchNorm,
    conv2: Conv2d,
    downsample: Option<Conv2d>,
}

impl ResidualBlock {
    fn new(
        b: &mut Builder,
        name: &str,
        (in_ch, out_ch): (usize, usize),
        first: bool,
    ) -> candle_core::Result<Self> {
        let bn1 = if first {
            None
        } else {
            Some(b.batch_norm(&format!("{name}.bn1"), in_ch)?)
        };
        let conv1 = b.conv(&format!("{name}.conv1"), (in_ch, out_ch), (2, 3), (1, 1))?;
        let bn2 = b.batch_norm(&format!("{name}.bn2"), out_ch)?;
        let conv2 = b.conv(&format!("{name}.conv2"), (out_ch, out_ch), (2, 3), (0, 1))?;
        let downsample = if in_ch != out_ch {
            Some(b.conv(
                &format!("{name}.conv_downsample"),
                (in_ch, out_ch),
                (1, 3),
                (0, 1),
            )?)
        } else {
            None
        };
        Ok(Self {
            bn1,
            conv1,
            bn2,
            conv2,
            downsample,
        })
    }

    /// `[batch, in, H, W] → [batch, out, H, ⌊W/3⌋]`.
    fn forward(&self, x: &Tensor, mode: Mode) -> candle_core::Result<Tensor> {
        if let Some(bn1) = &self.bn1 {
            bn1.track(x, mode)?;
        }
        let out = self.conv1.forward(x)?; // [batch, out, H + 1, W]
        let out = selu(&self.bn2.forward(&out, mode)?)?;
        let out = self.conv2.forward(&out)?; // [batch, out, H, W]
        let identity = match &self.downsample {
            Some(conv) => conv.forward(x)?,
            None => x.clone(),
        };
        max_pool_last(&(out + identity)?, BLOCK_POOL)
    }
}

/// AASIST / AASIST-L with verified gradients, implementing [`Model`].
pub struct Aasist {
    config: AasistConfig,
    dtype: DType,
    device: Device,
    sinc: Tensor,
    first_bn: BatchNorm,
    encoder: Vec<ResidualBlock>,
    pos_s: Var,
    master1: Var,
    master2: Var,
    gat_s: GraphAttention,
    gat_t: GraphAttention,
    hetero_st11: HeteroGraphAttention,
    hetero_st12: HeteroGraphAttention,
    hetero_st21: HeteroGraphAttention,
    hetero_st22: HeteroGraphAttention,
    pool_s: GraphPool,
    pool_t: GraphPool,
    pool_hs1: GraphPool,
    pool_ht1: GraphPool,
    pool_hs2: GraphPool,
    pool_ht2: GraphPool,
    out_layer: Linear,
    trainable: Vec<NamedVar>,
    varmap: VarMap,
}

impl Aasist {
    /// Builds a randomly initialised model (PyTorch's default initialisers, seeded by `rng`) in
    /// `dtype` (f32 for training, f64 for gradient checks) on `device`.
    pub fn new(
        config: AasistConfig,
        dtype: DType,
        device: &Device,
        rng: &mut Rng,
    ) -> Result<Self, NnError> {
        config.validate()?;
        let mut b = Builder {
            rng,
            dtype,
            device: device.clone(),
            varmap: VarMap::new(),
            trainable: Vec::new(),
        };
        let last_ch = config.block_channels[3].1;
        let [gat0, gat1] = config.gat_dims;
        let spectral_nodes = config.num_spectral_nodes();

        let taps = config.sinc_taps();
        let filters: Vec<f64> = sinc_filters(config.num_sinc_filters, taps, config.sample_rate_hz)
            .into_iter()
            .flatten()
            .collect();
        let sinc = Tensor::from_vec(filters, (config.num_sinc_filters, 1, 1, taps), device)?
            .to_dtype(dtype)?;

        let pos_s = b.param("pos_S", &[1, spectral_nodes, last_ch], Init::Normal(1.0))?;
        let master1 = b.param("master1", &[1, 1, gat0], Init::Normal(1.0))?;
        let master2 = b.param("master2", &[1, 1, gat0], Init::Normal(1.0))?;
        let first_bn = b.batch_norm("first_bn", 1)?;
        let mut encoder = Vec::with_capacity(NUM_BLOCKS);
        for i in 0..NUM_BLOCKS {
            let channels = config.block_channels[i.min(3)];
            encoder.push(ResidualBlock::new(
                &mut b,
                &format!("encoder.{i}.0"),
                channels,
                i == 0,
            )?);
        }
        let [t0, t1, t2, _] = config.temperatures;
        let gat_s = GraphAttention::new(&mut b, "GAT_layer_S", last_ch, gat0, t0)?;
        let gat_t = GraphAttention::new(&mut b, "GAT_layer_T", last_ch, gat0, t1)?;
        let hetero_st11 = HeteroGraphAttention::new(&mut b, "HtrgGAT_layer_ST11", gat0, gat1, t2)?;
        let hetero_st12 = HeteroGraphAttention::new(&mut b, "HtrgGAT_layer_ST12", gat1, gat1, t2)?;
        let hetero_st21 = HeteroGraphAttention::new(&mut b, "HtrgGAT_layer_ST21", gat0, gat1, t2)?;
        let hetero_st22 = HeteroGraphAttention::new(&mut b, "HtrgGAT_layer_ST22", gat1, gat1, t2)?;
        let [r0, r1, r2, _] = config.pool_ratios;
        let mut pool = |name: &str, dim: usize, ratio: f64| -> candle_core::Result<GraphPool> {
            Ok(GraphPool {
                proj: b.linear(&format!("{name}.proj"), dim, 1)?,
                ratio,
            })
        };
        let pool_s = pool("pool_S", gat0, r0)?;
        let pool_t = pool("pool_T", gat0, r1)?;
        let pool_hs1 = pool("pool_hS1", gat1, r2)?;
        let pool_ht1 = pool("pool_hT1", gat1, r2)?;
        let pool_hs2 = pool("pool_hS2", gat1, r2)?;
        let pool_ht2 = pool("pool_hT2", gat1, r2)?;
        let out_layer = b.linear("out_layer", 5 * gat1, 2)?;

        let Builder {
            varmap,
            mut trainable,
            ..
        } = b;
        trainable.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            config,
            dtype,
            device: device.clone(),
            sinc,
            first_bn,
            encoder,
            pos_s,
            master1,
            master2,
            gat_s,
            gat_t,
            hetero_st11,
            hetero_st12,
            hetero_st21,
            hetero_st22,
            pool_s,
            pool_t,
            pool_hs1,
            pool_ht1,
            pool_hs2,
            pool_ht2,
            out_layer,
            trainable,
            varmap,
        })
    }

    /// The configuration the model was built with.
    pub fn config(&self) -> &AasistConfig {
        &self.config
    }

    /// The dtype of every variable.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of trainable scalars (85,306 for AASIST-L).
    pub fn num_parameters(&self) -> usize {
        self.trainable.iter().map(|v| v.var.elem_count()).sum()
    }

    fn forward_checked(
        &self,
        waveforms: &Tensor,
        mode: Mode,
        rng: &mut Rng,
    ) -> candle_core::Result<Tensor> {
        let (batch, num_samples) = waveforms.dims2()?;
        if num_samples < self.min_num_samples() {
            candle_core::bail!(
                "{}: clips of {num_samples} samples are shorter than the minimum {}",
                self.config.name,
                self.min_num_samples()
            );
        }
        let taps = self.config.sinc_taps();
        let filters = self.config.num_sinc_filters;
        let x = waveforms
            .to_device(&self.device)?
            .to_dtype(self.dtype)?
            .reshape((batch, 1, 1, num_samples))?;
        // Fixed sinc bank as a 2-D conv: [batch, filters, 1, samples − taps + 1].
        let x = x.conv2d(&self.sinc, 0, 1, 1, 1)?;
        let x = x
            .reshape((batch, 1, filters, num_samples - taps + 1))?
            .abs()?;
        // (3, 3) max-pool: frames, then filters.
        let x = max_pool_last(&x, FIRST_POOL)?; // [batch, 1, filters, W]
        let x = max_pool_last(&x.transpose(2, 3)?, FIRST_POOL)?.transpose(2, 3)?; // [batch, 1, filters/3, W]
        let mut e = selu(&self.first_bn.forward(&x.contiguous()?, mode)?)?;
        for block in &self.encoder {
            e = block.forward(&e, mode)?;
        }
        let e = e.abs()?; // [batch, C, spectral nodes, temporal nodes]

        let e_s = e
            .max(3)?
            .transpose(1, 2)?
            .broadcast_add(self.pos_s.as_tensor())?;
        let out_s = self
            .pool_s
            .forward(&self.gat_s.forward(&e_s, mode, rng)?, mode, rng)?;
        let e_t = e.max(2)?.transpose(1, 2)?.contiguous()?;
        let out_t = self
            .pool_t
            .forward(&self.gat_t.forward(&e_t, mode, rng)?, mode, rng)?;

        let branch = |first: &HeteroGraphAttention,
                      second: &HeteroGraphAttention,
                      pool_s: &GraphPool,
                      pool_t: &GraphPool,
                      master: &Var,
                      rng: &mut Rng|
         -> candle_core::Result<(Tensor, Tensor, Tensor)> {
            let (t1, s1, m1) = first.forward(&out_t, &out_s, master.as_tensor(), mode, rng)?;
            let s1 = pool_s.forward(&s1, mode, rng)?;
            let t1 = pool_t.forward(&t1, mode, rng)?;
            let (t_aug, s_aug, m_aug) = second.forward(&t1, &s1, &m1, mode, rng)?;
            Ok(((t1 + t_aug)?, (s1 + s_aug)?, (m1 + m_aug)?))
        };
        let (t1, s1, m1) = branch(
            &self.hetero_st11,
            &self.hetero_st12,
            &self.pool_hs1,
            &self.pool_ht1,
            &self.master1,
            rng,
        )?;
        let (t2, s2, m2) = branch(
            &self.hetero_st21,
            &self.hetero_st22,
            &self.pool_hs2,
            &self.pool_ht2,
            &self.master2,
            rng,
        )?;
        let mut way = |x: &Tensor| dropout(x, WAY_DROP, mode, rng);
        let (t1, t2, s1, s2, m1, m2) = (
            way(&t1)?,
            way(&t2)?,
            way(&s1)?,
            way(&s2)?,
            way(&m1)?,
            way(&m2)?,
        );
        let out_t = t1.maximum(&t2)?;
        let out_s = s1.maximum(&s2)?;
        let master = m1.maximum(&m2)?;

        let hidden = Tensor::cat(
            &[
                out_t.abs()?.max(1)?,
                out_t.mean(1)?,
                out_s.abs()?.max(1)?,
                out_s.mean(1)?,
                master.squeeze(1)?,
            ],
            1,
        )?; // [batch, 5 · gat_dims[1]]
        let hidden = dropout(&hidden, READOUT_DROP, mode, rng)?;
        self.out_layer.forward(&hidden)
    }
}

impl Model for Aasist {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn forward(
        &self,
        waveforms: &Tensor,
        mode: Mode,
        rng: &mut Rng,
    ) -> candle_core::Result<Tensor> {
        self.forward_checked(waveforms, mode, rng)
    }

    fn trainable(&self) -> &[NamedVar] {
        &self.trainable
    }

    fn state(&self) -> &VarMap {
        &self.varmap
    }

    fn min_num_samples(&self) -> usize {
        self.config.min_num_samples()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_length_and_node_counts() {
        let c = AasistConfig::aasist_l();
        assert_eq!(c.sinc_taps(), 129);
        assert_eq!(c.num_spectral_nodes(), 23);
        assert_eq!(c.min_num_samples(), 2315);
        assert_eq!(c.num_temporal_nodes(2315), 1);
        assert_eq!(c.num_temporal_nodes(2314), 0);
        // 64,600 samples: 64,472 → 21,490 → 7,163 → 2,387 → 795 → 265 → 88 → 29.
        assert_eq!(c.num_temporal_nodes(64_600), 29);
    }

    #[test]
    fn sinc_filters_are_symmetric_band_passes() {
        let bank = sinc_filters(70, 129, 16_000);
        assert_eq!(bank.len(), 70);
        for (i, filter) in bank.iter().enumerate() {
            assert_eq!(filter.len(), 129);
            for n in 0..129 {
                assert!((filter[n] - filter[128 - n]).abs() < 1e-15);
            }
            // Bands whose lower edge lies within the 129-tap Hamming window's main lobe
            // (2 bins of fs/129 each side) cannot reach zero DC gain; the first band, from 0 Hz, is
            // a low-pass checked below. Above that, zero DC gain up to leakage: a band-pass.
            let mel_max = 2595.0 * (1.0f64 + 8000.0 / 700.0).log10();
            let f_low = 700.0 * (10f64.powf(mel_max * i as f64 / 70.0 / 2595.0) - 1.0);
            if f_low < 4.0 * 16_000.0 / 129.0 {
                continue;
            }
            let f_high = 700.0 * (10f64.powf(mel_max * (i + 1) as f64 / 70.0 / 2595.0) - 1.0);
            let gain_at = |f_hz: f64| -> f64 {
                filter
                    .iter()
                    .enumerate()
                    .map(|(n, h)| {
                        h * (2.0 * std::f64::consts::PI * f_hz * (n as f64 - 64.0) / 16_000.0).cos()
                    })
                    .sum()
            };
            let dc = gain_at(0.0);
            let in_band = gain_at(0.5 * (f_low + f_high));
            assert!(
                dc.abs() < 0.05 * in_band.abs(),
                "band {i}: dc {dc} in-band {in_band}"
            );
        }
        // The first band starts at 0 Hz, so its centre tap is 2·f_high/fs with f_high the first
        // mel edge: mel_max / 70 → Hz.
        let mel_max = 2595.0 * (1.0f64 + 8000.0 / 700.0).log10();
        let f1 = 700.0 * (10f64.powf(mel_max / 70.0 / 2595.0) - 1.0);
        assert!((bank[0][64] - 2.0 * f1 / 16_000.0).abs() < 1e-12);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let mut c = AasistConfig::aasist_l();
        c.pool_ratios[1] = 0.0;
        let err = Aasist::new(c, DType::F32, &Device::Cpu, &mut Rng::new(1)).err();
        assert!(matches!(
            err,
            Some(NnError::InvalidOption {
                field: "pool_ratios",
                ..
            })
        ));
        let mut c = AasistConfig::aasist_l();
        c.block_channels[2] = (16, 24);
        let err = Aasist::new(c, DType::F32, &Device::Cpu, &mut Rng::new(1)).err();
        assert!(matches!(
            err,
            Some(NnError::InvalidOption {
                field: "block_channels",
                ..
            })
        ));
    }

    #[test]
    fn selu_matches_closed_form() -> candle_core::Result<()> {
        let x = Tensor::new(&[-2.0f64, -0.5, 0.0, 0.7, 3.0], &Device::Cpu)?;
        let y = selu(&x)?.to_vec1::<f64>()?;
        for (xi, yi) in [-2.0f64, -0.5, 0.0, 0.7, 3.0].iter().zip(y) {
            let expected = if *xi > 0.0 {
                SELU_SCALE * xi
            } else {
                SELU_SCALE * SELU_ALPHA * (xi.exp() - 1.0)
            };
            assert!((yi - expected).abs() < 1e-14);
        }
        Ok(())
    }

    #[test]
    fn max_pool_drops_the_remainder() -> candle_core::Result<()> {
        let x = Tensor::new(&[[1.0f32, 5.0, 2.0, -1.0, -3.0, 0.5, 9.0]], &Device::Cpu)?;
        assert_eq!(
            max_pool_last(&x, 3)?.to_vec2::<f32>()?,
            vec![vec![5.0, 0.5]]
        );
        Ok(())
    }
}
