//! The built-in demo corpus: a seeded, synthetic stand-in for ASVspoof 2019 LA on which the whole
//! workbench trains and evaluates with no download. `dpda corpus export`, `dpda demo`, the GUI
//! and the tests call it through [`DemoCorpus`] and [`ensure_cached`].
//!
//! **Bona fide** utterances (16 kHz mono) come from a source–filter synthesiser (see `synth`):
//! Rosenberg glottal pulses with jitter, shimmer and a declining, accented F0 contour; four
//! gliding formant resonators moving between seven vowel targets; aspiration noise; fricative
//! noise bursts; pauses and a faint noise floor. Each **speaker** draws its own mean F0
//! (85–145 Hz for even-numbered speakers, 165–260 Hz for odd), accent range, vocal-tract
//! scaling (0.88–1.22), breathiness, tempo (0.8–1.25), jitter, shimmer and open quotient.
//! Speakers of train, dev and eval are disjoint, as in ASVspoof 2019.
//!
//! **Spoofed** utterances are fresh bona fide renderings of the same speakers passed through one
//! of six resynthesis pipelines (see [`Attack`]): D01 Griffin–Lim, D02 LPC vocoder, D03
//! quantised sinusoidal model, D04 harmonic-plus-noise vocoder, D05 mel-envelope smoothing, D06
//! phase-vocoder pitch shift. Train and dev use D01–D04; eval uses all six, so D05 and D06 are
//! attacks never seen in training. Every clip, bona fide or spoofed, gets its own level drawn
//! from the same range (−30 to −20 dBFS RMS, peak ≤ 0.98) and its own length (2–5 s; 1.5–3 s
//! for [`DemoSize::Tiny`]), so neither loudness nor duration separates the classes. Utterance IDs
//! are numbered after shuffling, so their order says nothing about the label.
//!
//! **Wild** (see `wild`), the corpus's stand-in for In-the-Wild, has the eval split's counts
//! and attacks but speakers of its own, and passes every clip through one named recording or
//! transmission condition (noise, babble, hum, a room, a telephone line, a lossy codec stand-in,
//! a clipping microphone, a resampling chain, or a mixture) that train and dev never contain,
//! then through a level change (−40 to −10 dBFS RMS) and a small DC offset. Its IDs read
//! `LA_W_1000001`; the export writes it to `wild/flac/` with `wild/key.csv`.
//!
//! | size    | train (bona fide + spoof) | dev          | eval (bona fide + spoof) | wild (bona fide + spoof) | speakers t/d/e/w |
//! |---------|---------------------------|--------------|--------------------------|--------------------------|------------------|
//! | tiny    | 6 + 4×3 = 18              | 4 + 4×2 = 12 | 4 + 6×2 = 16             | 4 + 6×2 = 16             | 3/2/3/3          |
//! | small   | 40 + 4×40 = 200           | 20 + 4×20 = 100 | 30 + 6×25 = 180       | 30 + 6×25 = 180          | 6/4/6/6          |
//! | default | 120 + 4×120 = 600         | 60 + 4×60 = 300 | 120 + 6×80 = 600      | 120 + 6×80 = 600         | 12/6/10/10       |
//! | large   | 480 + 4×480 = 2400        | 240 + 4×240 = 1200 | 480 + 6×320 = 2400 | 480 + 6×320 = 2400       | 24/12/20/20      |
//!
//! Every random draw comes from `Rng::for_item(seed, stream, index)`, so an utterance is the same
//! whichever order (or thread) renders it. [`GENERATOR_VERSION`] changes whenever the audio a seed
//! produces changes, which invalidates on-disk caches.

mod attacks;
mod dsp;
mod synth;
mod wild;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rayon::prelude::*;

pub use attacks::Attack;
pub use synth::{render_bonafide, Speaker, DEMO_SAMPLE_RATE_HZ};
pub use wild::{ConditionStep, WildCondition, WildItem, WildParams, WILD_KEY_HEADER};

use super::corpus::Split;
use super::{DataError, Label};
use crate::audio::flac_write::{write_flac, FlacWriteError};
use crate::rng::Rng;

/// The seed the CLI and the workbench use when none is given.
pub const DEFAULT_SEED: u64 = 2024;

/// Version of the generator; part of the cache marker, bumped whenever output audio changes.
pub const GENERATOR_VERSION: u32 = 2;

/// Name of the file whose presence (and content) marks a complete cached corpus.
pub const COMPLETE_MARKER: &str = ".dpda-demo-complete";

