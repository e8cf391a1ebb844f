//! Corpora on disk: loaders that turn a public dataset's protocol/key files and audio tree into
//! a list of [`Utterance`]s (ASVspoof 2019 LA, ASVspoof 2021 LA/DF, In-the-Wild, FoR, generic
//! CSV). Training, evaluation, the GUI and the CLI call these; key text parsing is
//! `super::protocol`'s, so a key reads the same here as in `dpda eval`.
//!
//! Every entry whose audio is missing, whose ID repeats or whose label is unknown, and every
//! malformed line, becomes a [`Problem`] naming the key file and line (or the audio file, for a
//! folder scan). With [`OnProblem::Fail`] the first one is the error; with
//! [`OnProblem::SkipAndReport`] the entry is left out and the problem listed in
//! [`Corpus::problems`]. A missing audio *folder* is always an error: it means a wrong root, not
//! a damaged corpus.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::protocol::{load_key, load_trial_list, trial_name, utt_stem, KeyEntry, KeyFormat};
use super::{DataError, Label, OnProblem, Problem};

/// A partition of a corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Dev,
    Eval,
}

impl Split {
    /// The three splits in corpus order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Eval];

    /// Lower-case name as used in ASVspoof folder names (`train`, `dev`, `eval`).
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Eval => "eval",
        }
    }

    /// The ASVspoof 2019 CM protocol suffix: `train.trn`, `dev.trl` or `eval.trl`.
    pub fn la2019_protocol_suffix(self) -> &'static str {
        match self {
            Split::Train => "train.trn",
            Split::Dev => "dev.trl",
            Split::Eval => "eval.trl",
        }
    }

    /// The letter ASVspoof 2019 utterance IDs carry (`LA_T_…`, `LA_D_…`, `LA_E_…`).
    pub fn id_letter(self) -> char {
        match self {
            Split::Train => 'T',
            Split::Dev => 'D',
            Split::Eval => 'E',
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One labelled audio file of a corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Utterance {
    /// Trial name without audio extension (what score files name): the bare file stem for
    /// ASVspoof and In-the-Wild, the class folder and stem for FoR (`fake/x`), the path as the
    /// key writes it for CSV keys.
    pub id: String,
    pub path: PathBuf,
    pub label: Label,
    /// Attack / system ID; `None` for bona fide or when the corpus does not say.
    pub attack: Option<String>,
    pub speaker: Option<String>,
}

/// A loaded corpus (or one split of it) and the problems skipped while loading it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Corpus {
    /// Human-readable name, e.g. `ASVspoof 2019 LA train`.
    pub name: String,
    pub utterances: Vec<Utterance>,
    pub problems: Vec<Problem>,
}

impl Corpus {
    /// Number of bona fide and spoofed utterances.
    pub fn counts(&self) -> (usize, usize) {
        let bonafide = self
            .utterances
            .iter()
            .filter(|u| u.label == Label::Bonafide)
            .count();
        (bonafide, self.utterances.len() - bonafide)
    }

    /// Utterance count per attack ID (`bonafide` for bona fide, `-` for spoofs of unknown attack).
    pub fn attack_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for u in &self.utterances {
            let key = match (&u.label, &u.attack) {
                (Label::Bonafide, _) => "bonafide".to_string(),
                (Label::Spoof, Some(a)) => a.clone(),
                (Label::Spoof, None) => "-".to_string(),
            };
            *counts.entry(key).or_default() += 1;
        }
        counts
    }
}

/// Collects problems and applies the caller's [`OnProblem`] choice.
struct Problems {
    on_problem: OnProblem,
    list: Vec<Problem>,
}

impl Problems {
    fn new(on_problem: OnProblem, already: Vec<Problem>) -> Self {
        Problems {
            on_problem,
            list: already,
        }
    }

    fn report(&mut self, file: &Path, line: usize, message: String) -> Result<(), DataError> {
        let problem = Problem {
            file: file.to_path_buf(),
            line,
            message,
        };
        match self.on_problem {
            OnProblem::Fail => Err(DataError::Problem(problem)),
            OnProblem::SkipAndReport => {
                self.list.push(problem);
                Ok(())
            }
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// File names in one folder (not recursive): one directory read instead of a stat per trial.
fn file_names(dir: &Path) -> Result<HashSet<OsString>, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Invalid {
            path: dir.to_path_buf(),
            message: "audio folder not found".into(),
        });
    }
    let mut names = HashSet::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        names.insert(entry.map_err(io_error(dir))?.file_name());
    }
    Ok(names)
}

