//! The recording chain around the talker: a microphone's frequency response (a high-pass and a
//! few peaking or shelving bands), clipping in an overdriven input stage, the level and DC
//! offset a recorder leaves, and a chain of sample-rate conversions as audio passes through
//! systems at other rates.

use serde::{Deserialize, Serialize};

use super::{mean_power, to_f32, to_f64, Biquad, ConditionError, SAMPLE_RATE_HZ};
use crate::audio::resample;
use crate::rng::Rng;

/// The shape of one equaliser band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilterKind {
    Peaking,
    LowShelf,
    HighShelf,
}

/// One equaliser band of a microphone response (RBJ cookbook biquads).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FilterSection {
    pub kind: FilterKind,
    /// Centre (peaking) or corner (shelves) frequency, Hz.
    pub freq_hz: f64,
    pub gain_db: f64,
    /// Quality factor of a peaking band (unused by shelves, whose slope is 1).
    pub q: f64,
}

/// A microphone or channel frequency response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MicResponseParams {
    /// Corner of the second-order high-pass, Hz.
    pub highpass_hz: f64,
    pub sections: Vec<FilterSection>,
}

impl MicResponseParams {
    /// A high-pass at 50–300 Hz and 2–4 bands of ±3–10 dB: peaks at 200–6000 Hz (log-uniform,
    /// Q 0.5–2.5), low shelves at 100–500 Hz, high shelves at 2–6 kHz.
    pub fn draw(rng: &mut Rng) -> Self {
        let highpass_hz = rng.uniform(50.0, 300.0);
        let num_sections = 2 + rng.below(3) as usize;
        let sections = (0..num_sections)
            .map(|_| {
                let (kind, freq_hz) = match rng.below(3) {
                    0 => (FilterKind::Peaking, 200.0 * 30f64.powf(rng.uniform01())),
                    1 => (FilterKind::LowShelf, rng.uniform(100.0, 500.0)),
                    _ => (FilterKind::HighShelf, rng.uniform(2000.0, 6000.0)),
                };
                let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
                FilterSection {
                    kind,
                    freq_hz,
                    gain_db: sign * rng.uniform(3.0, 10.0),
                    q: rng.uniform(0.5, 2.5),
                }
            })
            .collect();
        Self {
            highpass_hz,
            sections,
        }
    }
}

/// `x` through a microphone response (same length).
pub fn mic_response(x: &[f32], params: &MicResponseParams) -> Vec<f32> {
    let mut y = to_f64(x);
    Biquad::highpass(
        params.highpass_hz,
        std::f64::consts::FRAC_1_SQRT_2,
        SAMPLE_RATE_HZ,
    )
    .process(&mut y);
    for s in &params.sections {
        let filter = match s.kind {
            FilterKind::Peaking => {
                Biquad::peaking(s.freq_hz, s.gain_db, s.q.max(0.1), SAMPLE_RATE_HZ)
            }
            FilterKind::LowShelf => Biquad::shelf(s.freq_hz, s.gain_db, false, SAMPLE_RATE_HZ),
            FilterKind::HighShelf => Biquad::shelf(s.freq_hz, s.gain_db, true, SAMPLE_RATE_HZ),
        };
        filter.process(&mut y);
    }
    to_f32(&y)
}

/// Hard clipping: the signal is amplified until `clip_fraction` of its samples reach
/// `clip_level`, then cut at ±`clip_level`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipParams {
    /// Fraction of samples that end up at ±`clip_level` (0.01 = 1 %).
    pub clip_fraction: f64,
    /// Clip level, linear full scale.
    pub clip_level: f64,
}

impl ClipParams {
    /// 0.5–5 % of samples clipped at a level of 0.3–0.99.
    pub fn draw(rng: &mut Rng) -> Self {
        Self {
            clip_fraction: rng.uniform(0.005, 0.05),
            clip_level: rng.uniform(0.3, 0.99),
        }
    }
}

