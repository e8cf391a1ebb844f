//! Clips for training and scoring: loading a split (the demo corpus rendered once into memory,
//! file corpora read on demand and kept in memory within a budget), the per-epoch order and the
//! batch of original and RawBoost crops.
//!
//! As in the DPDA reference, a training input is the first `num_samples` samples of a clip, shorter
//! clips repeated to length (no random crop), and RawBoost is applied to the full clip before
//! cropping. Every draw is keyed by `(seed, epoch, clip index)`, so a batch does not depend on
//! thread scheduling or on whether the run was resumed.
//!
//! File corpora are decoded (and resampled to 16 kHz) when a clip is first read. Without a cache
//! every epoch and every dev evaluation decodes every clip again; with a [`CacheBudget`] attached
//! ([`ClipSet::with_cache`]) each decoded clip is kept, as long as the budget shared by the run's
//! splits has room for it, and later reads return the kept samples — the very values a fresh decode
//! gives, so batches do not depend on the cache. A split larger than the budget keeps what fits
//! (the clips first read) and streams the rest. The run loop uses
//! [`DEFAULT_CLIP_CACHE_BYTES`] unless the environment variable [`CLIP_CACHE_ENV`] says otherwise.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use super::config::{CorpusPlan, DataPlan};
use super::error::TrainError;
use crate::augment::chain::Chain;
use crate::augment::{rawboost, RawBoostAlgo, RawBoostParams};
use crate::data::corpus::Split;
use crate::data::Label;
use crate::rng::Rng;

/// Stream mixed into the seed for RawBoost draws, so they never coincide with shuffling draws.
const STREAM_AUGMENT: u64 = 0xA116_0000_0000_0001;
/// Index used for the per-epoch shuffle stream.
const SHUFFLE_INDEX: u64 = u64::MAX;

/// Memory the run loop lets decoded file clips take, all splits together: 2 GiB (about 9 h of
/// 16 kHz f32 audio; ASVspoof 2019 LA train needs about 5.5 GB to be held whole).
pub const DEFAULT_CLIP_CACHE_BYTES: usize = 2 << 30;

/// Environment variable overriding [`DEFAULT_CLIP_CACHE_BYTES`] for `dpda train` and the GUI, in
/// MiB; `0` turns the cache off.
pub const CLIP_CACHE_ENV: &str = "DPDA_CLIP_CACHE_MB";

/// A memory budget for decoded clips, shared by the caches of the splits it is attached to.
#[derive(Debug)]
pub struct CacheBudget {
    limit_bytes: usize,
    used_bytes: AtomicUsize,
}

impl CacheBudget {
    /// A budget of `limit_bytes`, shareable between clip sets.
    pub fn new(limit_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            limit_bytes,
            used_bytes: AtomicUsize::new(0),
        })
    }

    /// The budget's size in bytes.
    pub fn limit_bytes(&self) -> usize {
        self.limit_bytes
    }

    /// Bytes taken by kept clips so far.
    pub fn used_bytes(&self) -> usize {
        self.used_bytes.load(Ordering::Relaxed)
    }

    /// Take `bytes` from the budget if they fit (clips are decoded in parallel, hence atomic).
    fn try_reserve(&self, bytes: usize) -> bool {
        self.used_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes)
                    .filter(|total| *total <= self.limit_bytes)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        self.used_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// The budget for a run: [`CLIP_CACHE_ENV`] in MiB when set, else [`DEFAULT_CLIP_CACHE_BYTES`].
pub fn clip_cache_budget_from_env() -> Result<Arc<CacheBudget>, TrainError> {
    match std::env::var(CLIP_CACHE_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(CacheBudget::new(DEFAULT_CLIP_CACHE_BYTES)),
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(mib) => Ok(CacheBudget::new(mib.saturating_mul(1 << 20))),
            Err(_) => Err(invalid_cache_env(format!(
                "'{text}' is not a whole number of MiB"
            ))),
        },
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(invalid_cache_env("is not valid UTF-8".into()))
        }
    }
}

fn invalid_cache_env(message: String) -> TrainError {
    TrainError::Config(super::config::ConfigError::Invalid {
        key: format!("environment variable {CLIP_CACHE_ENV}"),
        message,
    })
}

