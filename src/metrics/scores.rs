//! Score files: reading and writing the layouts in use (`<utt> <score>`, AASIST's
//! `<utt> <src> <key> <score>`, the ASVspoof 5 TSV with a `filename`/`cm-score` header), joining
//! scores with a key, and reading ASV score files for the t-DCF.
//!
//! `dpda eval` and the trainer's score writer call this. Joining refuses by default when the score
//! file and the key do not cover the same trials — the most common cause of wrong EERs reported by
//! users — and says how many and which; evaluating the intersection must be asked for.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::data::protocol::{decode_trial_field, encode_trial_field, trial_name, Key};
use crate::data::Label;

/// How many offending trial names an error message lists.
const SHOW_FIRST: usize = 5;

/// Layout of a score file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreFormat {
    /// Sniff from the first line.
    Auto,
    /// `<utt> <score>`.
    TwoColumn,
    /// `<utt> <src> <key> <score>` as AASIST writes it.
    Aasist,
    /// Tab-separated with a header naming `filename` and `cm-score`.
    Asvspoof5,
}

impl ScoreFormat {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreFormat::Auto => "auto",
            ScoreFormat::TwoColumn => "two-column",
            ScoreFormat::Aasist => "aasist",
            ScoreFormat::Asvspoof5 => "asvspoof5",
        }
    }
}

impl fmt::Display for ScoreFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScoreFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ScoreFormat::Auto),
            "two-column" | "2col" | "plain" => Ok(ScoreFormat::TwoColumn),
            "aasist" | "four-column" => Ok(ScoreFormat::Aasist),
            "asvspoof5" | "tsv" => Ok(ScoreFormat::Asvspoof5),
            other => Err(format!(
                "unknown score format '{other}' (expected auto, two-column, aasist or asvspoof5)"
            )),
        }
    }
}

/// One scored trial.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreEntry {
    /// The trial name as written.
    pub utt_id: String,
    /// Higher = more bona fide.
    pub score: f64,
    /// 1-based line in the score file (0 for scores not read from a file).
    pub line: usize,
}

/// A parsed score file.
#[derive(Clone, Debug)]
pub struct ScoreFile {
    pub path: PathBuf,
    /// The layout used; never [`ScoreFormat::Auto`].
    pub format: ScoreFormat,
    pub entries: Vec<ScoreEntry>,
}

/// Errors reading score files or joining them with a key.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// The score file and the key name different trials (boxed: it carries name lists).
    #[error("{0}")]
    Mismatch(Box<TrialMismatch>),
    #[error("cannot write scores: {0}")]
    Write(#[source] std::io::Error),
}

/// Which trials a score file and a key disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialMismatch {
    pub scores: PathBuf,
    pub key: PathBuf,
    /// Key trials without a score.
    pub n_missing: usize,
    pub missing_first: Vec<String>,
    /// Scored trials not in the key.
    pub n_unknown: usize,
    pub unknown_first: Vec<String>,
    /// Trials present in both.
    pub n_common: usize,
    /// The human summary: counts and first names.
    pub details: String,
}

impl fmt::Display for TrialMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} does not cover the same trials as {}: {}",
            self.scores.display(),
            self.key.display(),
            self.details
        )
    }
}

/// Read a score file.
pub fn load_scores(path: &Path, format: ScoreFormat) -> Result<ScoreFile, ScoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_scores(&text, path, format)
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
}

fn sniff(first_line: &str) -> Option<ScoreFormat> {
    let lower = first_line.to_ascii_lowercase();
    if first_line.contains('\t') && lower.split('\t').any(|c| c.trim() == "cm-score") {
        return Some(ScoreFormat::Asvspoof5);
    }
    match first_line.split_whitespace().count() {
        2 => Some(ScoreFormat::TwoColumn),
        4 => Some(ScoreFormat::Aasist),
        _ => None,
    }
}

