//! LFCC as computed by the front end of the ASVspoof 2021 LFCC-LCNN baseline (B03).
//!
//! The data pipeline calls [`Lfcc::compute`] per clip or [`Lfcc::compute_batch`] per training batch
//! (rayon across clips); the extractor is built once from an [`LfccConfig`] and holds the FFT plan,
//! window, filter bank and DCT matrix.
//!
//! # Reference
//! The baseline (asvspoof-challenge/2021, `LA/Baseline-LFCC-LCNN/project/baseline_LA/model.py`; the
//! DF baseline's README is a link to the LA one) builds `LFCC(320, 160, 1024, 16000, 20, with_energy=True,
//! max_freq=0.5)` from `sandbox/util_frontend.py` of nii-yamagishilab/project-NN-Pytorch-scripts.
//! Every step and default below is taken from those two files:
//!
//! | step | value (default) | where it comes from |
//! |---|---|---|
//! | sample rate | 16 000 Hz (`sample_rate_hz`) | `model.py`: `m_target_sr = 16000` |
//! | pre-emphasis | `y[0] = x[0]`, `y[n] = x[n] − 0.97·x[n−1]` (`pre_emphasis`; 0 disables) | `LFCC.forward`, `with_emphasis=True` default |
//! | frame length | 320 samples = 20 ms (`frame_length_samples`) | `model.py`: `frame_lens = [320]` |
//! | frame shift | 160 samples = 10 ms (`frame_shift_samples`) | `model.py`: `frame_hops = [160]` |
//! | FFT size | 1024 (`n_fft`) | `model.py`: `fft_n = [1024]` |
//! | window | periodic Hamming of 320 samples, centred in the 1024 buffer | `torch.hamming_window(fl)` (periodic by default) passed to `torch.stft` |
//! | framing | `center=True`, zero padding of `n_fft/2` each side (`pad_mode="constant"`): `1 + n/160` frames, frame `t` centred on sample `160·t` | `torch.stft` defaults plus `pad_mode="constant"` |
//! | spectrum | power (squared magnitude) of the one-sided `n_fft/2+1` bins | `torch.norm(stft, 2, -1).pow(2)` |
//! | band | bins `[⌊min·(n_fft/2+1)⌋, ⌊max·(n_fft/2+1)⌋)`, min 0, max 0.5 → bins 0..256 (0–3.98 kHz) (`min_freq_fraction`, `max_freq_fraction`) | `model.py`: `lfcc_max_freq = 0.5`; `LFCC.__init__` |
//! | filter bank | 20 linear triangles (`num_filters`); frequency axis `sr/2 · linspace(min, max, bins)`, edges `linspace(f_min, f_max, 20+2)`, Matlab `trimf` (strict inequalities, 1 at the apex), unnormalised | `model.py`: `lfcc_dim = [20]`; `trimf`, `LFCC.__init__` |
//! | log | `log10(fb + ε)`, ε = f32 epsilon = 1.1920929e-7 (`log_floor`) | `torch.finfo(torch.float32).eps` |
//! | DCT | type II, orthonormal (`norm='ortho'`), first 20 kept (`num_coefficients`) | `LinearDCT(filter_num, 'dct', norm='ortho')`, `num_coef=None` |
//! | energy | coefficient 0 replaced by `log10(Σ_k P_k / n_fft + ε)` over the band's bins (`with_energy`) | `model.py`: `with_energy=True` |
//! | deltas | `Δ[t] = c[t+1] − c[t−1]` with edge frames replicated, no division by 2; `ΔΔ = Δ(Δ)` (`with_delta`) | `delta()` in `util_frontend.py`; `lfcc_with_delta = True` |
//! | output | `[frames, 60]`: 20 static, 20 Δ, 20 ΔΔ | `torch.cat((lfcc, Δ, ΔΔ), 2)` |
//!
//! One quirk is kept on purpose: the filter bank's frequency axis is `linspace(0, 4000 Hz, 256)`,
//! a spacing of 15.686 Hz, while the 1024-point FFT's bins are 15.625 Hz apart, so each filter
//! actually collects energy from about 0.4 % below its nominal frequencies. With the full band (`max_freq_fraction = 1`)
//! the axis and the bins agree. The 2019-era LFCC-LCNN recipes of the same repository use
//! `n_fft = 512` over the full band; [`LfccConfig::full_band_512`] gives that variant.
//!
//! The numerics run in f32 like the reference; `scripts/lfcc_reference.py` (numpy, float64) produces
//! the parity fixtures checked in `tests/features_lfcc.rs`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::stft::{hamming_periodic, PowerStft, StftBuffers};
use super::{FeatureError, FrameMatrix};

