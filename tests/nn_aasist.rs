//! AASIST / AASIST-L against the authors' PyTorch implementation (fixtures written by
//! `scripts/aasist_reference.py`), the strict weight import, and an f64 finite-difference check.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use dpda::nn::aasist::{Aasist, AasistConfig};
use dpda::nn::gradcheck::{gradcheck, GradcheckOptions};
use dpda::nn::import::{load_weights, read_pth, save_weights};
use dpda::nn::{Mode, Model, NamedVar, NnError};
use dpda::rng::Rng;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/aasist")
        .join(name)
}

fn pretrained(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/pretrained")
        .join(name);
    if path.is_file() {
        Some(path)
    } else {
        println!("skipping: {} is absent", path.display());
        None
    }
}

fn read_fixture(name: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(name), &Device::Cpu).unwrap()
}

fn model(config: AasistConfig, dtype: DType) -> Aasist {
    Aasist::new(config, dtype, &Device::Cpu, &mut Rng::new(5)).unwrap()
}

fn flat(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Largest |ours − reference| / max(|reference|, floor).
fn worst_rel_err(ours: &[f64], reference: &[f64], floor: f64) -> f64 {
    assert_eq!(ours.len(), reference.len());
    ours.iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs() / b.abs().max(floor))
        .fold(0.0, f64::max)
}

#[test]
fn aasist_l_has_the_published_parameter_count() {
    let m = model(AasistConfig::aasist_l(), DType::F32);
    assert_eq!(m.num_parameters(), 85_306);
    // Sorted, unique names; running statistics are state but not trainable.
    let names: Vec<&str> = m.trainable().iter().map(|v| v.name.as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]));
    assert!(!names.iter().any(|n| n.contains("running")));
    let state = m.state().data().lock().unwrap();
    assert!(state.contains_key("encoder.3.0.bn1.running_var"));
    assert_eq!(state.len(), names.len() + 2 * 18);
}