/// Parse score-file text; `path` is only used in messages. Bad numbers, NaN scores, wrong column
/// counts and duplicate trials (compared by [`trial_name`]) are errors naming the line. Trial
/// fields are decoded with [`decode_trial_field`] (`%20` → space).
pub fn parse_scores(text: &str, path: &Path, format: ScoreFormat) -> Result<ScoreFile, ScoreError> {
    let line_err = |line: usize, message: String| ScoreError::Line {
        path: path.to_path_buf(),
        line,
        message,
    };
    let Some((_, first)) = lines(text).find(|(_, l)| !l.trim().is_empty()) else {
        return Err(ScoreError::Invalid {
            path: path.to_path_buf(),
            message: "the score file is empty".to_string(),
        });
    };
    let format = match format {
        ScoreFormat::Auto => sniff(first).ok_or_else(|| ScoreError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "cannot tell the score format from the first line '{}' (expected '<utt> <score>', '<utt> <src> <key> <score>' or a TSV header with cm-score)",
                first.chars().take(80).collect::<String>()
            ),
        })?,
        f => f,
    };
    // (utt column, score column); the ASVspoof 5 layout learns it from the header.
    let mut layout: Option<(usize, usize)> = match format {
        ScoreFormat::TwoColumn => Some((0, 1)),
        ScoreFormat::Aasist => Some((0, 3)),
        _ => None,
    };
    let mut entries = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (line, raw) in lines(text) {
        if raw.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = if format == ScoreFormat::Asvspoof5 {
            raw.split('\t').map(str::trim).collect()
        } else {
            raw.split_whitespace().collect()
        };
        let Some((utt_col, score_col)) = layout else {
            // ASVspoof 5: the first line is the header.
            let find = |names: &[&str]| {
                fields
                    .iter()
                    .position(|f| names.contains(&f.to_ascii_lowercase().as_str()))
            };
            let utt = find(&["filename", "trial_anon", "trial"]);
            let score = find(&["cm-score", "cm_score", "score"]);
            match (utt, score) {
                (Some(u), Some(s)) => layout = Some((u, s)),
                _ => {
                    return Err(line_err(
                        line,
                        "expected a header naming the 'filename' and 'cm-score' columns"
                            .to_string(),
                    ))
                }
            }
            continue;
        };
        let ok = match format {
            ScoreFormat::TwoColumn => fields.len() == 2,
            ScoreFormat::Aasist => fields.len() == 4,
            _ => fields.len() > utt_col.max(score_col),
        };
        if !ok {
            let expected = match format {
                ScoreFormat::TwoColumn => "2 columns (<utt> <score>)".to_string(),
                ScoreFormat::Aasist => "4 columns (<utt> <src> <key> <score>)".to_string(),
                _ => format!(
                    "at least {} tab-separated columns",
                    utt_col.max(score_col) + 1
                ),
            };
            return Err(line_err(
                line,
                format!("expected {expected}, found {}", fields.len()),
            ));
        }
        let word = fields[score_col];
        let score: f64 = word
            .parse()
            .map_err(|_| line_err(line, format!("cannot read score '{word}' as a number")))?;
        if score.is_nan() {
            return Err(line_err(line, "score is NaN".to_string()));
        }
        let utt_id = decode_trial_field(fields[utt_col]);
        let name = trial_name(&utt_id);
        if let Some(&first) = first_line.get(&name) {
            return Err(line_err(
                line,
                format!("duplicate trial '{utt_id}' (first scored on line {first})"),
            ));
        }
        first_line.insert(name, line);
        entries.push(ScoreEntry {
            utt_id,
            score,
            line,
        });
    }
    if entries.is_empty() {
        return Err(ScoreError::Invalid {
            path: path.to_path_buf(),
            message: "the score file has no scores".to_string(),
        });
    }
    Ok(ScoreFile {
        path: path.to_path_buf(),
        format,
        entries,
    })
}

/// One row to write: the trial, its score, and for the AASIST layout its attack and label.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRow {
    pub utt_id: String,
    pub score: f64,
    pub attack: Option<String>,
    pub label: Option<Label>,
}

