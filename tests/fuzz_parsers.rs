//! Property tests ("fuzzing") of the parsers that read untrusted input: the audio decoder, the
//! key parser (every [`KeyFormat`]), the score parser (every [`ScoreFormat`]) and the training
//! configuration parser. Each gets both raw arbitrary input and input built from the format's own
//! vocabulary (headers, labels, section names), which reaches far deeper than random bytes. The
//! property is the module contract: an error naming the input, or a value that keeps the
//! parser's promises; never a panic.
//!
//! The default case counts keep this file well under 30 s in the dev profile; a longer campaign:
//! `DPDA_FUZZ_CASES=100000 cargo test --release --test fuzz_parsers`. A case that fails is shrunk
//! by proptest and printed; it belongs below as a plain `#[test]` once fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};

use dpda::audio::decode_bytes;
use dpda::data::protocol::{parse_key, KeyFormat};
use dpda::data::OnProblem;
use dpda::metrics::scores::{parse_scores, ScoreFormat};
use dpda::train::plan_from_str;
use proptest::prelude::*;

/// `default` cases per property, or `DPDA_FUZZ_CASES` when set. Failures are not persisted to
/// files: a failing input found here is committed as a regression test instead.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("DPDA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Audio

/// The decodable fixtures, as bytes with their file names (extension = format hint).
fn audio_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("the audio fixtures are present")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.is_file() && dpda::audio::is_audio_path(p))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("fixture reads"))
        })
        .collect();
    found.sort();
    assert!(found.len() >= 8, "expected the audio fixtures in {dir:?}");
    found
}

/// A RIFF/WAVE file with arbitrary `fmt ` fields, announced lengths and data.
fn wav_like() -> impl Strategy<Value = Vec<u8>> {
    let format_tag = prop_oneof![
        Just(1u16),
        Just(3),
        Just(6),
        Just(7),
        Just(0xFFFE),
        any::<u16>()
    ];
    let channels = prop_oneof![1..=2u16, any::<u16>()];
    let rate = prop_oneof![Just(16_000u32), Just(0), any::<u32>()];
    let bits = prop_oneof![
        Just(8u16),
        Just(16),
        Just(24),
        Just(32),
        Just(64),
        any::<u16>()
    ];
    (
        format_tag,
        channels,
        rate,
        bits,
        any::<Option<u16>>(),
        any::<Option<u32>>(),
        prop::collection::vec(any::<u8>(), 0..512),
        any::<bool>(),
    )
        .prop_map(
            |(tag, channels, rate, bits, block_align, data_len, data, extensible)| {
                let fmt = WavFmt {
                    tag,
                    channels,
                    rate,
                    bits,
                    block_align,
                    extensible,
                };
                wav_bytes(&fmt, data_len, &data)
            },
        )
}

/// The `fmt ` fields of a hand-made WAV file.
struct WavFmt {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    /// `None`: consistent with the channels and bits.
    block_align: Option<u16>,
    /// WAVE_FORMAT_EXTENSIBLE layout, the sub-format GUID starting with `tag`.
    extensible: bool,
}

/// A RIFF/WAVE file with the given `fmt ` fields; `data_len` overrides the data chunk's size.
fn wav_bytes(f: &WavFmt, data_len: Option<u32>, data: &[u8]) -> Vec<u8> {
    let align = f
        .block_align
        .unwrap_or_else(|| f.channels.wrapping_mul(f.bits.div_ceil(8)).max(1));
    let mut fmt = Vec::new();
    fmt.extend(if f.extensible { 0xFFFEu16 } else { f.tag }.to_le_bytes());
    fmt.extend(f.channels.to_le_bytes());
    fmt.extend(f.rate.to_le_bytes());
    fmt.extend(f.rate.wrapping_mul(u32::from(align)).to_le_bytes());
    fmt.extend(align.to_le_bytes());
    fmt.extend(f.bits.to_le_bytes());
    if f.extensible {
        // cbSize, valid bits, channel mask (none), sub-format GUID.
        fmt.extend(22u16.to_le_bytes());
        fmt.extend(f.bits.to_le_bytes());
        fmt.extend(0u32.to_le_bytes());
        fmt.extend(f.tag.to_le_bytes());
        fmt.extend([0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]);
    }
    let mut body = b"WAVEfmt ".to_vec();
    body.extend((fmt.len() as u32).to_le_bytes());
    body.extend(fmt);
    body.extend(b"data");
    body.extend(data_len.unwrap_or(data.len() as u32).to_le_bytes());
    body.extend(data);
    let mut file = b"RIFF".to_vec();
    file.extend((body.len() as u32).to_le_bytes());
    file.extend(body);
    file
}

