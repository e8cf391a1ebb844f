//! The conditions of a robustness sweep and the grid they come from: the built-in default grid or
//! a TOML grid file, validated once into a list of [`SweepCondition`]s whose errors name the
//! field (`noise.snr_db[1]`).
//!
//! Every condition is applied with the generators of [`crate::augment::conditions`] (the ones the
//! demo corpus's `wild` split uses), with fixed parameters apart from the one the grid varies, and
//! with random draws (noise, a room) seeded by the trial name and the condition name: two
//! checkpoints, or two runs of the sweep, see the very same degraded audio.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SweepError;
use crate::augment::codecs::{self, CodecError, LossyCodec};
use crate::augment::conditions::{
    self, BabbleParams, ColouredNoiseParams, Companding, ConditionError, LossyCodecParams,
    NoiseColour, ResampleChainParams, ReverbParams, TelephoneParams,
};
use crate::rng::Rng;

/// The kind of additive noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    White,
    Pink,
    Brown,
    /// Other clips of the swept set mixed together (see [`super::BABBLE_TALKERS`]).
    Babble,
}

impl NoiseKind {
    /// Name in condition names and grid files.
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::White => "white",
            NoiseKind::Pink => "pink",
            NoiseKind::Brown => "brown",
            NoiseKind::Babble => "babble",
        }
    }
}

/// A transmission or coding channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodecKind {
    /// G.711 μ-law telephone line (300–3400 Hz band, 8 kHz, 8-bit companding).
    Ulaw,
    /// The same line with A-law companding.
    Alaw,
    /// Telephone band only: down to 8 kHz and back, no companding.
    Narrowband,
    /// The lossy-codec stand-in (4 kHz band limit, coarse spectral quantisation).
    Lossy,
    /// MP3 through LAME at `[codec] bitrate_kbps` (the `codecs` feature).
    Mp3,
    /// Ogg Vorbis at `[codec] bitrate_kbps` (the `codecs` feature).
    Vorbis,
    /// Opus at `[codec] bitrate_kbps` (the `codecs` feature).
    Opus,
}

impl CodecKind {
    /// Name in condition names and grid files.
    pub fn name(self) -> &'static str {
        match self {
            CodecKind::Ulaw => "ulaw",
            CodecKind::Alaw => "alaw",
            CodecKind::Narrowband => "narrowband",
            CodecKind::Lossy => "lossy",
            CodecKind::Mp3 => "mp3",
            CodecKind::Vorbis => "vorbis",
            CodecKind::Opus => "opus",
        }
    }

    /// The real lossy codec this is, if it is one (those take a bit rate).
    pub fn lossy(self) -> Option<LossyCodec> {
        LossyCodec::from_name(self.name())
    }
}

/// One cell row of the sweep: what is done to every clip.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum SweepCondition {
    /// The clips as they are.
    Clean,
    /// Additive noise at a signal-to-noise ratio over the whole clip.
    Noise { kind: NoiseKind, snr_db: f64 },
    /// A simulated room (direct-to-reverberant ratio 0 dB, 6 early reflections).
    Reverb { rt60_s: f64 },
    /// A channel or codec; the real lossy codecs at a bit rate (kbit/s).
    Codec {
        kind: CodecKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bitrate_kbps: Option<f64>,
    },
    /// The clip cut to its first `duration_s` seconds (shorter clips unchanged).
    Duration { duration_s: f64 },
    /// A gain, then the samples clamped to full scale (a high gain clips).
    Level { gain_db: f64 },
}

/// Direct-to-reverberant ratio of the sweep's rooms, dB: the middle of the wild split's range.
const REVERB_DRR_DB: f64 = 0.0;
/// Early reflections of the sweep's rooms.
const REVERB_EARLY_REFLECTIONS: usize = 6;
/// The codec stand-in's settings: a 4 kHz band, masking 30 dB below the frame peak, 4 dB steps.
const LOSSY: LossyCodecParams = LossyCodecParams {
    cutoff_hz: 4000.0,
    mask_db: 30.0,
    step_db: 4.0,
};