/// Write scores in `format` (Auto writes two columns). Scores are written with Rust's shortest
/// round-trip formatting, so reading them back gives the same bits; trial names go through
/// [`encode_trial_field`], so a name with spaces stays one field.
pub fn write_scores<W: Write>(
    mut out: W,
    format: ScoreFormat,
    rows: &[ScoreRow],
) -> Result<(), ScoreError> {
    let w = &mut out;
    let result: std::io::Result<()> = (|| {
        if format == ScoreFormat::Asvspoof5 {
            writeln!(w, "filename\tcm-score")?;
        }
        for r in rows {
            match format {
                ScoreFormat::Auto | ScoreFormat::TwoColumn => {
                    writeln!(w, "{} {}", encode_trial_field(&r.utt_id), r.score)?
                }
                ScoreFormat::Aasist => writeln!(
                    w,
                    "{} {} {} {}",
                    encode_trial_field(&r.utt_id),
                    r.attack.as_deref().unwrap_or("-"),
                    r.label.map_or("-", Label::as_str),
                    r.score
                )?,
                ScoreFormat::Asvspoof5 => {
                    writeln!(w, "{}\t{}", encode_trial_field(&r.utt_id), r.score)?
                }
            }
        }
        w.flush()
    })();
    result.map_err(ScoreError::Write)
}

/// Whether joining must cover every trial.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JoinPolicy {
    /// Refuse unless the score file and the key name exactly the same trials.
    #[default]
    RequireAll,
    /// Evaluate the trials present in both and report how many were left out.
    Intersection,
}

/// A key trial with its score.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinedTrial {
    /// The trial name as written in the key.
    pub utt_id: String,
    pub score: f64,
    pub label: Label,
    pub attack: Option<String>,
    pub condition: Option<String>,
    pub subset: Option<String>,
}

/// The result of joining scores with a key.
#[derive(Clone, Debug)]
pub struct Joined {
    /// Trials in key order.
    pub trials: Vec<JoinedTrial>,
    /// Key trials without a score (empty under [`JoinPolicy::RequireAll`]).
    pub missing: Vec<String>,
    /// Scored trials not in the key (empty under [`JoinPolicy::RequireAll`]).
    pub unknown: Vec<String>,
}

impl Joined {
    /// Bona fide and spoof scores, in key order.
    pub fn split_by_label(&self) -> (Vec<f64>, Vec<f64>) {
        let mut bonafide = Vec::new();
        let mut spoof = Vec::new();
        for t in &self.trials {
            match t.label {
                Label::Bonafide => bonafide.push(t.score),
                Label::Spoof => spoof.push(t.score),
            }
        }
        (bonafide, spoof)
    }
}

fn first_names(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(SHOW_FIRST)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOW_FIRST {
        s.push_str(", …");
    }
    s
}

/// Scored trials by [`trial_name`] and by every folder suffix of it (`a/b/x` under `b/x` and
/// `x`), so a key naming trials with fewer folders than the score file still finds them.
struct ScoreIndex {
    exact: HashMap<String, usize>,
    by_suffix: HashMap<String, Vec<usize>>,
}

impl ScoreIndex {
    fn new(scores: &ScoreFile) -> Self {
        let mut exact = HashMap::with_capacity(scores.entries.len());
        let mut by_suffix: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in scores.entries.iter().enumerate() {
            let name = trial_name(&e.utt_id);
            for (p, _) in name.match_indices('/') {
                by_suffix
                    .entry(name[p + 1..].to_string())
                    .or_default()
                    .push(i);
            }
            exact.insert(name, i);
        }
        ScoreIndex { exact, by_suffix }
    }

