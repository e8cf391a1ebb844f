//! Explanations of a clip's score by **occlusion** (not integrated gradients): which
//! time-frequency regions push the score towards bona fide or towards spoofed, and how much of
//! that rests on non-speech audio (the silence shortcut check).
//!
//! What is explained is what the model sees: the clip's first `num_samples` samples (a shorter
//! clip is explained whole; the scorer repeats it to length, occluded tile included).
//!
//! - **Tiles.** That audio is cut into time blocks of about `tile_s` seconds (`round(n / tile)`
//!   blocks, at least one; the last takes the remainder, so it lasts between half and one and a
//!   half tiles) and `bands` frequency bands of equal width from 0 Hz to the Nyquist frequency.
//! - **Occlusion.** A tile is removed by zeroing its bins in a complex STFT (512-sample periodic
//!   Hann window, hop 128 samples; a frame belongs to the block its centre lies in) and the clip
//!   is resynthesised by weighted overlap-add ([`crate::features::resynth`]). The baseline is
//!   therefore silence in that region; the window's spread smears the edit by up to 256 samples
//!   and a few bins around the tile.
//! - **Attribution.** `attribution(tile) = score(clip) − score(clip without the tile)`, in logit
//!   units: positive means the tile pushes the score towards bona fide (removing it lowers the
//!   score), negative towards spoofed. Interactions between tiles are not captured; the sum of
//!   all attributions is reported beside `score(clip) − score(everything occluded)` (a silent
//!   clip) as a completeness check: they agree only for a model additive over tiles.
//! - **Speech vs non-speech.** A simple energy detector ([`speech_frames`]) marks 20 ms frames
//!   as speech; each tile's absolute attribution is split between speech and non-speech time in
//!   proportion to its block's speech fraction. When the non-speech share exceeds
//!   [`NON_SPEECH_FLAG_SHARE`] the explanation is flagged: the score rests mostly on non-speech
//!   audio, the leading/trailing silence shortcut known from ASVspoof 2019 LA.
//!
//! Costs `2 + blocks × bands` forward passes (the clip, the silent clip and each occluded clip),
//! batched within the scorer's sample budget; a progress callback may stop it between batches.

use realfft::num_complex::Complex;
use serde::Serialize;

use super::scorer::{Scorer, BATCH_SAMPLES};
use super::InferenceError;
use crate::features::resynth::ResynthStft;

/// Default time-block length in seconds.
pub const DEFAULT_TILE_S: f64 = 0.25;
/// Default number of frequency bands.
pub const DEFAULT_BANDS: usize = 8;
/// Shortest time block in seconds (a few STFT hops).
pub const MIN_TILE_S: f64 = 0.05;
/// Most frequency bands (each keeps at least four STFT bins).
pub const MAX_BANDS: usize = 64;
/// STFT size of the occlusion, in samples.
pub const STFT_N_FFT: usize = 512;
/// STFT hop of the occlusion, in samples.
pub const STFT_HOP_SAMPLES: usize = 128;
/// Frame length of the speech detector in seconds.
pub const VAD_FRAME_S: f64 = 0.02;
/// A speech frame lies within this many dB of the loudest frame…
pub const VAD_BELOW_PEAK_DB: f64 = 35.0;
/// …at least this many dB above the noise floor (the 10th-percentile frame)…
pub const VAD_ABOVE_FLOOR_DB: f64 = 6.0;
/// …and above this level in dBFS (mean square 1 = 0 dBFS).
pub const VAD_MIN_DBFS: f64 = -60.0;
/// Above this share of absolute attribution on non-speech time, the score "rests mostly on
/// non-speech audio".
pub const NON_SPEECH_FLAG_SHARE: f64 = 0.5;

/// The rate every clip is explained at.
const RATE_HZ: u32 = crate::audio::TARGET_SAMPLE_RATE_HZ;

/// Tile settings, checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExplainConfig {
    /// Time-block length in seconds.
    pub tile_s: f64,
    /// Number of equal-width frequency bands from 0 Hz to Nyquist.
    pub bands: usize,
}

