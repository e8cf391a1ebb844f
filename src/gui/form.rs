//! The experiment form: what the train view edits, kept as text where the user types numbers so
//! that a wrong entry can be shown rather than refused. Checking builds a [`RawConfig`] from the
//! form and runs the trainer's own plan validation, mapping each error to its configuration key
//! (the field's id); the same `RawConfig` is what "Save" writes and "Load" reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::theme;
use crate::augment::{RawBoostAlgo, RawBoostParams};
use crate::nn::registry::ModelKind;
use crate::train::config::{ConfigError, Plan, RawConfig, RawData, RawOptim, RawSam, RawTrain};

/// The experiment the app opens with (also what `experiments/demo-dual-pcgrad.toml` holds).
const DEFAULT_EXPERIMENT: &str = include_str!("../../experiments/demo-dual-pcgrad.toml");

/// Field key for errors that are not about one field.
pub const GENERAL_KEY: &str = "config";

/// Where the clips come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CorpusChoice {
    /// The built-in synthetic corpus.
    Demo,
    /// An ASVspoof 2019 LA folder.
    Asvspoof2019La,
    /// CSV lists (`path,label[,attack]`).
    Csv,
}

/// What a file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogTarget {
    DatasetRoot,
    TrainCsv,
    DevCsv,
    EvalCsv,
    LoadExperiment,
    SaveExperiment,
    RunsDir,
}

/// What the user asked for in the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormAction {
    Browse(DialogTarget),
    LoadExperiment,
    SaveExperiment,
}

/// The form's fields; numbers the user types are kept as text until checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExperimentForm {
    pub corpus: CorpusChoice,
    pub demo_size: String,
    /// ASVspoof 2019 LA root folder.
    pub dataset_root: String,
    pub train_csv: String,
    pub dev_csv: String,
    pub eval_csv: String,
    pub num_samples: String,
    pub model: String,
    pub mode: String,
    pub align: String,
    pub rawboost_algo: i64,
    pub rawboost: RawBoostParams,
    pub optimizer: String,
    pub sam_enabled: bool,
    pub sam_rho: String,
    pub lr: String,
    pub batch_size: String,
    pub epochs: String,
    pub patience: String,
    pub seed: String,
    pub max_steps: String,
    pub per_layer_cos_every: String,
    /// `cpu`, `auto` (the GPU when usable, else the CPU) or `cuda`.
    pub device: String,
    /// The experiment file "Load" reads and "Save" writes (typed or picked).
    pub experiment_file: String,
    /// Settings the form does not show, kept from the loaded experiment.
    pub base: RawConfig,
}

impl Default for ExperimentForm {
    fn default() -> Self {
        let raw = toml::from_str::<RawConfig>(DEFAULT_EXPERIMENT).unwrap_or_default();
        Self::from_raw(raw)
    }
}

/// The result of checking the form: a plan when every field is valid, else messages by key.
#[derive(Clone, Debug, Default)]
pub struct FormCheck {
    pub plan: Option<Plan>,
    pub errors: BTreeMap<String, String>,
}

fn opt_path(text: &str) -> Option<std::path::PathBuf> {
    let t = text.trim();
    (!t.is_empty()).then(|| std::path::PathBuf::from(t))
}

fn path_text(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn parse_field<T: std::str::FromStr>(
    errors: &mut BTreeMap<String, String>,
    key: &str,
    text: &str,
    what: &str,
) -> Option<T> {
    match text.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => {
            errors.insert(key.to_string(), format!("'{}' is not {what}", text.trim()));
            None
        }
    }
}

