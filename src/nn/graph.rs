//! The AASIST graph back end, shared by [`crate::nn::aasist`] (raw-waveform AASIST/AASIST-L) and
//! [`crate::nn::ssl_aasist`] (XLSR-AASIST): the residual encoder block, the homogeneous and
//! heterogeneous graph-attention layers, graph pooling, and the two-branch readout, reproduced
//! from clovaai/aasist `models/AASIST.py` (the SSL variant of SSL_Anti-spoofing / dpda_ga
//! `nets/aasist.py` uses the same classes).
//!
//! A model builds its front end and encoder from [`ResidualBlock`]s, reduces the encoder output
//! to spectral and temporal node features, and hands both to [`GraphBackEnd::forward`]. The two
//! models differ only where [`GraphConfig`] and [`ResidualBlock::new`] say: how the node
//! embeddings and attention vectors are drawn ([`VectorInit`]) and whether a residual block
//! max-pools its output. Every variable is named `scope.reference_key` (the reference state-dict
//! keys, `GAT_layer_S.att_proj.weight`, `pool_hS1.proj.bias`, …; an empty scope gives the bare
//! keys both models use), so released checkpoints load by name through [`crate::nn::import`].
//!
//! Reference behaviours reproduced on purpose (they are what the released weights were trained
//! with):
//! - the residual block computes `bn1` but feeds the *un-normalised* input to `conv1`, so `bn1`
//!   only collects running statistics (its affine parameters never receive a gradient);
//! - the heterogeneous layer uses `att_weight12` for both cross-type blocks;
//! - the first heterogeneous layer of each branch gets the un-expanded master parameter;
//! - all four graph-pooling layers after the heterogeneous layers use `pool_ratios[2]`
//!   (`pool_ratios[3]` is unused), and top-k keeps nodes in descending score order, which matters
//!   because the two branches are merged node by node with an element-wise max.

use candle_core::{Result, Tensor, Var};

use super::layers::{join, selu, BatchNorm, Conv2d, Dropout, Linear, MaxPool2d, ParamBuilder};
use super::{param, Mode};
use crate::rng::Rng;

/// Dropout on the input of every graph-attention layer (the reference's `input_drop`).
const GAT_INPUT_DROP: f64 = 0.2;
/// Dropout on the input of every graph-pooling score (`GraphPool.drop`).
const POOL_DROP: f64 = 0.3;
/// Dropout on each branch output before the two branches merge (`drop_way`).
const WAY_DROP: f64 = 0.2;
/// Dropout before the output layer (`drop`).
const READOUT_DROP: f64 = 0.5;

/// How the node embeddings (`pos_S`, `master1`, `master2`) and attention vectors are drawn.
/// Both have the standard deviation of the reference's initialisers; they differ in the
/// distribution, and so in the weights a seed gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorInit {
    /// N(0, std²), as the reference (`torch.randn`, `xavier_normal_`): AASIST.
    Normal,
    /// U(−√3·std, √3·std), the same standard deviation through the builder's uniform draw:
    /// XLSR-AASIST.
    Uniform,
}

impl VectorInit {
    fn draw(self, pb: &mut ParamBuilder, name: &str, dims: &[usize], std: f64) -> Result<Var> {
        match self {
            VectorInit::Normal => {
                // The shared builder has uniform and constant initialisers only: create the
                // variable, then fill it from the builder's generator (same draw order).
                let var = pb.constant(name, dims, 0.0)?;
                let count: usize = dims.iter().product();
                let values: Vec<f64> = (0..count).map(|_| std * pb.rng().normal()).collect();
                let (dtype, device) = (pb.dtype(), pb.device().clone());
                var.set(&Tensor::from_vec(values, dims, &device)?.to_dtype(dtype)?)?;
                Ok(var)
            }
            VectorInit::Uniform => pb.uniform(name, dims, std * 3f64.sqrt()),
        }
    }