/// Decoded clips of a file-backed set, one slot per clip, filled on first read.
#[derive(Debug)]
struct ClipCache {
    slots: Vec<OnceLock<Arc<Vec<f32>>>>,
    budget: Arc<CacheBudget>,
}

/// The audio of a clip set: in memory or on disk (optionally cached once decoded).
#[derive(Clone, Debug)]
enum Source {
    Memory(Vec<Arc<Vec<f32>>>),
    Files {
        paths: Vec<PathBuf>,
        cache: Option<Arc<ClipCache>>,
    },
}

/// The clips of one split with their labels.
#[derive(Clone, Debug)]
pub struct ClipSet {
    pub ids: Vec<String>,
    pub labels: Vec<Label>,
    pub attacks: Vec<Option<String>>,
    source: Source,
}

/// Class index of a label in the logits: 0 spoof, 1 bona fide.
pub fn class_index(label: Label) -> u32 {
    match label {
        Label::Spoof => 0,
        Label::Bonafide => 1,
    }
}

impl ClipSet {
    /// Clips held in memory (tests, the demo corpus).
    pub fn from_memory(ids: Vec<String>, labels: Vec<Label>, clips: Vec<Vec<f32>>) -> Self {
        let n = ids.len();
        Self {
            ids,
            labels,
            attacks: vec![None; n],
            source: Source::Memory(clips.into_iter().map(Arc::new).collect()),
        }
    }

    /// Clips read from audio files on demand (no cache; see [`ClipSet::with_cache`]).
    pub fn from_files(
        ids: Vec<String>,
        labels: Vec<Label>,
        attacks: Vec<Option<String>>,
        paths: Vec<PathBuf>,
    ) -> Self {
        Self {
            ids,
            labels,
            attacks,
            source: Source::Files { paths, cache: None },
        }
    }

    /// Keep decoded file clips in memory within `budget` (shared with other sets it is given to);
    /// clips already in memory are unaffected. Replaces any earlier cache of this set.
    pub fn with_cache(mut self, budget: Arc<CacheBudget>) -> Self {
        if let Source::Files { paths, cache } = &mut self.source {
            *cache = Some(Arc::new(ClipCache {
                slots: (0..paths.len()).map(|_| OnceLock::new()).collect(),
                budget,
            }));
        }
        self
    }