/// Attacks used in the train and dev splits.
pub const SEEN_ATTACKS: [Attack; 4] = [Attack::D01, Attack::D02, Attack::D03, Attack::D04];
/// Attacks used in the eval split (D05 and D06 never appear in training).
pub const EVAL_ATTACKS: [Attack; 6] = Attack::ALL;

// Stream identifiers for `Rng::for_item`: one per kind of draw, so that adding draws of one kind
// never shifts another.
const STREAM_SPEAKERS: u64 = 1;
const STREAM_PLAN: u64 = 2;
const STREAM_AUDIO: u64 = 3;
// The wild split draws from streams of its own, so that it never changes train, dev or eval.
const STREAM_WILD_SPEAKERS: u64 = 4;
const STREAM_WILD_PLAN: u64 = 5;
const STREAM_WILD_AUDIO: u64 = 6;
const STREAM_WILD_CONDITION: u64 = 7;
const STREAM_WILD_RENDER: u64 = 8;
const STREAM_WILD_BABBLE: u64 = 9;

/// Length of each babble talker's rendering (1.5 s at 16 kHz).
const BABBLE_TALKER_SAMPLES: usize = 24_000;

/// Name of the wild split's folder in an export, and its key in [`DemoCorpus::write_test_keys`].
pub const WILD_NAME: &str = "wild";

/// How big a demo corpus to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DemoSize {
    /// A few dozen short clips, for tests (well under a second to generate).
    Tiny,
    /// A few hundred clips.
    Small,
    /// Enough to train a small model in minutes: 600 / 300 / 600 clips.
    #[default]
    Default,
    /// Four times the default.
    Large,
}

/// Counts of one split for one size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitSpec {
    pub split: Split,
    pub num_speakers: usize,
    pub num_bonafide: usize,
    pub spoofs_per_attack: usize,
}

impl SplitSpec {
    /// The attacks this split uses.
    pub fn attacks(&self) -> &'static [Attack] {
        match self.split {
            Split::Train | Split::Dev => &SEEN_ATTACKS,
            Split::Eval => &EVAL_ATTACKS,
        }
    }

    /// Total number of utterances in the split.
    pub fn num_utterances(&self) -> usize {
        self.num_bonafide + self.spoofs_per_attack * self.attacks().len()
    }
}

impl DemoSize {
    /// Every size, smallest first.
    pub const ALL: [DemoSize; 4] = [
        DemoSize::Tiny,
        DemoSize::Small,
        DemoSize::Default,
        DemoSize::Large,
    ];

    /// Lower-case name (`tiny`, `small`, `default`, `large`).
    pub fn name(self) -> &'static str {
        match self {
            DemoSize::Tiny => "tiny",
            DemoSize::Small => "small",
            DemoSize::Default => "default",
            DemoSize::Large => "large",
        }
    }

    /// Counts of one split (see the module docs' table).
    pub fn spec(self, split: Split) -> SplitSpec {
        // (speakers, bona fide, spoofs per attack) for train, dev, eval.
        let table: [(usize, usize, usize); 3] = match self {
            DemoSize::Tiny => [(3, 6, 3), (2, 4, 2), (3, 4, 2)],
            DemoSize::Small => [(6, 40, 40), (4, 20, 20), (6, 30, 25)],
            DemoSize::Default => [(12, 120, 120), (6, 60, 60), (10, 120, 80)],
            DemoSize::Large => [(24, 480, 480), (12, 240, 240), (20, 480, 320)],
        };
        let (num_speakers, num_bonafide, spoofs_per_attack) = table[split as usize];
        SplitSpec {
            split,
            num_speakers,
            num_bonafide,
            spoofs_per_attack,
        }
    }

    /// Counts of the wild split: those of the eval split (its speakers are its own).
    pub fn wild_spec(self) -> SplitSpec {
        self.spec(Split::Eval)
    }

    /// Range of utterance durations in seconds.
    pub fn duration_range_s(self) -> (f64, f64) {
        match self {
            DemoSize::Tiny => (1.5, 3.0),
            _ => (2.0, 5.0),
        }
    }
}

impl fmt::Display for DemoSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DemoSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DemoSize::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown demo corpus size '{s}' (tiny, small, default, large)"))
    }
}

/// One planned utterance of the demo corpus (its audio is rendered on demand).
#[derive(Clone, Debug, PartialEq)]
pub struct DemoItem {
    pub split: Split,
    /// ASVspoof-style ID, e.g. `LA_T_1000003`.
    pub utt_id: String,
    /// Index into [`DemoCorpus::speakers`].
    pub speaker_index: usize,
    pub label: Label,
    /// `None` for bona fide.
    pub attack: Option<Attack>,
    pub num_samples: usize,
    /// Target RMS level of the final clip, dBFS.
    pub level_dbfs: f64,
    /// Stream index of this item's audio draws.
    stream: u64,
}

