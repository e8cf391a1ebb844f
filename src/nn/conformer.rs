//! XLSR-Conformer-TCM (Truong et al., Interspeech 2024, tcm_add): an XLS-R front end followed by
//! Conformer blocks whose self-attention carries "head tokens" (temporal-channel modelling), as
//! in dpda_ga's `nets/conformer_tcm.py` and `nets/conformer.py` — the paper's best back end.
//!
//! The registry builds it as `xlsr-tcm` (XLS-R 300M, emb 144, 4 blocks, 4 heads, kernel 31) and
//! `xlsr-tiny-tcm` (tiny sizes for tests). Variable names equal dpda_ga's `best.pth` keys
//! (`ssl_model.model.*`, `LL.*`, `first_bn.*`, `conformer.encoder_blocks.0.attn.fn.qkv.weight`,
//! `conformer.encoder_blocks.0.conv.net.4.conv.weight`, …); the fixed sinusoidal table
//! `conformer.positional_emb` is stored too, as in the reference state dict.
//!
//! Gradient safety: LayerNorm from primitives, unfused softmax, the 1×1 convolutions are matrix
//! products and the depthwise convolution is a sum of shifted, scaled copies (no conv1d).

use candle_core::{DType, Device, Result, Tensor, Var, D};
use candle_nn::VarMap;

use super::layers::{join, selu, BatchNorm, LayerNorm, Linear, ParamBuilder};
use super::wav2vec2::{gelu, Wav2Vec2, Wav2Vec2Config};
use super::{param, Mode, Model, NamedVar, NnError, FRONT_END_PREFIX};
use crate::rng::Rng;

/// Sizes of an XLSR-Conformer-TCM model.
#[derive(Clone, Debug, PartialEq)]
pub struct ConformerTcmConfig {
    /// Registry name.
    pub name: String,
    /// The wav2vec 2.0 front end.
    pub front_end: Wav2Vec2Config,
    /// Conformer width (`emb_size`).
    pub emb_size: usize,
    /// Attention heads (and head tokens).
    pub heads: usize,
    /// Feed-forward expansion.
    pub ff_mult: usize,
    /// Convolution-module expansion.
    pub exp_fac: usize,
    /// Depthwise kernel in frames.
    pub kernel_size: usize,
    /// Number of Conformer blocks.
    pub num_encoders: usize,
    /// Rows of the sinusoidal position table (the longest input in frames).
    pub max_frames: usize,
    /// Train only the back end (see [`crate::nn::ssl_aasist::SslAasistConfig::freeze_front_end`]).
    pub freeze_front_end: bool,
}

impl ConformerTcmConfig {
    /// The paper's XLSR-Conformer-TCM (tcm_add defaults).
    pub fn xlsr_tcm() -> Self {
        Self {
            name: "xlsr-tcm".into(),
            front_end: Wav2Vec2Config::xls_r_300m(),
            emb_size: 144,
            heads: 4,
            ff_mult: 4,
            exp_fac: 2,
            kernel_size: 31,
            num_encoders: 4,
            max_frames: 10_000,
            freeze_front_end: false,
        }
    }

    /// A tiny random model with the same structure (`scripts/xlsr_reference.py`'s sizes).
    pub fn tiny() -> Self {
        Self {
            name: "xlsr-tiny-tcm".into(),
            front_end: Wav2Vec2Config::tiny(),
            emb_size: 8,
            heads: 2,
            ff_mult: 4,
            exp_fac: 2,
            kernel_size: 5,
            num_encoders: 2,
            max_frames: 1024,
            freeze_front_end: false,
        }
    }

    fn validate(&self) -> std::result::Result<(), NnError> {
        self.front_end.validate()?;
        if self.heads == 0 || !self.emb_size.is_multiple_of(self.heads) {
            return Err(NnError::InvalidOption {
                field: "heads",
                message: format!(
                    "emb_size {} is not a multiple of {}",
                    self.emb_size, self.heads
                ),
            });
        }
        if self.kernel_size == 0 || self.max_frames == 0 {
            return Err(NnError::InvalidOption {
                field: "kernel_size",
                message: "kernel_size and max_frames must be positive".into(),
            });
        }
        Ok(())
    }
}

/// The reference's sinusoidal table `[1, n, d]`: angle p / 10000^(2⌊i/2⌋/d), sin on even
/// columns, cos on odd ones.
pub fn sinusoidal_table(n: usize, d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * d);
    for p in 0..n {
        for i in 0..d {
            let angle = p as f64 / 10000f64.powf(2.0 * (i / 2) as f64 / d as f64);
            out.push(if i % 2 == 0 { angle.sin() } else { angle.cos() });
        }
    }
    out
}

