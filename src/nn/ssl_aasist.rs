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
//! BatchNorm between its two 1×1 convolutions, and its softmax weights sum the encoder output
//! into spectral and temporal nodes (AASIST takes maxima). The residual blocks and the graph back
//! end are the shared ones of [`crate::nn::graph`] (with [`VectorInit::Uniform`] embeddings and
//! attention vectors); the reference behaviours they keep on purpose are listed there.

use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::VarMap;

use super::graph::{GraphBackEnd, GraphConfig, GraphEmbeddings, ResidualBlock, VectorInit};
use super::layers::{selu, BatchNorm, Conv2d, Linear, MaxPool2d, ParamBuilder};
use super::wav2vec2::{Wav2Vec2, Wav2Vec2Config};
use super::{Mode, Model, NamedVar, NnError, FRONT_END_PREFIX};
use crate::rng::Rng;

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

    /// The back end's sizes: the last block's channels per node, `ll_dim / 3` spectral nodes.
    fn graph(&self) -> GraphConfig {
        GraphConfig {
            channels: self.block_channels[3].1,
            spectral_nodes: self.ll_dim / 3,
            gat_dims: self.gat_dims,
            pool_ratios: self.pool_ratios,
            temperatures: self.temperatures,
            init: VectorInit::Uniform,
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

/// XLSR-AASIST: waveforms `[B, L]` → logits `[B, 2]` (column 1 bona fide).
pub struct SslAasist {
    config: SslAasistConfig,
    front_end: Wav2Vec2,
    ll: Linear,
    first_bn: BatchNorm,
    first_bn1: BatchNorm,
    encoder: Vec<ResidualBlock>,
    attention: (Conv2d, BatchNorm, Conv2d),
    back_end: GraphBackEnd,
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
        let graph = config.graph();
        let c = graph.channels;
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
            .map(|(i, &channels)| {
                ResidualBlock::new(&mut pb, &format!("encoder.{i}.0"), channels, i == 0, None)
            })
            .collect::<Result<Vec<_>>>()?;
        let attention = (
            Conv2d::new(&mut pb, "attention.0", c, 2 * c, (1, 1), 1, (0, 0), true)?,
            BatchNorm::new(&mut pb, "attention.2", 2 * c, true)?,
            Conv2d::new(&mut pb, "attention.3", 2 * c, c, (1, 1), 1, (0, 0), true)?,
        );
        // The embeddings come after the encoder here, as in the reference constructor.
        let embeddings = GraphEmbeddings::new(&mut pb, "", &graph)?;
        let back_end = GraphBackEnd::new(&mut pb, "", &graph, embeddings)?;
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
            back_end,
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

        // Attention-weighted sums over time (spectral nodes) and over frequency (temporal nodes).
        let w1 = candle_nn::ops::softmax(&w, D::Minus1)?;
        let e_s = (&x * w1)?.sum(3)?.transpose(1, 2)?; // [B, S, C]
        let w2 = candle_nn::ops::softmax(&w, 2)?;
        let e_t = (&x * w2)?.sum(2)?.transpose(1, 2)?; // [B, Tn, C]
        self.back_end.forward(&e_s, &e_t, mode, rng)
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
