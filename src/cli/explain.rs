//! `dpda explain`: which time-frequency regions of a clip drive its score, by occlusion, and
//! whether the score rests on non-speech audio. A thin front end over
//! [`crate::inference::explain`].

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::inference::explain::{
    ExplainConfig, Explanation, DEFAULT_BANDS, DEFAULT_TILE_S, NON_SPEECH_FLAG_SHARE,
};
use crate::inference::{ModelRequest, Scorer};

/// Arguments of `dpda explain`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Method: occlusion (not integrated gradients). The clip the model sees (its \
                  first input-length samples) is cut into tiles of --tiles-s seconds × --bands \
                  equal frequency bands; each tile is zeroed in the STFT, the audio \
                  resynthesised and scored again. attribution = score(clip) − score(clip \
                  without the tile), in logit units: positive pushes towards bona fide, \
                  negative towards spoofed.\n\n\
                  An energy detector marks speech; the share of absolute attribution on \
                  non-speech time is reported, and flagged above 50% (the silence shortcut)."
)]
pub struct Args {
    /// A run folder, a .safetensors checkpoint, a released AASIST/AASIST-L .pth or a dpda_ga
    /// XLS-R .pth (as for `dpda score`).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Model name, overriding what the checkpoint says or is recognised as.
    #[arg(long)]
    pub model: Option<String>,
    /// Whole-clip input length in samples (default: the model's own, as for `dpda score`).
    #[arg(long)]
    pub num_samples: Option<usize>,
    /// Length of a tile's time block in seconds.
    #[arg(long, default_value_t = DEFAULT_TILE_S)]
    pub tiles_s: f64,
    /// Number of equal-width frequency bands from 0 Hz to 8 kHz.
    #[arg(long, default_value_t = DEFAULT_BANDS)]
    pub bands: usize,
    /// Tiles listed, largest absolute attribution first.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print the whole explanation (every tile) as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Also write the whole explanation as JSON to this file (written whole, at the end).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The audio file to explain.
    pub clip: PathBuf,
}

/// Refuse an `--out` that is the clip or the checkpoint.
fn check_out(out: &Path, args: &Args) -> anyhow::Result<()> {
    let Ok(out_real) = out.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    let same = |p: &Path| p.canonicalize().is_ok_and(|c| c == out_real);
    if same(&args.clip) || same(&args.checkpoint) {
        anyhow::bail!(
            "--out {} is one of the inputs; choose another file",
            out.display()
        );
    }
    Ok(())
}

/// Explain one clip's score.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = ExplainConfig::new(args.tiles_s, args.bands, ("--tiles-s", "--bands"))?;
    if let Some(out) = &args.out {
        check_out(out, &args)?;
    }
    let clip = crate::audio::load_mono_16k(&args.clip)
        .with_context(|| format!("cannot read the clip {}", args.clip.display()))?;
    let request = ModelRequest {
        path: args.checkpoint.clone(),
        model: args.model.clone(),
        num_samples: args.num_samples,
        // Attributions are differences of raw logits.
        calibration: crate::inference::CalibrationRequest::Raw,
    };
    let scorer = Scorer::load(&request)
        .with_context(|| format!("cannot load the model from {}", args.checkpoint.display()))?;
    eprintln!("explaining with {}", scorer.info().describe());
    let explanation = scorer
        .explain(&clip.samples, &config, &mut |_, _| true)
        .with_context(|| format!("cannot explain {}", args.clip.display()))?
        .context("the explanation was stopped")?;
    let json = serde_json::to_string_pretty(&explanation)
        .context("cannot serialise the explanation as JSON")?;
    if let Some(out) = &args.out {
        crate::atomic_file::write_atomically(out, json.as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if args.json {
        outln!("{json}");
    } else {
        print_summary(&explanation, &args, clip.duration_s())?;
    }
    Ok(())
}

fn print_summary(e: &Explanation, args: &Args, clip_s: f64) -> anyhow::Result<()> {
    outln!(
        "{}: explained {:.2} s of {:.2} s (the model's input: {} samples) by occlusion, {} time blocks × {} bands",
        args.clip.display(),
        e.explained_s(),
        clip_s,
        e.model_num_samples,
        e.num_blocks(),
        e.num_bands()
    );
    outln!("score {:.4} (bona fide logit)", e.score);
    outln!(
        "score with every tile occluded (silence) {:.4}; sum of attributions {:.4} vs score − that {:.4}",
        e.score_all_occluded,
        e.attribution_sum,
        e.score - e.score_all_occluded
    );
    outln!("top tiles (attribution = score − score without the tile; positive pushes towards bona fide):");
    for tile in e.tiles_by_magnitude().iter().take(args.top) {
        outln!(
            "  {:6.2}–{:6.2} s  {:5.0}–{:5.0} Hz  {:+.4}",
            tile.start_s,
            tile.end_s,
            tile.low_hz,
            tile.high_hz,
            tile.attribution
        );
    }
    let s = &e.shares;
    match (s.speech_share, s.non_speech_share) {
        (Some(speech), Some(non_speech)) => outln!(
            "speech {:.1}% of the time; attribution on speech {:.1}%, on non-speech {:.1}%",
            100.0 * s.speech_time_fraction,
            100.0 * speech,
            100.0 * non_speech
        ),
        _ => outln!(
            "speech {:.1}% of the time; every attribution is zero (no tile changes the score)",
            100.0 * s.speech_time_fraction
        ),
    }
    if s.mostly_non_speech {
        outln!(
            "warning: the score rests mostly on non-speech audio (more than {:.0}% of the attribution)",
            100.0 * NON_SPEECH_FLAG_SHARE
        );
    }
    Ok(())
}