    /// How many clips are held in memory (all of an in-memory set; the cached ones of a file set).
    pub fn num_in_memory(&self) -> usize {
        match &self.source {
            Source::Memory(v) => v.len(),
            Source::Files { cache: None, .. } => 0,
            Source::Files {
                cache: Some(cache),
                paths,
            } => cache.slots[..paths.len()]
                .iter()
                .filter(|s| s.get().is_some())
                .count(),
        }
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no clips.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Keep the first `max` clips (0 keeps all).
    pub fn truncate(&mut self, max: usize) {
        if max == 0 || max >= self.len() {
            return;
        }
        self.ids.truncate(max);
        self.labels.truncate(max);
        self.attacks.truncate(max);
        match &mut self.source {
            Source::Memory(v) => v.truncate(max),
            // Cache slots past `max` are never read again; a shared cache keeps its length.
            Source::Files { paths, .. } => paths.truncate(max),
        }
    }

    /// Samples of clip `index` at 16 kHz.
    pub fn samples(&self, index: usize) -> Result<Arc<Vec<f32>>, TrainError> {
        match &self.source {
            Source::Memory(v) => Ok(v[index].clone()),
            Source::Files { paths, cache } => {
                if let Some(kept) = cache.as_ref().and_then(|c| c.slots[index].get()) {
                    return Ok(kept.clone());
                }
                let path = &paths[index];
                let samples = crate::audio::load_mono_16k(path)
                    .map(|c| Arc::new(c.samples))
                    .map_err(|source| TrainError::Audio {
                        path: path.clone(),
                        source,
                    })?;
                if let Some(cache) = cache {
                    let bytes = samples.len() * std::mem::size_of::<f32>();
                    if cache.budget.try_reserve(bytes)
                        && cache.slots[index].set(samples.clone()).is_err()
                    {
                        // Another thread kept this clip first: give the bytes back.
                        cache.budget.release(bytes);
                    }
                }
                Ok(samples)
            }
        }
    }
}

/// Load one split of the configured corpus.
pub fn load_split(plan: &DataPlan, split: Split) -> Result<ClipSet, TrainError> {
    let mut set = match &plan.corpus {
        CorpusPlan::Demo { size, seed } => demo_split(*size, *seed, split),
        CorpusPlan::Asvspoof2019La { root } => {
            if !root.is_dir() {
                return Err(TrainError::DataPath {
                    key: "data.root",
                    path: root.clone(),
                    message: "not a folder (expected the ASVspoof 2019 LA root holding \
                              ASVspoof2019_LA_train, ASVspoof2019_LA_dev, ASVspoof2019_LA_eval \
                              and ASVspoof2019_LA_cm_protocols)"
                        .into(),
                });
            }
            from_corpus(crate::data::corpus::load_asvspoof2019_la(
                root,
                split,
                crate::data::OnProblem::Fail,
            )?)
        }
        CorpusPlan::Csv { train, dev, eval } => {
            let path = match split {
                Split::Train => train,
                Split::Dev => dev,
                Split::Eval => match eval {
                    Some(p) => p,
                    None => {
                        return Ok(ClipSet::from_memory(Vec::new(), Vec::new(), Vec::new()));
                    }
                },
            };
            from_corpus(crate::data::corpus::load_csv(
                path,
                crate::data::OnProblem::Fail,
            )?)
        }
    };
    match split {
        Split::Dev => set.truncate(plan.max_dev_clips),
        Split::Eval => set.truncate(plan.max_eval_clips),
        Split::Train => {}
    }
    Ok(set)
}

/// Which demo clips a cached set holds: a split, or the wild split (`None`).
type DemoKey = (crate::data::demo::DemoSize, u64, Option<Split>);

/// Rendered demo splits of the most recent demo corpus (size, seed): runs started one after
/// another in one process (GUI, tests) render its clips once.
static DEMO_CACHE: Mutex<Vec<(DemoKey, ClipSet)>> = Mutex::new(Vec::new());

fn cached_demo_set(key: &DemoKey) -> Option<ClipSet> {
    let cache = DEMO_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, set)| set.clone())
}

fn keep_demo_set(key: DemoKey, set: &ClipSet) {
    let mut cache = DEMO_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|((s, d, _), _)| *s == key.0 && *d == key.1);
    cache.push((key, set.clone()));
}

/// The demo corpus's wild split (see [`crate::data::demo`]) rendered into memory, its IDs those
/// of the wild key's trial names (`LA_W_…`); kept like the other demo splits.
pub fn demo_wild(size: crate::data::demo::DemoSize, seed: u64) -> Result<ClipSet, TrainError> {
    let key = (size, seed, None);
    if let Some(set) = cached_demo_set(&key) {
        return Ok(set);
    }
    let corpus = crate::data::demo::DemoCorpus::new(size, seed);
    let clips: Vec<Vec<f32>> = corpus
        .wild
        .par_iter()
        .map(|i| corpus.render_wild(i))
        .collect::<Result<_, _>>()?;
    let set = ClipSet {
        ids: corpus.wild.iter().map(|i| i.utt_id.clone()).collect(),
        labels: corpus.wild.iter().map(|i| i.label).collect(),
        attacks: corpus
            .wild
            .iter()
            .map(|i| i.attack.map(|a| a.id().to_string()))
            .collect(),
        source: Source::Memory(clips.into_iter().map(Arc::new).collect()),
    };
    keep_demo_set(key, &set);
    Ok(set)
}

