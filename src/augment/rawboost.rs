//! RawBoost (Tak et al., ICASSP 2022): linear and non-linear convolutive noise (LnL), impulsive
//! signal-dependent noise (ISD) and stationary signal-independent noise (SSI), and the reference's
//! algorithms 0–8 that chain them.
//!
//! Semantics follow the reference `RawBoost.py` and its `process_Rawboost_feature` dispatch; every
//! draw comes from the caller's [`Rng`] (one stream per clip, see [`Rng::for_item`]), so a seed
//! reproduces a clip exactly. The training data path, the GUI preview and `dpda augment` call
//! [`rawboost`] or [`rawboost_batch`]; filtering runs through the FFT path of
//! [`crate::augment::fir`].

use std::cell::RefCell;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fir::{self, FirError};
use crate::rng::Rng;

/// The reference caps band edges at `fs/2 − 1/1000` and floors them at `1/1000` Hz.
const EDGE_MARGIN_HZ: f64 = 1e-3;
/// Limits that keep filter lengths and run time sane; the reference has none.
const MAX_TERMS: u32 = 64;
const MAX_BANDS: u32 = 64;
const MAX_COEFF: u32 = 4096;

/// Why RawBoost could not run.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum RawBoostError {
    /// A parameter is outside the range the algorithms can use.
    #[error("RawBoost parameter `{field}` {message}")]
    InvalidParam {
        field: &'static str,
        message: String,
    },
    /// Algorithm numbers run from 0 to 8.
    #[error("unknown RawBoost algorithm {0} (expected 0 to 8)")]
    UnknownAlgo(i64),
    /// Nothing to augment.
    #[error("cannot apply RawBoost to an empty clip")]
    EmptyClip,
    /// A designed filter was invalid (cannot happen once the parameters are validated).
    #[error(transparent)]
    Filter(#[from] FirError),
}

/// RawBoost settings; names follow the reference arguments with units added, defaults are the
/// reference defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBoostParams {
    /// `N_f`: number of LnL terms (powers of the input).
    pub n_f: u32,
    /// `nBands`: notch filters cascaded per coloured filter.
    pub n_bands: u32,
    /// `minF`: lowest notch centre frequency.
    pub min_f_hz: f64,
    /// `maxF`: highest notch centre frequency.
    pub max_f_hz: f64,
    /// `minBW`: narrowest notch bandwidth.
    pub min_bw_hz: f64,
    /// `maxBW`: widest notch bandwidth.
    pub max_bw_hz: f64,
    /// `minCoeff`: fewest filter taps per notch (made odd).
    pub min_coeff: u32,
    /// `maxCoeff`: most filter taps per notch (made odd).
    pub max_coeff: u32,
    /// `minG`: lowest filter gain.
    pub min_g_db: f64,
    /// `maxG`: highest filter gain.
    pub max_g_db: f64,
    /// `minBiasLinNonLin`: subtracted from `minG` for the non-linear LnL terms.
    pub min_bias_lin_non_lin_db: f64,
    /// `maxBiasLinNonLin`: subtracted from `maxG` for the non-linear LnL terms.
    pub max_bias_lin_non_lin_db: f64,
    /// `P`: most samples ISD may touch, in percent.
    pub p_percent: f64,
    /// `g_sd`: ISD gain.
    pub g_sd: f64,
    /// `SNRmin`: lowest SSI signal-to-noise ratio.
    pub snr_min_db: f64,
    /// `SNRmax`: highest SSI signal-to-noise ratio.
    pub snr_max_db: f64,
}

impl Default for RawBoostParams {
    fn default() -> Self {
        Self {
            n_f: 5,
            n_bands: 5,
            min_f_hz: 20.0,
            max_f_hz: 8000.0,
            min_bw_hz: 100.0,
            max_bw_hz: 1000.0,
            min_coeff: 10,
            max_coeff: 100,
            min_g_db: 0.0,
            max_g_db: 0.0,
            min_bias_lin_non_lin_db: 5.0,
            max_bias_lin_non_lin_db: 20.0,
            p_percent: 10.0,
            g_sd: 2.0,
            snr_min_db: 10.0,
            snr_max_db: 40.0,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> RawBoostError {
    RawBoostError::InvalidParam {
        field,
        message: message.into(),
    }
}

fn check_finite(field: &'static str, value: f64) -> Result<(), RawBoostError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be a finite number, got {value}"),
        ))
    }
}