/// Put the default back for `key` so that checking can go on to the next field; false when the
/// key is not one it knows (checking then stops at this error).
fn reset_key(raw: &mut RawConfig, key: &str) -> bool {
    let d = RawData::default();
    let t = RawTrain::default();
    let o = RawOptim::default();
    match key {
        "data.corpus" | "data.root" | "data.train_csv" | "data.dev_csv" => {
            raw.data.corpus = d.corpus;
            raw.data.demo_size = d.demo_size;
        }
        "data.demo_size" => raw.data.demo_size = d.demo_size,
        "data.num_samples" => raw.data.num_samples = d.num_samples,
        "data.rawboost_algo" => raw.data.rawboost_algo = d.rawboost_algo,
        "data.rawboost" => raw.data.rawboost = d.rawboost,
        "model.name" | "model.options" => raw.model = Default::default(),
        "train.mode" => {
            raw.train.mode = t.mode;
        }
        "train.align" => raw.train.align = t.align,
        "train.batch_size" => raw.train.batch_size = t.batch_size,
        "train.epochs" => raw.train.epochs = t.epochs,
        "train.patience" => raw.train.patience = t.patience,
        "train.keep_best" => raw.train.keep_best = t.keep_best,
        "train.class_weights" => raw.train.class_weights = t.class_weights,
        "train.clip_grad_norm" => raw.train.clip_grad_norm = t.clip_grad_norm,
        "optim.lr" => raw.optim.lr = o.lr,
        "optim.name" => raw.optim.name = o.name,
        "sam.rho" => raw.sam.rho = RawSam::default().rho,
        "sam.m_sharpness" => raw.sam.m_sharpness = false,
        k if k.starts_with("optim.") => raw.optim = o,
        k if k.starts_with("schedule.") => raw.schedule = Default::default(),
        k if k.starts_with("device.") => raw.device = Default::default(),
        _ => return false,
    }
    true
}

impl ExperimentForm {
    /// A smoke run: the tiny model on the tiny demo corpus, long enough to watch (a step takes
    /// milliseconds), with layer cosines every other step.
    pub fn tiny_demo() -> Self {
        Self {
            corpus: CorpusChoice::Demo,
            demo_size: "tiny".into(),
            model: "tiny".into(),
            num_samples: "1600".into(),
            batch_size: "4".into(),
            epochs: "1000".into(),
            patience: "1000".into(),
            per_layer_cos_every: "2".into(),
            lr: "0.01".into(),
            ..Self::default()
        }
    }

    /// The form showing `raw` (fields it does not show are kept in `base`).
    pub fn from_raw(raw: RawConfig) -> Self {
        let corpus = match raw.data.corpus.trim().to_ascii_lowercase().as_str() {
            "asvspoof2019-la" => CorpusChoice::Asvspoof2019La,
            "csv" => CorpusChoice::Csv,
            _ => CorpusChoice::Demo,
        };
        Self {
            corpus,
            demo_size: raw.data.demo_size.clone(),
            dataset_root: path_text(&raw.data.root),
            train_csv: path_text(&raw.data.train_csv),
            dev_csv: path_text(&raw.data.dev_csv),
            eval_csv: path_text(&raw.data.eval_csv),
            num_samples: raw.data.num_samples.to_string(),
            model: raw.model.name.clone(),
            mode: raw.train.mode.clone(),
            align: raw.train.align.clone(),
            rawboost_algo: raw.data.rawboost_algo,
            rawboost: raw.data.rawboost.clone(),
            optimizer: raw.optim.name.clone(),
            sam_enabled: raw.sam.enabled,
            sam_rho: raw.sam.rho.to_string(),
            lr: raw.optim.lr.to_string(),
            batch_size: raw.train.batch_size.to_string(),
            epochs: raw.train.epochs.to_string(),
            patience: raw.train.patience.to_string(),
            seed: raw.train.seed.to_string(),
            max_steps: raw.train.max_steps.to_string(),
            per_layer_cos_every: raw.train.per_layer_cos_every.to_string(),
            device: raw.device.kind.clone(),
            experiment_file: String::new(),
            base: raw,
        }
    }

