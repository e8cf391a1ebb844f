//! K-path training through `dpda train`: `train.paths` lists the clean path and the augmentation
//! pipelines; every step takes one gradient per path, logs the pairwise cosines keyed `"a|b"` with
//! a conflict flag per pair, and combines the gradients with the chosen aligner. Two paths listed
//! explicitly are today's dual-path run exactly; K-path runs resume exactly; bad path lists and
//! unusable noise folders are refused before anything is written.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{success_stdout, TINY_DEMO_CONFIG};
use dpda::train::AlignMethod;

/// Three paths: clean, the `[data]` RawBoost, and white noise at 5–15 dB SNR.
const THREE_PATHS: &str = r#"
[[train.paths]]
name = "clean"
[[train.paths]]
name = "rawboost"
[[train.paths]]
name = "noise"
stages = [{ kind = "noise", source = "white", snr_db = [5.0, 15.0] }]
"#;

fn write_config(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{TINY_DEMO_CONFIG}{extra}")).unwrap();
    path
}

fn train(config: &Path, run_dir: &Path, extra: &[&str]) -> Output {
    common::train_cli(config, run_dir, extra)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `metrics.jsonl` without the wall-clock field.
fn metrics_without_time(run_dir: &Path) -> Vec<serde_json::Value> {
    jsonl(&run_dir.join("metrics.jsonl"))
        .into_iter()
        .map(|mut m| {
            m.as_object_mut().unwrap().remove("step_time_ms");
            m
        })
        .collect()
}

fn weights(run_dir: &Path, stem: &str) -> Vec<u8> {
    std::fs::read(run_dir.join(format!("checkpoints/{stem}.safetensors"))).unwrap()
}

#[test]
fn two_paths_listed_explicitly_are_the_default_dual_run_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let default = write_config(dir.path(), "default.toml", "");
    let explicit = write_config(
        dir.path(),
        "explicit.toml",
        "[[train.paths]]\nname = \"clean\"\n[[train.paths]]\nname = \"rawboost\"\n",
    );
    for align in ["pcgrad", "gradvac", "cagrad"] {
        let set = format!("train.align={align}");
        let (a, b) = (
            dir.path().join(format!("a-{align}")),
            dir.path().join(format!("b-{align}")),
        );
        success_stdout(train(&default, &a, &["--set", &set]));
        success_stdout(train(&explicit, &b, &["--set", &set]));
        assert_eq!(weights(&a, "final"), weights(&b, "final"), "{align}");
        let (ma, mb) = (metrics_without_time(&a), metrics_without_time(&b));
        assert_eq!(ma, mb, "{align}");
        // Two paths log their one pair under the paths' names.
        let first = &ma[0];
        let cos = first["pair_cos"]["clean|rawboost"].as_f64().unwrap();
        assert_eq!(cos, first["grad_cos"].as_f64().unwrap());
        assert_eq!(first["pair_conflict"]["clean|rawboost"], cos < 0.0);
        assert_eq!(
            first["path_loss"]["clean"].as_f64(),
            first["loss_orig"].as_f64()
        );
    }
}