/// `x · sigmoid(x)`.
fn swish(x: &Tensor) -> Result<Tensor> {
    x.silu()
}

/// A 1×1 convolution stored as `[out, in, 1]` (PyTorch's Conv1d layout), applied on `[B, T, in]`.
#[derive(Clone, Debug)]
struct Pointwise {
    weight: Var,
    bias: Var,
}

impl Pointwise {
    fn new(pb: &mut ParamBuilder, name: &str, cin: usize, cout: usize) -> Result<Self> {
        let bound = 1.0 / (cin as f64).sqrt();
        Ok(Self {
            weight: pb.uniform(&join(name, "weight"), &[cout, cin, 1], bound)?,
            bias: pb.uniform(&join(name, "bias"), &[cout], bound)?,
        })
    }

    /// `[B, T, in]` → `[B, T, out]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = param(&self.weight).squeeze(2)?.t()?; // [in, out]
        x.broadcast_matmul(&w)?.broadcast_add(&param(&self.bias))
    }
}

#[derive(Clone, Debug)]
struct FeedForward {
    norm: LayerNorm,
    up: Linear,
    down: Linear,
}

impl FeedForward {
    fn new(pb: &mut ParamBuilder, name: &str, d: usize, mult: usize) -> Result<Self> {
        Ok(Self {
            norm: LayerNorm::new(pb, &join(name, "fn.norm"), d)?,
            up: Linear::new(pb, &join(name, "fn.fn.net.0"), d, d * mult, true)?,
            down: Linear::new(pb, &join(name, "fn.fn.net.3"), d * mult, d, true)?,
        })
    }

    /// Half-step feed-forward `0.5 · FF(LN(x))`, `[B, N, D]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self
            .down
            .forward(&swish(&self.up.forward(&self.norm.forward(x)?)?)?)?;
        y * 0.5
    }
}

/// Self-attention with one extra "head token" per head (Head Token attention,
/// arXiv 2210.05958) whose outputs are merged into the class token.
#[derive(Clone, Debug)]
struct HeadTokenAttention {
    norm: LayerNorm,
    qkv: Linear,
    proj: Linear,
    ht_proj: Linear,
    ht_norm: LayerNorm,
    pos_embed: Var,
    heads: usize,
}

impl HeadTokenAttention {
    fn new(pb: &mut ParamBuilder, name: &str, d: usize, heads: usize) -> Result<Self> {
        let dh = d / heads;
        Ok(Self {
            norm: LayerNorm::new(pb, &join(name, "norm"), d)?,
            qkv: Linear::new(pb, &join(name, "fn.qkv"), d, 3 * d, false)?,
            proj: Linear::new(pb, &join(name, "fn.proj"), d, d, true)?,
            ht_proj: Linear::new(pb, &join(name, "fn.ht_proj"), dh, d, true)?,
            ht_norm: LayerNorm::new(pb, &join(name, "fn.ht_norm"), dh)?,
            pos_embed: pb.constant(&join(name, "fn.pos_embed"), &[1, heads, d], 0.0)?,
            heads,
        })
    }

    /// `[B, N, D]` (class token first) → `[B, N, D]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.norm.forward(x)?;
        let (b, n, c) = x.dims3()?;
        let h = self.heads;
        let dh = c / h;
        // One token per head: the head's channels averaged over time, projected back to D.
        let ht = x.reshape((b, n, h, dh))?.mean(1)?; // [B, h, dh]
        let ht = self.ht_proj.forward(&ht)?.reshape((b, h, h, dh))?;
        let ht = gelu(&self.ht_norm.forward(&ht)?)?
            .reshape((b, h, c))?
            .broadcast_add(&param(&self.pos_embed))?;
        let x = Tensor::cat(&[&x, &ht], 1)?; // [B, N+h, D]
        let m = n + h;
        let qkv = self.qkv.forward(&x)?.reshape((b, m, 3, h, dh))?;
        let part = |i: usize| -> Result<Tensor> {
            qkv.narrow(2, i, 1)?
                .squeeze(2)?
                .transpose(1, 2)?
                .contiguous() // [B, h, M, dh]
        };
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let scores = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? * (dh as f64).powf(-0.5))?;
        let attn = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let y = attn.matmul(&v)?.transpose(1, 2)?.reshape((b, m, c))?;
        let y = self.proj.forward(&y)?;
        let cls = y.narrow(1, 0, 1)?;
        let patch = y.narrow(1, 1, n - 1)?;
        let hts = y.narrow(1, n, h)?;
        let mut cls = (cls + hts.mean_keepdim(1)?)?;
        if n > 1 {
            cls = (cls + patch.mean_keepdim(1)?)?;
        }
        Tensor::cat(&[&cls, &patch], 1)
    }
}

