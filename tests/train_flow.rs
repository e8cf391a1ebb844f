//! Training flows on the tiny demo corpus with the tiny model: files and events of a whole run,
//! exact resume, determinism, stop latency, non-finite losses and worker panics.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use dpda::train::{
    plan_from_str, spawn, spawn_with, spawn_with_faults, FaultHooks, Plan, SpawnOptions, TrainEvent,
};

fn plan(extra: &[&str]) -> Plan {
    let overrides: Vec<String> = [
        "train.epochs=3",
        "train.keep_best=2",
        "train.per_layer_cos_every=2",
        "train.seed=7",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect();
    plan_from_str(common::TINY_DEMO_CONFIG, "test config", &overrides).unwrap()
}

fn collect(handle: &mut dpda::train::TrainHandle) -> Vec<TrainEvent> {
    handle.join();
    std::iter::from_fn(|| handle.try_recv()).collect()
}

/// metrics.jsonl without the wall-clock field.
fn metrics_without_time(dir: &Path, file: &str, time_key: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove(time_key);
            v
        })
        .collect()
}

#[test]
fn a_run_writes_files_and_events_with_finite_losses() {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn(plan(&[]), dir.path().to_path_buf()).unwrap();
    let events = collect(&mut handle);
    assert!(
        matches!(events.first(), Some(TrainEvent::Started { .. })),
        "{events:?}"
    );
    let steps: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    // Tiny train split: 18 clips → 4 batches of 4 per epoch, 3 epochs.
    assert_eq!(steps.len(), 12);
    for m in &steps {
        assert!(m.loss_orig.unwrap().is_finite() && m.loss_aug.unwrap().is_finite());
        assert!(m.grad_cos.unwrap().abs() <= 1.0 + 1e-9);
        assert_eq!(m.conflict, Some(m.grad_cos.unwrap() < 0.0));
    }
    let epochs = events
        .iter()
        .filter(|e| matches!(e, TrainEvent::Epoch(_)))
        .count();
    assert_eq!(epochs, 3);
    let summary = match events.last() {
        Some(TrainEvent::Finished { summary }) => summary.clone(),
        other => panic!("last event {other:?}"),
    };
    assert_eq!(summary.num_steps, 12);
    assert!(!summary.averaged_epochs.is_empty() && summary.averaged_epochs.len() <= 2);
    for f in [
        "config.toml",
        "metrics.jsonl",
        "epochs.jsonl",
        "layer_cos.jsonl",
        "scores-eval.txt",
        "summary.json",
        "checkpoints/final.safetensors",
        "checkpoints/last.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        metrics_without_time(dir.path(), "metrics.jsonl", "step_time_ms").len(),
        12
    );
    let layer = metrics_without_time(dir.path(), "layer_cos.jsonl", "none");
    assert_eq!(layer.len(), 6);
    assert!(layer[0]["names"].as_array().unwrap().len() >= 2);
    // The score file names every eval clip once; `dpda eval` reads this two-column layout.
    let scores = std::fs::read_to_string(dir.path().join("scores-eval.txt")).unwrap();
    assert_eq!(scores.lines().count(), 16);
    assert!(scores.lines().all(|l| l
        .split(' ')
        .nth(1)
        .unwrap()
        .parse::<f64>()
        .unwrap()
        .is_finite()));
    // The resolved configuration parses back to the same plan.
    let resolved = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert_eq!(
        plan_from_str(&resolved, "resolved", &[]).unwrap(),
        plan(&[])
    );
}

