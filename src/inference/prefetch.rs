//! Decoding files ahead of the model. A folder is scored faster when the next files are read,
//! decoded and resampled on their own thread while the model runs on the current batch: the
//! model's kernels use every core, and decoding then costs no wall time of its own.

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};

use crate::audio::{AudioError, Clip};

/// Files decoded to 16 kHz mono in order, each with its index in the list given.
pub struct Prefetch {
    source: Source,
}

enum Source {
    /// A decoding thread a few files ahead; it stops once this end is dropped.
    Thread(Receiver<(usize, Result<Clip, AudioError>)>),
    /// No thread could be started: decode on demand.
    Inline { paths: Vec<PathBuf>, next: usize },
}

/// Decode `paths` (with [`crate::audio::load_mono_16k`]) on a thread that stays at most
/// `lookahead` files ahead of the consumer (at least one).
pub fn prefetch(paths: Vec<PathBuf>, lookahead: usize) -> Prefetch {
    let (tx, rx) = sync_channel(lookahead.max(1));
    let thread_paths = paths.clone();
    let spawned = std::thread::Builder::new()
        .name("decode-ahead".into())
        .spawn(move || {
            for (i, path) in thread_paths.iter().enumerate() {
                if tx.send((i, crate::audio::load_mono_16k(path))).is_err() {
                    return; // the consumer has stopped
                }
            }
        });
    let source = match spawned {
        Ok(_) => Source::Thread(rx),
        Err(_) => Source::Inline { paths, next: 0 },
    };
    Prefetch { source }
}

impl Iterator for Prefetch {
    type Item = (usize, Result<Clip, AudioError>);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.source {
            Source::Thread(rx) => rx.recv().ok(),
            Source::Inline { paths, next } => {
                let path = paths.get(*next)?;
                let item = (*next, crate::audio::load_mono_16k(path));
                *next += 1;
                Some(item)
            }
        }
    }
}

impl Prefetch {
    /// Up to `n` next files (fewer at the end; empty once all are taken).
    pub fn take_group(&mut self, n: usize) -> Vec<(usize, Result<Clip, AudioError>)> {
        self.by_ref().take(n.max(1)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_arrive_in_order_with_failures_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..7 {
            let path = dir.path().join(format!("c{i}.wav"));
            if i == 3 {
                std::fs::write(&path, b"not audio").unwrap();
            } else {
                let x: Vec<f32> = (0..100 + i).map(|k| (k as f32 * 0.1).sin() * 0.5).collect();
                crate::audio::write_wav(&path, &x, 16_000, crate::audio::WavFormat::Float32)
                    .unwrap();
            }
            paths.push(path);
        }
        let mut ahead = prefetch(paths.clone(), 2);
        let first = ahead.take_group(3);
        let rest: Vec<_> = ahead.collect();
        let all: Vec<_> = first.into_iter().chain(rest).collect();
        assert_eq!(all.len(), 7);
        for (k, (i, result)) in all.iter().enumerate() {
            assert_eq!(*i, k);
            match result {
                Ok(clip) => assert_eq!(clip.samples.len(), 100 + k),
                Err(e) => {
                    assert_eq!(k, 3);
                    assert!(e.to_string().contains("c3.wav"), "{e}");
                }
            }
        }
        // Dropping the consumer early stops the thread (no hang, no panic).
        let mut early = prefetch(paths, 1);
        assert!(early.next().is_some());
        drop(early);
    }
}
