#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `dpda augment --chain` end to end: a folder of WAV and FLAC clips at 16 and 44.1 kHz with
//! spaces in their names, a noise folder, the report, determinism, the README's example chain,
//! every chain of experiments/chains/, and the errors (bad field, missing folder, flags).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dpda::augment::ChainSpec;

fn dpda(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpda"))
        .args(args)
        .output()
        .expect("the dpda binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn speechlike(len: usize, sample_rate_hz: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let t = i as f64 / sample_rate_hz as f64;
            (0.3 * (std::f64::consts::TAU * (150.0 + 200.0 * t) * t).sin() * (2.0 * t).sin().abs())
                as f32
        })
        .collect()
}

fn read_wav(path: &Path) -> (u32, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).expect("output WAV opens");
    let rate = reader.spec().sample_rate;
    let samples = reader
        .samples::<f32>()
        .collect::<Result<Vec<_>, _>>()
        .expect("float samples");
    (rate, samples)
}

/// in/ with a 16 kHz WAV and a 44.1 kHz FLAC (names with spaces), "my noise/" with one noise
/// file, and a chain file next to them that reads the noise folder by a relative path.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let input = dir.join("in put");
    std::fs::create_dir_all(&input).unwrap();
    dpda::audio::write_wav(
        &input.join("clip one.wav"),
        &speechlike(16_000, 16_000),
        16_000,
        dpda::audio::WavFormat::Float32,
    )
    .unwrap();
    dpda::audio::flac_write::write_flac(
        &input.join("clip two.flac"),
        &speechlike(30_000, 44_100),
        44_100,
    )
    .unwrap();
    let noise = dir.join("my noise");
    std::fs::create_dir_all(&noise).unwrap();
    let hiss: Vec<f32> = (0..5_000)
        .map(|i| (((i * 7919) % 1000) as f32 / 1000.0 - 0.5) * 0.2)
        .collect();
    dpda::audio::write_wav(
        &noise.join("fan hum.wav"),
        &hiss,
        22_050,
        dpda::audio::WavFormat::Float32,
    )
    .unwrap();
    let chain = dir.join("chain.toml");
    std::fs::write(
        &chain,
        "[[stages]]\nkind = \"noise\"\nsource = \"folder\"\nfolder = \"my noise\"\nsnr_db = [10, 15]\n\
         [[stages]]\nkind = \"reverb\"\np = 0.5\n\
         [[stages]]\nkind = \"gain\"\ngain_db = [-3, 3]\n",
    )
    .unwrap();
    (input, chain)
}

#[test]
fn a_folder_goes_through_the_chain_with_a_line_and_a_report_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let (input, chain) = setup(dir.path());
    let out_a = dir.path().join("out a");
    let report = dir.path().join("report.jsonl");
    let run = |out: &Path, report: Option<&Path>| {
        let mut args = vec![
            "augment",
            "--chain",
            s(&chain),
            "--seed",
            "7",
            "--threads",
            "2",
            s(&input),
            s(out),
        ];
        if let Some(r) = report {
            args.extend(["--report", s(r)]);
        }
        dpda(&args)
    };
    let o = run(&out_a, Some(&report));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].contains("clip one.wav")
            && lines[0].contains("noise(")
            && lines[0].contains("fan hum.wav")
    );
    assert!(lines[1].contains("clip two.flac") && lines[1].contains("gain(gain_db="));
    assert!(lines[2].starts_with("augmented 2 of 2 files"), "{stdout}");

    for (name, rate, len) in [
        ("clip one.wav", 16_000, 16_000),
        ("clip two.wav", 44_100, 30_000),
    ] {
        let (got_rate, samples) = read_wav(&out_a.join(name));
        assert_eq!(got_rate, rate);
        assert_eq!(samples.len(), len);
        assert!(samples.iter().all(|v| v.is_finite()));
        assert_ne!(samples, speechlike(len, rate));
    }
    let text = std::fs::read_to_string(&report).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    let noise = &records[0]["stages"][0];
    assert_eq!(noise["kind"], "noise");
    assert_eq!(noise["applied"], true);
    let drawn = noise["params"]["snr_db"].as_f64().unwrap();
    let realised = noise["params"]["realised_snr_db"].as_f64().unwrap();
    assert!((10.0..=15.0).contains(&drawn) && (realised - drawn).abs() < 0.01);

    // Same seed, same bytes, whatever the thread count.
    let out_b = dir.path().join("out b");
    let o = dpda(&[
        "augment",
        "--chain",
        s(&chain),
        "--seed",
        "7",
        "--threads",
        "1",
        s(&input),
        s(&out_b),
    ]);
    assert!(o.status.success());
    for name in ["clip one.wav", "clip two.wav"] {
        assert_eq!(
            std::fs::read(out_a.join(name)).unwrap(),
            std::fs::read(out_b.join(name)).unwrap()
        );
    }
}