#[test]
fn an_interrupted_and_resumed_run_matches_an_uninterrupted_one() {
    let whole = tempfile::tempdir().unwrap();
    let parts = tempfile::tempdir().unwrap();
    let again = tempfile::tempdir().unwrap();
    collect(&mut spawn(plan(&["train.max_steps=10"]), whole.path().to_path_buf()).unwrap());
    collect(&mut spawn(plan(&["train.max_steps=10"]), again.path().to_path_buf()).unwrap());
    // Interrupt mid-epoch (step 6 of 4-step epochs), then resume to the same end.
    collect(&mut spawn(plan(&["train.max_steps=6"]), parts.path().to_path_buf()).unwrap());
    let options = SpawnOptions {
        resume: true,
        overwrite: false,
        waker: None,
    };
    let events = collect(
        &mut spawn_with(
            plan(&["train.max_steps=10"]),
            parts.path().to_path_buf(),
            options,
        )
        .unwrap(),
    );
    assert!(events.iter().any(|e| matches!(
        e,
        TrainEvent::Started {
            resumed_at_step: Some(6),
            ..
        }
    )));
    let a = metrics_without_time(whole.path(), "metrics.jsonl", "step_time_ms");
    assert_eq!(a.len(), 10);
    assert_eq!(
        a,
        metrics_without_time(parts.path(), "metrics.jsonl", "step_time_ms")
    );
    assert_eq!(
        a,
        metrics_without_time(again.path(), "metrics.jsonl", "step_time_ms")
    );
    assert_eq!(
        metrics_without_time(whole.path(), "epochs.jsonl", "epoch_time_s"),
        metrics_without_time(parts.path(), "epochs.jsonl", "epoch_time_s")
    );
}

#[test]
fn stop_takes_effect_within_one_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn(plan(&["train.epochs=1000"]), dir.path().to_path_buf()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut first_step = None;
    while first_step.is_none() && Instant::now() < deadline {
        if let Some(TrainEvent::Step(m)) = handle.recv_timeout(Duration::from_millis(50)) {
            first_step = Some(m.step);
        }
    }
    let first_step = first_step.expect("no step within 60 s");
    handle.stop();
    let events = collect(&mut handle);
    let later_steps: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step(m) => Some(m.step),
            _ => None,
        })
        .collect();
    // At most the iteration already running when stop was requested completes.
    assert!(
        later_steps.iter().all(|&s| s <= first_step + 1),
        "steps after stop: {later_steps:?}"
    );
    assert!(
        matches!(events.last(), Some(TrainEvent::Stopped)),
        "{events:?}"
    );
    assert!(dir.path().join("checkpoints/last.safetensors").is_file());
}

#[test]
fn a_non_finite_loss_stops_with_an_error_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultHooks {
        nan_at_step: Some(6),
        ..FaultHooks::default()
    };
    let events = collect(
        &mut spawn_with_faults(
            plan(&[]),
            dir.path().to_path_buf(),
            SpawnOptions::default(),
            faults,
        )
        .unwrap(),
    );
    match events.last() {
        Some(TrainEvent::Error { message }) => {
            assert!(
                message.contains("non-finite") && message.contains("step 6"),
                "{message}"
            )
        }
        other => panic!("expected an error event, got {other:?}"),
    }
    let side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("checkpoints/last.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        side["step"], 4,
        "the end-of-epoch checkpoint before the bad step"
    );
    let tensors = candle_core::safetensors::load(
        dir.path().join("checkpoints/last.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    for t in tensors.values() {
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn a_panic_in_the_worker_becomes_an_error_event() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultHooks {
        panic_at_step: Some(2),
        ..FaultHooks::default()
    };
    let mut handle = spawn_with_faults(
        plan(&[]),
        dir.path().to_path_buf(),
        SpawnOptions::default(),
        faults,
    )
    .unwrap();
    assert!(handle.join().is_none());
    let events: Vec<_> = std::iter::from_fn(|| handle.try_recv()).collect();
    match events.last() {
        Some(TrainEvent::Error { message }) => assert!(message.contains("panicked"), "{message}"),
        other => panic!("expected an error event, got {other:?}"),
    }
}

#[test]
fn plain_mode_leaves_the_augmented_fields_null() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(&["train.mode=plain", "train.align=none", "train.max_steps=2"]);
    collect(&mut spawn(p, dir.path().to_path_buf()).unwrap());
    let lines = metrics_without_time(dir.path(), "metrics.jsonl", "step_time_ms");
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["loss_orig"].as_f64().unwrap().is_finite());
    assert!(lines[0]["loss_aug"].is_null() && lines[0]["grad_cos"].is_null());
}

