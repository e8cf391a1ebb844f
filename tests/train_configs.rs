//! Every configuration under `experiments/` parses into a plan; unknown keys and out-of-range
//! values are refused with the key's name; the paper configs check their corpus path.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;

use dpda::train::align::{AlignMethod, CaGradSolver};
use dpda::train::average::Averaging;
use dpda::train::config::{load_plan, plan_from_str, CorpusPlan, TestKind, TrainMode};
use dpda::train::step::DevLoss;
use dpda::train::TrainError;

#[test]
fn every_experiment_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let plan = load_plan(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(plan.train.class_weights, [0.1, 0.9], "{}", path.display());
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    for expected in [
        "demo-plain",
        "demo-augmented",
        "demo-dual-none",
        "demo-dual-pcgrad",
        "demo-dual-gradvac",
        "demo-dual-cagrad",
        "demo-dual-mgda",
        "demo-sam",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    let pcgrad = load_plan(&dir.join("demo-dual-pcgrad.toml"), &[]).unwrap();
    assert_eq!(pcgrad.train.mode, TrainMode::Dual);
    assert_eq!(pcgrad.train.align, AlignMethod::PcGrad);
    assert!(load_plan(&dir.join("demo-sam.toml"), &[])
        .unwrap()
        .sam
        .is_some());
}

#[test]
fn unknown_keys_are_refused_with_their_name() {
    for (text, key) in [
        ("[train]\nlearning_rate = 0.1\n", "learning_rate"),
        ("[optim]\nbeta = 0.9\n", "beta"),
        ("[sam]\nenable = true\n", "enable"),
        ("[data.rawboost]\nsnr_db = 3.0\n", "snr_db"),
        ("[trainer]\nmode = \"dual\"\n", "trainer"),
    ] {
        let err = plan_from_str(text, "x.toml", &[]).unwrap_err().to_string();
        assert!(
            err.contains(key) && err.contains("x.toml"),
            "{text:?} → {err}"
        );
    }
}

#[test]
fn out_of_range_values_are_refused_with_their_key() {
    for (set, key) in [
        ("train.batch_size=0", "train.batch_size"),
        ("train.epochs=0", "train.epochs"),
        ("train.keep_best=0", "train.keep_best"),
        ("optim.lr=0", "optim.lr"),
        ("optim.beta2=1.5", "optim.beta2"),
        ("sam.enabled=true", ""),
        ("data.rawboost_algo=9", "data.rawboost_algo"),
        ("data.num_samples=0", "data.num_samples"),
        ("train.class_weights=[-1.0, 1.0]", "train.class_weights"),
        ("device.kind=\"tpu\"", "device.kind"),
        ("schedule.name=\"linear\"", "schedule.name"),
        ("model.name=\"resnet\"", "model.name"),
        ("model.options.dropuot=0.5", "model.options"),
        ("train.dev_loss=\"batched\"", "train.dev_loss"),
        ("train.averaging=\"median\"", "train.averaging"),
        ("train.cagrad_solver=\"slsqp\"", "train.cagrad_solver"),
    ] {
        let result = plan_from_str("", "x.toml", &[set.to_string()]);
        if key.is_empty() {
            assert!(result.is_ok(), "{set} should be accepted");
            continue;
        }
        let err = result.unwrap_err().to_string();
        assert!(err.starts_with(&format!("{key}:")), "{set} → {err}");
    }
}

#[test]
fn paper_configs_name_a_missing_corpus_root() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let missing = tempfile::tempdir().unwrap().path().join("no-such-LA");
    let plan = load_plan(
        &dir.join("asvspoof2019-la-lcnn-dual-pcgrad.toml"),
        &[format!("data.root=\"{}\"", missing.display())],
    )
    .unwrap();
    assert!(matches!(
        plan.data.corpus,
        CorpusPlan::Asvspoof2019La { .. }
    ));
    let err =
        dpda::train::data::load_split(&plan.data, dpda::data::corpus::Split::Train).unwrap_err();
    assert!(matches!(
        err,
        TrainError::DataPath {
            key: "data.root",
            ..
        }
    ));
    assert!(err.to_string().contains("no-such-LA"), "{err}");
}