impl RawBoostParams {
    /// Check every field on its own; ranges may be given high-to-low, as numpy's `uniform` allows.
    pub fn validate(&self) -> Result<(), RawBoostError> {
        if !(1..=MAX_TERMS).contains(&self.n_f) {
            return Err(invalid(
                "n_f",
                format!("must be 1 to {MAX_TERMS}, got {}", self.n_f),
            ));
        }
        if !(1..=MAX_BANDS).contains(&self.n_bands) {
            return Err(invalid(
                "n_bands",
                format!("must be 1 to {MAX_BANDS}, got {}", self.n_bands),
            ));
        }
        for (field, value) in [("min_coeff", self.min_coeff), ("max_coeff", self.max_coeff)] {
            if !(1..=MAX_COEFF).contains(&value) {
                return Err(invalid(
                    field,
                    format!("must be 1 to {MAX_COEFF}, got {value}"),
                ));
            }
        }
        let floats = [
            ("min_f_hz", self.min_f_hz),
            ("max_f_hz", self.max_f_hz),
            ("min_bw_hz", self.min_bw_hz),
            ("max_bw_hz", self.max_bw_hz),
            ("min_g_db", self.min_g_db),
            ("max_g_db", self.max_g_db),
            ("min_bias_lin_non_lin_db", self.min_bias_lin_non_lin_db),
            ("max_bias_lin_non_lin_db", self.max_bias_lin_non_lin_db),
            ("p_percent", self.p_percent),
            ("g_sd", self.g_sd),
            ("snr_min_db", self.snr_min_db),
            ("snr_max_db", self.snr_max_db),
        ];
        for (field, value) in floats {
            check_finite(field, value)?;
        }
        for (field, value) in [("min_f_hz", self.min_f_hz), ("max_f_hz", self.max_f_hz)] {
            if value < 0.0 {
                return Err(invalid(field, format!("must be ≥ 0 Hz, got {value}")));
            }
        }
        for (field, value) in [("min_bw_hz", self.min_bw_hz), ("max_bw_hz", self.max_bw_hz)] {
            if value <= 0.0 {
                return Err(invalid(field, format!("must be > 0 Hz, got {value}")));
            }
        }
        if !(0.0..=100.0).contains(&self.p_percent) {
            return Err(invalid(
                "p_percent",
                format!("must be 0 to 100 %, got {}", self.p_percent),
            ));
        }
        if self.g_sd < 0.0 {
            return Err(invalid("g_sd", format!("must be ≥ 0, got {}", self.g_sd)));
        }
        Ok(())
    }

    /// [`Self::validate`] plus the checks that depend on the sample rate: every band the ranges
    /// can draw must keep `0 < f1 < f2 < fs/2` after the reference's edge clamping (a centre
    /// above fs/2 is allowed; its upper edge is capped as in the reference).
    pub fn validate_for_rate(&self, sample_rate_hz: u32) -> Result<(), RawBoostError> {
        self.validate()?;
        if sample_rate_hz == 0 {
            return Err(invalid("sample_rate_hz", "must be > 0"));
        }
        let nyquist_hz = sample_rate_hz as f64 / 2.0;
        let narrowest_bw_hz = self.min_bw_hz.min(self.max_bw_hz);
        let highest_f1_hz = self.min_f_hz.max(self.max_f_hz) - narrowest_bw_hz / 2.0;
        if highest_f1_hz >= nyquist_hz - EDGE_MARGIN_HZ {
            return Err(invalid(
                "max_f_hz",
                format!(
                    "puts a notch's lower edge at {highest_f1_hz} Hz, at or above the Nyquist \
                     frequency {nyquist_hz} Hz of a {sample_rate_hz} Hz clip"
                ),
            ));
        }
        let lowest_f2_hz = self.min_f_hz.min(self.max_f_hz) + narrowest_bw_hz / 2.0;
        if lowest_f2_hz <= EDGE_MARGIN_HZ {
            return Err(invalid(
                "min_f_hz",
                format!("puts a notch's upper edge at {lowest_f2_hz} Hz, not above 0"),
            ));
        }
        Ok(())
    }
}

