//! Checking, preparing and running one stage of a chain. Each stage draws its coin (unless
//! `p` is 0 or 1), then its ranges in field order, then whatever its generator draws.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::bank::{BankError, Preparation, Sound, SoundBank};
use super::pitch::wsola_stretch;
use super::{ChainError, CodecKind, NoiseSource, ReverbSource, StageReport, StageSpec};
use crate::audio::{resample, Clip};
use crate::augment::codecs::{self, CodecError};
use crate::augment::conditions::{
    self, BabbleParams, ColouredNoiseParams, Companding, LossyCodecParams, NoiseColour,
    ReverbParams, SAMPLE_RATE_HZ,
};
use crate::augment::rawboost;
use crate::rng::Rng;

/// Synthetic babble voices made when a chain is prepared: enough for the largest talker count
/// without repeating a voice often, each long enough that its random offsets differ.
const NUM_SYNTHETIC_TALKERS: usize = 8;
const SYNTHETIC_TALKER_S: f64 = 3.0;
/// Seed of the synthetic voices: fixed, so a chain's babble is the same in every run.
const SYNTHETIC_TALKER_SEED: u64 = 0x00BA_BB1E;
/// Most talkers a babble stage may mix.
const MAX_TALKERS: u32 = 32;

/// Bounds of each ranged field: (field, lowest, highest) accepted.
const SNR_DB_BOUNDS: (f64, f64) = (-30.0, 100.0);
const RT60_S_BOUNDS: (f64, f64) = (0.01, 10.0);
const DRR_DB_BOUNDS: (f64, f64) = (-30.0, 40.0);
const MASK_DB_BOUNDS: (f64, f64) = (1.0, 120.0);
const STEP_DB_BOUNDS: (f64, f64) = (0.01, 40.0);
/// Speed factors within this range keep the resampler's rates sane (and the speech speech).
const FACTOR_BOUNDS: (f64, f64) = (0.25, 4.0);
const SEMITONES_BOUNDS: (f64, f64) = (-24.0, 24.0);
/// Up to +60 dB keeps every sample finite in f32 (a full-scale clip becomes 1000).
const GAIN_DB_BOUNDS: (f64, f64) = (-120.0, 60.0);
const FREQ_HZ_BOUNDS: (f64, f64) = (0.0, 768_000.0);

/// A bank's sounds at one clip rate.
type SoundsAtRate = Arc<Vec<Vec<f32>>>;

/// A stage with its folder read.
#[derive(Clone, Debug)]
pub(super) struct PreparedStage {
    pub index: usize,
    pub spec: StageSpec,
    bank: Option<Arc<SoundBank>>,
}

fn invalid(index: usize, stage: &StageSpec, field: &str, message: String) -> ChainError {
    ChainError::Invalid {
        index,
        kind: stage.kind(),
        field: field.to_string(),
        message,
    }
}

/// A `[low, high]` range: finite, low ≤ high, within `bounds`.
fn check_range(
    index: usize,
    stage: &StageSpec,
    field: &str,
    range: [f64; 2],
    bounds: (f64, f64),
) -> Result<(), ChainError> {
    let [low, high] = range;
    if !low.is_finite() || !high.is_finite() {
        return Err(invalid(
            index,
            stage,
            field,
            format!("must be finite numbers, got [{low}, {high}]"),
        ));
    }
    if low > high {
        return Err(invalid(
            index,
            stage,
            field,
            format!("low {low} > high {high}"),
        ));
    }
    if low < bounds.0 || high > bounds.1 {
        return Err(invalid(
            index,
            stage,
            field,
            format!(
                "[{low}, {high}] leaves the accepted range [{}, {}]",
                bounds.0, bounds.1
            ),
        ));
    }
    Ok(())
}

