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
//! | size    | train (bona fide + spoof) | dev          | eval (bona fide + spoof) | speakers t/d/e |
//! |---------|---------------------------|--------------|--------------------------|----------------|
//! | tiny    | 6 + 4×3 = 18              | 4 + 4×2 = 12 | 4 + 6×2 = 16             | 3/2/3          |
//! | small   | 40 + 4×40 = 200           | 20 + 4×20 = 100 | 30 + 6×25 = 180       | 6/4/6          |
//! | default | 120 + 4×120 = 600         | 60 + 4×60 = 300 | 120 + 6×80 = 600      | 12/6/10        |
//! | large   | 480 + 4×480 = 2400        | 240 + 4×240 = 1200 | 480 + 6×320 = 2400 | 24/12/20       |
//!
//! Every random draw comes from `Rng::for_item(seed, stream, index)`, so an utterance is the same
//! whichever order (or thread) renders it. [`GENERATOR_VERSION`] changes whenever the audio a seed
//! produces changes, which invalidates on-disk caches.

mod attacks;
mod dsp;
mod synth;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rayon::prelude::*;

pub use attacks::Attack;
pub use synth::{render_bonafide, Speaker, DEMO_SAMPLE_RATE_HZ};

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
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExportSummary {
    /// Utterance counts per (split, attack ID or `bonafide`).
    pub counts: BTreeMap<(Split, String), usize>,
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
                    label: if attack.is_some() {
                        Label::Spoof
                    } else {
                        Label::Bonafide
                    },
                    attack,
                    num_samples: (duration_s * DEMO_SAMPLE_RATE_HZ as f64) as usize,
                    level_dbfs: rng.uniform(-30.0, -20.0),
                    stream,
                });
                stream += 1;
            }
        }
        DemoCorpus {
            size,
            seed,
            speakers,
            items,
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
    /// files, CM protocols and a README. `progress` is called once per written file, from worker
    /// threads.
    pub fn write_asvspoof2019(
        &self,
        dir: &Path,
        progress: &(dyn Fn(&DemoItem) + Sync),
    ) -> Result<ExportSummary, DataError> {
        let protocol_dir = dir.join("ASVspoof2019_LA_cm_protocols");
        create_dir(&protocol_dir)?;
        for split in Split::ALL {
            create_dir(&flac_dir(dir, split))?;
        }
        self.items.par_iter().try_for_each(|item| {
            let samples = self.render(item);
            let path = flac_dir(dir, item.split).join(format!("{}.flac", item.utt_id));
            write_flac(&path, &samples, DEMO_SAMPLE_RATE_HZ).map_err(flac_error)?;
            progress(item);
            Ok::<(), DataError>(())
        })?;
        let mut summary = ExportSummary::default();
        for split in Split::ALL {
            let mut text = String::new();
            for item in self.split_items(split) {
                let attack = item.attack.map_or("-", |a| a.id());
                text.push_str(&format!(
                    "{} {} - {} {}\n",
                    self.speaker_id(item),
                    item.utt_id,
                    attack,
                    item.label
                ));
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
        s
    }

    /// Content of the completeness marker of a cached copy.
    fn marker(&self) -> String {
        format!(
            "dpda demo corpus\ngenerator_version {}\nsize {}\nseed {}\nutterances {}\n",
            GENERATOR_VERSION,
            self.size,
            self.seed,
            self.items.len()
        )
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

/// [`ensure_cached`] with a per-file progress callback (called only when generating).
pub fn ensure_cached_with_progress(
    size: DemoSize,
    seed: u64,
    cache_root: &Path,
    progress: &(dyn Fn(&DemoItem) + Sync),
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