impl Default for ExplainConfig {
    fn default() -> Self {
        Self {
            tile_s: DEFAULT_TILE_S,
            bands: DEFAULT_BANDS,
        }
    }
}

impl ExplainConfig {
    /// Check `tile_s` in [[`MIN_TILE_S`], 60] s and `bands` in 1..=[`MAX_BANDS`]; `flags` names the
    /// two settings in errors (e.g. `("--tiles-s", "--bands")`).
    pub fn new(tile_s: f64, bands: usize, flags: (&str, &str)) -> Result<Self, InferenceError> {
        let max_s = super::source::MAX_NUM_SAMPLES as f64 / f64::from(RATE_HZ);
        if !(tile_s.is_finite() && (MIN_TILE_S..=max_s).contains(&tile_s)) {
            return Err(InferenceError::Invalid {
                what: flags.0.to_string(),
                message: format!("{tile_s} s is outside [{MIN_TILE_S}, {max_s}] s"),
            });
        }
        if !(1..=MAX_BANDS).contains(&bands) {
            return Err(InferenceError::Invalid {
                what: flags.1.to_string(),
                message: format!("{bands} is outside 1..={MAX_BANDS}"),
            });
        }
        Ok(Self { tile_s, bands })
    }
}

/// One tile and its attribution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tile {
    /// Time-block index.
    pub block: usize,
    /// Frequency-band index (0 = lowest).
    pub band: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub low_hz: f64,
    pub high_hz: f64,
    /// Score change when the tile is removed (see the module docs).
    pub attribution: f64,
}

/// Speech vs non-speech shares of an explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeechShares {
    /// Fraction of the explained audio's duration marked as speech.
    pub speech_time_fraction: f64,
    /// Share of the total absolute attribution on speech time; `None` when every attribution is
    /// zero (nothing to share).
    pub speech_share: Option<f64>,
    /// `1 − speech_share`.
    pub non_speech_share: Option<f64>,
    /// `non_speech_share > NON_SPEECH_FLAG_SHARE`: the score rests mostly on non-speech audio.
    pub mostly_non_speech: bool,
}

/// An occlusion explanation of one clip's score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Always `"occlusion"`.
    pub method: String,
    /// What replaces an occluded tile.
    pub baseline: String,
    pub sample_rate_hz: u32,
    /// Samples explained: the clip's first `model_num_samples` (or the whole shorter clip).
    pub explained_samples: usize,
    /// The model's whole-clip input length.
    pub model_num_samples: usize,
    /// Score (bona fide logit) of the clip.
    pub score: f64,
    /// Score with every tile occluded (a silent clip).
    pub score_all_occluded: f64,
    /// Sum of all tile attributions (compare with `score − score_all_occluded`).
    pub attribution_sum: f64,
    /// Time-block boundaries in seconds (`blocks + 1` values).
    pub block_edges_s: Vec<f64>,
    /// Band boundaries in Hz (`bands + 1` values).
    pub band_edges_hz: Vec<f64>,
    /// `[blocks][bands]` attributions.
    pub attributions: Vec<Vec<f64>>,
    /// Fraction of each block's samples marked as speech.
    pub block_speech_fraction: Vec<f64>,
    pub shares: SpeechShares,
}

impl Explanation {
    /// Number of time blocks.
    pub fn num_blocks(&self) -> usize {
        self.attributions.len()
    }

    /// Number of frequency bands.
    pub fn num_bands(&self) -> usize {
        self.band_edges_hz.len().saturating_sub(1)
    }

    /// Duration explained in seconds.
    pub fn explained_s(&self) -> f64 {
        self.explained_samples as f64 / f64::from(self.sample_rate_hz)
    }

    /// Largest absolute attribution (0 without tiles).
    pub fn max_abs(&self) -> f64 {
        self.attributions
            .iter()
            .flatten()
            .filter(|a| a.is_finite())
            .fold(0.0, |m, a| m.max(a.abs()))
    }

