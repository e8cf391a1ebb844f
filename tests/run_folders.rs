//! Run folders lose nothing: one run at a time (a lock naming its holder), explicit choices for a
//! folder that holds a run, nothing changed before the configuration and checkpoint are known to
//! fit, checkpoints a crash cannot split, periodic checkpoints that make a crash cost at most a
//! few steps, Ctrl-C that stops after the step and saves, and config errors with the file's own
//! line numbers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

mod common;

use common::{dpda, success_stdout, TINY_DEMO_CONFIG};
use dpda::inference::RunLayout;
use dpda::train::{
    plan_from_str, spawn, spawn_with_faults, FaultHooks, SpawnOptions, StopReason, TrainEvent,
};

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, TINY_DEMO_CONFIG).unwrap();
    path
}

fn train(config: &Path, run_dir: &Path, extra: &[&str]) -> Output {
    common::train_cli(config, run_dir, extra)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_locked_run_folder_is_refused_naming_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run_dir = dir.path().join("run");
    let lock = RunLayout::new(&run_dir).lock().unwrap();
    let out = train(&cfg, &run_dir, &["--max-steps", "1"]);
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("in use") && text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(!run_dir.join("config.toml").exists(), "nothing written");
    drop(lock);
    success_stdout(train(&cfg, &run_dir, &["--max-steps", "1"]));
}