#[test]
fn clips_below_the_minimum_are_rejected() {
    let m = model(AasistConfig::aasist_l(), DType::F32);
    assert_eq!(m.min_num_samples(), 2315);
    let mut rng = Rng::new(1);
    let short = Tensor::zeros((1, 2314), DType::F32, &Device::Cpu).unwrap();
    let err = m
        .forward(&short, Mode::Eval, &mut rng)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2314") && err.contains("2315"), "{err}");
    let ok = Tensor::ones((1, 2315), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(
        m.forward(&ok, Mode::Eval, &mut rng).unwrap().dims(),
        &[1, 2]
    );
}

#[test]
fn random_weights_match_pytorch_logits_and_gradients() {
    let io = read_fixture("random_io.safetensors");
    let clips = &io["clips"];

    // float32 logits.
    let m32 = model(AasistConfig::aasist_l(), DType::F32);
    load_weights(&m32, &fixture("random_weights.safetensors")).unwrap();
    let logits = m32.forward(clips, Mode::Eval, &mut Rng::new(0)).unwrap();
    let err = worst_rel_err(&flat(&logits), &flat(&io["logits_f32"]), 1e-3);
    assert!(err < 1e-4, "f32 logits rel err {err}");

    // float64 logits and eval-mode gradients of the summed bona fide logit.
    let m64 = model(AasistConfig::aasist_l(), DType::F64);
    load_weights(&m64, &fixture("random_weights.safetensors")).unwrap();
    let logits = m64.forward(clips, Mode::Eval, &mut Rng::new(0)).unwrap();
    let err = worst_rel_err(&flat(&logits), &flat(&io["logits_f64"]), 1e-3);
    assert!(err < 1e-4, "f64 logits rel err {err}");
    let grads = logits
        .narrow(1, 1, 1)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let mut checked = 0;
    for (key, reference) in &io {
        let Some(name) = key.strip_prefix("grad.") else {
            continue;
        };
        let var = &m64.trainable().iter().find(|v| v.name == name).unwrap().var;
        let ours = flat(grads.get(var.as_tensor()).unwrap());
        let reference = flat(reference);
        let scale = reference.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(scale > 0.0, "{name}: zero reference gradient");
        let err = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / scale;
        assert!(err < 1e-4, "{name}: gradient rel err {err}");
        checked += 1;
    }
    assert_eq!(checked, 9);
}

fn released_parity(config: AasistConfig, file: &str, key: &str) {
    let Some(path) = pretrained(file) else { return };
    let io = read_fixture("released_io.safetensors");
    let m = model(config, DType::F32);
    load_weights(&m, &path).unwrap();
    let logits = m
        .forward(&io["clips"], Mode::Eval, &mut Rng::new(0))
        .unwrap();
    let ours = flat(&logits);
    let reference = flat(&io[key]);
    let err = worst_rel_err(&ours, &reference, 1.0);
    assert!(
        err < 1e-4,
        "{file}: logits {ours:?} vs {reference:?}, rel err {err}"
    );
}

#[test]
fn released_aasist_matches_pytorch() {
    released_parity(AasistConfig::aasist(), "AASIST.pth", "aasist_logits");
}

#[test]
fn released_aasist_l_matches_pytorch() {
    released_parity(AasistConfig::aasist_l(), "AASIST-L.pth", "aasist_l_logits");
}

#[test]
fn released_state_dict_imports_every_tensor() {
    let Some(path) = pretrained("AASIST-L.pth") else {
        return;
    };
    let tensors = read_pth(&path).unwrap();
    assert!(!tensors.keys().any(|k| k.contains("num_batches_tracked")));
    let m = model(AasistConfig::aasist_l(), DType::F32);
    load_weights(&m, &path).unwrap();
    // Running statistics arrive too (they start at 0 and 1 in a fresh model).
    let state = m.state().data().lock().unwrap();
    let ours = flat(state["encoder.2.0.bn2.running_var"].as_tensor());
    assert_eq!(ours, flat(&tensors["encoder.2.0.bn2.running_var"]));
    assert!(ours.iter().any(|v| (v - 1.0).abs() > 1e-3));
    // The full model's file does not fit the light configuration.
    drop(state);
    let Some(full) = pretrained("AASIST.pth") else {
        return;
    };
    let err = load_weights(&m, &full).unwrap_err().to_string();
    assert!(err.contains("93 with mismatched shapes"), "{err}");
    assert!(
        err.contains("GAT_layer_S.att_proj.weight (file [64, 64], model [24, 24])"),
        "{err}"
    );
}

#[test]
fn import_names_missing_unexpected_and_mismatched_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = read_fixture("random_weights.safetensors");
    tensors.remove("GAT_layer_T.bn.running_mean");
    tensors.insert(
        "extra.weight".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    tensors.insert(
        "out_layer.bias".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    let path = dir.path().join("broken.safetensors");
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let m = model(AasistConfig::aasist_l(), DType::F32);
    let err = load_weights(&m, &path).unwrap_err();
    assert!(matches!(err, NnError::Load { .. }));
    let text = err.to_string();
    assert!(text.contains("broken.safetensors"), "{text}");
    assert!(
        text.contains("1 missing: GAT_layer_T.bn.running_mean"),
        "{text}"
    );
    assert!(text.contains("1 unexpected: extra.weight"), "{text}");
    assert!(
        text.contains("out_layer.bias (file [3], model [2])"),
        "{text}"
    );
    assert!(load_weights(&m, &dir.path().join("absent.pth"))
        .unwrap_err()
        .to_string()
        .contains("no such file"));
    assert!(load_weights(&m, &dir.path().join("weights.bin")).is_err());
}

#[test]
fn safetensors_round_trip_keeps_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let a = model(AasistConfig::aasist_l(), DType::F32);
    let path = dir.path().join("a.safetensors");
    save_weights(&a, &path).unwrap();
    let b = Aasist::new(
        AasistConfig::aasist_l(),
        DType::F32,
        &Device::Cpu,
        &mut Rng::new(99),
    )
    .unwrap();
    let clips = read_fixture("random_io.safetensors")["clips"].clone();
    let before = flat(&b.forward(&clips, Mode::Eval, &mut Rng::new(0)).unwrap());
    load_weights(&b, &path).unwrap();
    let ya = flat(&a.forward(&clips, Mode::Eval, &mut Rng::new(0)).unwrap());
    let yb = flat(&b.forward(&clips, Mode::Eval, &mut Rng::new(0)).unwrap());
    assert_eq!(ya, yb);
    assert_ne!(before, yb);
}

#[test]
fn train_mode_updates_running_stats_and_frozen_mode_does_not() {
    let m = model(AasistConfig::aasist_l(), DType::F32);
    let clips = read_fixture("random_io.safetensors")["clips"].clone();
    let stat = |m: &Aasist| {
        flat(m.state().data().lock().unwrap()["encoder.1.0.bn1.running_mean"].as_tensor())
    };
    let start = stat(&m);
    m.forward(&clips, Mode::TrainFrozenStats, &mut Rng::new(0))
        .unwrap();
    assert_eq!(stat(&m), start);
    m.forward(&clips, Mode::Train, &mut Rng::new(0)).unwrap();
    assert_ne!(stat(&m), start);
    // Dropout: two training passes with different masks differ, eval passes agree.
    let y1 = flat(
        &m.forward(&clips, Mode::TrainFrozenStats, &mut Rng::new(1))
            .unwrap(),
    );
    let y2 = flat(
        &m.forward(&clips, Mode::TrainFrozenStats, &mut Rng::new(2))
            .unwrap(),
    );
    assert_ne!(y1, y2);
}

/// A tiny AASIST for the all-tensor check: every layer kind and code path of the real model
/// (sinc front end, six residual blocks with two channel-changing downsample convolutions, the
/// dead `bn1`s, both graph-attention layers, four heterogeneous layers, six graph pools, the
/// readout), narrow enough that a forward pass on a short clip takes milliseconds. Five spectral
/// and five temporal nodes, and keep ratios that leave at least two nodes of each type in every
/// graph, so no softmax runs over a single neighbour (whose attention gradient is exactly zero).
fn tiny_config() -> AasistConfig {
    AasistConfig {
        name: "aasist-tiny".into(),
        num_sinc_filters: 15,
        sinc_kernel_size: 8,
        block_channels: [(1, 4), (4, 4), (4, 6), (6, 6)],
        gat_dims: [6, 8],
        pool_ratios: [0.8, 0.8, 0.7, 0.5],
        temperatures: [2.0, 2.0, 100.0, 100.0],
        sample_rate_hz: 16_000,
    }
}

/// Tensors whose gradient is exactly zero by construction: the reference's dead `bn1` (only its
/// running statistics are used), and biases added right before a BatchNorm on batch statistics
/// (the batch mean removes them).
fn is_structurally_dead(name: &str) -> bool {
    name.contains(".bn1.")
        || name.ends_with("conv1.bias")
        || name.ends_with("proj_with_att.bias")
        || name.ends_with("proj_without_att.bias")
}

/// `(bona fide − ½ spoof)` summed over the batch: an asymmetric combination so both logit columns
/// matter.
fn combine_logits(logits: &Tensor) -> candle_core::Result<Tensor> {
    let bona_fide = logits.narrow(1, 1, 1)?.sum_all()?;
    let spoof = logits.narrow(1, 0, 1)?.sum_all()?;
    bona_fide - (spoof * 0.5)?
}

/// The check loss through the whole model; a fresh generator with a fixed seed gives the same
/// dropout masks on every pass.
fn check_loss(m: &Aasist, x: &Tensor, mode: Mode) -> candle_core::Result<Tensor> {
    combine_logits(&m.forward(x, mode, &mut Rng::new(11))?)
}

/// Short noise clips `[2, num_samples]`.
fn noise_clips(num_samples: usize) -> Tensor {
    let mut rng = Rng::new(3);
    let samples: Vec<f64> = (0..2 * num_samples).map(|_| 0.3 * rng.normal()).collect();
    Tensor::from_vec(samples, (2, num_samples), &Device::Cpu).unwrap()
}

/// Worst `(relative error, tensor)` of a report.
fn worst(report: &dpda::nn::gradcheck::GradcheckReport) -> (f64, String) {
    let (name, err) = report
        .per_tensor
        .iter()
        .cloned()
        .fold(
            (String::new(), 0.0),
            |w, (n, e)| if e >= w.1 { (n, e) } else { w },
        );
    (err, name)
}

/// Central differences in f64 (the layer set's checker) on `samples_per_tensor` sampled entries
/// of every tensor in `vars`, with central-difference `step` (retried ten times smaller above a
/// relative error of 1e-5: max-pool, abs, SELU and top-k make the loss piecewise smooth, and a
/// step that crosses a kink spoils one estimate but rarely both). Differences below `abs_floor`
/// count as agreement; it must sit above the rounding noise of the difference quotient (about
/// 1e-9 at step 1e-6 for these losses) and well below the gradients checked.
fn check_vars<F>(
    loss: F,
    vars: &[NamedVar],
    samples_per_tensor: usize,
    step: f64,
    abs_floor: f64,
) -> (f64, String)
where
    F: FnMut() -> candle_core::Result<Tensor>,
{
    let options = GradcheckOptions {
        step,
        samples_per_tensor,
        seed: 5,
        abs_floor,
        retry_above: 1e-5,
    };
    let report = gradcheck(loss, vars, None, &options).unwrap();
    assert_eq!(report.per_tensor.len(), vars.len());
    worst(&report)
}

/// Every trainable tensor of a tiny AASIST (all 175 of them, as in AASIST-L): two sampled entries
/// each in training arithmetic (batch statistics, dropout), one more in eval mode.
///
/// Only the front end and encoder tensors need the whole model re-run for each difference; for
/// the graph back end's tensors the encoder output is computed once and the back end re-run on
/// it ([`Aasist::encode`] / [`Aasist::classify`], which compose to the forward pass exactly).
#[test]
fn finite_difference_gradients_of_every_parameter_tensor() {
    let m = model(tiny_config(), DType::F64);
    let l = model(AasistConfig::aasist_l(), DType::F32);
    let names =
        |m: &Aasist| -> Vec<String> { m.trainable().iter().map(|v| v.name.clone()).collect() };
    assert_eq!(
        names(&m),
        names(&l),
        "the tiny model has every tensor of AASIST-L"
    );
    let num_samples = tiny_config().min_num_samples() + 2 * 3 * 729;
    assert_eq!(tiny_config().num_temporal_nodes(num_samples), 3);
    assert_eq!(tiny_config().num_spectral_nodes(), 5);
    let x = noise_clips(num_samples);

    // The check would pass vacuously on zero gradients: all but the structurally dead tensors
    // must get a clearly non-zero one.
    let grads = check_loss(&m, &x, Mode::TrainFrozenStats)
        .unwrap()
        .backward()
        .unwrap();
    for v in m.trainable() {
        let largest = grads
            .get(v.var.as_tensor())
            .map(|g| flat(g).iter().fold(0.0f64, |a, b| a.max(b.abs())))
            .unwrap_or(0.0);
        if is_structurally_dead(&v.name) {
            assert!(largest < 1e-12, "{}: {largest}", v.name);
        } else {
            assert!(largest > 1e-6, "{}: gradient only {largest}", v.name);
        }
    }

    let in_encoder =
        |v: &&NamedVar| v.name.starts_with("encoder.") || v.name.starts_with("first_bn.");
    let encoder_vars: Vec<NamedVar> = m.trainable().iter().filter(in_encoder).cloned().collect();
    let back_end_vars: Vec<NamedVar> = m
        .trainable()
        .iter()
        .filter(|v| !in_encoder(v))
        .cloned()
        .collect();
    assert_eq!(encoder_vars.len() + back_end_vars.len(), 175);
    // Encoder gradients are large (the smallest sampled ones ~1e-3) and the encoder's many
    // max-pools call for small steps: step 1e-6, floor 1e-8 (the dead conv biases' differences are
    // pure rounding noise of ~1e-9). Back-end attention gradients are small (temperature 100;
    // down to ~2e-5): step 1e-5 keeps the noise near 1e-10, so a floor of 1e-9 still resolves a
    // relative error of 5e-5 on them. Eval mode (running statistics, no dropout) takes one entry
    // per tensor: its arithmetic differs from training only in BatchNorm.
    for (mode, per_tensor) in [(Mode::TrainFrozenStats, 2), (Mode::Eval, 1)] {
        let (err, at) = check_vars(
            || check_loss(&m, &x, mode),
            &encoder_vars,
            per_tensor,
            1e-6,
            1e-8,
        );
        assert!(err < 1e-4, "{mode:?}: worst {at} (rel err {err})");

        let encoded = m.encode(&x, mode).unwrap().detach();
        let through_back_end =
            |rng_seed: u64| combine_logits(&m.classify(&encoded, mode, &mut Rng::new(rng_seed))?);
        let whole = check_loss(&m, &x, mode)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let split = through_back_end(11).unwrap().to_scalar::<f64>().unwrap();
        assert_eq!(whole, split, "encode + classify is the forward pass");
        let (err, at) = check_vars(
            || through_back_end(11),
            &back_end_vars,
            per_tensor,
            1e-5,
            1e-9,
        );
        assert!(err < 1e-4, "{mode:?}: worst {at} (rel err {err})");
    }
}

/// One tensor of each kind of layer of the real AASIST-L (full widths, 70 sinc filters of 129
/// taps): the tiny model's check above carries over only if size changes nothing.
#[test]
fn finite_difference_gradients_of_representative_aasist_l_tensors() {
    let m = model(AasistConfig::aasist_l(), DType::F64);
    let x = noise_clips(2400);
    let only = [
        "first_bn.weight",
        "encoder.0.0.conv1.weight",
        "encoder.2.0.conv_downsample.weight",
        "encoder.4.0.bn2.bias",
        "pos_S",
        "GAT_layer_T.att_weight",
        "HtrgGAT_layer_ST12.att_weight12",
        "HtrgGAT_layer_ST21.proj_without_attM.weight",
        "pool_hS2.proj.weight",
        "master1",
        "out_layer.weight",
    ];
    let vars: Vec<NamedVar> = m
        .trainable()
        .iter()
        .filter(|v| only.contains(&v.name.as_str()))
        .cloned()
        .collect();
    assert_eq!(vars.len(), only.len());
    let (err, at) = check_vars(
        || check_loss(&m, &x, Mode::TrainFrozenStats),
        &vars,
        1,
        1e-6,
        1e-6,
    );
    assert!(err < 1e-4, "worst {at} (rel err {err})");
}

/// Every trainable tensor of the real AASIST-L (about 175 × 2 full-size forward passes, well
/// under a minute with the CPU kernels).
#[test]
fn finite_difference_gradients_of_every_aasist_l_tensor() {
    let m = model(AasistConfig::aasist_l(), DType::F64);
    let x = noise_clips(2400);
    let (err, at) = check_vars(
        || check_loss(&m, &x, Mode::TrainFrozenStats),
        m.trainable(),
        1,
        1e-6,
        1e-6,
    );
    println!("worst {at} (rel err {err})");
    assert!(err < 1e-4, "worst {at} (rel err {err})");
}

#[test]
fn import_weights_cli_writes_checkpoint_and_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.safetensors");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_dpda"))
        .arg("import-weights")
        .arg(fixture("random_weights.safetensors"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("imported.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["model"], "aasist-l");
    assert_eq!(sidecar["num_parameters"], 85_306);
    let written = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
    let source = read_fixture("random_weights.safetensors");
    assert_eq!(flat(&written["pos_S"]), flat(&source["pos_S"]));

    // A forced wrong architecture fails and names the problem.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_dpda"))
        .args(["import-weights", "--model", "aasist"])
        .arg(fixture("random_weights.safetensors"))
        .arg(dir.path().join("wrong.safetensors"))
        .output()
        .unwrap();
    assert!(!status.status.success());
    assert!(String::from_utf8_lossy(&status.stderr).contains("mismatched shapes"));
}

#[test]
fn registry_builds_both_variants() {
    use dpda::nn::registry::{build_model, ModelOptions};
    let m = build_model(
        "aasist-l".parse().unwrap(),
        &ModelOptions::default(),
        4,
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    assert_eq!(m.name(), "aasist-l");
    let count: usize = m.trainable().iter().map(|v| v.var.elem_count()).sum();
    assert_eq!(count, 85_306);
    let full = build_model(
        "aasist".parse().unwrap(),
        &ModelOptions::default(),
        4,
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    assert_eq!(full.name(), "aasist");
    let options = ModelOptions {
        dropout: Some(0.1),
        ..ModelOptions::default()
    };
    assert!(matches!(
        build_model(
            "aasist".parse().unwrap(),
            &options,
            4,
            &Device::Cpu,
            DType::F32
        ),
        Err(NnError::InvalidOption {
            field: "dropout",
            ..
        })
    ));
}

#[test]
fn scorer_scores_with_the_released_pth_as_the_imported_model_does() {
    use dpda::inference::{ModelRequest, Scorer};
    let Some(path) = pretrained("AASIST-L.pth") else {
        return;
    };
    let io = read_fixture("released_io.safetensors");
    let clip: Vec<f32> = io["clips"]
        .get(0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec1()
        .unwrap();
    let scorer = Scorer::load(&ModelRequest {
        path: path.clone(),
        model: Some("aasist-l".into()),
        num_samples: None,
        ..ModelRequest::default()
    })
    .unwrap();
    assert_eq!(scorer.info().name, "aasist-l");
    // The AASIST family is scored on its training length, not dpda_ga's 66,800.
    assert_eq!(scorer.info().num_samples, 64_600);
    let score = scorer.score(&clip).unwrap();
    // The same crop through the imported model: column 1 is the bona fide logit.
    let m = model(AasistConfig::aasist_l(), DType::F32);
    load_weights(&m, &path).unwrap();
    let n = scorer.info().num_samples;
    let crop = dpda::audio::repeat_pad(&clip, n);
    let x = Tensor::from_vec(crop, (1, n), &Device::Cpu).unwrap();
    let logits = flat(&m.forward(&x, Mode::Eval, &mut Rng::new(0)).unwrap());
    assert!(
        (score - logits[1]).abs() <= 1e-5 * logits[1].abs().max(1.0),
        "scorer {score} vs model {}",
        logits[1]
    );
}

#[test]
fn scorer_recognises_which_released_model_a_pth_holds() {
    use dpda::inference::{ModelRequest, Scorer};
    for (file, want) in [("AASIST-L.pth", "aasist-l"), ("AASIST.pth", "aasist")] {
        let Some(path) = pretrained(file) else {
            return;
        };
        let scorer = Scorer::load(&ModelRequest::new(path)).unwrap();
        assert_eq!(scorer.info().name, want, "{file}");
        assert!(
            scorer.info().name_origin.contains("recognised"),
            "{}",
            scorer.info().name_origin
        );
    }
    // A file of no known architecture names each attempt.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.safetensors");
    let mut tensors = HashMap::new();
    tensors.insert(
        "w".to_string(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, &bogus).unwrap();
    let err = Scorer::load(&ModelRequest::new(bogus))
        .err()
        .expect("no model matches")
        .to_string();
    assert!(
        err.contains("not aasist-l:") && err.contains("not aasist:") && err.contains("--model"),
        "{err}"
    );
}