fn tensors(path: &Path) -> std::collections::HashMap<String, Vec<f32>> {
    candle_core::safetensors::load(path, &candle_core::Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(name, t)| (name, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect()
}

/// The reference-exact switches together (README, "Reference-exact switches"): CAGrad with the
/// reference's SLSQP weight, ASAM with η = 0, dpda_ga's batch-of-8 dev loss and its averaging.
#[test]
fn a_run_with_the_reference_switches_trains_and_averages_as_the_reference() {
    let switches = [
        "train.align=cagrad",
        "train.cagrad_solver=reference",
        "train.dev_loss=reference",
        "train.averaging=reference",
        "train.keep_best=3",
        "sam.enabled=true",
        "sam.adaptive=true",
        "sam.eta=0.0",
    ];
    let dir = tempfile::tempdir().unwrap();
    let events = collect(&mut spawn(plan(&switches), dir.path().to_path_buf()).unwrap());
    let summary = match events.last() {
        Some(TrainEvent::Finished { summary }) => summary.clone(),
        other => panic!("last event {other:?}"),
    };
    assert_eq!(summary.num_steps, 12);
    for m in metrics_without_time(dir.path(), "metrics.jsonl", "step_time_ms") {
        for key in ["loss_orig", "loss_aug", "grad_cos"] {
            assert!(m[key].as_f64().unwrap().is_finite(), "{m}");
        }
    }
    // Three epochs, three kept: best first b₀, b₁, b₂ by the (reference) dev loss.
    let epochs = metrics_without_time(dir.path(), "epochs.jsonl", "epoch_time_s");
    let mut ranked: Vec<(f64, u64)> = epochs
        .iter()
        .map(|e| {
            (
                e["dev_loss"].as_f64().unwrap(),
                e["epoch"].as_u64().unwrap(),
            )
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(ranked.len(), 3);
    // The reference drops the best checkpoint and counts the second best twice.
    assert_eq!(summary.averaged_epochs, [ranked[1].1, ranked[2].1]);
    let ckpt = dir.path().join("checkpoints");
    let b1 = tensors(&ckpt.join(format!("epoch-{:03}.safetensors", ranked[1].1)));
    let b2 = tensors(&ckpt.join(format!("epoch-{:03}.safetensors", ranked[2].1)));
    let b0 = tensors(&ckpt.join(format!("epoch-{:03}.safetensors", ranked[0].1)));
    let last = tensors(&ckpt.join("final.safetensors"));
    let mut differs_from_uniform = false;
    // The model tensors (the optimizer's state beside them is not averaged).
    for (name, values) in last
        .iter()
        .filter(|(n, _)| !n.starts_with("__optimizer__."))
    {
        for (i, &v) in values.iter().enumerate() {
            let expected = (2.0 * b1[name][i] as f64 + b2[name][i] as f64) / 3.0;
            assert!(
                (v as f64 - expected).abs() <= 1e-6 * (1.0 + expected.abs()),
                "{name}[{i}]: {v} vs {expected}"
            );
            let uniform = (b0[name][i] as f64 + b1[name][i] as f64 + b2[name][i] as f64) / 3.0;
            differs_from_uniform |= (v as f64 - uniform).abs() > 1e-5;
        }
    }
    assert!(differs_from_uniform);

    // The dev-loss switch changes the loss that is recorded and ranked: the first epoch trains
    // identically either way, its dev loss differs.
    let ours = tempfile::tempdir().unwrap();
    let mut weighted = switches.to_vec();
    weighted[2] = "train.dev_loss=weighted";
    collect(&mut spawn(plan(&weighted), ours.path().to_path_buf()).unwrap());
    let ours_epochs = metrics_without_time(ours.path(), "epochs.jsonl", "epoch_time_s");
    let first_step = |d: &Path| metrics_without_time(d, "metrics.jsonl", "step_time_ms")[0].clone();
    assert_eq!(first_step(dir.path()), first_step(ours.path()));
    let (a, b) = (
        epochs[0]["dev_loss"].as_f64().unwrap(),
        ours_epochs[0]["dev_loss"].as_f64().unwrap(),
    );
    assert!((a - b).abs() > 1e-9, "reference {a} vs weighted {b}");
}