/// The RawBoost algorithm number used by the reference (`--algo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum RawBoostAlgo {
    /// 0: the clip unchanged.
    None,
    /// 1: linear and non-linear convolutive noise.
    Lnl,
    /// 2: impulsive signal-dependent noise.
    Isd,
    /// 3: stationary signal-independent (coloured additive) noise.
    Ssi,
    /// 4: LnL → ISD → SSI in series.
    LnlIsdSsi,
    /// 5: LnL → ISD in series.
    LnlIsd,
    /// 6: LnL → SSI in series.
    LnlSsi,
    /// 7: ISD → SSI in series.
    IsdSsi,
    /// 8: LnL and ISD applied to the original in parallel, summed, then peak-normalised.
    LnlParallelIsd,
}

impl RawBoostAlgo {
    /// All algorithms in reference order.
    pub const ALL: [RawBoostAlgo; 9] = [
        RawBoostAlgo::None,
        RawBoostAlgo::Lnl,
        RawBoostAlgo::Isd,
        RawBoostAlgo::Ssi,
        RawBoostAlgo::LnlIsdSsi,
        RawBoostAlgo::LnlIsd,
        RawBoostAlgo::LnlSsi,
        RawBoostAlgo::IsdSsi,
        RawBoostAlgo::LnlParallelIsd,
    ];

    /// The algorithm with reference number `number` (0 to 8).
    pub fn from_number(number: i64) -> Result<Self, RawBoostError> {
        usize::try_from(number)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
            .ok_or(RawBoostError::UnknownAlgo(number))
    }

    /// The reference number of this algorithm.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Whether the algorithm designs notch filters (LnL or SSI), which needs a sample rate that
    /// fits the frequency ranges.
    pub fn uses_filters(self) -> bool {
        !matches!(self, RawBoostAlgo::None | RawBoostAlgo::Isd)
    }

    /// A short description, e.g. "LnL → ISD → SSI".
    pub fn describe(self) -> &'static str {
        match self {
            RawBoostAlgo::None => "none",
            RawBoostAlgo::Lnl => "LnL convolutive",
            RawBoostAlgo::Isd => "ISD impulsive",
            RawBoostAlgo::Ssi => "SSI coloured additive",
            RawBoostAlgo::LnlIsdSsi => "LnL → ISD → SSI",
            RawBoostAlgo::LnlIsd => "LnL → ISD",
            RawBoostAlgo::LnlSsi => "LnL → SSI",
            RawBoostAlgo::IsdSsi => "ISD → SSI",
            RawBoostAlgo::LnlParallelIsd => "LnL ∥ ISD",
        }
    }
}

impl TryFrom<i64> for RawBoostAlgo {
    type Error = RawBoostError;
    fn try_from(number: i64) -> Result<Self, Self::Error> {
        Self::from_number(number)
    }
}

impl From<RawBoostAlgo> for i64 {
    fn from(algo: RawBoostAlgo) -> i64 {
        algo.number() as i64
    }
}

impl std::fmt::Display for RawBoostAlgo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.number(), self.describe())
    }
}

/// One drawn notch of a coloured filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotchBand {
    /// Drawn centre frequency.
    pub centre_hz: f64,
    /// Drawn bandwidth.
    pub bandwidth_hz: f64,
    /// Lower band edge after flooring at 0.001 Hz.
    pub f1_hz: f64,
    /// Upper band edge after capping at fs/2 − 0.001 Hz.
    pub f2_hz: f64,
    /// Taps of this notch (odd).
    pub num_taps: usize,
}

/// A drawn notch cascade: the reference's `genNotchCoeffs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotchFilter {
    /// The notches, in cascade order.
    pub bands: Vec<NotchBand>,
    /// Drawn gain applied after normalising the peak response to 1.
    pub gain_db: f64,
    /// Cascade taps, scaled to peak response `10^(gain/20)`.
    pub taps: Vec<f64>,
}

/// What LnL drew.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LnlReport {
    /// One filter per term; term `i` filters `x^(i+1)`.
    pub terms: Vec<NotchFilter>,
    /// Whether the sum exceeded 1 in magnitude and was divided by its peak.
    pub peak_normalised: bool,
}

/// What ISD drew.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IsdReport {
    /// Drawn β: the share of samples to disturb, in percent (≤ P).
    pub beta_percent: f64,
    /// Number of positions disturbed: `int(len·β/100)`.
    pub num_changed: usize,
    /// `num_changed / len`.
    pub changed_share: f64,
    /// Whether the result exceeded 1 in magnitude and was divided by its peak.
    pub peak_normalised: bool,
}