    /// Every tile, largest absolute attribution first.
    pub fn tiles_by_magnitude(&self) -> Vec<Tile> {
        let mut tiles = Vec::with_capacity(self.num_blocks() * self.num_bands());
        for (b, row) in self.attributions.iter().enumerate() {
            for (j, &a) in row.iter().enumerate() {
                tiles.push(Tile {
                    block: b,
                    band: j,
                    start_s: self.block_edges_s[b],
                    end_s: self.block_edges_s[b + 1],
                    low_hz: self.band_edges_hz[j],
                    high_hz: self.band_edges_hz[j + 1],
                    attribution: a,
                });
            }
        }
        tiles.sort_by(|x, y| y.attribution.abs().total_cmp(&x.attribution.abs()));
        tiles
    }
}

/// Sample boundaries of the time blocks of a clip of `num_samples` (see the module docs):
/// `blocks + 1` increasing values from 0 to `num_samples`.
pub fn block_edges(num_samples: usize, tile_len: usize) -> Vec<usize> {
    let tile_len = tile_len.max(1);
    let num_blocks = ((num_samples as f64 / tile_len as f64).round() as usize).max(1);
    let mut edges: Vec<usize> = (0..num_blocks).map(|b| b * tile_len).collect();
    edges.push(num_samples);
    edges
}

/// The block of STFT frame `t` (the one its centre `t · hop` lies in; the last block past the
/// end).
fn frame_block(t: usize, edges: &[usize]) -> usize {
    let centre = t * STFT_HOP_SAMPLES;
    let num_blocks = edges.len() - 1;
    edges
        .partition_point(|&e| e <= centre)
        .saturating_sub(1)
        .min(num_blocks - 1)
}

/// The band of one-sided STFT bin `k` of [`STFT_N_FFT`]: `bands` equal widths up to Nyquist
/// (the Nyquist bin joins the top band).
fn bin_band(k: usize, bands: usize) -> usize {
    (k * bands / (STFT_N_FFT / 2)).min(bands - 1)
}

/// Speech frames of `samples` by energy, one per `frame_len` samples (the last may be partial):
/// a frame is speech when its level `10 log10(mean square)` is within [`VAD_BELOW_PEAK_DB`] of
/// the loudest frame, at least [`VAD_ABOVE_FLOOR_DB`] above the noise floor (the 10th-percentile
/// frame) — unless the whole clip lies within that margin of its peak, when the floor rule is
/// dropped (a steady signal) — and above [`VAD_MIN_DBFS`]. Digital silence is never speech.
pub fn speech_frames(samples: &[f32], frame_len: usize) -> Vec<bool> {
    let levels_db: Vec<f64> = samples
        .chunks(frame_len.max(1))
        .map(|frame| {
            let mean_square = frame
                .iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum::<f64>()
                / frame.len() as f64;
            10.0 * (mean_square + 1e-12).log10()
        })
        .collect();
    if levels_db.is_empty() {
        return Vec::new();
    }
    let mut sorted = levels_db.clone();
    sorted.sort_by(f64::total_cmp);
    let peak_db = sorted[sorted.len() - 1];
    let floor_db = sorted[(sorted.len() - 1) / 10];
    let floor_rule_db = (floor_db + VAD_ABOVE_FLOOR_DB).min(peak_db - VAD_ABOVE_FLOOR_DB);
    let threshold_db = (peak_db - VAD_BELOW_PEAK_DB)
        .max(floor_rule_db)
        .max(VAD_MIN_DBFS);
    levels_db.iter().map(|&l| l >= threshold_db).collect()
}

/// Fraction of each block's samples that lie in speech frames of `frame_len` samples.
pub fn block_speech_fraction(speech: &[bool], frame_len: usize, edges: &[usize]) -> Vec<f64> {
    let frame_len = frame_len.max(1);
    edges
        .windows(2)
        .map(|w| {
            let (start, end) = (w[0], w[1]);
            if end <= start {
                return 0.0;
            }
            let speech_samples = (start..end)
                .filter(|&i| speech.get(i / frame_len).copied().unwrap_or(false))
                .count();
            speech_samples as f64 / (end - start) as f64
        })
        .collect()
}