impl SweepCondition {
    /// A short unique name, e.g. `noise-white-10db`, `reverb-0.8s`, `level+20db`.
    pub fn name(&self) -> String {
        match self {
            SweepCondition::Clean => "clean".to_string(),
            SweepCondition::Noise { kind, snr_db } => {
                format!("noise-{}-{}db", kind.name(), fmt_num(*snr_db))
            }
            SweepCondition::Reverb { rt60_s } => format!("reverb-{}s", fmt_num(*rt60_s)),
            SweepCondition::Codec {
                kind,
                bitrate_kbps: None,
            } => format!("codec-{}", kind.name()),
            SweepCondition::Codec {
                kind,
                bitrate_kbps: Some(kbps),
            } => format!("codec-{}-{}kbps", kind.name(), fmt_num(*kbps)),
            SweepCondition::Duration { duration_s } => {
                format!("duration-{}s", fmt_num(*duration_s))
            }
            SweepCondition::Level { gain_db } => {
                let sign = if *gain_db >= 0.0 { "+" } else { "" };
                format!("level{sign}{}db", fmt_num(*gain_db))
            }
        }
    }

    /// The family name: `clean`, `noise`, `reverb`, `codec`, `duration` or `level`.
    pub fn family(&self) -> &'static str {
        match self {
            SweepCondition::Clean => "clean",
            SweepCondition::Noise { .. } => "noise",
            SweepCondition::Reverb { .. } => "reverb",
            SweepCondition::Codec { .. } => "codec",
            SweepCondition::Duration { .. } => "duration",
            SweepCondition::Level { .. } => "level",
        }
    }

    /// The random stream of this condition on the trial `trial_name`: the same trial and
    /// condition always draw the same noise and room.
    pub fn rng_for(&self, trial_name: &str) -> Rng {
        Rng::new(fnv1a64(
            format!("{trial_name}\u{0}{}", self.name()).as_bytes(),
        ))
    }

    /// `x` (16 kHz mono) under this condition; `talkers` are the voices babble mixes in (other
    /// clips of the set). Every condition but [`SweepCondition::Duration`] keeps the length.
    pub fn apply(
        &self,
        x: &[f32],
        trial_name: &str,
        talkers: &[Vec<f32>],
    ) -> Result<Vec<f32>, ConditionError> {
        let mut rng = self.rng_for(trial_name);
        Ok(match *self {
            SweepCondition::Clean => x.to_vec(),
            SweepCondition::Noise { kind, snr_db } => {
                let colour = match kind {
                    NoiseKind::White => NoiseColour::White,
                    NoiseKind::Pink => NoiseColour::Pink,
                    NoiseKind::Brown => NoiseColour::Brown,
                    NoiseKind::Babble => {
                        let params = BabbleParams {
                            num_talkers: talkers.len().min(super::BABBLE_TALKERS),
                            snr_db,
                        };
                        return conditions::babble(x, talkers, &params, &mut rng);
                    }
                };
                conditions::coloured_noise(x, &ColouredNoiseParams { colour, snr_db }, &mut rng)
            }
            SweepCondition::Reverb { rt60_s } => {
                let params = ReverbParams {
                    rt60_s,
                    drr_db: REVERB_DRR_DB,
                    num_early_reflections: REVERB_EARLY_REFLECTIONS,
                };
                conditions::reverb(x, &params, &mut rng)
            }
            SweepCondition::Codec { kind, bitrate_kbps } => match kind {
                CodecKind::Mp3 | CodecKind::Vorbis | CodecKind::Opus => {
                    let (Some(lossy), Some(kbps)) = (kind.lossy(), bitrate_kbps) else {
                        return Err(ConditionError::InvalidParam {
                            field: "bitrate_kbps",
                            message: format!("is needed by the {} codec", kind.name()),
                        });
                    };
                    codecs::round_trip(x, conditions::SAMPLE_RATE_HZ, lossy, kbps)
                        .map_err(|source| ConditionError::Codec { source })?
                        .0
                }
                CodecKind::Ulaw => conditions::telephone(
                    x,
                    &TelephoneParams {
                        law: Companding::MuLaw,
                    },
                )?,
                CodecKind::Alaw => conditions::telephone(
                    x,
                    &TelephoneParams {
                        law: Companding::ALaw,
                    },
                )?,
                CodecKind::Narrowband => conditions::resample_chain(
                    x,
                    &ResampleChainParams {
                        rates_hz: vec![8_000],
                    },
                )?,
                CodecKind::Lossy => conditions::lossy_codec(x, &LOSSY),
            },
            SweepCondition::Duration { duration_s } => {
                let n = (duration_s * conditions::SAMPLE_RATE_HZ as f64).round() as usize;
                x[..n.min(x.len())].to_vec()
            }
            SweepCondition::Level { gain_db } => {
                let gain = 10f32.powf(gain_db as f32 / 20.0);
                x.iter().map(|&v| (v * gain).clamp(-1.0, 1.0)).collect()
            }
        })
    }
}