/// `x` amplified and clipped as `params` says (same length). Silence stays silent.
pub fn clip(x: &[f32], params: &ClipParams) -> Vec<f32> {
    let mut magnitudes: Vec<f32> = x.iter().map(|v| v.abs()).collect();
    let k = ((params.clip_fraction.clamp(0.0, 1.0) * x.len() as f64).ceil() as usize).max(1);
    if x.is_empty() || k > x.len() {
        return x.to_vec();
    }
    // The k-th largest magnitude becomes the clip level: the k loudest samples clip.
    let (_, kth, _) = magnitudes.select_nth_unstable_by(x.len() - k, |a, b| a.total_cmp(b));
    let threshold = *kth;
    if threshold <= 0.0 {
        return x.to_vec();
    }
    let level = params.clip_level as f32;
    let gain = level / threshold;
    x.iter().map(|&v| (v * gain).clamp(-level, level)).collect()
}

/// Hard clipping at `threshold` times the clip's own peak: every sample beyond ±threshold·peak
/// is cut there, with no make-up gain (the output's peak is threshold·peak). Silence stays
/// silent; a threshold of 1 or more changes nothing.
pub fn clip_to_peak_fraction(x: &[f32], threshold: f64) -> Vec<f32> {
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let level = (threshold.max(0.0) * peak as f64) as f32;
    if peak <= 0.0 || threshold >= 1.0 {
        return x.to_vec();
    }
    x.iter().map(|&v| v.clamp(-level, level)).collect()
}

/// Quality factors of the two sections of a fourth-order Butterworth filter:
/// 1 / (2·cos(π/8)) and 1 / (2·cos(3π/8)).
const BUTTERWORTH4_Q: [f64; 2] = [0.541_196_100_146_197, 1.306_562_964_876_376_6];

/// `x` (at `sample_rate_hz`) band-passed between `low_hz` and `high_hz` by fourth-order
/// Butterworth high- and low-pass filters (24 dB per octave, −3 dB at each corner), run once
/// forward (causal, as an analogue channel: a few samples of group delay near the corners).
/// A `low_hz` of 0 or less skips the high-pass; a `high_hz` at or above Nyquist skips the
/// low-pass. Same length as `x`.
pub fn band_limit(x: &[f32], sample_rate_hz: u32, low_hz: f64, high_hz: f64) -> Vec<f32> {
    let mut y = to_f64(x);
    let nyquist_hz = sample_rate_hz as f64 / 2.0;
    if low_hz > 0.0 && low_hz < nyquist_hz {
        for q in BUTTERWORTH4_Q {
            Biquad::highpass(low_hz, q, sample_rate_hz).process(&mut y);
        }
    }
    if high_hz > 0.0 && high_hz < nyquist_hz {
        for q in BUTTERWORTH4_Q {
            Biquad::lowpass(high_hz, q, sample_rate_hz).process(&mut y);
        }
    }
    to_f32(&y)
}

/// Final level and DC offset of a recording.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelParams {
    /// RMS level before the offset is added, dB relative to full scale.
    pub level_dbfs: f64,
    /// Constant added to every sample, linear full scale.
    pub dc_offset: f64,
}

impl LevelParams {
    /// −40 to −10 dBFS RMS and an offset of up to ±0.005.
    pub fn draw(rng: &mut Rng) -> Self {
        Self {
            level_dbfs: rng.uniform(-40.0, -10.0),
            dc_offset: rng.uniform(-0.005, 0.005),
        }
    }
}

/// `x` scaled to the RMS level and shifted by the offset (same length).
pub fn level_and_dc(x: &[f32], params: &LevelParams) -> Vec<f32> {
    let power = mean_power(x);
    let gain = if power > 0.0 {
        10f64.powf(params.level_dbfs / 20.0) / power.sqrt()
    } else {
        1.0
    };
    x.iter()
        .map(|&v| (v as f64 * gain + params.dc_offset) as f32)
        .collect()
}

/// Rates a resampling chain may pass through, Hz.
const CHAIN_RATES_HZ: [u32; 5] = [8_000, 11_025, 12_000, 22_050, 24_000];

/// A chain of sample-rate conversions: 16 kHz → each rate in turn → 16 kHz.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResampleChainParams {
    pub rates_hz: Vec<u32>,
}

impl ResampleChainParams {
    /// 1–3 hops through 8, 11.025, 12, 22.05 or 24 kHz (never the same rate twice in a row).
    pub fn draw(rng: &mut Rng) -> Self {
        let hops = 1 + rng.below(3) as usize;
        let mut rates_hz: Vec<u32> = Vec::with_capacity(hops);
        while rates_hz.len() < hops {
            let rate = CHAIN_RATES_HZ[rng.below(CHAIN_RATES_HZ.len() as u64) as usize];
            if rates_hz.last() != Some(&rate) {
                rates_hz.push(rate);
            }
        }
        Self { rates_hz }
    }