#[derive(Clone, Debug)]
struct ConvModule {
    norm: LayerNorm,
    pointwise_in: Pointwise,
    depthwise_weight: Var,
    depthwise_bias: Var,
    bn: BatchNorm,
    pointwise_out: Pointwise,
}

impl ConvModule {
    fn new(pb: &mut ParamBuilder, name: &str, d: usize, exp: usize, k: usize) -> Result<Self> {
        let inner = d * exp;
        let bound = 1.0 / (k as f64).sqrt();
        Ok(Self {
            norm: LayerNorm::new(pb, &join(name, "net.0"), d)?,
            pointwise_in: Pointwise::new(pb, &join(name, "net.2"), d, 2 * inner)?,
            depthwise_weight: pb.uniform(
                &join(name, "net.4.conv.weight"),
                &[inner, 1, k],
                bound,
            )?,
            depthwise_bias: pb.uniform(&join(name, "net.4.conv.bias"), &[inner], bound)?,
            bn: BatchNorm::new(pb, &join(name, "net.5"), inner, true)?,
            pointwise_out: Pointwise::new(pb, &join(name, "net.7"), inner, d)?,
        })
    }

    /// `[B, N, D]` → `[B, N, D]`.
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let y = self.pointwise_in.forward(&self.norm.forward(x)?)?; // [B, N, 2·inner]
        let inner = y.dim(2)? / 2;
        let y = y
            .narrow(2, 0, inner)?
            .mul(&candle_nn::ops::sigmoid(&y.narrow(2, inner, inner)?)?)?; // GLU
        let (bsz, n, _) = y.dims3()?;
        let k = self.depthwise_weight.dim(2)?;
        // "Same" padding as the reference: k/2 before, k/2 − (k+1) mod 2 after.
        let y = y.pad_with_zeros(1, k / 2, k / 2 - (k + 1) % 2)?;
        let w = param(&self.depthwise_weight).squeeze(1)?; // [inner, k]
        let mut acc = param(&self.depthwise_bias)
            .reshape((1, 1, inner))?
            .broadcast_as((bsz, n, inner))?
            .contiguous()?;
        for j in 0..k {
            let tap = w.narrow(1, j, 1)?.reshape((1, 1, inner))?;
            acc = (acc + y.narrow(1, j, n)?.broadcast_mul(&tap)?)?;
        }
        // BatchNorm1d over channels: [B, inner, N].
        let y = self
            .bn
            .forward(&acc.transpose(1, 2)?, mode)?
            .transpose(1, 2)?;
        self.pointwise_out.forward(&swish(&y)?)
    }
}

#[derive(Clone, Debug)]
struct ConformerBlock {
    ff1: FeedForward,
    attn: HeadTokenAttention,
    conv: ConvModule,
    ff2: FeedForward,
    post_norm: LayerNorm,
}

impl ConformerBlock {
    fn new(pb: &mut ParamBuilder, name: &str, c: &ConformerTcmConfig) -> Result<Self> {
        let d = c.emb_size;
        Ok(Self {
            ff1: FeedForward::new(pb, &join(name, "ff1"), d, c.ff_mult)?,
            attn: HeadTokenAttention::new(pb, &join(name, "attn"), d, c.heads)?,
            conv: ConvModule::new(pb, &join(name, "conv"), d, c.exp_fac, c.kernel_size)?,
            ff2: FeedForward::new(pb, &join(name, "ff2"), d, c.ff_mult)?,
            post_norm: LayerNorm::new(pb, &join(name, "post_norm"), d)?,
        })
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let x = (self.ff1.forward(x)? + x)?;
        let x = (self.attn.forward(&x)? + &x)?;
        let x = (self.conv.forward(&x, mode)? + &x)?;
        let x = (self.ff2.forward(&x)? + &x)?;
        self.post_norm.forward(&x)
    }
}

