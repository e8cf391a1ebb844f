//! The wav2vec 2.0 / XLS-R encoder (Baevski et al. 2020; Babu et al. 2021) in its pre-LN
//! ("stable layer norm") form: the self-supervised front end of the paper's XLSR-AASIST and
//! XLSR-Conformer-TCM detectors.
//!
//! [`crate::nn::ssl_aasist`] and [`crate::nn::conformer`] build one [`Wav2Vec2`] under the prefix
//! `ssl_model.model.`, and [`crate::nn::import_xlsr`] fills it from fairseq's `xlsr2_300m.pt`, from
//! a Hugging Face `facebook/wav2vec2-xls-r-300m` state dict or from a released dpda_ga `best.pth`.
//! Variable names follow fairseq's layout (`feature_extractor.conv_layers.0.0.weight`,
//! `encoder.pos_conv.0.weight_g`, `encoder.layers.3.self_attn.q_proj.weight`, …) because the
//! released detectors were trained through fairseq.
//!
//! Every op has a gradient checked against finite differences: 1-D convolutions run as 2-D
//! convolutions on `[B, C, 1, L]` (candle's conv1d weight gradient is wrong on CPU), LayerNorm is
//! built from primitives, softmax is the unfused `candle_nn::ops::softmax`, the grouped positional
//! convolution is one plain conv per group, and its weight norm `g·v/‖v‖` is computed in the graph
//! so that `weight_g` and `weight_v` both train, as in fairseq.
//!
//! Not reproduced from fairseq's training-mode behaviour: LayerDrop, attention-probability
//! dropout and `feature_grad_mult` (a gradient scale on the convolutional features). Dropout on
//! the residual branches is [`Wav2Vec2Config::dropout`]; its masks come from the project's
//! [`Rng`] on the CPU.

use candle_core::{Result, Tensor, D};

use super::layers::{join, Conv1d, Dropout, LayerNorm, Linear, ParamBuilder};
use super::{param, Mode, NnError};
use crate::rng::Rng;

/// Sizes of a wav2vec 2.0 encoder (pre-LN variant with layer-normalised feature extractor).
#[derive(Clone, Debug, PartialEq)]
pub struct Wav2Vec2Config {
    /// Output channels of each feature-extractor convolution.
    pub conv_dims: Vec<usize>,
    /// Kernel of each feature-extractor convolution, in samples/frames.
    pub conv_kernels: Vec<usize>,
    /// Stride of each feature-extractor convolution.
    pub conv_strides: Vec<usize>,
    /// Transformer width.
    pub hidden_size: usize,
    /// Number of transformer blocks.
    pub num_layers: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Kernel of the positional convolution.
    pub pos_conv_kernel: usize,
    /// Groups of the positional convolution.
    pub pos_conv_groups: usize,
    /// Dropout on the residual branches and after the positional embedding in training modes
    /// (fairseq's `dropout`).
    pub dropout: f64,
}

impl Wav2Vec2Config {
    /// XLS-R 300M (`xlsr2_300m.pt`, `facebook/wav2vec2-xls-r-300m`): 24 blocks of width 1024.
    pub fn xls_r_300m() -> Self {
        Self {
            conv_dims: vec![512; 7],
            conv_kernels: vec![10, 3, 3, 3, 3, 2, 2],
            conv_strides: vec![5, 2, 2, 2, 2, 2, 2],
            hidden_size: 1024,
            num_layers: 24,
            num_heads: 16,
            intermediate_size: 4096,
            pos_conv_kernel: 128,
            pos_conv_groups: 16,
            dropout: 0.1,
        }
    }

    /// A tiny random configuration for tests (the one `scripts/xlsr_reference.py` builds).
    pub fn tiny() -> Self {
        Self {
            conv_dims: vec![8, 8, 8],
            conv_kernels: vec![10, 3, 2],
            conv_strides: vec![5, 2, 2],
            hidden_size: 16,
            num_layers: 2,
            num_heads: 2,
            intermediate_size: 32,
            pos_conv_kernel: 8,
            pos_conv_groups: 2,
            dropout: 0.0,
        }
    }

    /// Frames the feature extractor produces from `num_samples` samples (0 when too short).
    pub fn num_frames(&self, num_samples: usize) -> usize {
        let mut len = num_samples;
        for (&k, &s) in self.conv_kernels.iter().zip(&self.conv_strides) {
            if len < k {
                return 0;
            }
            len = (len - k) / s + 1;
        }
        len
    }