    /// The chain for keys, e.g. `16000>8000>22050>16000`.
    pub fn name(&self) -> String {
        let mut parts = vec![SAMPLE_RATE_HZ.to_string()];
        parts.extend(self.rates_hz.iter().map(|r| r.to_string()));
        parts.push(SAMPLE_RATE_HZ.to_string());
        parts.join(">")
    }
}

/// `x` through the chain of band-limited conversions, cut or zero-padded to its length (each
/// conversion may differ from the exact length by a sample).
pub fn resample_chain(x: &[f32], params: &ResampleChainParams) -> Result<Vec<f32>, ConditionError> {
    let mut rate_hz = SAMPLE_RATE_HZ;
    let mut y = x.to_vec();
    for &next_hz in params
        .rates_hz
        .iter()
        .chain(std::iter::once(&SAMPLE_RATE_HZ))
    {
        y = resample(&y, rate_hz, next_hz).map_err(|source| ConditionError::Resample {
            condition: "resample-chain",
            source,
        })?;
        rate_hz = next_hz;
    }
    y.resize(x.len(), 0.0);
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_signal(len: usize) -> Vec<f32> {
        let mut rng = Rng::new(12);
        (0..len)
            .map(|i| ((i as f64 * 0.031).sin() * 0.3 + 0.05 * rng.normal()) as f32)
            .collect()
    }

    #[test]
    fn clipping_hits_the_requested_fraction() {
        let x = test_signal(20_000);
        let mut rng = Rng::new(4);
        for _ in 0..20 {
            let params = ClipParams::draw(&mut rng);
            let y = clip(&x, &params);
            assert_eq!(y.len(), x.len());
            let level = params.clip_level as f32;
            let at_level = y.iter().filter(|v| v.abs() >= level * 0.999_999).count();
            let fraction = at_level as f64 / x.len() as f64;
            assert!((0.005..=0.05 + 1e-3).contains(&fraction), "{fraction}");
            assert!((fraction - params.clip_fraction).abs() < 1e-3, "{params:?}");
            assert!(y.iter().all(|v| v.abs() <= level));
        }
        assert_eq!(clip(&[0.0; 10], &ClipParams::draw(&mut rng)), vec![0.0; 10]);
    }

    #[test]
    fn level_and_offset_are_as_asked() {
        let x = test_signal(8000);
        let params = LevelParams {
            level_dbfs: -33.0,
            dc_offset: 0.004,
        };
        let y = level_and_dc(&x, &params);
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
        let x_mean = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
        let gain = 10f64.powf(-33.0 / 20.0) / mean_power(&x).sqrt();
        assert!((mean - (0.004 + gain * x_mean)).abs() < 1e-6);
        let centred: Vec<f32> = y.iter().map(|&v| v - 0.004).collect();
        assert!((10.0 * mean_power(&centred).log10() + 33.0).abs() < 1e-3);
    }

    #[test]
    fn mic_response_and_resampling_keep_length_and_are_deterministic() {
        let x = test_signal(12_345);
        let mut rng = Rng::new(21);
        for _ in 0..10 {
            let mic = MicResponseParams::draw(&mut rng);
            assert!((50.0..=300.0).contains(&mic.highpass_hz));
            assert!((2..=4).contains(&mic.sections.len()));
            let y = mic_response(&x, &mic);
            assert_eq!(y.len(), x.len());
            assert!(y.iter().all(|v| v.is_finite()));
            assert_eq!(y, mic_response(&x, &mic));
        }
        let chain = ResampleChainParams {
            rates_hz: vec![8_000, 22_050, 11_025],
        };
        let y = resample_chain(&x, &chain).unwrap();
        assert_eq!(y.len(), x.len());
        assert!(y.iter().all(|v| v.is_finite()));
        assert_eq!(chain.name(), "16000>8000>22050>11025>16000");
        // The 8 kHz hop removes everything above 4 kHz but keeps the 79 Hz tone.
        let tone: f64 = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
        assert!(tone > 0.8 * x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() * 0.9);
        let draws = ResampleChainParams::draw(&mut rng);
        assert!((1..=3).contains(&draws.rates_hz.len()));
    }
}