/// XLSR-Conformer-TCM: waveforms `[B, L]` → logits `[B, 2]` (column 1 bona fide).
pub struct ConformerTcm {
    config: ConformerTcmConfig,
    front_end: Wav2Vec2,
    ll: Linear,
    first_bn: BatchNorm,
    positional_emb: Var,
    class_token: Var,
    blocks: Vec<ConformerBlock>,
    fc5: Linear,
    trainable: Vec<NamedVar>,
    varmap: VarMap,
}

impl ConformerTcm {
    /// A freshly initialised model of `config`, variables of `dtype` on `device`.
    pub fn new(
        config: ConformerTcmConfig,
        dtype: DType,
        device: &Device,
        rng: &mut Rng,
    ) -> std::result::Result<Self, NnError> {
        config.validate()?;
        let varmap = VarMap::new();
        let mut pb = ParamBuilder::new(&varmap, rng, device, dtype);
        let front_end = Wav2Vec2::new(&mut pb, FRONT_END_PREFIX, config.front_end.clone())?;
        let d = config.emb_size;
        let ll = Linear::new(&mut pb, "LL", config.front_end.hidden_size, d, true)?;
        let first_bn = BatchNorm::new(&mut pb, "first_bn", 1, true)?;
        let positional_emb =
            pb.buffer("conformer.positional_emb", &[1, config.max_frames, d], 0.0)?;
        let table = Tensor::from_vec(
            sinusoidal_table(config.max_frames, d),
            (1, config.max_frames, d),
            device,
        )?
        .to_dtype(dtype)?;
        positional_emb.set(&table)?;
        // The reference draws the class token from U[0, 1).
        let class_token = pb.uniform("conformer.class_token", &[1, d], 0.5)?;
        class_token.set(&(class_token.as_tensor() + 0.5)?)?;
        let blocks = (0..config.num_encoders)
            .map(|i| {
                ConformerBlock::new(&mut pb, &format!("conformer.encoder_blocks.{i}"), &config)
            })
            .collect::<Result<Vec<_>>>()?;
        let fc5 = Linear::new(&mut pb, "conformer.fc5", d, 2, true)?;
        let mut trainable = pb.into_trainable();
        if config.freeze_front_end {
            trainable.retain(|v| !v.name.starts_with(FRONT_END_PREFIX));
        }
        Ok(Self {
            config,
            front_end,
            ll,
            first_bn,
            positional_emb,
            class_token,
            blocks,
            fc5,
            trainable,
            varmap,
        })
    }

    /// The sizes of this model.
    pub fn config(&self) -> &ConformerTcmConfig {
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
        let (b, t, _) = feats.dims3()?;
        if t > self.config.max_frames {
            candle_core::bail!(
                "{t} frames exceed the {} rows of the position table",
                self.config.max_frames
            );
        }
        let x = self.ll.forward(&feats)?.unsqueeze(1)?; // [B, 1, T, D]
        let x = selu(&self.first_bn.forward(&x, mode)?)?.squeeze(1)?; // [B, T, D]
        let x = x.broadcast_add(&param(&self.positional_emb).narrow(1, 0, t)?)?;
        let d = self.config.emb_size;
        let cls = param(&self.class_token)
            .unsqueeze(0)?
            .broadcast_as((b, 1, d))?;
        let mut x = Tensor::cat(&[&cls, &x], 1)?; // [B, 1+T, D]
        for block in &self.blocks {
            x = block.forward(&x, mode)?;
        }
        self.fc5.forward(&x.narrow(1, 0, 1)?.squeeze(1)?)
    }
}

impl Model for ConformerTcm {
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
        self.config.front_end.min_num_samples_for(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoid_matches_closed_form() {
        let t = sinusoidal_table(3, 4);
        // p = 2, i = 3: cos(2 / 10000^(2·1/4)) = cos(0.02).
        assert!((t[2 * 4 + 3] - 0.02f64.cos()).abs() < 1e-15);
        assert_eq!(t[0], 0.0);
        assert_eq!(t[1], 1.0);
    }

    #[test]
    fn tiny_model_gives_two_logits() -> std::result::Result<(), NnError> {
        let m = ConformerTcm::new(
            ConformerTcmConfig::tiny(),
            DType::F32,
            &Device::Cpu,
            &mut Rng::new(3),
        )?;
        let x = Tensor::zeros((2, m.min_num_samples() + 40), DType::F32, &Device::Cpu)?;
        assert_eq!(m.forward(&x, Mode::Eval, &mut Rng::new(0))?.dims(), &[2, 2]);
        Ok(())
    }
}
