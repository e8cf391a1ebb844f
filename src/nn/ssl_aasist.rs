//! XLSR-AASIST (Tak et al., Odyssey 2022): an XLS-R front end followed by the AASIST graph
//! back end adapted to SSL features, as in SSL_Anti-spoofing's `model.py` and dpda_ga's
//! `nets/aasist.py` — the XLSR-AASIST of the paper.
//!
//! The registry builds it as `xlsr-aasist` (XLS-R 300M) and `xlsr-tiny-aasist` (a tiny random
//! front end and back end for tests and quick runs). Variable names equal the keys of dpda_ga's
//! released `best.pth` (`ssl_model.model.*` in fairseq's layout, `LL.weight`,
//! `encoder.0.0.conv1.weight`, `HtrgGAT_layer_ST11.att_weight12`, …), so those files load as they
//! are through [`crate::nn::import`].
//!
//! Differences from the raw-waveform AASIST of [`crate::nn::aasist`], all from the reference: the
//! front end is `LL` (a linear map of the SSL features) → 3×3 max-pool → BatchNorm → SELU; the
//! residual blocks do not pool; `first_bn1` + SELU follow the encoder; the attention map uses a
//! BatchNorm between its two 1×1 convolutions. Kept as in the reference (the released weights were
//! trained with it): each residual block computes `bn1` but feeds the un-normalised input to
//! `conv1`, so `bn1` only collects running statistics; the heterogeneous layer uses
//! `att_weight12` for both cross-type blocks; the first heterogeneous layer of each branch gets
//! the un-expanded master node; the four pools after the heterogeneous layers use
//! `pool_ratios[2]`.

use candle_core::{DType, Device, Result, Tensor, Var, D};
use candle_nn::VarMap;

use super::layers::{join, selu, BatchNorm, Conv2d, Dropout, Linear, MaxPool2d, ParamBuilder};
use super::wav2vec2::{Wav2Vec2, Wav2Vec2Config};
use super::{param, Mode, Model, NamedVar, NnError};
use crate::rng::Rng;

/// Prefix of the front end's variables (dpda_ga's `ssl_model.model`).
pub const FRONT_END_PREFIX: &str = "ssl_model.model";

/// Sizes of an XLSR-AASIST model.
#[derive(Clone, Debug, PartialEq)]
pub struct SslAasistConfig {
    /// Registry name.
    pub name: String,
    /// The wav2vec 2.0 front end.
    pub front_end: Wav2Vec2Config,
    /// Output width of `LL` (128 in the reference; the spectral axis becomes `ll_dim / 3` nodes).
    pub ll_dim: usize,
    /// (in, out) channels of the residual blocks; the last pair repeats for blocks 5 and 6.
    pub block_channels: [(usize, usize); 4],
    /// Output widths of the homogeneous and heterogeneous graph layers.
    pub gat_dims: [usize; 2],
    /// Graph-pooling keep ratios.
    pub pool_ratios: [f64; 4],
    /// Attention temperatures.
    pub temperatures: [f64; 4],
    /// Train only the back end: the front end's variables leave the trainable list and its
    /// output is detached.
    pub freeze_front_end: bool,
}

impl SslAasistConfig {
    /// The paper's XLSR-AASIST: XLS-R 300M and the back end of dpda_ga `nets/aasist.py`.
    pub fn xlsr_aasist() -> Self {
        Self {
            name: "xlsr-aasist".into(),
            front_end: Wav2Vec2Config::xls_r_300m(),
            ll_dim: 128,
            block_channels: [(1, 32), (32, 32), (32, 64), (64, 64)],
            gat_dims: [64, 32],
            pool_ratios: [0.5; 4],
            temperatures: [2.0, 2.0, 100.0, 100.0],
            freeze_front_end: false,
        }
    }