    /// The configuration the form describes, and the fields whose text is not a number.
    pub fn to_raw(&self) -> (RawConfig, BTreeMap<String, String>) {
        let mut errors = BTreeMap::new();
        let mut raw = self.base.clone();
        raw.data.corpus = match self.corpus {
            CorpusChoice::Demo => "demo",
            CorpusChoice::Asvspoof2019La => "asvspoof2019-la",
            CorpusChoice::Csv => "csv",
        }
        .into();
        raw.data.demo_size = self.demo_size.clone();
        raw.data.root = opt_path(&self.dataset_root);
        raw.data.train_csv = opt_path(&self.train_csv);
        raw.data.dev_csv = opt_path(&self.dev_csv);
        raw.data.eval_csv = opt_path(&self.eval_csv);
        let e = &mut errors;
        if let Some(v) = parse_field(e, "data.num_samples", &self.num_samples, "a whole number") {
            raw.data.num_samples = v;
        }
        raw.data.rawboost_algo = self.rawboost_algo;
        raw.data.rawboost = self.rawboost.clone();
        raw.model.name = self.model.clone();
        raw.train.mode = self.mode.clone();
        raw.train.align = self.align.clone();
        raw.optim.name = self.optimizer.clone();
        raw.device.kind = self.device.clone();
        raw.sam.enabled = self.sam_enabled;
        if let Some(v) = parse_field(e, "sam.rho", &self.sam_rho, "a number") {
            raw.sam.rho = v;
        }
        if let Some(v) = parse_field(e, "optim.lr", &self.lr, "a number") {
            raw.optim.lr = v;
        }
        let whole = "a whole number ≥ 0";
        if let Some(v) = parse_field(e, "train.batch_size", &self.batch_size, whole) {
            raw.train.batch_size = v;
        }
        if let Some(v) = parse_field(e, "train.epochs", &self.epochs, whole) {
            raw.train.epochs = v;
        }
        if let Some(v) = parse_field(e, "train.patience", &self.patience, whole) {
            raw.train.patience = v;
        }
        if let Some(v) = parse_field(e, "train.seed", &self.seed, whole) {
            raw.train.seed = v;
        }
        if let Some(v) = parse_field(e, "train.max_steps", &self.max_steps, whole) {
            raw.train.max_steps = v;
        }
        if let Some(v) = parse_field(
            e,
            "train.per_layer_cos_every",
            &self.per_layer_cos_every,
            whole,
        ) {
            raw.train.per_layer_cos_every = v;
        }
        (raw, errors)
    }

    /// Checks every field with the trainer's validation; all errors found, by key.
    pub fn check(&self) -> FormCheck {
        let (mut raw, mut errors) = self.to_raw();
        // The plan stops at the first invalid key: put that key's default back and check
        // again, so that every invalid field gets its message at once.
        for _ in 0..32 {
            match raw.clone().into_plan() {
                Ok(plan) => {
                    return FormCheck {
                        plan: errors.is_empty().then_some(plan),
                        errors,
                    }
                }
                Err(ConfigError::Invalid { key, message }) => {
                    let known = reset_key(&mut raw, &key);
                    errors.entry(key).or_insert(message);
                    if !known {
                        break;
                    }
                }
                Err(other) => {
                    errors.insert(GENERAL_KEY.into(), other.to_string());
                    break;
                }
            }
        }
        FormCheck { plan: None, errors }
    }

    /// The experiment as TOML (what "Save" writes).
    pub fn to_toml(&self) -> Result<String, String> {
        let (raw, errors) = self.to_raw();
        if let Some((key, message)) = errors.iter().next() {
            return Err(format!("{key}: {message}"));
        }
        toml::to_string(&raw).map_err(|e| e.to_string())
    }

