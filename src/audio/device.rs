//! Audio devices: playing a mono clip and recording from the default input, through cpal.
//!
//! The GUI's augment view plays original and augmented clips with a playhead; the detect view
//! records the microphone with a level meter. Devices are resolved lazily, on each
//! [`Player::play`] or [`Recorder::start`], so a machine without a sound card or audio server
//! still runs everything else, and a device that appears later is picked up on the next try.
//! Every failure is a [`DeviceError`] whose message completes "audio unavailable: …".
//!
//! The host is cpal's default: the PulseAudio server when its socket is reachable, else ALSA's
//! default device. Real-time rules hold in the stream callbacks: they read a clip buffer handed
//! over before the stream starts, publish positions and levels through atomics and pass recorded
//! samples through a lock-free single-producer/single-consumer ring ([`ring`]); they never
//! lock, allocate, log or panic.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use super::{resample, Clip, TARGET_SAMPLE_RATE_HZ};

/// Setting this environment variable (to anything but `0` or empty) makes every device request
/// fail with "disabled", as on a machine without sound: for tests and remote sessions.
pub const DISABLE_ENV: &str = "DPDA_NO_AUDIO";

/// How long a stream may take to open before it counts as unavailable.
const OPEN_TIMEOUT: Duration = Duration::from_secs(3);

/// Seconds of device-rate audio the recording ring holds between two drains by the UI.
const RING_SECONDS: u32 = 4;

/// Recording block length asked of the input device. Without it PulseAudio delivers a record
/// stream in fragments of about 2 s (measured through a null sink), which makes the level meter
/// and live scoring lag by as much; 20 ms blocks keep both current.
const INPUT_BLOCK_S: f64 = 0.02;

/// Which audio system device requests go to.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AudioBackend {
    /// cpal's default host (PulseAudio when reachable, else ALSA), unless [`DISABLE_ENV`] is set.
    #[default]
    System,
    /// The PulseAudio server only (used by loop-back tests against a null sink).
    PulseAudio,
    /// No audio at all, with the reason shown to the user.
    Unavailable(String),
}

impl AudioBackend {
    /// The backend the environment asks for: [`AudioBackend::Unavailable`] when [`DISABLE_ENV`]
    /// is set, else [`AudioBackend::System`].
    pub fn from_env() -> Self {
        match std::env::var(DISABLE_ENV) {
            Ok(v) if !v.is_empty() && v != "0" => {
                AudioBackend::Unavailable(format!("disabled by {DISABLE_ENV}"))
            }
            _ => AudioBackend::System,
        }
    }

    fn host(&self) -> Result<cpal::Host, DeviceError> {
        match self {
            AudioBackend::System => Ok(cpal::default_host()),
            #[cfg(target_os = "linux")]
            AudioBackend::PulseAudio => {
                cpal::host_from_id(cpal::HostId::PulseAudio).map_err(|e| DeviceError::Host {
                    detail: format!("PulseAudio: {e}"),
                })
            }
            #[cfg(not(target_os = "linux"))]
            AudioBackend::PulseAudio => Err(DeviceError::Host {
                detail: "PulseAudio is only supported on Linux".into(),
            }),
            AudioBackend::Unavailable(reason) => Err(DeviceError::Disabled(reason.clone())),
        }
    }
}

/// Playback or recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Playback.
    Output,
    /// Recording.
    Input,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Output => "output",
            Direction::Input => "input",
        })
    }
}

/// Why a device could not play or record; the message completes "audio unavailable: …".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    /// Audio is switched off (environment variable or an injected backend).
    #[error("{0}")]
    Disabled(String),
    /// The requested audio host cannot be reached.
    #[error("no audio host: {detail}")]
    Host { detail: String },
    /// The host has no default device of this direction.
    #[error("no default {direction} device on {host}")]
    NoDevice { direction: Direction, host: String },
    /// The device reported no usable configuration (typical without a sound card).
    #[error("the default {direction} device on {host} has no usable configuration: {detail}")]
    Config {
        direction: Direction,
        host: String,
        detail: String,
    },
    /// The device's sample format is one this module does not convert.
    #[error(
        "the {direction} device on {host} uses sample format {format}, which is not supported"
    )]
    Format {
        direction: Direction,
        host: String,
        format: String,
    },
    /// Opening or starting the stream failed.
    #[error("cannot open the {direction} stream on {host}: {detail}")]
    Stream {
        direction: Direction,
        host: String,
        detail: String,
    },
    /// The clip could not be brought to the device rate, or the recording to 16 kHz.
    #[error("cannot resample {from_hz} Hz to {to_hz} Hz: {detail}")]
    Resample {
        from_hz: u32,
        to_hz: u32,
        detail: String,
    },
    /// Nothing to play.
    #[error("the clip to play is empty")]
    EmptyClip,
    /// A clip or recording limit that makes no sense (zero rate, non-positive time limit).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// The default device of one direction and its default configuration.