#[test]
fn lcnn_configs_train_at_a_from_scratch_rate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    for mode in ["augmented", "dual-none", "dual-pcgrad"] {
        let path = dir.join(format!("asvspoof2019-la-lcnn-{mode}.toml"));
        let plan = load_plan(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(plan.model.kind.name(), "lcnn");
        // 1e-6 is XLS-R's fine-tuning rate; a model from scratch needs the baseline's 3e-4.
        assert!(
            plan.optim.lr >= 1e-4,
            "{}: lr {}",
            path.display(),
            plan.optim.lr
        );
    }
}

#[test]
fn paper_configs_cover_both_backbones_every_aligner_and_the_four_test_sets() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/paper");
    for model in ["xlsr-tcm", "xlsr-aasist"] {
        for (align, method) in [
            ("none", AlignMethod::None),
            ("pcgrad", AlignMethod::PcGrad),
            ("gradvac", "gradvac".parse().unwrap()),
            // CAGrad with the reference's SLSQP solver.
            (
                "cagrad",
                AlignMethod::CaGrad {
                    c: 0.5,
                    solver: CaGradSolver::Reference,
                },
            ),
        ] {
            let path = dir.join(format!("{model}-dual-{align}.toml"));
            let plan = load_plan(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let at = path.display();
            assert_eq!(plan.model.kind.name(), model, "{at}");
            assert_eq!(plan.train.mode, TrainMode::Dual, "{at}");
            assert_eq!(plan.train.align, method, "{at}");
            // dpda_ga main.py: lr 1e-6, weight decay 1e-4, batch 5, patience 7, 5 best averaged.
            assert_eq!(plan.optim.lr, 1e-6, "{at}");
            assert_eq!(plan.train.batch_size, 5, "{at}");
            assert_eq!(plan.train.patience, 7, "{at}");
            assert_eq!(plan.train.keep_best, 5, "{at}");
            assert_eq!(plan.train.seed, 1234, "{at}");
            assert_eq!(plan.data.num_samples, 66_800, "{at}");
            assert_eq!(plan.data.rawboost_algo.number(), 4, "{at}");
            let kinds: Vec<(&str, TestKind)> = plan
                .tests
                .iter()
                .map(|t| (t.name.as_str(), t.kind))
                .collect();
            assert_eq!(
                kinds,
                [
                    ("la2021", TestKind::La2021),
                    ("df2021", TestKind::Df2021),
                    ("itw", TestKind::InTheWild),
                    ("for", TestKind::For)
                ],
                "{at}"
            );
            assert!(plan.tests[..2]
                .iter()
                .all(|t| t.subset.as_deref() == Some("eval")));
            // The reference's model selection, bugs included.
            assert_eq!(plan.train.dev_loss, DevLoss::Reference, "{at}");
            assert_eq!(plan.train.averaging, Averaging::Reference, "{at}");
        }
    }
}

#[test]
fn test_set_entries_are_checked_with_their_field() {
    for (text, field) in [
        ("[[test]]\nname = \"a b\"\nkind = \"itw\"\nroot = \"x\"\n", "test[0].name"),
        ("[[test]]\nname = \"a\"\nkind = \"wild\"\nroot = \"x\"\n", "test[0].kind"),
        ("[[test]]\nname = \"a\"\nkind = \"la2021\"\nroot = \"x\"\n", "test[0].key"),
        ("[[test]]\nname = \"a\"\nkind = \"itw\"\nroot = \"x\"\nsubset = \"eval\"\n", "test[0].subset"),
        (
            "[[test]]\nname = \"a\"\nkind = \"itw\"\nroot = \"x\"\n[[test]]\nname = \"a\"\nkind = \"for\"\nroot = \"y\"\n",
            "test[1].name",
        ),
        ("[[test]]\nname = \"a\"\nkind = \"itw\"\nroot = \"x\"\nroots = \"y\"\n", "roots"),
        ("[[test]]\nname = \"eval\"\nkind = \"itw\"\nroot = \"x\"\n", "test[0].name"),
    ] {
        let err = plan_from_str(text, "x.toml", &[]).unwrap_err().to_string();
        assert!(err.contains(field), "{text:?} → {err}");
    }
}