    /// The form for TOML `text` read from `origin` (unknown keys refused, as `dpda train` does).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self::from_raw(raw))
    }

    /// Draws the form; returns what the user asked for. `enabled` is false while a run is on.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        errors: &BTreeMap<String, String>,
        enabled: bool,
    ) -> Option<FormAction> {
        let mut action = None;
        ui.add_enabled_ui(enabled, |ui| {
            section_ui(ui, "Corpus", |ui| {
                egui::Grid::new("form-corpus")
                    .num_columns(2)
                    .show(ui, |ui| {
                        let label = ui.label("Corpus");
                        let choices = [
                            (CorpusChoice::Demo, "built-in demo"),
                            (CorpusChoice::Asvspoof2019La, "ASVspoof 2019 LA folder"),
                            (CorpusChoice::Csv, "CSV lists"),
                        ];
                        combo_ui(ui, "corpus", label.id, &mut self.corpus, &choices);
                        ui.end_row();
                        error_row(ui, errors, "data.corpus");
                        match self.corpus {
                            CorpusChoice::Demo => {
                                let label = ui.label("Demo size");
                                let sizes = ["tiny", "small", "default", "large"].map(|s| (s, s));
                                let mut size = sizes
                                    .iter()
                                    .find(|(s, _)| *s == self.demo_size)
                                    .map_or("default", |(s, _)| *s);
                                combo_ui(ui, "demo-size", label.id, &mut size, &sizes);
                                self.demo_size = size.to_string();
                                ui.end_row();
                                error_row(ui, errors, "data.demo_size");
                            }
                            CorpusChoice::Asvspoof2019La => {
                                let t = DialogTarget::DatasetRoot;
                                path_row(
                                    ui,
                                    "Dataset folder",
                                    &mut self.dataset_root,
                                    t,
                                    &mut action,
                                );
                                error_row(ui, errors, "data.root");
                            }
                            CorpusChoice::Csv => {
                                let t = DialogTarget::TrainCsv;
                                path_row(ui, "Train CSV", &mut self.train_csv, t, &mut action);
                                error_row(ui, errors, "data.train_csv");
                                let t = DialogTarget::DevCsv;
                                path_row(ui, "Dev CSV", &mut self.dev_csv, t, &mut action);
                                error_row(ui, errors, "data.dev_csv");
                                let t = DialogTarget::EvalCsv;
                                path_row(ui, "Eval CSV", &mut self.eval_csv, t, &mut action);
                            }
                        }
                        text_row(ui, "Samples per clip", &mut self.num_samples);
                        error_row(ui, errors, "data.num_samples");
                    });
            });
            section_ui(ui, "Model and training", |ui| {
                egui::Grid::new("form-train").num_columns(2).show(ui, |ui| {
                    let label = ui.label("Model");
                    // The detectors first, the test model last.
                    let mut kinds: Vec<ModelKind> = ModelKind::ALL.to_vec();
                    kinds.sort_by_key(|k| *k == ModelKind::Tiny);
                    let names: Vec<(String, &str)> = kinds
                        .into_iter()
                        .map(|k| match k {
                            ModelKind::Tiny => (k.name().to_string(), "tiny (tests)"),
                            _ => (k.name().to_string(), k.name()),
                        })
                        .collect();
                    combo_ui(ui, "model", label.id, &mut self.model, &names);
                    ui.end_row();
                    error_row(ui, errors, "model.name");
                    error_row(ui, errors, "model.options");
                    let label = ui.label("Mode");
                    let modes = [
                        ("plain".to_string(), "plain"),
                        ("augmented".to_string(), "augmented"),
                        ("dual".to_string(), "dual path"),
                    ];
                    combo_ui(ui, "mode", label.id, &mut self.mode, &modes);
                    ui.end_row();
                    error_row(ui, errors, "train.mode");
                    let label = ui.label("Alignment");
                    let methods: Vec<(String, &str)> = crate::train::AlignMethod::NAMES
                        .iter()
                        .map(|&m| (m.to_string(), m))
                        .collect();
                    combo_ui(ui, "align", label.id, &mut self.align, &methods);
                    ui.end_row();
                    error_row(ui, errors, "train.align");
                    // K-path lists come from the experiment file (`[[train.paths]]`); the
                    // controls above the plots name them.
                    error_row(ui, errors, "train.paths");
                    let label = ui.label("Optimizer");
                    let optims = ["adam", "adamw", "sgd"].map(|m| (m.to_string(), m));
                    combo_ui(ui, "optim", label.id, &mut self.optimizer, &optims);
                    ui.end_row();
                    error_row(ui, errors, "optim.name");
                    let label = ui.label("Device");
                    let devices = [
                        ("cpu".to_string(), "CPU"),
                        ("auto".to_string(), "GPU if usable, else CPU"),
                        ("cuda".to_string(), "GPU (CUDA)"),
                    ];
                    combo_ui(ui, "device", label.id, &mut self.device, &devices);
                    ui.end_row();
                    error_row(ui, errors, "device.kind");
                    for (name, value, key) in [
                        ("Learning rate", &mut self.lr, "optim.lr"),
                        ("Batch size", &mut self.batch_size, "train.batch_size"),
                        ("Epochs", &mut self.epochs, "train.epochs"),
                        ("Patience", &mut self.patience, "train.patience"),
                        ("Seed", &mut self.seed, "train.seed"),
                        (
                            "Max iterations (0 = all)",
                            &mut self.max_steps,
                            "train.max_steps",
                        ),
                        (
                            "Layer cosine every (0 = off)",
                            &mut self.per_layer_cos_every,
                            "train.per_layer_cos_every",
                        ),
                    ] {
                        text_row(ui, name, value);
                        error_row(ui, errors, key);
                    }
                    let other_optim = errors.keys().filter(|k| {
                        k.starts_with("optim.") && !matches!(k.as_str(), "optim.lr" | "optim.name")
                    });
                    for key in other_optim {
                        error_row(ui, errors, key);
                    }
                    let label = ui.label("SAM");
                    ui.checkbox(&mut self.sam_enabled, "sharpness-aware")
                        .labelled_by(label.id);
                    ui.end_row();
                    if self.sam_enabled {
                        text_row(ui, "SAM ρ", &mut self.sam_rho);
                        error_row(ui, errors, "sam.rho");
                    }
                });
            });
            section_ui(ui, "RawBoost (augmented path)", |ui| {
                egui::Grid::new("form-rawboost")
                    .num_columns(2)
                    .show(ui, |ui| {
                        let label = ui.label("Algorithm");
                        let algos: Vec<(i64, String)> = RawBoostAlgo::ALL
                            .iter()
                            .enumerate()
                            .map(|(i, a)| (i as i64, format!("{i}: {a:?}")))
                            .collect();
                        let algos: Vec<(i64, &str)> =
                            algos.iter().map(|(i, s)| (*i, s.as_str())).collect();
                        combo_ui(
                            ui,
                            "rawboost-algo",
                            label.id,
                            &mut self.rawboost_algo,
                            &algos,
                        );
                        ui.end_row();
                        error_row(ui, errors, "data.rawboost_algo");
                        rawboost_rows(ui, self.rawboost_algo, &mut self.rawboost);
                        error_row(ui, errors, "data.rawboost");
                    });
            });
            section_ui(ui, "Experiment file", |ui| {
                ui.horizontal(|ui| {
                    let label = ui.label("File");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.experiment_file)
                            .hint_text("experiments/….toml")
                            .desired_width(theme::PATH_FIELD_WIDTH),
                    )
                    .labelled_by(label.id);
                });
                ui.horizontal(|ui| {
                    let typed = !self.experiment_file.trim().is_empty();
                    if ui.add_enabled(typed, egui::Button::new("Load")).clicked() {
                        action = Some(FormAction::LoadExperiment);
                    }
                    if ui.add_enabled(typed, egui::Button::new("Save")).clicked() {
                        action = Some(FormAction::SaveExperiment);
                    }
                    if ui.button("Open…").clicked() {
                        action = Some(FormAction::Browse(DialogTarget::LoadExperiment));
                    }
                    if ui.button("Save as…").clicked() {
                        action = Some(FormAction::Browse(DialogTarget::SaveExperiment));
                    }
                });
            });
        });
        if let Some(message) = errors.get(GENERAL_KEY) {
            ui.colored_label(theme::ERROR, message);
        }
        action
    }
}