    /// A tiny random model with the same structure (`scripts/xlsr_reference.py`'s sizes).
    pub fn tiny() -> Self {
        Self {
            name: "xlsr-tiny-aasist".into(),
            front_end: Wav2Vec2Config::tiny(),
            ll_dim: 24,
            block_channels: [(1, 4), (4, 4), (4, 8), (8, 8)],
            gat_dims: [8, 4],
            pool_ratios: [0.5; 4],
            temperatures: [2.0, 2.0, 100.0, 100.0],
            freeze_front_end: false,
        }
    }

    fn validate(&self) -> std::result::Result<(), NnError> {
        self.front_end.validate()?;
        if self.ll_dim < 3 {
            return Err(NnError::InvalidOption {
                field: "ll_dim",
                message: format!("{} leaves no spectral node after the 3×3 pool", self.ll_dim),
            });
        }
        if self.block_channels[0].0 != 1 {
            return Err(NnError::InvalidOption {
                field: "block_channels",
                message: "the first residual block reads one channel".into(),
            });
        }
        Ok(())
    }
}

fn draw(pb: &mut ParamBuilder, name: &str, shape: &[usize], std: f64) -> Result<Var> {
    // A uniform draw with the standard deviation of the reference's normal initialisation.
    pb.uniform(name, shape, std * 3f64.sqrt())
}

/// `[B, N, D]` → `[B, N, N, D]`: products of every pair of nodes.
fn pairwise(x: &Tensor) -> Result<Tensor> {
    let (b, n, d) = x.dims3()?;
    let shape = (b, n, n, d);
    x.unsqueeze(2)?
        .broadcast_as(shape)?
        .mul(&x.unsqueeze(1)?.broadcast_as(shape)?)
}

/// BatchNorm of every node's features: `[B, N, D]` viewed as `[B·N, D]`.
fn node_bn(bn: &BatchNorm, x: &Tensor, mode: Mode) -> Result<Tensor> {
    let (b, n, d) = x.dims3()?;
    bn.forward(&x.reshape((b * n, d))?, mode)?
        .reshape((b, n, d))
}

/// `[B, N, N, O]` · `[O, 1]` → `[B, N, N]` attention logits.
fn logits(map: &Tensor, weight: &Var) -> Result<Tensor> {
    // Narrowed blocks of the map are not batch-contiguous, which matmul needs.
    map.contiguous()?
        .broadcast_matmul(&param(weight))?
        .squeeze(3)
}

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
    fn new(pb: &mut ParamBuilder, name: &str, i: usize, o: usize, t: f64) -> Result<Self> {
        Ok(Self {
            att_proj: Linear::new(pb, &join(name, "att_proj"), i, o, true)?,
            att_weight: draw(
                pb,
                &join(name, "att_weight"),
                &[o, 1],
                (2.0 / (o + 1) as f64).sqrt(),
            )?,
            proj_with_att: Linear::new(pb, &join(name, "proj_with_att"), i, o, true)?,
            proj_without_att: Linear::new(pb, &join(name, "proj_without_att"), i, o, true)?,
            bn: BatchNorm::new(pb, &join(name, "bn"), o, true)?,
            temperature: t,
        })
    }

    /// `[B, N, I]` → `[B, N, O]`.
    fn forward(&self, x: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let x = Dropout::new(0.2).forward(x, mode, rng)?;
        let map = self.att_proj.forward(&pairwise(&x)?)?.tanh()?;
        let att = (logits(&map, &self.att_weight)? / self.temperature)?;
        // dim −2 of the reference's [B, N, N, 1] map: normalised over the neighbours j.
        let att = candle_nn::ops::softmax(&att, D::Minus1)?;
        let y =
            (self.proj_with_att.forward(&att.matmul(&x)?)? + self.proj_without_att.forward(&x)?)?;
        selu(&node_bn(&self.bn, &y, mode)?)
    }
}

#[derive(Clone, Debug)]
struct HeteroGraphAttention {
    proj_type1: Linear,
    proj_type2: Linear,
    att_proj: Linear,
    att_proj_m: Linear,
    att_weight11: Var,
    att_weight22: Var,
    att_weight12: Var,
    att_weight_m: Var,
    proj_with_att: Linear,
    proj_without_att: Linear,
    proj_with_att_m: Linear,
    proj_without_att_m: Linear,
    bn: BatchNorm,
    temperature: f64,
}

