//! The real-data path through the binary: released AASIST/AASIST-L weights scored by `dpda score`
//! equal the authors' PyTorch pipeline on audio files; FoR-style folders (`fake/x`, `real/x`)
//! score and evaluate against a FoR key; names with spaces survive `score` → `eval`; windows cover
//! the clip's end; `dpda test` evaluates a run's `[[test]]` sets; closed pipes end quietly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Stdio;

mod common;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pretrained(name: &str) -> Option<PathBuf> {
    let path = manifest().join("../shared/data/pretrained").join(name);
    if path.is_file() {
        Some(path)
    } else {
        println!("skipping: {} is absent", path.display());
        None
    }
}

fn write_tone(path: &Path, freq_hz: f32, num_samples: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let samples: Vec<f32> = (0..num_samples)
        .map(|i| 0.3 * (std::f32::consts::TAU * freq_hz * i as f32 / 16_000.0).sin())
        .collect();
    dpda::audio::write_wav(path, &samples, 16_000, dpda::audio::WavFormat::Float32).unwrap();
}

/// `<field> <score>` lines of `dpda score` as (name, score).
fn parse_scores(stdout: &str) -> Vec<(String, f64)> {
    stdout
        .lines()
        .map(|l| {
            let (name, score) = l.rsplit_once(' ').unwrap();
            (name.to_string(), score.parse().unwrap())
        })
        .collect()
}