fn section_ui(ui: &mut egui::Ui, title: &str, body: impl FnOnce(&mut egui::Ui)) {
    egui::CollapsingHeader::new(title)
        .default_open(true)
        .show(ui, body);
}

/// A labelled one-line text field.
fn text_row(ui: &mut egui::Ui, name: &str, value: &mut String) {
    let label = ui.label(name);
    ui.add(egui::TextEdit::singleline(value).desired_width(theme::FIELD_WIDTH))
        .labelled_by(label.id);
    ui.end_row();
}

/// The error of `key`, if any, under its field.
fn error_row(ui: &mut egui::Ui, errors: &BTreeMap<String, String>, key: &str) {
    if let Some(message) = errors.get(key) {
        ui.label("");
        ui.colored_label(theme::ERROR, format!("⚠ {message}"));
        ui.end_row();
    }
}

/// A path field with a "Browse…" button (the dialog opens off the UI thread).
fn path_row(
    ui: &mut egui::Ui,
    name: &str,
    value: &mut String,
    target: DialogTarget,
    action: &mut Option<FormAction>,
) {
    let label = ui.label(name);
    ui.horizontal(|ui| {
        ui.add(egui::TextEdit::singleline(value).desired_width(theme::FIELD_WIDTH))
            .labelled_by(label.id);
        if ui.button("Browse…").clicked() {
            *action = Some(FormAction::Browse(target));
        }
    });
    ui.end_row();
}

fn combo_ui<T: Clone + PartialEq>(
    ui: &mut egui::Ui,
    id: &str,
    label: egui::Id,
    value: &mut T,
    choices: &[(T, &str)],
) {
    let shown = choices
        .iter()
        .find(|(v, _)| v == value)
        .map_or("(other)", |(_, s)| *s);
    egui::ComboBox::from_id_salt(id)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for (v, text) in choices {
                ui.selectable_value(value, v.clone(), *text);
            }
        })
        .response
        .labelled_by(label);
}