/// Settings of the LFCC front end; the defaults are the ASVspoof 2021 LFCC-LCNN baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LfccConfig {
    /// Sample rate the input must already have, in Hz (only sets the filter bank's Hz axis).
    pub sample_rate_hz: u32,
    /// Analysis window length in samples (320 = 20 ms at 16 kHz).
    pub frame_length_samples: usize,
    /// Hop between frames in samples (160 = 10 ms at 16 kHz).
    pub frame_shift_samples: usize,
    /// FFT size; the window is zero-padded to it.
    pub n_fft: usize,
    /// Number of linear triangular filters.
    pub num_filters: usize,
    /// Number of DCT coefficients kept per frame (at most `num_filters`).
    pub num_coefficients: usize,
    /// Lower edge of the band used, as a fraction of the one-sided bin count (0 = DC).
    pub min_freq_fraction: f64,
    /// Upper edge of the band used, as a fraction of the one-sided bin count (1 = Nyquist).
    pub max_freq_fraction: f64,
    /// Pre-emphasis coefficient; 0 disables pre-emphasis.
    pub pre_emphasis: f32,
    /// Replace coefficient 0 by the log frame energy.
    pub with_energy: bool,
    /// Append Δ and ΔΔ (tripling the width).
    pub with_delta: bool,
    /// Constant added before `log10` so silence stays finite.
    pub log_floor: f32,
}

impl Default for LfccConfig {
    fn default() -> Self {
        Self {
            sample_rate_hz: 16_000,
            frame_length_samples: 320,
            frame_shift_samples: 160,
            n_fft: 1024,
            num_filters: 20,
            num_coefficients: 20,
            min_freq_fraction: 0.0,
            max_freq_fraction: 0.5,
            pre_emphasis: 0.97,
            with_energy: true,
            with_delta: true,
            log_floor: f32::EPSILON,
        }
    }
}

impl LfccConfig {
    /// The same front end with a 512-point FFT over the full band (2019 LFCC-LCNN recipes).
    pub fn full_band_512() -> Self {
        Self {
            n_fft: 512,
            max_freq_fraction: 1.0,
            ..Self::default()
        }
    }

    /// Width of one output frame: `num_coefficients`, tripled with deltas.
    pub fn num_dims(&self) -> usize {
        if self.with_delta {
            3 * self.num_coefficients
        } else {
            self.num_coefficients
        }
    }

    /// The bin range `[min_bin, max_bin)` the filter bank reads, as the reference computes it.
    fn bin_range(&self) -> (usize, usize) {
        let half = (self.n_fft / 2 + 1) as f64;
        // Python's int() truncates toward zero; both products are non-negative here.
        (
            (self.min_freq_fraction * half) as usize,
            (self.max_freq_fraction * half) as usize,
        )
    }