fn train_tiny(dir: &Path) -> PathBuf {
    let config = dir.join("tiny.toml");
    std::fs::write(&config, TINY_DEMO_CONFIG).unwrap();
    let run_dir = dir.join("run");
    let out = dpda()
        .args([
            "train",
            config.to_str().unwrap(),
            "--quiet",
            "--max-steps",
            "2",
        ])
        .args(["--run-dir", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    success_stdout(out);
    run_dir
}

#[test]
fn released_weights_score_as_the_authors_pipeline_through_the_cli() {
    let fixtures = manifest().join("tests/fixtures/released");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("scores.json")).unwrap())
            .unwrap();
    for (file, key) in [("AASIST.pth", "aasist"), ("AASIST-L.pth", "aasist_l")] {
        let Some(weights) = pretrained(file) else {
            return;
        };
        // The whole fixture folder, no --model: the model is recognised, the length is its own.
        let out = dpda()
            .args(["score", "--checkpoint", weights.to_str().unwrap()])
            .arg(&fixtures)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let scores = parse_scores(&success_stdout(out));
        assert!(stderr.contains("input 64600 samples"), "{stderr}");
        assert_eq!(scores.len(), 4, "{scores:?}");
        for (field, score) in &scores {
            let name = dpda::data::protocol::decode_trial_field(field);
            let clip = reference["clips"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .find(|c| dpda::data::protocol::trial_name(c) == name)
                .unwrap_or_else(|| panic!("unexpected trial {name}"));
            let want = reference[key][clip].as_f64().unwrap();
            let wrong = reference[format!("{key}_66800")][clip].as_f64().unwrap();
            assert!(
                (score - want).abs() <= 1e-3,
                "{file} {clip}: dpda {score}, PyTorch {want}"
            );
            // The 66,800-sample crop gives measurably different scores.
            assert!((wrong - want).abs() > 1e-2, "{clip}");
        }
    }
}

#[test]
fn for_style_folders_score_and_evaluate_against_a_for_key() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny(dir.path());
    let testing = dir.path().join("for-norm/testing");
    // FoR has the same file name under real/ and fake/.
    let mut key = String::from("file,label\n");
    for (i, (class, label)) in [("real", "bona-fide"), ("fake", "spoof")]
        .iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let stem = format!("file{}.wav_16k.wav_norm.wav_mono.wav_silence", i / 2);
        write_tone(
            &testing.join(class).join(format!("{stem}.wav")),
            200.0 + 150.0 * i as f32,
            4000 + 500 * i,
        );
        key.push_str(&format!("{class}/{stem},{label}\n"));
    }
    let key_path = dir.path().join("meta.csv");
    std::fs::write(&key_path, key).unwrap();
    let scores = dir.path().join("scores.txt");
    let out = dpda()
        .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
        .arg(&testing)
        .args(["--out", scores.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = success_stdout(out);
    let names: Vec<String> = parse_scores(&stdout).into_iter().map(|s| s.0).collect();
    assert!(names.contains(&"fake/file0.wav_16k.wav_norm.wav_mono.wav_silence".to_string()));
    assert!(names.contains(&"real/file0.wav_16k.wav_norm.wav_mono.wav_silence".to_string()));
    let out = dpda()
        .args(["eval", "--json", "--scores", scores.to_str().unwrap()])
        .args(["--key", key_path.to_str().unwrap()])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&success_stdout(out)).unwrap();
    assert_eq!(report["n_trials"], 6);
    assert_eq!(report["n_bonafide"], 3);
    assert_eq!(report["n_missing"], 0);

    // Bare stems cannot tell fake/x from real/x: eval refuses instead of guessing.
    let bare = dir.path().join("bare.txt");
    std::fs::write(&bare, "file0.wav_16k.wav_norm.wav_mono.wav_silence 0.5\n").unwrap();
    let out = dpda()
        .args(["eval", "--intersection", "--scores", bare.to_str().unwrap()])
        .args(["--key", key_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fake/file0") && stderr.contains("real/file0"),
        "{stderr}"
    );

    // Two inputs with the same trial name are refused before scoring, naming both files.
    let out = dpda()
        .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
        .arg(testing.join("fake/file0.wav_16k.wav_norm.wav_mono.wav_silence.wav"))
        .arg(testing.join("real/file0.wav_16k.wav_norm.wav_mono.wav_silence.wav"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fake/file0") && stderr.contains("real/file0"),
        "{stderr}"
    );
}

#[test]
fn names_with_spaces_round_trip_and_windows_reach_the_clip_end() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny(dir.path());
    let audio = dir.path().join("my clips");
    // 7.9 s clip, 4.04 s windows: two windows, the second ending at the clip's end.
    write_tone(&audio.join("long take.wav"), 300.0, 126_400);
    write_tone(&audio.join("short.wav"), 500.0, 6000);
    let scores = dir.path().join("scores.txt");
    let out = dpda()
        .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
        .args(["--window-s", "4.04", "--per-window"])
        .arg(&audio)
        .args(["--out", scores.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = success_stdout(out);
    let windows: Vec<&str> = stdout.lines().filter(|l| l.contains('@')).collect();
    assert_eq!(windows.len(), 3, "{stdout}");
    assert!(windows[0].starts_with("long%20take@0.000 "), "{stdout}");
    // 126,400 − 64,640 = 61,760 samples = 3.86 s.
    assert!(windows[1].starts_with("long%20take@3.860 "), "{stdout}");
    let key = dir.path().join("key.csv");
    std::fs::write(
        &key,
        "file,label\nlong take.wav,bona-fide\nshort.wav,spoof\n",
    )
    .unwrap();
    let out = dpda()
        .args(["eval", "--json", "--scores", scores.to_str().unwrap()])
        .args(["--key", key.to_str().unwrap(), "--format", "csv"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&success_stdout(out)).unwrap();
    assert_eq!(report["n_trials"], 2);

    // Window settings out of range name their flag and allocate nothing.
    for (flags, name) in [
        (["--window-s", "1e300"], "--window-s"),
        (["--window-s", "1e5"], "--window-s"),
    ] {
        let out = dpda()
            .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
            .args(flags)
            .arg(&audio)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(name));
    }
    let out = dpda()
        .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
        .args(["--window-s", "1", "--hop-s", "1e-9"])
        .arg(&audio)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hop-s"));
}

#[test]
fn a_closed_stdout_ends_quietly_and_the_out_file_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny(dir.path());
    let audio = dir.path().join("audio");
    for i in 0..40 {
        write_tone(
            &audio.join(format!("c{i:02}.wav")),
            100.0 + 10.0 * i as f32,
            2000,
        );
    }
    let scores = dir.path().join("s.txt");
    let mut child = dpda()
        .args(["score", "--checkpoint", run_dir.to_str().unwrap()])
        .arg(&audio)
        .args(["--out", scores.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe (as `| head -1` does).
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with("c00 "), "{first}");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&scores).unwrap().lines().count(),
        40
    );
}

#[test]
fn test_sets_of_a_run_are_evaluated_by_dpda_test() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny(dir.path());
    // An In-the-Wild-style set: meta.csv beside the WAVs.
    let itw = dir.path().join("itw");
    let mut meta = String::from("file,speaker,label\n");
    for i in 0..6 {
        write_tone(
            &itw.join(format!("{i}.wav")),
            150.0 + 90.0 * i as f32,
            3000 + 700 * i,
        );
        let label = if i % 2 == 0 { "bona-fide" } else { "spoof" };
        meta.push_str(&format!("{i}.wav,Speaker {i},{label}\n"));
    }
    std::fs::write(itw.join("meta.csv"), meta).unwrap();
    let config = dir.path().join("tests.toml");
    std::fs::write(
        &config,
        format!(
            "{TINY_DEMO_CONFIG}\n[[test]]\nname = \"itw\"\nkind = \"itw\"\nroot = \"{}\"\n",
            itw.display()
        ),
    )
    .unwrap();
    let out = dpda()
        .args([
            "test",
            run_dir.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = success_stdout(out);
    assert!(stdout.contains("itw") && stdout.contains("EER"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("tests.json")).unwrap())
            .unwrap();
    assert_eq!(summary["sets"][0]["report"]["n_trials"], 6);
    let scores = std::fs::read_to_string(run_dir.join("scores-itw.txt")).unwrap();
    assert_eq!(scores.lines().count(), 6);
    // The EER in tests.json is the one `dpda eval` computes from the same files.
    let out = dpda()
        .args(["eval", "--json", "--scores"])
        .arg(run_dir.join("scores-itw.txt"))
        .arg("--key")
        .arg(itw.join("meta.csv"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&success_stdout(out)).unwrap();
    assert_eq!(report["eer"], summary["sets"][0]["report"]["eer"]);

    // dpda_ga keeps its ITW key apart from the audio (database/ood_ds_keys/ITW/meta.csv).
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(itw.join("meta.csv"), keys.join("meta.csv")).unwrap();
    let apart = dir.path().join("apart.toml");
    std::fs::write(
        &apart,
        format!(
            "{TINY_DEMO_CONFIG}\n[[test]]\nname = \"itw\"\nkind = \"itw\"\nroot = \"{}\"\nkey = \"{}\"\n",
            itw.display(),
            keys.join("meta.csv").display()
        ),
    )
    .unwrap();
    let out = dpda()
        .args([
            "test",
            run_dir.to_str().unwrap(),
            "--config",
            apart.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    success_stdout(out);
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("tests.json")).unwrap())
            .unwrap();
    assert_eq!(
        again["sets"][0]["report"]["eer"],
        summary["sets"][0]["report"]["eer"]
    );

    // While another process holds the run folder, dpda test refuses to write into it.
    let lock = dpda::inference::RunLayout::new(&run_dir).lock().unwrap();
    let out = dpda()
        .args([
            "test",
            run_dir.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
    drop(lock);

    // A run whose config names a missing test set fails before training.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "{TINY_DEMO_CONFIG}\n[[test]]\nname = \"x\"\nkind = \"itw\"\nroot = \"/no/such/itw\"\n"
        ),
    )
    .unwrap();
    let out = dpda()
        .args(["train", bad.to_str().unwrap(), "--quiet", "--run-dir"])
        .arg(dir.path().join("bad-run"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/no/such/itw"), "{stderr}");
    assert!(!dir.path().join("bad-run/metrics.jsonl").exists());
}

/// Scoring keeps no autograd graph: inside `no_grad` no model's output tracks an op (one missed
/// parameter would make every later tensor keep its inputs alive), while outside it does.
#[test]
fn no_model_records_a_graph_when_scoring() {
    use candle_core::{Device, Tensor};
    use dpda::nn::Mode;
    use dpda::rng::Rng;
    for kind in dpda::nn::registry::ModelKind::small() {
        let name = kind.name();
        let model = dpda::nn::registry::build_model(
            kind,
            &Default::default(),
            0,
            &Device::Cpu,
            candle_core::DType::F32,
        )
        .unwrap();
        let n = model.min_num_samples().max(16_000);
        let x = Tensor::zeros((2, n), candle_core::DType::F32, &Device::Cpu).unwrap();
        let tracked = model.forward(&x, Mode::Eval, &mut Rng::new(0)).unwrap();
        assert!(
            tracked.track_op(),
            "{name}: the training path must record the graph"
        );
        let free = dpda::nn::no_grad(|| model.forward(&x, Mode::Eval, &mut Rng::new(0)).unwrap());
        assert!(!free.track_op(), "{name} records a graph inside no_grad");
        // Under no_grad, evaluation BatchNorm+SELU runs as one pass with a polynomial exp
        // (relative error about 1e-7), so the logits agree to float rounding, not bit for bit.
        let a = tracked.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = free.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a.len(), b.len());
        for (i, (p, q)) in a.iter().zip(&b).enumerate() {
            assert!(
                (p - q).abs() <= 1e-5 * (1.0 + p.abs()),
                "{name}: logit {i} is {p} with the graph and {q} without"
            );
        }
    }
}

/// A dpda_ga `best.pth` (XLS-R + SSL-AASIST, tiny fixture from `scripts/xlsr_reference.py`) is
/// recognised and scored through the CLI as the reference model scores the same input.
#[test]
fn dpda_ga_checkpoints_are_recognised_and_scored_through_the_cli() {
    let xlsr = manifest().join("tests/fixtures/xlsr");
    let all = candle_core::safetensors::load(
        xlsr.join("ssl_aasist_tiny.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let input: Vec<Vec<f32>> = all["input"]
        .to_dtype(candle_core::DType::F32)
        .unwrap()
        .to_vec2()
        .unwrap();
    let logits: Vec<Vec<f64>> = all["logits"]
        .to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_vec2()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, row) in input.iter().enumerate() {
        dpda::audio::write_wav(
            &dir.path().join(format!("x{i}.wav")),
            row,
            16_000,
            dpda::audio::WavFormat::Float32,
        )
        .unwrap();
    }
    let out = dpda()
        .args(["score", "--checkpoint"])
        .arg(xlsr.join("ssl_aasist_tiny_best.pth"))
        .args(["--num-samples", &input[0].len().to_string()])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let scores = parse_scores(&success_stdout(out));
    assert!(
        stderr.contains("model xlsr-tiny-aasist (recognised"),
        "{stderr}"
    );
    assert_eq!(scores.len(), input.len());
    for (name, score) in scores {
        let i: usize = name[1..].parse().unwrap();
        let want = logits[i][1];
        assert!(
            (score - want).abs() <= 1e-4 * want.abs().max(1.0),
            "{name}: dpda {score}, reference {want}"
        );
    }
}

/// An ASVspoof 2021 LA set in the official layout: every trial of the key is scored, the `eval`
/// subset is evaluated (as the official package does) unless the entry says otherwise.
#[test]
fn la2021_test_sets_score_every_trial_and_evaluate_the_eval_subset() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train_tiny(dir.path());
    let root = dir.path().join("LA2021");
    let flac = root.join("ASVspoof2021_LA_eval/flac");
    std::fs::create_dir_all(&flac).unwrap();
    let mut key = String::new();
    for i in 0..12 {
        let trial = format!("LA_E_{}", 1000 + i);
        let samples: Vec<f32> = (0..3000 + 400 * i)
            .map(|n| 0.2 * (n as f32 * (0.01 + 0.003 * i as f32)).sin())
            .collect();
        dpda::audio::flac_write::write_flac(&flac.join(format!("{trial}.flac")), &samples, 16_000)
            .unwrap();
        let label = if i % 2 == 0 { "bonafide" } else { "spoof" };
        let attack = if i % 2 == 0 { "-" } else { "A07" };
        let subset = if i < 8 { "eval" } else { "progress" };
        key.push_str(&format!(
            "LA_0001 {trial} alaw ita_tx {attack} {label} notrim {subset}\n"
        ));
    }
    let key_path = root.join("trial_metadata.txt");
    std::fs::write(&key_path, key).unwrap();
    let config = dir.path().join("tests.toml");
    std::fs::write(
        &config,
        format!(
            "{TINY_DEMO_CONFIG}\n[[test]]\nname = \"la21\"\nkind = \"la2021\"\nroot = \"{}\"\nkey = \"{}\"\n",
            root.display(),
            key_path.display()
        ),
    )
    .unwrap();
    let out = dpda()
        .args([
            "test",
            run_dir.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    success_stdout(out);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("tests.json")).unwrap())
            .unwrap();
    let set = &summary["sets"][0];
    assert_eq!(set["num_scored"], 12, "every trial is scored");
    assert_eq!(set["subset"], "eval");
    assert_eq!(set["report"]["n_trials"], 8, "the eval subset is evaluated");
    // The same numbers as `dpda eval --subset eval` on the written score file.
    let out = dpda()
        .args(["eval", "--json", "--subset", "eval", "--scores"])
        .arg(run_dir.join("scores-la21.txt"))
        .arg("--key")
        .arg(&key_path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&success_stdout(out)).unwrap();
    assert_eq!(report["eer"], set["report"]["eer"]);
    assert_eq!(report["min_dcf"], set["report"]["min_dcf"]);
}