/// The parameters the chosen algorithm uses.
fn rawboost_rows(ui: &mut egui::Ui, algo: i64, p: &mut RawBoostParams) {
    let uses_lnl = matches!(algo, 1 | 4 | 5 | 6 | 8);
    let uses_isd = matches!(algo, 2 | 4 | 5 | 7 | 8);
    let uses_ssi = matches!(algo, 3 | 4 | 6 | 7);
    let drag = |ui: &mut egui::Ui, name: &str, v: &mut f64, speed: f64| {
        let label = ui.label(name);
        ui.add(egui::DragValue::new(v).speed(speed))
            .labelled_by(label.id);
        ui.end_row();
    };
    if uses_lnl || uses_ssi {
        drag(ui, "Notch centre min (Hz)", &mut p.min_f_hz, 10.0);
        drag(ui, "Notch centre max (Hz)", &mut p.max_f_hz, 10.0);
        drag(ui, "Bandwidth min (Hz)", &mut p.min_bw_hz, 10.0);
        drag(ui, "Bandwidth max (Hz)", &mut p.max_bw_hz, 10.0);
        drag(ui, "Gain min (dB)", &mut p.min_g_db, 0.1);
        drag(ui, "Gain max (dB)", &mut p.max_g_db, 0.1);
        let int = |ui: &mut egui::Ui, name: &str, v: &mut u32| {
            let label = ui.label(name);
            ui.add(egui::DragValue::new(v).range(1..=1000))
                .labelled_by(label.id);
            ui.end_row();
        };
        int(ui, "Bands per filter", &mut p.n_bands);
        int(ui, "Filter taps min", &mut p.min_coeff);
        int(ui, "Filter taps max", &mut p.max_coeff);
        if uses_lnl {
            int(ui, "LnL terms (N_f)", &mut p.n_f);
        }
    }
    if uses_isd {
        drag(ui, "ISD samples hit (%)", &mut p.p_percent, 0.5);
        drag(ui, "ISD gain", &mut p.g_sd, 0.1);
    }
    if uses_ssi {
        drag(ui, "SSI SNR min (dB)", &mut p.snr_min_db, 0.5);
        drag(ui, "SSI SNR max (dB)", &mut p.snr_max_db, 0.5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_form_is_the_demo_experiment_and_valid() {
        let form = ExperimentForm::default();
        assert_eq!(form.corpus, CorpusChoice::Demo);
        assert_eq!(form.align, "pcgrad");
        let check = form.check();
        assert!(check.errors.is_empty(), "{:?}", check.errors);
        let plan = check.plan.unwrap();
        assert_eq!(
            plan,
            crate::train::plan_from_str(DEFAULT_EXPERIMENT, "x", &[]).unwrap()
        );
    }

    #[test]
    fn every_invalid_field_gets_its_message() {
        let form = ExperimentForm {
            lr: "-1".into(),
            batch_size: "0".into(),
            epochs: "many".into(),
            corpus: CorpusChoice::Asvspoof2019La,
            dataset_root: String::new(),
            ..ExperimentForm::default()
        };
        let check = form.check();
        assert!(check.plan.is_none());
        let keys: Vec<&str> = check.errors.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["data.root", "optim.lr", "train.batch_size", "train.epochs"]
        );
        assert!(check.errors["optim.lr"].contains("> 0"));
        assert!(check.errors["train.epochs"].contains("'many'"));
    }

    #[test]
    fn toml_round_trip_keeps_hidden_settings() {
        let text = "[train]\nkeep_best = 2\nclass_weights = [0.3, 0.7]\n[optim]\nlr = 0.005\n";
        let form = ExperimentForm::from_toml(text, "t.toml").unwrap();
        assert_eq!(form.lr, "0.005");
        let back: RawConfig = toml::from_str(&form.to_toml().unwrap()).unwrap();
        assert_eq!(back.train.keep_best, 2);
        assert_eq!(back.train.class_weights, [0.3, 0.7]);
        let err = ExperimentForm::from_toml("[train]\nbogus = 1\n", "t.toml").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn device_choice_reaches_the_plan_and_bad_kinds_are_marked() {
        let form = ExperimentForm {
            device: "auto".into(),
            ..ExperimentForm::default()
        };
        let plan = form.check().plan.expect("valid form");
        assert!(matches!(
            plan.device,
            crate::train::config::DeviceKind::Auto { ordinal: 0 }
        ));
        let form = ExperimentForm {
            device: "tpu".into(),
            ..ExperimentForm::default()
        };
        let check = form.check();
        assert!(check.plan.is_none());
        assert!(
            check.errors["device.kind"].contains("'tpu'"),
            "{:?}",
            check.errors
        );
    }
}