    /// The shortest input giving `num_frames` frames.
    pub fn min_num_samples_for(&self, num_frames: usize) -> usize {
        let mut len = num_frames.max(1);
        for (&k, &s) in self.conv_kernels.iter().zip(&self.conv_strides).rev() {
            len = (len - 1) * s + k;
        }
        len
    }

    /// Width of the last feature-extractor convolution.
    pub fn feature_dim(&self) -> usize {
        self.conv_dims.last().copied().unwrap_or(0)
    }

    /// Checks that the sizes fit together.
    pub fn validate(&self) -> std::result::Result<(), NnError> {
        let bad =
            |field: &'static str, message: String| Err(NnError::InvalidOption { field, message });
        if self.conv_dims.is_empty()
            || self.conv_dims.len() != self.conv_kernels.len()
            || self.conv_dims.len() != self.conv_strides.len()
        {
            return bad(
                "conv_dims",
                "conv_dims, conv_kernels and conv_strides need the same, non-zero length".into(),
            );
        }
        if self.conv_kernels.contains(&0) || self.conv_strides.contains(&0) {
            return bad(
                "conv_kernels",
                "kernels and strides must be positive".into(),
            );
        }
        if self.num_heads == 0 || !self.hidden_size.is_multiple_of(self.num_heads) {
            return bad(
                "num_heads",
                format!(
                    "hidden size {} is not a multiple of {} heads",
                    self.hidden_size, self.num_heads
                ),
            );
        }
        if self.pos_conv_groups == 0 || !self.hidden_size.is_multiple_of(self.pos_conv_groups) {
            return bad(
                "pos_conv_groups",
                format!(
                    "hidden size {} is not a multiple of {} groups",
                    self.hidden_size, self.pos_conv_groups
                ),
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", format!("{} is not in [0, 1)", self.dropout));
        }
        Ok(())
    }
}

/// GELU with the exact erf form (`torch.nn.GELU()`, fairseq's and Hugging Face's "gelu").
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    x.gelu_erf()
}

/// `[B, C, L]` → `[B, C, L]`: LayerNorm over the channels of every frame.
fn channel_layer_norm(ln: &LayerNorm, x: &Tensor) -> Result<Tensor> {
    ln.forward(&x.transpose(1, 2)?)?.transpose(1, 2)
}

/// Multi-head self-attention with biased q/k/v/out projections (fairseq `MultiheadAttention`).
#[derive(Clone, Debug)]
pub struct SelfAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    num_heads: usize,
}

impl SelfAttention {
    /// `name.{q,k,v,out}_proj.{weight,bias}` of width `dim`.
    pub fn new(pb: &mut ParamBuilder, name: &str, dim: usize, num_heads: usize) -> Result<Self> {
        Ok(Self {
            q_proj: Linear::new(pb, &join(name, "q_proj"), dim, dim, true)?,
            k_proj: Linear::new(pb, &join(name, "k_proj"), dim, dim, true)?,
            v_proj: Linear::new(pb, &join(name, "v_proj"), dim, dim, true)?,
            out_proj: Linear::new(pb, &join(name, "out_proj"), dim, dim, true)?,
            num_heads,
        })
    }

    /// `[B, T, D]` → `[B, T, D]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let h = self.num_heads;
        let dh = d / h;
        let heads = |y: Tensor| -> Result<Tensor> {
            // [B, T, D] → [B, h, T, dh]
            y.reshape((b, t, h, dh))?.transpose(1, 2)?.contiguous()
        };
        let q = heads((self.q_proj.forward(x)? * (dh as f64).powf(-0.5))?)?;
        let k = heads(self.k_proj.forward(x)?)?;
        let v = heads(self.v_proj.forward(x)?)?;
        let scores = q.matmul(&k.transpose(2, 3)?.contiguous()?)?; // [B, h, T, T]
        let attn = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let y = attn.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out_proj.forward(&y)
    }
}

/// One pre-LN transformer block (fairseq `TransformerSentenceEncoderLayer`, `layer_norm_first`).
#[derive(Clone, Debug)]
struct EncoderLayer {
    self_attn: SelfAttention,
    self_attn_layer_norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    final_layer_norm: LayerNorm,
    dropout: Dropout,
}

