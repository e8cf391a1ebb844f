//! Key (ground-truth protocol) parsers for the public SDD corpora: ASVspoof 2019 LA protocols,
//! ASVspoof 2021 LA and DF keys, In-the-Wild `meta.csv`, FoR / generic `path,label` CSVs and
//! ASVspoof 5 TSV keys, plus plain trial lists.
//!
//! `dpda eval` joins score files against a [`Key`]; the corpus loaders build on the same entries to
//! find audio. Every malformed line, unknown label, duplicate trial or empty file becomes a
//! [`Problem`] naming the file and line; [`OnProblem`] decides whether the first one is an error.
//! Trials are identified by [`trial_name`]: the name with its folders, without an audio
//! extension, so `LA_T_1138215` and `LA_T_1138215.flac` are one trial (FoR keys, for one, omit the
//! `.wav` suffix) while FoR's `fake/x` and `real/x` are two.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{DataError, Label, OnProblem, Problem};

/// One labelled trial of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    /// The trial name as written in the key; it may carry a directory or an audio extension.
    pub utt_id: String,
    pub label: Label,
    /// Attack / system (A01–A19, a 2021 DF attack such as `Task1-team20`, a CSV `attack` column);
    /// `None` for bona fide or when the key does not say.
    pub attack: Option<String>,
    pub speaker: Option<String>,
    /// Recording condition, e.g. the 2021 LA `codec/transmission` pair or the 2021 DF codec.
    pub condition: Option<String>,
    /// 2021 evaluation subset: `progress`, `eval` or `hidden_track`.
    pub subset: Option<String>,
    /// 1-based line number in the key file.
    pub line: usize,
}

/// Layout of a key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// Sniff the layout from the first lines.
    Auto,
    /// ASVspoof 2019 LA protocol `SPEAKER UTT - SYSTEM KEY [extra columns…]`.
    La2019,
    /// ASVspoof 2021 LA key `spk trial codec transmission attack label trim subset`.
    La2021,
    /// ASVspoof 2021 DF key `spk trial codec source attack label trim subset vocoder …` (13 columns).
    Df2021,
    /// In-the-Wild `meta.csv`: header `file,speaker,label`.
    InTheWild,
    /// FoR and generic CSV `path,label[,…]`, with or without a header.
    Csv,
    /// ASVspoof 5 TSV with a header naming `filename` and `cm-label`.
    Asvspoof5,
}

impl KeyFormat {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFormat::Auto => "auto",
            KeyFormat::La2019 => "la2019",
            KeyFormat::La2021 => "la2021",
            KeyFormat::Df2021 => "df2021",
            KeyFormat::InTheWild => "itw",
            KeyFormat::Csv => "csv",
            KeyFormat::Asvspoof5 => "asvspoof5",
        }
    }

    /// A human description of the layout, for messages such as "key read as …".
    pub fn description(self) -> &'static str {
        match self {
            KeyFormat::Auto => "auto-detected",
            KeyFormat::La2019 => "ASVspoof 2019 LA protocol (SPEAKER UTT - SYSTEM KEY)",
            KeyFormat::La2021 => "ASVspoof 2021 LA key (8 columns)",
            KeyFormat::Df2021 => "ASVspoof 2021 DF key (13 columns)",
            KeyFormat::InTheWild => "In-the-Wild meta.csv (file,speaker,label)",
            KeyFormat::Csv => "CSV key (path,label)",
            KeyFormat::Asvspoof5 => "ASVspoof 5 TSV key (filename, cm-label)",
        }
    }
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(KeyFormat::Auto),
            "la2019" | "asvspoof2019" => Ok(KeyFormat::La2019),
            "la2021" => Ok(KeyFormat::La2021),
            "df2021" => Ok(KeyFormat::Df2021),
            "itw" | "in-the-wild" | "inthewild" => Ok(KeyFormat::InTheWild),
            "csv" | "for" => Ok(KeyFormat::Csv),
            "asvspoof5" => Ok(KeyFormat::Asvspoof5),
            other => Err(format!(
                "unknown key format '{other}' (expected auto, la2019, la2021, df2021, itw, csv or asvspoof5)"
            )),
        }
    }
}

/// A parsed key: its entries in file order and the problems skipped on the way.
#[derive(Clone, Debug)]
pub struct Key {
    pub path: PathBuf,
    /// The layout actually used; never [`KeyFormat::Auto`].
    pub format: KeyFormat,
    pub entries: Vec<KeyEntry>,
    pub problems: Vec<Problem>,
}