struct Resolved {
    device: cpal::Device,
    host_name: String,
    config: StreamConfig,
    format: SampleFormat,
    /// The block sizes the device accepts.
    buffer_range: cpal::SupportedBufferSize,
}

fn resolve(backend: &AudioBackend, direction: Direction) -> Result<Resolved, DeviceError> {
    let host = backend.host()?;
    let host_name = host.id().name().to_string();
    let device = match direction {
        Direction::Output => host.default_output_device(),
        Direction::Input => host.default_input_device(),
    }
    .ok_or_else(|| DeviceError::NoDevice {
        direction,
        host: host_name.clone(),
    })?;
    let supported = match direction {
        Direction::Output => device.default_output_config(),
        Direction::Input => device.default_input_config(),
    }
    .map_err(|e| DeviceError::Config {
        direction,
        host: host_name.clone(),
        detail: e.to_string(),
    })?;
    let format = supported.sample_format();
    let buffer_range = *supported.buffer_size();
    let config = supported.config();
    if config.channels == 0 || config.sample_rate == 0 {
        return Err(DeviceError::Config {
            direction,
            host: host_name,
            detail: format!("{} channels at {} Hz", config.channels, config.sample_rate),
        });
    }
    Ok(Resolved {
        device,
        host_name,
        config,
        format,
        buffer_range,
    })
}

fn stream_error(direction: Direction, host: &str) -> impl Fn(cpal::Error) -> DeviceError + '_ {
    move |e| DeviceError::Stream {
        direction,
        host: host.to_string(),
        detail: e.to_string(),
    }
}

/// What the playback callback and the UI share.
struct PlayState {
    /// Next frame to play, in device-rate frames.
    position_frames: AtomicUsize,
    looping: AtomicBool,
    /// Set by the callback when a non-looping clip has been played to its end.
    finished: AtomicBool,
    /// Set by the stream's error callback.
    failed: AtomicBool,
}

/// Fill an interleaved output buffer of `channels` channels from `clip`, starting at the shared
/// position: the same sample on every channel, silence after the end unless looping.
fn fill_output<T>(out: &mut [T], channels: usize, clip: &[f32], state: &PlayState)
where
    T: SizedSample + FromSample<f32>,
{
    let mut position = state.position_frames.load(Ordering::Relaxed);
    let looping = state.looping.load(Ordering::Relaxed);
    for frame in out.chunks_mut(channels.max(1)) {
        if position >= clip.len() && looping && !clip.is_empty() {
            position = 0;
        }
        let value = match clip.get(position) {
            Some(&x) => {
                position += 1;
                T::from_sample(x.clamp(-1.0, 1.0))
            }
            None => {
                state.finished.store(true, Ordering::Relaxed);
                T::EQUILIBRIUM
            }
        };
        frame.iter_mut().for_each(|s| *s = value);
    }
    state.position_frames.store(position, Ordering::Relaxed);
}

/// One open playback stream.
struct Playback {
    _stream: cpal::Stream,
    state: Arc<PlayState>,
    device_rate_hz: u32,
    len_frames: usize,
}

/// Plays mono clips on the default output device, one at a time, with a readable playhead.
pub struct Player {
    backend: AudioBackend,
    active: Option<Playback>,
}

impl Player {
    /// A player that resolves its device on the first [`Player::play`].
    pub fn new(backend: AudioBackend) -> Self {
        Self {
            backend,
            active: None,
        }
    }

    /// The backend device requests go to.
    pub fn backend(&self) -> &AudioBackend {
        &self.backend
    }