impl EncoderLayer {
    fn new(pb: &mut ParamBuilder, name: &str, c: &Wav2Vec2Config) -> Result<Self> {
        let d = c.hidden_size;
        Ok(Self {
            self_attn: SelfAttention::new(pb, &join(name, "self_attn"), d, c.num_heads)?,
            self_attn_layer_norm: LayerNorm::new(pb, &join(name, "self_attn_layer_norm"), d)?,
            fc1: Linear::new(pb, &join(name, "fc1"), d, c.intermediate_size, true)?,
            fc2: Linear::new(pb, &join(name, "fc2"), c.intermediate_size, d, true)?,
            final_layer_norm: LayerNorm::new(pb, &join(name, "final_layer_norm"), d)?,
            dropout: Dropout::new(c.dropout),
        })
    }

    fn forward(&self, x: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let a = self
            .self_attn
            .forward(&self.self_attn_layer_norm.forward(x)?)?;
        let x = (x + self.dropout.forward(&a, mode, rng)?)?;
        let f = self.fc2.forward(&gelu(
            &self.fc1.forward(&self.final_layer_norm.forward(&x)?)?,
        )?)?;
        x + self.dropout.forward(&f, mode, rng)?
    }
}

/// The grouped positional convolution with weight normalisation over all axes but the kernel
/// axis (`weight_norm(conv, dim=2)`), "same" padding and GELU.
#[derive(Clone, Debug)]
struct PositionalConv {
    weight_g: candle_core::Var,
    weight_v: candle_core::Var,
    bias: candle_core::Var,
    groups: usize,
}

impl PositionalConv {
    fn new(pb: &mut ParamBuilder, name: &str, c: &Wav2Vec2Config) -> Result<Self> {
        let d = c.hidden_size;
        let k = c.pos_conv_kernel;
        let per_group = d / c.pos_conv_groups;
        // fairseq draws v ~ N(0, 4/(k·d)) and starts g at ‖v‖; a uniform draw of the same
        // spread serves a model whose weights are normally loaded from a checkpoint.
        let std = (4.0 / (k * d) as f64).sqrt();
        let weight_v = pb.uniform(
            &join(name, "weight_v"),
            &[d, per_group, k],
            std * 3f64.sqrt(),
        )?;
        let weight_g = pb.constant(&join(name, "weight_g"), &[1, 1, k], 1.0)?;
        let norm = weight_v
            .as_tensor()
            .sqr()?
            .sum_keepdim(0)?
            .sum_keepdim(1)?
            .sqrt()?;
        weight_g.set(&norm)?;
        let bias = pb.constant(&join(name, "bias"), &[d], 0.0)?;
        Ok(Self {
            weight_g,
            weight_v,
            bias,
            groups: c.pos_conv_groups,
        })
    }

    /// `[B, T, D]` → `[B, T, D]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let v = &param(&self.weight_v); // [D, D/G, K]
        let (d, per_group, k) = v.dims3()?;
        let norm = v.sqr()?.sum_keepdim(0)?.sum_keepdim(1)?.sqrt()?; // [1, 1, K]
        let w = v.broadcast_mul(&param(&self.weight_g).broadcast_div(&norm)?)?;
        let t = x.dim(1)?;
        // [B, D, 1, T + 2·(K/2)]
        let xc = x
            .transpose(1, 2)?
            .pad_with_zeros(2, k / 2, k / 2)?
            .unsqueeze(2)?;
        let mut outs = Vec::with_capacity(self.groups);
        for g in 0..self.groups {
            let xg = xc.narrow(1, g * per_group, per_group)?.contiguous()?;
            let wg = w
                .narrow(0, g * per_group, per_group)?
                .reshape((per_group, per_group, 1, k))?;
            outs.push(xg.conv2d(&wg, 0, 1, 1, 1)?);
        }
        // [B, D, 1, T'] with T' = T + 1 for an even kernel: fairseq's SamePad drops the last frame.
        let y = Tensor::cat(&outs, 1)?.squeeze(2)?.narrow(2, 0, t)?;
        let y = y.broadcast_add(&param(&self.bias).reshape((1, d, 1))?)?;
        gelu(&y)?.transpose(1, 2)
    }
}

/// A wav2vec 2.0 encoder: waveform `[B, L]` → contextual features `[B, T, hidden_size]`
/// (fairseq's `features_only=True` output `x`, Hugging Face's `last_hidden_state`).
#[derive(Clone, Debug)]
pub struct Wav2Vec2 {
    config: Wav2Vec2Config,
    convs: Vec<(Conv1d, LayerNorm)>,
    layer_norm: LayerNorm,
    post_extract_proj: Linear,
    pos_conv: PositionalConv,
    layers: Vec<EncoderLayer>,
    encoder_layer_norm: LayerNorm,
    dropout: Dropout,
}

