//! Files that appear complete or not at all: everything the workbench writes for the user (audio,
//! score files, checkpoints, summaries) is written to a temporary file beside its destination and
//! renamed into place once complete, so an interruption never leaves a half-written file under
//! the final name, and a failed write never damages the previous version.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written: a temporary `.<name>.<pid>.tmp` beside `dest`, renamed onto `dest` by
/// [`AtomicFile::commit`] and removed if dropped uncommitted.
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    writer: BufWriter<File>,
    committed: bool,
}

impl AtomicFile {
    /// Start writing `dest`. The process id keeps two processes writing the same output from
    /// sharing a temporary file.
    pub fn create(dest: &Path) -> std::io::Result<Self> {
        let name = dest.file_name().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
        })?;
        let tmp = dest.with_file_name(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&tmp)?;
        Ok(Self {
            dest: dest.to_path_buf(),
            tmp,
            writer: BufWriter::new(file),
            committed: false,
        })
    }

    /// The temporary file's path (for error messages).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// The writer of the temporary file.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.writer
    }

    /// Flush and move the finished file onto its destination.
    pub fn commit(mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        std::fs::rename(&self.tmp, &self.dest)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Write `bytes` to `dest` atomically.
pub fn write_atomically(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(dest)?;
    file.writer().write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_file_replaces_the_old_one_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("scores.txt");
        std::fs::write(&dest, "old").unwrap();
        write_atomically(&dest, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_abandoned_write_keeps_the_old_file_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a b.wav");
        std::fs::write(&dest, "old").unwrap();
        {
            let mut file = AtomicFile::create(&dest).unwrap();
            file.writer().write_all(b"half").unwrap();
            assert!(file.tmp_path().starts_with(dir.path()));
        }
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no-such-folder").join("x.txt");
        assert!(write_atomically(&missing, b"x").is_err());
    }
}
