//! The detect view: score a clip with a trained model.
//!
//! Record from the default input (level meter, time limit) or open/drop a file; everything is
//! resampled to 16 kHz. Choose a checkpoint (the current run's best, any run folder, a
//! `.safetensors` file or a released PyTorch AASIST/AASIST-L `.pth`), see the score (the bona
//! fide logit), the decision against a movable threshold that starts at the checkpoint's stored
//! dev-set EER threshold, and a per-window score track under the spectrogram. A whole folder can
//! be scored to a score file with progress. Model loading and scoring run on one named worker
//! thread that owns the model; the UI sends it commands and drains its events every frame.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use egui_plot::{HLine, Line, Plot, PlotPoints, VLine};
use serde::{Deserialize, Serialize};

use super::audio_widgets::{self as widgets, AudioBackend, ClipDisplay, Pending, Player, Recorder};
use super::Shared;
use crate::audio::Clip;
use crate::inference::scorer::is_bonafide;
use crate::inference::{
    collect_trials, FolderScores, ModelInfo, ModelRequest, ScoreTrack, Scorer, Windows,
};

const STORAGE_KEY: &str = "dpda.detect_view";

/// The caveat shown beside every verdict.
pub const CAVEAT: &str = "A detector trained on one corpus can be wrong on audio unlike it \
                          (other languages, microphones, codecs, noise or generators it never saw). \
                          Treat the verdict as one piece of evidence, not proof.";

/// Where the model comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CheckpointKind {
    /// The best model of the run the train view started last.
    #[default]
    CurrentRun,
    /// The best model of a run folder.
    RunFolder,
    /// A `.safetensors` file.
    Safetensors,
    /// A PyTorch `.pth` state dict.
    Pth,
}

/// Settings kept between launches.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectSettings {
    /// Which kind of checkpoint.
    pub kind: CheckpointKind,
    /// Run folder, `.safetensors` or `.pth` path (by kind).
    pub checkpoint_path: String,
    /// Model name for files without a run configuration (`auto` for safetensors = from the run).
    pub model_name: String,
    /// Whole-clip input length in samples, or `auto` for the model's own (64,600 for the AASIST
    /// family, the run's `data.num_samples`, 66,800 otherwise).
    pub num_samples: String,
    /// Score-track window in seconds.
    pub window_s: f64,
    /// Score-track hop in seconds.
    pub hop_s: f64,
    /// Recording time limit in seconds.
    pub record_limit_s: f64,
    /// The typed clip path.
    pub clip_path: String,
    /// Folder to score.
    pub folder: String,
    /// Score file to write (default: `scores.txt` in the folder).
    pub scores_out: String,
}

impl Default for DetectSettings {
    fn default() -> Self {
        Self {
            kind: CheckpointKind::CurrentRun,
            checkpoint_path: String::new(),
            model_name: "auto".into(),
            num_samples: "auto".into(),
            window_s: 2.0,
            hop_s: 0.5,
            record_limit_s: 10.0,
            clip_path: String::new(),
            folder: String::new(),
            scores_out: String::new(),
        }
    }
}

/// What the worker is asked to do.
enum Command {
    Load(ModelRequest),
    Score {
        clip_id: u64,
        samples: Arc<Clip>,
        window_s: f64,
        hop_s: f64,
    },
    ScoreFolder {
        folder: PathBuf,
        out: PathBuf,
        cancel: Arc<AtomicBool>,
    },
}

/// What the worker reports.
enum Event {
    Loaded(Result<ModelInfo, String>),
    Scored {
        clip_id: u64,
        result: Result<(f64, ScoreTrack), String>,
    },
    FolderProgress {
        done: usize,
        total: usize,
    },
    FolderDone(Result<FolderScores, String>),
}

struct Worker {
    tx: Sender<Command>,
    rx: Receiver<Event>,
}