/// A number without trailing zeros: `10`, `0.8`, `-20`.
fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// FNV-1a, 64 bits: a hash that is the same on every platform and release (the standard
/// library's hasher is not promised to be).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The grid file: every table optional; each family's conditions are the product of its lists.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridFile {
    /// Include the clean condition (default true).
    pub clean: Option<bool>,
    pub noise: Option<NoiseGrid>,
    pub reverb: Option<ReverbGrid>,
    pub codec: Option<CodecGrid>,
    pub duration: Option<DurationGrid>,
    pub level: Option<LevelGrid>,
}

/// `[noise]`: every kind at every SNR.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseGrid {
    pub kinds: Vec<NoiseKind>,
    pub snr_db: Vec<f64>,
}

/// `[reverb]`: one room per RT60.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverbGrid {
    pub rt60_s: Vec<f64>,
}

/// `[codec]`: one condition per channel.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecGrid {
    pub kinds: Vec<CodecKind>,
    /// The bit rates of `mp3`, `vorbis` and `opus` (default [`DEFAULT_CODEC_KBPS`]): one
    /// condition per codec and rate.
    pub bitrate_kbps: Option<Vec<f64>>,
}

/// The real codecs' bit rates when a grid names none, kbit/s: low and middle streaming rates.
pub const DEFAULT_CODEC_KBPS: [f64; 2] = [16.0, 32.0];

/// `[duration]`: one crop per length.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationGrid {
    pub duration_s: Vec<f64>,
}

/// `[level]`: one gain per value.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelGrid {
    pub gain_db: Vec<f64>,
}

/// A validated list of conditions, in the order they are reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepGrid {
    pub conditions: Vec<SweepCondition>,
}

/// Ranges a grid value must lie in (inclusive), by field.
const SNR_RANGE_DB: (f64, f64) = (-20.0, 60.0);
const RT60_RANGE_S: (f64, f64) = (0.05, 3.0);
const DURATION_RANGE_S: (f64, f64) = (0.1, 60.0);
const GAIN_RANGE_DB: (f64, f64) = (-60.0, 40.0);

impl Default for SweepGrid {
    /// 14 conditions: clean; white noise and babble at 15 and 5 dB SNR; rooms of RT60 0.3 and
    /// 0.8 s; μ-law and A-law telephone lines, the telephone band alone and the codec stand-in;
    /// the first 1 s; −20 dB and +20 dB (which clips).
    fn default() -> Self {
        let mut conditions = vec![SweepCondition::Clean];
        for kind in [NoiseKind::White, NoiseKind::Babble] {
            for snr_db in [15.0, 5.0] {
                conditions.push(SweepCondition::Noise { kind, snr_db });
            }
        }
        conditions.extend([0.3, 0.8].map(|rt60_s| SweepCondition::Reverb { rt60_s }));
        conditions.extend(
            [
                CodecKind::Ulaw,
                CodecKind::Alaw,
                CodecKind::Narrowband,
                CodecKind::Lossy,
            ]
            .map(|kind| SweepCondition::Codec {
                kind,
                bitrate_kbps: None,
            }),
        );
        conditions.push(SweepCondition::Duration { duration_s: 1.0 });
        conditions.extend([-20.0, 20.0].map(|gain_db| SweepCondition::Level { gain_db }));
        SweepGrid { conditions }
    }
}