/// Cheap checks of one stage (no I/O).
pub(super) fn validate_stage(index: usize, stage: &StageSpec) -> Result<(), ChainError> {
    let p = stage.p();
    if !(0.0..=1.0).contains(&p) {
        return Err(invalid(
            index,
            stage,
            "p",
            format!("must be a probability in [0, 1], got {p}"),
        ));
    }
    let range = |field, r, bounds| check_range(index, stage, field, r, bounds);
    match stage {
        StageSpec::RawBoost { .. } => {
            if let Some((_, params)) = stage.rawboost_params() {
                params
                    .validate()
                    .map_err(|e| ChainError::from((index, stage.kind(), e)))?;
            }
        }
        StageSpec::Noise {
            source,
            folder,
            snr_db,
            num_talkers,
            ..
        } => {
            range("snr_db", *snr_db, SNR_DB_BOUNDS)?;
            let [lo, hi] = *num_talkers;
            if lo < 1 || lo > hi || hi > MAX_TALKERS {
                return Err(invalid(
                    index,
                    stage,
                    "num_talkers",
                    format!("must be 1 ≤ low ≤ high ≤ {MAX_TALKERS}, got [{lo}, {hi}]"),
                ));
            }
            match (source, folder) {
                (NoiseSource::Folder, None) => {
                    return Err(invalid(
                        index,
                        stage,
                        "folder",
                        "is required with source = \"folder\" (a folder of noise files)"
                            .to_string(),
                    ))
                }
                (NoiseSource::White | NoiseSource::Pink | NoiseSource::Brown, Some(_)) => {
                    return Err(invalid(
                        index,
                        stage,
                        "folder",
                        format!(
                            "is only read with source = \"folder\" or \"babble\", not \"{}\"",
                            source.name()
                        ),
                    ))
                }
                _ => {}
            }
        }
        StageSpec::Reverb {
            source,
            folder,
            rt60_s,
            drr_db,
            ..
        } => {
            range("rt60_s", *rt60_s, RT60_S_BOUNDS)?;
            range("drr_db", *drr_db, DRR_DB_BOUNDS)?;
            match (source, folder) {
                (ReverbSource::Folder, None) => {
                    return Err(invalid(
                        index,
                        stage,
                        "folder",
                        "is required with source = \"folder\" (a folder of impulse responses)"
                            .to_string(),
                    ))
                }
                (ReverbSource::Simulated, Some(_)) => {
                    return Err(invalid(
                        index,
                        stage,
                        "folder",
                        "is only read with source = \"folder\", not \"simulated\"".to_string(),
                    ))
                }
                _ => {}
            }
        }
        StageSpec::Codec {
            codec,
            bitrate_kbps,
            cutoff_hz,
            mask_db,
            step_db,
            ..
        } => {
            range("cutoff_hz", *cutoff_hz, (1.0, FREQ_HZ_BOUNDS.1))?;
            range("mask_db", *mask_db, MASK_DB_BOUNDS)?;
            range("step_db", *step_db, STEP_DB_BOUNDS)?;
            match (codec.lossy(), bitrate_kbps) {
                (Some(lossy), _) if !codecs::available() => {
                    return Err(invalid(
                        index,
                        stage,
                        "codec",
                        CodecError::NotBuilt {
                            codec: lossy.name(),
                        }
                        .to_string(),
                    ))
                }
                (Some(lossy), Some(r)) => range("bitrate_kbps", *r, lossy.bitrate_bounds_kbps())?,
                (None, Some(_)) => {
                    return Err(invalid(
                        index,
                        stage,
                        "bitrate_kbps",
                        format!(
                            "is only read by codec = \"mp3\", \"vorbis\" or \"opus\", not \"{}\"",
                            codec.name()
                        ),
                    ))
                }
                _ => {}
            }
        }
        StageSpec::Speed { factor, .. } => range("factor", *factor, FACTOR_BOUNDS)?,
        StageSpec::Pitch { semitones, .. } => range("semitones", *semitones, SEMITONES_BOUNDS)?,
        StageSpec::BandLimit {
            low_hz, high_hz, ..
        } => {
            range("low_hz", *low_hz, FREQ_HZ_BOUNDS)?;
            range("high_hz", *high_hz, FREQ_HZ_BOUNDS)?;
            if high_hz[0] <= 0.0 {
                return Err(invalid(
                    index,
                    stage,
                    "high_hz",
                    format!("must be above 0 Hz, got low {}", high_hz[0]),
                ));
            }
            if low_hz[1] >= high_hz[0] {
                return Err(invalid(
                    index,
                    stage,
                    "low_hz",
                    format!(
                        "high {} is not below high_hz's low {}: the pass band could be empty",
                        low_hz[1], high_hz[0]
                    ),
                ));
            }
        }
        StageSpec::Gain { gain_db, .. } => range("gain_db", *gain_db, GAIN_DB_BOUNDS)?,
        StageSpec::Clip { threshold, .. } => {
            range("threshold", *threshold, (0.0, 1.0))?;
            if threshold[0] <= 0.0 {
                return Err(invalid(
                    index,
                    stage,
                    "threshold",
                    format!(
                        "must be above 0 (a fraction of the peak), got low {}",
                        threshold[0]
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A uniform draw from a range (one draw even when low = high, so the stream does not depend on
/// the values).
fn draw(rng: &mut Rng, range: [f64; 2]) -> f64 {
    rng.uniform(range[0], range[1])
}

impl PreparedStage {
    /// Read the stage's folder (relative to `base_dir`) or make its synthetic voices.
    pub fn prepare(index: usize, spec: &StageSpec, base_dir: &Path) -> Result<Self, ChainError> {
        let kind = spec.kind();
        let from_folder = |folder: &Path, preparation| {
            let folder = if folder.is_absolute() {
                folder.to_path_buf()
            } else {
                base_dir.join(folder)
            };
            SoundBank::from_folder(&folder, preparation).map_err(|e| match e {
                BankError::Folder(message) => ChainError::Folder {
                    index,
                    kind,
                    folder: folder.clone(),
                    message,
                },
                BankError::File(source) => ChainError::File {
                    index,
                    kind,
                    source,
                },
            })
        };
        let bank = match spec {
            StageSpec::Noise {
                source: NoiseSource::Folder | NoiseSource::Babble,
                folder: Some(folder),
                ..
            } => Some(from_folder(folder, Preparation::AsIs)?),
            StageSpec::Noise {
                source: NoiseSource::Babble,
                folder: None,
                ..
            } => {
                let mut rng = Rng::new(SYNTHETIC_TALKER_SEED);
                let len = (SYNTHETIC_TALKER_S * SAMPLE_RATE_HZ as f64) as usize;
                let voices = conditions::synthetic_talkers(
                    NUM_SYNTHETIC_TALKERS,
                    len,
                    SAMPLE_RATE_HZ,
                    &mut rng,
                );
                let sounds = voices
                    .into_iter()
                    .enumerate()
                    .map(|(i, samples)| Sound {
                        name: format!("synthetic-{i}"),
                        clip: Clip {
                            samples,
                            sample_rate_hz: SAMPLE_RATE_HZ,
                        },
                    })
                    .collect();
                Some(SoundBank::from_sounds(sounds, Preparation::AsIs))
            }
            StageSpec::Reverb {
                source: ReverbSource::Folder,
                folder: Some(folder),
                ..
            } => Some(from_folder(folder, Preparation::ImpulseResponse)?),
            _ => None,
        };
        Ok(Self {
            index,
            spec: spec.clone(),
            bank: bank.map(Arc::new),
        })
    }

    fn error(&self, message: impl Into<String>) -> ChainError {
        ChainError::Apply {
            index: self.index,
            kind: self.spec.kind(),
            message: message.into(),
        }
    }

    /// The bank (for names) and its sounds at `sample_rate_hz`.
    fn sounds(&self, sample_rate_hz: u32) -> Result<(Arc<SoundBank>, SoundsAtRate), ChainError> {
        let bank = self
            .bank
            .clone()
            .ok_or_else(|| self.error("has no sounds (the chain was not prepared)"))?;
        let sounds = bank
            .at_rate(sample_rate_hz)
            .map_err(|e| self.error(format!("cannot resample to {sample_rate_hz} Hz: {e}")))?;
        Ok((bank, sounds))
    }

    /// Run the stage on `x`: its coin, then its draws and its generator.
    pub fn apply(
        &self,
        x: &[f32],
        sample_rate_hz: u32,
        rng: &mut Rng,
    ) -> Result<(Vec<f32>, StageReport), ChainError> {
        let kind = self.spec.kind().to_string();
        let skipped = |x: &[f32]| {
            (
                x.to_vec(),
                StageReport {
                    kind: kind.clone(),
                    applied: false,
                    params: json!({}),
                },
            )
        };
        if x.is_empty() {
            return Ok(skipped(x));
        }
        let p = self.spec.p();
        // p = 1 and p = 0 draw no coin: a chain of sure stages draws exactly what they draw.
        let runs = if p >= 1.0 {
            true
        } else if p <= 0.0 {
            false
        } else {
            rng.uniform01() < p
        };
        if !runs {
            return Ok(skipped(x));
        }
        let (y, params) = self.run(x, sample_rate_hz, rng)?;
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(self.error(format!(
                "produced a non-finite sample at {i} (drawn {params})"
            )));
        }
        Ok((
            y,
            StageReport {
                kind,
                applied: true,
                params,
            },
        ))
    }

    fn run(
        &self,
        x: &[f32],
        sample_rate_hz: u32,
        rng: &mut Rng,
    ) -> Result<(Vec<f32>, serde_json::Value), ChainError> {
        match &self.spec {
            StageSpec::RawBoost { .. } => {
                let Some((algo, params)) = self.spec.rawboost_params() else {
                    return Err(self.error("not a RawBoost stage"));
                };
                let out = rawboost(x, sample_rate_hz, algo, &params, rng)
                    .map_err(|e| ChainError::from((self.index, self.spec.kind(), e)))?;
                let r = &out.report;
                let mut params = json!({ "algo": r.algo });
                if let Some(lnl) = &r.lnl {
                    params["lnl_terms"] = json!(lnl.terms.len());
                }
                if let Some(isd) = &r.isd {
                    params["isd_changed_share"] = json!(isd.changed_share);
                }
                if let Some(ssi) = &r.ssi {
                    params["ssi_snr_db"] = json!(ssi.snr_db);
                }
                Ok((out.samples, params))
            }
            StageSpec::Noise {
                source,
                snr_db,
                num_talkers,
                ..
            } => {
                let snr = draw(rng, *snr_db);
                let (y, mut params) = match source {
                    NoiseSource::White | NoiseSource::Pink | NoiseSource::Brown => {
                        let colour = match source {
                            NoiseSource::White => NoiseColour::White,
                            NoiseSource::Brown => NoiseColour::Brown,
                            _ => NoiseColour::Pink,
                        };
                        let p = ColouredNoiseParams {
                            colour,
                            snr_db: snr,
                        };
                        (
                            conditions::coloured_noise_at(x, &p, sample_rate_hz, rng),
                            json!({ "source": source.name(), "snr_db": snr }),
                        )
                    }
                    NoiseSource::Babble => {
                        let (bank, sounds) = self.sounds(sample_rate_hz)?;
                        let [lo, hi] = *num_talkers;
                        let wanted = lo as u64 + rng.below((hi - lo) as u64 + 1);
                        let n = (wanted as usize).min(sounds.len());
                        let picked = rng.choose_distinct(sounds.len(), n);
                        let talkers: Vec<Vec<f32>> =
                            picked.iter().map(|&i| sounds[i].clone()).collect();
                        let p = BabbleParams {
                            num_talkers: n,
                            snr_db: snr,
                        };
                        let y = conditions::babble(x, &talkers, &p, rng)
                            .map_err(|e| self.error(e.to_string()))?;
                        let names: Vec<&str> = picked.iter().map(|&i| bank.name(i)).collect();
                        (
                            y,
                            json!({ "source": "babble", "snr_db": snr, "num_talkers": n, "talkers": names }),
                        )
                    }
                    NoiseSource::Folder => {
                        let (bank, sounds) = self.sounds(sample_rate_hz)?;
                        let file = rng.below(sounds.len() as u64) as usize;
                        let noise = &sounds[file];
                        let excerpt = excerpt(noise, x.len(), rng);
                        (
                            conditions::add_at_snr(x, &excerpt, snr),
                            json!({ "source": "folder", "snr_db": snr, "file": bank.name(file) }),
                        )
                    }
                };
                if let Some(realised) = realised_snr_db(x, &y) {
                    params["realised_snr_db"] = json!(realised);
                }
                Ok((y, params))
            }
            StageSpec::Reverb {
                source,
                rt60_s,
                drr_db,
                ..
            } => match source {
                ReverbSource::Simulated => {
                    let p = ReverbParams {
                        rt60_s: draw(rng, *rt60_s),
                        drr_db: draw(rng, *drr_db),
                        num_early_reflections: 4 + rng.below(7) as usize,
                    };
                    let y = conditions::reverb_at(x, &p, sample_rate_hz, rng);
                    Ok((
                        y,
                        json!({ "source": "simulated", "rt60_s": p.rt60_s, "drr_db": p.drr_db }),
                    ))
                }
                ReverbSource::Folder => {
                    let (bank, sounds) = self.sounds(sample_rate_hz)?;
                    let file = rng.below(sounds.len() as u64) as usize;
                    let y = conditions::convolve_same_length(x, &sounds[file]);
                    Ok((y, json!({ "source": "folder", "file": bank.name(file) })))
                }
            },
            StageSpec::Codec {
                codec,
                bitrate_kbps,
                cutoff_hz,
                mask_db,
                step_db,
                ..
            } => match codec {
                CodecKind::Mp3 | CodecKind::Vorbis | CodecKind::Opus => {
                    let (Some(lossy), Some(range)) = (
                        codec.lossy(),
                        bitrate_kbps.or_else(|| codec.default_bitrate_kbps()),
                    ) else {
                        return Err(self.error(format!("{} is no lossy codec", codec.name())));
                    };
                    let drawn = draw(rng, range);
                    let (y, used) = codecs::round_trip(x, sample_rate_hz, lossy, drawn)
                        .map_err(|e| self.error(e.to_string()))?;
                    Ok((
                        y,
                        json!({
                            "codec": codec.name(),
                            "bitrate_kbps": used.bitrate_kbps,
                            "drawn_bitrate_kbps": drawn,
                            "codec_rate_hz": used.codec_rate_hz,
                        }),
                    ))
                }
                CodecKind::Mulaw | CodecKind::Alaw => {
                    let law = if *codec == CodecKind::Mulaw {
                        Companding::MuLaw
                    } else {
                        Companding::ALaw
                    };
                    let y = conditions::g711_channel(x, sample_rate_hz, law)
                        .map_err(|e| self.error(e.to_string()))?;
                    Ok((y, json!({ "codec": codec.name() })))
                }
                CodecKind::LossySim => {
                    let p = LossyCodecParams {
                        cutoff_hz: draw(rng, *cutoff_hz),
                        mask_db: draw(rng, *mask_db),
                        step_db: draw(rng, *step_db),
                    };
                    let y = conditions::lossy_codec_at(x, &p, sample_rate_hz);
                    Ok((
                        y,
                        json!({ "codec": "lossy-sim", "cutoff_hz": p.cutoff_hz, "mask_db": p.mask_db, "step_db": p.step_db }),
                    ))
                }
            },
            StageSpec::Speed { factor, .. } => {
                let drawn = draw(rng, *factor);
                let (y, realised) = self.speed_change(x, sample_rate_hz, drawn)?;
                Ok((y, json!({ "factor": realised })))
            }
            StageSpec::Pitch { semitones, .. } => {
                let drawn = draw(rng, *semitones);
                let ratio = 2f64.powf(drawn / 12.0);
                let (moved, _) = self.speed_change(x, sample_rate_hz, ratio)?;
                let y = wsola_stretch(&moved, x.len(), sample_rate_hz);
                Ok((y, json!({ "semitones": drawn })))
            }
            StageSpec::BandLimit {
                low_hz, high_hz, ..
            } => {
                let low = draw(rng, *low_hz);
                let high = draw(rng, *high_hz);
                let nyquist_hz = sample_rate_hz as f64 / 2.0;
                if high >= nyquist_hz {
                    return Err(ChainError::Invalid {
                        index: self.index,
                        kind: self.spec.kind(),
                        field: "high_hz".to_string(),
                        message: format!(
                            "drew {high:.1} Hz, not below the Nyquist frequency {nyquist_hz} Hz \
                             of a {sample_rate_hz} Hz clip"
                        ),
                    });
                }
                let y = conditions::band_limit(x, sample_rate_hz, low, high);
                Ok((y, json!({ "low_hz": low, "high_hz": high })))
            }
            StageSpec::Gain { gain_db, .. } => {
                let g_db = draw(rng, *gain_db);
                let gain = 10f64.powf(g_db / 20.0);
                let y = x.iter().map(|&v| (v as f64 * gain) as f32).collect();
                Ok((y, json!({ "gain_db": g_db })))
            }
            StageSpec::Clip { threshold, .. } => {
                let t = draw(rng, *threshold);
                let y = conditions::clip_to_peak_fraction(x, t);
                Ok((y, json!({ "threshold": t })))
            }
        }
    }

    /// `x` played `factor` times faster by resampling: read as if recorded at
    /// round(rate·factor) Hz and converted to the clip's rate. Returns the factor realised after
    /// that rounding.
    fn speed_change(
        &self,
        x: &[f32],
        sample_rate_hz: u32,
        factor: f64,
    ) -> Result<(Vec<f32>, f64), ChainError> {
        let from_hz = (sample_rate_hz as f64 * factor).round();
        if !(1.0..=u32::MAX as f64).contains(&from_hz) {
            return Err(self.error(format!(
                "a speed factor of {factor} does not fit a {sample_rate_hz} Hz clip"
            )));
        }
        let from_hz = from_hz as u32;
        let y = resample(x, from_hz, sample_rate_hz).map_err(|e| self.error(e.to_string()))?;
        Ok((y, from_hz as f64 / sample_rate_hz as f64))
    }
}

/// `len` samples of `noise` from a random offset: a random excerpt of a long recording, or a
/// short one looped from a random point.
fn excerpt(noise: &[f32], len: usize, rng: &mut Rng) -> Vec<f32> {
    if noise.is_empty() {
        return vec![0.0; len];
    }
    if noise.len() >= len {
        let start = rng.below((noise.len() - len) as u64 + 1) as usize;
        noise[start..start + len].to_vec()
    } else {
        let start = rng.below(noise.len() as u64) as usize;
        noise
            .iter()
            .cycle()
            .skip(start)
            .take(len)
            .copied()
            .collect()
    }
}

/// SNR of the change `noisy − clean` against `clean`, dB; `None` when either is silent.
fn realised_snr_db(clean: &[f32], noisy: &[f32]) -> Option<f64> {
    let noise: Vec<f32> = noisy.iter().zip(clean).map(|(n, c)| n - c).collect();
    let signal = conditions::mean_power(clean);
    let added = conditions::mean_power(&noise);
    (signal > 0.0 && added > 0.0).then(|| 10.0 * (signal / added).log10())
}