impl Wav2Vec2 {
    /// Creates every variable under `prefix` (e.g. `ssl_model.model`), fairseq names.
    pub fn new(pb: &mut ParamBuilder, prefix: &str, config: Wav2Vec2Config) -> Result<Self> {
        config
            .validate()
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut convs = Vec::new();
        let mut in_dim = 1;
        for (i, ((&dim, &k), &s)) in config
            .conv_dims
            .iter()
            .zip(&config.conv_kernels)
            .zip(&config.conv_strides)
            .enumerate()
        {
            let base = join(prefix, &format!("feature_extractor.conv_layers.{i}"));
            let conv = Conv1d::new(pb, &join(&base, "0"), in_dim, dim, k, s, 0, true)?;
            let ln = LayerNorm::new(pb, &join(&base, "2.1"), dim)?;
            convs.push((conv, ln));
            in_dim = dim;
        }
        let d = config.hidden_size;
        let layer_norm = LayerNorm::new(pb, &join(prefix, "layer_norm"), in_dim)?;
        let post_extract_proj =
            Linear::new(pb, &join(prefix, "post_extract_proj"), in_dim, d, true)?;
        let pos_conv = PositionalConv::new(pb, &join(prefix, "encoder.pos_conv.0"), &config)?;
        let layers = (0..config.num_layers)
            .map(|i| EncoderLayer::new(pb, &join(prefix, &format!("encoder.layers.{i}")), &config))
            .collect::<Result<Vec<_>>>()?;
        let encoder_layer_norm = LayerNorm::new(pb, &join(prefix, "encoder.layer_norm"), d)?;
        let dropout = Dropout::new(config.dropout);
        Ok(Self {
            config,
            convs,
            layer_norm,
            post_extract_proj,
            pos_conv,
            layers,
            encoder_layer_norm,
            dropout,
        })
    }

    /// The sizes of this encoder.
    pub fn config(&self) -> &Wav2Vec2Config {
        &self.config
    }

    /// `[B, L]` waveforms → `[B, T, hidden_size]` features; dropout only in training modes.
    pub fn forward(&self, waveforms: &Tensor, mode: Mode, rng: &mut Rng) -> Result<Tensor> {
        let (_, num_samples) = waveforms.dims2()?;
        if self.config.num_frames(num_samples) == 0 {
            candle_core::bail!(
                "wav2vec2 needs at least {} samples, got {num_samples}",
                self.config.min_num_samples_for(1)
            );
        }
        let mut x = waveforms.unsqueeze(1)?; // [B, 1, L]
        for (conv, ln) in &self.convs {
            x = gelu(&channel_layer_norm(ln, &conv.forward(&x)?)?)?; // [B, C, L']
        }
        let x = x.transpose(1, 2)?; // [B, T, C]
        let x = self
            .post_extract_proj
            .forward(&self.layer_norm.forward(&x)?)?; // [B, T, D]
        let x = (&x + self.pos_conv.forward(&x)?)?;
        let mut x = self.dropout.forward(&x, mode, rng)?;
        for layer in &self.layers {
            x = layer.forward(&x, mode, rng)?;
        }
        self.encoder_layer_norm.forward(&x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_counts_match_the_conv_arithmetic() {
        let c = Wav2Vec2Config::xls_r_300m();
        // The paper's 66,800-sample crops give 208 frames (dpda_ga's comment "(bs, 208, 256)").
        assert_eq!(c.num_frames(66_800), 208);
        assert_eq!(c.num_frames(400), 1);
        assert_eq!(c.num_frames(399), 0);
        assert_eq!(c.min_num_samples_for(1), 400);
        let t = Wav2Vec2Config::tiny();
        assert_eq!(t.num_frames(400), 19);
        assert_eq!(t.num_frames(t.min_num_samples_for(5)), 5);
        assert_eq!(t.num_frames(t.min_num_samples_for(5) - 1), 4);
    }

    #[test]
    fn invalid_sizes_name_the_field() {
        let mut c = Wav2Vec2Config::tiny();
        c.num_heads = 3;
        assert!(matches!(
            c.validate(),
            Err(NnError::InvalidOption {
                field: "num_heads",
                ..
            })
        ));
        let mut c = Wav2Vec2Config::tiny();
        c.conv_strides.pop();
        assert!(c.validate().is_err());
    }
}
