//! Trial names of the files to score.
//!
//! A trial is named by its path relative to the scored root, without the audio extension, with
//! `/` between folders: scoring the folder `testing/` of FoR gives `fake/file1848…` and
//! `real/file1848…`, the names dpda_ga's FoR key uses, and scoring an ASVspoof `flac/` folder
//! gives the bare utterance IDs. A single file is named by its stem; a line of a `.txt` list by
//! the path as written there. Two inputs that would get the same name are an error naming both
//! files, before anything is scored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::InferenceError;
use crate::data::protocol::trial_name;

/// A file to score and its trial name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trial {
    pub name: String,
    pub path: PathBuf,
}

/// `path` relative to `root` as a `/`-joined trial name (the audio extension dropped).
pub fn relative_trial_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let joined = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    trial_name(&joined)
}

/// The trials of `inputs`: audio files, folders (searched recursively) and `.txt` lists of paths
/// (one per line, relative to the list's folder; blank lines and `#` comments skipped).
pub fn collect_trials(inputs: &[PathBuf]) -> Result<Vec<Trial>, InferenceError> {
    let mut trials = Vec::new();
    for input in inputs {
        if input.is_dir() {
            for path in crate::audio::find_audio_files(input)? {
                trials.push(Trial {
                    name: relative_trial_name(input, &path),
                    path,
                });
            }
        } else if input
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
        {
            let text = std::fs::read_to_string(input).map_err(super::io_err(input))?;
            let base = input.parent().unwrap_or(Path::new("."));
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                // Named by the path as written (absolute paths too: their folders keep FoR's
                // fake/x and real/x apart, and keys match on the trailing folders).
                trials.push(Trial {
                    name: trial_name(line),
                    path: base.join(line),
                });
            }
        } else {
            trials.push(Trial {
                name: relative_trial_name(input.parent().unwrap_or(Path::new("")), input),
                path: input.clone(),
            });
        }
    }
    check_unique(&trials)?;
    Ok(trials)
}

/// Fails on the first trial name given by two inputs, naming both.
pub fn check_unique(trials: &[Trial]) -> Result<(), InferenceError> {
    let mut first: HashMap<&str, &Path> = HashMap::with_capacity(trials.len());
    for t in trials {
        if let Some(prev) = first.insert(&t.name, &t.path) {
            return Err(InferenceError::TrialCollision {
                name: t.name.clone(),
                first: prev.to_path_buf(),
                second: t.path.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn folder_trials_are_named_by_relative_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("testing");
        for rel in ["fake/x.wav", "real/x.wav", "real/name with space.flac"] {
            touch(&root.join(rel));
        }
        let trials = collect_trials(std::slice::from_ref(&root)).unwrap();
        let names: Vec<&str> = trials.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["fake/x", "real/name with space", "real/x"]);
        // A single file is named by its stem.
        let one = collect_trials(&[root.join("fake/x.wav")]).unwrap();
        assert_eq!(one[0].name, "x");
    }

    #[test]
    fn colliding_names_are_refused_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("a/x.wav"));
        touch(&dir.path().join("a/x.flac"));
        let e = collect_trials(&[dir.path().join("a")]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("'x'"), "{text}");
        assert!(text.contains("x.wav") && text.contains("x.flac"), "{text}");
        let e = collect_trials(&[dir.path().join("a/x.wav"), dir.path().join("a/x.wav")]);
        assert!(e.is_err());
    }

    #[test]
    fn list_lines_keep_their_folders() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("fake/x.wav"));
        touch(&dir.path().join("real/x.wav"));
        let list = dir.path().join("list.txt");
        std::fs::write(&list, "# trials\nfake/x.wav\n\nreal/x.wav\n").unwrap();
        let trials = collect_trials(&[list]).unwrap();
        assert_eq!(trials[0].name, "fake/x");
        assert_eq!(trials[1].name, "real/x");
        assert_eq!(trials[1].path, dir.path().join("real/x.wav"));
    }
}