/// What `decode_bytes` promises: an error naming the input, or a clip of finite samples.
fn check_decode(bytes: &[u8], name: &str) -> Result<(), TestCaseError> {
    let path = PathBuf::from("fuzz").join(name);
    match decode_bytes(bytes, &path) {
        Ok(clip) => {
            prop_assert!(!clip.samples.is_empty());
            prop_assert!(clip.sample_rate_hz > 0);
            prop_assert!(clip.samples.iter().all(|x| x.is_finite()));
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(message.contains(name), "{message}");
            // The decoders' last-resort panic guard says this; a panic is still a bug (and
            // prints a panic message on the user's terminal).
            prop_assert!(
                !message.contains("the decoder failed on malformed data"),
                "{message}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn decoder_survives_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        ext in prop::sample::select(vec!["wav", "flac", "ogg", "mp3", "bin"]),
    ) {
        check_decode(&bytes, &format!("input.{ext}"))?;
    }

    #[test]
    fn decoder_survives_arbitrary_wav_headers(bytes in wav_like()) {
        check_decode(&bytes, "header.wav")?;
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Valid files with a few bytes changed and possibly cut short: the deep paths of each codec.
    #[test]
    fn decoder_survives_mutated_fixtures(
        which in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        keep in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let fixtures = audio_fixtures();
        let (name, original) = &fixtures[which.index(fixtures.len())];
        let mut bytes = original.clone();
        for (at, value) in &flips {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if let Some(keep) = keep {
            bytes.truncate(keep.index(bytes.len()));
        }
        check_decode(&bytes, name)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and scores

/// Text built from `tokens`: up to 12 lines of up to 10 fields, with the separators and line ends
/// those files use.
fn tabular(tokens: Vec<&'static str>) -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => prop::sample::select(tokens).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
    ];
    let sep = prop::sample::select(vec![" ", "\t", ",", "  ", " \t"]);
    let line = (prop::collection::vec(token, 0..10), sep).prop_map(|(t, sep)| t.join(sep));
    let end = prop::sample::select(vec!["\n", "\r\n"]);
    (prop::collection::vec(line, 0..12), end, any::<bool>()).prop_map(|(lines, end, bom)| {
        let text = lines.join(end);
        if bom {
            format!("\u{feff}{text}")
        } else {
            text
        }
    })
}

const KEY_TOKENS: &[&str] = &[
    "LA_0079",
    "LA_T_1138215",
    "LA_E_2834763",
    "DF_E_2000011",
    "-",
    "A01",
    "A19",
    "bonafide",
    "spoof",
    "bona-fide",
    "file",
    "speaker",
    "label",
    "filename",
    "cm-label",
    "path",
    "attack",
    "LA",
    "DF",
    "eval",
    "progress",
    "hidden_track",
    "notrim",
    "trim",
    "alaw",
    "ita_tx",
    "mp3m4a",
    "vcc2020",
    "Task1-team20",
    "\"quoted, field\"",
    "\"",
    "1.wav",
    "x.flac",
    "real/file1848.wav",
    "%20",
    "%",
    "#",
    "0",
    "",
];

const SCORE_TOKENS: &[&str] = &[
    "LA_E_2834763",
    "trial",
    "filename",
    "cm-score",
    "cm_score",
    "score",
    "spoof",
    "bonafide",
    "-",
    "A07",
    "0.5",
    "-3",
    "1e308",
    "-1e309",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "a%20b",
    "%",
    "1.wav",
    "",
];

const KEY_FORMATS: [KeyFormat; 7] = [
    KeyFormat::Auto,
    KeyFormat::La2019,
    KeyFormat::La2021,
    KeyFormat::Df2021,
    KeyFormat::InTheWild,
    KeyFormat::Csv,
    KeyFormat::Asvspoof5,
];

const SCORE_FORMATS: [ScoreFormat; 4] = [
    ScoreFormat::Auto,
    ScoreFormat::TwoColumn,
    ScoreFormat::Aasist,
    ScoreFormat::Asvspoof5,
];

/// What `parse_key` promises for every format and problem policy: an error naming the file, or
/// a key in a definite layout whose entries come from lines of the text.
fn check_key(text: &str) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz/key.txt");
    let num_lines = text.lines().count();
    for format in KEY_FORMATS {
        for on_problem in [OnProblem::Fail, OnProblem::SkipAndReport] {
            match parse_key(text, path, format, on_problem) {
                Ok(key) => {
                    prop_assert!(key.format != KeyFormat::Auto);
                    prop_assert!(key.entries.len() <= num_lines, "{format:?}");
                    if on_problem == OnProblem::Fail {
                        prop_assert!(key.problems.is_empty(), "{format:?}");
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(message.contains("fuzz/key.txt"), "{format:?}: {message}");
                }
            }
        }
    }
    Ok(())
}

/// What `parse_scores` promises for every format: an error naming the file, or scores that are
/// numbers (never NaN) in a definite layout.
fn check_scores(text: &str) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz/scores.txt");
    for format in SCORE_FORMATS {
        match parse_scores(text, path, format) {
            Ok(scores) => {
                prop_assert!(scores.format != ScoreFormat::Auto);
                prop_assert!(scores.entries.iter().all(|e| !e.score.is_nan()));
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.contains("fuzz/scores.txt"), "{format:?}: {message}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn key_parser_survives_arbitrary_text(text in any::<String>()) {
        check_key(&text)?;
    }

    #[test]
    fn key_parser_survives_key_like_text(text in tabular(KEY_TOKENS.to_vec())) {
        check_key(&text)?;
    }

    #[test]
    fn score_parser_survives_arbitrary_text(text in any::<String>()) {
        check_scores(&text)?;
    }

    #[test]
    fn score_parser_survives_score_like_text(text in tabular(SCORE_TOKENS.to_vec())) {
        check_scores(&text)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Training configurations

const CONFIG_SECTIONS: &[&str] = &[
    "[data]",
    "[model]",
    "[model.options]",
    "[train]",
    "[optim]",
    "[schedule]",
    "[sam]",
    "[device]",
    "[augment]",
    "[[test]]",
    "[data.rawboost]",
];

const CONFIG_KEYS: &[&str] = &[
    "corpus",
    "demo_size",
    "demo_seed",
    "root",
    "num_samples",
    "rawboost_algo",
    "seed",
    "class_weights",
    "name",
    "kind",
    "key",
    "subset",
    "layout",
    "mode",
    "align",
    "batch_size",
    "epochs",
    "patience",
    "keep_best",
    "per_layer_cos_every",
    "checkpoint_every_steps",
    "checkpoint_every_minutes",
    "lr",
    "weight_decay",
    "rho",
    "adaptive",
    "enabled",
    "m_sharpness",
    "averaging",
    "dev_loss",
    "cagrad_solver",
    "front_end_weights",
    "n_f",
    "snr_min_db",
];

const CONFIG_VALUES: &[&str] = &[
    "\"demo\"",
    "\"tiny\"",
    "\"la2019\"",
    "\"itw\"",
    "\"for\"",
    "\"csv\"",
    "\"dual\"",
    "\"plain\"",
    "\"augmented\"",
    "\"pcgrad\"",
    "\"gradvac\"",
    "\"cagrad\"",
    "\"mgda\"",
    "\"none\"",
    "\"tiny\"",
    "\"lcnn\"",
    "\"aasist-l\"",
    "\"xlsr-aasist\"",
    "\"cosine\"",
    "\"adam\"",
    "\"sgd\"",
    "\"joint\"",
    "\"\"",
    "0",
    "1",
    "-1",
    "4",
    "1600",
    "66800",
    "9223372036854775807",
    "-9223372036854775808",
    "1e-6",
    "0.5",
    "1e308",
    "nan",
    "inf",
    "-inf",
    "true",
    "false",
    "[0.1, 0.9]",
    "[]",
    "[1, 2, 3]",
    "{}",
    "{ a = 1 }",
    "1979-05-27",
];

/// TOML built from the configuration's own sections, keys and typical values.
fn config_like() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        5 => prop::sample::select(CONFIG_VALUES.to_vec()).prop_map(str::to_string),
        1 => any::<i64>().prop_map(|v| v.to_string()),
        1 => any::<f64>().prop_map(|v| format!("{v:?}")),
        1 => "\"[ -~&&[^\"\\\\]]{0,12}\"",
    ];
    let entry =
        (prop::sample::select(CONFIG_KEYS.to_vec()), value).prop_map(|(k, v)| format!("{k} = {v}"));
    let section = (
        prop::sample::select(CONFIG_SECTIONS.to_vec()),
        prop::collection::vec(entry, 0..6),
    )
        .prop_map(|(header, entries)| format!("{header}\n{}", entries.join("\n")));
    prop::collection::vec(section, 0..6).prop_map(|s| s.join("\n"))
}

/// `--set` assignments: dotted keys of the configuration, values as typed on a command line.
fn overrides() -> impl Strategy<Value = Vec<String>> {
    let key = prop_oneof![
        (
            prop::sample::select(vec![
                "data",
                "model",
                "train",
                "optim",
                "sam",
                "model.options"
            ]),
            prop::sample::select(CONFIG_KEYS.to_vec()),
        )
            .prop_map(|(s, k)| format!("{s}.{k}")),
        "[ -~]{0,10}",
    ];
    let value = prop_oneof![
        prop::sample::select(CONFIG_VALUES.to_vec()).prop_map(str::to_string),
        "[ -~]{0,10}",
    ];
    let assignment = (key, value, any::<bool>()).prop_map(|(k, v, eq)| {
        if eq {
            format!("{k}={v}")
        } else {
            format!("{k}{v}")
        }
    });
    prop::collection::vec(assignment, 0..3)
}

/// The configurations in `experiments/`, the starting points of the deepest cases.
fn experiment_configs() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut texts = Vec::new();
    for dir in [root.clone(), root.join("paper")] {
        for entry in std::fs::read_dir(&dir).expect("experiments/ is present") {
            let path = entry.expect("experiment entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                texts.push(std::fs::read_to_string(&path).expect("experiment reads"));
            }
        }
    }
    texts.sort();
    assert!(texts.len() >= 10, "expected the experiment configurations");
    texts
}

/// Every field of the configuration as a `--set` key.
const CONFIG_PATHS: &[&str] = &[
    "data.corpus",
    "data.demo_size",
    "data.demo_seed",
    "data.root",
    "data.train_csv",
    "data.num_samples",
    "data.rawboost_algo",
    "data.rawboost.n_f",
    "data.rawboost.n_bands",
    "data.rawboost.min_coeff",
    "data.rawboost.max_coeff",
    "data.rawboost.min_f_hz",
    "data.rawboost.max_f_hz",
    "data.rawboost.snr_min_db",
    "data.rawboost.p_percent",
    "data.max_dev_clips",
    "data.max_eval_clips",
    "data.score_eval",
    "model.name",
    "model.options.blstm",
    "model.options.channels",
    "train.mode",
    "train.layout",
    "train.align",
    "train.batch_size",
    "train.epochs",
    "train.patience",
    "train.keep_best",
    "train.seed",
    "train.max_steps",
    "train.per_layer_cos_every",
    "train.class_weights",
    "train.clip_grad_norm",
    "train.eval_batch_size",
    "train.dev_loss",
    "train.averaging",
    "train.cagrad_solver",
    "train.checkpoint_every_steps",
    "train.checkpoint_every_minutes",
    "optim.name",
    "optim.lr",
    "optim.weight_decay",
    "optim.eps",
    "optim.momentum",
    "schedule.name",
    "schedule.warmup_steps",
    "schedule.min_lr_ratio",
    "schedule.warmup_start_factor",
    "sam.enabled",
    "sam.rho",
    "sam.adaptive",
    "sam.m_sharpness",
    "sam.eta",
    "device.kind",
    "device.cuda_ordinal",
];

proptest! {
    #![proptest_config(config(1024))]

    /// A real configuration with fields set to typical, extreme and wrong values: every case
    /// parses, so each reaches the validation of the values.
    #[test]
    fn config_validation_survives_extreme_values(
        which in any::<prop::sample::Index>(),
        sets in prop::collection::vec(
            (
                prop::sample::select(CONFIG_PATHS.to_vec()),
                prop_oneof![
                    4 => prop::sample::select(CONFIG_VALUES.to_vec()).prop_map(str::to_string),
                    1 => any::<i64>().prop_map(|v| v.to_string()),
                    1 => any::<f64>().prop_map(|v| format!("{v:?}")),
                ],
            )
                .prop_map(|(k, v)| format!("{k}={v}")),
            1..5,
        ),
    ) {
        let configs = experiment_configs();
        let text = &configs[which.index(configs.len())];
        let _ = plan_from_str(text, "fuzz.toml", &sets);
    }

    #[test]
    fn config_parser_survives_arbitrary_text(text in any::<String>()) {
        let _ = plan_from_str(&text, "fuzz.toml", &[]);
    }

    #[test]
    fn config_parser_survives_config_like_text(text in config_like(), sets in overrides()) {
        let _ = plan_from_str(&text, "fuzz.toml", &[]);
        let _ = plan_from_str(&text, "fuzz.toml", &sets);
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: inputs the properties above found.

/// Found by `decoder_survives_arbitrary_wav_headers` and `decoder_survives_mutated_fixtures`:
/// WAV files hound refuses, with more channels than symphonia's WAV reader maps, made that reader
/// overflow (21,846 × 3 bytes in its block-align check; a shift by 33 in its channel-mask repair).
/// The panic guard caught it, but a panic message reached the terminal and the error said only
/// "the decoder failed on malformed data"; such files are now refused by their channel count.
#[test]
fn wav_with_more_channels_than_the_fallback_reader_maps_is_refused_by_its_count() {
    // The shrunk input: 24-bit PCM, 21,846 channels, block align 2 (hound refuses it), no data.
    let pcm: Vec<u8> = vec![
        82, 73, 70, 70, 36, 0, 0, 0, 87, 65, 86, 69, 102, 109, 116, 32, 16, 0, 0, 0, 1, 0, 86, 85,
        128, 62, 0, 0, 0, 125, 0, 0, 2, 0, 24, 0, 100, 97, 116, 97, 0, 0, 0, 0,
    ];
    // The fixture written as WAVE_FORMAT_EXTENSIBLE, its channel count changed to 33.
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/mono16k_s24.wav");
    let mut extensible = std::fs::read(fixture).unwrap();
    assert_eq!(
        &extensible[20..24],
        &[0xFE, 0xFF, 1, 0],
        "an extensible mono fixture"
    );
    extensible[22] = 33;
    // Hand-made: extensible 64-bit float, 40 channels.
    let float = wav_bytes(
        &WavFmt {
            tag: 3,
            channels: 40,
            rate: 16_000,
            bits: 64,
            block_align: None,
            extensible: true,
        },
        None,
        &[0; 64],
    );
    for (bytes, channels) in [(pcm, 21_846), (extensible, 33), (float, 40)] {
        let err = decode_bytes(&bytes, Path::new("many.wav")).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("many.wav"), "{message}");
        assert!(
            message.contains(&format!("{channels} channels")),
            "{message}"
        );
        assert!(!message.contains("failed on malformed data"), "{message}");
    }
}

/// Found by `decoder_survives_arbitrary_wav_headers`: two finite float samples near f32::MAX
/// (1.98e38 and 1.42e38) were averaged into an infinite mono sample, breaking the decoder's
/// promise of finite samples.
#[test]
fn huge_finite_float_samples_downmix_to_a_finite_mean() {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut wav = hound::WavWriter::new(&mut bytes, spec).unwrap();
    for x in [0.0f32, 0.0, 1.98e38, 1.42e38, -3e38, -3e38] {
        wav.write_sample(x).unwrap();
    }
    wav.finalize().unwrap();
    let clip = decode_bytes(bytes.get_ref(), Path::new("huge.wav")).unwrap();
    assert_eq!(clip.samples, vec![0.0, 1.7e38, -3e38]);
}
