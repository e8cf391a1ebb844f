//! The XLS-R backbones against PyTorch: the wav2vec 2.0 encoder against Hugging Face's
//! `Wav2Vec2Model`, XLSR-AASIST and XLSR-Conformer-TCM against the reference architectures
//! (fixtures from `scripts/xlsr_reference.py`), the weight loaders on files with the released key
//! names, and finite-difference gradient checks on every parameter tensor of the tiny models.
//! The fairseq checkpoint fixtures (`fairseq_*.pt`, from `scripts/fairseq_checkpoint_fixture.py`)
//! hold the Hugging Face fixture's encoder in fairseq's full training-checkpoint layout.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use dpda::nn::gradcheck::{gradcheck, projection_loss, GradcheckOptions};
use dpda::nn::import::{assign_state, load_weights};
use dpda::nn::import_xlsr::{
    front_end_tensors, hf_to_fairseq, load_front_end, load_front_end_report, FrontEndLayout,
};
use dpda::nn::layers::ParamBuilder;
use dpda::nn::registry::{build_model, ModelOptions};
use dpda::nn::wav2vec2::{Wav2Vec2, Wav2Vec2Config};
use dpda::nn::{Mode, Model, NamedVar, NnError};
use dpda::rng::Rng;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/xlsr")
        .join(name)
}

fn read(name: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(name), &Device::Cpu).unwrap()
}

/// Tensors whose names start with `prefix`, with the prefix removed, as f64.
fn strip(all: &HashMap<String, Tensor>, prefix: &str) -> HashMap<String, Tensor> {
    all.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .map(|n| (n.to_string(), v.to_dtype(DType::F64).unwrap()))
        })
        .collect()
}

/// max |a − b| / max |b|.
fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    let b = b.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    let diff = (a - &b).unwrap().abs().unwrap().max(0).unwrap();
    let scale = b.abs().unwrap().max(0).unwrap();
    diff.to_scalar::<f64>().unwrap() / scale.to_scalar::<f64>().unwrap().max(1e-12)
}

fn tiny_model(name: &str, dtype: DType) -> Box<dyn Model> {
    build_model(
        name.parse().unwrap(),
        &ModelOptions::default(),
        7,
        &Device::Cpu,
        dtype,
    )
    .unwrap()
}

/// The tiny encoder alone, its variables filled from the Hugging Face fixture.
fn hf_encoder(dtype: DType) -> (Wav2Vec2, VarMap, Vec<NamedVar>) {
    let all = read("wav2vec2_tiny.safetensors");
    let varmap = VarMap::new();
    let mut rng = Rng::new(0);
    let mut pb = ParamBuilder::new(&varmap, &mut rng, &Device::Cpu, dtype);
    let encoder = Wav2Vec2::new(&mut pb, "", Wav2Vec2Config::tiny()).unwrap();
    let trainable = pb.into_trainable();
    let weights: HashMap<String, Tensor> = strip(&all, "hf.")
        .into_iter()
        .filter_map(|(k, v)| hf_to_fairseq(&k).map(|k| (k, v)))
        .collect();
    let data = varmap.data().lock().unwrap();
    assert_eq!(data.len(), weights.len());
    for (name, var) in data.iter() {
        let w = weights
            .get(name)
            .unwrap_or_else(|| panic!("fixture lacks {name}"));
        var.set(&w.to_dtype(dtype).unwrap()).unwrap();
    }
    drop(data);
    (encoder, varmap, trainable)
}

