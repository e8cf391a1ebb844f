//! The error type of the audio module: every variant names the file it concerns.

use std::path::PathBuf;

/// Why an audio file could not be read, decoded, resampled or written.
///
/// I/O causes are part of the message (field `io`, not a `source`), so a `{:#}` chain does not
/// print them twice.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file is missing or unreadable.
    #[error("cannot open audio file {}: {io}", path.display())]
    Open { path: PathBuf, io: std::io::Error },
    /// The path is a folder, FIFO, socket or device, not a file to read.
    #[error("{} is {kind}, not an audio file", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    /// The file has zero bytes.
    #[error("audio file {} is empty (0 bytes)", path.display())]
    EmptyFile { path: PathBuf },
    /// The container or codec is not one this build decodes.
    #[error("unsupported audio format in {}: {detail}", path.display())]
    Unsupported { path: PathBuf, detail: String },
    /// The data is malformed: a bad header, a corrupt packet or a cut-off stream.
    #[error("corrupt audio file {}: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// The stream ended before the number of frames its header announces.
    #[error(
        "truncated audio file {}: header announces {expected_frames} frames, only {decoded_frames} present",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        expected_frames: u64,
        decoded_frames: u64,
    },
    /// The file decodes to no samples at all.
    #[error("audio file {} contains no samples", path.display())]
    NoSamples { path: PathBuf },
    /// A decoded sample is NaN or infinite.
    #[error(
        "audio file {} has a non-finite sample ({value}) at frame {frame}, channel {channel}",
        path.display()
    )]
    NonFinite {
        path: PathBuf,
        frame: u64,
        channel: u16,
        value: f32,
    },
    /// Resampling a decoded file failed (e.g. a zero sample rate in its header).
    #[error("cannot resample audio file {}: {detail}", path.display())]
    Resample { path: PathBuf, detail: String },
    /// A resampling request without a file is invalid (zero rate, too short a clip…).
    #[error("cannot resample from {from_hz} Hz to {to_hz} Hz: {detail}")]
    InvalidResample {
        from_hz: u32,
        to_hz: u32,
        detail: String,
    },
    /// Writing a WAV file failed.
    #[error("cannot write WAV file {}: {detail}", path.display())]
    Write { path: PathBuf, detail: String },
    /// A folder could not be listed.
    #[error("cannot list folder {}: {io}", path.display())]
    ReadDir { path: PathBuf, io: std::io::Error },
}