fn spawn_worker(ctx: Option<egui::Context>) -> Result<Worker, String> {
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>();
    let (ev_tx, ev_rx) = mpsc::channel::<Event>();
    std::thread::Builder::new()
        .name("dpda-detect".into())
        .spawn(move || {
            let send = |e: Event| {
                let ok = ev_tx.send(e).is_ok();
                if let Some(ctx) = &ctx {
                    ctx.request_repaint();
                }
                ok
            };
            let mut detector: Option<Scorer> = None;
            for cmd in cmd_rx {
                match cmd {
                    Command::Load(request) => {
                        detector = None;
                        let event = match Scorer::load(&request) {
                            Ok(d) => {
                                let info = d.info().clone();
                                detector = Some(d);
                                Event::Loaded(Ok(info))
                            }
                            Err(e) => Event::Loaded(Err(format!(
                                "cannot load {}: {e}",
                                request.path.display()
                            ))),
                        };
                        if !send(event) {
                            return;
                        }
                    }
                    Command::Score {
                        clip_id,
                        samples,
                        window_s,
                        hop_s,
                    } => {
                        let result = match &detector {
                            None => Err("no model loaded".to_string()),
                            Some(d) => d
                                .score(&samples.samples)
                                .and_then(|s| {
                                    let windows = Windows::from_seconds(
                                        window_s,
                                        hop_s,
                                        ("score-track window", "score-track hop"),
                                    )?;
                                    d.score_track(&samples.samples, windows).map(|t| (s, t))
                                })
                                .map_err(|e| e.to_string()),
                        };
                        if !send(Event::Scored { clip_id, result }) {
                            return;
                        }
                    }
                    Command::ScoreFolder {
                        folder,
                        out,
                        cancel,
                    } => {
                        let result = match &detector {
                            None => Err("no model loaded".to_string()),
                            Some(d) => score_folder(d, &folder, &out, &cancel, &send),
                        };
                        if !send(Event::FolderDone(result)) {
                            return;
                        }
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the detect worker: {e}"))?;
    Ok(Worker {
        tx: cmd_tx,
        rx: ev_rx,
    })
}

fn score_folder(
    detector: &Scorer,
    folder: &Path,
    out: &Path,
    cancel: &AtomicBool,
    send: &dyn Fn(Event) -> bool,
) -> Result<FolderScores, String> {
    let files = collect_trials(&[folder.to_path_buf()]).map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(format!("no audio files under {}", folder.display()));
    }
    let mut last_sent = std::time::Instant::now();
    detector
        .score_files(&files, out, &mut |done, total| {
            // Batch progress events: at most one per ~50 ms, and always the last.
            if done == total || last_sent.elapsed().as_millis() >= 50 {
                last_sent = std::time::Instant::now();
                send(Event::FolderProgress { done, total });
            }
            !cancel.load(Ordering::Relaxed)
        })
        .map_err(|e| e.to_string())
}

/// The score of the current clip.
struct ClipResult {
    score: f64,
    track: ScoreTrack,
}

/// The detect view's state.
pub struct DetectView {
    /// Persisted settings (public so tests and the app can preset them).
    pub settings: DetectSettings,
    worker: Option<Worker>,
    model: Option<ModelInfo>,
    loading_model: bool,
    /// Decision threshold on the bona fide logit.
    threshold: f64,
    threshold_source: String,
    clip: Option<ClipDisplay>,
    clip_id: u64,
    result: Option<ClipResult>,
    scoring: bool,
    folder_progress: Option<(usize, usize)>,
    folder_cancel: Option<Arc<AtomicBool>>,
    folder_message: Option<String>,
    loading: Option<Pending<Result<(String, Clip), String>>>,
    dialog: Option<(DialogTarget, Pending<Option<PathBuf>>)>,
    backend: AudioBackend,
    recorder: Option<Recorder>,
    player: Player,
    error: Option<String>,
    audio_error: Option<String>,
    ctx: Option<egui::Context>,
    /// The demo clips in `assets/`, listed once.
    assets: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DialogTarget {
    Clip,
    Checkpoint,
    Folder,
}

impl Default for DetectView {
    fn default() -> Self {
        let backend = AudioBackend::from_env();
        Self {
            settings: DetectSettings::default(),
            worker: None,
            model: None,
            loading_model: false,
            threshold: 0.0,
            threshold_source: "0 (no stored threshold: equal odds)".into(),
            clip: None,
            clip_id: 0,
            result: None,
            scoring: false,
            folder_progress: None,
            folder_cancel: None,
            folder_message: None,
            loading: None,
            dialog: None,
            player: Player::new(backend.clone()),
            backend,
            recorder: None,
            error: None,
            audio_error: None,
            ctx: None,
            assets: widgets::asset_clips(),
        }
    }
}

impl DetectView {
    /// Restores the view's settings from eframe's store (defaults when absent).
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        let mut view = Self::default();
        if let Some(settings) =
            storage.and_then(|s| eframe::get_value::<DetectSettings>(s, STORAGE_KEY))
        {
            view.settings = settings;
        }
        view
    }

    /// Saves the view's settings into eframe's store.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.settings);
    }

    /// Use another audio backend (tests force "unavailable" with it).
    pub fn set_audio_backend(&mut self, backend: AudioBackend) {
        self.recorder = None;
        self.player.set_backend(backend.clone());
        self.backend = backend;
    }

    /// A file dropped on the window or opened while this view is shown: a checkpoint
    /// (`.safetensors`, `.pth`) becomes the model, anything else is loaded as the clip.
    pub fn open_file(&mut self, path: PathBuf, shared: &mut Shared) {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("safetensors") => {
                self.settings.kind = CheckpointKind::Safetensors;
                self.settings.checkpoint_path = path.display().to_string();
                self.load_model(shared);
            }
            Some("pth") | Some("pt") => {
                self.settings.kind = CheckpointKind::Pth;
                self.settings.checkpoint_path = path.display().to_string();
                self.load_model(shared);
            }
            _ if path.is_dir() => {
                self.settings.folder = path.display().to_string();
            }
            _ => {
                self.settings.clip_path = path.display().to_string();
                self.start_loading_file(path);
            }
        }
    }

    /// The current clip's score (bona fide logit), once scored.
    pub fn score(&self) -> Option<f64> {
        self.result.as_ref().map(|r| r.score)
    }

    /// The decision threshold in use.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The loaded model, if any.
    pub fn model(&self) -> Option<&ModelInfo> {
        self.model.as_ref()
    }

    /// The last error shown, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether the worker is busy (loading, scoring a clip or a folder).
    pub fn is_busy(&self) -> bool {
        self.loading_model
            || self.scoring
            || self.folder_progress.is_some()
            || self.loading.is_some()
    }

    /// The message of the last folder run.
    pub fn folder_message(&self) -> Option<&str> {
        self.folder_message.as_deref()
    }

    fn choice(&self, shared: &Shared) -> Result<ModelRequest, String> {
        let mut request = self.checkpoint_choice(shared)?;
        let length = self.settings.num_samples.trim();
        if !(length.is_empty() || length.eq_ignore_ascii_case("auto")) {
            let n = length.parse::<usize>().map_err(|_| {
                format!("input length: '{length}' is not a whole number of samples (or auto)")
            })?;
            request.num_samples = Some(n);
        }
        Ok(request)
    }

    fn checkpoint_choice(&self, shared: &Shared) -> Result<ModelRequest, String> {
        let path = PathBuf::from(self.settings.checkpoint_path.trim());
        let model = self.settings.model_name.trim().to_string();
        match self.settings.kind {
            CheckpointKind::CurrentRun => shared
                .current_run
                .clone()
                .map(ModelRequest::new)
                .ok_or_else(|| {
                    "no current run: start one in the train view, or pick a run folder".into()
                }),
            _ if self.settings.checkpoint_path.trim().is_empty() => {
                Err("type or browse a checkpoint path first".into())
            }
            CheckpointKind::RunFolder => Ok(ModelRequest::new(path)),
            CheckpointKind::Safetensors | CheckpointKind::Pth => Ok(ModelRequest {
                path,
                model: (!model.is_empty() && model != "auto").then_some(model),
                num_samples: None,
            }),
        }
    }

    fn send(&mut self, cmd: Command) -> bool {
        if self.worker.is_none() {
            match spawn_worker(self.ctx.clone()) {
                Ok(w) => self.worker = Some(w),
                Err(e) => {
                    self.error = Some(e);
                    return false;
                }
            }
        }
        let sent = self.worker.as_ref().is_some_and(|w| w.tx.send(cmd).is_ok());
        if !sent {
            self.worker = None;
            self.error = Some("the detect worker stopped; try again".into());
        }
        sent
    }

    /// Load the model the settings name (on the worker thread).
    pub fn load_model(&mut self, shared: &Shared) {
        match self.choice(shared) {
            Ok(choice) => {
                if self.send(Command::Load(choice)) {
                    self.loading_model = true;
                    self.error = None;
                }
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn request_score(&mut self) {
        let (Some(clip), Some(_)) = (&self.clip, &self.model) else {
            return;
        };
        let cmd = Command::Score {
            clip_id: self.clip_id,
            samples: clip.clip.clone(),
            window_s: self.settings.window_s,
            hop_s: self.settings.hop_s,
        };
        if self.send(cmd) {
            self.scoring = true;
        }
    }

    fn start_loading_file(&mut self, path: PathBuf) {
        self.error = None;
        let job = move || {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            widgets::load_clip(&path).map(|clip| (name, clip))
        };
        match Pending::spawn(self.ctx.as_ref(), "dpda-load-clip", job) {
            Ok(p) => self.loading = Some(p),
            Err(e) => self.error = Some(e),
        }
    }

    fn set_clip(&mut self, name: String, clip: Clip) {
        self.player.stop();
        self.clip_id += 1;
        self.result = None;
        self.clip = self
            .ctx
            .as_ref()
            .map(|ctx| ClipDisplay::new(ctx, name, Arc::new(clip)));
        self.request_score();
    }

    fn start_recording(&mut self) {
        self.player.stop();
        match Recorder::start(&self.backend, self.settings.record_limit_s) {
            Ok(r) => {
                self.recorder = Some(r);
                self.audio_error = None;
            }
            Err(e) => self.audio_error = Some(format!("audio unavailable: {e}")),
        }
    }

    fn stop_recording(&mut self) {
        if let Some(r) = self.recorder.take() {
            let failed = r.has_failed();
            match r.finish() {
                Ok(clip) if clip.samples.is_empty() => {
                    self.audio_error = Some(if failed {
                        "audio unavailable: the input stream failed".into()
                    } else {
                        "nothing was recorded".into()
                    });
                }
                Ok(clip) => self.set_clip("recording".into(), clip),
                Err(e) => self.audio_error = Some(format!("audio unavailable: {e}")),
            }
        }
    }

    /// Per-frame work that must happen even when the view is not shown.
    pub fn logic(&mut self, ctx: &egui::Context, shared: &mut Shared) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
        }
        let mut events = Vec::new();
        if let Some(w) = &self.worker {
            let deadline = std::time::Instant::now() + std::time::Duration::from_millis(4);
            while let Ok(e) = w.rx.try_recv() {
                events.push(e);
                if std::time::Instant::now() > deadline {
                    ctx.request_repaint();
                    break;
                }
            }
        }
        for e in events {
            self.apply(e);
        }
        if let Some(result) = self.loading.as_ref().and_then(Pending::poll) {
            self.loading = None;
            match result {
                Some(Ok((name, clip))) => self.set_clip(name, clip),
                Some(Err(e)) => self.error = Some(e),
                None => self.error = Some("loading the clip failed unexpectedly".into()),
            }
        }
        if let Some((target, result)) = self
            .dialog
            .as_ref()
            .and_then(|(t, p)| p.poll().map(|r| (*t, r)))
        {
            self.dialog = None;
            if let Some(path) = result.flatten() {
                match target {
                    DialogTarget::Clip => self.open_file(path, shared),
                    DialogTarget::Checkpoint => {
                        self.settings.checkpoint_path = path.display().to_string();
                    }
                    DialogTarget::Folder => self.settings.folder = path.display().to_string(),
                }
            }
        }
        let recording_over = match &mut self.recorder {
            Some(r) => {
                r.poll();
                ctx.request_repaint();
                r.is_done() || r.has_failed()
            }
            None => false,
        };
        if recording_over {
            self.stop_recording();
        }
        self.player.poll();
        if self.player.is_playing() {
            ctx.request_repaint();
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Loaded(result) => {
                self.loading_model = false;
                match result {
                    Ok(info) => {
                        match &info.threshold {
                            Some(t) => {
                                self.threshold = t.value;
                                self.threshold_source = t.source.clone();
                            }
                            None => {
                                self.threshold = 0.0;
                                self.threshold_source =
                                    "0 (no stored threshold: equal odds)".into();
                            }
                        }
                        self.model = Some(info);
                        self.error = None;
                        self.result = None;
                        self.request_score();
                    }
                    Err(e) => {
                        self.model = None;
                        self.error = Some(e);
                    }
                }
            }
            Event::Scored { clip_id, result } => {
                self.scoring = false;
                if clip_id != self.clip_id {
                    return;
                }
                match result {
                    Ok((score, track)) => self.result = Some(ClipResult { score, track }),
                    Err(e) => self.error = Some(format!("scoring failed: {e}")),
                }
            }
            Event::FolderProgress { done, total } => self.folder_progress = Some((done, total)),
            Event::FolderDone(result) => {
                self.folder_progress = None;
                self.folder_cancel = None;
                self.folder_message = Some(match result {
                    Ok(s) => {
                        let mut m =
                            format!("wrote {} scores to {}", s.num_scored, s.out_path.display());
                        if s.cancelled {
                            m.push_str(" (stopped early)");
                        }
                        if !s.failures.is_empty() {
                            m.push_str(&format!("; {} files could not be read", s.failures.len()));
                        }
                        m
                    }
                    Err(e) => format!("folder scoring failed: {e}"),
                });
            }
        }
    }

    /// Draws the view.
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        egui::Panel::left("detect controls")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.model_ui(ui, shared);
                    ui.separator();
                    self.input_ui(ui);
                    ui.separator();
                    self.folder_ui(ui);
                });
            });
        egui::ScrollArea::vertical()
            .id_salt("detect main")
            .show(ui, |ui| self.result_ui(ui));
    }

    fn model_ui(&mut self, ui: &mut egui::Ui, shared: &Shared) {
        ui.heading("Model");
        ui.horizontal_wrapped(|ui| {
            let k = &mut self.settings.kind;
            ui.selectable_value(k, CheckpointKind::CurrentRun, "current run's best");
            ui.selectable_value(k, CheckpointKind::RunFolder, "run folder");
            ui.selectable_value(k, CheckpointKind::Safetensors, ".safetensors");
            ui.selectable_value(k, CheckpointKind::Pth, "PyTorch .pth");
        });
        match self.settings.kind {
            CheckpointKind::CurrentRun => {
                ui.label(match &shared.current_run {
                    Some(run) => format!("run: {}", run.display()),
                    None => "no run started from the train view yet".into(),
                });
            }
            kind => {
                ui.horizontal(|ui| {
                    let label = ui.label("Checkpoint:");
                    ui.text_edit_singleline(&mut self.settings.checkpoint_path)
                        .labelled_by(label.id);
                    if ui
                        .add_enabled(self.dialog.is_none(), egui::Button::new("..."))
                        .clicked()
                    {
                        let folder = kind == CheckpointKind::RunFolder;
                        let filters: &[(&str, &[&str])] = match kind {
                            CheckpointKind::Pth => &[("PyTorch", &["pth", "pt"])],
                            _ => &[("safetensors", &["safetensors"])],
                        };
                        if let Some(p) = widgets::pick_file_async(
                            Some(ui.ctx()),
                            "Choose a checkpoint",
                            filters,
                            folder,
                        ) {
                            self.dialog = Some((DialogTarget::Checkpoint, p));
                        }
                    }
                });
                if matches!(kind, CheckpointKind::Safetensors | CheckpointKind::Pth) {
                    egui::ComboBox::from_label("model")
                        .selected_text(self.settings.model_name.clone())
                        .show_ui(ui, |ui| {
                            let names = std::iter::once("auto").chain(
                                crate::nn::registry::ModelKind::small()
                                    .map(crate::nn::registry::ModelKind::name),
                            );
                            for name in names {
                                ui.selectable_value(
                                    &mut self.settings.model_name,
                                    name.to_string(),
                                    name,
                                );
                            }
                        });
                }
            }
        }
        ui.horizontal(|ui| {
            let label = ui.label("Input length (samples):");
            ui.add(egui::TextEdit::singleline(&mut self.settings.num_samples).desired_width(70.0))
                .labelled_by(label.id)
                .on_hover_text(
                    "auto: what the model was trained on (64,600 for AASIST/AASIST-L, a run's \
                 data.num_samples, 66,800 otherwise)",
                );
        });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.loading_model, egui::Button::new("Load model"))
                .clicked()
            {
                self.load_model(shared);
            }
            if self.loading_model {
                ui.spinner();
                ui.label("loading...");
            }
        });
        if let Some(m) = &self.model {
            ui.label(format!("loaded: {}", m.describe()));
        }
    }

    fn input_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Clip");
        ui.horizontal(|ui| {
            let label = ui.label("Clip path:");
            ui.text_edit_singleline(&mut self.settings.clip_path)
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            if ui.button("Open path").clicked() && !self.settings.clip_path.trim().is_empty() {
                self.start_loading_file(PathBuf::from(self.settings.clip_path.trim()));
            }
            if ui
                .add_enabled(self.dialog.is_none(), egui::Button::new("Browse..."))
                .clicked()
            {
                if let Some(p) = widgets::pick_file_async(
                    Some(ui.ctx()),
                    "Open an audio clip",
                    &[("audio", crate::audio::AUDIO_EXTENSIONS)],
                    false,
                ) {
                    self.dialog = Some((DialogTarget::Clip, p));
                }
            }
        });
        ui.small("Or drop an audio file (or a checkpoint) on the window.");
        if !self.assets.is_empty() {
            let assets = self.assets.clone();
            ui.horizontal_wrapped(|ui| {
                ui.label("Demo clips:");
                for path in assets {
                    let name = path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                    if ui.small_button(name).clicked() {
                        self.start_loading_file(path);
                    }
                }
            });
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Record up to");
            ui.add(
                egui::DragValue::new(&mut self.settings.record_limit_s)
                    .range(0.5..=120.0)
                    .suffix(" s"),
            );
        });
        let recording = self.recorder.is_some();
        ui.horizontal(|ui| {
            if !recording && ui.button("Record").clicked() {
                self.start_recording();
            }
            if recording && ui.button("Stop recording").clicked() {
                self.stop_recording();
            }
        });
        if let Some(r) = &self.recorder {
            ui.label(format!(
                "recording {:.1} / {:.0} s at {} Hz",
                r.elapsed_s(),
                self.settings.record_limit_s,
                r.device_rate_hz()
            ));
            widgets::level_meter_ui(ui, r.level());
        }
        if let Some(e) = &self.audio_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
        ui.separator();
        ui.label("Score track");
        ui.horizontal(|ui| {
            ui.label("window");
            let a = ui.add(
                egui::DragValue::new(&mut self.settings.window_s)
                    .range(0.2..=10.0)
                    .speed(0.05)
                    .suffix(" s"),
            );
            ui.label("hop");
            let b = ui.add(
                egui::DragValue::new(&mut self.settings.hop_s)
                    .range(0.05..=10.0)
                    .speed(0.05)
                    .suffix(" s"),
            );
            if (a.drag_stopped() || a.lost_focus() || b.drag_stopped() || b.lost_focus())
                && !self.scoring
            {
                self.request_score();
            }
        });
    }

    fn folder_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Score a folder");
        ui.horizontal(|ui| {
            let label = ui.label("Folder:");
            ui.text_edit_singleline(&mut self.settings.folder)
                .labelled_by(label.id);
            if ui
                .add_enabled(self.dialog.is_none(), egui::Button::new("..."))
                .clicked()
            {
                if let Some(p) =
                    widgets::pick_file_async(Some(ui.ctx()), "Folder to score", &[], true)
                {
                    self.dialog = Some((DialogTarget::Folder, p));
                }
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Score file:");
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.scores_out)
                    .hint_text("<folder>/scores.txt"),
            )
            .labelled_by(label.id);
        });
        match (self.folder_progress, &self.folder_cancel) {
            (Some((done, total)), Some(cancel)) => {
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .text(format!("{done} / {total}")),
                );
                if ui.button("Stop scoring").clicked() {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            _ => {
                let can = self.model.is_some() && !self.settings.folder.trim().is_empty();
                if ui
                    .add_enabled(
                        can && self.folder_cancel.is_none(),
                        egui::Button::new("Score folder"),
                    )
                    .clicked()
                {
                    let folder = PathBuf::from(self.settings.folder.trim());
                    let out = if self.settings.scores_out.trim().is_empty() {
                        folder.join("scores.txt")
                    } else {
                        PathBuf::from(self.settings.scores_out.trim())
                    };
                    let cancel = Arc::new(AtomicBool::new(false));
                    if self.send(Command::ScoreFolder {
                        folder,
                        out,
                        cancel: cancel.clone(),
                    }) {
                        self.folder_cancel = Some(cancel);
                        self.folder_progress = Some((0, 0));
                        self.folder_message = None;
                    }
                }
            }
        }
        if let Some(m) = &self.folder_message {
            ui.label(m);
        }
    }

    fn result_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        let Some(clip) = &self.clip else {
            ui.label("Record, open or drop a clip to score it.");
            return;
        };
        ui.horizontal(|ui| {
            ui.strong(&clip.name);
            ui.label(format!("duration {:.2} s (16 kHz mono)", clip.duration_s()));
            if ui.button("Play").clicked() {
                let c = clip.clip.clone();
                match self.player.play(&c.samples, c.sample_rate_hz, 0.0, false) {
                    Ok(()) => self.audio_error = None,
                    Err(e) => self.audio_error = Some(format!("audio unavailable: {e}")),
                }
            }
            if ui.button("Stop").clicked() {
                self.player.stop();
            }
        });
        ui.separator();
        self.verdict_ui(ui);
        ui.separator();
        let Some(clip) = &self.clip else {
            return;
        };
        let link = ui.scope_id().with("detect time");
        let playhead = self.player.position_s();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width((ui.available_width() - 70.0).max(200.0));
                let _ = widgets::clip_plots_ui(ui, "detect", link, clip, playhead);
                self.track_ui(ui, link, clip.duration_s());
            });
            widgets::colour_bar_ui(ui, clip.db_range);
        });
    }

    fn verdict_ui(&mut self, ui: &mut egui::Ui) {
        if self.model.is_none() {
            ui.label("Load a model to score the clip.");
            return;
        }
        if self.scoring {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("scoring...");
            });
        }
        let Some(result) = &self.result else {
            return;
        };
        let bonafide = is_bonafide(result.score, self.threshold);
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(format!("score {:.3}", result.score)).size(20.0));
            let (text, colour) = if bonafide {
                ("likely bona fide", egui::Color32::from_rgb(80, 190, 110))
            } else {
                ("likely spoofed", egui::Color32::from_rgb(230, 90, 70))
            };
            ui.label(egui::RichText::new(text).size(20.0).color(colour).strong());
        });
        ui.small(
            "The score is the model's bona fide logit: higher means more bona fide, lower more \
             likely spoofed.",
        );
        ui.horizontal(|ui| {
            ui.label("Threshold:");
            ui.add(egui::DragValue::new(&mut self.threshold).speed(0.01));
            ui.small(&self.threshold_source);
        });
        ui.label(
            egui::RichText::new(format!("Caveat: {CAVEAT}"))
                .italics()
                .color(ui.visuals().weak_text_color()),
        );
    }

    fn track_ui(&self, ui: &mut egui::Ui, link: egui::Id, duration_s: f64) {
        let Some(result) = &self.result else {
            return;
        };
        let half = result.track.window_s / 2.0;
        let points: Vec<[f64; 2]> = result
            .track
            .points
            .iter()
            .map(|&(start, s)| [(start + half).min(duration_s), s])
            .collect();
        let threshold = self.threshold;
        let playhead = self.player.position_s();
        Plot::new("score track")
            .height(widgets::PLOT_HEIGHT * 0.8)
            .link_axis(link, [true, false])
            .include_x(0.0)
            .include_x(duration_s.max(1e-3))
            .include_y(threshold)
            .allow_scroll(false)
            .x_axis_label("time (s), window centres")
            .y_axis_label("score")
            .show(ui, |plot_ui| {
                plot_ui.line(
                    Line::new(
                        format!("{:.1} s windows", result.track.window_s),
                        PlotPoints::from(points),
                    )
                    .color(widgets::WAVE_COLOUR),
                );
                plot_ui.hline(HLine::new("threshold", threshold).color(widgets::MARK_COLOUR));
                if let Some(t) = playhead {
                    plot_ui.vline(VLine::new("playhead", t));
                }
            });
    }
}