impl HeteroGraphAttention {
    fn new(pb: &mut ParamBuilder, name: &str, i: usize, o: usize, t: f64) -> Result<Self> {
        let std = (2.0 / (o + 1) as f64).sqrt();
        let n = |s: &str| join(name, s);
        Ok(Self {
            proj_type1: Linear::new(pb, &n("proj_type1"), i, i, true)?,
            proj_type2: Linear::new(pb, &n("proj_type2"), i, i, true)?,
            att_proj: Linear::new(pb, &n("att_proj"), i, o, true)?,
            att_proj_m: Linear::new(pb, &n("att_projM"), i, o, true)?,
            att_weight11: draw(pb, &n("att_weight11"), &[o, 1], std)?,
            att_weight22: draw(pb, &n("att_weight22"), &[o, 1], std)?,
            att_weight12: draw(pb, &n("att_weight12"), &[o, 1], std)?,
            att_weight_m: draw(pb, &n("att_weightM"), &[o, 1], std)?,
            proj_with_att: Linear::new(pb, &n("proj_with_att"), i, o, true)?,
            proj_without_att: Linear::new(pb, &n("proj_without_att"), i, o, true)?,
            proj_with_att_m: Linear::new(pb, &n("proj_with_attM"), i, o, true)?,
            proj_without_att_m: Linear::new(pb, &n("proj_without_attM"), i, o, true)?,
            bn: BatchNorm::new(pb, &n("bn"), o, true)?,
            temperature: t,
        })
    }

    /// `x1 [B, N1, I]`, `x2 [B, N2, I]`, `master [B or 1, 1, I]` → the same with width O.
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
            &[self.proj_type1.forward(x1)?, self.proj_type2.forward(x2)?],
            1,
        )?;
        let x = Dropout::new(0.2).forward(&x, mode, rng)?; // [B, N, I]

        // Master node: attention of the master over every node.
        let map_m = self.att_proj_m.forward(&x.broadcast_mul(master)?)?.tanh()?;
        let att_m = (map_m.broadcast_matmul(&param(&self.att_weight_m))? / self.temperature)?;
        let att_m = candle_nn::ops::softmax(&att_m, 1)?; // [B, N, 1]
        let pooled = att_m.transpose(1, 2)?.contiguous()?.matmul(&x)?; // [B, 1, I]
        let master = self
            .proj_with_att_m
            .forward(&pooled)?
            .broadcast_add(&self.proj_without_att_m.forward(master)?)?;

        // Node attention with one weight vector per pair of node types.
        let map = self.att_proj.forward(&pairwise(&x)?)?.tanh()?; // [B, N, N, O]
        let block = |r: usize, rn: usize, c: usize, cn: usize, w: &Var| {
            logits(&map.narrow(1, r, rn)?.narrow(2, c, cn)?, w)
        };
        let top = Tensor::cat(
            &[
                block(0, n1, 0, n1, &self.att_weight11)?,
                block(0, n1, n1, n2, &self.att_weight12)?,
            ],
            2,
        )?;
        let bottom = Tensor::cat(
            &[
                block(n1, n2, 0, n1, &self.att_weight12)?,
                block(n1, n2, n1, n2, &self.att_weight22)?,
            ],
            2,
        )?;
        let att = (Tensor::cat(&[top, bottom], 1)? / self.temperature)?;
        let att = candle_nn::ops::softmax(&att, D::Minus1)?; // [B, N, N], over j
        let y =
            (self.proj_with_att.forward(&att.matmul(&x)?)? + self.proj_without_att.forward(&x)?)?;
        let y = selu(&node_bn(&self.bn, &y, mode)?)?;
        Ok((y.narrow(1, 0, n1)?, y.narrow(1, n1, n2)?, master))
    }
}

#[derive(Clone, Debug)]
struct GraphPool {
    proj: Linear,
    ratio: f64,
}