    /// The score entry of key trial `name`: the same name; else the one score named `<folders>/name`;
    /// else the score named like the key name with its leading folders dropped (longest first).
    /// `Err` lists the scored trials that match equally well.
    fn find(&self, name: &str) -> Result<Option<usize>, Vec<usize>> {
        if let Some(&i) = self.exact.get(name) {
            return Ok(Some(i));
        }
        match self.by_suffix.get(name).map(Vec::as_slice) {
            Some([i]) => return Ok(Some(*i)),
            Some(many) if many.len() > 1 => return Err(many.to_vec()),
            _ => {}
        }
        for (p, _) in name.match_indices('/') {
            if let Some(&i) = self.exact.get(&name[p + 1..]) {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

/// Join scores with a key by trial name ([`trial_name`]: folders kept, audio extensions ignored).
/// A key naming `x` matches a score named `fake/x` (and the other way round) when that is the
/// only candidate; a name that could mean several trials is an error naming them, never a guess.
pub fn join_scores(
    scores: &ScoreFile,
    key: &Key,
    policy: JoinPolicy,
) -> Result<Joined, ScoreError> {
    let index = ScoreIndex::new(scores);
    let ambiguous = |message: String| ScoreError::Invalid {
        path: scores.path.clone(),
        message,
    };
    // Key entry that claimed each score, so that one score never serves two key trials.
    let mut claimed_by: Vec<Option<usize>> = vec![None; scores.entries.len()];
    let mut trials = Vec::with_capacity(key.entries.len());
    let mut missing = Vec::new();
    for (ki, k) in key.entries.iter().enumerate() {
        let found = index.find(&trial_name(&k.utt_id)).map_err(|many| {
            let names: Vec<String> = many
                .iter()
                .map(|&i| scores.entries[i].utt_id.clone())
                .collect();
            ambiguous(format!(
                "key trial '{}' ({}:{}) matches several scored trials: {}; score with names \
                 relative to the dataset root so that folders tell them apart",
                k.utt_id,
                key.path.display(),
                k.line,
                first_names(&names)
            ))
        })?;
        match found {
            Some(i) => {
                if let Some(other) = claimed_by[i] {
                    return Err(ambiguous(format!(
                        "scored trial '{}' (line {}) matches both key trials '{}' and '{}' of {}; \
                         score with names relative to the dataset root so that folders tell \
                         them apart",
                        scores.entries[i].utt_id,
                        scores.entries[i].line,
                        key.entries[other].utt_id,
                        k.utt_id,
                        key.path.display()
                    )));
                }
                claimed_by[i] = Some(ki);
                trials.push(JoinedTrial {
                    utt_id: k.utt_id.clone(),
                    score: scores.entries[i].score,
                    label: k.label,
                    attack: k.attack.clone(),
                    condition: k.condition.clone(),
                    subset: k.subset.clone(),
                });
            }
            None => missing.push(k.utt_id.clone()),
        }
    }
    let unknown: Vec<String> = scores
        .entries
        .iter()
        .zip(&claimed_by)
        .filter(|(_, c)| c.is_none())
        .map(|(e, _)| e.utt_id.clone())
        .collect();
    let mismatch = |details: String| {
        ScoreError::Mismatch(Box::new(TrialMismatch {
            scores: scores.path.clone(),
            key: key.path.clone(),
            n_missing: missing.len(),
            missing_first: missing.iter().take(SHOW_FIRST).cloned().collect(),
            n_unknown: unknown.len(),
            unknown_first: unknown.iter().take(SHOW_FIRST).cloned().collect(),
            n_common: trials.len(),
            details,
        }))
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "{} of {} key trials have no score (first: {})",
            missing.len(),
            key.entries.len(),
            first_names(&missing)
        ));
    }
    if !unknown.is_empty() {
        parts.push(format!(
            "{} of {} scored trials are not in the key (first: {})",
            unknown.len(),
            scores.entries.len(),
            first_names(&unknown)
        ));
    }
    if trials.is_empty() {
        parts.push("no trial is in both".to_string());
        return Err(mismatch(parts.join("; ")));
    }
    if policy == JoinPolicy::RequireAll && !parts.is_empty() {
        parts.push(format!(
            "{} trials are in both; evaluate only those by asking for the intersection explicitly",
            trials.len()
        ));
        return Err(mismatch(parts.join("; ")));
    }
    Ok(Joined {
        trials,
        missing,
        unknown,
    })
}

/// ASV scores split by trial type, for the t-DCF.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AsvScores {
    pub target: Vec<f64>,
    pub nontarget: Vec<f64>,
    pub spoof: Vec<f64>,
}

/// Read an ASV score file as distributed with ASVspoof 2019 (`<speaker> <target|nontarget|spoof>
/// <score>`, e.g. `ASVspoof2019.LA.asv.eval.gi.trl.scores.txt`): each line holds one of the words
/// target / nontarget / spoof before the score in its last column. CM words such as `bonafide` are
/// refused so that a CM key passed by mistake is not read as ASV scores.
pub fn load_asv_scores(path: &Path) -> Result<AsvScores, ScoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_asv_scores(&text, path)
}