    /// Replace the backend (stops playback).
    pub fn set_backend(&mut self, backend: AudioBackend) {
        self.stop();
        self.backend = backend;
    }

    /// Play `samples` (mono, at `sample_rate_hz`) from `start_s` seconds, replacing whatever was
    /// playing; the clip is resampled to the device rate first.
    pub fn play(
        &mut self,
        samples: &[f32],
        sample_rate_hz: u32,
        start_s: f64,
        looping: bool,
    ) -> Result<(), DeviceError> {
        self.stop();
        if samples.is_empty() {
            return Err(DeviceError::EmptyClip);
        }
        if sample_rate_hz == 0 {
            return Err(DeviceError::Invalid(
                "the clip's sample rate is 0 Hz".into(),
            ));
        }
        let resolved = resolve(&self.backend, Direction::Output)?;
        let device_rate_hz = resolved.config.sample_rate;
        let clip: Arc<[f32]> = if device_rate_hz == sample_rate_hz {
            samples.into()
        } else {
            resample(samples, sample_rate_hz, device_rate_hz)
                .map_err(|e| DeviceError::Resample {
                    from_hz: sample_rate_hz,
                    to_hz: device_rate_hz,
                    detail: e.to_string(),
                })?
                .into()
        };
        let start_frames = if start_s.is_finite() && start_s > 0.0 {
            ((start_s * f64::from(device_rate_hz)) as usize).min(clip.len())
        } else {
            0
        };
        let state = Arc::new(PlayState {
            position_frames: AtomicUsize::new(start_frames),
            looping: AtomicBool::new(looping),
            finished: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        });
        let len_frames = clip.len();
        let stream = build_output(&resolved, clip, state.clone())?;
        stream
            .play()
            .map_err(stream_error(Direction::Output, &resolved.host_name))?;
        self.active = Some(Playback {
            _stream: stream,
            state,
            device_rate_hz,
            len_frames,
        });
        Ok(())
    }

    /// Stop playback and close the stream.
    pub fn stop(&mut self) {
        self.active = None;
    }

    /// Change looping of the clip now playing.
    pub fn set_looping(&self, looping: bool) {
        if let Some(p) = &self.active {
            p.state.looping.store(looping, Ordering::Relaxed);
        }
    }

    /// Whether a clip is playing (not yet at its end, or looping).
    pub fn is_playing(&self) -> bool {
        self.active.as_ref().is_some_and(|p| {
            !p.state.finished.load(Ordering::Relaxed) && !p.state.failed.load(Ordering::Relaxed)
        })
    }

    /// The playhead in seconds of the clip, while a stream is open.
    pub fn position_s(&self) -> Option<f64> {
        self.active.as_ref().map(|p| {
            let frames = p
                .state
                .position_frames
                .load(Ordering::Relaxed)
                .min(p.len_frames);
            frames as f64 / f64::from(p.device_rate_hz)
        })
    }

    /// The output device's rate, while a stream is open.
    pub fn device_rate_hz(&self) -> Option<u32> {
        self.active.as_ref().map(|p| p.device_rate_hz)
    }

    /// Close the stream once the clip has ended; call once per UI frame.
    pub fn poll(&mut self) {
        if self.active.is_some() && !self.is_playing() {
            self.active = None;
        }
    }
}

fn build_output(
    resolved: &Resolved,
    clip: Arc<[f32]>,
    state: Arc<PlayState>,
) -> Result<cpal::Stream, DeviceError> {
    fn typed<T>(
        resolved: &Resolved,
        clip: Arc<[f32]>,
        state: Arc<PlayState>,
    ) -> Result<cpal::Stream, DeviceError>
    where
        T: SizedSample + FromSample<f32> + Send + 'static,
    {
        let channels = usize::from(resolved.config.channels);
        let failed = state.clone();
        resolved
            .device
            .build_output_stream::<T, _, _>(
                resolved.config,
                move |out: &mut [T], _| fill_output(out, channels, &clip, &state),
                move |_err| failed.failed.store(true, Ordering::Relaxed),
                Some(OPEN_TIMEOUT),
            )
            .map_err(stream_error(Direction::Output, &resolved.host_name))
    }
    match resolved.format {
        SampleFormat::F32 => typed::<f32>(resolved, clip, state),
        SampleFormat::I16 => typed::<i16>(resolved, clip, state),
        SampleFormat::U16 => typed::<u16>(resolved, clip, state),
        SampleFormat::I32 => typed::<i32>(resolved, clip, state),
        SampleFormat::F64 => typed::<f64>(resolved, clip, state),
        SampleFormat::I8 => typed::<i8>(resolved, clip, state),
        SampleFormat::U8 => typed::<u8>(resolved, clip, state),
        other => Err(DeviceError::Format {
            direction: Direction::Output,
            host: resolved.host_name.clone(),
            format: other.to_string(),
        }),
    }
}