impl GraphPool {
    fn new(pb: &mut ParamBuilder, name: &str, dim: usize, ratio: f64) -> Result<Self> {
        Ok(Self {
            proj: Linear::new(pb, &join(name, "proj"), dim, 1, true)?,
            ratio,
        })
    }

    /// `[B, N, D]` → `[B, max(⌊N·ratio⌋, 1), D]`: the top-scoring nodes, scaled by their score,
    /// in descending score order (as `torch.topk`).
    fn forward(&self, h: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let (b, n, d) = h.dims3()?;
        let z = Dropout::new(0.3).forward(h, mode, rng)?;
        let scores = candle_nn::ops::sigmoid(&self.proj.forward(&z)?)?; // [B, N, 1]
        let keep = ((n as f64 * self.ratio) as usize).max(1);
        let order = scores.squeeze(2)?.detach().arg_sort_last_dim(false)?; // [B, N]
        let index = order
            .narrow(1, 0, keep)?
            .unsqueeze(2)?
            .broadcast_as((b, keep, d))?
            .contiguous()?;
        h.broadcast_mul(&scores)?.gather(&index, 1)
    }
}

#[derive(Clone, Debug)]
struct ResidualBlock {
    bn1: Option<BatchNorm>,
    conv1: Conv2d,
    bn2: BatchNorm,
    conv2: Conv2d,
    conv_downsample: Option<Conv2d>,
}

impl ResidualBlock {
    fn new(
        pb: &mut ParamBuilder,
        name: &str,
        cin: usize,
        cout: usize,
        first: bool,
    ) -> Result<Self> {
        let n = |s: &str| join(name, s);
        let bn1 = if first {
            None
        } else {
            Some(BatchNorm::new(pb, &n("bn1"), cin, true)?)
        };
        Ok(Self {
            bn1,
            conv1: Conv2d::new(pb, &n("conv1"), cin, cout, (2, 3), 1, (1, 1), true)?,
            bn2: BatchNorm::new(pb, &n("bn2"), cout, true)?,
            conv2: Conv2d::new(pb, &n("conv2"), cout, cout, (2, 3), 1, (0, 1), true)?,
            conv_downsample: if cin != cout {
                Some(Conv2d::new(
                    pb,
                    &n("conv_downsample"),
                    cin,
                    cout,
                    (1, 3),
                    1,
                    (0, 1),
                    true,
                )?)
            } else {
                None
            },
        })
    }

    /// `[B, Cin, H, W]` → `[B, Cout, H, W]`.
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        if let Some(bn1) = &self.bn1 {
            // Only for its running statistics: the reference discards this output.
            bn1.forward(&x.detach(), mode)?;
        }
        let out = self
            .conv2
            .forward(&self.bn2.forward_selu(&self.conv1.forward(x)?, mode)?)?;
        let identity = match &self.conv_downsample {
            Some(c) => c.forward(x)?,
            None => x.clone(),
        };
        out + identity
    }
}

/// XLSR-AASIST: waveforms `[B, L]` → logits `[B, 2]` (column 1 bona fide).
pub struct SslAasist {
    config: SslAasistConfig,
    front_end: Wav2Vec2,
    ll: Linear,
    first_bn: BatchNorm,
    first_bn1: BatchNorm,
    encoder: Vec<ResidualBlock>,
    attention: (Conv2d, BatchNorm, Conv2d),
    pos_s: Var,
    master1: Var,
    master2: Var,
    gat_s: GraphAttention,
    gat_t: GraphAttention,
    htrg: [HeteroGraphAttention; 4],
    pools: [GraphPool; 6],
    out_layer: Linear,
    trainable: Vec<NamedVar>,
    varmap: VarMap,
}

