//! Finding audio files on disk: by extension, recursively, in a stable order (corpus loaders,
//! `dpda augment` and `dpda score` on a folder call this).
//!
//! The walk survives hostile trees: symbolic links are followed (corpora are often assembled from
//! linked folders) but every folder is scanned once, so a link loop ends at once instead of after
//! the OS's 40 nested links; FIFOs, sockets and devices are never opened (reading a FIFO named
//! `x.wav` would wait forever) and an unreadable subfolder does not stop the walk. What was left
//! out comes back in [`FolderScan::skipped`] for the caller to report.

use std::collections::HashMap;
use std::fs::{FileType, Metadata};
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

/// What a folder scan found: the audio files, and the entries it left out with the reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderScan {
    /// Regular audio files, sorted by path.
    pub files: Vec<PathBuf>,
    /// Entries left out (link loops, FIFOs and other special files named like audio, broken
    /// links, unreadable subfolders), sorted by path.
    pub skipped: Vec<SkippedEntry>,
}

/// One entry a folder scan left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The entry as reached by the walk (below the scanned folder).
    pub path: PathBuf,
    /// Why it was left out, e.g. `a FIFO (named pipe), not a regular file`.
    pub reason: String,
}

impl std::fmt::Display for SkippedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// Every audio file under `dir`, recursively, sorted by path so runs are reproducible; entries
/// [`scan_audio_folder`] skips are dropped silently (callers that report them use that instead).
pub fn find_audio_files(dir: &Path) -> Result<Vec<PathBuf>, AudioError> {
    scan_audio_folder(dir).map(|scan| scan.files)
}

/// Every audio file under `dir`, recursively and sorted, plus the entries left out with the
/// reason. Fails only when `dir` itself cannot be listed.
pub fn scan_audio_folder(dir: &Path) -> Result<FolderScan, AudioError> {
    scan_with(dir, &list_folder)
}

/// Lists a folder's entries (the production lister; tests inject failing ones).
type Lister<'a> = &'a dyn Fn(&Path) -> std::io::Result<Vec<PathBuf>>;

fn list_folder(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect()
}

/// A folder's identity whatever the path it is reached by.
#[cfg(unix)]
type FolderId = (u64, u64);
#[cfg(not(unix))]
type FolderId = PathBuf;

#[cfg(unix)]
fn folder_id(_path: &Path, meta: &Metadata) -> Option<FolderId> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn folder_id(path: &Path, _meta: &Metadata) -> Option<FolderId> {
    std::fs::canonicalize(path).ok()
}

/// Names a file type that is not a regular file, e.g. `a FIFO (named pipe)`.
pub(crate) fn kind_of(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        return "a folder";
    }
    if file_type.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
    }
    "a special file"
}

/// The walk: real folders first, then folders reached through links (smallest path first),
/// each folder once. Scanning real folders first means a folder reachable both directly and
/// through a link is listed under its own path, whatever order the OS lists entries in.
fn scan_with(root: &Path, list: Lister<'_>) -> Result<FolderScan, AudioError> {
    let root_error = |io| AudioError::ReadDir {
        path: root.to_path_buf(),
        io,
    };
    let root_meta = std::fs::metadata(root).map_err(root_error)?;
    let root_entries = list(root).map_err(root_error)?;
    let mut walk = Walk {
        list,
        scan: FolderScan::default(),
        visited: HashMap::new(),
        pending: Vec::new(),
        linked: Vec::new(),
    };
    if let Some(id) = folder_id(root, &root_meta) {
        walk.visited.insert(id, root.to_path_buf());
    }
    walk.visit_entries(root_entries);
    loop {
        while let Some(folder) = walk.pending.pop() {
            match (walk.list)(&folder) {
                Ok(entries) => walk.visit_entries(entries),
                Err(io) => walk.skip(folder, format!("cannot list this folder ({io})")),
            }
        }
        if walk.linked.is_empty() {
            break;
        }
        walk.linked.sort();
        let path = walk.linked.remove(0);
        walk.enter_folder(path);
    }
    let mut scan = walk.scan;
    scan.files.sort();
    scan.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scan)
}

