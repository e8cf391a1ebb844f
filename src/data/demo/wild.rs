//! The demo corpus's domain-shifted `wild` split, its stand-in for In-the-Wild: bona fide and
//! spoofed clips of new speakers passed through recording and transmission conditions that the
//! train and dev splits never contain (noise, babble, hum, rooms, telephone lines, a lossy codec,
//! microphones with clipping, resampling chains, and mixtures). `super` (the demo corpus) plans
//! and renders it with the generators of [`crate::augment::conditions`].
//!
//! Each clip gets one named condition family, round-robin within each class (bona fide, and each
//! attack), so every family holds bona fide clips and clips of every attack once a class has at
//! least as many clips as there are families; a per-condition EER is then meaningful. Every clip
//! then gets its own level (−40 to −10 dBFS RMS) and a small DC offset. The parameters are drawn
//! when the corpus is planned, from their own random stream, so a key can list them without
//! rendering any audio.

use serde::{Deserialize, Serialize};

use super::attacks::Attack;
use crate::augment::conditions::{
    self, BabbleParams, ClipParams, ColouredNoiseParams, Companding, ConditionError, HumParams,
    LevelParams, LossyCodecParams, MicResponseParams, ResampleChainParams, ReverbParams,
    TelephoneParams,
};
use crate::data::Label;
use crate::rng::Rng;

/// A condition family of the wild split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WildCondition {
    /// White, pink or brown noise at 0–20 dB SNR.
    NoiseColoured,
    /// 3–6 other talkers at 0–20 dB SNR.
    NoiseBabble,
    /// 50 or 60 Hz mains hum with harmonics at 0–20 dB SNR.
    Hum,
    /// A simulated room, RT60 0.2–1.0 s.
    Reverb,
    /// A 300–3400 Hz, 8 kHz G.711 μ-law telephone line.
    TelephoneUlaw,
    /// The same line with A-law companding.
    TelephoneAlaw,
    /// The band-limit-and-quantise codec stand-in.
    LossyCodec,
    /// A microphone response and an overdriven, clipping input stage.
    MicClip,
    /// 1–3 hops through other sample rates.
    ResampleChain,
    /// A room, then coloured noise, then the codec stand-in or a microphone response.
    Mixed,
}

impl WildCondition {
    /// Every family, in the order clips are assigned to them.
    pub const ALL: [WildCondition; 10] = [
        WildCondition::NoiseColoured,
        WildCondition::NoiseBabble,
        WildCondition::Hum,
        WildCondition::Reverb,
        WildCondition::TelephoneUlaw,
        WildCondition::TelephoneAlaw,
        WildCondition::LossyCodec,
        WildCondition::MicClip,
        WildCondition::ResampleChain,
        WildCondition::Mixed,
    ];

    /// The name written in the key's `condition` column.
    pub fn name(self) -> &'static str {
        match self {
            WildCondition::NoiseColoured => "noise-coloured",
            WildCondition::NoiseBabble => "noise-babble",
            WildCondition::Hum => "hum",
            WildCondition::Reverb => "reverb",
            WildCondition::TelephoneUlaw => "telephone-ulaw",
            WildCondition::TelephoneAlaw => "telephone-alaw",
            WildCondition::LossyCodec => "lossy-codec",
            WildCondition::MicClip => "mic-clip",
            WildCondition::ResampleChain => "resample-chain",
            WildCondition::Mixed => "mixed",
        }
    }
}

/// One step of a clip's condition chain, with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConditionStep {
    ColouredNoise(ColouredNoiseParams),
    Babble(BabbleParams),
    Hum(HumParams),
    Reverb(ReverbParams),
    Telephone(TelephoneParams),
    LossyCodec(LossyCodecParams),
    MicResponse(MicResponseParams),
    Clip(ClipParams),
    ResampleChain(ResampleChainParams),
}

/// Everything done to one wild clip after its (bona fide or spoofed) rendering.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WildParams {
    /// Applied in order.
    pub steps: Vec<ConditionStep>,
    /// Applied last, to every clip.
    pub level: LevelParams,
}

impl WildParams {
    /// Draw the parameters of one family.
    pub fn draw(condition: WildCondition, rng: &mut Rng) -> Self {
        use ConditionStep as S;
        let steps = match condition {
            WildCondition::NoiseColoured => vec![S::ColouredNoise(ColouredNoiseParams::draw(rng))],
            WildCondition::NoiseBabble => vec![S::Babble(BabbleParams::draw(rng))],
            WildCondition::Hum => vec![S::Hum(HumParams::draw(rng))],
            WildCondition::Reverb => vec![S::Reverb(ReverbParams::draw(rng))],
            WildCondition::TelephoneUlaw => vec![S::Telephone(TelephoneParams {
                law: Companding::MuLaw,
            })],
            WildCondition::TelephoneAlaw => vec![S::Telephone(TelephoneParams {
                law: Companding::ALaw,
            })],
            WildCondition::LossyCodec => vec![S::LossyCodec(LossyCodecParams::draw(rng))],
            WildCondition::MicClip => vec![
                S::MicResponse(MicResponseParams::draw(rng)),
                S::Clip(ClipParams::draw(rng)),
            ],
            WildCondition::ResampleChain => vec![S::ResampleChain(ResampleChainParams::draw(rng))],
            WildCondition::Mixed => {
                let reverb = S::Reverb(ReverbParams::draw(rng));
                let noise = S::ColouredNoise(ColouredNoiseParams::draw(rng));
                let channel = if rng.below(2) == 0 {
                    S::LossyCodec(LossyCodecParams::draw(rng))
                } else {
                    S::MicResponse(MicResponseParams::draw(rng))
                };
                vec![reverb, noise, channel]
            }
        };
        Self {
            steps,
            level: LevelParams::draw(rng),
        }
    }