#[test]
fn a_folder_holding_a_run_needs_resume_or_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run_dir = dir.path().join("run");
    success_stdout(train(&cfg, &run_dir, &[]));
    let final_before = std::fs::read(run_dir.join("checkpoints/final.safetensors")).unwrap();
    let metrics_before = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();

    // A fresh start into it is refused and changes nothing.
    let out = train(&cfg, &run_dir, &["--max-steps", "1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--resume") && stderr(&out).contains("--overwrite"));
    assert_eq!(
        std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap(),
        metrics_before
    );

    // A resume whose settings do not fit the weights fails before the config is rewritten.
    let config_before = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    let out = train(
        &cfg,
        &run_dir,
        &["--resume", "--set", "model.name=lcnn-small"],
    );
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read_to_string(run_dir.join("config.toml")).unwrap(),
        config_before
    );

    // --overwrite starts over and leaves no stale final model or summary behind.
    let out = train(&cfg, &run_dir, &["--overwrite", "--max-steps", "1"]);
    success_stdout(out);
    assert!(
        !run_dir.join("checkpoints/final.safetensors").exists()
            || std::fs::read(run_dir.join("checkpoints/final.safetensors")).unwrap()
                != final_before
    );
    assert_eq!(
        std::fs::read_to_string(run_dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );

    // A folder without a run keeps whatever else it holds.
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    std::fs::write(results.join("scores-aasist.txt"), "x 0.5\n").unwrap();
    success_stdout(train(&cfg, &results, &["--max-steps", "1"]));
    assert!(results.join("scores-aasist.txt").is_file());

    // --resume with nothing to resume (a typo in the folder name) is an error.
    let out = train(&cfg, &dir.path().join("rnu"), &["--resume"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nothing to resume"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("rnu").exists(), "nothing created");
}

#[test]
fn a_checkpoint_split_by_a_crash_or_corrupted_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run_dir = dir.path().join("run");
    success_stdout(train(&cfg, &run_dir, &[]));
    let ckpt = run_dir.join("checkpoints");
    // New weights beside an old sidecar: what a crash between the two renames leaves.
    std::fs::copy(
        ckpt.join("final.safetensors"),
        ckpt.join("last.safetensors"),
    )
    .unwrap();
    let out = train(&cfg, &run_dir, &["--resume"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not match its sidecar"),
        "{}",
        stderr(&out)
    );
    // Scoring refuses it too.
    let wav = dir.path().join("a.wav");
    dpda::audio::write_wav(&wav, &[0.1; 4000], 16_000, dpda::audio::WavFormat::Float32).unwrap();
    let out = dpda()
        .args(["score", "--checkpoint"])
        .arg(ckpt.join("last.safetensors"))
        .arg(&wav)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not match its sidecar"),
        "{}",
        stderr(&out)
    );

    // NaN weights are refused at load, naming the tensor.
    let mut tensors =
        candle_core::safetensors::load(ckpt.join("final.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    let (name, t) = tensors
        .iter()
        .find(|(n, _)| !n.starts_with("__optimizer__."))
        .map(|(n, t)| (n.clone(), t.clone()))
        .unwrap();
    let nan = (t.ones_like().unwrap() * f64::NAN).unwrap();
    tensors.insert(name.clone(), nan);
    let bad = dir.path().join("nan.safetensors");
    candle_core::safetensors::save(&tensors, &bad).unwrap();
    let out = dpda()
        .args(["score", "--model", "tiny", "--checkpoint"])
        .arg(&bad)
        .arg(&wav)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&name) && stderr(&out).contains("NaN"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_crash_loses_at_most_the_steps_since_the_periodic_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = ["train.epochs=2", "train.checkpoint_every_steps=2"].map(String::from);
    let plan = plan_from_str(TINY_DEMO_CONFIG, "test", &overrides).unwrap();
    // Uninterrupted.
    let whole = dir.path().join("whole");
    spawn(plan.clone(), whole.clone()).unwrap().join();
    // Crashed at step 3 (mid-epoch), then resumed.
    let crashed = dir.path().join("crashed");
    let faults = FaultHooks {
        panic_at_step: Some(3),
        ..FaultHooks::default()
    };
    let mut handle = spawn_with_faults(
        plan.clone(),
        crashed.clone(),
        SpawnOptions::default(),
        faults,
    )
    .unwrap();
    assert!(handle.join().is_none(), "the injected crash ends the run");
    let side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crashed.join("checkpoints/last.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(side["step"], 2, "the periodic checkpoint before the crash");
    let options = dpda::train::SpawnOptions {
        resume: true,
        overwrite: false,
        waker: None,
    };
    let mut handle = dpda::train::spawn_with(plan, crashed.clone(), options).unwrap();
    let summary = handle.join().expect("the resumed run ends");
    assert_eq!(summary.reason, StopReason::Epochs, "{summary:?}");
    assert_eq!(
        std::fs::read(crashed.join("checkpoints/final.safetensors")).unwrap(),
        std::fs::read(whole.join("checkpoints/final.safetensors")).unwrap(),
        "resumed mid-epoch, the run ends with the same weights"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_after_the_step_and_saves_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run_dir = dir.path().join("run");
    let child = dpda()
        .args(["train", cfg.to_str().unwrap(), "--quiet", "--run-dir"])
        .arg(&run_dir)
        .args(["--set", "train.epochs=1000", "--set", "train.patience=1000"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(run_dir.join("metrics.jsonl")).map_or(0, |m| m.lines().count())
        < 3
    {
        assert!(start.elapsed() < Duration::from_secs(60), "no steps");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("interrupted") && text.contains("--resume"),
        "{text}"
    );
    let side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("checkpoints/last.json")).unwrap(),
    )
    .unwrap();
    let steps = std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        side["step"].as_u64().unwrap() as usize,
        steps,
        "saved at the last step done"
    );
}

#[test]
fn config_errors_keep_their_line_numbers_and_limits_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    // An unknown key in the last table ([optim]), on the line after the tiny config.
    std::fs::write(&cfg, format!("{TINY_DEMO_CONFIG}lr_max = 3\n")).unwrap();
    let line = TINY_DEMO_CONFIG.lines().count() + 1;
    for extra in [
        &[][..],
        &["--set", "train.epochs=1", "--max-steps", "2"][..],
    ] {
        let out = train(&cfg, &dir.path().join("run"), extra);
        assert!(!out.status.success());
        let text = stderr(&out);
        assert!(text.contains(&format!("line {line}")), "{extra:?}: {text}");
    }
    let good = config(dir.path());
    let out = train(&good, &dir.path().join("run"), &["--max-steps", "0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--max-steps"));
    let out = train(
        &good,
        &dir.path().join("run"),
        &["--set", "data.num_samples=1000000000"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("data.num_samples"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("run/config.toml").exists());
    // Events report the stop; nothing else reads TrainEvent here.
    let _ = TrainEvent::Stopped;
}

#[test]
fn optimizer_state_lives_in_the_weights_file_not_the_json_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run_dir = dir.path().join("run");
    success_stdout(train(&cfg, &run_dir, &["--max-steps", "2"]));
    let side = std::fs::read_to_string(run_dir.join("checkpoints/last.json")).unwrap();
    assert!(
        !side.contains("exp_avg"),
        "the sidecar holds no moment vectors"
    );
    let tensors = candle_core::safetensors::load(
        run_dir.join("checkpoints/last.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let num_params: usize = tensors
        .iter()
        .filter(|(n, _)| !n.starts_with("__optimizer__.") && !n.contains("running_"))
        .map(|(_, t)| t.elem_count())
        .sum();
    assert_eq!(tensors["__optimizer__.exp_avg"].elem_count(), num_params);
    assert_eq!(tensors["__optimizer__.exp_avg_sq"].elem_count(), num_params);
    // The checkpoint still scores (the optimizer tensors are set aside).
    let wav = dir.path().join("a.wav");
    dpda::audio::write_wav(&wav, &[0.1; 4000], 16_000, dpda::audio::WavFormat::Float32).unwrap();
    let out = dpda()
        .args(["score", "--checkpoint"])
        .arg(run_dir.join("checkpoints/last.safetensors"))
        .arg(&wav)
        .output()
        .unwrap();
    success_stdout(out);
}

#[test]
fn a_flipped_byte_in_the_weights_is_refused_and_non_finite_weights_are_never_saved() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run_dir = dir.path().join("run");
    success_stdout(train(&cfg, &run_dir, &[]));
    // One flipped byte near the end of the weights (inside the tensor data).
    let weights = run_dir.join("checkpoints/final.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x10;
    std::fs::write(&weights, &bytes).unwrap();
    let wav = dir.path().join("a.wav");
    dpda::audio::write_wav(&wav, &[0.1; 4000], 16_000, dpda::audio::WavFormat::Float32).unwrap();
    let out = dpda()
        .args(["score", "--checkpoint"])
        .arg(&run_dir)
        .arg(&wav)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not match its sidecar"),
        "{}",
        stderr(&out)
    );

    // Weights that went non-finite never replace the checkpoint on disk.
    let plan = plan_from_str(TINY_DEMO_CONFIG, "test", &[]).unwrap();
    let model = dpda::nn::registry::build_model(
        plan.model.kind,
        &plan.model.options,
        0,
        &candle_core::Device::Cpu,
        candle_core::DType::F32,
    )
    .unwrap();
    let side =
        dpda::train::checkpoint::load_sidecar(&run_dir.join("checkpoints/last.json")).unwrap();
    let ckpt = dir.path().join("ckpt");
    dpda::train::checkpoint::save(&ckpt, "last", model.as_ref(), &side).unwrap();
    let before = std::fs::read(ckpt.join("last.safetensors")).unwrap();
    let var = &model.trainable()[0].var;
    var.set(&(var.as_tensor() * f64::INFINITY).unwrap())
        .unwrap();
    let e = dpda::train::checkpoint::save(&ckpt, "last", model.as_ref(), &side).unwrap_err();
    assert!(e.to_string().contains("kept"), "{e}");
    assert_eq!(
        std::fs::read(ckpt.join("last.safetensors")).unwrap(),
        before
    );
    let leftovers: Vec<_> = std::fs::read_dir(&ckpt)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left behind");
}
