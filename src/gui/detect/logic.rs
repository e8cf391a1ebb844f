//! The detect view's logic: per-frame work (draining the model worker under the frame budget,
//! the clip panel's loads, dialogs, recording and playback) and [`DetectView::apply`], the one
//! place that carries out [`DetectCommand`]s.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::super::audio_widgets::{ClipDisplay, Recorder};
use super::super::clip_panel::{ClipCommand, ClipEvent};
use super::super::tasks::{self, FileRequest};
use super::super::{theme, Shared};
use super::models::{self, ModelsPanel};
use super::state::{CheckpointKind, ClipResult, DialogTarget, LiveTrack};
use super::worker::{self, LiveScore, LiveWindow, ScoredClip, WorkerCommand, WorkerEvent};
use super::{DetectCommand, DetectView};
use crate::audio::Clip;
use crate::inference::ModelRequest;

impl DetectView {
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

    fn choice(&self, shared: &Shared) -> Result<ModelRequest, String> {
        let mut request = self.checkpoint_choice(shared)?;
        let length = self.settings.num_samples.trim();
        if !(length.is_empty() || length.eq_ignore_ascii_case("auto")) {
            let n = length.parse::<usize>().map_err(|_| {
                format!("input length: '{length}' is not a whole number of samples (or auto)")
            })?;
            request.num_samples = Some(n);
        }
        request.calibration = self.calibration_request();
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
                calibration: Default::default(),
            }),
        }
    }

    pub(super) fn send(&mut self, cmd: WorkerCommand) -> bool {
        if self.worker.is_none() {
            match worker::spawn(self.ctx.as_ref()) {
                Ok(w) => self.worker = Some(w),
                Err(e) => {
                    self.error = Some(e);
                    return false;
                }
            }
        }
        let sent = self.worker.as_ref().is_some_and(|w| w.send(cmd));
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
                if self.send(WorkerCommand::Load(choice)) {
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
        let cmd = WorkerCommand::Score {
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
        if let Err(e) = self.source.load_file(self.ctx.as_ref(), path) {
            self.error = Some(e);
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
                self.live_session += 1;
                // Live scoring needs a model; without one the recording is scored at the end.
                self.live = self.model.as_ref().map(|_| LiveTrack {
                    session: self.live_session,
                    window_s: self.settings.window_s,
                    hop_s: self.settings.hop_s,
                    next_window: 0,
                    in_flight: false,
                    points: Vec::new(),
                    stats: Default::default(),
                    error: None,
                });
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
        let events = match &self.worker {
            Some(w) => w.drain(ctx, Instant::now() + theme::EVENT_BUDGET),
            None => Vec::new(),
        };
        for e in events {
            self.apply_event(e);
        }
        if !self.models.started() {
            let dir = ModelsPanel::folder(&self.settings.models_dir);
            self.models.refresh(Some(ctx), dir);
        }
        self.models.poll();
        for event in self.source.poll() {
            match event {
                ClipEvent::Loaded { name, clip } => {
                    // Another clip replaces the recording and its live track.
                    self.live = None;
                    self.set_clip(name, clip);
                }
                ClipEvent::Failed(e) => self.error = Some(e),
                ClipEvent::Picked(path) => self.open_file(path, shared),
            }
        }
        if let Some((target, answer)) = self
            .dialog
            .as_ref()
            .and_then(|(t, task)| task.poll().map(|r| (*t, r)))
        {
            self.dialog = None;
            if let Some(path) = answer.flatten() {
                match target {
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
        self.feed_live();
        if recording_over {
            self.stop_recording();
        }
        self.player.poll();
        if self.player.is_playing() {
            ctx.request_repaint();
        }
    }

    /// Send the newest complete window of the recording to the worker, unless one is still
    /// there; windows completed meanwhile are counted as skipped. The copy of the window is
    /// made here, on the UI thread, from the samples the recorder has drained (never in the
    /// audio callback).
    fn feed_live(&mut self) {
        let (Some(r), Some(live)) = (&self.recorder, &mut self.live) else {
            return;
        };
        if live.in_flight || live.error.is_some() {
            return;
        }
        let rate_hz = r.device_rate_hz();
        let rate = f64::from(rate_hz);
        let window = ((live.window_s * rate).round() as usize).max(1);
        let hop = ((live.hop_s * rate).round() as usize).max(1);
        let captured = r.captured();
        if captured.len() < window {
            return;
        }
        let newest = (captured.len() - window) / hop;
        if newest < live.next_window {
            return;
        }
        live.stats.windows_skipped += newest - live.next_window;
        let start = newest * hop;
        let Some(samples) = captured.get(start..start + window) else {
            return;
        };
        let cmd = WorkerCommand::LiveWindow(LiveWindow {
            session: live.session,
            start_s: start as f64 / rate,
            samples: samples.to_vec(),
            rate_hz,
            captured_at: Instant::now(),
        });
        live.next_window = newest + 1;
        live.in_flight = true;
        if !self.send(cmd) {
            if let Some(live) = &mut self.live {
                live.in_flight = false;
            }
        }
    }

    fn apply_live(&mut self, score: LiveScore) {
        let Some(live) = &mut self.live else {
            return;
        };
        if live.session != score.session {
            return;
        }
        live.in_flight = false;
        match score.result {
            Ok(s) => {
                live.points.push((score.start_s, s));
                let stats = &mut live.stats;
                stats.windows_scored += 1;
                stats.real_time_factor = Some(score.scoring_s / score.audio_s.max(1e-9));
                let latency_s = score.captured_at.elapsed().as_secs_f64();
                stats.latency_s = Some(latency_s);
                stats.max_latency_s =
                    Some(stats.max_latency_s.map_or(latency_s, |m| m.max(latency_s)));
            }
            Err(e) => live.error = Some(format!("live scoring failed: {e}")),
        }
    }

    fn apply_event(&mut self, event: WorkerEvent) {
        match event {
            WorkerEvent::Loaded(result) => {
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
            WorkerEvent::Scored { clip_id, result } => {
                self.scoring = false;
                if clip_id != self.clip_id {
                    return;
                }
                match result {
                    Ok(ScoredClip {
                        score,
                        track,
                        warnings,
                    }) => {
                        self.result = Some(ClipResult {
                            score,
                            track,
                            warnings,
                        })
                    }
                    Err(e) => self.error = Some(format!("scoring failed: {e}")),
                }
            }
            WorkerEvent::LiveScored(score) => self.apply_live(score),
            WorkerEvent::FolderProgress { done, total } => {
                self.folder_progress = Some((done, total))
            }
            WorkerEvent::FolderDone(result) => {
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
            WorkerEvent::ExplainProgress {
                clip_id,
                done,
                total,
            } => self.explain_progress(clip_id, done, total),
            WorkerEvent::Explained { clip_id, result } => self.explained(clip_id, result),
        }
    }

    /// Carries out a command of [`DetectView::ui`] (the one place that starts and stops work).
    pub fn apply(&mut self, cmd: DetectCommand, shared: &mut Shared) {
        match cmd {
            DetectCommand::LoadModel => self.load_model(shared),
            DetectCommand::ListModels => {
                let dir = ModelsPanel::folder(&self.settings.models_dir);
                self.models.refresh(self.ctx.as_ref(), dir);
            }
            DetectCommand::UseModel { path, kind } => {
                self.settings.kind = models::checkpoint_kind(kind);
                self.settings.checkpoint_path = path.display().to_string();
                self.settings.model_name = "auto".into();
                self.settings.num_samples = "auto".into();
                self.load_model(shared);
            }
            DetectCommand::Clip(ClipCommand::Open(path)) => self.start_loading_file(path),
            DetectCommand::Clip(cmd) => {
                if let Err(e) = self.source.apply(cmd, self.ctx.as_ref()) {
                    self.error = Some(e);
                }
            }
            DetectCommand::BrowseCheckpoint => {
                let kind = self.settings.kind;
                let filters: &[(&str, &[&str])] = match kind {
                    CheckpointKind::Pth => &[("PyTorch", &["pth", "pt"])],
                    _ => &[("safetensors", &["safetensors"])],
                };
                let folder = kind == CheckpointKind::RunFolder;
                let request = FileRequest::open("Choose a checkpoint", filters, folder);
                self.open_dialog(DialogTarget::Checkpoint, request);
            }
            DetectCommand::BrowseFolder => {
                let request = FileRequest::open("Folder to score", &[], true);
                self.open_dialog(DialogTarget::Folder, request);
            }
            DetectCommand::StartRecording => self.start_recording(),
            DetectCommand::StopRecording => self.stop_recording(),
            DetectCommand::Rescore => {
                if !self.scoring {
                    self.request_score();
                }
            }
            DetectCommand::ScoreFolder => self.score_folder(),
            DetectCommand::StopFolder => {
                if let Some(cancel) = &self.folder_cancel {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            DetectCommand::Play => {
                if let Some(clip) = &self.clip {
                    let c = clip.clip.clone();
                    match self.player.play(&c.samples, c.sample_rate_hz, 0.0, false) {
                        Ok(()) => self.audio_error = None,
                        Err(e) => self.audio_error = Some(format!("audio unavailable: {e}")),
                    }
                }
            }
            DetectCommand::StopPlayback => self.player.stop(),
            DetectCommand::Explain => self.start_explain(),
            DetectCommand::StopExplain => self.stop_explain(),
        }
    }

    /// Carries out each command in turn.
    pub fn apply_all(&mut self, commands: Vec<DetectCommand>, shared: &mut Shared) {
        for cmd in commands {
            self.apply(cmd, shared);
        }
    }

    fn open_dialog(&mut self, target: DialogTarget, request: FileRequest) {
        if self.dialog.is_none() {
            // Without a dialog, typed paths and drag-and-drop remain.
            if let Ok(task) = tasks::pick_file(self.ctx.as_ref(), request) {
                self.dialog = Some((target, task));
            }
        }
    }

    fn score_folder(&mut self) {
        let can = self.model.is_some() && !self.settings.folder.trim().is_empty();
        if !can || self.folder_cancel.is_some() {
            return;
        }
        let folder = PathBuf::from(self.settings.folder.trim());
        let out = if self.settings.scores_out.trim().is_empty() {
            folder.join("scores.txt")
        } else {
            PathBuf::from(self.settings.scores_out.trim())
        };
        let cancel = Arc::new(AtomicBool::new(false));
        if self.send(WorkerCommand::ScoreFolder {
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
