//! Every alignment method in both dual layouts, SAM with m-sharpness, pause/resume, and a step of
//! a registry model: short runs whose metrics must be finite and consistent.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::time::Duration;

use dpda::train::{plan_from_str, spawn, Plan, TrainEvent};

fn plan(extra: &[String]) -> Plan {
    let base = r#"
[data]
corpus = "demo"
demo_size = "tiny"
num_samples = 1600
score_eval = false
[model]
name = "tiny"
[train]
mode = "dual"
batch_size = 4
epochs = 1
seed = 3
[optim]
lr = 0.01
"#;
    plan_from_str(base, "test config", extra).unwrap()
}

fn run_events(p: Plan) -> Vec<TrainEvent> {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn(p, dir.path().to_path_buf()).unwrap();
    handle.join();
    std::iter::from_fn(|| handle.try_recv()).collect()
}

fn steps(events: &[TrainEvent]) -> Vec<dpda::train::StepMetrics> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_aligner_and_layout_trains_with_finite_metrics() {
    let mut first_losses = Vec::new();
    for align in ["none", "pcgrad", "gradvac", "cagrad", "mgda"] {
        for layout in ["joint", "separate"] {
            let events = run_events(plan(&[
                format!("train.align={align}"),
                format!("train.layout={layout}"),
                "train.max_steps=2".into(),
            ]));
            let s = steps(&events);
            assert_eq!(s.len(), 2, "{align}/{layout}: {events:?}");
            for m in &s {
                for v in [
                    m.loss_orig,
                    m.loss_aug,
                    m.grad_norm_orig,
                    m.grad_norm_aug,
                    m.grad_cos,
                ] {
                    assert!(v.unwrap().is_finite(), "{align}/{layout}: {m:?}");
                }
            }
            first_losses.push((
                align,
                layout,
                s[0].loss_orig.unwrap(),
                s[1].loss_orig.unwrap(),
            ));
        }
    }
    // Step 1 sees the same weights whatever the aligner; the layouts differ (BatchNorm statistics
    // over 2B clips vs B clips); the second step differs between aligners only through the update.
    for pair in first_losses.chunks(2) {
        assert_eq!(pair[0].2, first_losses[0].2);
        assert_eq!(pair[1].2, first_losses[1].2);
        assert_ne!(pair[0].2, pair[1].2);
    }
}

#[test]
fn sam_trains_and_reports_m_sharpness() {
    let events = run_events(plan(&[
        "sam.enabled=true".into(),
        "sam.rho=0.05".into(),
        "sam.m_sharpness=true".into(),
        "train.align=pcgrad".into(),
    ]));
    assert!(steps(&events)
        .iter()
        .all(|m| m.loss_orig.unwrap().is_finite()));
    let epoch = events
        .iter()
        .find_map(|e| match e {
            TrainEvent::Epoch(m) => Some(m.clone()),
            _ => None,
        })
        .expect("an epoch event");
    assert!(epoch.m_sharpness.unwrap().is_finite());
    let adaptive = run_events(plan(&[
        "sam.enabled=true".into(),
        "sam.adaptive=true".into(),
        "train.max_steps=2".into(),
    ]));
    assert_eq!(steps(&adaptive).len(), 2);
}

#[test]
fn pause_holds_the_run_and_resume_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut handle = spawn(plan(&["train.epochs=50".into()]), dir.path().to_path_buf()).unwrap();
    handle.pause();
    let mut paused = false;
    for _ in 0..600 {
        if let Some(TrainEvent::Paused) = handle.recv_timeout(Duration::from_millis(50)) {
            paused = true;
            break;
        }
    }
    assert!(paused, "no Paused event");
    // While paused, no step events arrive.
    std::thread::sleep(Duration::from_millis(200));
    assert!(std::iter::from_fn(|| handle.try_recv()).all(|e| !matches!(e, TrainEvent::Step(_))));
    handle.resume();
    let mut resumed = false;
    let mut stepped = false;
    for _ in 0..600 {
        match handle.recv_timeout(Duration::from_millis(50)) {
            Some(TrainEvent::Resumed) => resumed = true,
            Some(TrainEvent::Step(_)) if resumed => {
                stepped = true;
                break;
            }
            _ => {}
        }
    }
    assert!(resumed && stepped);
    handle.stop();
    handle.join();
}

#[test]
fn a_registry_model_takes_a_dual_step() {
    let events = run_events(plan(&[
        "model.name=lcnn-small".into(),
        "data.num_samples=8000".into(),
        "train.batch_size=2".into(),
        "train.max_steps=1".into(),
        "data.max_dev_clips=2".into(),
        "train.align=pcgrad".into(),
    ]));
    let s = steps(&events);
    assert_eq!(s.len(), 1, "{events:?}");
    assert!(s[0].loss_orig.unwrap().is_finite() && s[0].grad_cos.unwrap().is_finite());
}

#[test]
fn the_waker_is_called_once_per_event() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let options = dpda::train::SpawnOptions {
        resume: false,
        overwrite: false,
        waker: Some(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })),
    };
    let p = plan(&["train.max_steps=2".into()]);
    let mut handle = dpda::train::spawn_with(p, dir.path().to_path_buf(), options).unwrap();
    handle.join();
    let events: Vec<_> = std::iter::from_fn(|| handle.try_recv()).collect();
    assert!(events.len() >= 4, "{events:?}");
    assert_eq!(calls.load(Ordering::SeqCst), events.len());
}