/// The plan of a whole demo corpus: speakers and utterances, without audio.
#[derive(Clone, Debug)]
pub struct DemoCorpus {
    pub size: DemoSize,
    pub seed: u64,
    pub speakers: Vec<Speaker>,
    /// All utterances, split by split, each split in ID order.
    pub items: Vec<DemoItem>,
    /// The wild split's clips, in ID order.
    pub wild: Vec<WildItem>,
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExportSummary {
    /// Utterance counts per (split, attack ID or `bonafide`).
    pub counts: BTreeMap<(Split, String), usize>,
    /// Wild clip counts per attack ID or `bonafide`.
    pub wild_counts: BTreeMap<String, usize>,
    pub num_files: usize,
    pub total_duration_s: f64,
}

impl DemoCorpus {
    /// Plan the corpus of one size and seed (cheap: no audio is rendered).
    pub fn new(size: DemoSize, seed: u64) -> DemoCorpus {
        let mut speakers = Vec::new();
        let mut items = Vec::new();
        let mut stream = 0u64;
        let (min_s, max_s) = size.duration_range_s();
        for split in Split::ALL {
            let spec = size.spec(split);
            let first_speaker = speakers.len();
            for k in 0..spec.num_speakers {
                let index = first_speaker + k;
                let mut rng = Rng::for_item(seed, STREAM_SPEAKERS, index as u64);
                let id = format!("DEMO_{:03}", index + 1);
                speakers.push(Speaker::generate(id, index, &mut rng));
            }
            let mut kinds: Vec<(Option<Attack>, usize)> =
                (0..spec.num_bonafide).map(|i| (None, i)).collect();
            for &attack in spec.attacks() {
                kinds.extend((0..spec.spoofs_per_attack).map(|i| (Some(attack), i)));
            }
            let mut rng = Rng::for_item(seed, STREAM_PLAN, split as u64);
            rng.shuffle(&mut kinds);
            for (position, (attack, class_index)) in kinds.into_iter().enumerate() {
                let duration_s = rng.uniform(min_s, max_s);
                items.push(DemoItem {
                    split,
                    utt_id: format!("LA_{}_{:07}", split.id_letter(), 1_000_001 + position),
                    // Round-robin within each class keeps every speaker in every class.
                    speaker_index: first_speaker + class_index % spec.num_speakers,
                    label: label_of(attack),
                    attack,
                    num_samples: (duration_s * DEMO_SAMPLE_RATE_HZ as f64) as usize,
                    level_dbfs: rng.uniform(-30.0, -20.0),
                    stream,
                });
                stream += 1;
            }
        }
        let wild = plan_wild(size, seed, &mut speakers);
        DemoCorpus {
            size,
            seed,
            speakers,
            items,
            wild,
        }
    }

    /// Items of one split.
    pub fn split_items(&self, split: Split) -> impl Iterator<Item = &DemoItem> {
        self.items.iter().filter(move |i| i.split == split)
    }

    /// The speaker ID of an item.
    pub fn speaker_id(&self, item: &DemoItem) -> &str {
        self.speakers
            .get(item.speaker_index)
            .map_or("-", |s| s.id.as_str())
    }

    /// The speaker ID of a wild clip.
    pub fn wild_speaker_id(&self, item: &WildItem) -> &str {
        self.speakers
            .get(item.speaker_index)
            .map_or("-", |s| s.id.as_str())
    }

    /// Render one wild clip (16 kHz mono): a bona fide or spoofed rendering as in the other
    /// splits, then its condition chain and level.
    pub fn render_wild(&self, item: &WildItem) -> Result<Vec<f32>, DataError> {
        let mut rng = Rng::for_item(self.seed, STREAM_WILD_AUDIO, item.stream);
        let speaker = &self.speakers[item.speaker_index.min(self.speakers.len() - 1)];
        let mut source = render_bonafide(speaker, item.num_samples, &mut rng);
        dsp::set_rms(&mut source, 10f64.powf(item.source_level_dbfs / 20.0));
        let mut clean = match item.attack {
            Some(attack) => attack.apply(&source, &mut rng),
            None => source,
        };
        limit_peak(&mut clean);
        let talkers = self.babble_talkers(item);
        let mut rng = Rng::for_item(self.seed, STREAM_WILD_RENDER, item.stream);
        item.params
            .apply(&clean, &talkers, &mut rng)
            .map_err(|e| DataError::Invalid {
                path: PathBuf::from(format!("{WILD_NAME}/{}", item.utt_id)),
                message: e.to_string(),
            })
    }