    /// Check every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), FeatureError> {
        let bad = |field: &'static str, message: String| {
            Err(FeatureError::InvalidConfig { field, message })
        };
        if self.sample_rate_hz == 0 {
            return bad("sample_rate_hz", "must be positive".into());
        }
        if self.n_fft < 2 {
            return bad("n_fft", format!("must be at least 2, got {}", self.n_fft));
        }
        if self.frame_length_samples == 0 || self.frame_length_samples > self.n_fft {
            return bad(
                "frame_length_samples",
                format!(
                    "must be in 1..={} (n_fft), got {}",
                    self.n_fft, self.frame_length_samples
                ),
            );
        }
        if self.frame_shift_samples == 0 {
            return bad("frame_shift_samples", "must be positive".into());
        }
        if self.num_filters == 0 {
            return bad("num_filters", "must be positive".into());
        }
        if self.num_coefficients == 0 || self.num_coefficients > self.num_filters {
            return bad(
                "num_coefficients",
                format!(
                    "must be in 1..={} (num_filters), got {}",
                    self.num_filters, self.num_coefficients
                ),
            );
        }
        // The reference's own check: 0 ≤ min < max ≤ 1.
        if !(self.min_freq_fraction >= 0.0 && self.min_freq_fraction < self.max_freq_fraction) {
            return bad(
                "min_freq_fraction",
                format!(
                    "must satisfy 0 <= min_freq_fraction < max_freq_fraction, got {} and {}",
                    self.min_freq_fraction, self.max_freq_fraction
                ),
            );
        }
        if self.max_freq_fraction.is_nan() || self.max_freq_fraction > 1.0 {
            return bad(
                "max_freq_fraction",
                format!("must be at most 1, got {}", self.max_freq_fraction),
            );
        }
        let (lo, hi) = self.bin_range();
        if hi < lo + 2 {
            return bad(
                "max_freq_fraction",
                format!(
                    "the band covers {} FFT bins; at least 2 are needed",
                    hi - lo.min(hi)
                ),
            );
        }
        if !(self.pre_emphasis.is_finite() && (0.0..=1.0).contains(&self.pre_emphasis)) {
            return bad(
                "pre_emphasis",
                format!("must be in [0, 1], got {}", self.pre_emphasis),
            );
        }
        if !(self.log_floor.is_finite() && self.log_floor > 0.0) {
            return bad(
                "log_floor",
                format!("must be positive and finite, got {}", self.log_floor),
            );
        }
        Ok(())
    }
}

/// One triangular filter stored sparsely: weights for bins `first_bin..first_bin + weights.len()`
/// (bin indices relative to the band's first bin).
#[derive(Clone, Debug)]
struct SparseFilter {
    first_bin: usize,
    weights: Vec<f32>,
}

/// A validated, planned LFCC extractor; cheap to share across threads (`&Lfcc` is `Sync`).
pub struct Lfcc {
    config: LfccConfig,
    stft: PowerStft,
    min_bin: usize,
    max_bin: usize,
    filters: Vec<SparseFilter>,
    /// `[num_coefficients, num_filters]` row-major orthonormal DCT-II.
    dct: Vec<f32>,
}

/// Per-thread working buffers for [`Lfcc::compute_with`], so a hot loop allocates only its output.
pub struct LfccScratch {
    emphasised: Vec<f32>,
    stft: StftBuffers,
    power: Vec<f32>,
    log_fb: Vec<f32>,
}

/// Matlab `trimf` as the reference writes it: strict inequalities on both slopes, 1 at `x == b`.
fn trimf(x: f64, a: f64, b: f64, c: f64) -> f64 {
    if x == b {
        1.0
    } else if a < b && a < x && x < b {
        (x - a) / (b - a)
    } else if b < c && b < x && x < c {
        (c - x) / (c - b)
    } else {
        0.0
    }
}

/// `numpy.linspace(start, stop, n)` with the end point exact.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (stop - start) / (n - 1) as f64;
            (0..n)
                .map(|i| {
                    if i == n - 1 {
                        stop
                    } else {
                        start + step * i as f64
                    }
                })
                .collect()
        }
    }
}