/// Peak and RMS level of the latest block of recorded audio, linear full scale.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Level {
    /// Largest absolute sample.
    pub peak: f32,
    /// Root mean square.
    pub rms: f32,
}

/// What the recording callback and the UI share besides the ring.
struct RecordState {
    peak_bits: AtomicU32,
    rms_bits: AtomicU32,
    /// Frames taken so far (stops at the limit).
    frames_taken: AtomicUsize,
    /// Frames the ring had no room for.
    frames_dropped: AtomicUsize,
    limit_frames: usize,
    failed: AtomicBool,
}

/// Downmix an interleaved input block to mono (mean of the channels), push it into the ring up
/// to the frame limit, and publish the block's level.
fn take_input<T>(input: &[T], channels: usize, producer: &mut ring::Producer, state: &RecordState)
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = channels.max(1);
    let scale = 1.0 / channels as f32;
    let taken = state.frames_taken.load(Ordering::Relaxed);
    let room = state.limit_frames.saturating_sub(taken);
    let mut peak = 0.0f32;
    let mut sum_squares = 0.0f32;
    let mut num_frames = 0usize;
    let mono = input
        .chunks(channels)
        .take(room)
        .map(|frame| frame.iter().map(|s| s.to_sample::<f32>()).sum::<f32>() * scale)
        .inspect(|&x| {
            let a = x.abs();
            peak = if a > peak { a } else { peak };
            sum_squares += x * x;
            num_frames += 1;
        });
    let pushed = producer.push_iter(mono);
    if num_frames > 0 {
        let rms = (sum_squares / num_frames as f32).sqrt();
        state.peak_bits.store(peak.to_bits(), Ordering::Relaxed);
        state.rms_bits.store(rms.to_bits(), Ordering::Relaxed);
    }
    state
        .frames_taken
        .store(taken + num_frames, Ordering::Relaxed);
    state
        .frames_dropped
        .fetch_add(num_frames - pushed, Ordering::Relaxed);
}

/// Records the default input device, mono, up to a time limit; the UI drains it every frame.
pub struct Recorder {
    _stream: cpal::Stream,
    consumer: ring::Consumer,
    state: Arc<RecordState>,
    device_rate_hz: u32,
    captured: Vec<f32>,
}

impl Recorder {
    /// Open the default input device and start recording at most `limit_s` seconds.
    pub fn start(backend: &AudioBackend, limit_s: f64) -> Result<Self, DeviceError> {
        if !(limit_s.is_finite() && limit_s > 0.0) {
            return Err(DeviceError::Invalid(format!(
                "the recording limit must be a positive number of seconds, got {limit_s}"
            )));
        }
        let resolved = resolve(backend, Direction::Input)?;
        let device_rate_hz = resolved.config.sample_rate;
        let limit_frames = (limit_s * f64::from(device_rate_hz)).ceil() as usize;
        let capacity = (RING_SECONDS * device_rate_hz) as usize;
        let (producer, mut consumer) = ring::ring(capacity.min(limit_frames.max(1)));
        let state = Arc::new(RecordState {
            peak_bits: AtomicU32::new(0),
            rms_bits: AtomicU32::new(0),
            frames_taken: AtomicUsize::new(0),
            frames_dropped: AtomicUsize::new(0),
            limit_frames,
            failed: AtomicBool::new(false),
        });
        // Short blocks when the device accepts them; else (or when it refuses) its default.
        let blocked = input_block_config(&resolved, INPUT_BLOCK_S);
        let stream = match blocked.and_then(|r| build_input(&r, producer, state.clone()).ok()) {
            Some(stream) => stream,
            None => {
                let (producer, consumer_again) = ring::ring(capacity.min(limit_frames.max(1)));
                consumer = consumer_again;
                build_input(&resolved, producer, state.clone())?
            }
        };
        stream
            .play()
            .map_err(stream_error(Direction::Input, &resolved.host_name))?;
        Ok(Self {
            _stream: stream,
            consumer,
            state,
            device_rate_hz,
            captured: Vec::with_capacity(limit_frames),
        })
    }