#[test]
fn the_readme_example_and_every_chain_of_experiments_run() {
    let chains = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/chains");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&chains).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let spec = ChainSpec::load(&path).unwrap();
            match spec.validate() {
                Ok(()) => {}
                // A build without the codec libraries names the feature the chain needs.
                Err(e) if !dpda::augment::codecs::available() => {
                    assert!(e.to_string().contains("`codecs` feature"), "{e}")
                }
                Err(e) => panic!("{}: {e}", path.display()),
            }
            assert!(!spec.stages.is_empty(), "{}", path.display());
            names.push(path.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    names.sort();
    for want in [
        "codec.toml",
        "lossy-codecs.toml",
        "noise.toml",
        "rawboost-noise.toml",
        "readme-example.toml",
        "reverb.toml",
        "telephone.toml",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    // The README's example is that file, word for word.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let example = std::fs::read_to_string(chains.join("readme-example.toml")).unwrap();
    let body: String = example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        readme.contains(body.trim()),
        "README's chain example differs"
    );

    let dir = tempfile::tempdir().unwrap();
    let (input, _) = setup(dir.path());
    for name in [
        "readme-example.toml",
        "telephone.toml",
        "rawboost-noise.toml",
    ] {
        let out = dir.path().join(format!("{name}.wav"));
        let o = dpda(&[
            "augment",
            "--chain",
            s(&chains.join(name)),
            s(&input.join("clip one.wav")),
            s(&out),
        ]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let stdout = String::from_utf8(o.stdout).unwrap();
        assert!(stdout.contains("clip one.wav →"), "{stdout}");
        let (_, samples) = read_wav(&out);
        assert_eq!(samples.len(), 16_000);
        assert!(samples.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn bad_chains_missing_folders_and_flag_mixups_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = setup(dir.path());
    let clip = input.join("clip one.wav");
    let out = dir.path().join("out.wav");
    let run_chain = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = dpda(&["augment", "--chain", s(&path), s(&clip), s(&out)]);
        assert!(!o.status.success());
        String::from_utf8(o.stderr).unwrap()
    };
    let err = run_chain(
        "bad range.toml",
        "[[stages]]\nkind = \"gain\"\n[[stages]]\nkind = \"noise\"\nsnr_db = [30, 10]\n",
    );
    assert!(err.contains("bad range.toml"), "{err}");
    assert!(
        err.contains("stages[1] (noise).snr_db: low 30 > high 10"),
        "{err}"
    );

    let err = run_chain(
        "typo.toml",
        "[[stages]]\nkind = \"gain\"\n[[stages]]\nkind = \"noise\"\nsnr = [1, 2]\n",
    );
    assert!(err.contains("typo.toml"), "{err}");
    assert!(
        err.contains("stages[1] (noise): unknown field `snr`"),
        "{err}"
    );

    let err = run_chain(
        "no noise.toml",
        "[[stages]]\nkind = \"noise\"\nsource = \"folder\"\nfolder = \"nowhere\"\n",
    );
    assert!(err.contains("no noise.toml"), "{err}");
    assert!(err.contains("stages[0] (noise).folder"), "{err}");
    assert!(
        err.contains("nowhere") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!out.exists());

    let chain = dir.path().join("chain.toml");
    for args in [
        vec![
            "augment",
            "--algo",
            "3",
            "--chain",
            s(&chain),
            s(&clip),
            s(&out),
        ],
        vec!["augment", s(&clip), s(&out)],
        vec![
            "augment",
            "--chain",
            s(&chain),
            "--snr-min",
            "3",
            s(&clip),
            s(&out),
        ],
    ] {
        let o = dpda(&args);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert!(err.contains("--algo") || err.contains("--chain"), "{err}");
    }
    // The output may not be the input.
    let o = dpda(&["augment", "--chain", s(&chain), s(&clip), s(&clip)]);
    assert!(!o.status.success());
}

/// `dpda augment --chain … | head -1`: the reader goes away after one line.
#[test]
fn piping_into_head_ends_quietly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let (input, chain) = setup(dir.path());
    for i in 0..40 {
        dpda::audio::write_wav(
            &input.join(format!(
                "extra {i:02} with a long name to fill the pipe faster.wav"
            )),
            &speechlike(400, 16_000),
            16_000,
            dpda::audio::WavFormat::Float32,
        )
        .unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_dpda"))
        .args([
            "augment",
            "--chain",
            s(&chain),
            s(&input),
            s(&dir.path().join("out")),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains(" → "), "{first}");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The real codecs through the CLI: a folder (16 kHz WAV, 44.1 kHz FLAC) through MP3, Vorbis and
/// Opus at fixed bit rates, lengths and rates kept, the report naming the bit rate used; and the
/// example chain of experiments/ on the folder.
#[cfg(feature = "codecs")]
#[test]
fn mp3_vorbis_and_opus_stages_run_on_a_folder_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = setup(dir.path());
    for (codec, kbps, rate_16k) in [("mp3", 32, 32.0), ("vorbis", 24, 24.0), ("opus", 12, 12.0)] {
        let chain = dir.path().join(format!("{codec} chain.toml"));
        std::fs::write(
            &chain,
            format!(
                "[[stages]]\nkind = \"codec\"\ncodec = \"{codec}\"\nbitrate_kbps = [{kbps}, {kbps}]\n"
            ),
        )
        .unwrap();
        let out = dir.path().join(format!("out {codec}"));
        let report = dir.path().join(format!("{codec}.jsonl"));
        let o = dpda(&[
            "augment",
            "--chain",
            s(&chain),
            "--report",
            s(&report),
            s(&input),
            s(&out),
        ]);
        assert!(
            o.status.success(),
            "{codec}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let stdout = String::from_utf8(o.stdout).unwrap();
        assert!(
            stdout.contains(&format!("codec(bitrate_kbps={kbps}")),
            "{stdout}"
        );
        for (name, rate, len) in [
            ("clip one.wav", 16_000, 16_000),
            ("clip two.wav", 44_100, 30_000),
        ] {
            let (got_rate, samples) = read_wav(&out.join(name));
            assert_eq!((got_rate, samples.len()), (rate, len), "{codec} {name}");
            let x = speechlike(len, rate);
            assert_ne!(samples, x);
            // Still the same signal, aligned: a high correlation with the input.
            let dot: f64 = x
                .iter()
                .zip(&samples)
                .map(|(&a, &b)| f64::from(a * b))
                .sum();
            let norm = |v: &[f32]| v.iter().map(|&a| f64::from(a * a)).sum::<f64>().sqrt();
            let corr = dot / (norm(&x) * norm(&samples));
            assert!(corr > 0.8, "{codec} {name}: correlation {corr}");
        }
        let text = std::fs::read_to_string(&report).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let params = &first["stages"][0]["params"];
        assert_eq!(params["codec"], codec);
        assert_eq!(params["bitrate_kbps"].as_f64(), Some(rate_16k));
        assert_eq!(params["codec_rate_hz"].as_u64(), Some(16_000));
    }
    let chains = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/chains");
    let out = dir.path().join("out example");
    let o = dpda(&[
        "augment",
        "--chain",
        s(&chains.join("lossy-codecs.toml")),
        "--seed",
        "3",
        s(&input),
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_wav(&out.join("clip two.wav")).1.len(), 30_000);
}