impl SslAasist {
    /// A freshly initialised model of `config`, variables of `dtype` on `device`.
    pub fn new(
        config: SslAasistConfig,
        dtype: DType,
        device: &Device,
        rng: &mut Rng,
    ) -> std::result::Result<Self, NnError> {
        config.validate()?;
        let varmap = VarMap::new();
        let mut pb = ParamBuilder::new(&varmap, rng, device, dtype);
        let front_end = Wav2Vec2::new(&mut pb, FRONT_END_PREFIX, config.front_end.clone())?;
        let c = config.block_channels[3].1;
        let [g0, g1] = config.gat_dims;
        let t = config.temperatures;
        let pr = config.pool_ratios;
        let ll = Linear::new(
            &mut pb,
            "LL",
            config.front_end.hidden_size,
            config.ll_dim,
            true,
        )?;
        let first_bn = BatchNorm::new(&mut pb, "first_bn", 1, true)?;
        let first_bn1 = BatchNorm::new(&mut pb, "first_bn1", c, true)?;
        let bc = config.block_channels;
        let blocks = [bc[0], bc[1], bc[2], bc[3], bc[3], bc[3]];
        let encoder = blocks
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| {
                ResidualBlock::new(&mut pb, &format!("encoder.{i}.0"), a, b, i == 0)
            })
            .collect::<Result<Vec<_>>>()?;
        let attention = (
            Conv2d::new(&mut pb, "attention.0", c, 2 * c, (1, 1), 1, (0, 0), true)?,
            BatchNorm::new(&mut pb, "attention.2", 2 * c, true)?,
            Conv2d::new(&mut pb, "attention.3", 2 * c, c, (1, 1), 1, (0, 0), true)?,
        );
        let pos_s = draw(&mut pb, "pos_S", &[1, config.ll_dim / 3, c], 1.0)?;
        let master1 = draw(&mut pb, "master1", &[1, 1, g0], 1.0)?;
        let master2 = draw(&mut pb, "master2", &[1, 1, g0], 1.0)?;
        let gat_s = GraphAttention::new(&mut pb, "GAT_layer_S", c, g0, t[0])?;
        let gat_t = GraphAttention::new(&mut pb, "GAT_layer_T", c, g0, t[1])?;
        let htrg = [
            HeteroGraphAttention::new(&mut pb, "HtrgGAT_layer_ST11", g0, g1, t[2])?,
            HeteroGraphAttention::new(&mut pb, "HtrgGAT_layer_ST12", g1, g1, t[2])?,
            HeteroGraphAttention::new(&mut pb, "HtrgGAT_layer_ST21", g0, g1, t[2])?,
            HeteroGraphAttention::new(&mut pb, "HtrgGAT_layer_ST22", g1, g1, t[2])?,
        ];
        let pools = [
            GraphPool::new(&mut pb, "pool_S", g0, pr[0])?,
            GraphPool::new(&mut pb, "pool_T", g0, pr[1])?,
            GraphPool::new(&mut pb, "pool_hS1", g1, pr[2])?,
            GraphPool::new(&mut pb, "pool_hT1", g1, pr[2])?,
            GraphPool::new(&mut pb, "pool_hS2", g1, pr[2])?,
            GraphPool::new(&mut pb, "pool_hT2", g1, pr[2])?,
        ];
        let out_layer = Linear::new(&mut pb, "out_layer", 5 * g1, 2, true)?;
        let mut trainable = pb.into_trainable();
        if config.freeze_front_end {
            trainable.retain(|v| !v.name.starts_with(FRONT_END_PREFIX));
        }
        Ok(Self {
            config,
            front_end,
            ll,
            first_bn,
            first_bn1,
            encoder,
            attention,
            pos_s,
            master1,
            master2,
            gat_s,
            gat_t,
            htrg,
            pools,
            out_layer,
            trainable,
            varmap,
        })
    }

    /// The sizes of this model.
    pub fn config(&self) -> &SslAasistConfig {
        &self.config
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.trainable.iter().map(|v| v.var.elem_count()).sum()
    }

    fn forward_impl(&self, waveforms: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let feats = self.front_end.forward(waveforms, mode, rng)?; // [B, T, H]
        let feats = if self.config.freeze_front_end {
            feats.detach()
        } else {
            feats
        };
        let x = self.ll.forward(&feats)?.transpose(1, 2)?.unsqueeze(1)?; // [B, 1, ll, T]
        let x = MaxPool2d::new((3, 3)).forward(&x)?; // [B, 1, S, T/3]
        let mut x = self.first_bn.forward_selu(&x, mode)?;
        for block in &self.encoder {
            x = block.forward(&x, mode)?;
        }
        let x = selu(&self.first_bn1.forward(&x, mode)?)?; // [B, C, S, Tn]
        let (a0, bn, a3) = &self.attention;
        let w = a3.forward(&bn.forward(&selu(&a0.forward(&x)?)?, mode)?)?; // [B, C, S, Tn]

        let w1 = candle_nn::ops::softmax(&w, D::Minus1)?;
        let e_s = (&x * w1)?
            .sum(3)?
            .transpose(1, 2)?
            .broadcast_add(&param(&self.pos_s))?; // [B, S, C]
        let out_s = self.pools[0].forward(&self.gat_s.forward(&e_s, mode, rng)?, mode, rng)?;
        let w2 = candle_nn::ops::softmax(&w, 2)?;
        let e_t = (&x * w2)?.sum(2)?.transpose(1, 2)?; // [B, Tn, C]
        let out_t = self.pools[1].forward(&self.gat_t.forward(&e_t, mode, rng)?, mode, rng)?;

        let mut branches = Vec::with_capacity(2);
        for (k, master) in [(0usize, &self.master1), (2, &self.master2)] {
            let (t1, s1, m1) = self.htrg[k].forward(&out_t, &out_s, &param(master), mode, rng)?;
            let s1 = self.pools[2 + k].forward(&s1, mode, rng)?;
            let t1 = self.pools[3 + k].forward(&t1, mode, rng)?;
            let (ta, sa, ma) = self.htrg[k + 1].forward(&t1, &s1, &m1, mode, rng)?;
            branches.push(((t1 + ta)?, (s1 + sa)?, (m1 + ma)?));
        }
        let way = Dropout::new(0.2);
        let mut d = |x: &Tensor| way.forward(x, mode, rng);
        let (t1, s1, m1) = &branches[0];
        let (t2, s2, m2) = &branches[1];
        let (t1, t2, s1, s2, m1, m2) = (d(t1)?, d(t2)?, d(s1)?, d(s2)?, d(m1)?, d(m2)?);
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
        )?; // [B, 5·G1]
        let hidden = Dropout::new(0.5).forward(&hidden, mode, rng)?;
        self.out_layer.forward(&hidden)
    }
}