    /// A `(dim, 1)` attention vector with xavier-normal's std (`fan_in` 1, `fan_out` dim).
    fn attention_vector(self, pb: &mut ParamBuilder, name: &str, dim: usize) -> Result<Var> {
        self.draw(pb, name, &[dim, 1], (2.0 / (dim as f64 + 1.0)).sqrt())
    }
}

/// Sizes of a graph back end (the graph part of the reference `model_config`).
#[derive(Clone, Debug, PartialEq)]
pub struct GraphConfig {
    /// Channels of the encoder output (each node's feature width).
    pub channels: usize,
    /// Spectral nodes (rows of `pos_S`).
    pub spectral_nodes: usize,
    /// Output widths of the homogeneous and heterogeneous graph layers (`gat_dims`).
    pub gat_dims: [usize; 2],
    /// Graph-pooling keep ratios (`pool_ratios`).
    pub pool_ratios: [f64; 4],
    /// Attention temperatures (`temperatures`).
    pub temperatures: [f64; 4],
    /// How embeddings and attention vectors are drawn.
    pub init: VectorInit,
}

/// A `torch.nn.Linear` with bias, PyTorch-default init, under `name`.
fn linear(pb: &mut ParamBuilder, name: &str, in_dim: usize, out_dim: usize) -> Result<Linear> {
    Linear::new(pb, name, in_dim, out_dim, true)
}

/// A stride-1 `torch.nn.Conv2d` with bias and per-axis zero padding, under `name`.
fn conv(
    pb: &mut ParamBuilder,
    name: &str,
    (in_ch, out_ch): (usize, usize),
    kernel: (usize, usize),
    padding: (usize, usize),
) -> Result<Conv2d> {
    Conv2d::new(pb, name, in_ch, out_ch, kernel, 1, padding, true)
}

/// The shared [`Linear`] applied to `[..., in]` with the leading axes folded into one: a single
/// `[rows, in] · [in, out]` product instead of one small product per leading index (the pairwise
/// attention maps are `[batch, nodes, nodes, in]`).
fn linear_rows(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let dims = x.dims();
    let (lead, in_dim) = dims.split_at(dims.len() - 1);
    let rows: usize = lead.iter().product();
    let y = layer.forward(&x.reshape((rows, in_dim[0]))?)?; // [rows, out]
    let mut out_dims = lead.to_vec();
    out_dims.push(y.dim(1)?);
    y.reshape(out_dims)
}

/// `[batch, nodes, dim] → [batch, nodes, nodes, dim]`, entry (i, j) = x_i ⊙ x_j.
fn pairwise_products(x: &Tensor) -> Result<Tensor> {
    x.unsqueeze(2)?.broadcast_mul(&x.unsqueeze(1)?)
}

/// `[..., dim] · [dim, 1] → [...]`: attention logits from a projected map.
fn attention_logits(map: &Tensor, weight: &Var) -> Result<Tensor> {
    let dims = map.dims();
    let (lead, last) = dims.split_at(dims.len() - 1);
    let rows: usize = lead.iter().product();
    map.reshape((rows, last[0]))?
        .matmul(&param(weight))?
        .reshape(lead)
}

/// BatchNorm1d over the last axis of `[batch, nodes, dim]` (the reference flattens nodes into
/// the batch).
fn node_batch_norm(bn: &BatchNorm, x: &Tensor, mode: Mode) -> Result<Tensor> {
    let (b, n, d) = x.dims3()?;
    bn.forward(&x.reshape((b * n, d))?, mode)?
        .reshape((b, n, d))
}

/// The reference `Residual_block` (with its unused `bn1`, see the module docs).
#[derive(Clone, Debug)]
pub struct ResidualBlock {
    bn1: Option<BatchNorm>,
    conv1: Conv2d,
    bn2: BatchNorm,
    conv2: Conv2d,
    downsample: Option<Conv2d>,
    pool: Option<MaxPool2d>,
}

