//! Corpora: protocol and key loaders for public SDD datasets, a generic CSV loader, and the built-in
//! seeded demo corpus.
//!
//! Problems found in a corpus (missing audio, duplicate IDs, unknown labels, malformed lines) are
//! collected as [`Problem`]s naming the file and line. The caller chooses with [`OnProblem`] whether
//! the first problem is an error or every problem is skipped and reported; nothing is dropped
//! silently.

pub mod corpus;
pub mod demo;
pub mod protocol;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Ground truth of one trial. Bona fide is the target class of every metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Bonafide,
    Spoof,
}

impl Label {
    /// Parse a label word as found in public keys: bonafide, bona-fide, bona fide, real, genuine
    /// → bona fide; spoof, fake, deepfake → spoof (case-insensitive). `None` for anything else.
    pub fn parse(word: &str) -> Option<Label> {
        let w = word.trim().trim_matches('"').to_ascii_lowercase();
        match w.as_str() {
            "bonafide" | "bona-fide" | "bona_fide" | "bona fide" | "real" | "genuine" | "human"
            | "target" => Some(Label::Bonafide),
            "spoof" | "spoofed" | "fake" | "deepfake" | "synthetic" | "nontarget" => {
                Some(Label::Spoof)
            }
            _ => None,
        }
    }

    /// The canonical word used in ASVspoof protocols.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Bonafide => "bonafide",
            Label::Spoof => "spoof",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do when a corpus or key has a problem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnProblem {
    /// Stop at the first problem with an error naming it.
    #[default]
    Fail,
    /// Leave the offending entry out and report it in the returned problem list.
    SkipAndReport,
}

/// One problem found while loading: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line number; 0 when the problem is not tied to a line (e.g. a missing audio file
    /// found by a folder scan).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

/// Errors of the data layer.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The first problem, when the caller asked to fail on problems.
    #[error("{0}")]
    Problem(Problem),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_synonyms() {
        for w in [
            "bonafide",
            "Bona-Fide",
            "bona fide",
            "real",
            "GENUINE",
            " \"bonafide\" ",
        ] {
            assert_eq!(Label::parse(w), Some(Label::Bonafide), "{w}");
        }
        for w in ["spoof", "Fake", "deepfake"] {
            assert_eq!(Label::parse(w), Some(Label::Spoof), "{w}");
        }
        assert_eq!(Label::parse("maybe"), None);
        assert_eq!(Label::parse(""), None);
    }

    #[test]
    fn problem_display_names_file_and_line() {
        let p = Problem {
            file: "keys/a.txt".into(),
            line: 12,
            message: "unknown label 'x'".into(),
        };
        assert_eq!(p.to_string(), "keys/a.txt:12: unknown label 'x'");
    }
}