/// Turn key entries into utterances whose audio is `<audio_dir>/<stem>.<extension>`.
fn entries_to_utterances(
    name: String,
    key_path: &Path,
    entries: Vec<KeyEntry>,
    key_problems: Vec<Problem>,
    audio_dir: &Path,
    extension: &str,
    on_problem: OnProblem,
) -> Result<Corpus, DataError> {
    let names = file_names(audio_dir)?;
    let mut problems = Problems::new(on_problem, key_problems);
    let mut utterances = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = utt_stem(&entry.utt_id).to_string();
        let file_name = format!("{id}.{extension}");
        if !names.contains(std::ffi::OsStr::new(&file_name)) {
            problems.report(
                key_path,
                entry.line,
                format!(
                    "audio file missing: {}",
                    audio_dir.join(&file_name).display()
                ),
            )?;
            continue;
        }
        utterances.push(Utterance {
            path: audio_dir.join(file_name),
            id,
            label: entry.label,
            attack: entry.attack,
            speaker: entry.speaker,
        });
    }
    Ok(Corpus {
        name,
        utterances,
        problems: problems.list,
    })
}

/// Paths of one ASVspoof 2019 LA split under `root`: (protocol file, flac folder).
pub fn asvspoof2019_la_paths(root: &Path, split: Split) -> (PathBuf, PathBuf) {
    (
        root.join("ASVspoof2019_LA_cm_protocols").join(format!(
            "ASVspoof2019.LA.cm.{}.txt",
            split.la2019_protocol_suffix()
        )),
        root.join(format!("ASVspoof2019_LA_{}", split.name()))
            .join("flac"),
    )
}

/// Load one split of ASVspoof 2019 LA (or the demo corpus's export of the same layout):
/// `root/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.<split>.txt` and
/// `root/ASVspoof2019_LA_<split>/flac/<UTT>.flac`. Extra protocol columns are ignored.
pub fn load_asvspoof2019_la(
    root: &Path,
    split: Split,
    on_problem: OnProblem,
) -> Result<Corpus, DataError> {
    let (protocol, audio_dir) = asvspoof2019_la_paths(root, split);
    let key = load_key(&protocol, KeyFormat::La2019, on_problem)?;
    entries_to_utterances(
        format!("ASVspoof 2019 LA {split}"),
        &protocol,
        key.entries,
        key.problems,
        &audio_dir,
        "flac",
        on_problem,
    )
}

/// The two ASVspoof 2021 tracks with a FLAC eval set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track2021 {
    La,
    Df,
}

impl Track2021 {
    fn name(self) -> &'static str {
        match self {
            Track2021::La => "LA",
            Track2021::Df => "DF",
        }
    }
}

/// Load the ASVspoof 2021 LA or DF eval set. Audio is `root/ASVspoof2021_<LA|DF>_eval/flac/` (or
/// `root/flac/`); `key` (the official `trial_metadata.txt`) gives labels, attacks and subsets.
/// `trial_list`, when given, keeps only the trials it names (e.g. `ASVspoof2021.DF.cm.eval.trl.txt`);
/// `subset` (`progress`, `eval`, `hidden_track`) keeps only that evaluation subset.
pub fn load_asvspoof2021(
    root: &Path,
    track: Track2021,
    key: &Path,
    trial_list: Option<&Path>,
    subset: Option<&str>,
    on_problem: OnProblem,
) -> Result<Corpus, DataError> {
    let format = match track {
        Track2021::La => KeyFormat::La2021,
        Track2021::Df => KeyFormat::Df2021,
    };
    let parsed = load_key(key, format, on_problem)?;
    let mut entries = parsed.entries;
    let mut key_problems = parsed.problems;
    if let Some(list_path) = trial_list {
        let wanted: HashSet<String> = load_trial_list(list_path)?
            .iter()
            .map(|id| utt_stem(id).to_string())
            .collect();
        let keyed: HashSet<String> = entries
            .iter()
            .map(|e| utt_stem(&e.utt_id).to_string())
            .collect();
        // A listed trial the key does not label cannot be trained or scored on: say so.
        let mut problems = Problems::new(on_problem, std::mem::take(&mut key_problems));
        let mut unlabelled: Vec<&String> = wanted.difference(&keyed).collect();
        unlabelled.sort();
        for id in unlabelled {
            problems.report(
                list_path,
                0,
                format!("trial '{id}' is not in the key {}", key.display()),
            )?;
        }
        key_problems = problems.list;
        entries.retain(|e| wanted.contains(utt_stem(&e.utt_id)));
    }
    if let Some(subset) = subset {
        entries.retain(|e| e.subset.as_deref() == Some(subset));
    }
    let eval_dir = root
        .join(format!("ASVspoof2021_{}_eval", track.name()))
        .join("flac");
    let audio_dir = if eval_dir.is_dir() {
        eval_dir
    } else {
        root.join("flac")
    };
    let name = match subset {
        Some(s) => format!("ASVspoof 2021 {} eval ({s})", track.name()),
        None => format!("ASVspoof 2021 {} eval", track.name()),
    };
    entries_to_utterances(
        name,
        key,
        entries,
        key_problems,
        &audio_dir,
        "flac",
        on_problem,
    )
}