/// The reference filter bank, one sparse triangle per filter.
fn linear_filter_bank(config: &LfccConfig, num_bins: usize) -> Vec<SparseFilter> {
    let nyquist_hz = config.sample_rate_hz as f64 / 2.0;
    // The reference spreads the band's bins evenly over [min, max]·sr/2, whatever the true bin
    // spacing (see the module docs for the 0.4 % shift this causes at max 0.5).
    let freqs_hz: Vec<f64> = linspace(config.min_freq_fraction, config.max_freq_fraction, num_bins)
        .into_iter()
        .map(|f| f * nyquist_hz)
        .collect();
    let f_lo = freqs_hz.first().copied().unwrap_or(0.0);
    let f_hi = freqs_hz.last().copied().unwrap_or(0.0);
    let edges = linspace(f_lo, f_hi, config.num_filters + 2);
    edges
        .windows(3)
        .map(|e| {
            let dense: Vec<f32> = freqs_hz
                .iter()
                .map(|&f| trimf(f, e[0], e[1], e[2]) as f32)
                .collect();
            let first = dense.iter().position(|&w| w != 0.0).unwrap_or(0);
            let last = dense
                .iter()
                .rposition(|&w| w != 0.0)
                .map_or(first, |i| i + 1);
            SparseFilter {
                first_bin: first,
                weights: dense[first..last.max(first)].to_vec(),
            }
        })
        .collect()
}

/// Orthonormal DCT-II rows `k < num_coefficients` over `num_filters` inputs (scipy/torch-dct
/// `dct(norm='ortho')`).
fn dct_ortho(num_coefficients: usize, num_filters: usize) -> Vec<f32> {
    let n = num_filters as f64;
    let mut m = Vec::with_capacity(num_coefficients * num_filters);
    for k in 0..num_coefficients {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for i in 0..num_filters {
            let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
            m.push((scale * angle.cos()) as f32);
        }
    }
    m
}

impl Lfcc {
    /// Validate `config` and plan the extractor.
    pub fn new(config: &LfccConfig) -> Result<Self, FeatureError> {
        config.validate()?;
        let (min_bin, max_bin) = config.bin_range();
        let stft = PowerStft::new(
            config.n_fft,
            config.frame_shift_samples,
            hamming_periodic(config.frame_length_samples),
        );
        Ok(Self {
            filters: linear_filter_bank(config, max_bin - min_bin),
            dct: dct_ortho(config.num_coefficients, config.num_filters),
            config: config.clone(),
            stft,
            min_bin,
            max_bin,
        })
    }

    /// The configuration this extractor was built from.
    pub fn config(&self) -> &LfccConfig {
        &self.config
    }

    /// Width of one output frame (60 with the defaults).
    pub fn num_dims(&self) -> usize {
        self.config.num_dims()
    }

    /// Frames produced for a clip of `num_samples` samples: `1 + n / hop`, or 0 for an empty clip.
    pub fn num_frames(&self, num_samples: usize) -> usize {
        self.stft.num_frames(num_samples)
    }

    /// Fresh working buffers for [`Lfcc::compute_with`].
    pub fn scratch(&self) -> LfccScratch {
        LfccScratch {
            emphasised: Vec::new(),
            stft: self.stft.buffers(),
            power: vec![0.0; self.stft.num_bins()],
            log_fb: vec![0.0; self.config.num_filters],
        }
    }

    /// LFCC of one clip (samples at `sample_rate_hz`): `[frames, num_dims]`.
    pub fn compute(&self, samples: &[f32]) -> Result<FrameMatrix, FeatureError> {
        self.compute_with(samples, &mut self.scratch())
    }