#[test]
fn three_paths_log_every_pair_with_every_aligner() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "three.toml", THREE_PATHS);
    let pairs = ["clean|rawboost", "clean|noise", "rawboost|noise"];
    for align in AlignMethod::NAMES {
        let run = dir.path().join(align);
        success_stdout(train(
            &config,
            &run,
            &["--set", &format!("train.align={align}")],
        ));
        let metrics = jsonl(&run.join("metrics.jsonl"));
        assert!(!metrics.is_empty(), "{align}");
        for m in &metrics {
            let cos = m["pair_cos"].as_object().unwrap();
            assert_eq!(cos.len(), 3, "{align}: {m}");
            for pair in pairs {
                let c = cos[pair].as_f64().unwrap();
                assert!((-1.0..=1.0).contains(&c), "{align} {pair}: {c}");
                assert_eq!(m["pair_conflict"][pair], c < 0.0, "{align} {pair}");
            }
            // The headline cosine is the worst clean–augmented pair.
            let worst = cos["clean|rawboost"]
                .as_f64()
                .unwrap()
                .min(cos["clean|noise"].as_f64().unwrap());
            assert_eq!(m["grad_cos"].as_f64().unwrap(), worst, "{align}");
            assert_eq!(m["conflict"], worst < 0.0);
            let losses = m["path_loss"].as_object().unwrap();
            assert_eq!(losses.len(), 3);
            let aug_mean =
                (losses["rawboost"].as_f64().unwrap() + losses["noise"].as_f64().unwrap()) / 2.0;
            assert!((m["loss_aug"].as_f64().unwrap() - aug_mean).abs() < 1e-12);
            assert_eq!(m["path_grad_norm"].as_object().unwrap().len(), 3);
        }
        let epochs = jsonl(&run.join("epochs.jsonl"));
        for e in &epochs {
            let fracs = e["pair_conflict_frac"].as_object().unwrap();
            assert_eq!(fracs.len(), 3, "{align}");
            let epoch = e["epoch"].as_u64().unwrap();
            let steps: Vec<&serde_json::Value> =
                metrics.iter().filter(|m| m["epoch"] == epoch).collect();
            for pair in pairs {
                let conflicts = steps
                    .iter()
                    .filter(|m| m["pair_conflict"][pair] == true)
                    .count();
                let want = conflicts as f64 / steps.len() as f64;
                assert_eq!(fracs[pair].as_f64().unwrap(), want, "{align} {pair}");
            }
        }
        // The three paths' figures differ: the noise path is not a copy of another one.
        let first = &metrics[0]["path_loss"];
        assert_ne!(first["noise"], first["clean"], "{align}");
        assert_ne!(first["noise"], first["rawboost"], "{align}");
    }
}

#[test]
fn k_path_runs_resume_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "three.toml", THREE_PATHS);
    for align in ["famo", "gradvac", "pcgrad", "nash-mtl"] {
        let set = format!("train.align={align}");
        let whole = dir.path().join(format!("whole-{align}"));
        success_stdout(train(&config, &whole, &["--set", &set]));
        let parts = dir.path().join(format!("parts-{align}"));
        success_stdout(train(&config, &parts, &["--set", &set, "--max-steps", "3"]));
        success_stdout(train(&config, &parts, &["--set", &set, "--resume"]));
        assert_eq!(
            weights(&whole, "final"),
            weights(&parts, "final"),
            "{align}: an interrupted and resumed run ends where the whole one does"
        );
        assert_eq!(
            metrics_without_time(&whole),
            metrics_without_time(&parts),
            "{align}"
        );
    }
}

#[test]
fn bad_path_lists_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[train.paths]]\nname = \"clean\"\n",
            "train.paths: 1 paths listed",
        ),
        (
            "[[train.paths]]\nname = \"clean\"\n[[train.paths]]\nname = \"clean\"\n",
            "train.paths[1].name: 'clean' is also the name of train.paths[0]",
        ),
        (
            "[[train.paths]]\nname = \"a|b\"\n[[train.paths]]\nname = \"x\"\n",
            "train.paths[0].name: 'a|b' is not a path name",
        ),
        (
            "[[train.paths]]\nname = \"clean\"\nstages = [{ kind = \"gain\", gain_db = [0.0, 1.0] }]\n\
             [[train.paths]]\nname = \"x\"\n",
            "train.paths[0]: the first path ('clean') is the clean one",
        ),
        (
            "[[train.paths]]\nname = \"clean\"\n[[train.paths]]\nname = \"n\"\n\
             stages = [{ kind = \"noise\", source = \"white\", snr_db = [30.0, 10.0] }]\n",
            "train.paths[1].stages",
        ),
        (
            "[[train.paths]]\nname = \"clean\"\n[[train.paths]]\nname = \"n\"\n\
             chain = \"no-such-chain.toml\"\n",
            "train.paths[1].chain: cannot read no-such-chain.toml",
        ),
    ];
    for (i, (extra, want)) in cases.iter().enumerate() {
        let config = write_config(dir.path(), &format!("bad{i}.toml"), extra);
        let run = dir.path().join(format!("run{i}"));
        let out = train(&config, &run, &[]);
        assert!(!out.status.success(), "case {i}");
        assert!(stderr(&out).contains(want), "case {i}: {}", stderr(&out));
        assert!(!run.exists(), "case {i}: nothing written");
    }
    // Paths need dual mode.
    let config = write_config(dir.path(), "plain.toml", THREE_PATHS);
    let out = train(
        &config,
        &dir.path().join("plain"),
        &["--set", "train.mode=plain", "--set", "train.align=none"],
    );
    assert!(
        stderr(&out).contains("train.paths: paths need train.mode = \"dual\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_noise_folder_fails_before_the_run_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "folder.toml",
        "[[train.paths]]\nname = \"clean\"\n[[train.paths]]\nname = \"street\"\n\
         stages = [{ kind = \"noise\", source = \"folder\", folder = \"no/such/noises\", snr_db = [5.0, 10.0] }]\n",
    );
    let run = dir.path().join("run");
    let out = train(&config, &run, &[]);
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("street") && text.contains("no/such/noises"),
        "{text}"
    );
    assert!(!run.exists());
}

