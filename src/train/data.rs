//! Clips for training and scoring: loading a split (the demo corpus rendered once into memory,
//! file corpora read on demand), the per-epoch order and the batch of original and RawBoost crops.
//!
//! As in the DPDA reference, a training input is the first `num_samples` samples of a clip, shorter
//! clips repeated to length (no random crop), and RawBoost is applied to the full clip before
//! cropping. Every draw is keyed by `(seed, epoch, clip index)`, so a batch does not depend on
//! thread scheduling or on whether the run was resumed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::config::{CorpusPlan, DataPlan};
use super::error::TrainError;
use crate::augment::{rawboost, RawBoostAlgo, RawBoostParams};
use crate::data::corpus::Split;
use crate::data::Label;
use crate::rng::Rng;

/// Stream mixed into the seed for RawBoost draws, so they never coincide with shuffling draws.
const STREAM_AUGMENT: u64 = 0xA116_0000_0000_0001;
/// Index used for the per-epoch shuffle stream.
const SHUFFLE_INDEX: u64 = u64::MAX;

/// The audio of a clip set: in memory or on disk.
#[derive(Clone, Debug)]
enum Source {
    Memory(Vec<Arc<Vec<f32>>>),
    Files(Vec<PathBuf>),
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
            Source::Files(v) => v.truncate(max),
        }
    }

    /// Samples of clip `index` at 16 kHz.
    pub fn samples(&self, index: usize) -> Result<Arc<Vec<f32>>, TrainError> {
        match &self.source {
            Source::Memory(v) => Ok(v[index].clone()),
            Source::Files(paths) => {
                let path = &paths[index];
                crate::audio::load_mono_16k(path)
                    .map(|c| Arc::new(c.samples))
                    .map_err(|source| TrainError::Audio {
                        path: path.clone(),
                        source,
                    })
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

type DemoKey = (crate::data::demo::DemoSize, u64, Split);

/// Rendered demo splits of the most recent demo corpus (size, seed): runs started one after
/// another in one process (GUI, tests) render its clips once.
static DEMO_CACHE: Mutex<Vec<(DemoKey, ClipSet)>> = Mutex::new(Vec::new());

fn demo_split(size: crate::data::demo::DemoSize, seed: u64, split: Split) -> ClipSet {
    let key = (size, seed, split);
    {
        let cache = DEMO_CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, set)) = cache.iter().find(|(k, _)| *k == key) {
            return set.clone();
        }
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
    let mut cache = DEMO_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|((s, d, _), _)| *s == size && *d == seed);
    cache.push((key, set.clone()));
    set
}

fn from_corpus(corpus: crate::data::corpus::Corpus) -> ClipSet {
    let u = corpus.utterances;
    ClipSet {
        ids: u.iter().map(|x| x.id.clone()).collect(),
        labels: u.iter().map(|x| x.label).collect(),
        attacks: u.iter().map(|x| x.attack.clone()).collect(),
        source: Source::Files(u.into_iter().map(|x| x.path).collect()),
    }
}

/// The order of the training clips in `epoch`.
pub fn epoch_order(num_clips: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..num_clips).collect();
    Rng::for_item(seed, epoch, SHUFFLE_INDEX).shuffle(&mut order);
    order
}

/// How a batch's augmented path is drawn.
#[derive(Clone, Copy, Debug)]
pub struct AugmentSpec<'a> {
    pub algo: RawBoostAlgo,
    pub params: &'a RawBoostParams,
    pub seed: u64,
    pub epoch: u64,
}

/// A prepared batch: flat crops `[batch × num_samples]` and class indices.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub orig: Option<Vec<f32>>,
    pub aug: Option<Vec<f32>>,
    pub labels: Vec<u32>,
    pub num_samples: usize,
}

impl Batch {
    /// Number of clips per path.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Crop (and, when `augment` is given, RawBoost) the clips `indices` in parallel.
pub fn prepare_batch(
    set: &ClipSet,
    indices: &[usize],
    num_samples: usize,
    want_orig: bool,
    augment: Option<AugmentSpec<'_>>,
) -> Result<Batch, TrainError> {
    type Pair = (Option<Vec<f32>>, Option<Vec<f32>>);
    let pairs: Vec<Result<Pair, TrainError>> = indices
        .par_iter()
        .map(|&i| {
            let clip = set.samples(i)?;
            let orig = want_orig.then(|| crate::audio::repeat_pad(&clip, num_samples));
            let aug = match augment {
                Some(a) => {
                    let mut rng = Rng::for_item(a.seed ^ STREAM_AUGMENT, a.epoch, i as u64);
                    let out =
                        rawboost(&clip, 16_000, a.algo, a.params, &mut rng).map_err(|source| {
                            TrainError::RawBoost {
                                clip: set.ids[i].clone(),
                                source,
                            }
                        })?;
                    Some(crate::audio::repeat_pad(&out.samples, num_samples))
                }
                None => None,
            };
            Ok((orig, aug))
        })
        .collect();
    let mut batch = Batch {
        orig: want_orig.then(|| Vec::with_capacity(indices.len() * num_samples)),
        aug: augment.map(|_| Vec::with_capacity(indices.len() * num_samples)),
        labels: indices
            .iter()
            .map(|&i| class_index(set.labels[i]))
            .collect(),
        num_samples,
    };
    for pair in pairs {
        let (o, a) = pair?;
        if let (Some(dst), Some(src)) = (batch.orig.as_mut(), o) {
            dst.extend(src);
        }
        if let (Some(dst), Some(src)) = (batch.aug.as_mut(), a) {
            dst.extend(src);
        }
    }
    Ok(batch)
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
        let params = RawBoostParams::default();
        let spec = AugmentSpec {
            algo: RawBoostAlgo::Isd,
            params: &params,
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