fn demo_split(size: crate::data::demo::DemoSize, seed: u64, split: Split) -> ClipSet {
    let key = (size, seed, Some(split));
    if let Some(set) = cached_demo_set(&key) {
        return set;
    }
    let corpus = crate::data::demo::DemoCorpus::new(size, seed);
    let items: Vec<_> = corpus.split_items(split).collect();
    let clips: Vec<Vec<f32>> = items.par_iter().map(|i| corpus.render(i)).collect();
    let set = ClipSet {
        ids: items.iter().map(|i| i.utt_id.clone()).collect(),
        labels: items.iter().map(|i| i.label).collect(),
        attacks: items
            .iter()
            .map(|i| i.attack.map(|a| a.id().to_string()))
            .collect(),
        source: Source::Memory(clips.into_iter().map(Arc::new).collect()),
    };
    keep_demo_set(key, &set);
    set
}

fn from_corpus(corpus: crate::data::corpus::Corpus) -> ClipSet {
    let u = corpus.utterances;
    ClipSet {
        ids: u.iter().map(|x| x.id.clone()).collect(),
        labels: u.iter().map(|x| x.label).collect(),
        attacks: u.iter().map(|x| x.attack.clone()).collect(),
        source: Source::Files {
            paths: u.into_iter().map(|x| x.path).collect(),
            cache: None,
        },
    }
}

/// The order of the training clips in `epoch`.
pub fn epoch_order(num_clips: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..num_clips).collect();
    Rng::for_item(seed, epoch, SHUFFLE_INDEX).shuffle(&mut order);
    order
}

/// What makes one augmented path's input from a clip.
#[derive(Clone, Debug)]
pub enum PathAugment {
    /// RawBoost with these settings.
    RawBoost {
        algo: RawBoostAlgo,
        params: RawBoostParams,
    },
    /// A prepared augmentation chain (shared by the batch's worker threads).
    Chain(Arc<Chain>),
}

/// How a batch's augmented paths are drawn: `paths[j]` makes augmented path `j` (path `j + 1` of
/// the run, the clean path being path 0), with its own random stream.
#[derive(Clone, Copy, Debug)]
pub struct AugmentSpec<'a> {
    pub paths: &'a [PathAugment],
    /// Names of the augmented paths (for errors), as `paths`.
    pub names: &'a [String],
    pub seed: u64,
    pub epoch: u64,
}