#[test]
fn a_chain_file_makes_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("gain chain.toml");
    std::fs::write(
        &chain,
        "[[stages]]\nkind = \"gain\"\ngain_db = [-12.0, -6.0]\n",
    )
    .unwrap();
    let config = write_config(
        dir.path(),
        "chain.toml",
        &format!(
            "[[train.paths]]\nname = \"clean\"\n[[train.paths]]\nname = \"quiet\"\nchain = {:?}\n",
            chain.to_str().unwrap()
        ),
    );
    let run = dir.path().join("run");
    success_stdout(train(&config, &run, &["--max-steps", "2"]));
    let metrics = jsonl(&run.join("metrics.jsonl"));
    assert_eq!(metrics.len(), 2);
    assert!(metrics[0]["pair_cos"]["clean|quiet"].as_f64().is_some());
}

#[test]
fn the_k_path_studies_plan_every_run_and_cover_every_aligner() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/studies");
    for (file, conditions) in [("k-paths.toml", 9), ("k-paths-aligners.toml", 12)] {
        // Loading a study plans every condition × seed, so a bad path list fails here.
        let plan =
            dpda::study::load_study(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(plan.conditions.len(), conditions, "{file}");
        assert!(plan.seeds.len() >= 3, "{file}");
    }
    let text = std::fs::read_to_string(dir.join("k-paths-aligners.toml")).unwrap();
    for name in AlignMethod::NAMES {
        assert!(
            text.contains(&format!("\"train.align\" = \"{name}\"")),
            "{name} is compared"
        );
    }
}

/// Real codecs as training paths: MP3 and Opus paths beside the clean one train, log every pair,
/// and give the same metrics on a rerun with the same seed (the codecs are deterministic).
#[cfg(feature = "codecs")]
#[test]
fn mp3_and_opus_paths_train_and_repeat_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "codecs.toml",
        r#"
[[train.paths]]
name = "clean"
[[train.paths]]
name = "mp3"
stages = [{ kind = "codec", codec = "mp3", bitrate_kbps = [16.0, 32.0] }]
[[train.paths]]
name = "opus"
stages = [{ kind = "codec", codec = "opus" }]
"#,
    );
    let runs: Vec<Vec<serde_json::Value>> = ["run a", "run b"]
        .iter()
        .map(|name| {
            let run = dir.path().join(name);
            success_stdout(train(&config, &run, &["--max-steps", "2"]));
            metrics_without_time(&run)
        })
        .collect();
    assert_eq!(runs[0].len(), 2);
    for pair in ["clean|mp3", "clean|opus", "mp3|opus"] {
        assert!(runs[0][1]["pair_cos"][pair].as_f64().is_some(), "{pair}");
    }
    assert_eq!(runs[0], runs[1]);
}
