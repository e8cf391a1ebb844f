//! AASIST and AASIST-L: the raw-waveform spectro-temporal graph-attention detectors of Jung et al.
//! (ICASSP 2022), reproduced operation by operation from the authors' `models/AASIST.py`
//! (clovaai/aasist) so that their released weights load and give the same logits.
//!
//! The registry builds these models for the trainer and the scorer; [`crate::nn::import`] loads the
//! authors' PyTorch state dicts into them. Variable names equal the reference state-dict keys
//! (`encoder.0.0.conv1.weight`, `GAT_layer_S.att_proj.weight`, …) so a checkpoint reads the same on
//! both sides.
//!
//! Every trainable layer is one of the shared layers of [`crate::nn::layers`] (Linear, Conv2d,
//! BatchNorm, MaxPool2d, Dropout, SELU), so faster kernels swapped in there reach AASIST too; the
//! graph-attention arithmetic between them (pairwise products, attention logits, softmax, top-k)
//! uses candle ops whose gradients passed the finite-difference checks. The fixed sinc front end
//! is candle's conv2d forward on `[batch, 1, 1, samples]` with a constant bank: nothing upstream
//! of it needs a gradient, so it never enters the backward pass (the shared Conv2d would make
//! the bank a variable and pay for its weight gradient).
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

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use crate::nn::layers::{selu, BatchNorm, Conv2d, Dropout, Linear, MaxPool2d, ParamBuilder};
use crate::nn::{param, Mode, Model, NamedVar, NnError};
use crate::rng::Rng;

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

/// A trainable variable drawn from N(0, std²) in the builder's generator order (the shared
/// builder has uniform and constant initialisers; AASIST's positional embedding, master nodes
/// and attention vectors are normal).
fn normal_param(
    pb: &mut ParamBuilder,
    name: &str,
    dims: &[usize],
    std: f64,
) -> candle_core::Result<Var> {
    let var = pb.constant(name, dims, 0.0)?;
    let count: usize = dims.iter().product();
    let values: Vec<f64> = (0..count).map(|_| std * pb.rng().normal()).collect();
    let (dtype, device) = (pb.dtype(), pb.device().clone());
    var.set(&Tensor::from_vec(values, dims, &device)?.to_dtype(dtype)?)?;
    Ok(var)
}

/// A `(dim, 1)` attention vector, xavier-normal as in the reference (`fan_in` 1, `fan_out` dim).
fn attention_vector(pb: &mut ParamBuilder, name: &str, dim: usize) -> candle_core::Result<Var> {
    normal_param(pb, name, &[dim, 1], (2.0 / (dim as f64 + 1.0)).sqrt())
}

/// A `torch.nn.Linear` with bias, PyTorch-default init, under `name`.
fn linear(
    pb: &mut ParamBuilder,
    name: &str,
    in_dim: usize,
    out_dim: usize,
) -> candle_core::Result<Linear> {
    Linear::new(pb, name, in_dim, out_dim, true)
}

/// A stride-1 `torch.nn.Conv2d` with bias and per-axis zero padding, under `name`.
fn conv(
    pb: &mut ParamBuilder,
    name: &str,
    (in_ch, out_ch): (usize, usize),
    kernel: (usize, usize),
    padding: (usize, usize),
) -> candle_core::Result<Conv2d> {
    Conv2d::new(pb, name, in_ch, out_ch, kernel, 1, padding, true)
}

/// The shared [`Linear`] applied to `[..., in]` with the leading axes folded into one: a single
/// `[rows, in] · [in, out]` product instead of one small product per leading index (the pairwise
/// attention maps are `[batch, nodes, nodes, in]`).
fn linear_rows(layer: &Linear, x: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims();
    let (lead, in_dim) = dims.split_at(dims.len() - 1);
    let rows: usize = lead.iter().product();
    let y = layer.forward(&x.reshape((rows, in_dim[0]))?)?; // [rows, out]
    let mut out_dims = lead.to_vec();
    out_dims.push(y.dim(1)?);
    y.reshape(out_dims)
}