impl ResidualBlock {
    /// Block `scope` (e.g. `encoder.0.0`) from `in_ch` to `out_ch` channels; the first block of
    /// an encoder has no `bn1`. `pool` is the max-pool window after the residual sum (AASIST's
    /// `(1, 3)`; XLSR-AASIST's blocks do not pool).
    pub fn new(
        pb: &mut ParamBuilder,
        scope: &str,
        channels: (usize, usize),
        first: bool,
        pool: Option<(usize, usize)>,
    ) -> Result<Self> {
        let (in_ch, out_ch) = channels;
        let n = |s: &str| join(scope, s);
        let bn1 = if first {
            None
        } else {
            Some(BatchNorm::new(pb, &n("bn1"), in_ch, true)?)
        };
        let conv1 = conv(pb, &n("conv1"), (in_ch, out_ch), (2, 3), (1, 1))?;
        let bn2 = BatchNorm::new(pb, &n("bn2"), out_ch, true)?;
        let conv2 = conv(pb, &n("conv2"), (out_ch, out_ch), (2, 3), (0, 1))?;
        let downsample = if in_ch != out_ch {
            Some(conv(
                pb,
                &n("conv_downsample"),
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
            pool: pool.map(MaxPool2d::new),
        })
    }

    /// `[batch, in, H, W] → [batch, out, H, W]`, then the pool if any.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        if let (Some(bn1), Mode::Train) = (&self.bn1, mode) {
            // Only for its running statistics: the reference discards this output (a detached
            // input, so no graph is built).
            bn1.forward(&x.detach(), mode)?;
        }
        let out = self.conv1.forward(x)?; // [batch, out, H + 1, W]
        let out = self.bn2.forward_selu(&out, mode)?;
        let out = self.conv2.forward(&out)?; // [batch, out, H, W]
        let identity = match &self.downsample {
            Some(conv) => conv.forward(x)?,
            None => x.clone(),
        };
        let sum = (out + identity)?;
        match &self.pool {
            Some(pool) => pool.forward(&sum),
            None => Ok(sum),
        }
    }
}

