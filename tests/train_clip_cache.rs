//! The in-memory cache of decoded file clips: batches read through the cache equal those decoded
//! from disk every time, the budget bounds what is kept, and kept clips no longer need the files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dpda::audio::{write_wav, WavFormat};
use dpda::augment::{RawBoostAlgo, RawBoostParams};
use dpda::data::Label;
use dpda::rng::Rng;
use dpda::train::data::{
    clip_cache_budget_from_env, epoch_order, prepare_batch, AugmentSpec, Batch, CacheBudget,
    ClipSet, PathAugment, CLIP_CACHE_ENV, DEFAULT_CLIP_CACHE_BYTES,
};
use dpda::train::TrainError;

const NUM_SAMPLES: usize = 4_000;

/// Six clips of different lengths and rates (two need resampling to 16 kHz), as WAV files.
fn write_clips(dir: &Path) -> (ClipSet, usize) {
    let mut rng = Rng::new(17);
    let specs: [(usize, u32); 6] = [
        (3_000, 16_000),
        (5_500, 16_000),
        (4_410, 22_050),
        (1_200, 16_000),
        (8_000, 8_000),
        (4_000, 16_000),
    ];
    let mut paths: Vec<PathBuf> = Vec::new();
    for (i, (len, rate)) in specs.iter().enumerate() {
        let samples: Vec<f32> = (0..*len).map(|_| (0.2 * rng.normal()) as f32).collect();
        let path = dir.join(format!("clip{i}.wav"));
        let format = if i % 2 == 0 {
            WavFormat::Int16
        } else {
            WavFormat::Float32
        };
        write_wav(&path, &samples, *rate, format).unwrap();
        paths.push(path);
    }
    let ids = (0..specs.len()).map(|i| format!("clip{i}")).collect();
    let labels = (0..specs.len())
        .map(|i| {
            if i % 3 == 0 {
                Label::Bonafide
            } else {
                Label::Spoof
            }
        })
        .collect();
    let set = ClipSet::from_files(ids, labels, vec![None; specs.len()], paths);
    // Decoded sizes at 16 kHz, measured on an uncached read.
    let bytes = (0..set.len())
        .map(|i| set.samples(i).unwrap().len() * 4)
        .sum();
    (set, bytes)
}

/// Every batch of two epochs (batch size 2), original and RawBoost paths.
fn epochs(set: &ClipSet) -> Result<Vec<Batch>, TrainError> {
    let paths = [PathAugment::RawBoost {
        algo: RawBoostAlgo::LnlIsdSsi,
        params: RawBoostParams::default(),
    }];
    let names = ["rawboost".to_string()];
    let mut out = Vec::new();
    for epoch in 0..2 {
        let order = epoch_order(set.len(), 9, epoch);
        for chunk in order.chunks(2) {
            let spec = AugmentSpec {
                paths: &paths,
                names: &names,
                seed: 9,
                epoch,
            };
            out.push(prepare_batch(set, chunk, NUM_SAMPLES, true, Some(spec))?);
        }
    }
    Ok(out)
}

fn assert_same(a: &[Batch], b: &[Batch]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.labels, y.labels);
        assert_eq!(x.orig, y.orig);
        assert_eq!(x.aug, y.aug);
        assert!(x.orig.as_ref().is_some_and(|v| v.len() == 2 * NUM_SAMPLES));
    }
}

#[test]
fn cached_and_streamed_batches_are_identical_and_survive_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (streamed, total_bytes) = write_clips(dir.path());
    let budget = CacheBudget::new(64 << 20);
    let cached = streamed.clone().with_cache(budget.clone());
    assert_eq!(cached.num_in_memory(), 0);

    let reference = epochs(&streamed).unwrap();
    assert_eq!(streamed.num_in_memory(), 0);
    let through_cache = epochs(&cached).unwrap();
    assert_same(&reference, &through_cache);
    assert_eq!(cached.num_in_memory(), cached.len());
    assert_eq!(budget.used_bytes(), total_bytes);

    // With the files gone, the cached set still serves every batch; the streaming one cannot.
    for i in 0..streamed.len() {
        std::fs::remove_file(dir.path().join(format!("clip{i}.wav"))).unwrap();
    }
    assert_same(&reference, &epochs(&cached).unwrap());
    let err = epochs(&streamed).unwrap_err();
    assert!(matches!(err, TrainError::Audio { .. }), "{err}");
    assert!(err.to_string().contains("clip"), "{err}");
}

#[test]
fn a_budget_smaller_than_the_split_keeps_what_fits_and_streams_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (streamed, total_bytes) = write_clips(dir.path());
    let limit = total_bytes / 2;
    let budget = CacheBudget::new(limit);
    let cached = streamed.clone().with_cache(budget.clone());
    assert_same(&epochs(&streamed).unwrap(), &epochs(&cached).unwrap());
    let kept = cached.num_in_memory();
    assert!(kept > 0 && kept < cached.len(), "{kept} clips kept");
    assert!(budget.used_bytes() <= limit && budget.used_bytes() > 0);

    // Two sets share one budget: once the first has filled it, the second keeps nothing.
    let shared = CacheBudget::new(total_bytes);
    let first = streamed.clone().with_cache(shared.clone());
    let second = streamed.clone().with_cache(shared.clone());
    epochs(&first).unwrap();
    assert_eq!(first.num_in_memory(), first.len());
    assert_same(&epochs(&streamed).unwrap(), &epochs(&second).unwrap());
    assert_eq!(second.num_in_memory(), 0);
    assert_eq!(shared.used_bytes(), total_bytes);

    // A zero budget keeps nothing.
    let none = streamed.clone().with_cache(CacheBudget::new(0));
    assert_same(&epochs(&streamed).unwrap(), &epochs(&none).unwrap());
    assert_eq!(none.num_in_memory(), 0);
}

#[test]
fn in_memory_sets_ignore_the_cache_and_the_env_variable_is_parsed() {
    let set = ClipSet::from_memory(vec!["a".into()], vec![Label::Spoof], vec![vec![0.5; 100]])
        .with_cache(CacheBudget::new(0));
    assert_eq!(set.num_in_memory(), 1);
    assert_eq!(*set.samples(0).unwrap(), vec![0.5; 100]);

    // The only test of this binary touching the variable (tests run on threads of one process).
    std::env::remove_var(CLIP_CACHE_ENV);
    assert_eq!(
        clip_cache_budget_from_env().unwrap().limit_bytes(),
        DEFAULT_CLIP_CACHE_BYTES
    );
    std::env::set_var(CLIP_CACHE_ENV, "3");
    assert_eq!(clip_cache_budget_from_env().unwrap().limit_bytes(), 3 << 20);
    std::env::set_var(CLIP_CACHE_ENV, "lots");
    let err = clip_cache_budget_from_env().unwrap_err().to_string();
    assert!(
        err.contains(CLIP_CACHE_ENV) && err.contains("lots"),
        "{err}"
    );
    std::env::remove_var(CLIP_CACHE_ENV);
    let _: Arc<CacheBudget> = clip_cache_budget_from_env().unwrap();
}