    /// Move recorded samples out of the ring; returns how many arrived. Call once per UI frame.
    pub fn poll(&mut self) -> usize {
        self.consumer.pop_into(&mut self.captured)
    }

    /// The mono samples recorded so far, at the device rate, as of the last [`Recorder::poll`]:
    /// for scoring while recording (the callback never sees this buffer).
    pub fn captured(&self) -> &[f32] {
        &self.captured
    }

    /// The level of the latest recorded block.
    pub fn level(&self) -> Level {
        Level {
            peak: f32::from_bits(self.state.peak_bits.load(Ordering::Relaxed)),
            rms: f32::from_bits(self.state.rms_bits.load(Ordering::Relaxed)),
        }
    }

    /// Seconds recorded so far.
    pub fn elapsed_s(&self) -> f64 {
        self.state.frames_taken.load(Ordering::Relaxed) as f64 / f64::from(self.device_rate_hz)
    }

    /// Whether the time limit has been reached.
    pub fn is_done(&self) -> bool {
        self.state.frames_taken.load(Ordering::Relaxed) >= self.state.limit_frames
    }

    /// Whether the stream reported an error (e.g. the device was unplugged).
    pub fn has_failed(&self) -> bool {
        self.state.failed.load(Ordering::Relaxed)
    }

    /// Frames lost because the ring was full (the UI did not drain it in time).
    pub fn frames_dropped(&self) -> usize {
        self.state.frames_dropped.load(Ordering::Relaxed)
    }

    /// The input device's rate.
    pub fn device_rate_hz(&self) -> u32 {
        self.device_rate_hz
    }

    /// Stop recording and return what was recorded, resampled to 16 kHz.
    pub fn finish(mut self) -> Result<Clip, DeviceError> {
        self.poll();
        let rate = self.device_rate_hz;
        let samples = std::mem::take(&mut self.captured);
        drop(self);
        if samples.is_empty() {
            return Ok(Clip {
                samples,
                sample_rate_hz: TARGET_SAMPLE_RATE_HZ,
            });
        }
        let samples = if rate == TARGET_SAMPLE_RATE_HZ {
            samples
        } else {
            resample(&samples, rate, TARGET_SAMPLE_RATE_HZ).map_err(|e| DeviceError::Resample {
                from_hz: rate,
                to_hz: TARGET_SAMPLE_RATE_HZ,
                detail: e.to_string(),
            })?
        };
        Ok(Clip {
            samples,
            sample_rate_hz: TARGET_SAMPLE_RATE_HZ,
        })
    }
}

/// `resolved` with fixed blocks of `block_s` seconds, when the device's range allows them.
fn input_block_config(resolved: &Resolved, block_s: f64) -> Option<Resolved> {
    let cpal::SupportedBufferSize::Range { min, max } = resolved.buffer_range else {
        return None;
    };
    let frames = (block_s * f64::from(resolved.config.sample_rate)).round() as u32;
    (min..=max).contains(&frames).then(|| Resolved {
        device: resolved.device.clone(),
        host_name: resolved.host_name.clone(),
        config: StreamConfig {
            buffer_size: cpal::BufferSize::Fixed(frames),
            ..resolved.config
        },
        format: resolved.format,
        buffer_range: resolved.buffer_range,
    })
}