/// Parse ASV score text; see [`load_asv_scores`].
pub fn parse_asv_scores(text: &str, path: &Path) -> Result<AsvScores, ScoreError> {
    let mut out = AsvScores::default();
    for (line, raw) in lines(text) {
        let fields: Vec<&str> = raw.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let err = |message: String| ScoreError::Line {
            path: path.to_path_buf(),
            line,
            message,
        };
        if fields.len() < 2 {
            return Err(err(format!(
                "expected '<id> <target|nontarget|spoof> <score>', found {} field",
                fields.len()
            )));
        }
        let (last, rest) = fields.split_last().unwrap_or((&"", &[]));
        let score: f64 = last
            .parse()
            .map_err(|_| err(format!("cannot read score '{last}' as a number")))?;
        if score.is_nan() {
            return Err(err("score is NaN".to_string()));
        }
        let kind = rest
            .iter()
            .find_map(|w| match w.to_ascii_lowercase().as_str() {
                "target" => Some(0),
                "nontarget" => Some(1),
                "spoof" => Some(2),
                _ => None,
            })
            .ok_or_else(|| err("no 'target', 'nontarget' or 'spoof' column".to_string()))?;
        match kind {
            0 => out.target.push(score),
            1 => out.nontarget.push(score),
            _ => out.spoof.push(score),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::protocol::{parse_key, KeyFormat};
    use crate::data::OnProblem;

    fn parse(text: &str) -> Result<ScoreFile, ScoreError> {
        parse_scores(text, Path::new("s.txt"), ScoreFormat::Auto)
    }

    #[test]
    fn detects_each_layout() {
        assert_eq!(
            parse("a 1.5\nb -2\n").unwrap().format,
            ScoreFormat::TwoColumn
        );
        let f = parse("a A01 spoof 0.25\n").unwrap();
        assert_eq!((f.format, f.entries[0].score), (ScoreFormat::Aasist, 0.25));
        let f = parse("filename\tcm-score\nE_1\t3.5\n").unwrap();
        assert_eq!(f.format, ScoreFormat::Asvspoof5);
        assert_eq!(f.entries[0].utt_id, "E_1");
        assert_eq!(f.entries[0].line, 2);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let e = parse("a 1\nb x\n").unwrap_err().to_string();
        assert_eq!(e, "s.txt:2: cannot read score 'x' as a number");
        let e = parse("a 1\nb 1 2\n").unwrap_err().to_string();
        assert!(e.starts_with("s.txt:2: expected 2 columns"), "{e}");
        let e = parse("a 1\nb NaN\n").unwrap_err().to_string();
        assert_eq!(e, "s.txt:2: score is NaN");
        let e = parse("a 1\na.WAV 2\n").unwrap_err().to_string();
        assert!(e.contains("s.txt:2: duplicate trial 'a.WAV' (first scored on line 1)"));
        // Folders are part of a trial's name: FoR's fake/a and real/a are two trials.
        assert_eq!(parse("fake/a 1\nreal/a 2\n").unwrap().entries.len(), 2);
        // Encoded whitespace reads back as the name.
        assert_eq!(parse("a%20b 1\n").unwrap().entries[0].utt_id, "a b");
        assert!(parse("\n").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn write_then_read_round_trips_bits() {
        let rows: Vec<ScoreRow> = [0.1f64, -1.0 / 3.0, 1e-300, 12345.678]
            .iter()
            .enumerate()
            .map(|(i, &s)| ScoreRow {
                utt_id: format!("u{i}"),
                score: s,
                attack: Some("A01".into()),
                label: Some(Label::Spoof),
            })
            .collect();
        for format in [
            ScoreFormat::TwoColumn,
            ScoreFormat::Aasist,
            ScoreFormat::Asvspoof5,
        ] {
            let mut buf = Vec::new();
            write_scores(&mut buf, format, &rows).unwrap();
            let text = String::from_utf8(buf).unwrap();
            let back = parse(&text).unwrap();
            assert_eq!(back.format, format);
            let got: Vec<f64> = back.entries.iter().map(|e| e.score).collect();
            let want: Vec<f64> = rows.iter().map(|r| r.score).collect();
            assert_eq!(got, want);
        }
    }

    fn key() -> Key {
        parse_key(
            "k1.wav,bonafide\nk2,spoof\nk3,spoof\n",
            Path::new("key.csv"),
            KeyFormat::Csv,
            OnProblem::Fail,
        )
        .unwrap()
    }

    #[test]
    fn join_matches_stems_and_refuses_mismatch() {
        let s = parse("dir/k1 0.9\nk2.wav 0.1\nk3.flac 0.2\n").unwrap();
        let j = join_scores(&s, &key(), JoinPolicy::RequireAll).unwrap();
        assert_eq!(j.split_by_label(), (vec![0.9], vec![0.1, 0.2]));

        let s = parse("k1 0.9\nk2 0.1\nzz 0.5\n").unwrap();
        match join_scores(&s, &key(), JoinPolicy::RequireAll).unwrap_err() {
            ScoreError::Mismatch(m) => {
                assert_eq!((m.n_missing, m.n_unknown, m.n_common), (1, 1, 2));
                assert_eq!(m.missing_first, ["k3"]);
                assert_eq!(m.unknown_first, ["zz"]);
            }
            other => panic!("unexpected {other}"),
        }
        let j = join_scores(&s, &key(), JoinPolicy::Intersection).unwrap();
        assert_eq!(j.trials.len(), 2);
        assert_eq!((j.missing.len(), j.unknown.len()), (1, 1));
    }

    #[test]
    fn join_tells_folders_apart_and_refuses_to_guess() {
        let for_key = parse_key(
            "file,label\nfake/x,spoof\nreal/x,bona-fide\nfake/y,spoof\n",
            Path::new("meta.csv"),
            KeyFormat::Csv,
            OnProblem::Fail,
        )
        .unwrap();
        // Scored from the split folder (names as in the key) or from above it (one more folder).
        for text in [
            "fake/x.wav 0.1\nreal/x.wav 0.9\nfake/y.wav 0.2\n",
            "testing/fake/x 0.1\ntesting/real/x 0.9\ntesting/fake/y 0.2\n",
        ] {
            let j = join_scores(&parse(text).unwrap(), &for_key, JoinPolicy::RequireAll).unwrap();
            assert_eq!(j.split_by_label(), (vec![0.9], vec![0.1, 0.2]), "{text}");
        }
        // Bare stems could be fake/x or real/x: an error naming both, not a guess.
        let bare = parse("x 0.5\ny 0.2\n").unwrap();
        let e = join_scores(&bare, &for_key, JoinPolicy::Intersection)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fake/x") && e.contains("real/x"), "{e}");
        // A bare key against scores with folders: matched when unambiguous.
        let two = parse("a/k1 0.9\nb/k1 0.3\nk2 0.1\nk3 0.2\n").unwrap();
        let e = join_scores(&two, &key(), JoinPolicy::RequireAll)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a/k1") && e.contains("b/k1"), "{e}");
    }

    #[test]
    fn asv_scores_split_by_type() {
        let a = parse_asv_scores(
            "LA_0039 target 2.5\nLA_0039 nontarget -1\nLA_0039 spoof 0.5\n",
            Path::new("asv.txt"),
        )
        .unwrap();
        assert_eq!(
            (a.target, a.nontarget, a.spoof),
            (vec![2.5], vec![-1.0], vec![0.5])
        );
        let e = parse_asv_scores("x y 1\n", Path::new("asv.txt")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "asv.txt:1: no 'target', 'nontarget' or 'spoof' column"
        );
    }
}