impl Key {
    /// Number of bona fide and spoof entries.
    pub fn counts(&self) -> (usize, usize) {
        let bonafide = self
            .entries
            .iter()
            .filter(|e| e.label == Label::Bonafide)
            .count();
        (bonafide, self.entries.len() - bonafide)
    }
}

/// The known audio extensions stripped by [`utt_stem`].
const AUDIO_EXTENSIONS: [&str; 4] = [".wav", ".flac", ".mp3", ".ogg"];

/// A trial's bare name: directories and a known audio extension (.wav .flac .mp3 .ogg, any case)
/// removed, so key and score names match whichever way they were written.
pub fn utt_stem(name: &str) -> &str {
    let name = name.trim();
    let base = match name.rfind(['/', '\\']) {
        Some(i) => &name[i + 1..],
        None => name,
    };
    strip_audio_extension(base)
}

/// `base` without a trailing known audio extension (any case).
fn strip_audio_extension(base: &str) -> &str {
    for ext in AUDIO_EXTENSIONS {
        if base.len() > ext.len() {
            let split = base.len() - ext.len();
            if base.is_char_boundary(split) && base[split..].eq_ignore_ascii_case(ext) {
                return &base[..split];
            }
        }
    }
    base
}

/// A trial's identity: the name with its folders kept (separators as `/`, a leading `./` dropped,
/// surrounding whitespace trimmed) and a known audio extension removed from the last component.
/// `fake/x.wav` and `real/x.wav` are two trials (FoR names the same file in both folders);
/// `LA_T_1.flac` and `LA_T_1` are one. Keys and score files are matched on this (see
/// `metrics::scores::join_scores`, which also matches a bare key name against a score named with
/// folders and the other way round).
pub fn trial_name(name: &str) -> String {
    let mut name = name.trim().replace('\\', "/");
    while let Some(rest) = name.strip_prefix("./") {
        name = rest.to_string();
    }
    let base_start = name.rfind('/').map_or(0, |i| i + 1);
    let kept = base_start + strip_audio_extension(&name[base_start..]).len();
    name.truncate(kept);
    name
}

/// A trial name as one whitespace-free field of a score file: whitespace and `%` are written as
/// `%XX` (a space as `%20`), so names with spaces survive `<name> <score>` lines.
/// [`decode_trial_field`] undoes it; `dpda score` writes and `dpda eval` reads names this way.
pub fn encode_trial_field(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '%' || c.is_whitespace() || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The trial name of a score-file field written by [`encode_trial_field`]. A `%` not followed by
/// two hex digits is kept as it is, so names from other tools read unchanged.
pub fn decode_trial_field(field: &str) -> String {
    if !field.contains('%') {
        return field.to_string();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| field.to_string())
}

/// Read and parse a key file.
pub fn load_key(path: &Path, format: KeyFormat, on_problem: OnProblem) -> Result<Key, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_key(&text, path, format, on_problem)
}

/// Read a trial list: one trial name per line (ASVspoof 2021 `*.trl.txt`, In-the-Wild
/// `eval.txt`); blank lines are ignored and surrounding whitespace trimmed.
pub fn load_trial_list(path: &Path) -> Result<Vec<String>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut ids = Vec::new();
    for (i, raw) in lines(&text) {
        let fields: Vec<&str> = raw.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            [id] => ids.push((*id).to_string()),
            _ => {
                return Err(DataError::Problem(Problem {
                    file: path.to_path_buf(),
                    line: i,
                    message: format!(
                        "a trial list has one name per line, found {} fields",
                        fields.len()
                    ),
                }))
            }
        }
    }
    Ok(ids)
}