/// The reference `GraphAttentionLayer` (homogeneous graph).
#[derive(Clone, Debug)]
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
        scope: &str,
        (in_dim, out_dim): (usize, usize),
        temperature: f64,
        init: VectorInit,
    ) -> Result<Self> {
        let n = |s: &str| join(scope, s);
        Ok(Self {
            att_proj: linear(pb, &n("att_proj"), in_dim, out_dim)?,
            att_weight: init.attention_vector(pb, &n("att_weight"), out_dim)?,
            proj_with_att: linear(pb, &n("proj_with_att"), in_dim, out_dim)?,
            proj_without_att: linear(pb, &n("proj_without_att"), in_dim, out_dim)?,
            bn: BatchNorm::new(pb, &n("bn"), out_dim, true)?,
            temperature,
        })
    }

    /// `[batch, nodes, in] → [batch, nodes, out]`.
    fn forward(&self, x: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let x = Dropout::new(GAT_INPUT_DROP).forward(x, mode, rng)?;
        let map = linear_rows(&self.att_proj, &pairwise_products(&x)?)?.tanh()?;
        let logits = (attention_logits(&map, &self.att_weight)? / self.temperature)?;
        // [batch, nodes, nodes]; each node's weights over its neighbours j sum to 1 (dim −2 of
        // the reference's [B, N, N, 1] map).
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
#[derive(Clone, Debug)]
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
        scope: &str,
        (in_dim, out_dim): (usize, usize),
        temperature: f64,
        init: VectorInit,
    ) -> Result<Self> {
        let n = |s: &str| join(scope, s);
        // Creation order follows the reference constructor (it fixes what a seed draws).
        Ok(Self {
            proj_type1: linear(pb, &n("proj_type1"), in_dim, in_dim)?,
            proj_type2: linear(pb, &n("proj_type2"), in_dim, in_dim)?,
            att_proj: linear(pb, &n("att_proj"), in_dim, out_dim)?,
            att_proj_master: linear(pb, &n("att_projM"), in_dim, out_dim)?,
            att_weight11: init.attention_vector(pb, &n("att_weight11"), out_dim)?,
            att_weight22: init.attention_vector(pb, &n("att_weight22"), out_dim)?,
            att_weight12: init.attention_vector(pb, &n("att_weight12"), out_dim)?,
            att_weight_master: init.attention_vector(pb, &n("att_weightM"), out_dim)?,
            proj_with_att: linear(pb, &n("proj_with_att"), in_dim, out_dim)?,
            proj_without_att: linear(pb, &n("proj_without_att"), in_dim, out_dim)?,
            proj_with_att_master: linear(pb, &n("proj_with_attM"), in_dim, out_dim)?,
            proj_without_att_master: linear(pb, &n("proj_without_attM"), in_dim, out_dim)?,
            bn: BatchNorm::new(pb, &n("bn"), out_dim, true)?,
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
    ) -> Result<(Tensor, Tensor, Tensor)> {
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
        let block_mask = |select: &dyn Fn(bool, bool) -> bool| -> Result<Tensor> {
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
        // [batch, 1, n]
        let master_attention = candle_nn::ops::softmax(&master_logits, 1)?.unsqueeze(1)?;
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
/// descending score order (as `torch.topk`), each scaled by its score.
#[derive(Clone, Debug)]
struct GraphPool {
    proj: Linear,
    ratio: f64,
}

impl GraphPool {
    fn new(pb: &mut ParamBuilder, scope: &str, dim: usize, ratio: f64) -> Result<Self> {
        Ok(Self {
            proj: linear(pb, &join(scope, "proj"), dim, 1)?,
            ratio,
        })
    }

    /// `[batch, nodes, dim] → [batch, max(⌊nodes·ratio⌋, 1), dim]`.
    fn forward(&self, h: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let (batch, nodes, dim) = h.dims3()?;
        let z = Dropout::new(POOL_DROP).forward(h, mode, rng)?;
        let scores = candle_nn::ops::sigmoid(&linear_rows(&self.proj, &z)?)?; // [batch, nodes, 1]
        let keep = ((nodes as f64 * self.ratio) as usize).max(1);
        let order = scores
            .squeeze(2)?
            .detach()
            .contiguous()?
            .arg_sort_last_dim(false)?;
        let index = order
            .narrow(1, 0, keep)?
            .unsqueeze(2)?
            .broadcast_as((batch, keep, dim))?
            .contiguous()?;
        h.broadcast_mul(&scores)?.gather(&index, 1)
    }
}

/// The node embeddings of the back end: the spectral positional embedding `pos_S` and the two
/// branches' master nodes. Built apart from [`GraphBackEnd`] because the two models create them
/// at different points of their constructors, and the creation order fixes what a seed draws.
#[derive(Clone, Debug)]
pub struct GraphEmbeddings {
    pos_s: Var,
    master1: Var,
    master2: Var,
}

impl GraphEmbeddings {
    /// `scope.pos_S` `[1, spectral nodes, channels]`, `scope.master1`/`master2`
    /// `[1, 1, gat_dims[0]]`, all with std 1.
    pub fn new(pb: &mut ParamBuilder, scope: &str, config: &GraphConfig) -> Result<Self> {
        let n = |s: &str| join(scope, s);
        let init = config.init;
        let gat0 = config.gat_dims[0];
        Ok(Self {
            pos_s: init.draw(
                pb,
                &n("pos_S"),
                &[1, config.spectral_nodes, config.channels],
                1.0,
            )?,
            master1: init.draw(pb, &n("master1"), &[1, 1, gat0], 1.0)?,
            master2: init.draw(pb, &n("master2"), &[1, 1, gat0], 1.0)?,
        })
    }
}

/// The graph back end: spectral and temporal node features → logits `[batch, 2]`.
#[derive(Clone, Debug)]
pub struct GraphBackEnd {
    embeddings: GraphEmbeddings,
    gat_s: GraphAttention,
    gat_t: GraphAttention,
    /// `HtrgGAT_layer_ST11`, `ST12`, `ST21`, `ST22`.
    hetero: [HeteroGraphAttention; 4],
    /// `pool_S`, `pool_T`, `pool_hS1`, `pool_hT1`, `pool_hS2`, `pool_hT2`.
    pools: [GraphPool; 6],
    out_layer: Linear,
}

impl GraphBackEnd {
    /// The layers under `scope` (reference names), around `embeddings` made by
    /// [`GraphEmbeddings::new`] with the same config.
    pub fn new(
        pb: &mut ParamBuilder,
        scope: &str,
        config: &GraphConfig,
        embeddings: GraphEmbeddings,
    ) -> Result<Self> {
        let n = |s: &str| join(scope, s);
        let c = config.channels;
        let [g0, g1] = config.gat_dims;
        let [t0, t1, t2, _] = config.temperatures;
        let [r0, r1, r2, _] = config.pool_ratios;
        let init = config.init;
        let gat_s = GraphAttention::new(pb, &n("GAT_layer_S"), (c, g0), t0, init)?;
        let gat_t = GraphAttention::new(pb, &n("GAT_layer_T"), (c, g0), t1, init)?;
        let hetero = [
            HeteroGraphAttention::new(pb, &n("HtrgGAT_layer_ST11"), (g0, g1), t2, init)?,
            HeteroGraphAttention::new(pb, &n("HtrgGAT_layer_ST12"), (g1, g1), t2, init)?,
            HeteroGraphAttention::new(pb, &n("HtrgGAT_layer_ST21"), (g0, g1), t2, init)?,
            HeteroGraphAttention::new(pb, &n("HtrgGAT_layer_ST22"), (g1, g1), t2, init)?,
        ];
        let pools = [
            GraphPool::new(pb, &n("pool_S"), g0, r0)?,
            GraphPool::new(pb, &n("pool_T"), g0, r1)?,
            GraphPool::new(pb, &n("pool_hS1"), g1, r2)?,
            GraphPool::new(pb, &n("pool_hT1"), g1, r2)?,
            GraphPool::new(pb, &n("pool_hS2"), g1, r2)?,
            GraphPool::new(pb, &n("pool_hT2"), g1, r2)?,
        ];
        let out_layer = linear(pb, &n("out_layer"), 5 * g1, 2)?;
        Ok(Self {
            embeddings,
            gat_s,
            gat_t,
            hetero,
            pools,
            out_layer,
        })
    }

    /// Spectral nodes `e_s [batch, S, C]` (before the positional embedding) and temporal nodes
    /// `e_t [batch, T, C]` → logits `[batch, 2]`.
    pub fn forward(&self, e_s: &Tensor, e_t: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let e_s = e_s.broadcast_add(&param(&self.embeddings.pos_s))?;
        let out_s = self.pools[0].forward(&self.gat_s.forward(&e_s, mode, rng)?, mode, rng)?;
        let out_t = self.pools[1].forward(&self.gat_t.forward(e_t, mode, rng)?, mode, rng)?;

        // Two branches, each: heterogeneous layer → pool both node types → heterogeneous layer,
        // with a residual sum around the second layer.
        let mut branches = Vec::with_capacity(2);
        for (k, master) in [
            (0usize, &self.embeddings.master1),
            (2, &self.embeddings.master2),
        ] {
            let (t1, s1, m1) = self.hetero[k].forward(&out_t, &out_s, &param(master), mode, rng)?;
            let s1 = self.pools[2 + k].forward(&s1, mode, rng)?;
            let t1 = self.pools[3 + k].forward(&t1, mode, rng)?;
            let (t_aug, s_aug, m_aug) = self.hetero[k + 1].forward(&t1, &s1, &m1, mode, rng)?;
            branches.push(((t1 + t_aug)?, (s1 + s_aug)?, (m1 + m_aug)?));
        }
        let mut way = |x: &Tensor| Dropout::new(WAY_DROP).forward(x, mode, rng);
        let (t1, s1, m1) = &branches[0];
        let (t2, s2, m2) = &branches[1];
        let (t1, t2, s1, s2, m1, m2) = (way(t1)?, way(t2)?, way(s1)?, way(s2)?, way(m1)?, way(m2)?);
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