/// The seed of augmented path `j`'s stream. Path 0 keeps the stream dual-path runs always had,
/// so two-path runs draw exactly what they drew before K paths existed; the others are spread by
/// the golden-ratio constant.
fn path_stream_seed(seed: u64, j: usize) -> u64 {
    (seed ^ STREAM_AUGMENT) ^ (j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A prepared batch: flat crops `[batch × num_samples]` and class indices.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub orig: Option<Vec<f32>>,
    /// The first augmented path.
    pub aug: Option<Vec<f32>>,
    /// Augmented paths 2, 3, … of a K-path run, in `train.paths` order.
    pub extra: Vec<Vec<f32>>,
    pub labels: Vec<u32>,
    pub num_samples: usize,
}

impl Batch {
    /// Augmented path `j` (0-based: `aug` is path 0).
    pub fn augmented(&self, j: usize) -> Option<&[f32]> {
        if j == 0 {
            self.aug.as_deref()
        } else {
            self.extra.get(j - 1).map(Vec::as_slice)
        }
    }

    /// Number of clips per path.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Augmented path `j` of clip `i` of `set` (the whole clip, before cropping).
fn augment_clip(
    set: &ClipSet,
    i: usize,
    clip: &[f32],
    spec: &AugmentSpec<'_>,
    j: usize,
) -> Result<Vec<f32>, TrainError> {
    let mut rng = Rng::for_item(path_stream_seed(spec.seed, j), spec.epoch, i as u64);
    match &spec.paths[j] {
        PathAugment::RawBoost { algo, params } => rawboost(clip, 16_000, *algo, params, &mut rng)
            .map(|out| out.samples)
            .map_err(|source| TrainError::RawBoost {
                clip: set.ids[i].clone(),
                source,
            }),
        PathAugment::Chain(chain) => chain
            .apply(clip, 16_000, &mut rng)
            .map(|(samples, _report)| samples)
            .map_err(|source| TrainError::Augment {
                path: spec.names.get(j).cloned().unwrap_or_default(),
                clip: set.ids[i].clone(),
                source: Box::new(source),
            }),
    }
}

/// Crop (and, when `augment` is given, augment along each of its paths) the clips `indices` in
/// parallel.
pub fn prepare_batch(
    set: &ClipSet,
    indices: &[usize],
    num_samples: usize,
    want_orig: bool,
    augment: Option<AugmentSpec<'_>>,
) -> Result<Batch, TrainError> {
    let num_aug = augment.map_or(0, |a| a.paths.len());
    type Crops = (Option<Vec<f32>>, Vec<Vec<f32>>);
    let crops: Vec<Result<Crops, TrainError>> = indices
        .par_iter()
        .map(|&i| {
            let clip = set.samples(i)?;
            let orig = want_orig.then(|| crate::audio::repeat_pad(&clip, num_samples));
            let mut augmented = Vec::with_capacity(num_aug);
            if let Some(spec) = &augment {
                for j in 0..num_aug {
                    let out = augment_clip(set, i, &clip, spec, j)?;
                    augmented.push(crate::audio::repeat_pad(&out, num_samples));
                }
            }
            Ok((orig, augmented))
        })
        .collect();
    let per_path = indices.len() * num_samples;
    let mut paths: Vec<Vec<f32>> = (0..num_aug).map(|_| Vec::with_capacity(per_path)).collect();
    let mut orig = want_orig.then(|| Vec::with_capacity(per_path));
    for crop in crops {
        let (o, a) = crop?;
        if let (Some(dst), Some(src)) = (orig.as_mut(), o) {
            dst.extend(src);
        }
        for (dst, src) in paths.iter_mut().zip(a) {
            dst.extend(src);
        }
    }
    let mut paths = paths.into_iter();
    Ok(Batch {
        orig,
        aug: paths.next(),
        extra: paths.collect(),
        labels: indices
            .iter()
            .map(|&i| class_index(set.labels[i]))
            .collect(),
        num_samples,
    })
}

pub(super) fn split_scores(set: &ClipSet, scores: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut bonafide = Vec::new();
    let mut spoof = Vec::new();
    for (label, s) in set.labels.iter().zip(scores) {
        match label {
            Label::Bonafide => bonafide.push(*s),
            Label::Spoof => spoof.push(*s),
        }
    }
    (bonafide, spoof)
}

/// EER and threshold of scores, `(NaN, NaN)` when a class is missing.
pub(super) fn eer_of(set: &ClipSet, scores: &[f64]) -> (f64, f64) {
    let (b, s) = split_scores(set, scores);
    match crate::metrics::eer(&b, &s) {
        Ok(e) => (e.eer, e.threshold),
        Err(_) => (f64::NAN, f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_deterministic_and_cropped_to_length() {
        let set = ClipSet::from_memory(
            vec!["a".into(), "b".into()],
            vec![Label::Bonafide, Label::Spoof],
            vec![
                vec![0.1, -0.2, 0.3],
                (0..500).map(|i| (i as f32 * 0.1).sin()).collect(),
            ],
        );
        let paths = [PathAugment::RawBoost {
            algo: RawBoostAlgo::Isd,
            params: RawBoostParams::default(),
        }];
        let names = ["rawboost".to_string()];
        let spec = AugmentSpec {
            paths: &paths,
            names: &names,
            seed: 5,
            epoch: 2,
        };
        let b1 = prepare_batch(&set, &[1, 0], 400, true, Some(spec)).unwrap();
        let b2 = prepare_batch(&set, &[1, 0], 400, true, Some(spec)).unwrap();
        assert_eq!(b1.labels, vec![0, 1]);
        let orig = b1.orig.as_ref().unwrap();
        assert_eq!(orig.len(), 800);
        // Clip "a" repeated to length.
        assert_eq!(&orig[400..406], &[0.1, -0.2, 0.3, 0.1, -0.2, 0.3]);
        assert_eq!(b1.aug, b2.aug);
        assert_ne!(b1.aug.as_ref().unwrap()[..400], orig[..400]);
        assert_ne!(epoch_order(50, 1, 0), epoch_order(50, 1, 1));
        assert_eq!(epoch_order(50, 1, 3), epoch_order(50, 1, 3));
    }
}