impl SweepGrid {
    /// Parse and validate grid TOML; `path` names the file in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, SweepError> {
        let file: GridFile = toml::from_str(text).map_err(|e| SweepError::GridParse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_file(&file).map_err(|(field, message)| SweepError::Grid {
            path: path.to_path_buf(),
            field,
            message,
        })
    }

    /// Read a grid file.
    pub fn load(path: &Path) -> Result<Self, SweepError> {
        let text = std::fs::read_to_string(path).map_err(|error| SweepError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_toml(&text, path)
    }

    /// Validate a parsed grid file; the error is `(field, message)`.
    pub fn from_file(file: &GridFile) -> Result<Self, (String, String)> {
        let mut conditions = Vec::new();
        if file.clean.unwrap_or(true) {
            conditions.push(SweepCondition::Clean);
        }
        if let Some(noise) = &file.noise {
            non_empty("noise.kinds", noise.kinds.len())?;
            let snrs = checked("noise.snr_db", &noise.snr_db, SNR_RANGE_DB, "dB")?;
            for &kind in &noise.kinds {
                for &snr_db in &snrs {
                    conditions.push(SweepCondition::Noise { kind, snr_db });
                }
            }
        }
        if let Some(reverb) = &file.reverb {
            for rt60_s in checked("reverb.rt60_s", &reverb.rt60_s, RT60_RANGE_S, "s")? {
                conditions.push(SweepCondition::Reverb { rt60_s });
            }
        }
        if let Some(codec) = &file.codec {
            non_empty("codec.kinds", codec.kinds.len())?;
            let any_lossy = codec.kinds.iter().any(|k| k.lossy().is_some());
            let rates = match &codec.bitrate_kbps {
                Some(rates) if any_lossy => rates.clone(),
                Some(_) => {
                    return Err((
                        "codec.bitrate_kbps".to_string(),
                        "is only read by the kinds \"mp3\", \"vorbis\" and \"opus\"".to_string(),
                    ))
                }
                None => DEFAULT_CODEC_KBPS.to_vec(),
            };
            for (i, &kind) in codec.kinds.iter().enumerate() {
                let Some(lossy) = kind.lossy() else {
                    conditions.push(SweepCondition::Codec {
                        kind,
                        bitrate_kbps: None,
                    });
                    continue;
                };
                if !codecs::available() {
                    return Err((
                        format!("codec.kinds[{i}]"),
                        CodecError::NotBuilt {
                            codec: lossy.name(),
                        }
                        .to_string(),
                    ));
                }
                let rates = checked(
                    "codec.bitrate_kbps",
                    &rates,
                    lossy.bitrate_bounds_kbps(),
                    &format!("kbit/s ({})", lossy.name()),
                )?;
                conditions.extend(rates.into_iter().map(|kbps| SweepCondition::Codec {
                    kind,
                    bitrate_kbps: Some(kbps),
                }));
            }
        }
        if let Some(duration) = &file.duration {
            let values = checked(
                "duration.duration_s",
                &duration.duration_s,
                DURATION_RANGE_S,
                "s",
            )?;
            conditions.extend(
                values
                    .into_iter()
                    .map(|duration_s| SweepCondition::Duration { duration_s }),
            );
        }
        if let Some(level) = &file.level {
            for gain_db in checked("level.gain_db", &level.gain_db, GAIN_RANGE_DB, "dB")? {
                conditions.push(SweepCondition::Level { gain_db });
            }
        }
        if conditions.is_empty() {
            return Err((
                "clean".to_string(),
                "the grid has no condition (set clean = true or add a table)".to_string(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &conditions {
            if !seen.insert(c.name()) {
                return Err((
                    c.family().to_string(),
                    format!("condition `{}` is listed twice", c.name()),
                ));
            }
        }
        Ok(SweepGrid { conditions })
    }

    /// Condition names in order.
    pub fn names(&self) -> Vec<String> {
        self.conditions.iter().map(SweepCondition::name).collect()
    }

    /// Whether a condition mixes in other clips.
    pub fn needs_babble(&self) -> bool {
        self.conditions.iter().any(|c| {
            matches!(
                c,
                SweepCondition::Noise {
                    kind: NoiseKind::Babble,
                    ..
                }
            )
        })
    }
}

fn non_empty(field: &str, len: usize) -> Result<(), (String, String)> {
    if len == 0 {
        return Err((field.to_string(), "is empty".to_string()));
    }
    Ok(())
}

/// The values of `field`, each finite and inside `range`; not empty.
fn checked(
    field: &str,
    values: &[f64],
    range: (f64, f64),
    unit: &str,
) -> Result<Vec<f64>, (String, String)> {
    non_empty(field, values.len())?;
    for (i, &v) in values.iter().enumerate() {
        if !(v.is_finite() && v >= range.0 && v <= range.1) {
            return Err((
                format!("{field}[{i}]"),
                format!("{v} {unit} is outside [{}, {}] {unit}", range.0, range.1),
            ));
        }
    }
    Ok(values.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::conditions::mean_power;

    fn speechy(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                0.2 * (t * 220.0 * std::f32::consts::TAU).sin()
                    + 0.1 * (t * 1300.0 * std::f32::consts::TAU).sin()
            })
            .collect()
    }

    #[test]
    fn default_grid_is_small_unique_and_covers_every_family() {
        let grid = SweepGrid::default();
        assert!((12..=16).contains(&grid.conditions.len()));
        let names = grid.names();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        for family in ["clean", "noise", "reverb", "codec", "duration", "level"] {
            assert!(
                grid.conditions.iter().any(|c| c.family() == family),
                "{family}"
            );
        }
        assert!(names.contains(&"level+20db".to_string()), "{names:?}");
        assert!(names.contains(&"reverb-0.8s".to_string()), "{names:?}");
    }

    #[test]
    fn grid_file_expands_products_and_errors_name_the_field() {
        let p = Path::new("grid.toml");
        let grid = SweepGrid::from_toml(
            "clean = false\n[noise]\nkinds = [\"pink\", \"white\"]\nsnr_db = [10, 0]\n\
             [level]\ngain_db = [6.5]\n",
            p,
        )
        .unwrap();
        assert_eq!(
            grid.names(),
            [
                "noise-pink-10db",
                "noise-pink-0db",
                "noise-white-10db",
                "noise-white-0db",
                "level+6.5db"
            ]
        );
        for (text, field) in [
            (
                "[noise]\nkinds = [\"white\"]\nsnr_db = [10, 99]\n",
                "noise.snr_db[1]",
            ),
            ("[reverb]\nrt60_s = []\n", "reverb.rt60_s"),
            ("[duration]\nduration_s = [0.0]\n", "duration.duration_s[0]"),
            ("[level]\ngain_db = [-100]\n", "level.gain_db[0]"),
            ("[codec]\nkinds = []\n", "codec.kinds"),
            ("clean = false\n", "clean"),
            ("[level]\ngain_db = [3, 3]\n", "level"),
        ] {
            let e = SweepGrid::from_toml(text, p).unwrap_err().to_string();
            assert!(
                e.contains("grid.toml") && e.contains(&format!("`{field}`")),
                "{e}"
            );
        }
        // Unknown fields and unknown kinds are refused by the parser, naming them.
        let e = SweepGrid::from_toml("[reverb]\nrt60 = [0.5]\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rt60"), "{e}");
        let e = SweepGrid::from_toml("[codec]\nkinds = [\"aac\"]\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("aac"), "{e}");
        let e = SweepGrid::from_toml("[codec]\nkinds = [\"ulaw\"]\nbitrate_kbps = [16]\n", p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`codec.bitrate_kbps`") && e.contains("only read"),
            "{e}"
        );
        let e = SweepGrid::from_toml("[codec]\nkinds = [\"opus\"]\nbitrate_kbps = [12, 900]\n", p)
            .unwrap_err()
            .to_string();
        let want = if codecs::available() {
            "`codec.bitrate_kbps[1]`"
        } else {
            "`codecs` feature"
        };
        assert!(e.contains(want), "{e}");
    }

    #[cfg(feature = "codecs")]
    #[test]
    fn real_codecs_give_one_condition_per_bit_rate_and_keep_the_length() {
        let grid = SweepGrid::from_toml(
            "clean = false\n[codec]\nkinds = [\"narrowband\", \"mp3\", \"opus\"]\n\
             bitrate_kbps = [16, 32]\n",
            Path::new("grid.toml"),
        )
        .unwrap();
        assert_eq!(
            grid.names(),
            [
                "codec-narrowband",
                "codec-mp3-16kbps",
                "codec-mp3-32kbps",
                "codec-opus-16kbps",
                "codec-opus-32kbps"
            ]
        );
        let x = speechy(16_000);
        let outputs: Vec<Vec<f32>> = grid
            .conditions
            .iter()
            .map(|c| c.apply(&x, "spk/a", &[]).unwrap())
            .collect();
        for (c, y) in grid.conditions.iter().zip(&outputs) {
            assert_eq!(y.len(), x.len(), "{}", c.name());
            assert_ne!(y, &x, "{}", c.name());
        }
        // The two bit rates of a codec differ.
        assert_ne!(outputs[1], outputs[2]);
        assert_ne!(outputs[3], outputs[4]);
        // Results written before bit rates existed still read.
        let old: SweepCondition =
            serde_json::from_str(r#"{"family":"codec","kind":"ulaw"}"#).unwrap();
        assert_eq!(old.name(), "codec-ulaw");
    }

    #[test]
    fn conditions_are_deterministic_per_trial_and_condition() {
        // 1.5 s: the default grid's 1 s crop shortens it.
        let x = speechy(24_000);
        let talkers = vec![speechy(5000), speechy(7000)];
        for c in SweepGrid::default().conditions {
            let a = c.apply(&x, "spk/a", &talkers).unwrap();
            let b = c.apply(&x, "spk/a", &talkers).unwrap();
            assert_eq!(a, b, "{}", c.name());
            assert!(a.iter().all(|v| v.is_finite()), "{}", c.name());
            match c {
                SweepCondition::Duration { .. } => assert_eq!(a.len(), 16_000),
                _ => assert_eq!(a.len(), x.len(), "{}", c.name()),
            }
        }
        // Another trial draws other noise.
        let c = SweepCondition::Noise {
            kind: NoiseKind::White,
            snr_db: 10.0,
        };
        assert_ne!(
            c.apply(&x, "spk/a", &[]).unwrap(),
            c.apply(&x, "spk/b", &[]).unwrap()
        );
    }

    #[test]
    fn noise_lands_at_the_requested_snr() {
        let x = speechy(16_000);
        let talkers = vec![speechy(9000).iter().map(|v| v * 3.0).collect::<Vec<_>>()];
        for kind in [NoiseKind::White, NoiseKind::Pink, NoiseKind::Babble] {
            for snr_db in [20.0, 5.0, 0.0] {
                let y = SweepCondition::Noise { kind, snr_db }
                    .apply(&x, "t", &talkers)
                    .unwrap();
                let noise: Vec<f32> = y.iter().zip(&x).map(|(a, b)| a - b).collect();
                let measured = 10.0 * (mean_power(&x) / mean_power(&noise)).log10();
                assert!(
                    (measured - snr_db).abs() < 0.1,
                    "{kind:?} {snr_db}: {measured}"
                );
            }
        }
    }

    #[test]
    fn level_gain_scales_and_clips() {
        let x = speechy(1600);
        let quiet = SweepCondition::Level { gain_db: -20.0 }
            .apply(&x, "t", &[])
            .unwrap();
        let ratio = 10.0 * (mean_power(&quiet) / mean_power(&x)).log10();
        assert!((ratio + 20.0).abs() < 1e-3, "{ratio}");
        let loud = SweepCondition::Level { gain_db: 20.0 }
            .apply(&x, "t", &[])
            .unwrap();
        assert!(loud.iter().all(|v| v.abs() <= 1.0));
        assert!(loud.iter().filter(|v| v.abs() == 1.0).count() > 100);
        let cut = SweepCondition::Duration { duration_s: 0.05 }
            .apply(&x, "t", &[])
            .unwrap();
        assert_eq!(cut, x[..800]);
    }
}
