//! AASIST and AASIST-L: the raw-waveform spectro-temporal graph-attention detectors of Jung et al.
//! (ICASSP 2022), reproduced operation by operation from the authors' `models/AASIST.py`
//! (clovaai/aasist) so that their released weights load and give the same logits.
//!
//! The registry builds these models for the trainer and the scorer; [`crate::nn::import`] loads the
//! authors' PyTorch state dicts into them. Variable names equal the reference state-dict keys
//! (`encoder.0.0.conv1.weight`, `GAT_layer_S.att_proj.weight`, …) so a checkpoint reads the same on
//! both sides.
//!
//! The front end and encoder live here; the graph back end and the residual block are the shared
//! ones of [`crate::nn::graph`] (with [`VectorInit::Normal`] embeddings and attention vectors,
//! and blocks that max-pool by (1, 3)). Every trainable layer is one of the shared layers of
//! [`crate::nn::layers`], so faster kernels swapped in there reach AASIST too. The fixed sinc
//! front end is candle's conv2d forward on `[batch, 1, 1, samples]` with a constant bank: nothing
//! upstream of it needs a gradient, so it never enters the backward pass (the shared Conv2d would
//! make the bank a variable and pay for its weight gradient).
//!
//! The reference behaviours reproduced on purpose are listed in [`crate::nn::graph`]; besides
//! them, the frequency-masking augmentation (`Freq_aug`) of the reference is not reproduced.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;

use super::graph::{GraphBackEnd, GraphConfig, GraphEmbeddings, ResidualBlock, VectorInit};
use super::layers::{BatchNorm, MaxPool2d, ParamBuilder};
use super::{Mode, Model, NamedVar, NnError};
use crate::rng::Rng;

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

    /// The back end's sizes: the last block's channels per node, one spectral node per pooled
    /// sinc band.
    fn graph(&self) -> GraphConfig {
        GraphConfig {
            channels: self.block_channels[3].1,
            spectral_nodes: self.num_spectral_nodes(),
            gat_dims: self.gat_dims,
            pool_ratios: self.pool_ratios,
            temperatures: self.temperatures,
            init: VectorInit::Normal,
        }
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

/// AASIST / AASIST-L with verified gradients, implementing [`Model`].
pub struct Aasist {
    config: AasistConfig,
    dtype: DType,
    device: Device,
    sinc: Tensor,
    first_bn: BatchNorm,
    encoder: Vec<ResidualBlock>,
    back_end: GraphBackEnd,
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

        let taps = config.sinc_taps();
        let filters: Vec<f64> = sinc_filters(config.num_sinc_filters, taps, config.sample_rate_hz)
            .into_iter()
            .flatten()
            .collect();
        let sinc = Tensor::from_vec(filters, (config.num_sinc_filters, 1, 1, taps), device)?
            .to_dtype(dtype)?;

        let graph = config.graph();
        // The embeddings come first here (before the encoder), as in the reference constructor.
        let embeddings = GraphEmbeddings::new(pb, "", &graph)?;
        let first_bn = BatchNorm::new(pb, "first_bn", 1, true)?;
        let mut encoder = Vec::with_capacity(NUM_BLOCKS);
        for i in 0..NUM_BLOCKS {
            encoder.push(ResidualBlock::new(
                pb,
                &format!("encoder.{i}.0"),
                config.block_channels[i.min(3)],
                i == 0,
                Some((1, BLOCK_POOL)),
            )?);
        }
        let back_end = GraphBackEnd::new(pb, "", &graph, embeddings)?;

        let trainable = builder.into_trainable();
        Ok(Self {
            config,
            dtype,
            device: device.clone(),
            sinc,
            first_bn,
            encoder,
            back_end,
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

    /// The graph back end: an [`Aasist::encode`] output → logits `[batch, 2]`. Spectral nodes
    /// are the maximum over time, temporal nodes the maximum over frequency.
    pub fn classify(&self, e: &Tensor, mode: Mode, rng: &mut Rng) -> candle_core::Result<Tensor> {
        let e_s = e.max(3)?.transpose(1, 2)?; // [batch, S, C]
        let e_t = e.max(2)?.transpose(1, 2)?.contiguous()?; // [batch, T, C]
        self.back_end.forward(&e_s, &e_t, mode, rng)
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