    /// LFCC of one clip reusing `scratch` (which must come from this extractor's [`Lfcc::scratch`]).
    pub fn compute_with(
        &self,
        samples: &[f32],
        scratch: &mut LfccScratch,
    ) -> Result<FrameMatrix, FeatureError> {
        let cfg = &self.config;
        let num_frames = self.num_frames(samples.len());
        let num_coef = cfg.num_coefficients;
        let mut out = FrameMatrix::zeros(num_frames, self.num_dims());
        if num_frames == 0 {
            return Ok(out);
        }

        let signal: &[f32] = if cfg.pre_emphasis != 0.0 {
            // As the reference: every sample but the first loses `coef` times its original
            // predecessor (computed from the unmodified input, not in place).
            let e = &mut scratch.emphasised;
            e.clear();
            e.reserve(samples.len());
            e.push(samples[0]);
            e.extend(samples.windows(2).map(|w| w[1] - cfg.pre_emphasis * w[0]));
            e
        } else {
            samples
        };

        let n_fft = self.stft.n_fft() as f32;
        for t in 0..num_frames {
            // Bins above the band are never read, so their power is not computed.
            let power = &mut scratch.power[..self.max_bin];
            self.stft.frame_power(signal, t, &mut scratch.stft, power)?;
            let band = &power[self.min_bin..];
            for (log_value, filter) in scratch.log_fb.iter_mut().zip(&self.filters) {
                let bins = &band[filter.first_bin..filter.first_bin + filter.weights.len()];
                let energy: f32 = bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum();
                *log_value = (energy + cfg.log_floor).log10();
            }
            let row = &mut out.values[t * out.num_dims..t * out.num_dims + num_coef];
            for (k, c) in row.iter_mut().enumerate() {
                let basis = &self.dct[k * cfg.num_filters..(k + 1) * cfg.num_filters];
                *c = basis.iter().zip(&scratch.log_fb).map(|(b, l)| b * l).sum();
            }
            if cfg.with_energy {
                let total: f32 = band.iter().sum();
                row[0] = (total / n_fft + cfg.log_floor).log10();
            }
        }

        if cfg.with_delta {
            append_delta(&mut out, 0, num_coef);
            append_delta(&mut out, num_coef, 2 * num_coef);
        }
        Ok(out)
    }

    /// LFCC of every clip of a batch, clips in parallel on the rayon pool, results in input order.
    pub fn compute_batch<S>(&self, clips: &[S]) -> Result<Vec<FrameMatrix>, FeatureError>
    where
        S: AsRef<[f32]> + Sync,
    {
        clips
            .par_iter()
            .map_init(
                || self.scratch(),
                |s, clip| self.compute_with(clip.as_ref(), s),
            )
            .collect()
    }
}

