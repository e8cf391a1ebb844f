//! `dpda augment`: apply RawBoost to one audio file or to every audio file under a folder.
//!
//! Files are decoded at their native rate and downmixed to mono; outputs are 32-bit float WAV at
//! the same rate. File `i` of a folder (in sorted order) draws from `Rng::for_item(seed, epoch, i)`,
//! so a seed reproduces every output whatever the thread count. The work itself is
//! [`crate::augment::rawboost`]; this module only handles files, threads, progress and printing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::audio::{self, WavFormat};
use crate::augment::{rawboost, RawBoostAlgo, RawBoostParams, RawBoostReport};
use crate::rng::Rng;

/// Arguments of `dpda augment`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// RawBoost algorithm: 0 none, 1 LnL, 2 ISD, 3 SSI, 4 = 1+2+3, 5 = 1+2, 6 = 1+3, 7 = 2+3,
    /// 8 = 1 ∥ 2.
    #[arg(long, value_parser = parse_algo)]
    pub algo: RawBoostAlgo,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epoch mixed into the per-file random stream.
    #[arg(long, default_value_t = 0)]
    pub epoch: u64,
    /// Worker threads for a folder (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub params: ParamArgs,
    /// Input audio file or folder.
    pub input: PathBuf,
    /// Output WAV file, or output folder when the input is a folder.
    pub output: PathBuf,
}

/// RawBoost parameters as flags, named after the reference's arguments.
#[derive(clap::Args, Debug)]
pub struct ParamArgs {
    /// N_f: number of LnL terms.
    #[arg(long = "n-f", default_value_t = RawBoostParams::default().n_f)]
    pub n_f: u32,
    /// nBands: notches per coloured filter.
    #[arg(long = "n-bands", default_value_t = RawBoostParams::default().n_bands)]
    pub n_bands: u32,
    /// minF: lowest notch centre (Hz).
    #[arg(long = "min-f", default_value_t = RawBoostParams::default().min_f_hz, allow_negative_numbers = true)]
    pub min_f_hz: f64,
    /// maxF: highest notch centre (Hz).
    #[arg(long = "max-f", default_value_t = RawBoostParams::default().max_f_hz, allow_negative_numbers = true)]
    pub max_f_hz: f64,
    /// minBW: narrowest notch (Hz).
    #[arg(long = "min-bw", default_value_t = RawBoostParams::default().min_bw_hz, allow_negative_numbers = true)]
    pub min_bw_hz: f64,
    /// maxBW: widest notch (Hz).
    #[arg(long = "max-bw", default_value_t = RawBoostParams::default().max_bw_hz, allow_negative_numbers = true)]
    pub max_bw_hz: f64,
    /// minCoeff: fewest taps per notch.
    #[arg(long = "min-coeff", default_value_t = RawBoostParams::default().min_coeff)]
    pub min_coeff: u32,
    /// maxCoeff: most taps per notch.
    #[arg(long = "max-coeff", default_value_t = RawBoostParams::default().max_coeff)]
    pub max_coeff: u32,
    /// minG: lowest filter gain (dB).
    #[arg(long = "min-g", default_value_t = RawBoostParams::default().min_g_db, allow_negative_numbers = true)]
    pub min_g_db: f64,
    /// maxG: highest filter gain (dB).
    #[arg(long = "max-g", default_value_t = RawBoostParams::default().max_g_db, allow_negative_numbers = true)]
    pub max_g_db: f64,
    /// minBiasLinNonLin: subtracted from minG for the non-linear LnL terms (dB).
    #[arg(long = "min-bias-lin-non-lin", default_value_t = RawBoostParams::default().min_bias_lin_non_lin_db, allow_negative_numbers = true)]
    pub min_bias_lin_non_lin_db: f64,
    /// maxBiasLinNonLin: subtracted from maxG for the non-linear LnL terms (dB).
    #[arg(long = "max-bias-lin-non-lin", default_value_t = RawBoostParams::default().max_bias_lin_non_lin_db, allow_negative_numbers = true)]
    pub max_bias_lin_non_lin_db: f64,
    /// P: most samples ISD may disturb (%).
    #[arg(long = "p", default_value_t = RawBoostParams::default().p_percent, allow_negative_numbers = true)]
    pub p_percent: f64,
    /// g_sd: ISD gain.
    #[arg(long = "g-sd", default_value_t = RawBoostParams::default().g_sd, allow_negative_numbers = true)]
    pub g_sd: f64,
    /// SNRmin: lowest SSI signal-to-noise ratio (dB).
    #[arg(long = "snr-min", default_value_t = RawBoostParams::default().snr_min_db, allow_negative_numbers = true)]
    pub snr_min_db: f64,
    /// SNRmax: highest SSI signal-to-noise ratio (dB).
    #[arg(long = "snr-max", default_value_t = RawBoostParams::default().snr_max_db, allow_negative_numbers = true)]
    pub snr_max_db: f64,
}

impl From<&ParamArgs> for RawBoostParams {
    fn from(a: &ParamArgs) -> Self {
        RawBoostParams {
            n_f: a.n_f,
            n_bands: a.n_bands,
            min_f_hz: a.min_f_hz,
            max_f_hz: a.max_f_hz,
            min_bw_hz: a.min_bw_hz,
            max_bw_hz: a.max_bw_hz,
            min_coeff: a.min_coeff,
            max_coeff: a.max_coeff,
            min_g_db: a.min_g_db,
            max_g_db: a.max_g_db,
            min_bias_lin_non_lin_db: a.min_bias_lin_non_lin_db,
            max_bias_lin_non_lin_db: a.max_bias_lin_non_lin_db,
            p_percent: a.p_percent,
            g_sd: a.g_sd,
            snr_min_db: a.snr_min_db,
            snr_max_db: a.snr_max_db,
        }
    }
}