/// Parse key text already in memory; `path` is only used in messages.
pub fn parse_key(
    text: &str,
    path: &Path,
    format: KeyFormat,
    on_problem: OnProblem,
) -> Result<Key, DataError> {
    let mut sink = Sink {
        path,
        on_problem,
        problems: Vec::new(),
    };
    let first = lines(text).find(|(_, l)| !l.trim().is_empty());
    let Some((_, first_line)) = first else {
        sink.report(0, "the key is empty".to_string())?;
        return Ok(Key {
            path: path.to_path_buf(),
            format: if format == KeyFormat::Auto {
                KeyFormat::Csv
            } else {
                format
            },
            entries: Vec::new(),
            problems: sink.problems,
        });
    };
    let format = match format {
        KeyFormat::Auto => sniff(first_line).ok_or_else(|| DataError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "cannot tell the key format from its first line '{}'; pass the format explicitly",
                truncate(first_line, 80)
            ),
        })?,
        f => f,
    };
    let mut entries = match format {
        KeyFormat::La2019 | KeyFormat::La2021 | KeyFormat::Df2021 => {
            parse_whitespace(text, format, &mut sink)?
        }
        KeyFormat::InTheWild | KeyFormat::Csv => parse_delimited(text, ',', format, &mut sink)?,
        KeyFormat::Asvspoof5 => parse_delimited(text, '\t', format, &mut sink)?,
        KeyFormat::Auto => unreachable!("Auto was resolved above"),
    };
    drop_duplicates(&mut entries, &mut sink)?;
    Ok(Key {
        path: path.to_path_buf(),
        format,
        entries,
        problems: sink.problems,
    })
}

/// Collects problems, or turns the first into an error under [`OnProblem::Fail`].
struct Sink<'a> {
    path: &'a Path,
    on_problem: OnProblem,
    problems: Vec<Problem>,
}

impl Sink<'_> {
    fn report(&mut self, line: usize, message: String) -> Result<(), DataError> {
        let problem = Problem {
            file: self.path.to_path_buf(),
            line,
            message,
        };
        match self.on_problem {
            OnProblem::Fail => Err(DataError::Problem(problem)),
            OnProblem::SkipAndReport => {
                self.problems.push(problem);
                Ok(())
            }
        }
    }
}

/// Lines with 1-based numbers, a byte-order mark and `\r` removed.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

/// Guess the layout from the first non-empty line.
fn sniff(first_line: &str) -> Option<KeyFormat> {
    let lower = first_line.to_ascii_lowercase();
    if first_line.contains('\t') {
        let cols: Vec<&str> = lower.split('\t').map(str::trim).collect();
        if cols.contains(&"cm-label") || cols.contains(&"filename") || cols.contains(&"cm_label") {
            return Some(KeyFormat::Asvspoof5);
        }
    }
    if first_line.contains(',') {
        let cols: Vec<&str> = lower
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        if cols == ["file", "speaker", "label"] {
            return Some(KeyFormat::InTheWild);
        }
        return Some(KeyFormat::Csv);
    }
    let cols: Vec<&str> = first_line.split_whitespace().collect();
    let is_label = |i: usize| cols.get(i).and_then(|w| Label::parse(w)).is_some();
    if cols.len() >= 13 && is_label(5) {
        return Some(KeyFormat::Df2021);
    }
    if cols.len() >= 8 && is_label(5) {
        let df_like =
            cols[1].starts_with("DF_") || cols[3] == "asvspoof" || cols[3].starts_with("vcc");
        return Some(if df_like {
            KeyFormat::Df2021
        } else {
            KeyFormat::La2021
        });
    }
    if cols.len() >= 5 && cols[2] == "-" && is_label(4) {
        return Some(KeyFormat::La2019);
    }
    None
}

fn dash_to_none(field: &str) -> Option<String> {
    (field != "-" && !field.is_empty()).then(|| field.to_string())
}

fn parse_label(word: &str, line: usize, sink: &mut Sink) -> Result<Option<Label>, DataError> {
    match Label::parse(word) {
        Some(l) => Ok(Some(l)),
        None => {
            sink.report(
                line,
                format!("unknown label '{word}' (expected bonafide/spoof or a synonym)"),
            )?;
            Ok(None)
        }
    }
}

/// Whitespace-separated ASVspoof 2019 / 2021 keys.
fn parse_whitespace(
    text: &str,
    format: KeyFormat,
    sink: &mut Sink,
) -> Result<Vec<KeyEntry>, DataError> {
    // Minimum columns up to the last field we read; extra columns (e.g. a MOS score) are ignored.
    let min_cols = match format {
        KeyFormat::La2019 => 5,
        _ => 8,
    };
    let mut entries = Vec::new();
    for (line, raw) in lines(text) {
        let cols: Vec<&str> = raw.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        if cols.len() < min_cols {
            sink.report(
                line,
                format!(
                    "expected at least {min_cols} columns for a {} line, found {}",
                    format.as_str(),
                    cols.len()
                ),
            )?;
            continue;
        }
        let (label_col, attack_col) = match format {
            KeyFormat::La2019 => (4, 3),
            _ => (5, 4),
        };
        let Some(label) = parse_label(cols[label_col], line, sink)? else {
            continue;
        };
        let (condition, subset) = match format {
            KeyFormat::La2019 => (None, None),
            KeyFormat::La2021 => (
                Some(format!("{}/{}", cols[2], cols[3])),
                dash_to_none(cols[7]),
            ),
            _ => (dash_to_none(cols[2]), dash_to_none(cols[7])),
        };
        entries.push(KeyEntry {
            utt_id: cols[1].to_string(),
            label,
            attack: match label {
                Label::Bonafide => None,
                Label::Spoof => dash_to_none(cols[attack_col]),
            },
            speaker: dash_to_none(cols[0]),
            condition,
            subset,
            line,
        });
    }
    Ok(entries)
}