/// Write the delta of columns `src..src + n` into columns `dst..dst + n` of every frame, where
/// `n = dst - src`: `x[t+1] − x[t−1]` with the first and last frames replicated (the reference's
/// `delta()`: replicate padding by one frame, no division by 2).
fn append_delta(m: &mut FrameMatrix, src: usize, dst: usize) {
    let width = dst - src;
    let dims = m.num_dims;
    let last = m.num_frames - 1;
    for t in 0..m.num_frames {
        let next = (t + 1).min(last) * dims;
        let prev = t.saturating_sub(1) * dims;
        for j in 0..width {
            m.values[t * dims + dst + j] = m.values[next + src + j] - m.values[prev + src + j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_the_2021_baseline_and_valid() {
        let c = LfccConfig::default();
        assert_eq!(
            (
                c.frame_length_samples,
                c.frame_shift_samples,
                c.n_fft,
                c.num_filters
            ),
            (320, 160, 1024, 20)
        );
        assert_eq!(c.num_dims(), 60);
        assert_eq!(c.bin_range(), (0, 256));
        assert!(c.validate().is_ok());
        assert_eq!(LfccConfig::full_band_512().bin_range(), (0, 257));
    }

    #[test]
    fn invalid_fields_are_named() {
        let cases: Vec<(&str, LfccConfig)> = vec![
            (
                "n_fft",
                LfccConfig {
                    n_fft: 1,
                    ..Default::default()
                },
            ),
            (
                "frame_length_samples",
                LfccConfig {
                    frame_length_samples: 2048,
                    ..Default::default()
                },
            ),
            (
                "frame_shift_samples",
                LfccConfig {
                    frame_shift_samples: 0,
                    ..Default::default()
                },
            ),
            (
                "num_coefficients",
                LfccConfig {
                    num_coefficients: 21,
                    ..Default::default()
                },
            ),
            (
                "min_freq_fraction",
                LfccConfig {
                    min_freq_fraction: 0.6,
                    ..Default::default()
                },
            ),
            (
                "max_freq_fraction",
                LfccConfig {
                    max_freq_fraction: 1.5,
                    ..Default::default()
                },
            ),
            (
                "pre_emphasis",
                LfccConfig {
                    pre_emphasis: f32::NAN,
                    ..Default::default()
                },
            ),
            (
                "log_floor",
                LfccConfig {
                    log_floor: 0.0,
                    ..Default::default()
                },
            ),
            (
                "sample_rate_hz",
                LfccConfig {
                    sample_rate_hz: 0,
                    ..Default::default()
                },
            ),
        ];
        for (field, cfg) in cases {
            match Lfcc::new(&cfg) {
                Err(FeatureError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                Err(other) => panic!("{field}: unexpected error {other}"),
                Ok(_) => panic!("{field}: accepted an invalid config"),
            }
        }
    }

    #[test]
    fn unknown_config_keys_are_rejected_and_missing_ones_default() {
        let partial: LfccConfig = serde_json::from_str(r#"{"n_fft": 512}"#).unwrap();
        assert_eq!(partial.n_fft, 512);
        assert_eq!(partial.num_filters, 20);
        let err = serde_json::from_str::<LfccConfig>(r#"{"nfft": 512}"#).unwrap_err();
        assert!(err.to_string().contains("nfft"), "{err}");
    }

    #[test]
    fn dct_is_orthonormal() {
        let n = 20;
        let m = dct_ortho(n, n);
        for a in 0..n {
            for b in 0..n {
                let dot: f32 = (0..n).map(|i| m[a * n + i] * m[b * n + i]).sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-5, "rows {a},{b}: {dot}");
            }
        }
    }

    #[test]
    fn full_band_filters_are_a_partition_of_unity_inside_the_band() {
        // Adjacent triangles with shared edges sum to 1 between the first and last apex.
        let cfg = LfccConfig::full_band_512();
        let bank = linear_filter_bank(&cfg, 257);
        let mut sum = vec![0.0f32; 257];
        for f in &bank {
            for (i, w) in f.weights.iter().enumerate() {
                sum[f.first_bin + i] += w;
            }
        }
        // Edges at 8000/21·j Hz (j = 0..=21), apexes at j = 1..=20; bins are 31.25 Hz apart, so bins
        // 13..=243 lie between the first and the last apex.
        for (k, s) in sum.iter().enumerate().take(244).skip(13) {
            assert!((s - 1.0).abs() < 1e-5, "bin {k}: {s}");
        }
        // The outer edges (0 Hz and Nyquist) carry weight 0: 22 edges make 20 filters.
        assert_eq!(sum[0], 0.0);
        assert_eq!(sum[256], 0.0);
    }

    #[test]
    fn delta_replicates_edges_without_halving() {
        let mut m = FrameMatrix::zeros(4, 2);
        for (t, v) in [1.0, 4.0, 9.0, 16.0].into_iter().enumerate() {
            m.values[t * 2] = v;
        }
        append_delta(&mut m, 0, 1);
        let d: Vec<f32> = (0..4).map(|t| m.get(t, 1)).collect();
        assert_eq!(d, vec![4.0 - 1.0, 9.0 - 1.0, 16.0 - 4.0, 16.0 - 9.0]);
    }

    #[test]
    fn silence_gives_the_log_floor_not_infinity() {
        let lfcc = Lfcc::new(&LfccConfig::default()).unwrap();
        let out = lfcc.compute(&vec![0.0; 1000]).unwrap();
        assert_eq!(out.shape(), (1 + 1000 / 160, 60));
        let floor = f32::EPSILON.log10();
        for t in 0..out.num_frames {
            assert!(
                (out.get(t, 0) - floor).abs() < 1e-6,
                "energy {}",
                out.get(t, 0)
            );
            assert!(out.row(t)[1..].iter().all(|v| v.abs() < 1e-4));
        }
    }

    #[test]
    fn empty_and_one_sample_clips_do_not_panic() {
        let lfcc = Lfcc::new(&LfccConfig::default()).unwrap();
        assert_eq!(lfcc.compute(&[]).unwrap().shape(), (0, 60));
        let one = lfcc.compute(&[0.5]).unwrap();
        assert_eq!(one.shape(), (1, 60));
        assert!(one.values.iter().all(|v| v.is_finite()));
    }
}