fn parse_algo(text: &str) -> Result<RawBoostAlgo, String> {
    let number: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not an algorithm number (0 to 8)"))?;
    RawBoostAlgo::from_number(number).map_err(|e| e.to_string())
}

/// Run `dpda augment`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let params = RawBoostParams::from(&args.params);
    params.validate().context("invalid RawBoost flags")?;
    if !args.input.exists() {
        bail!("input {} does not exist", args.input.display());
    }
    if args.input.is_dir() {
        let pool = {
            let mut builder = rayon::ThreadPoolBuilder::new();
            if let Some(threads) = args.threads {
                builder = builder.num_threads(threads);
            }
            builder.build().context("cannot start the worker threads")?
        };
        pool.install(|| augment_folder(&args, &params))
    } else {
        augment_file(&args, &params)
    }
}

/// Augment one file and write it; returns the report.
fn augment_one(
    input: &Path,
    output: &Path,
    algo: RawBoostAlgo,
    params: &RawBoostParams,
    mut rng: Rng,
) -> anyhow::Result<RawBoostReport> {
    let clip = audio::load_mono(input)?;
    let augmented = rawboost(&clip.samples, clip.sample_rate_hz, algo, params, &mut rng)
        .with_context(|| format!("cannot augment {}", input.display()))?;
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create folder {}", parent.display()))?;
    }
    audio::write_wav(
        output,
        &augmented.samples,
        clip.sample_rate_hz,
        WavFormat::Float32,
    )?;
    Ok(augmented.report)
}

fn augment_file(args: &Args, params: &RawBoostParams) -> anyhow::Result<()> {
    let output = if args.output.is_dir() {
        let stem = args.input.file_stem().unwrap_or_default();
        args.output.join(stem).with_extension("wav")
    } else {
        args.output.clone()
    };
    let rng = Rng::for_item(args.seed, args.epoch, 0);
    let report = augment_one(&args.input, &output, args.algo, params, rng)?;
    println!("{} → {}", args.input.display(), output.display());
    print!("{}", describe_report(&report));
    Ok(())
}

fn augment_folder(args: &Args, params: &RawBoostParams) -> anyhow::Result<()> {
    if args.output.is_file() {
        bail!(
            "output {} is a file, but the input {} is a folder",
            args.output.display(),
            args.input.display()
        );
    }
    let files = audio::find_audio_files(&args.input)?;
    if files.is_empty() {
        bail!("no audio files under {}", args.input.display());
    }
    let progress = ProgressBar::new(files.len() as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed} ({eta} left)")
    {
        progress.set_style(style);
    }
    let failures: Vec<String> = files
        .par_iter()
        .enumerate()
        .filter_map(|(i, input)| {
            let relative = input.strip_prefix(&args.input).unwrap_or(input);
            let output = args.output.join(relative).with_extension("wav");
            let rng = Rng::for_item(args.seed, args.epoch, i as u64);
            let result = augment_one(input, &output, args.algo, params, rng);
            progress.inc(1);
            result.err().map(|e| format!("{e:#}"))
        })
        .collect();
    progress.finish_and_clear();
    println!(
        "augmented {} of {} files from {} into {} (algo {}, seed {}, epoch {})",
        files.len() - failures.len(),
        files.len(),
        args.input.display(),
        args.output.display(),
        args.algo,
        args.seed,
        args.epoch
    );
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("failed: {failure}");
        }
        bail!("{} of {} files failed", failures.len(), files.len());
    }
    Ok(())
}

/// A readable summary of what RawBoost drew.
fn describe_report(report: &RawBoostReport) -> String {
    let mut text = String::new();
    let algo = RawBoostAlgo::from_number(report.algo as i64)
        .map(|a| a.to_string())
        .unwrap_or_else(|_| report.algo.to_string());
    text.push_str(&format!("algo {algo}\n"));
    if let Some(lnl) = &report.lnl {
        text.push_str(&format!(
            "LnL: {} terms{}\n",
            lnl.terms.len(),
            if lnl.peak_normalised {
                ", peak-normalised"
            } else {
                ""
            }
        ));
        for (i, term) in lnl.terms.iter().enumerate() {
            text.push_str(&format!(
                "  x^{}: gain {:.2} dB, {} taps, notches {}\n",
                i + 1,
                term.gain_db,
                term.taps.len(),
                describe_bands(&term.bands)
            ));
        }
    }
    if let Some(isd) = &report.isd {
        text.push_str(&format!(
            "ISD: beta {:.3} %, {} samples changed ({:.3} %){}\n",
            isd.beta_percent,
            isd.num_changed,
            100.0 * isd.changed_share,
            if isd.peak_normalised {
                ", peak-normalised"
            } else {
                ""
            }
        ));
    }
    if let Some(ssi) = &report.ssi {
        let realised = ssi
            .realised_snr_db
            .map(|db| format!("{db:.3} dB"))
            .unwrap_or_else(|| "undefined (silent clip)".to_string());
        text.push_str(&format!(
            "SSI: drawn SNR {:.3} dB, realised SNR {realised}; noise filter gain {:.2} dB, \
             notches {}\n",
            ssi.snr_db,
            ssi.filter.gain_db,
            describe_bands(&ssi.filter.bands)
        ));
    }
    if report.sum_peak_normalised {
        text.push_str("parallel sum peak-normalised\n");
    }
    text
}

fn describe_bands(bands: &[crate::augment::rawboost::NotchBand]) -> String {
    bands
        .iter()
        .map(|b| {
            format!(
                "{:.0} Hz/{:.0} Hz ({} taps)",
                b.centre_hz, b.bandwidth_hz, b.num_taps
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