    /// Voices of other wild speakers for a babble clip (none for other conditions): fresh bona
    /// fide renderings of the split's speakers other than the clip's own, in turn.
    fn babble_talkers(&self, item: &WildItem) -> Vec<Vec<f32>> {
        let num_talkers = item.params.num_babble_talkers();
        let first = self.size.spec(Split::Train).num_speakers
            + self.size.spec(Split::Dev).num_speakers
            + self.size.spec(Split::Eval).num_speakers;
        let others: Vec<usize> = (first..self.speakers.len())
            .filter(|&s| s != item.speaker_index)
            .collect();
        if others.is_empty() {
            return Vec::new();
        }
        (0..num_talkers)
            .map(|t| {
                let mut rng =
                    Rng::for_item(self.seed, STREAM_WILD_BABBLE, item.stream * 8 + t as u64);
                let speaker = &self.speakers[others[t % others.len()]];
                // Babble repeats each voice from its own offset, so 1.5 s per talker is enough
                // and keeps these clips about as cheap to render as the others.
                render_bonafide(
                    speaker,
                    item.num_samples.min(BABBLE_TALKER_SAMPLES),
                    &mut rng,
                )
            })
            .collect()
    }

    /// The CM protocol of one split, as the export writes it: `SPEAKER UTT - ATTACK KEY` lines.
    pub fn protocol_text(&self, split: Split) -> String {
        let mut text = String::new();
        for item in self.split_items(split) {
            text.push_str(&format!(
                "{} {} - {} {}\n",
                self.speaker_id(item),
                item.utt_id,
                item.attack.map_or("-", |a| a.id()),
                item.label
            ));
        }
        text
    }

    /// The wild key, as the export writes it to `wild/key.csv` (see [`WILD_KEY_HEADER`]).
    pub fn wild_key_text(&self) -> String {
        let mut text = format!("{WILD_KEY_HEADER}\n");
        for item in &self.wild {
            text.push_str(&item.key_line(self.wild_speaker_id(item)));
            text.push('\n');
        }
        text
    }

    /// Write the keys of the test sets without rendering audio: the eval split's CM protocol as
    /// `eval.txt` and the wild key as `wild.csv` in `dir` (created if missing). Returns
    /// `{"eval": path, "wild": path}`.
    pub fn write_test_keys(&self, dir: &Path) -> Result<BTreeMap<String, PathBuf>, DataError> {
        create_dir(dir)?;
        let mut written = BTreeMap::new();
        for (name, file, text) in [
            ("eval", "eval.txt", self.protocol_text(Split::Eval)),
            (WILD_NAME, "wild.csv", self.wild_key_text()),
        ] {
            let path = dir.join(file);
            crate::atomic_file::write_atomically(&path, text.as_bytes()).map_err(|source| {
                DataError::Io {
                    path: path.clone(),
                    source,
                }
            })?;
            written.insert(name.to_string(), path);
        }
        Ok(written)
    }

    /// Render one item's final audio (16 kHz mono, level-normalised, peak ≤ 0.98).
    pub fn render(&self, item: &DemoItem) -> Vec<f32> {
        self.render_with_source(item).1
    }

    /// Render one item and the bona fide signal it was made from, both level-normalised the
    /// same way: `(source, final)`. For bona fide items the two are identical.
    pub fn render_with_source(&self, item: &DemoItem) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Rng::for_item(self.seed, STREAM_AUDIO, item.stream);
        let speaker = &self.speakers[item.speaker_index.min(self.speakers.len() - 1)];
        let mut source = render_bonafide(speaker, item.num_samples, &mut rng);
        let target_rms = 10f64.powf(item.level_dbfs / 20.0);
        dsp::set_rms(&mut source, target_rms);
        let mut out = match item.attack {
            Some(attack) => attack.apply(&source, &mut rng),
            None => source.clone(),
        };
        limit_peak(&mut source);
        limit_peak(&mut out);
        (source, out)
    }