/// Share of the total absolute attribution on speech time: each block's absolute attributions
/// weighted by its speech fraction. `None` when the total is zero or not finite.
pub fn speech_share(attributions: &[Vec<f64>], block_speech_fraction: &[f64]) -> Option<f64> {
    let mut total = 0.0;
    let mut speech = 0.0;
    for (row, &fraction) in attributions.iter().zip(block_speech_fraction) {
        let magnitude: f64 = row.iter().map(|a| a.abs()).sum();
        total += magnitude;
        speech += magnitude * fraction;
    }
    (total.is_finite() && total > 0.0).then(|| (speech / total).clamp(0.0, 1.0))
}

/// Scores a batch of clips, one bona fide logit each (as [`Scorer::score_clips`]).
pub type BatchScorer<'a> = dyn Fn(&[&[f32]]) -> Result<Vec<f64>, InferenceError> + 'a;

/// Occlusion explanation of `samples` (16 kHz) for a model of `model_num_samples` input samples;
/// `score` scores a batch of clips (repeating each to length, as [`Scorer::score_clips`]).
/// `progress(done, total)` is called after each batch of forward passes; returning `false`
/// stops, and then the result is `Ok(None)`.
pub fn occlusion(
    samples: &[f32],
    model_num_samples: usize,
    config: &ExplainConfig,
    score: &BatchScorer,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Option<Explanation>, InferenceError> {
    let explained = &samples[..samples.len().min(model_num_samples)];
    let n = explained.len();
    if n == 0 {
        return Err(InferenceError::Invalid {
            what: "clip".into(),
            message: "it has no samples to explain".into(),
        });
    }
    let stft =
        ResynthStft::new(STFT_N_FFT, STFT_HOP_SAMPLES).map_err(|e| InferenceError::Invalid {
            what: "occlusion STFT".into(),
            message: e.to_string(),
        })?;
    let spec = stft
        .analyse(explained)
        .map_err(|e| InferenceError::Invalid {
            what: "occlusion STFT".into(),
            message: e.to_string(),
        })?;
    let rate = f64::from(RATE_HZ);
    let tile_len = (config.tile_s * rate).round() as usize;
    let edges = block_edges(n, tile_len);
    let num_blocks = edges.len() - 1;
    let bands = config.bands.clamp(1, MAX_BANDS);
    // Frames of each block: contiguous, since a frame's block grows with its index.
    let mut block_frames = vec![(usize::MAX, 0usize); num_blocks];
    for t in 0..spec.num_frames {
        let b = frame_block(t, &edges);
        block_frames[b].0 = block_frames[b].0.min(t);
        block_frames[b].1 = t + 1;
    }
    let num_tiles = num_blocks * bands;
    // Items: the clip, the silent clip, then each tile block-major.
    let total = 2 + num_tiles;
    let per_batch = (BATCH_SAMPLES / model_num_samples.max(1)).max(1);
    let silent = vec![0.0f32; n];
    let mut scores = Vec::with_capacity(total);
    let mut next = 0usize;
    while next < total {
        let end = (next + per_batch).min(total);
        let mut owned: Vec<Vec<f32>> = Vec::with_capacity(end - next);
        for item in next.max(2)..end {
            let tile = item - 2;
            let (b, j) = (tile / bands, tile % bands);
            let mut edited = spec.clone();
            let (first, last) = block_frames[b];
            for t in first..last.max(first) {
                for (k, c) in edited.frame_mut(t).iter_mut().enumerate() {
                    if bin_band(k, bands) == j {
                        *c = Complex::new(0.0, 0.0);
                    }
                }
            }
            owned.push(
                stft.synthesise(&edited, n)
                    .map_err(|e| InferenceError::Invalid {
                        what: "occlusion STFT".into(),
                        message: e.to_string(),
                    })?,
            );
        }
        let mut batch: Vec<&[f32]> = Vec::with_capacity(end - next);
        for item in next..end.min(2) {
            batch.push(if item == 0 { explained } else { &silent });
        }
        batch.extend(owned.iter().map(Vec::as_slice));
        let got = score(&batch)?;
        if got.len() != batch.len() {
            return Err(InferenceError::Invalid {
                what: "scorer".into(),
                message: format!("returned {} scores for {} clips", got.len(), batch.len()),
            });
        }
        scores.extend(got);
        next = end;
        if !progress(next, total) {
            return Ok(None);
        }
    }
    let (clip_score, silent_score) = (scores[0], scores[1]);
    let attributions: Vec<Vec<f64>> = scores[2..]
        .chunks(bands)
        .map(|row| row.iter().map(|s| clip_score - s).collect())
        .collect();
    let vad_frame_len = (VAD_FRAME_S * rate).round() as usize;
    let speech = speech_frames(explained, vad_frame_len);
    let fractions = block_speech_fraction(&speech, vad_frame_len, &edges);
    let speech_samples: f64 = edges
        .windows(2)
        .zip(&fractions)
        .map(|(w, f)| (w[1] - w[0]) as f64 * f)
        .sum();
    let share = speech_share(&attributions, &fractions);
    let non_speech = share.map(|s| 1.0 - s);
    let nyquist_hz = rate / 2.0;
    Ok(Some(Explanation {
        method: "occlusion".into(),
        baseline: format!(
            "tile zeroed in a {STFT_N_FFT}-sample Hann STFT (hop {STFT_HOP_SAMPLES}), \
             resynthesised by weighted overlap-add"
        ),
        sample_rate_hz: RATE_HZ,
        explained_samples: n,
        model_num_samples,
        score: clip_score,
        score_all_occluded: silent_score,
        attribution_sum: attributions.iter().flatten().sum(),
        block_edges_s: edges.iter().map(|&e| e as f64 / rate).collect(),
        band_edges_hz: (0..=bands)
            .map(|j| j as f64 * nyquist_hz / bands as f64)
            .collect(),
        attributions,
        block_speech_fraction: fractions,
        shares: SpeechShares {
            speech_time_fraction: speech_samples / n as f64,
            speech_share: share,
            non_speech_share: non_speech,
            mostly_non_speech: non_speech.is_some_and(|s| s > NON_SPEECH_FLAG_SHARE),
        },
    }))
}

impl Scorer {
    /// [`occlusion`] with this model (see the module docs).
    pub fn explain(
        &self,
        samples: &[f32],
        config: &ExplainConfig,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<Option<Explanation>, InferenceError> {
        occlusion(
            samples,
            self.info().num_samples,
            config,
            &|clips| self.score_clips(clips),
            progress,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq_hz: f32, amplitude: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| amplitude * (std::f32::consts::TAU * freq_hz * i as f32 / 16_000.0).sin())
            .collect()
    }

    #[test]
    fn tiles_cover_the_clip() {
        for (n, tile) in [
            (64_600, 4000),
            (16_000, 4000),
            (1000, 4000),
            (6001, 4000),
            (1, 800),
        ] {
            let edges = block_edges(n, tile);
            assert_eq!(edges[0], 0);
            assert_eq!(*edges.last().unwrap(), n);
            assert!(
                edges.windows(2).all(|w| w[1] > w[0]),
                "{n}/{tile}: {edges:?}"
            );
            if edges.len() > 2 {
                let last = n - edges[edges.len() - 2];
                assert!(
                    2 * last >= tile && 2 * last <= 3 * tile,
                    "{n}/{tile}: {last}"
                );
            }
            // Every frame lands in a block and every block gets a frame.
            let num_frames = 1 + n / STFT_HOP_SAMPLES;
            let mut seen = vec![false; edges.len() - 1];
            for t in 0..num_frames {
                seen[frame_block(t, &edges)] = true;
            }
            assert!(seen.iter().all(|&s| s), "{n}/{tile}");
        }
        assert_eq!(block_edges(64_600, 4000).len(), 17);
        for bands in [1, 8, 13, MAX_BANDS] {
            let mut count = vec![0usize; bands];
            for k in 0..=STFT_N_FFT / 2 {
                count[bin_band(k, bands)] += 1;
            }
            assert!(count.iter().all(|&c| c >= 4), "{bands}: {count:?}");
        }
        // 31.25 Hz bins: bin 32 (1 kHz) opens band 1 of 8.
        assert_eq!(
            (bin_band(31, 8), bin_band(32, 8), bin_band(256, 8)),
            (0, 1, 7)
        );
    }

    #[test]
    fn config_names_the_flag() {
        let flags = ("--tiles-s", "--bands");
        assert!(ExplainConfig::new(0.25, 8, flags).is_ok());
        for (tile_s, bands, flag) in [
            (0.0, 8, "--tiles-s"),
            (f64::NAN, 8, "--tiles-s"),
            (1e9, 8, "--tiles-s"),
            (0.25, 0, "--bands"),
            (0.25, MAX_BANDS + 1, "--bands"),
        ] {
            let e = ExplainConfig::new(tile_s, bands, flags).unwrap_err();
            assert!(e.to_string().starts_with(flag), "{e}");
        }
    }

    /// A toy detector that listens only to 2.5 kHz between 0.5 and 0.75 s (a correlation with
    /// that tone, independent of the STFT): the attribution must land in block 2, band 2.
    #[test]
    fn attribution_lands_on_the_only_region_the_scorer_uses() {
        let n = 16_000;
        let clip: Vec<f32> = tone(2500.0, 0.3, n)
            .iter()
            .zip(tone(500.0, 0.3, n))
            .zip(tone(6000.0, 0.3, n))
            .map(|((a, b), c)| a + b + c)
            .collect();
        let toy = |clips: &[&[f32]]| -> Result<Vec<f64>, InferenceError> {
            Ok(clips
                .iter()
                .map(|c| {
                    let (mut re, mut im) = (0.0f64, 0.0f64);
                    for (i, &x) in c.iter().enumerate().take(12_000).skip(8000) {
                        let phase = std::f64::consts::TAU * 2500.0 * i as f64 / 16_000.0;
                        re += f64::from(x) * phase.cos();
                        im += f64::from(x) * phase.sin();
                    }
                    (re * re + im * im).sqrt() / 4000.0
                })
                .collect())
        };
        let mut calls = Vec::new();
        let explanation = occlusion(
            &clip,
            20_000,
            &ExplainConfig::default(),
            &toy,
            &mut |done, total| {
                calls.push((done, total));
                true
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!((explanation.num_blocks(), explanation.num_bands()), (4, 8));
        assert_eq!(calls.last(), Some(&(34, 34)));
        let full = explanation.score;
        assert!((full - 0.15).abs() < 0.01, "{full}");
        assert!(explanation.score_all_occluded.abs() < 1e-9);
        let top = &explanation.tiles_by_magnitude()[0];
        assert_eq!(
            (top.block, top.band),
            (2, 2),
            "{:?}",
            explanation.attributions
        );
        assert_eq!(
            (top.start_s, top.end_s, top.low_hz, top.high_hz),
            (0.5, 0.75, 2000.0, 3000.0)
        );
        assert!(top.attribution > 0.8 * full, "{}", top.attribution);
        for (b, row) in explanation.attributions.iter().enumerate() {
            for (j, &a) in row.iter().enumerate() {
                if (b, j) != (2, 2) {
                    // Only the window's smear across the block edges reaches the neighbours.
                    let bound = if j == 2 { 0.15 } else { 0.01 };
                    assert!(a.abs() < bound * full, "tile {b},{j}: {a}");
                }
            }
        }
        // The toy model is additive over blocks: the completeness check nearly holds.
        let completeness = full - explanation.score_all_occluded;
        assert!((explanation.attribution_sum - completeness).abs() < 0.1 * full);
    }

    #[test]
    fn cancel_stops_and_long_clips_are_cut_to_the_model_input() {
        let clip = tone(300.0, 0.5, 40_000);
        let energy = |clips: &[&[f32]]| -> Result<Vec<f64>, InferenceError> {
            Ok(clips
                .iter()
                .map(|c| c.iter().map(|&x| f64::from(x * x)).sum())
                .collect())
        };
        let config = ExplainConfig::new(0.5, 2, ("t", "b")).unwrap();
        let stopped = occlusion(&clip, 16_000, &config, &energy, &mut |_, _| false).unwrap();
        assert!(stopped.is_none());
        let e = occlusion(&clip, 16_000, &config, &energy, &mut |_, _| true)
            .unwrap()
            .unwrap();
        assert_eq!(e.explained_samples, 16_000);
        assert_eq!(e.block_edges_s, vec![0.0, 0.5, 1.0]);
        let wrong = |_: &[&[f32]]| -> Result<Vec<f64>, InferenceError> { Ok(vec![0.0]) };
        assert!(occlusion(&clip, 16_000, &config, &wrong, &mut |_, _| true).is_err());
        assert!(occlusion(&[], 16_000, &config, &energy, &mut |_, _| true).is_err());
    }

    #[test]
    fn half_silence_half_tone_splits_speech_time_and_shares() {
        let mut clip = vec![0.0f32; 8000];
        clip.extend(tone(440.0, 0.3, 8000));
        let speech = speech_frames(&clip, 320);
        assert_eq!(speech.len(), 50);
        assert!(speech[..25].iter().all(|&s| !s) && speech[25..].iter().all(|&s| s));
        let edges = block_edges(clip.len(), 4000);
        let fractions = block_speech_fraction(&speech, 320, &edges);
        assert_eq!(fractions, vec![0.0, 0.0, 1.0, 1.0]);
        // Attribution only on the silent half: all of it is non-speech, and the reverse.
        let silent_only = vec![vec![1.0, -2.0], vec![0.5, 0.0], vec![0.0; 2], vec![0.0; 2]];
        assert_eq!(speech_share(&silent_only, &fractions), Some(0.0));
        let mixed = vec![vec![1.0, 0.0], vec![0.0; 2], vec![-3.0, 0.0], vec![0.0; 2]];
        assert_eq!(speech_share(&mixed, &fractions), Some(0.75));
        assert_eq!(speech_share(&vec![vec![0.0; 2]; 4], &fractions), None);

        // Through the explainer: a scorer of the quiet start's level rests on non-speech (it
        // stops 1000 samples before the tone, out of reach of the STFT window's smear).
        let first_half = |clips: &[&[f32]]| -> Result<Vec<f64>, InferenceError> {
            Ok(clips
                .iter()
                .map(|c| c[..7000].iter().map(|&x| f64::from(x).abs()).sum::<f64>() + 1.0)
                .collect())
        };
        let mut noisy_start = clip.clone();
        for (i, x) in noisy_start[..8000].iter_mut().enumerate() {
            *x = 1e-4 * (((i * 7919) % 211) as f32 / 105.0 - 1.0);
        }
        let e = occlusion(
            &noisy_start,
            64_600,
            &ExplainConfig::default(),
            &first_half,
            &mut |_, _| true,
        )
        .unwrap()
        .unwrap();
        assert!(
            (e.shares.speech_time_fraction - 0.5).abs() < 0.03,
            "{:?}",
            e.shares
        );
        assert!(e.shares.non_speech_share.unwrap() > 0.99, "{:?}", e.shares);
        assert!(e.shares.mostly_non_speech);
    }

    #[test]
    fn a_clip_without_speech_divides_by_nothing() {
        assert!(speech_frames(&[0.0; 16_000], 320).iter().all(|&s| !s));
        assert!(speech_frames(&[], 320).is_empty());
        let constant =
            |clips: &[&[f32]]| -> Result<Vec<f64>, InferenceError> { Ok(vec![1.44; clips.len()]) };
        let e = occlusion(
            &[0.0; 16_000],
            64_600,
            &ExplainConfig::default(),
            &constant,
            &mut |_, _| true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.shares.speech_time_fraction, 0.0);
        assert_eq!(e.shares.speech_share, None);
        assert!(!e.shares.mostly_non_speech);
        assert_eq!(e.max_abs(), 0.0);
        // A steady tone has no quieter floor: it counts as speech throughout.
        assert!(speech_frames(&tone(200.0, 0.3, 16_000), 320)
            .iter()
            .all(|&s| s));
    }
}
