//! Corpora on disk: loaders that turn a public dataset's protocol/key files and audio tree into
//! a list of [`Utterance`]s (ASVspoof 2019 LA, ASVspoof 2021 LA/DF, In-the-Wild, FoR, generic
//! CSV). Training, evaluation and the CLI call these; key text parsing is `super::protocol`'s.

use std::fmt;

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
