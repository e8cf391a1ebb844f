//! Checkpoint flows of the model registry: safetensors round trips through `VarMap::save/load`
//! (BatchNorm running statistics included) and seeded initialisation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use candle_core::{DType, Device, Tensor};
use dpda::nn::flat::read_params;
use dpda::nn::registry::{build_model, ModelKind, ModelOptions};
use dpda::nn::Mode;
use dpda::rng::Rng;

fn waveforms(batch: usize, num_samples: usize, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let v: Vec<f32> = (0..batch * num_samples)
        .map(|_| rng.uniform(-0.5, 0.5) as f32)
        .collect();
    Tensor::from_vec(v, (batch, num_samples), &Device::Cpu).unwrap()
}

fn state_values(m: &dyn dpda::nn::Model) -> Vec<(String, Vec<f32>)> {
    let data = m.state().data().lock().unwrap();
    let mut v: Vec<(String, Vec<f32>)> = data
        .iter()
        .map(|(k, var)| {
            (
                k.clone(),
                var.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap()
                    .to_vec1()
                    .unwrap(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn same_seed_same_init_other_seed_differs() {
    for kind in ModelKind::small().filter(|k| *k != ModelKind::Tiny) {
        let opts = ModelOptions::default();
        let a = build_model(kind, &opts, 42, &Device::Cpu, DType::F32).unwrap();
        let b = build_model(kind, &opts, 42, &Device::Cpu, DType::F32).unwrap();
        let c = build_model(kind, &opts, 43, &Device::Cpu, DType::F32).unwrap();
        let pa = read_params(a.trainable()).unwrap();
        assert_eq!(pa, read_params(b.trainable()).unwrap());
        assert_ne!(pa, read_params(c.trainable()).unwrap());
        // Trainable variables come sorted by name.
        let names: Vec<&str> = a.trainable().iter().map(|v| v.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}

#[test]
fn safetensors_round_trip_restores_running_stats_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lcnn_small.safetensors");
    let opts = ModelOptions::default();
    let trained = build_model(
        "lcnn-small".parse().unwrap(),
        &opts,
        1,
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    let x = waveforms(3, 4000, 2);
    // Two training-mode passes move the BatchNorm running statistics away from 0 / 1.
    trained.forward(&x, Mode::Train, &mut Rng::new(3)).unwrap();
    trained.forward(&x, Mode::Train, &mut Rng::new(4)).unwrap();
    trained.state().save(&path).unwrap();

    let restored = build_model(
        "lcnn-small".parse().unwrap(),
        &opts,
        99,
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    assert_ne!(
        state_values(trained.as_ref()),
        state_values(restored.as_ref())
    );
    // `VarMap::load` needs `&mut`; the trait hands out `&VarMap`, so load into a clone that shares
    // the same variables.
    let mut varmap = restored.state().clone();
    varmap.load(&path).unwrap();
    let before = state_values(trained.as_ref());
    assert_eq!(before, state_values(restored.as_ref()));
    assert!(before
        .iter()
        .any(|(k, v)| k.ends_with("running_var") && v.iter().any(|x| (x - 1.0).abs() > 1e-3)));

    let ya = trained
        .forward(&x, Mode::Eval, &mut Rng::new(0))
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let yb = restored
        .forward(&x, Mode::Eval, &mut Rng::new(0))
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_eq!(ya, yb);
}

#[test]
fn eval_is_deterministic_and_train_mode_uses_dropout() {
    let m = build_model(
        "lcnn".parse().unwrap(),
        &ModelOptions::default(),
        5,
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    let x = waveforms(2, 3000, 6);
    let e1 = m
        .forward(&x, Mode::Eval, &mut Rng::new(1))
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let e2 = m
        .forward(&x, Mode::Eval, &mut Rng::new(2))
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_eq!(e1, e2);
    let t1 = m
        .forward(&x, Mode::TrainFrozenStats, &mut Rng::new(1))
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let t2 = m
        .forward(&x, Mode::TrainFrozenStats, &mut Rng::new(2))
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_ne!(t1, t2);
}