fn build_input(
    resolved: &Resolved,
    producer: ring::Producer,
    state: Arc<RecordState>,
) -> Result<cpal::Stream, DeviceError> {
    fn typed<T>(
        resolved: &Resolved,
        mut producer: ring::Producer,
        state: Arc<RecordState>,
    ) -> Result<cpal::Stream, DeviceError>
    where
        T: SizedSample + Send + 'static,
        f32: FromSample<T>,
    {
        let channels = usize::from(resolved.config.channels);
        let failed = state.clone();
        resolved
            .device
            .build_input_stream::<T, _, _>(
                resolved.config,
                move |input: &[T], _| take_input(input, channels, &mut producer, &state),
                move |_err| failed.failed.store(true, Ordering::Relaxed),
                Some(OPEN_TIMEOUT),
            )
            .map_err(stream_error(Direction::Input, &resolved.host_name))
    }
    match resolved.format {
        SampleFormat::F32 => typed::<f32>(resolved, producer, state),
        SampleFormat::I16 => typed::<i16>(resolved, producer, state),
        SampleFormat::U16 => typed::<u16>(resolved, producer, state),
        SampleFormat::I32 => typed::<i32>(resolved, producer, state),
        SampleFormat::F64 => typed::<f64>(resolved, producer, state),
        SampleFormat::I8 => typed::<i8>(resolved, producer, state),
        SampleFormat::U8 => typed::<u8>(resolved, producer, state),
        other => Err(DeviceError::Format {
            direction: Direction::Input,
            host: resolved.host_name.clone(),
            format: other.to_string(),
        }),
    }
}

/// A bounded lock-free single-producer/single-consumer queue of `f32` samples.
///
/// Slots are `AtomicU32`s holding the samples' bits, so neither side needs `unsafe`: the
/// producer writes slots, then publishes its count with `Release`; the consumer reads the count
/// with `Acquire`, reads the slots, then releases them by publishing its own count. Counts
/// increase forever (wrapping) and index the slots modulo the capacity. `Producer` and
/// `Consumer` are not `Clone`, which keeps each side single.
pub mod ring {
    use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Inner {
        slots: Box<[AtomicU32]>,
        /// Samples written so far.
        written: AtomicUsize,
        /// Samples read so far.
        read: AtomicUsize,
    }

    /// The writing side (the audio callback).
    pub struct Producer {
        inner: Arc<Inner>,
    }

    /// The reading side (the UI thread).
    pub struct Consumer {
        inner: Arc<Inner>,
    }

    /// A ring holding up to `capacity` samples (at least one).
    pub fn ring(capacity: usize) -> (Producer, Consumer) {
        let capacity = capacity.max(1);
        let inner = Arc::new(Inner {
            slots: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            written: AtomicUsize::new(0),
            read: AtomicUsize::new(0),
        });
        (
            Producer {
                inner: inner.clone(),
            },
            Consumer { inner },
        )
    }

    impl Producer {
        /// Push samples until the ring is full; returns how many were taken from `samples`
        /// (the iterator is consumed to its end either way). Never blocks or allocates.
        pub fn push_iter(&mut self, samples: impl Iterator<Item = f32>) -> usize {
            let inner = &*self.inner;
            let capacity = inner.slots.len();
            let written = inner.written.load(Ordering::Relaxed);
            let read = inner.read.load(Ordering::Acquire);
            let free = capacity - written.wrapping_sub(read);
            let mut pushed = 0;
            for x in samples {
                if pushed < free {
                    inner.slots[written.wrapping_add(pushed) % capacity]
                        .store(x.to_bits(), Ordering::Relaxed);
                    pushed += 1;
                }
            }
            inner
                .written
                .store(written.wrapping_add(pushed), Ordering::Release);
            pushed
        }
    }

