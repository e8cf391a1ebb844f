//! The models folder: weights a user places in one folder — released `.pth` files, our
//! `.safetensors` checkpoints, whole run folders — listed with what scoring would use (the
//! architecture, the input length, the stored threshold, the calibration — a run's own, or
//! `<stem>.calibration.json` beside a weights file), so that a first-time user picks a real
//! detector from a list instead of typing paths and model names.
//!
//! The folder is `$DPDA_MODELS_DIR` when set, else `models` in the working folder. Only its
//! direct entries are listed: files ending in `.pth`, `.pt` or `.safetensors`, and sub-folders
//! that are run folders (they hold a `config.toml`). Each entry is described by loading it
//! exactly as `dpda score` would ([`super::source::load`]), so the list never promises a model or
//! an input length that scoring would not use; an entry that does not load is listed with its
//! error instead of hiding it.

use std::path::{Path, PathBuf};

use super::layout::RunLayout;
use super::source::{ModelInfo, ModelRequest};
use super::{io_err, InferenceError};

/// The environment variable naming the models folder.
pub const MODELS_DIR_ENV: &str = "DPDA_MODELS_DIR";

/// The models folder: `$DPDA_MODELS_DIR` when set and not empty, else `models`.
pub fn default_models_dir() -> PathBuf {
    match std::env::var_os(MODELS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("models"),
    }
}

/// What an entry of the models folder is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A run folder: its best checkpoint with its configuration.
    RunFolder,
    /// A `.safetensors` checkpoint.
    Safetensors,
    /// A PyTorch `.pth`/`.pt` state dict.
    Pth,
}

impl EntryKind {
    /// Words for the user.
    pub fn describe(self) -> &'static str {
        match self {
            EntryKind::RunFolder => "run folder",
            EntryKind::Safetensors => ".safetensors",
            EntryKind::Pth => "PyTorch .pth",
        }
    }
}

/// A file or folder of the models folder that may hold a model (nothing loaded yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The entry's path (the models folder joined with its name).
    pub path: PathBuf,
    /// The entry's file or folder name.
    pub label: String,
    pub kind: EntryKind,
}

/// The kind of a folder entry, or `None` when it cannot hold a model.
fn entry_kind(path: &Path) -> Option<EntryKind> {
    if path.is_dir() {
        return RunLayout::new(path)
            .is_run()
            .then_some(EntryKind::RunFolder);
    }
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "safetensors" => Some(EntryKind::Safetensors),
        "pth" | "pt" => Some(EntryKind::Pth),
        _ => None,
    }
}

/// The entries of `dir` that may hold a model, sorted by name. A missing folder is an error
/// naming it (the caller decides whether that is worth showing).
pub fn candidates(dir: &Path) -> Result<Vec<Candidate>, InferenceError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let Some(kind) = entry_kind(&path) else {
            continue;
        };
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Candidate { path, label, kind });
    }
    out.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(out)
}

/// A listed model: the entry and what loading it gave.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEntry {
    pub candidate: Candidate,
    /// The loaded model's description, or why it does not load.
    pub info: Result<ModelInfo, String>,
}

impl ModelEntry {
    /// The request that scores with this entry, as listed.
    pub fn request(&self) -> ModelRequest {
        ModelRequest::new(self.candidate.path.clone())
    }
}

/// Load one candidate as `dpda score` would and keep what it says (the weights are dropped).
pub fn describe(candidate: &Candidate) -> ModelEntry {
    let info = super::source::load(&ModelRequest::new(candidate.path.clone()))
        .map(|(_, info)| info)
        .map_err(|e| e.to_string());
    ModelEntry {
        candidate: candidate.clone(),
        info,
    }
}

/// Every model of `dir`, described (see [`describe`]).
pub fn list_models(dir: &Path) -> Result<Vec<ModelEntry>, InferenceError> {
    Ok(candidates(dir)?.iter().map(describe).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_weights_files_and_run_folders_are_candidates() {
        let dir = std::env::temp_dir().join(format!("dpda-models-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a run")).unwrap();
        std::fs::write(dir.join("a run/config.toml"), "").unwrap();
        std::fs::create_dir_all(dir.join("not a run")).unwrap();
        for name in ["b.pth", "c.PT", "d.safetensors", "notes.txt", "e.json"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let found: Vec<(String, EntryKind)> = candidates(&dir)
            .unwrap()
            .into_iter()
            .map(|c| (c.label, c.kind))
            .collect();
        assert_eq!(
            found,
            vec![
                ("a run".to_string(), EntryKind::RunFolder),
                ("b.pth".to_string(), EntryKind::Pth),
                ("c.PT".to_string(), EntryKind::Pth),
                ("d.safetensors".to_string(), EntryKind::Safetensors),
            ]
        );
        // An empty weights file is listed with the reason it does not load.
        let entry = describe(&candidates(&dir).unwrap()[1]);
        assert!(entry.info.unwrap_err().contains("b.pth"));
        let missing = candidates(&dir.join("absent")).unwrap_err();
        assert!(missing.to_string().contains("absent"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