/// The reference's dead `bn1`: in [`Mode::Train`] its running statistics follow the batch,
/// nothing else reads it (its output is discarded, on a detached input so no graph is built).
fn track_running_stats(bn: &BatchNorm, x: &Tensor, mode: Mode) -> candle_core::Result<()> {
    if mode == Mode::Train {
        bn.forward(&x.detach(), mode)?;
    }
    Ok(())
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
        .matmul(&param(weight))?
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
        pb: &mut ParamBuilder,
        name: &str,
        in_dim: usize,
        out_dim: usize,
        temperature: f64,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            att_proj: linear(pb, &format!("{name}.att_proj"), in_dim, out_dim)?,
            att_weight: attention_vector(pb, &format!("{name}.att_weight"), out_dim)?,
            proj_with_att: linear(pb, &format!("{name}.proj_with_att"), in_dim, out_dim)?,
            proj_without_att: linear(pb, &format!("{name}.proj_without_att"), in_dim, out_dim)?,
            bn: BatchNorm::new(pb, &format!("{name}.bn"), out_dim, true)?,
            temperature,
        })
    }

    /// `[batch, nodes, in] → [batch, nodes, out]`.
    fn forward(&self, x: &Tensor, mode: Mode, rng: &mut Rng) -> candle_core::Result<Tensor> {
        let x = Dropout::new(GAT_INPUT_DROP).forward(x, mode, rng)?;
        let map = linear_rows(&self.att_proj, &pairwise_products(&x)?)?.tanh()?;
        let logits = (attention_logits(&map, &self.att_weight)? / self.temperature)?;
        // [batch, nodes, nodes]; each node's weights over its neighbours sum to 1.
        let attention = candle_nn::ops::softmax(&logits, 2)?;
        let with_att = linear_rows(&self.proj_with_att, &attention.matmul(&x)?)?;
        let without_att = linear_rows(&self.proj_without_att, &x)?;
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
        pb: &mut ParamBuilder,
        name: &str,
        in_dim: usize,
        out_dim: usize,
        temperature: f64,
    ) -> candle_core::Result<Self> {
        // Creation order follows the reference constructor so a shared seed gives shared shapes.
        Ok(Self {
            proj_type1: linear(pb, &format!("{name}.proj_type1"), in_dim, in_dim)?,
            proj_type2: linear(pb, &format!("{name}.proj_type2"), in_dim, in_dim)?,
            att_proj: linear(pb, &format!("{name}.att_proj"), in_dim, out_dim)?,
            att_proj_master: linear(pb, &format!("{name}.att_projM"), in_dim, out_dim)?,
            att_weight11: attention_vector(pb, &format!("{name}.att_weight11"), out_dim)?,
            att_weight22: attention_vector(pb, &format!("{name}.att_weight22"), out_dim)?,
            att_weight12: attention_vector(pb, &format!("{name}.att_weight12"), out_dim)?,
            att_weight_master: attention_vector(pb, &format!("{name}.att_weightM"), out_dim)?,
            proj_with_att: linear(pb, &format!("{name}.proj_with_att"), in_dim, out_dim)?,
            proj_without_att: linear(pb, &format!("{name}.proj_without_att"), in_dim, out_dim)?,
            proj_with_att_master: linear(pb, &format!("{name}.proj_with_attM"), in_dim, out_dim)?,
            proj_without_att_master: linear(
                pb,
                &format!("{name}.proj_without_attM"),
                in_dim,
                out_dim,
            )?,
            bn: BatchNorm::new(pb, &format!("{name}.bn"), out_dim, true)?,
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
            &[
                linear_rows(&self.proj_type1, x1)?,
                linear_rows(&self.proj_type2, x2)?,
            ],
            1,
        )?;
        let x = Dropout::new(GAT_INPUT_DROP).forward(&x, mode, rng)?;

        // Node-to-node attention with one weight vector per block of the type × type board.
        let map = linear_rows(&self.att_proj, &pairwise_products(&x)?)?.tanh()?;
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
        let master_map = linear_rows(&self.att_proj_master, &x.broadcast_mul(master)?)?.tanh()?;
        let master_logits =
            (attention_logits(&master_map, &self.att_weight_master)? / self.temperature)?;
        let master_attention = candle_nn::ops::softmax(&master_logits, 1)?.unsqueeze(1)?; // [batch, 1, n]
        let new_master = linear_rows(&self.proj_with_att_master, &master_attention.matmul(&x)?)?
            .broadcast_add(&linear_rows(&self.proj_without_att_master, master)?)?;

        let with_att = linear_rows(&self.proj_with_att, &attention.matmul(&x)?)?;
        let without_att = linear_rows(&self.proj_without_att, &x)?;
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
        let z = Dropout::new(POOL_DROP).forward(h, mode, rng)?;
        let scores = candle_nn::ops::sigmoid(&linear_rows(&self.proj, &z)?)?; // [batch, nodes, 1]
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
        pb: &mut ParamBuilder,
        name: &str,
        (in_ch, out_ch): (usize, usize),
        first: bool,
    ) -> candle_core::Result<Self> {
        let bn1 = if first {
            None
        } else {
            Some(BatchNorm::new(pb, &format!("{name}.bn1"), in_ch, true)?)
        };
        let conv1 = conv(
            pb,
            &format!("{name}.conv1"),
            (in_ch, out_ch),
            (2, 3),
            (1, 1),
        )?;
        let bn2 = BatchNorm::new(pb, &format!("{name}.bn2"), out_ch, true)?;
        let conv2 = conv(
            pb,
            &format!("{name}.conv2"),
            (out_ch, out_ch),
            (2, 3),
            (0, 1),
        )?;
        let downsample = if in_ch != out_ch {
            Some(conv(
                pb,
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
            track_running_stats(bn1, x, mode)?;
        }
        let out = self.conv1.forward(x)?; // [batch, out, H + 1, W]
        let out = self.bn2.forward_selu(&out, mode)?;
        let out = self.conv2.forward(&out)?; // [batch, out, H, W]
        let identity = match &self.downsample {
            Some(conv) => conv.forward(x)?,
            None => x.clone(),
        };
        MaxPool2d::new((1, BLOCK_POOL)).forward(&(out + identity)?)
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
        let varmap = VarMap::new();
        let mut builder = ParamBuilder::new(&varmap, rng, device, dtype);
        let pb = &mut builder;
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

        let pos_s = normal_param(pb, "pos_S", &[1, spectral_nodes, last_ch], 1.0)?;
        let master1 = normal_param(pb, "master1", &[1, 1, gat0], 1.0)?;
        let master2 = normal_param(pb, "master2", &[1, 1, gat0], 1.0)?;
        let first_bn = BatchNorm::new(pb, "first_bn", 1, true)?;
        let mut encoder = Vec::with_capacity(NUM_BLOCKS);
        for i in 0..NUM_BLOCKS {
            let channels = config.block_channels[i.min(3)];
            encoder.push(ResidualBlock::new(
                pb,
                &format!("encoder.{i}.0"),
                channels,
                i == 0,
            )?);
        }
        let [t0, t1, t2, _] = config.temperatures;
        let gat_s = GraphAttention::new(pb, "GAT_layer_S", last_ch, gat0, t0)?;
        let gat_t = GraphAttention::new(pb, "GAT_layer_T", last_ch, gat0, t1)?;
        let hetero_st11 = HeteroGraphAttention::new(pb, "HtrgGAT_layer_ST11", gat0, gat1, t2)?;
        let hetero_st12 = HeteroGraphAttention::new(pb, "HtrgGAT_layer_ST12", gat1, gat1, t2)?;
        let hetero_st21 = HeteroGraphAttention::new(pb, "HtrgGAT_layer_ST21", gat0, gat1, t2)?;
        let hetero_st22 = HeteroGraphAttention::new(pb, "HtrgGAT_layer_ST22", gat1, gat1, t2)?;
        let [r0, r1, r2, _] = config.pool_ratios;
        let pool = |pb: &mut ParamBuilder,
                    name: &str,
                    dim: usize,
                    ratio: f64|
         -> candle_core::Result<GraphPool> {
            Ok(GraphPool {
                proj: linear(pb, &format!("{name}.proj"), dim, 1)?,
                ratio,
            })
        };
        let pool_s = pool(pb, "pool_S", gat0, r0)?;
        let pool_t = pool(pb, "pool_T", gat0, r1)?;
        let pool_hs1 = pool(pb, "pool_hS1", gat1, r2)?;
        let pool_ht1 = pool(pb, "pool_hT1", gat1, r2)?;
        let pool_hs2 = pool(pb, "pool_hS2", gat1, r2)?;
        let pool_ht2 = pool(pb, "pool_hT2", gat1, r2)?;
        let out_layer = linear(pb, "out_layer", 5 * gat1, 2)?;

        let trainable = builder.into_trainable();
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

    /// The front end and encoder: waveforms `[batch, samples]` → `[batch, C, spectral nodes,
    /// temporal nodes]`, before the graph back end ([`Aasist::classify`]). The encoder has no
    /// dropout, so the split leaves the back end's dropout masks as in [`Model::forward`].
    pub fn encode(&self, waveforms: &Tensor, mode: Mode) -> candle_core::Result<Tensor> {
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
        let x = MaxPool2d::new((FIRST_POOL, FIRST_POOL)).forward(&x)?; // [batch, 1, filters/3, W/3]
        let mut e = self.first_bn.forward_selu(&x, mode)?;
        for block in &self.encoder {
            e = block.forward(&e, mode)?;
        }
        e.abs() // [batch, C, spectral nodes, temporal nodes]
    }

    /// The graph back end: an [`Aasist::encode`] output → logits `[batch, 2]`.
    pub fn classify(&self, e: &Tensor, mode: Mode, rng: &mut Rng) -> candle_core::Result<Tensor> {
        let e_s = e
            .max(3)?
            .transpose(1, 2)?
            .broadcast_add(&param(&self.pos_s))?;
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
            let (t1, s1, m1) = first.forward(&out_t, &out_s, &param(master), mode, rng)?;
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
        let mut way = |x: &Tensor| Dropout::new(WAY_DROP).forward(x, mode, rng);
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
        let hidden = Dropout::new(READOUT_DROP).forward(&hidden, mode, rng)?;
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
        self.classify(&self.encode(waveforms, mode)?, mode, rng)
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
}