#[test]
fn wav2vec2_matches_hugging_face_forward_and_gradients() {
    let all = read("wav2vec2_tiny.safetensors");
    let expected = &all["hidden"];
    for dtype in [DType::F64, DType::F32] {
        let (encoder, _varmap, trainable) = hf_encoder(dtype);
        let input = candle_core::Var::from_tensor(&all["input"].to_dtype(dtype).unwrap()).unwrap();
        let hidden = encoder
            .forward(input.as_tensor(), Mode::Eval, &mut Rng::new(0))
            .unwrap();
        assert_eq!(hidden.dims(), expected.dims());
        let tol = if dtype == DType::F64 { 1e-9 } else { 1e-4 };
        let err = rel_err(&hidden, expected);
        assert!(err < tol, "{dtype:?} forward: relative error {err}");
        if dtype == DType::F32 {
            continue;
        }
        let proj = all["proj"].to_dtype(dtype).unwrap();
        let grads = (hidden * proj)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let mut checked = 0;
        for v in &trainable {
            let want = &all[&format!("grad.{}", v.name)];
            let got = grads.get(v.var.as_tensor()).unwrap();
            let err = rel_err(got, want);
            assert!(err < 1e-4, "gradient of {}: relative error {err}", v.name);
            checked += 1;
        }
        let err = rel_err(grads.get(input.as_tensor()).unwrap(), &all["grad.input"]);
        assert!(err < 1e-4, "input gradient: relative error {err}");
        assert_eq!(checked, trainable.len());
        assert!(checked > 40);
    }
}

/// Loads the `w.*` weights of a detector fixture and compares eval-mode logits and the gradient
/// of the summed bona fide logit with PyTorch.
fn check_detector(model_name: &str, fixture_name: &str) {
    let all = read(fixture_name);
    let model = tiny_model(model_name, DType::F64);
    assign_state(model.as_ref(), &strip(&all, "w."), &fixture(fixture_name)).unwrap();
    let input = all["input"].to_dtype(DType::F64).unwrap();
    let logits = model.forward(&input, Mode::Eval, &mut Rng::new(0)).unwrap();
    assert_eq!(logits.dims(), &[2, 2]);
    let err = rel_err(&logits, &all["logits"]);
    assert!(err < 1e-8, "{model_name} logits: relative error {err}");
    let grads = logits
        .narrow(1, 1, 1)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let mut checked = 0;
    for v in model.trainable() {
        let Some(want) = all.get(&format!("grad.{}", v.name)) else {
            continue;
        };
        let zero = v.var.as_tensor().zeros_like().unwrap();
        let got = grads.get(v.var.as_tensor()).unwrap_or(&zero);
        let err = rel_err(got, want);
        // A gradient that is exactly zero in PyTorch (e.g. the unused bn1) must be zero here.
        let scale = want
            .abs()
            .unwrap()
            .max_keepdim(0)
            .unwrap()
            .flatten_all()
            .unwrap();
        let scale = scale.max(0).unwrap().to_scalar::<f64>().unwrap();
        if scale == 0.0 {
            let got_max = got.abs().unwrap().flatten_all().unwrap().max(0).unwrap();
            assert_eq!(got_max.to_scalar::<f64>().unwrap(), 0.0, "{}", v.name);
        } else {
            assert!(
                err < 1e-4,
                "{model_name} gradient of {}: relative error {err}",
                v.name
            );
        }
        checked += 1;
    }
    assert!(
        checked * 10 >= model.trainable().len() * 9,
        "only {checked} of {} gradients in the fixture",
        model.trainable().len()
    );
}

#[test]
fn ssl_aasist_matches_reference() {
    check_detector("xlsr-tiny-aasist", "ssl_aasist_tiny.safetensors");
}

#[test]
fn conformer_tcm_matches_reference() {
    check_detector("xlsr-tiny-tcm", "conformer_tcm_tiny.safetensors");
}

#[test]
fn dpda_ga_state_dict_loads_with_its_key_names() {
    // torch.save(model.state_dict()) as dpda_ga writes best.pth: num_batches_tracked and the
    // XLS-R pretraining entries (mask_emb, quantizer) are in the file and must be skipped.
    let model = tiny_model("xlsr-tiny-aasist", DType::F64);
    load_weights(model.as_ref(), &fixture("ssl_aasist_tiny_best.pth")).unwrap();
    let all = read("ssl_aasist_tiny.safetensors");
    let input = all["input"].to_dtype(DType::F64).unwrap();
    let logits = model.forward(&input, Mode::Eval, &mut Rng::new(0)).unwrap();
    let err = rel_err(&logits, &all["logits"]);
    assert!(err < 1e-8, "relative error {err}");
}

fn front_end_values(model: &dyn Model) -> HashMap<String, Vec<f64>> {
    let data = model.state().data().lock().unwrap();
    data.iter()
        .filter(|(k, _)| k.starts_with("ssl_model.model."))
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_dtype(DType::F64)
                    .unwrap()
                    .to_vec1()
                    .unwrap(),
            )
        })
        .collect()
}