    /// Write the corpus in the ASVspoof 2019 LA layout under `dir` (created if missing): FLAC
    /// files, CM protocols and a README, and the wild split as `wild/flac/<UTT>.flac` with
    /// `wild/key.csv`. `progress` is called with the utterance ID of each written audio file,
    /// from worker threads.
    pub fn write_asvspoof2019(
        &self,
        dir: &Path,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<ExportSummary, DataError> {
        let protocol_dir = dir.join("ASVspoof2019_LA_cm_protocols");
        create_dir(&protocol_dir)?;
        for split in Split::ALL {
            create_dir(&flac_dir(dir, split))?;
        }
        let wild_dir = dir.join(WILD_NAME);
        create_dir(&wild_dir.join("flac"))?;
        self.items.par_iter().try_for_each(|item| {
            let samples = self.render(item);
            let path = flac_dir(dir, item.split).join(format!("{}.flac", item.utt_id));
            write_flac(&path, &samples, DEMO_SAMPLE_RATE_HZ).map_err(flac_error)?;
            progress(&item.utt_id);
            Ok::<(), DataError>(())
        })?;
        self.wild.par_iter().try_for_each(|item| {
            let samples = self.render_wild(item)?;
            let path = wild_dir.join("flac").join(format!("{}.flac", item.utt_id));
            write_flac(&path, &samples, DEMO_SAMPLE_RATE_HZ).map_err(flac_error)?;
            progress(&item.utt_id);
            Ok::<(), DataError>(())
        })?;
        let mut summary = ExportSummary::default();
        for item in &self.wild {
            let key = item.attack.map_or("bonafide", |a| a.id()).to_string();
            *summary.wild_counts.entry(key).or_default() += 1;
            summary.num_files += 1;
            summary.total_duration_s += item.num_samples as f64 / DEMO_SAMPLE_RATE_HZ as f64;
        }
        write_file(&wild_dir.join("key.csv"), self.wild_key_text().as_bytes())?;
        for split in Split::ALL {
            let text = self.protocol_text(split);
            for item in self.split_items(split) {
                let key = item.attack.map_or("bonafide", |a| a.id()).to_string();
                *summary.counts.entry((split, key)).or_default() += 1;
                summary.num_files += 1;
                summary.total_duration_s += item.num_samples as f64 / DEMO_SAMPLE_RATE_HZ as f64;
            }
            let path = protocol_dir.join(format!(
                "ASVspoof2019.LA.cm.{}.txt",
                split.la2019_protocol_suffix()
            ));
            write_file(&path, text.as_bytes())?;
        }
        write_file(&dir.join("README.txt"), self.readme().as_bytes())?;
        Ok(summary)
    }

    /// The README written next to an export: what the corpus is and how it was made.
    pub fn readme(&self) -> String {
        let mut s = format!(
            "DPDA Workbench demo corpus (size {}, seed {}, generator version {})\n\n\
             THIS CORPUS IS SYNTHETIC. The \"bona fide\" clips are not human speech: they come from a\n\
             source-filter speech synthesiser (glottal pulses, gliding formants, noise bursts).\n\
             The \"spoof\" clips are the same kind of signal passed through vocoder-like\n\
             resynthesis pipelines. It mimics the layout of ASVspoof 2019 LA so that tools written\n\
             for that corpus run on it, and it is meant for demos, tests and smoke runs only;\n\
             results on it say nothing about real deepfake detection.\n\n\
             Layout: ASVspoof2019_LA_{{train,dev,eval}}/flac/<UTT>.flac (16 kHz, 16-bit mono) and\n\
             ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{{train.trn,dev.trl,eval.trl}}.txt with\n\
             lines 'SPEAKER UTT - ATTACK KEY' (ATTACK '-' for bona fide).\n\n\
             wild/ is a domain-shifted test set (this corpus's stand-in for In-the-Wild): new\n\
             speakers, bona fide and all six attacks, each clip passed through one recording or\n\
             transmission condition never seen in train or dev (coloured noise, babble, mains hum,\n\
             room reverberation, G.711 mu-law or A-law telephone lines, a band-limit-and-quantise\n\
             stand-in for a lossy codec, a clipping microphone, resampling chains, mixtures), then a\n\
             level change and a small DC offset. wild/flac/<UTT>.flac with wild/key.csv, columns\n\
             file,speaker,attack,label,condition,snr_db,rt60_s,codec,level_dbfs ('-' where a\n\
             factor does not apply); score it with\n\
             dpda eval --scores SCORES --key wild/key.csv --breakdown\n\n\
             Regenerate with: dpda corpus export DIR --size {} --seed {}\n\nAttacks:\n",
            self.size, self.seed, GENERATOR_VERSION, self.size, self.seed
        );
        for attack in Attack::ALL {
            let seen = if SEEN_ATTACKS.contains(&attack) {
                "train, dev, eval"
            } else {
                "eval only"
            };
            s.push_str(&format!(
                "  {}  {} ({seen})\n",
                attack.id(),
                attack.description()
            ));
        }
        s.push_str("\nCounts:\n");
        for split in Split::ALL {
            let spec = self.size.spec(split);
            s.push_str(&format!(
                "  {:<5} {} bona fide + {} spoofed ({} per attack), {} speakers\n",
                split.name(),
                spec.num_bonafide,
                spec.spoofs_per_attack * spec.attacks().len(),
                spec.spoofs_per_attack,
                spec.num_speakers
            ));
        }
        let spec = self.size.wild_spec();
        s.push_str(&format!(
            "  {:<5} {} bona fide + {} spoofed ({} per attack), {} speakers, {} conditions\n",
            WILD_NAME,
            spec.num_bonafide,
            spec.spoofs_per_attack * spec.attacks().len(),
            spec.spoofs_per_attack,
            spec.num_speakers,
            WildCondition::ALL.len()
        ));
        s
    }

    /// Content of the completeness marker of a cached copy.
    fn marker(&self) -> String {
        format!(
            "dpda demo corpus\ngenerator_version {}\nsize {}\nseed {}\nutterances {}\nwild {}\n",
            GENERATOR_VERSION,
            self.size,
            self.seed,
            self.items.len(),
            self.wild.len()
        )
    }
}

/// Plan the wild split: its speakers (appended to `speakers`) and its clips, each with one
/// condition family assigned round-robin within its class, the class's start shifted so that
/// small classes still spread over all families.
fn plan_wild(size: DemoSize, seed: u64, speakers: &mut Vec<Speaker>) -> Vec<WildItem> {
    let spec = size.wild_spec();
    let first_speaker = speakers.len();
    for k in 0..spec.num_speakers {
        let index = first_speaker + k;
        let mut rng = Rng::for_item(seed, STREAM_WILD_SPEAKERS, k as u64);
        speakers.push(Speaker::generate(
            format!("DEMO_{:03}", index + 1),
            index,
            &mut rng,
        ));
    }
    let families = WildCondition::ALL.len();
    // (attack, index within class, condition)
    let mut kinds: Vec<(Option<Attack>, usize, WildCondition)> = (0..spec.num_bonafide)
        .map(|i| (None, i, WildCondition::ALL[i % families]))
        .collect();
    let mut offset = spec.num_bonafide;
    for &attack in spec.attacks() {
        kinds.extend(
            (0..spec.spoofs_per_attack)
                .map(|i| (Some(attack), i, WildCondition::ALL[(offset + i) % families])),
        );
        offset += spec.spoofs_per_attack;
    }
    let (min_s, max_s) = size.duration_range_s();
    let mut rng = Rng::for_item(seed, STREAM_WILD_PLAN, 0);
    rng.shuffle(&mut kinds);
    kinds
        .into_iter()
        .enumerate()
        .map(|(position, (attack, class_index, condition))| {
            let stream = position as u64;
            let duration_s = rng.uniform(min_s, max_s);
            let mut condition_rng = Rng::for_item(seed, STREAM_WILD_CONDITION, stream);
            WildItem {
                utt_id: format!("LA_W_{:07}", 1_000_001 + position),
                speaker_index: first_speaker + class_index % spec.num_speakers,
                label: label_of(attack),
                attack,
                num_samples: (duration_s * DEMO_SAMPLE_RATE_HZ as f64) as usize,
                source_level_dbfs: rng.uniform(-30.0, -20.0),
                condition,
                params: WildParams::draw(condition, &mut condition_rng),
                stream,
            }
        })
        .collect()
}

/// The label of a planned clip: spoofed when an attack made it.
fn label_of(attack: Option<Attack>) -> Label {
    if attack.is_some() {
        Label::Spoof
    } else {
        Label::Bonafide
    }
}

/// Scale down (never up) so that the peak is at most 0.98.
fn limit_peak(x: &mut [f32]) {
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak > 0.98 {
        let g = 0.98 / peak;
        x.iter_mut().for_each(|v| *v *= g);
    }
}

fn flac_dir(root: &Path, split: Split) -> PathBuf {
    root.join(format!("ASVspoof2019_LA_{}", split.name()))
        .join("flac")
}

fn create_dir(path: &Path) -> Result<(), DataError> {
    std::fs::create_dir_all(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

fn flac_error(e: FlacWriteError) -> DataError {
    match e {
        FlacWriteError::Io { path, source } => DataError::Io { path, source },
        FlacWriteError::Invalid { path, message } => DataError::Invalid { path, message },
        FlacWriteError::Unsupported(message) => DataError::Invalid {
            path: PathBuf::new(),
            message,
        },
    }
}

/// The default cache root: `$DPDA_CACHE_DIR`, else `$XDG_CACHE_HOME/dpda`, else
/// `$HOME/.cache/dpda`; `None` when none of these is set.
pub fn default_cache_root() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("DPDA_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("dpda"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".cache").join("dpda"))
}

/// The folder a cached corpus of this size and seed lives in under `cache_root`.
pub fn cache_dir(size: DemoSize, seed: u64, cache_root: &Path) -> PathBuf {
    cache_root.join(format!("demo-{size}-seed{seed}"))
}

/// Make sure the demo corpus of this size and seed exists under `cache_root` in the ASVspoof
/// 2019 LA layout and return its folder. A complete copy (its marker names this generator
/// version, size and seed) is reused; otherwise the corpus is written to a temporary folder
/// beside it and renamed into place, so a crash never leaves a half-written corpus that looks
/// complete.
pub fn ensure_cached(size: DemoSize, seed: u64, cache_root: &Path) -> Result<PathBuf, DataError> {
    ensure_cached_with_progress(size, seed, cache_root, &|_| {})
}

/// [`ensure_cached`] with a per-file progress callback, given each written utterance's ID
/// (called only when generating).
pub fn ensure_cached_with_progress(
    size: DemoSize,
    seed: u64,
    cache_root: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<PathBuf, DataError> {
    let corpus = DemoCorpus::new(size, seed);
    let final_dir = cache_dir(size, seed, cache_root);
    let expected = corpus.marker();
    let is_complete = |dir: &Path| {
        std::fs::read_to_string(dir.join(COMPLETE_MARKER)).is_ok_and(|m| m == expected)
    };
    if is_complete(&final_dir) {
        return Ok(final_dir);
    }
    create_dir(cache_root)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp_dir = cache_root.join(format!(
        ".tmp-demo-{size}-seed{seed}-{}-{nanos}",
        std::process::id()
    ));
    let result = corpus
        .write_asvspoof2019(&tmp_dir, progress)
        .and_then(|_| write_file(&tmp_dir.join(COMPLETE_MARKER), expected.as_bytes()));
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp_dir);
        return Err(e);
    }
    if final_dir.exists() {
        if is_complete(&final_dir) {
            // Another process finished the same corpus meanwhile; keep theirs.
            let _ = std::fs::remove_dir_all(&tmp_dir);
            return Ok(final_dir);
        }
        // An outdated or incomplete copy: replace it.
        std::fs::remove_dir_all(&final_dir).map_err(|source| DataError::Io {
            path: final_dir.clone(),
            source,
        })?;
    }
    if let Err(source) = std::fs::rename(&tmp_dir, &final_dir) {
        let _ = std::fs::remove_dir_all(&tmp_dir);
        if is_complete(&final_dir) {
            return Ok(final_dir);
        }
        return Err(DataError::Io {
            path: final_dir,
            source,
        });
    }
    Ok(final_dir)
}

/// One split of the cached demo corpus, generated on first use (see [`ensure_cached`]).
pub fn load_split(
    size: DemoSize,
    seed: u64,
    cache_root: &Path,
    split: Split,
) -> Result<super::corpus::Corpus, DataError> {
    let root = ensure_cached(size, seed, cache_root)?;
    let mut corpus = super::corpus::load_asvspoof2019_la(&root, split, super::OnProblem::Fail)?;
    corpus.name = format!("demo corpus ({size}, seed {seed}) {split}");
    Ok(corpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        for size in DemoSize::ALL {
            assert_eq!(size.name().parse::<DemoSize>(), Ok(size));
        }
        assert_eq!("TINY".parse::<DemoSize>(), Ok(DemoSize::Tiny));
        assert!("huge".parse::<DemoSize>().is_err());
    }

    #[test]
    fn plan_matches_the_documented_counts_and_ids_are_unique() {
        let corpus = DemoCorpus::new(DemoSize::Default, 1);
        let mut ids = std::collections::HashSet::new();
        for split in Split::ALL {
            let spec = DemoSize::Default.spec(split);
            let items: Vec<_> = corpus.split_items(split).collect();
            assert_eq!(items.len(), spec.num_utterances());
            assert!(items.iter().all(|i| ids.insert(i.utt_id.clone())));
        }
        assert_eq!(corpus.items.len(), 1500);
        assert_eq!(corpus.wild.len(), 600);
        assert!(corpus.wild.iter().all(|i| ids.insert(i.utt_id.clone())));
        assert_eq!(corpus.wild[0].utt_id, "LA_W_1000001");
    }

    #[test]
    fn wild_leaves_the_other_splits_alone() {
        // The splits' plan comes from streams the wild split never draws from: planning without
        // it (as generator version 1 did) gives the same speakers, items and audio streams.
        let corpus = DemoCorpus::new(DemoSize::Small, 4);
        let mut without = corpus.clone();
        let num_split_speakers: usize = Split::ALL
            .iter()
            .map(|&s| DemoSize::Small.spec(s).num_speakers)
            .sum();
        without.speakers.truncate(num_split_speakers);
        without.wild.clear();
        for (k, speaker) in without.speakers.iter().enumerate() {
            let mut rng = Rng::for_item(4, STREAM_SPEAKERS, k as u64);
            assert_eq!(*speaker, Speaker::generate(speaker.id.clone(), k, &mut rng));
        }
        for (stream, item) in corpus.items.iter().enumerate() {
            assert_eq!(item.stream, stream as u64);
            assert!(item.speaker_index < num_split_speakers);
        }
        let item = &corpus.items[corpus.items.len() - 1];
        assert_eq!(corpus.render(item), without.render(item));
        // Wild clips have their own speakers and streams.
        for w in &corpus.wild {
            assert!(w.speaker_index >= num_split_speakers);
            assert!(w.utt_id.starts_with("LA_W_"));
        }
    }

    #[test]
    fn wild_spreads_every_class_over_every_condition() {
        let corpus = DemoCorpus::new(DemoSize::Default, 2);
        let mut seen = std::collections::BTreeSet::new();
        for item in &corpus.wild {
            seen.insert((item.condition, item.attack));
        }
        assert_eq!(
            seen.len(),
            WildCondition::ALL.len() * (1 + EVAL_ATTACKS.len())
        );
        let tiny = DemoCorpus::new(DemoSize::Tiny, 2);
        let families: std::collections::BTreeSet<_> =
            tiny.wild.iter().map(|i| i.condition).collect();
        assert_eq!(families.len(), WildCondition::ALL.len());
        let speakers: std::collections::HashSet<_> =
            tiny.wild.iter().map(|i| i.speaker_index).collect();
        assert_eq!(speakers.len(), DemoSize::Tiny.wild_spec().num_speakers);
    }

    #[test]
    fn wild_clips_render_deterministically_and_keys_list_them() {
        let corpus = DemoCorpus::new(DemoSize::Tiny, 3);
        let again = DemoCorpus::new(DemoSize::Tiny, 3);
        for item in corpus.wild.iter().take(4) {
            let a = corpus.render_wild(item).unwrap();
            assert_eq!(a.len(), item.num_samples);
            assert!(a.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
            assert_eq!(a, again.render_wild(item).unwrap());
        }
        let key = corpus.wild_key_text();
        let mut lines = key.lines();
        assert_eq!(lines.next(), Some(WILD_KEY_HEADER));
        assert_eq!(lines.count(), corpus.wild.len());
        let dir = tempfile::tempdir().unwrap();
        let keys = corpus.write_test_keys(dir.path()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["eval", "wild"]);
        assert_eq!(std::fs::read_to_string(&keys["wild"]).unwrap(), key);
        let eval = std::fs::read_to_string(&keys["eval"]).unwrap();
        assert_eq!(
            eval.lines().count(),
            DemoSize::Tiny.spec(Split::Eval).num_utterances()
        );
        assert!(eval.lines().all(|l| l.split(' ').count() == 5));
    }

    #[test]
    fn split_speakers_are_disjoint() {
        let corpus = DemoCorpus::new(DemoSize::Small, 3);
        let speakers = |split| {
            corpus
                .split_items(split)
                .map(|i| i.speaker_index)
                .collect::<std::collections::HashSet<_>>()
        };
        assert!(speakers(Split::Train).is_disjoint(&speakers(Split::Dev)));
        assert!(speakers(Split::Train).is_disjoint(&speakers(Split::Eval)));
        assert!(speakers(Split::Dev).is_disjoint(&speakers(Split::Eval)));
    }

    #[test]
    fn limit_peak_only_scales_down() {
        let mut loud = vec![0.5f32, -2.0, 1.0];
        limit_peak(&mut loud);
        assert!((loud[1] + 0.98).abs() < 1e-6 && (loud[0] - 0.245).abs() < 1e-6);
        let mut quiet = vec![0.1f32, -0.2];
        limit_peak(&mut quiet);
        assert_eq!(quiet, vec![0.1, -0.2]);
    }
}