/// Load In-the-Wild: `meta.csv` (`file,speaker,label`, labels `bona-fide`/`spoof`) and the WAVs
/// it names, in the same folder. `root` may be the folder or the `meta.csv` itself.
pub fn load_in_the_wild(root: &Path, on_problem: OnProblem) -> Result<Corpus, DataError> {
    let meta = if root.is_dir() {
        root.join("meta.csv")
    } else {
        root.to_path_buf()
    };
    let key = load_key(&meta, KeyFormat::InTheWild, on_problem)?;
    let audio_dir = meta.parent().unwrap_or(Path::new(".")).to_path_buf();
    entries_to_utterances(
        "In-the-Wild".into(),
        &meta,
        key.entries,
        key.problems,
        &audio_dir,
        "wav",
        on_problem,
    )
}

/// The FoR folder of a split: `training`, `validation` or `testing`.
pub fn for_split_dir(split: Split) -> &'static str {
    match split {
        Split::Train => "training",
        Split::Dev => "validation",
        Split::Eval => "testing",
    }
}

/// Load one split of Fake-or-Real (for-norm and its siblings) by scanning
/// `root/<training|validation|testing>/{real,fake}/*.wav`. IDs are the class folder and the file
/// stem (`fake/file1848…`), as in dpda_ga's FoR key: the same file name occurs under both `real/`
/// and `fake/`, so the folder is part of the trial's name.
pub fn load_for(root: &Path, split: Split, on_problem: OnProblem) -> Result<Corpus, DataError> {
    let split_dir = root.join(for_split_dir(split));
    let mut problems = Problems::new(on_problem, Vec::new());
    let mut utterances = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for (folder, label) in [("real", Label::Bonafide), ("fake", Label::Spoof)] {
        let dir = split_dir.join(folder);
        if !dir.is_dir() {
            return Err(DataError::Invalid {
                path: dir,
                message: "FoR class folder not found (expected real/ and fake/)".into(),
            });
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let path = entry.map_err(io_error(&dir))?.path();
            let is_wav = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
            if is_wav && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let id = format!("{folder}/{}", utt_stem(&path.to_string_lossy()));
            if let Some(first) = seen.get(&id) {
                let message = format!("duplicate ID '{id}' (also {})", first.display());
                problems.report(&path, 0, message)?;
                continue;
            }
            seen.insert(id.clone(), path.clone());
            utterances.push(Utterance {
                id,
                path,
                label,
                attack: None,
                speaker: None,
            });
        }
    }
    Ok(Corpus {
        name: format!("FoR {}", for_split_dir(split)),
        utterances,
        problems: problems.list,
    })
}

/// Load a generic CSV key `path,label[,…]` (a header is optional; FoR's `file,label` keys are
/// this format). Paths are relative to the CSV's folder; a path without an audio extension that
/// does not exist is tried with `.wav` and `.flac` appended (FoR keys omit `.wav`).
pub fn load_csv(csv_path: &Path, on_problem: OnProblem) -> Result<Corpus, DataError> {
    let key = load_key(csv_path, KeyFormat::Csv, on_problem)?;
    let base = csv_path.parent().unwrap_or(Path::new("."));
    let mut problems = Problems::new(on_problem, key.problems);
    let mut utterances = Vec::with_capacity(key.entries.len());
    for entry in key.entries {
        let written = base.join(&entry.utt_id);
        let candidates = [
            written.clone(),
            base.join(format!("{}.wav", entry.utt_id)),
            base.join(format!("{}.flac", entry.utt_id)),
        ];
        let tries = if crate::audio::is_audio_path(Path::new(&entry.utt_id)) {
            1
        } else {
            3
        };
        let Some(path) = candidates[..tries].iter().find(|p| p.is_file()) else {
            problems.report(
                csv_path,
                entry.line,
                format!("audio file missing: {}", written.display()),
            )?;
            continue;
        };
        utterances.push(Utterance {
            id: trial_name(&entry.utt_id),
            path: path.clone(),
            label: entry.label,
            attack: entry.attack,
            speaker: entry.speaker,
        });
    }
    let name = csv_path.file_name().map_or_else(
        || "CSV corpus".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Corpus {
        name,
        utterances,
        problems: problems.list,
    })
}