    impl Consumer {
        /// Append every available sample to `out`; returns how many.
        pub fn pop_into(&mut self, out: &mut Vec<f32>) -> usize {
            let inner = &*self.inner;
            let capacity = inner.slots.len();
            let read = inner.read.load(Ordering::Relaxed);
            let written = inner.written.load(Ordering::Acquire);
            let available = written.wrapping_sub(read);
            out.extend((0..available).map(|i| {
                f32::from_bits(inner.slots[read.wrapping_add(i) % capacity].load(Ordering::Relaxed))
            }));
            inner
                .read
                .store(read.wrapping_add(available), Ordering::Release);
            available
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play_state(position: usize, looping: bool) -> PlayState {
        PlayState {
            position_frames: AtomicUsize::new(position),
            looping: AtomicBool::new(looping),
            finished: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        }
    }

    #[test]
    fn fill_output_copies_to_every_channel_then_silence_and_finishes() {
        let clip = [0.5f32, -0.5, 0.25];
        let state = play_state(1, false);
        let mut out = [7i16; 8]; // 4 stereo frames
        fill_output(&mut out, 2, &clip, &state);
        // i16::from_sample(0.5) = 16384 (dasp scales by 32768).
        assert_eq!(out, [-16384, -16384, 8192, 8192, 0, 0, 0, 0]);
        assert_eq!(state.position_frames.load(Ordering::Relaxed), 3);
        assert!(state.finished.load(Ordering::Relaxed));
    }

    #[test]
    fn fill_output_wraps_when_looping_and_handles_unsigned_formats() {
        let clip = [1.0f32, -1.0];
        let state = play_state(1, true);
        let mut out = [0u16; 4];
        fill_output(&mut out, 1, &clip, &state);
        // u16 silence is 32768; full scale -1 maps to 0.
        assert_eq!(out[0], 0);
        assert!(out[1] > 60_000);
        assert_eq!(out[2], 0);
        assert!(out[3] > 60_000);
        assert!(!state.finished.load(Ordering::Relaxed));
        assert_eq!(state.position_frames.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn take_input_downmixes_limits_and_measures_level() {
        let (mut producer, mut consumer) = ring::ring(16);
        let state = RecordState {
            peak_bits: AtomicU32::new(0),
            rms_bits: AtomicU32::new(0),
            frames_taken: AtomicUsize::new(0),
            frames_dropped: AtomicUsize::new(0),
            limit_frames: 3,
            failed: AtomicBool::new(false),
        };
        // Stereo frames (0.5, 0.1), (-0.2, -0.4), (1.0, 0.0), (0.3, 0.3): the limit keeps three.
        let input = [0.5f32, 0.1, -0.2, -0.4, 1.0, 0.0, 0.3, 0.3];
        take_input(&input, 2, &mut producer, &state);
        let mut out = Vec::new();
        assert_eq!(consumer.pop_into(&mut out), 3);
        let expected = [0.3f32, -0.3, 0.5];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
        let peak = f32::from_bits(state.peak_bits.load(Ordering::Relaxed));
        let rms = f32::from_bits(state.rms_bits.load(Ordering::Relaxed));
        assert!((peak - 0.5).abs() < 1e-6);
        let expected_rms = ((0.09f32 + 0.09 + 0.25) / 3.0).sqrt();
        assert!((rms - expected_rms).abs() < 1e-6);
        assert_eq!(state.frames_taken.load(Ordering::Relaxed), 3);
        // At the limit nothing more is taken.
        take_input(&input, 2, &mut producer, &state);
        assert_eq!(consumer.pop_into(&mut out), 0);
    }

    #[test]
    fn ring_keeps_order_drops_when_full_and_reuses_slots() {
        let (mut producer, mut consumer) = ring::ring(4);
        assert_eq!(producer.push_iter([1.0, 2.0, 3.0].into_iter()), 3);
        assert_eq!(producer.push_iter([4.0, 5.0, 6.0].into_iter()), 1);
        let mut out = Vec::new();
        assert_eq!(consumer.pop_into(&mut out), 4);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(producer.push_iter([7.0, 8.0].into_iter()), 2);
        out.clear();
        consumer.pop_into(&mut out);
        assert_eq!(out, [7.0, 8.0]);
    }

    #[test]
    fn ring_passes_a_long_stream_between_threads_intact() {
        let (mut producer, mut consumer) = ring::ring(64);
        let total = 100_000usize;
        let writer = std::thread::spawn(move || {
            let mut next = 0usize;
            while next < total {
                let end = (next + 37).min(total);
                let pushed = producer.push_iter((next..end).map(|i| i as f32));
                next += pushed;
                if pushed == 0 {
                    std::thread::yield_now();
                }
            }
        });
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            if consumer.pop_into(&mut out) == 0 {
                std::thread::yield_now();
            }
        }
        writer.join().expect("writer thread");
        assert!(out.iter().enumerate().all(|(i, &x)| x == i as f32));
    }

    #[test]
    fn disabled_backend_fails_with_its_reason() {
        let mut player = Player::new(AudioBackend::Unavailable("no sound here".into()));
        let err = player.play(&[0.1; 100], 16_000, 0.0, false).unwrap_err();
        assert_eq!(err.to_string(), "no sound here");
        assert!(!player.is_playing());
        let err = Recorder::start(&AudioBackend::Unavailable("off".into()), 1.0)
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("off"));
    }
}