/// What SSI drew.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SsiReport {
    /// The colouring filter of the noise.
    pub filter: NotchFilter,
    /// Drawn signal-to-noise ratio.
    pub snr_db: f64,
    /// Signal-to-noise ratio of the noise actually added; `None` for a silent clip.
    pub realised_snr_db: Option<f64>,
}

/// Realised figures of one RawBoost application, for display and logs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RawBoostReport {
    /// The algorithm number applied.
    pub algo: u8,
    /// Present when LnL ran.
    pub lnl: Option<LnlReport>,
    /// Present when ISD ran.
    pub isd: Option<IsdReport>,
    /// Present when SSI ran.
    pub ssi: Option<SsiReport>,
    /// Algorithm 8 only: whether the parallel sum was divided by its peak.
    pub sum_peak_normalised: bool,
}

/// An augmented clip and what was drawn to make it.
#[derive(Clone, Debug, PartialEq)]
pub struct Augmented {
    /// Augmented samples, as many as the input.
    pub samples: Vec<f32>,
    /// Realised figures.
    pub report: RawBoostReport,
}

/// Draw and design a notch cascade as the reference's `genNotchCoeffs`: per band a centre, a
/// bandwidth and a tap count (drawn in that order), then the gain.
pub fn draw_notch_filter(
    params: &RawBoostParams,
    min_g_db: f64,
    max_g_db: f64,
    sample_rate_hz: u32,
    rng: &mut Rng,
) -> Result<NotchFilter, RawBoostError> {
    let fs_hz = sample_rate_hz as f64;
    let mut bands = Vec::with_capacity(params.n_bands as usize);
    let mut taps = vec![1.0];
    for _ in 0..params.n_bands {
        let centre_hz = rng.uniform(params.min_f_hz, params.max_f_hz);
        let bandwidth_hz = rng.uniform(params.min_bw_hz, params.max_bw_hz);
        // int() truncation of the uniform draw, then made odd.
        let drawn = rng.uniform(params.min_coeff as f64, params.max_coeff as f64) as usize;
        let num_taps = fir::odd_taps(drawn);
        let mut f1_hz = centre_hz - bandwidth_hz / 2.0;
        let mut f2_hz = centre_hz + bandwidth_hz / 2.0;
        if f1_hz <= 0.0 {
            f1_hz = EDGE_MARGIN_HZ;
        }
        if f2_hz >= fs_hz / 2.0 {
            f2_hz = fs_hz / 2.0 - EDGE_MARGIN_HZ;
        }
        let band = fir::firwin_bandstop(num_taps, f1_hz, f2_hz, fs_hz)?;
        taps = fir::convolve(&band, &taps);
        bands.push(NotchBand {
            centre_hz,
            bandwidth_hz,
            f1_hz,
            f2_hz,
            num_taps,
        });
    }
    let gain_db = rng.uniform(min_g_db, max_g_db);
    let peak = fir::freqz_max_abs(&taps);
    let scale = 10f64.powf(gain_db / 20.0) / peak;
    if scale.is_finite() {
        taps.iter_mut().for_each(|t| *t *= scale);
    }
    Ok(NotchFilter {
        bands,
        gain_db,
        taps,
    })
}

/// Lanes of the reductions below: independent accumulators let the compiler vectorise them
/// (a single running `f64` sum or `max` is a serial chain).
const LANES: usize = 8;

fn peak_abs(y: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let chunks = y.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (m, v) in lanes.iter_mut().zip(chunk) {
            let a = v.abs();
            // NaN is skipped, like `f32::max`.
            *m = if a > *m { a } else { *m };
        }
    }
    rest.iter()
        .chain(&lanes)
        .fold(0.0f32, |m, v| m.max(v.abs()))
}