    /// The SNR of the additive noise, when there is one.
    pub fn snr_db(&self) -> Option<f64> {
        self.steps.iter().find_map(|s| match s {
            ConditionStep::ColouredNoise(p) => Some(p.snr_db),
            ConditionStep::Babble(p) => Some(p.snr_db),
            ConditionStep::Hum(p) => Some(p.snr_db),
            _ => None,
        })
    }

    /// The room's RT60, when there is a room.
    pub fn rt60_s(&self) -> Option<f64> {
        self.steps.iter().find_map(|s| match s {
            ConditionStep::Reverb(p) => Some(p.rt60_s),
            _ => None,
        })
    }

    /// The codec or channel coding, when there is one: `g711-ulaw`, `g711-alaw`, the codec
    /// stand-in's name, or the resampling chain.
    pub fn codec(&self) -> Option<String> {
        self.steps.iter().find_map(|s| match s {
            ConditionStep::Telephone(p) => Some(format!("g711-{}", p.law.name())),
            ConditionStep::LossyCodec(p) => Some(p.name()),
            ConditionStep::ResampleChain(p) => Some(p.name()),
            _ => None,
        })
    }

    /// Whether a step needs other talkers' voices.
    pub fn num_babble_talkers(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s {
                ConditionStep::Babble(p) => p.num_talkers,
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// Apply the steps and the level to `x`; `talkers` are the voices babble mixes in, `rng`
    /// supplies the noise and room draws.
    pub fn apply(
        &self,
        x: &[f32],
        talkers: &[Vec<f32>],
        rng: &mut Rng,
    ) -> Result<Vec<f32>, ConditionError> {
        let mut y = x.to_vec();
        for step in &self.steps {
            y = match step {
                ConditionStep::ColouredNoise(p) => conditions::coloured_noise(&y, p, rng),
                ConditionStep::Babble(p) => conditions::babble(&y, talkers, p, rng)?,
                ConditionStep::Hum(p) => conditions::hum(&y, p),
                ConditionStep::Reverb(p) => conditions::reverb(&y, p, rng),
                ConditionStep::Telephone(p) => conditions::telephone(&y, p)?,
                ConditionStep::LossyCodec(p) => conditions::lossy_codec(&y, p),
                ConditionStep::MicResponse(p) => conditions::mic_response(&y, p),
                ConditionStep::Clip(p) => conditions::clip(&y, p),
                ConditionStep::ResampleChain(p) => conditions::resample_chain(&y, p)?,
            };
        }
        let mut out = conditions::level_and_dc(&y, &self.level);
        // A recorder saturates at full scale.
        out.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
        Ok(out)
    }
}

/// One planned clip of the wild split (its audio is rendered on demand).
#[derive(Clone, Debug, PartialEq)]
pub struct WildItem {
    /// ASVspoof-style ID, e.g. `LA_W_1000003`.
    pub utt_id: String,
    /// Index into the corpus's speakers.
    pub speaker_index: usize,
    pub label: Label,
    /// `None` for bona fide.
    pub attack: Option<Attack>,
    pub num_samples: usize,
    /// RMS level of the clean rendering before the conditions, dBFS.
    pub source_level_dbfs: f64,
    pub condition: WildCondition,
    pub params: WildParams,
    /// Stream index of this clip's audio draws.
    pub(super) stream: u64,
}

/// Header of the wild key (`wild/key.csv`).
pub const WILD_KEY_HEADER: &str =
    "file,speaker,attack,label,condition,snr_db,rt60_s,codec,level_dbfs";

impl WildItem {
    /// The key line of this clip (see [`WILD_KEY_HEADER`]); `-` where a factor does not apply.
    pub fn key_line(&self, speaker_id: &str) -> String {
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
        format!(
            "flac/{}.flac,{},{},{},{},{},{},{},{:.2}",
            self.utt_id,
            speaker_id,
            self.attack.map_or("-", |a| a.id()),
            self.label,
            self.condition.name(),
            or_dash(self.params.snr_db().map(|v| format!("{v:.2}"))),
            or_dash(self.params.rt60_s().map(|v| format!("{v:.3}"))),
            or_dash(self.params.codec()),
            self.params.level.level_dbfs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_draws_and_reports_its_factors() {
        let mut rng = Rng::new(5);
        for condition in WildCondition::ALL {
            let p = WildParams::draw(condition, &mut rng);
            assert!((-40.0..=-10.0).contains(&p.level.level_dbfs));
            let noisy = matches!(
                condition,
                WildCondition::NoiseColoured
                    | WildCondition::NoiseBabble
                    | WildCondition::Hum
                    | WildCondition::Mixed
            );
            assert_eq!(p.snr_db().is_some(), noisy, "{condition:?}");
            let roomy = matches!(condition, WildCondition::Reverb | WildCondition::Mixed);
            assert_eq!(p.rt60_s().is_some(), roomy, "{condition:?}");
            assert!(serde_json::to_string(&p).is_ok());
            let x: Vec<f32> = (0..4000).map(|i| ((i as f32) * 0.07).sin() * 0.1).collect();
            let talkers: Vec<Vec<f32>> = (0..6).map(|k| x[k * 100..].to_vec()).collect();
            let y = p.apply(&x, &talkers, &mut Rng::new(1)).unwrap();
            assert_eq!(y.len(), x.len());
            assert!(y.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        }
        assert_eq!(
            WildParams::draw(WildCondition::TelephoneAlaw, &mut rng)
                .codec()
                .as_deref(),
            Some("g711-alaw")
        );
    }
}