/// Split one delimited line, honouring double quotes around fields (RFC 4180 style).
fn split_delimited(line: &str, delimiter: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == delimiter {
            fields.push(field.trim().to_string());
            field.clear();
        } else {
            field.push(c);
        }
    }
    fields.push(field.trim().to_string());
    fields
}

/// Column roles of a delimited key.
struct Columns {
    file: usize,
    label: usize,
    speaker: Option<usize>,
    attack: Option<usize>,
    condition: Option<usize>,
}

/// Find column roles from a header row; `None` when the row does not look like a header.
fn header_columns(fields: &[String]) -> Option<Columns> {
    let names: Vec<String> = fields
        .iter()
        .map(|f| f.to_ascii_lowercase().replace('_', "-"))
        .collect();
    let find = |candidates: &[&str]| names.iter().position(|n| candidates.contains(&n.as_str()));
    let label = find(&["label", "cm-label", "key", "class", "target"])?;
    let file = find(&[
        "file",
        "filename",
        "path",
        "file-path",
        "filepath",
        "name",
        "utt",
        "utt-id",
        "id",
        "audio",
        "trial",
        "trial-anon",
    ])
    .unwrap_or(0);
    Some(Columns {
        file,
        label,
        speaker: find(&["speaker", "spk", "speaker-id", "tar-spk-anon"]),
        attack: find(&[
            "attack",
            "attack-label",
            "attack-anon",
            "system",
            "system-id",
        ]),
        condition: find(&["codec", "condition"]),
    })
}

/// Comma- or tab-separated keys (In-the-Wild, FoR / generic CSV, ASVspoof 5).
fn parse_delimited(
    text: &str,
    delimiter: char,
    format: KeyFormat,
    sink: &mut Sink,
) -> Result<Vec<KeyEntry>, DataError> {
    let mut entries = Vec::new();
    let mut columns: Option<Columns> = None;
    let mut seen_first = false;
    for (line, raw) in lines(text) {
        if raw.trim().is_empty() {
            continue;
        }
        let fields = split_delimited(raw, delimiter);
        if !seen_first {
            seen_first = true;
            // A header is a first row whose second field is not a label word.
            let looks_like_data = fields.len() >= 2 && Label::parse(&fields[1]).is_some();
            if !looks_like_data {
                match header_columns(&fields) {
                    Some(c) => {
                        columns = Some(c);
                        continue;
                    }
                    None if format == KeyFormat::Asvspoof5 || format == KeyFormat::InTheWild => {
                        return Err(DataError::Invalid {
                            path: sink.path.to_path_buf(),
                            message: format!(
                                "line {line}: expected a header naming the file and label columns, found '{}'",
                                truncate(raw, 80)
                            ),
                        });
                    }
                    None => {}
                }
            }
            if columns.is_none() {
                columns = Some(Columns {
                    file: 0,
                    label: 1,
                    speaker: None,
                    attack: None,
                    condition: None,
                });
            }
        }
        let Some(cols) = columns.as_ref() else {
            continue;
        };
        let needed = cols.file.max(cols.label) + 1;
        if fields.len() < needed {
            sink.report(
                line,
                format!(
                    "expected at least {needed} fields separated by '{}', found {}",
                    delimiter.escape_default(),
                    fields.len()
                ),
            )?;
            continue;
        }
        let Some(label) = parse_label(&fields[cols.label], line, sink)? else {
            continue;
        };
        let utt_id = fields[cols.file].clone();
        if utt_id.is_empty() {
            sink.report(line, "empty file name".to_string())?;
            continue;
        }
        let pick = |c: Option<usize>| c.and_then(|i| fields.get(i)).and_then(|f| dash_to_none(f));
        entries.push(KeyEntry {
            utt_id,
            label,
            attack: match label {
                Label::Bonafide => None,
                Label::Spoof => pick(cols.attack),
            },
            speaker: pick(cols.speaker),
            condition: pick(cols.condition),
            subset: None,
            line,
        });
    }
    if seen_first && entries.is_empty() && sink.problems.is_empty() {
        sink.report(0, "the key has a header but no entries".to_string())?;
    }
    Ok(entries)
}