/// `Σ v²` in `f64`.
fn sum_squares(v: &[f32]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (acc, &s) in lanes.iter_mut().zip(chunk) {
            *acc += s as f64 * s as f64;
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().map(|&s| s as f64 * s as f64).sum::<f64>()
}

/// The reference's `normWav(y, 0)`: divide by the peak only when it exceeds 1.
fn normalise_if_over_one(y: &mut [f32]) -> bool {
    let peak = peak_abs(y);
    if peak > 1.0 {
        y.iter_mut().for_each(|v| *v /= peak);
        true
    } else {
        false
    }
}

/// LnL convolutive noise: `Σ_{i<N_f} filter_i(x^(i+1))`, minus its mean, peak-normalised if over 1.
///
/// From the second term on the gain range is shifted by the LnL biases (once, then kept), which
/// with the defaults gives `U[−5, −20]` dB — low above high, as the reference draws it.
pub fn lnl_convolutive_noise(
    x: &[f32],
    sample_rate_hz: u32,
    params: &RawBoostParams,
    rng: &mut Rng,
) -> Result<(Vec<f32>, LnlReport), RawBoostError> {
    let mut terms = Vec::with_capacity(params.n_f as usize);
    for i in 0..params.n_f {
        let (min_g_db, max_g_db) = if i == 0 {
            (params.min_g_db, params.max_g_db)
        } else {
            (
                params.min_g_db - params.min_bias_lin_non_lin_db,
                params.max_g_db - params.max_bias_lin_non_lin_db,
            )
        };
        terms.push(draw_notch_filter(
            params,
            min_g_db,
            max_g_db,
            sample_rate_hz,
            rng,
        )?);
    }
    let filters: Vec<Vec<f64>> = terms.iter().map(|t| t.taps.clone()).collect();
    let mut y = fir::fir_sum_crop_fft(x, &filters);
    if !y.is_empty() {
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
        y.iter_mut().for_each(|v| *v = (*v as f64 - mean) as f32);
    }
    let peak_normalised = normalise_if_over_one(&mut y);
    Ok((
        y,
        LnlReport {
            terms,
            peak_normalised,
        },
    ))
}

/// ISD impulsive noise: β ~ U[0, P]; `int(len·β/100)` distinct positions get
/// `x + g_sd·x·(2u₁−1)(2u₂−1)`; peak-normalised if over 1.
///
/// The reference draws a permutation, then all first factors, then all second factors; here each
/// position is drawn with its two factors and changed at once (the same distribution, one pass).
pub fn isd_additive_noise(
    x: &[f32],
    params: &RawBoostParams,
    rng: &mut Rng,
) -> (Vec<f32>, IsdReport) {
    let len = x.len();
    let beta_percent = rng.uniform(0.0, params.p_percent);
    let num_changed = ((len as f64 * (beta_percent / 100.0)) as usize).min(len);
    let mut y = x.to_vec();
    let x_peak = peak_abs(x);
    let mut changed_peak = 0.0f32;
    let g_sd = params.g_sd;
    let mut change = |p: usize, rng: &mut Rng| {
        let a = 2.0 * rng.uniform01() - 1.0;
        let b = 2.0 * rng.uniform01() - 1.0;
        let xp = x[p] as f64;
        let v = (xp + g_sd * xp * a * b) as f32;
        y[p] = v;
        changed_peak = changed_peak.max(v.abs());
    };
    if num_changed * 2 > len {
        // Dense: a partial shuffle is cheaper than rejecting repeats.
        for p in rng.choose_distinct(len, num_changed) {
            change(p, rng);
        }
    } else {
        // Sparse: reject repeats against a bit mask, far cheaper than hashing.
        TAKEN.with(|taken| {
            let mut taken = taken.borrow_mut();
            taken.clear();
            taken.resize(len.div_ceil(64), 0);
            let mut done = 0;
            while done < num_changed {
                let p = rng.below(len as u64) as usize;
                let (word, bit) = (p / 64, 1u64 << (p % 64));
                if taken[word] & bit == 0 {
                    taken[word] |= bit;
                    change(p, rng);
                    done += 1;
                }
            }
        });
    }
    // peak(y) = max(peak of the changed values, peak of x at unchanged positions); only when
    // x's peak may sit at an unchanged position and exceed 1 is a full pass needed.
    let peak = if changed_peak >= x_peak {
        changed_peak
    } else if x_peak <= 1.0 {
        x_peak
    } else {
        peak_abs(&y)
    };
    let peak_normalised = peak > 1.0;
    if peak_normalised {
        y.iter_mut().for_each(|v| *v /= peak);
    }
    let changed_share = if len == 0 {
        0.0
    } else {
        num_changed as f64 / len as f64
    };
    (
        y,
        IsdReport {
            beta_percent,
            num_changed,
            changed_share,
            peak_normalised,
        },
    )
}

thread_local! {
    /// ISD's bit mask of changed positions, kept between clips.
    static TAKEN: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    /// SSI's white noise, kept between clips.
    static WHITE: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// SSI coloured additive noise: white Gaussian noise through a drawn notch cascade, scaled to
/// `‖x‖₂ / 10^(SNR/20)` with SNR ~ U[SNRmin, SNRmax], added. A silent clip gets no noise.
///
/// The reference peak-normalises the noise before the L2 scaling; that factor cancels, so it is
/// skipped here.
pub fn ssi_additive_noise(
    x: &[f32],
    sample_rate_hz: u32,
    params: &RawBoostParams,
    rng: &mut Rng,
) -> Result<(Vec<f32>, SsiReport), RawBoostError> {
    let (mut y, filter) = WHITE.with(|white| {
        let mut white = white.borrow_mut();
        white.resize(x.len(), 0.0);
        super::normal::fill_standard_normal_f32(rng, &mut white);
        draw_notch_filter(
            params,
            params.min_g_db,
            params.max_g_db,
            sample_rate_hz,
            rng,
        )
        .map(|filter| {
            let noise = fir::fir_sum_crop_fft(&white, std::slice::from_ref(&filter.taps));
            (noise, filter)
        })
    })?;
    let snr_db = rng.uniform(params.snr_min_db, params.snr_max_db);
    let signal_norm = sum_squares(x).sqrt();
    let noise_norm = sum_squares(&y).sqrt();
    let scale = if noise_norm > 0.0 {
        (signal_norm / noise_norm / 10f64.powf(0.05 * snr_db)) as f32
    } else {
        0.0
    };
    // One pass: scale the noise, measure what is added, add it (in the noise's buffer).
    let mut lanes = [0.0f64; LANES];
    let mut y_chunks = y.chunks_exact_mut(LANES);
    let mut x_chunks = x.chunks_exact(LANES);
    for (yc, xc) in (&mut y_chunks).zip(&mut x_chunks) {
        for ((acc, v), &s) in lanes.iter_mut().zip(yc).zip(xc) {
            let n = *v * scale;
            *acc += n as f64 * n as f64;
            *v = s + n;
        }
    }
    let mut added_sq = lanes.iter().sum::<f64>();
    for (v, &s) in y_chunks
        .into_remainder()
        .iter_mut()
        .zip(x_chunks.remainder())
    {
        let n = *v * scale;
        added_sq += n as f64 * n as f64;
        *v = s + n;
    }
    let added_norm = added_sq.sqrt();
    let realised_snr_db =
        (signal_norm > 0.0 && added_norm > 0.0).then(|| 20.0 * (signal_norm / added_norm).log10());
    Ok((
        y,
        SsiReport {
            filter,
            snr_db,
            realised_snr_db,
        },
    ))
}

/// Apply RawBoost algorithm `algo` to one clip, drawing from `rng`; the output has as many samples
/// as the input. Dispatch as the reference's `process_Rawboost_feature`.
pub fn rawboost(
    x: &[f32],
    sample_rate_hz: u32,
    algo: RawBoostAlgo,
    params: &RawBoostParams,
    rng: &mut Rng,
) -> Result<Augmented, RawBoostError> {
    if algo.uses_filters() {
        params.validate_for_rate(sample_rate_hz)?;
    } else {
        params.validate()?;
    }
    if x.is_empty() {
        return Err(RawBoostError::EmptyClip);
    }
    let mut report = RawBoostReport {
        algo: algo.number(),
        ..RawBoostReport::default()
    };
    let run_lnl = |x: &[f32], rng: &mut Rng, report: &mut RawBoostReport| {
        lnl_convolutive_noise(x, sample_rate_hz, params, rng).map(|(y, r)| {
            report.lnl = Some(r);
            y
        })
    };
    let run_isd = |x: &[f32], rng: &mut Rng, report: &mut RawBoostReport| {
        let (y, r) = isd_additive_noise(x, params, rng);
        report.isd = Some(r);
        y
    };
    let run_ssi = |x: &[f32], rng: &mut Rng, report: &mut RawBoostReport| {
        ssi_additive_noise(x, sample_rate_hz, params, rng).map(|(y, r)| {
            report.ssi = Some(r);
            y
        })
    };
    let samples = match algo {
        RawBoostAlgo::None => x.to_vec(),
        RawBoostAlgo::Lnl => run_lnl(x, rng, &mut report)?,
        RawBoostAlgo::Isd => run_isd(x, rng, &mut report),
        RawBoostAlgo::Ssi => run_ssi(x, rng, &mut report)?,
        RawBoostAlgo::LnlIsdSsi => {
            let y = run_lnl(x, rng, &mut report)?;
            let y = run_isd(&y, rng, &mut report);
            run_ssi(&y, rng, &mut report)?
        }
        RawBoostAlgo::LnlIsd => {
            let y = run_lnl(x, rng, &mut report)?;
            run_isd(&y, rng, &mut report)
        }
        RawBoostAlgo::LnlSsi => {
            let y = run_lnl(x, rng, &mut report)?;
            run_ssi(&y, rng, &mut report)?
        }
        RawBoostAlgo::IsdSsi => {
            let y = run_isd(x, rng, &mut report);
            run_ssi(&y, rng, &mut report)?
        }
        RawBoostAlgo::LnlParallelIsd => {
            let convolutive = run_lnl(x, rng, &mut report)?;
            let impulsive = run_isd(x, rng, &mut report);
            let mut y: Vec<f32> = convolutive
                .iter()
                .zip(&impulsive)
                .map(|(a, b)| a + b)
                .collect();
            report.sum_peak_normalised = normalise_if_over_one(&mut y);
            y
        }
    };
    Ok(Augmented { samples, report })
}

/// Apply RawBoost to many clips in parallel (rayon); clip `i` draws from
/// `Rng::for_item(seed, epoch, i)`, so results do not depend on scheduling.
pub fn rawboost_batch(
    clips: &[&[f32]],
    sample_rate_hz: u32,
    algo: RawBoostAlgo,
    params: &RawBoostParams,
    seed: u64,
    epoch: u64,
) -> Vec<Result<Augmented, RawBoostError>> {
    clips
        .par_iter()
        .enumerate()
        .map(|(i, clip)| {
            let mut rng = Rng::for_item(seed, epoch, i as u64);
            rawboost(clip, sample_rate_hz, algo, params, &mut rng)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_at_16k_and_fail_at_8k_naming_max_f() {
        let p = RawBoostParams::default();
        p.validate_for_rate(16_000).unwrap();
        match p.validate_for_rate(8_000) {
            Err(RawBoostError::InvalidParam { field, .. }) => assert_eq!(field, "max_f_hz"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validate_names_the_bad_field() {
        let cases: Vec<(RawBoostParams, &str)> = vec![
            (
                RawBoostParams {
                    n_bands: 0,
                    ..Default::default()
                },
                "n_bands",
            ),
            (
                RawBoostParams {
                    n_f: 0,
                    ..Default::default()
                },
                "n_f",
            ),
            (
                RawBoostParams {
                    p_percent: -1.0,
                    ..Default::default()
                },
                "p_percent",
            ),
            (
                RawBoostParams {
                    min_coeff: 0,
                    ..Default::default()
                },
                "min_coeff",
            ),
            (
                RawBoostParams {
                    min_bw_hz: 0.0,
                    ..Default::default()
                },
                "min_bw_hz",
            ),
            (
                RawBoostParams {
                    snr_max_db: f64::NAN,
                    ..Default::default()
                },
                "snr_max_db",
            ),
            (
                RawBoostParams {
                    g_sd: -2.0,
                    ..Default::default()
                },
                "g_sd",
            ),
        ];
        for (p, expected) in cases {
            match p.validate() {
                Err(e @ RawBoostError::InvalidParam { field, .. }) => {
                    assert_eq!(field, expected);
                    assert!(e.to_string().contains(expected));
                }
                other => panic!("{expected}: {other:?}"),
            }
        }
    }

    #[test]
    fn params_deserialise_with_defaults_and_reject_unknown_fields() {
        let p: RawBoostParams = serde_json::from_str(r#"{"n_f": 3}"#).unwrap();
        assert_eq!(
            p,
            RawBoostParams {
                n_f: 3,
                ..Default::default()
            }
        );
        assert!(serde_json::from_str::<RawBoostParams>(r#"{"nf": 3}"#).is_err());
    }

    #[test]
    fn algo_numbers_round_trip_and_out_of_range_fails() {
        for (i, algo) in RawBoostAlgo::ALL.iter().enumerate() {
            assert_eq!(RawBoostAlgo::from_number(i as i64).unwrap(), *algo);
            assert_eq!(algo.number() as usize, i);
        }
        assert_eq!(
            RawBoostAlgo::from_number(9),
            Err(RawBoostError::UnknownAlgo(9))
        );
        assert_eq!(
            RawBoostAlgo::from_number(-1),
            Err(RawBoostError::UnknownAlgo(-1))
        );
    }

    #[test]
    fn notch_filter_peak_response_equals_drawn_gain() {
        let p = RawBoostParams {
            min_g_db: -6.0,
            max_g_db: 3.0,
            ..Default::default()
        };
        let mut rng = Rng::new(5);
        for _ in 0..20 {
            let f = draw_notch_filter(&p, p.min_g_db, p.max_g_db, 16_000, &mut rng).unwrap();
            let peak = fir::freqz_max_abs(&f.taps);
            assert!((20.0 * peak.log10() - f.gain_db).abs() < 1e-9);
            assert!((-6.0..3.0).contains(&f.gain_db));
            assert_eq!(f.bands.len(), 5);
            assert_eq!(
                f.taps.len(),
                f.bands.iter().map(|b| b.num_taps - 1).sum::<usize>() + 1
            );
            for b in &f.bands {
                assert!(b.num_taps % 2 == 1 && (11..=101).contains(&b.num_taps));
                assert!(b.f1_hz > 0.0 && b.f2_hz < 8000.0 && b.f1_hz < b.f2_hz);
            }
        }
    }

    #[test]
    fn isd_changes_exactly_the_drawn_number_of_positions_sparse_and_dense() {
        // |x| ≤ 0.3 and g_sd = 2 keep |y| ≤ 0.9: no normalisation, so every change is visible.
        let x: Vec<f32> = (0..5000)
            .map(|n| 0.05 + 0.25 * ((n * 7919 % 1000) as f32 / 1000.0))
            .collect();
        for (p_percent, seed) in [(10.0, 1), (90.0, 2), (100.0, 3), (0.0, 4)] {
            let params = RawBoostParams {
                p_percent,
                ..Default::default()
            };
            let (y, report) = isd_additive_noise(&x, &params, &mut Rng::new(seed));
            assert!(!report.peak_normalised);
            let changed = x.iter().zip(&y).filter(|(a, b)| a != b).count();
            assert_eq!(changed, report.num_changed, "P {p_percent}");
            assert!(report.num_changed as f64 <= 5000.0 * p_percent / 100.0);
        }
    }

    #[test]
    fn isd_peak_shortcut_agrees_with_a_full_pass() {
        // Clips whose peak sits anywhere, above and below 1, with and without changes there.
        for seed in 0..40u64 {
            let mut rng = Rng::new(100 + seed);
            let scale = [0.2f32, 0.9, 1.5, 3.0][seed as usize % 4];
            let x: Vec<f32> = (0..3000).map(|_| scale * rng.normal() as f32).collect();
            let params = RawBoostParams {
                p_percent: [1.0, 10.0, 60.0][seed as usize % 3],
                ..Default::default()
            };
            let (y, report) = isd_additive_noise(&x, &params, &mut Rng::new(seed));
            let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(peak <= 1.0 + 1e-6, "seed {seed}: {peak}");
            if report.peak_normalised {
                assert!((peak - 1.0).abs() < 1e-6, "seed {seed}: {peak}");
            }
        }
    }

    #[test]
    fn lane_reductions_match_plain_loops() {
        let v: Vec<f32> = (0..1037).map(|n| ((n * 37 % 101) as f32 - 50.0) / 7.0).collect();
        for len in [0usize, 1, 7, 8, 9, 1037] {
            let part = &v[..len];
            let peak = part.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let sq: f64 = part.iter().map(|&x| x as f64 * x as f64).sum();
            assert_eq!(peak_abs(part), peak);
            assert!((sum_squares(part) - sq).abs() <= 1e-9 * sq.max(1.0));
        }
    }

    #[test]
    fn lnl_gain_of_later_terms_is_between_the_shifted_bounds() {
        let mut rng = Rng::new(8);
        let x: Vec<f32> = (0..2000).map(|n| (n as f32 * 0.05).sin() * 0.5).collect();
        let (_, report) =
            lnl_convolutive_noise(&x, 16_000, &RawBoostParams::default(), &mut rng).unwrap();
        assert_eq!(report.terms.len(), 5);
        assert_eq!(report.terms[0].gain_db, 0.0);
        for t in &report.terms[1..] {
            assert!((-20.0..=-5.0).contains(&t.gain_db), "{}", t.gain_db);
        }
    }
}