/// The state of one folder walk.
struct Walk<'a> {
    list: Lister<'a>,
    scan: FolderScan,
    /// Folders claimed so far, with the path each was first reached by.
    visited: HashMap<FolderId, PathBuf>,
    /// Claimed folders not listed yet.
    pending: Vec<PathBuf>,
    /// Links to folders, entered once every real folder has been scanned.
    linked: Vec<PathBuf>,
}

impl Walk<'_> {
    fn skip(&mut self, path: PathBuf, reason: String) {
        self.scan.skipped.push(SkippedEntry { path, reason });
    }

    /// Sort one folder's entries into files, folders to scan and entries to skip. File types
    /// come from the entry's metadata, never from opening it.
    fn visit_entries(&mut self, entries: Vec<PathBuf>) {
        for path in entries {
            let own = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(io) => {
                    self.skip(path, format!("cannot read its file type ({io})"));
                    continue;
                }
            };
            let is_link = own.file_type().is_symlink();
            let target = if is_link {
                match std::fs::metadata(&path) {
                    Ok(meta) => meta,
                    Err(io) => {
                        self.skip(path, format!("broken symbolic link ({io})"));
                        continue;
                    }
                }
            } else {
                own
            };
            let file_type = target.file_type();
            if file_type.is_dir() {
                if is_link {
                    self.linked.push(path);
                } else {
                    self.claim_folder(path, &target);
                }
            } else if !is_audio_path(&path) {
                continue;
            } else if file_type.is_file() {
                self.scan.files.push(path);
            } else {
                let kind = kind_of(file_type);
                self.skip(path, format!("{kind}, not a regular file"));
            }
        }
    }

    /// A folder reached through a link: scan it unless it has been scanned already.
    fn enter_folder(&mut self, path: PathBuf) {
        match std::fs::metadata(&path) {
            Ok(meta) => self.claim_folder(path, &meta),
            Err(io) => self.skip(path, format!("cannot read the linked folder ({io})")),
        }
    }

    /// Queue a folder for listing, or skip it if it was scanned under another path.
    fn claim_folder(&mut self, path: PathBuf, meta: &Metadata) {
        let Some(id) = folder_id(&path, meta) else {
            self.skip(path, "cannot resolve the folder's real path".to_string());
            return;
        };
        if let Some(first) = self.visited.get(&id) {
            let reason = if path.starts_with(first) {
                format!(
                    "symbolic link loop: leads back to {}, which contains it",
                    first.display()
                )
            } else {
                format!(
                    "the same folder as {}, which is already scanned",
                    first.display()
                )
            };
            self.skip(path, reason);
            return;
        }
        self.visited.insert(id, path.clone());
        self.pending.push(path);
    }
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

    fn relative(root: &Path, paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect()
    }

    fn skipped_relative(root: &Path, scan: &FolderScan) -> Vec<(String, String)> {
        scan.skipped
            .iter()
            .map(|s| {
                let path = s.path.strip_prefix(root).unwrap().to_string_lossy();
                (path.into_owned(), s.reason.clone())
            })
            .collect()
    }

    /// A link back to an ancestor used to be followed ~40 levels deep, listing the same file
    /// once per level (123 duplicate score lines in `dpda score`).
    #[cfg(unix)]
    #[test]
    fn link_loops_end_at_once_and_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/x.wav"), b"x").unwrap();
        std::fs::write(root.join("a/b/y.wav"), b"x").unwrap();
        std::os::unix::fs::symlink(root, root.join("a/b/up")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("a/self")).unwrap();
        let scan = scan_audio_folder(root).unwrap();
        assert_eq!(relative(root, &scan.files), ["a/b/y.wav", "a/x.wav"]);
        let skipped = skipped_relative(root, &scan);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(skipped[0].0, "a/b/up");
        assert_eq!(skipped[1].0, "a/self");
        for (_, reason) in &skipped {
            assert!(reason.contains("symbolic link loop"), "{reason}");
        }
        assert_eq!(find_audio_files(root).unwrap(), scan.files);
    }

    /// Linked folders outside the tree are scanned (corpora are assembled that way); a link to a
    /// folder inside the tree adds nothing, whichever the OS lists first.
    #[cfg(unix)]
    #[test]
    fn linked_folders_are_followed_once_under_their_own_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("real/x.wav"), b"x").unwrap();
        std::fs::write(outside.join("y.flac"), b"x").unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("alias")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("linked2")).unwrap();
        std::os::unix::fs::symlink(root.join("gone"), root.join("broken.wav")).unwrap();
        let scan = scan_audio_folder(&root).unwrap();
        assert_eq!(
            relative(&root, &scan.files),
            ["linked/y.flac", "real/x.wav"]
        );
        let skipped = skipped_relative(&root, &scan);
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert_eq!(skipped[0].0, "alias");
        assert!(skipped[0].1.contains("already scanned"), "{skipped:?}");
        assert!(skipped[0].1.contains("real"), "{skipped:?}");
        assert_eq!(skipped[1].0, "broken.wav");
        assert!(skipped[1].1.contains("broken symbolic link"), "{skipped:?}");
        assert_eq!(skipped[2].0, "linked2");
        assert!(skipped[2].1.contains("linked"), "{skipped:?}");
    }

    /// A FIFO named like audio was opened and read, which waits for a writer forever.
    #[cfg(unix)]
    #[test]
    fn fifos_and_sockets_are_skipped_without_opening_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("ok.wav"), b"x").unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(root.join("sock.wav")).unwrap();
        let _other = std::os::unix::net::UnixListener::bind(root.join("sock.txt")).unwrap();
        let made_fifo = std::process::Command::new("mkfifo")
            .arg(root.join("pipe.flac"))
            .status()
            .is_ok_and(|s| s.success());
        let scan = scan_audio_folder(root).unwrap();
        assert_eq!(relative(root, &scan.files), ["ok.wav"]);
        let skipped = skipped_relative(root, &scan);
        if made_fifo {
            assert_eq!(skipped.len(), 2, "{skipped:?}");
            assert_eq!(skipped[0].0, "pipe.flac");
            assert!(skipped[0].1.contains("FIFO"), "{skipped:?}");
        } else {
            eprintln!("mkfifo is not available: the FIFO part of this test is skipped");
        }
        let socket = skipped.iter().find(|(p, _)| p == "sock.wav").unwrap();
        assert!(
            socket.1.contains("socket, not a regular file"),
            "{skipped:?}"
        );
    }

    #[test]
    fn an_unreadable_subfolder_is_reported_and_the_walk_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["a", "locked", "z"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
            std::fs::write(root.join(sub).join("f.wav"), b"x").unwrap();
        }
        let lister = |folder: &Path| {
            if folder.ends_with("locked") {
                Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
            } else {
                list_folder(folder)
            }
        };
        let scan = scan_with(root, &lister).unwrap();
        assert_eq!(relative(root, &scan.files), ["a/f.wav", "z/f.wav"]);
        let skipped = skipped_relative(root, &scan);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].0, "locked");
        assert!(
            skipped[0].1.contains("cannot list this folder"),
            "{skipped:?}"
        );
        // The root itself unreadable is an error naming it.
        let refuse_all = |_: &Path| Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        let err = scan_with(root, &refuse_all).unwrap_err();
        assert!(err.to_string().contains(&*root.to_string_lossy()), "{err}");
    }

    /// The same with real permissions; root reads any folder, so there the part is skipped.
    #[cfg(unix)]
    #[test]
    fn a_folder_without_read_permission_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("locked")).unwrap();
        std::fs::write(root.join("locked/f.wav"), b"x").unwrap();
        std::fs::write(root.join("ok.wav"), b"x").unwrap();
        let locked = root.join("locked");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        let still_readable = std::fs::read_dir(&locked).is_ok();
        let scan = scan_audio_folder(root);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        let scan = scan.unwrap();
        if still_readable {
            eprintln!("permissions do not block reading here (running as root): part skipped");
            return;
        }
        assert_eq!(relative(root, &scan.files), ["ok.wav"]);
        assert_eq!(skipped_relative(root, &scan)[0].0, "locked");
    }
}