#[test]
fn front_end_loads_from_fairseq_and_hugging_face_files() {
    let all = read("ssl_aasist_tiny.safetensors");
    let expected: HashMap<String, Tensor> = strip(&all, "w.")
        .into_iter()
        .filter(|(k, _)| k.starts_with("ssl_model.model."))
        .collect();

    // fairseq: {"model": state_dict, "cfg": ...} with pretraining-only entries.
    let a = tiny_model("xlsr-tiny-aasist", DType::F32);
    let before = front_end_values(a.as_ref());
    let n = load_front_end(a.as_ref(), &fixture("fairseq_tiny.pt")).unwrap();
    assert_eq!(n, before.len());
    let after = front_end_values(a.as_ref());
    assert_ne!(before, after);

    // Hugging Face: `wav2vec2.`-prefixed names with parametrized weight norm, plus a
    // pretraining head, written as safetensors.
    let hf = read("wav2vec2_tiny.safetensors");
    let mut hf_file: HashMap<String, Tensor> = strip(&hf, "hf.")
        .into_iter()
        .map(|(k, v)| (format!("wav2vec2.{k}"), v.to_dtype(DType::F32).unwrap()))
        .collect();
    hf_file.insert(
        "quantizer.codevectors".into(),
        Tensor::zeros((1, 4, 2), DType::F32, &Device::Cpu).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    candle_core::safetensors::save(&hf_file, &path).unwrap();
    let b = tiny_model("xlsr-tiny-aasist", DType::F32);
    load_front_end(b.as_ref(), &path).unwrap();
    // Both files hold the same encoder (the fixture script wrote one from the other's weights).
    assert_eq!(after, front_end_values(b.as_ref()));
    // And they equal the detector fixture's front end, which was built from the same seed.
    let fe = front_end_tensors(expected.clone());
    assert_eq!(fe.len(), expected.len());

    // A detector checkpoint also serves as a front-end source.
    let c = tiny_model("xlsr-tiny-tcm", DType::F32);
    load_front_end(c.as_ref(), &fixture("ssl_aasist_tiny_best.pth")).unwrap();
    assert_eq!(front_end_values(c.as_ref()).len(), after.len());
}

#[test]
fn loading_errors_name_missing_and_mismatched_tensors() {
    let all = read("ssl_aasist_tiny.safetensors");
    let mut weights = strip(&all, "w.");
    weights.remove("HtrgGAT_layer_ST12.att_weight12");
    weights.insert(
        "LL.weight".into(),
        Tensor::zeros((3, 3), DType::F64, &Device::Cpu).unwrap(),
    );
    let model = tiny_model("xlsr-tiny-aasist", DType::F64);
    let err = assign_state(model.as_ref(), &weights, Path::new("best.pth"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("HtrgGAT_layer_ST12.att_weight12"), "{err}");
    assert!(err.contains("LL.weight"), "{err}");
    assert!(err.contains("best.pth"), "{err}");

    // A front end of the wrong size: the tiny fairseq file into a model with another width.
    let hf = read("wav2vec2_tiny.safetensors");
    let mut fe: HashMap<String, Tensor> = strip(&hf, "hf.");
    fe.remove("encoder.layer_norm.bias");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("xlsr.safetensors");
    candle_core::safetensors::save(&fe, &path).unwrap();
    let err = load_front_end(model.as_ref(), &path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("ssl_model.model.encoder.layer_norm.bias") && err.contains("missing"),
        "{err}"
    );
    assert!(matches!(
        load_front_end(model.as_ref(), Path::new("no/such/xlsr2_300m.pt")),
        Err(NnError::Load { .. })
    ));
}

fn gradcheck_model(name: &str) {
    let model = tiny_model(name, DType::F64);
    let mut rng = Rng::new(11);
    let x: Vec<f64> = (0..2 * 400).map(|_| rng.uniform(-0.5, 0.5)).collect();
    let x = Tensor::from_vec(x, (2, 400), &Device::Cpu).unwrap();
    // Some gradients are exactly zero (a bias before a training-mode BatchNorm, the key bias of
    // attention): their differences are rounding noise, hence the absolute floor.
    let options = GradcheckOptions {
        samples_per_tensor: 3,
        abs_floor: 1e-7,
        ..GradcheckOptions::default()
    };
    let report = gradcheck(
        || {
            // Same dropout masks on every call: the loss must be a deterministic function.
            let y = model.forward(&x, Mode::TrainFrozenStats, &mut Rng::new(5))?;
            projection_loss(&y, 3)
        },
        model.trainable(),
        None,
        &options,
    )
    .unwrap();
    assert_eq!(report.per_tensor.len(), model.trainable().len());
    let failures = report.failures(1e-4);
    assert!(failures.is_empty(), "{name}: {failures:?}");
}

#[test]
fn ssl_aasist_gradients_match_finite_differences() {
    gradcheck_model("xlsr-tiny-aasist");
}

#[test]
fn conformer_tcm_gradients_match_finite_differences() {
    gradcheck_model("xlsr-tiny-tcm");
}

#[test]
fn wav2vec2_input_gradient_matches_finite_differences() {
    let (encoder, _varmap, trainable) = hf_encoder(DType::F64);
    let x = dpda::nn::gradcheck::random_var(&[2, 400], DType::F64, 9).unwrap();
    let options = GradcheckOptions {
        samples_per_tensor: 4,
        abs_floor: 1e-7,
        ..GradcheckOptions::default()
    };
    let report = gradcheck(
        || {
            projection_loss(
                &encoder.forward(x.as_tensor(), Mode::Eval, &mut Rng::new(0))?,
                1,
            )
        },
        &trainable,
        Some(&x),
        &options,
    )
    .unwrap();
    let failures = report.failures(1e-4);
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn frozen_front_end_gets_no_gradient() {
    let options = ModelOptions {
        freeze_front_end: true,
        ..ModelOptions::default()
    };
    let model = build_model(
        "xlsr-tiny-tcm".parse().unwrap(),
        &options,
        1,
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    assert!(model
        .trainable()
        .iter()
        .all(|v| !v.name.starts_with("ssl_model.")));
    let full = tiny_model("xlsr-tiny-tcm", DType::F32);
    assert!(full.trainable().len() > model.trainable().len());
    assert!(matches!(
        build_model(
            "lcnn-small".parse().unwrap(),
            &options,
            1,
            &Device::Cpu,
            DType::F32
        ),
        Err(NnError::InvalidOption { .. })
    ));
}

#[test]
fn configs_accept_the_xlsr_names_and_options() {
    use dpda::train::plan_from_str;
    for name in [
        "xlsr-aasist",
        "xlsr-tcm",
        "xlsr-tiny-aasist",
        "xlsr-tiny-tcm",
    ] {
        let text = format!(
            "[model]\nname = \"{name}\"\n[model.options]\nfreeze_front_end = true\n\
             front_end_weights = \"xlsr2_300m.pt\"\n"
        );
        let plan = plan_from_str(&text, "c", &[]).unwrap();
        assert_eq!(plan.model.kind.name(), name);
    }
    let err = plan_from_str("[model]\nname = \"xlsr-large\"\n", "c", &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("xlsr-large"), "{err}");
    // A misspelt option is an error, not a silent default.
    assert!(plan_from_str(
        "[model]\nname = \"xlsr-tcm\"\n[model.options]\nfreeze_frontend = true\n",
        "c",
        &[]
    )
    .is_err());
}

/// A standalone encoder holding the front end of `model`, to compare with Hugging Face's output.
fn encoder_of(model: &dyn Model) -> Wav2Vec2 {
    let varmap = VarMap::new();
    let mut rng = Rng::new(0);
    let mut pb = ParamBuilder::new(&varmap, &mut rng, &Device::Cpu, DType::F32);
    let encoder = Wav2Vec2::new(&mut pb, "", Wav2Vec2Config::tiny()).unwrap();
    let ours = model.state().data().lock().unwrap();
    let data = varmap.data().lock().unwrap();
    for (name, var) in data.iter() {
        let from = &ours[&format!("ssl_model.model.{name}")];
        var.set(from.as_tensor()).unwrap();
    }
    // The encoder's tensors share storage with the variables just set.
    encoder
}

#[test]
fn fairseq_training_checkpoint_loads_and_matches_hugging_face() {
    // cfg is an omegaconf DictConfig with fairseq enums and dataclasses, extra_state holds meter
    // objects, a set, a defaultdict, bytes and a numpy scalar, and last_optimizer_state Adam's
    // tensors: all of it must be parsed past without failing the load.
    let model = tiny_model("xlsr-tiny-aasist", DType::F32);
    let num_front_end = front_end_values(model.as_ref()).len();
    let report = load_front_end_report(model.as_ref(), &fixture("fairseq_xlsr_tiny.pt")).unwrap();
    assert_eq!(report.layout, FrontEndLayout::Fairseq);
    assert_eq!(report.num_assigned, num_front_end);
    assert_eq!(
        report.ignored,
        [
            "final_proj.bias",
            "final_proj.weight",
            "mask_emb",
            "project_q.bias",
            "project_q.weight",
            "quantizer.vars",
            "quantizer.weight_proj.bias",
            "quantizer.weight_proj.weight",
        ]
    );
    let all = read("wav2vec2_tiny.safetensors");
    let encoder = encoder_of(model.as_ref());
    let input = all["input"].to_dtype(DType::F32).unwrap();
    let hidden = encoder
        .forward(&input, Mode::Eval, &mut Rng::new(0))
        .unwrap();
    assert_eq!(hidden.dims(), all["hidden"].dims());
    let err = rel_err(&hidden, &all["hidden"]);
    assert!(err < 1e-4, "relative error {err}");
}

#[test]
fn fairseq_fine_tuned_checkpoint_gives_the_same_encoder() {
    let pretrained = tiny_model("xlsr-tiny-aasist", DType::F32);
    load_front_end(pretrained.as_ref(), &fixture("fairseq_xlsr_tiny.pt")).unwrap();
    let fine_tuned = tiny_model("xlsr-tiny-tcm", DType::F32);
    let report =
        load_front_end_report(fine_tuned.as_ref(), &fixture("fairseq_ctc_tiny.pt")).unwrap();
    assert_eq!(report.layout, FrontEndLayout::FairseqFineTuned);
    assert_eq!(
        report.ignored,
        [
            "w2v_encoder.proj.bias",
            "w2v_encoder.proj.weight",
            "w2v_encoder.w2v_model.mask_emb",
        ]
    );
    assert_eq!(
        front_end_values(pretrained.as_ref()),
        front_end_values(fine_tuned.as_ref())
    );
}

#[test]
fn fairseq_loading_errors_name_missing_and_mismatched_tensors() {
    // One tensor removed and one transposed in an otherwise complete fairseq checkpoint.
    let model = tiny_model("xlsr-tiny-aasist", DType::F32);
    let before = front_end_values(model.as_ref());
    let err = load_front_end(model.as_ref(), &fixture("fairseq_xlsr_tiny_broken.pt"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("fairseq_xlsr_tiny_broken.pt"), "{err}");
    assert!(err.contains("fairseq front end"), "{err}");
    assert!(
        err.contains("1 missing: ssl_model.model.encoder.layers.1.fc2.bias"),
        "{err}"
    );
    assert!(
        err.contains("ssl_model.model.post_extract_proj.weight (file [8, 16], model [16, 8])"),
        "{err}"
    );
    // Nothing was half-loaded.
    assert_eq!(before, front_end_values(model.as_ref()));
}

#[test]
fn non_zip_checkpoints_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("xlsr2_300m.pt");
    // The opening of a pre-1.6 torch.save stream: pickle protocol 2, then the magic number.
    std::fs::write(&legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]).unwrap();
    let text = dir.path().join("notes.pt");
    std::fs::write(&text, "not weights").unwrap();
    let model = tiny_model("xlsr-tiny-aasist", DType::F32);
    let err = |p: &Path| {
        load_front_end(model.as_ref(), p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(
        err(&legacy).contains("legacy (pre-1.6) torch.save"),
        "{}",
        err(&legacy)
    );
    assert!(err(&text).contains("no zip signature"), "{}", err(&text));
}