impl Model for SslAasist {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn forward(&self, waveforms: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        self.forward_impl(waveforms, mode, rng)
    }

    fn trainable(&self) -> &[NamedVar] {
        &self.trainable
    }

    fn state(&self) -> &VarMap {
        &self.varmap
    }

    fn min_num_samples(&self) -> usize {
        // Three frames leave one temporal node after the 3×3 pool.
        self.config.front_end.min_num_samples_for(3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_model_gives_two_logits_and_freezes() -> std::result::Result<(), NnError> {
        let m = SslAasist::new(
            SslAasistConfig::tiny(),
            DType::F32,
            &Device::Cpu,
            &mut Rng::new(1),
        )?;
        let n = m.min_num_samples();
        let x = Tensor::zeros((2, n), DType::F32, &Device::Cpu)?;
        let y = m.forward(&x, Mode::Eval, &mut Rng::new(0))?;
        assert_eq!(y.dims(), &[2, 2]);
        let all = m.trainable().len();
        let mut c = SslAasistConfig::tiny();
        c.freeze_front_end = true;
        let f = SslAasist::new(c, DType::F32, &Device::Cpu, &mut Rng::new(1))?;
        assert!(f.trainable().len() < all);
        assert!(f
            .trainable()
            .iter()
            .all(|v| !v.name.starts_with(FRONT_END_PREFIX)));
        let short = Tensor::zeros((2, n - 1), DType::F32, &Device::Cpu)?;
        assert!(m.forward(&short, Mode::Eval, &mut Rng::new(0)).is_err());
        Ok(())
    }
}
