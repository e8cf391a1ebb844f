//! `dpda info`: print each audio file's format, native rate, channels, duration and peak, as text
//! or one JSON object per line. A thin front end over [`crate::audio::info`].

use std::path::PathBuf;

use anyhow::Context;

use crate::audio::{self, AudioInfo};

/// Arguments of `dpda info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Audio files to inspect (WAV, FLAC, Ogg/Vorbis, MP3).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file instead of a text line.
    #[arg(long)]
    pub json: bool,
}

/// Inspect every file; report each unreadable one and fail at the end if any were.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut num_failed = 0usize;
    let num_files = args.files.len();
    for (i, path) in args.files.iter().enumerate() {
        // The audio error already names the file; the context says where it sits in the list.
        let result = audio::info(path)
            .with_context(|| format!("file {} of {num_files}", i + 1))
            .and_then(|info| render(&info, args.json));
        match result {
            // A closed pipe (`dpda info … | head -1`) ends the listing: quietly when every file
            // so far was read, else with the failures.
            Ok(line) => match super::print_line(&line) {
                Err(e) if num_failed > 0 && e.is::<super::ClosedPipe>() => break,
                other => other?,
            },
            Err(e) => {
                num_failed += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    if num_failed > 0 {
        anyhow::bail!("{num_failed} of {num_files} files could not be read");
    }
    Ok(())
}

fn render(info: &AudioInfo, json: bool) -> anyhow::Result<String> {
    if json {
        return serde_json::to_string(info).context("cannot serialise the file's info as JSON");
    }
    let bits = info
        .bits_per_sample
        .map(|b| format!(", {b} bit"))
        .unwrap_or_default();
    let peak_dbfs = if info.peak > 0.0 {
        format!("{:.2} dBFS", 20.0 * f64::from(info.peak).log10())
    } else {
        "-inf dBFS".to_string()
    };
    Ok(format!(
        "{}: {}/{}, {} Hz, {} ch{bits}, {} frames ({:.3} s), peak {:.4} ({peak_dbfs})",
        info.path.display(),
        info.container,
        info.codec,
        info.sample_rate_hz,
        info.channels,
        info.num_frames,
        info.duration_s,
        info.peak,
    ))
}
