//! Finding audio files on disk: by extension, recursively, in a stable order (corpus loaders and
//! `dpda augment` on a folder call this).

use std::path::{Path, PathBuf};

use super::AudioError;

/// File extensions (lower case) of the formats this module decodes.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "ogg", "oga", "mp3"];

/// Whether a path names a decodable audio file, judged by its extension (case-insensitive).
pub fn is_audio_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| {
            let e = e.to_ascii_lowercase();
            AUDIO_EXTENSIONS.contains(&e.as_str())
        })
        .unwrap_or(false)
}

/// Every audio file under `dir`, recursively, sorted by path so runs are reproducible.
pub fn find_audio_files(dir: &Path) -> Result<Vec<PathBuf>, AudioError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let read_dir_error = |source| AudioError::ReadDir {
            path: folder.clone(),
            source,
        };
        for entry in std::fs::read_dir(&folder).map_err(read_dir_error)? {
            let entry = entry.map_err(read_dir_error)?;
            let path = entry.path();
            // Follows symlinks on purpose: corpora are often assembled from linked folders.
            if path.is_dir() {
                pending.push(path);
            } else if is_audio_path(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_extensions_are_case_insensitive() {
        assert!(is_audio_path(Path::new("a/b/LA_T_1000137.flac")));
        assert!(is_audio_path(Path::new("x.WAV")));
        assert!(is_audio_path(Path::new("x.Mp3")));
        assert!(is_audio_path(Path::new("x.ogg")));
        assert!(!is_audio_path(Path::new("x.txt")));
        assert!(!is_audio_path(Path::new("flac")));
        assert!(!is_audio_path(Path::new("x.flac.bak")));
    }

    #[test]
    fn find_audio_files_is_recursive_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        for name in ["z.wav", "b/c/a.flac", "b/notes.txt", "a.MP3"] {
            std::fs::write(root.join(name), b"x").unwrap();
        }
        let found = find_audio_files(root).unwrap();
        let rel: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            rel,
            vec![
                PathBuf::from("a.MP3"),
                PathBuf::from("b/c/a.flac"),
                PathBuf::from("z.wav")
            ]
        );
    }

    #[test]
    fn find_audio_files_missing_dir_names_it() {
        let err = find_audio_files(Path::new("no/such/folder")).unwrap_err();
        assert!(err.to_string().contains("no/such/folder"), "{err}");
    }
}