/// Keep the first entry of each trial (compared by [`trial_name`]) and report the others.
fn drop_duplicates(entries: &mut Vec<KeyEntry>, sink: &mut Sink) -> Result<(), DataError> {
    let mut keep = vec![true; entries.len()];
    {
        let mut first_line: HashMap<String, usize> = HashMap::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let stem = trial_name(&entry.utt_id);
            if let Some(&first) = first_line.get(&stem) {
                sink.report(
                    entry.line,
                    format!("duplicate trial '{}' (first on line {first})", entry.utt_id),
                )?;
                keep[i] = false;
            } else {
                first_line.insert(stem, entry.line);
            }
        }
    }
    let mut flags = keep.into_iter();
    entries.retain(|_| flags.next().unwrap_or(true));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, format: KeyFormat) -> Result<Key, DataError> {
        parse_key(text, Path::new("k.txt"), format, OnProblem::SkipAndReport)
    }

    #[test]
    fn trial_names_keep_folders_and_drop_audio_extensions() {
        assert_eq!(trial_name("fake/x.wav"), "fake/x");
        assert_eq!(trial_name("real/x.WAV"), "real/x");
        assert_eq!(trial_name(" ./a\\b/LA_T_1.flac "), "a/b/LA_T_1");
        assert_eq!(
            trial_name("fake/file1848.wav_16k.wav_norm.wav_mono.wav_silence"),
            "fake/file1848.wav_16k.wav_norm.wav_mono.wav_silence"
        );
        assert_eq!(trial_name("0.wav"), "0");
        assert_ne!(trial_name("fake/x"), trial_name("real/x"));
        // Whitespace inside the name stays; multi-byte names never split.
        assert_eq!(trial_name("sub/ xé.wav"), "sub/ xé");
        assert_eq!(trial_name("sub/\u{3000}録音.wav"), "sub/\u{3000}録音");
        assert_ne!(trial_name("sub/ a.wav"), trial_name("sub/ b.wav"));
    }

    #[test]
    fn trial_fields_survive_whitespace_and_percent_signs() {
        for name in ["tone 0.5s", "a\tb", "100% real", "plain", "ü é/x y", "%zz"] {
            let field = encode_trial_field(name);
            assert!(!field.contains(char::is_whitespace), "{field}");
            assert_eq!(decode_trial_field(&field), name);
        }
        assert_eq!(encode_trial_field("tone 0.5s"), "tone%200.5s");
        // Foreign names with a stray '%' read as written.
        assert_eq!(decode_trial_field("50%off"), "50%off");
        assert_eq!(decode_trial_field("a%2"), "a%2");
    }

    #[test]
    fn utt_stem_strips_dirs_and_audio_extensions() {
        assert_eq!(utt_stem("LA_T_1138215"), "LA_T_1138215");
        assert_eq!(utt_stem("flac/LA_T_1138215.flac"), "LA_T_1138215");
        assert_eq!(utt_stem("C:\\data\\0.WAV"), "0");
        assert_eq!(utt_stem("a/b/x.mp3"), "x");
        assert_eq!(utt_stem("x.ogg"), "x");
        // Unknown extensions and dotted names stay.
        assert_eq!(utt_stem("file1.wav_16k"), "file1.wav_16k");
        assert_eq!(utt_stem("x.txt"), "x.txt");
        assert_eq!(utt_stem(".wav"), ".wav");
    }

    #[test]
    fn sniffs_each_layout() {
        assert_eq!(
            sniff("LA_0079 LA_T_1138215 - - bonafide 4.3344"),
            Some(KeyFormat::La2019)
        );
        assert_eq!(
            sniff("LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval"),
            Some(KeyFormat::La2021)
        );
        assert_eq!(
            sniff("LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -"),
            Some(KeyFormat::Df2021)
        );
        assert_eq!(sniff("file,speaker,label"), Some(KeyFormat::InTheWild));
        assert_eq!(sniff("file1.wav,fake"), Some(KeyFormat::Csv));
        assert_eq!(sniff("filename\tcm-label"), Some(KeyFormat::Asvspoof5));
        assert_eq!(sniff("hello world"), None);
    }

    #[test]
    fn la2019_reads_fields_and_ignores_extra_columns() {
        let key = parse(
            "LA_0079 LA_T_1138215 - - bonafide 4.3\nLA_0079 LA_T_1 - A01 spoof 2.1\n",
            KeyFormat::Auto,
        )
        .unwrap();
        assert_eq!(key.format, KeyFormat::La2019);
        assert_eq!(key.entries.len(), 2);
        assert_eq!(key.entries[0].label, Label::Bonafide);
        assert_eq!(key.entries[0].attack, None);
        assert_eq!(key.entries[1].attack.as_deref(), Some("A01"));
        assert_eq!(key.entries[1].speaker.as_deref(), Some("LA_0079"));
        assert_eq!(key.entries[1].line, 2);
        assert_eq!(key.counts(), (1, 1));
    }

    #[test]
    fn la2021_and_df2021_conditions_and_subsets() {
        let la = parse(
            "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n",
            KeyFormat::Auto,
        )
        .unwrap();
        let e = &la.entries[0];
        assert_eq!(e.condition.as_deref(), Some("alaw/ita_tx"));
        assert_eq!(e.subset.as_deref(), Some("eval"));
        assert_eq!(e.attack.as_deref(), Some("A07"));
        let df = parse(
            "LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -\n",
            KeyFormat::Auto,
        )
        .unwrap();
        assert_eq!(df.format, KeyFormat::Df2021);
        let e = &df.entries[0];
        assert_eq!(e.condition.as_deref(), Some("nocodec"));
        assert_eq!(e.subset.as_deref(), Some("progress"));
        assert_eq!(e.attack.as_deref(), Some("A14"));
    }

    #[test]
    fn csv_with_and_without_header() {
        let k = parse("file1,fake\nfile2.wav,real\n", KeyFormat::Auto).unwrap();
        assert_eq!(k.format, KeyFormat::Csv);
        assert_eq!(k.entries.len(), 2);
        assert_eq!(k.entries[1].label, Label::Bonafide);
        let k = parse(
            "path,label,speaker\n\"a,b.wav\",spoof,x\nc.wav,genuine,y\n",
            KeyFormat::Csv,
        )
        .unwrap();
        assert_eq!(k.entries.len(), 2);
        assert_eq!(k.entries[0].utt_id, "a,b.wav");
        assert_eq!(k.entries[1].speaker.as_deref(), Some("y"));
        assert_eq!(k.entries[1].line, 3);
    }

    #[test]
    fn problems_fail_or_are_reported() {
        let text = "a,fake\nb,maybe\nc\na.wav,real\n";
        let err = parse_key(text, Path::new("k.csv"), KeyFormat::Csv, OnProblem::Fail).unwrap_err();
        assert_eq!(
            err.to_string(),
            "k.csv:2: unknown label 'maybe' (expected bonafide/spoof or a synonym)"
        );
        let k = parse(text, KeyFormat::Csv).unwrap();
        assert_eq!(k.entries.len(), 1);
        let lines: Vec<usize> = k.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert!(k.problems[2]
            .message
            .contains("duplicate trial 'a.wav' (first on line 1)"));
    }

    #[test]
    fn empty_key_is_a_problem() {
        let err = parse_key(
            "\n \n",
            Path::new("e.txt"),
            KeyFormat::Auto,
            OnProblem::Fail,
        )
        .unwrap_err();
        assert!(err.to_string().contains("e.txt: the key is empty"), "{err}");
        let k = parse("", KeyFormat::Auto).unwrap();
        assert!(k.entries.is_empty());
        assert_eq!(k.problems.len(), 1);
    }

    #[test]
    fn asvspoof5_tsv_with_extra_columns() {
        let k = parse(
            "filename\tcm-label\tcodec\nE_01\tbonafide\tC00\nE_02\tspoof\tC05\n",
            KeyFormat::Auto,
        )
        .unwrap();
        assert_eq!(k.format, KeyFormat::Asvspoof5);
        assert_eq!(k.entries[1].condition.as_deref(), Some("C05"));
        assert_eq!(k.counts(), (1, 1));
    }
}
