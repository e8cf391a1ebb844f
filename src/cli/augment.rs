//! `dpda augment`: apply RawBoost (`--algo`) or an augmentation chain (`--chain FILE.toml`) to one
//! audio file or to every audio file under a folder.
//!
//! Files are decoded at their native rate and downmixed to mono; outputs are 32-bit float WAV at
//! the same rate. File `i` of a folder (in sorted order) draws from `Rng::for_item(seed, epoch, i)`,
//! so a seed reproduces every output whatever the thread count. The work itself is
//! [`crate::augment::rawboost`] or [`crate::augment::Chain::apply`]; this module only handles
//! files, threads, progress and printing (one line per file for a chain, and with `--report` one
//! JSON line per file).
//!
//! Nothing is lost: before any work the flags are checked (each message names its flag), and the
//! run is refused if an output would overwrite an input, if the output folder lies in the input
//! folder (the next run would read the outputs as inputs), or if two inputs would write one output
//! (`x.wav`, `x.flac` and `x.WAV` all give `x.wav`). Each output is written through a temporary
//! file renamed into place.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::audio::{self, WavFormat};
use crate::augment::{
    rawboost, Chain, ChainReport, ChainSpec, RawBoostAlgo, RawBoostError, RawBoostParams,
    RawBoostReport,
};
use crate::rng::Rng;

use super::print_line;

/// Most worker threads `--threads` accepts: more only costs memory and scheduling.
pub const MAX_THREADS: usize = 256;
/// Largest magnitude of a gain, bias or SNR flag (dB): 10^(200/20) = 1e10 keeps every sample of
/// every term finite in f32.
pub const MAX_ABS_DB: f64 = 200.0;
/// Largest `--g-sd`: ISD multiplies samples by up to this, which must stay finite in f32.
pub const MAX_G_SD: f64 = 1e6;

/// Arguments of `dpda augment`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["algo", "chain"])))]
pub struct Args {
    /// RawBoost algorithm: 0 none, 1 LnL, 2 ISD, 3 SSI, 4 = 1+2+3, 5 = 1+2, 6 = 1+3, 7 = 2+3,
    /// 8 = 1 ∥ 2.
    #[arg(long, value_parser = parse_algo)]
    pub algo: Option<RawBoostAlgo>,
    /// An augmentation chain file (TOML `[[stages]]`, see experiments/chains/); its folders are
    /// read relative to the file.
    #[arg(long, value_name = "CHAIN.toml")]
    pub chain: Option<PathBuf>,
    /// With --chain: also write what each file's stages drew, one JSON object per line.
    #[arg(long, value_name = "FILE.jsonl", requires = "chain")]
    pub report: Option<PathBuf>,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Epoch mixed into the per-file random stream.
    #[arg(long, default_value_t = 0)]
    pub epoch: u64,
    /// Worker threads for a folder, 1 to 256 (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub params: ParamArgs,
    /// Input audio file or folder.
    pub input: PathBuf,
    /// Output WAV file, or output folder when the input is a folder.
    pub output: PathBuf,
}

/// RawBoost parameters as flags, named after the reference's arguments. Each min/max pair must
/// run from low to high (the reference's numpy `uniform` would silently accept it reversed),
/// except the two LnL biases, whose defaults make the non-linear gain range high-to-low on purpose.
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

/// What each file goes through: RawBoost with checked parameters, or a prepared chain.
enum Work {
    RawBoost(RawBoostAlgo, RawBoostParams),
    Chain { file: PathBuf, chain: Chain },
}

/// Run `dpda augment`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let work = match (&args.algo, &args.chain) {
        (Some(algo), None) => Work::RawBoost(*algo, checked_params(&args.params)?),
        (None, Some(file)) => {
            if RawBoostParams::from(&args.params) != RawBoostParams::default() {
                bail!(
                    "the RawBoost flags (--n-f … --snr-max) go with --algo; with --chain, set                      them in the chain's rawboost stages"
                );
            }
            Work::Chain {
                file: file.clone(),
                chain: load_chain(file)?,
            }
        }
        _ => bail!("give one of --algo and --chain"),
    };
    let threads = checked_threads(args.threads)?;
    if !args.input.exists() {
        bail!("input {} does not exist", args.input.display());
    }
    if args.input.is_dir() {
        let plan = plan_folder(&args)?;
        let pool = {
            let mut builder = rayon::ThreadPoolBuilder::new();
            if let Some(threads) = threads {
                builder = builder.num_threads(threads);
            }
            builder.build().context("cannot start the worker threads")?
        };
        pool.install(|| match &work {
            Work::RawBoost(algo, params) => augment_folder(&args, *algo, params, &plan),
            Work::Chain { file, chain } => chain_folder(&args, file, chain, &plan),
        })
    } else {
        match &work {
            Work::RawBoost(algo, params) => augment_file(&args, *algo, params),
            Work::Chain { chain, .. } => chain_file(&args, chain),
        }
    }
}

/// Read, check and prepare a chain file; every error names the file (and the stage and field).
fn load_chain(file: &Path) -> anyhow::Result<Chain> {
    let spec = ChainSpec::load(file)?;
    let base_dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    spec.prepare(base_dir)
        .map_err(|e| anyhow!("chain file {}: {e}", file.display()))
}

/// Run a chain on one file and write it; returns the report and the output length.
fn chain_one(
    input: &Path,
    output: &Path,
    chain: &Chain,
    mut rng: Rng,
) -> anyhow::Result<(ChainReport, usize)> {
    let clip = audio::load_mono(input)?;
    let (samples, report) = chain
        .apply(&clip.samples, clip.sample_rate_hz, &mut rng)
        .with_context(|| format!("cannot augment {}", input.display()))?;
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create folder {}", parent.display()))?;
    }
    audio::write_wav(output, &samples, clip.sample_rate_hz, WavFormat::Float32)?;
    Ok((report, samples.len()))
}

/// One JSON line of `--report`.
fn report_line(input: &Path, output: &Path, num_samples: usize, report: &ChainReport) -> String {
    serde_json::json!({
        "input": input.display().to_string(),
        "output": output.display().to_string(),
        "num_samples": num_samples,
        "stages": report.stages,
    })
    .to_string()
}

/// Write the `--report` lines (in input order).
fn write_report(path: &Path, lines: &[String]) -> anyhow::Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write report {}", path.display()))
}

fn chain_file(args: &Args, chain: &Chain) -> anyhow::Result<()> {
    let output = output_of_file(args)?;
    let rng = Rng::for_item(args.seed, args.epoch, 0);
    let (report, num_samples) = chain_one(&args.input, &output, chain, rng)?;
    if let Some(path) = &args.report {
        write_report(
            path,
            &[report_line(&args.input, &output, num_samples, &report)],
        )?;
    }
    outln!(
        "{} → {}: {}",
        args.input.display(),
        output.display(),
        report.summary()
    );
    Ok(())
}

fn chain_folder(
    args: &Args,
    chain_path: &Path,
    chain: &Chain,
    plan: &FolderPlan,
) -> anyhow::Result<()> {
    let num_files = plan.jobs.len();
    let progress = ProgressBar::new(num_files as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed} ({eta} left)")
    {
        progress.set_style(style);
    }
    let results: Vec<anyhow::Result<(ChainReport, usize)>> = plan
        .jobs
        .par_iter()
        .enumerate()
        .map(|(i, (input, output))| {
            let rng = Rng::for_item(args.seed, args.epoch, i as u64);
            let result = chain_one(input, output, chain, rng);
            progress.inc(1);
            result
        })
        .collect();
    progress.finish_and_clear();
    let mut failures = 0;
    let mut report_lines = Vec::new();
    for ((input, output), result) in plan.jobs.iter().zip(&results) {
        match result {
            Ok((report, num_samples)) => {
                report_lines.push(report_line(input, output, *num_samples, report));
                outln!(
                    "{} → {}: {}",
                    input.display(),
                    output.display(),
                    report.summary()
                );
            }
            Err(e) => {
                failures += 1;
                eprintln!("failed: {e:#}");
            }
        }
    }
    if let Some(path) = &args.report {
        write_report(path, &report_lines)?;
    }
    outln!(
        "augmented {} of {num_files} files from {} into {} (chain {}, seed {}, epoch {})",
        num_files - failures,
        args.input.display(),
        args.output.display(),
        chain_path.display(),
        args.seed,
        args.epoch
    );
    if failures > 0 {
        bail!("{failures} of {num_files} files failed");
    }
    Ok(())
}

/// The flag (as typed on the command line) of a [`RawBoostParams`] field.
fn flag_of(field: &str) -> &str {
    match field {
        "n_f" => "--n-f",
        "n_bands" => "--n-bands",
        "min_f_hz" => "--min-f",
        "max_f_hz" => "--max-f",
        "min_bw_hz" => "--min-bw",
        "max_bw_hz" => "--max-bw",
        "min_coeff" => "--min-coeff",
        "max_coeff" => "--max-coeff",
        "min_g_db" => "--min-g",
        "max_g_db" => "--max-g",
        "min_bias_lin_non_lin_db" => "--min-bias-lin-non-lin",
        "max_bias_lin_non_lin_db" => "--max-bias-lin-non-lin",
        "p_percent" => "--p",
        "g_sd" => "--g-sd",
        "snr_min_db" => "--snr-min",
        "snr_max_db" => "--snr-max",
        other => other,
    }
}

/// A RawBoost error, prefixed with the flag that set the bad parameter.
fn flag_error(err: RawBoostError) -> anyhow::Error {
    match &err {
        RawBoostError::InvalidParam { field, .. } => anyhow!("{}: {err}", flag_of(field)),
        _ => err.into(),
    }
}

/// The RawBoost flags as parameters, or the first bad flag by name: the reference's own checks,
/// ranges that run from low to high, and bounds that keep filters small and samples finite.
fn checked_params(flags: &ParamArgs) -> anyhow::Result<RawBoostParams> {
    let params = RawBoostParams::from(flags);
    params.validate().map_err(flag_error)?;
    // The LnL biases are left out on purpose: their defaults (5, 20) make the gain range of the
    // non-linear terms run from −5 to −20 dB, as the reference does.
    let pairs = [
        ("min_f_hz", params.min_f_hz, "max_f_hz", params.max_f_hz),
        ("min_bw_hz", params.min_bw_hz, "max_bw_hz", params.max_bw_hz),
        (
            "min_coeff",
            f64::from(params.min_coeff),
            "max_coeff",
            f64::from(params.max_coeff),
        ),
        ("min_g_db", params.min_g_db, "max_g_db", params.max_g_db),
        (
            "snr_min_db",
            params.snr_min_db,
            "snr_max_db",
            params.snr_max_db,
        ),
    ];
    for (low_field, low, high_field, high) in pairs {
        if low > high {
            bail!(
                "{} {low} is above {} {high}: a range must run from low to high",
                flag_of(low_field),
                flag_of(high_field)
            );
        }
    }
    let decibels = [
        ("min_g_db", params.min_g_db),
        ("max_g_db", params.max_g_db),
        ("min_bias_lin_non_lin_db", params.min_bias_lin_non_lin_db),
        ("max_bias_lin_non_lin_db", params.max_bias_lin_non_lin_db),
        ("snr_min_db", params.snr_min_db),
        ("snr_max_db", params.snr_max_db),
    ];
    for (field, value) in decibels {
        if value.abs() > MAX_ABS_DB {
            bail!(
                "{} must be between -{MAX_ABS_DB} and {MAX_ABS_DB} dB, got {value}",
                flag_of(field)
            );
        }
    }
    if params.g_sd > MAX_G_SD {
        bail!("--g-sd must be at most {MAX_G_SD}, got {}", params.g_sd);
    }
    Ok(params)
}

/// `--threads` within 1 to [`MAX_THREADS`].
fn checked_threads(threads: Option<usize>) -> anyhow::Result<Option<usize>> {
    match threads {
        Some(n) if !(1..=MAX_THREADS).contains(&n) => {
            bail!("--threads must be 1 to {MAX_THREADS}, got {n}")
        }
        other => Ok(other),
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
        .map_err(flag_error)
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

/// `path` made absolute with every link in its existing part resolved; the part that does not
/// exist yet is appended as written. Two paths that would reach one file resolve alike.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut missing: Vec<Component> = Vec::new();
    let mut base = absolute.as_path();
    loop {
        if let Ok(mut resolved) = std::fs::canonicalize(base) {
            for component in missing.iter().rev() {
                match component {
                    Component::ParentDir => {
                        resolved.pop();
                    }
                    Component::Normal(name) => resolved.push(name),
                    _ => {}
                }
            }
            return resolved;
        }
        match (base.parent(), base.components().next_back()) {
            (Some(parent), Some(last)) => {
                missing.push(last);
                base = parent;
            }
            _ => return absolute,
        }
    }
}

/// Whether two existing paths are one file (also through hard links).
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    resolve(a) == resolve(b)
}

/// Two output paths are one file on this platform's usual file systems (case-insensitive on
/// macOS and Windows).
fn output_key(resolved: &Path) -> PathBuf {
    if cfg!(any(target_os = "macos", windows)) {
        PathBuf::from(resolved.to_string_lossy().to_lowercase())
    } else {
        resolved.to_path_buf()
    }
}

/// The output path of a single input file, refusing one that is the input.
fn output_of_file(args: &Args) -> anyhow::Result<PathBuf> {
    let output = if args.output.is_dir() {
        let stem = args.input.file_stem().unwrap_or_default();
        args.output.join(stem).with_extension("wav")
    } else {
        args.output.clone()
    };
    if resolve(&output) == resolve(&args.input) || same_file(&output, &args.input) {
        bail!(
            "the output {} is the input file {}: dpda augment never overwrites its input; \
             choose another output",
            output.display(),
            args.input.display()
        );
    }
    Ok(output)
}

fn augment_file(args: &Args, algo: RawBoostAlgo, params: &RawBoostParams) -> anyhow::Result<()> {
    let output = output_of_file(args)?;
    let rng = Rng::for_item(args.seed, args.epoch, 0);
    let report = augment_one(&args.input, &output, algo, params, rng)?;
    outln!("{} → {}", args.input.display(), output.display());
    for line in describe_report(&report).lines() {
        outln!("{line}");
    }
    Ok(())
}

/// A folder's work: each input file with its output, every check passed.
struct FolderPlan {
    jobs: Vec<(PathBuf, PathBuf)>,
}

/// Scan the input folder and name each output, refusing (before any work) outputs that would
/// overwrite an input, an output folder inside the input folder, and outputs two inputs share.
fn plan_folder(args: &Args) -> anyhow::Result<FolderPlan> {
    if args.output.is_file() {
        bail!(
            "output {} is a file, but the input {} is a folder",
            args.output.display(),
            args.input.display()
        );
    }
    let input_root = resolve(&args.input);
    let output_root = resolve(&args.output);
    if output_root == input_root {
        bail!(
            "the output folder {} is the input folder: dpda augment never writes over its \
             inputs; choose another output folder",
            args.output.display()
        );
    }
    if output_root.starts_with(&input_root) {
        bail!(
            "the output folder {} is inside the input folder {}: the next run over {} would \
             read the outputs as inputs; choose a folder outside it",
            args.output.display(),
            args.input.display(),
            args.input.display()
        );
    }
    let scan = audio::scan_audio_folder(&args.input)?;
    for skipped in &scan.skipped {
        eprintln!("skipped {skipped}");
    }
    if scan.files.is_empty() {
        bail!(
            "no audio files under {}{}",
            args.input.display(),
            match scan.skipped.len() {
                0 => String::new(),
                n => format!(" ({n} entries skipped, listed above)"),
            }
        );
    }
    let jobs: Vec<(PathBuf, PathBuf)> = scan
        .files
        .into_iter()
        .map(|input| {
            let relative = input.strip_prefix(&args.input).unwrap_or(&input);
            let output = args.output.join(relative).with_extension("wav");
            (input, output)
        })
        .collect();

    let inputs: HashSet<PathBuf> = jobs
        .iter()
        .map(|(input, _)| output_key(&resolve(input)))
        .collect();
    let keys: Vec<PathBuf> = jobs
        .iter()
        .map(|(_, output)| output_key(&resolve(output)))
        .collect();
    let mut by_output: BTreeMap<&Path, Vec<&Path>> = BTreeMap::new();
    for ((input, output), resolved) in jobs.iter().zip(&keys) {
        if inputs.contains(resolved) || same_file(output, input) {
            bail!(
                "the output {} of {} is an input file: dpda augment never overwrites its \
                 inputs; choose another output folder",
                output.display(),
                input.display()
            );
        }
        by_output.entry(resolved).or_default().push(input);
    }
    // Every collision at once, in input order, each under the output path as the run names it.
    let collisions: Vec<String> = jobs
        .iter()
        .zip(&keys)
        .filter_map(|((_, output), resolved)| {
            let inputs = by_output.remove(resolved.as_path())?;
            (inputs.len() > 1).then(|| {
                let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
                format!("  {} ← {}", output.display(), names.join(", "))
            })
        })
        .collect();
    if !collisions.is_empty() {
        bail!(
            "{} outputs would each be written from more than one input (an output is named \
             after its input with the extension .wav); rename or move these inputs:\n{}",
            collisions.len(),
            collisions.join("\n")
        );
    }
    Ok(FolderPlan { jobs })
}

fn augment_folder(
    args: &Args,
    algo: RawBoostAlgo,
    params: &RawBoostParams,
    plan: &FolderPlan,
) -> anyhow::Result<()> {
    let num_files = plan.jobs.len();
    let progress = ProgressBar::new(num_files as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed} ({eta} left)")
    {
        progress.set_style(style);
    }
    let failures: Vec<String> = plan
        .jobs
        .par_iter()
        .enumerate()
        .filter_map(|(i, (input, output))| {
            let rng = Rng::for_item(args.seed, args.epoch, i as u64);
            let result = augment_one(input, output, algo, params, rng);
            progress.inc(1);
            result.err().map(|e| format!("{e:#}"))
        })
        .collect();
    progress.finish_and_clear();
    for failure in &failures {
        eprintln!("failed: {failure}");
    }
    let summary = print_line(&format!(
        "augmented {} of {num_files} files from {} into {} (algo {}, seed {}, epoch {})",
        num_files - failures.len(),
        args.input.display(),
        args.output.display(),
        algo,
        args.seed,
        args.epoch
    ));
    if !failures.is_empty() {
        bail!("{} of {num_files} files failed", failures.len());
    }
    summary
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        params: ParamArgs,
    }

    fn check(flags: &[&str]) -> anyhow::Result<RawBoostParams> {
        let parsed = Flags::try_parse_from(std::iter::once("augment").chain(flags.iter().copied()))
            .expect("the flags parse");
        checked_params(&parsed.params)
    }

    #[test]
    fn defaults_pass_and_reversed_ranges_name_both_flags() {
        assert_eq!(check(&[]).unwrap(), RawBoostParams::default());
        let err = check(&["--snr-min", "100", "--snr-max", "10"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--snr-min 100 is above --snr-max 10: a range must run from low to high"
        );
        let err = check(&["--min-coeff", "50", "--max-coeff", "20"]).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("--min-coeff 50 is above --max-coeff 20"));
        // Equal ends are a fixed value, as in the reference's defaults minG = maxG = 0.
        check(&["--min-g", "3", "--max-g", "3"]).unwrap();
        // The LnL biases may run either way (the defaults make the gain range high-to-low).
        check(&[
            "--min-bias-lin-non-lin",
            "30",
            "--max-bias-lin-non-lin",
            "1",
        ])
        .unwrap();
    }

    #[test]
    fn out_of_range_values_name_the_flag() {
        for (flags, prefix) in [
            (&["--n-f", "0"][..], "--n-f: "),
            (&["--n-bands", "100000"][..], "--n-bands: "),
            (&["--max-coeff", "1000000000"][..], "--max-coeff: "),
            (&["--p", "101"][..], "--p: "),
            (&["--min-bw", "0"][..], "--min-bw: "),
            (&["--max-g", "300"][..], "--max-g must be between"),
            (
                &["--max-bias-lin-non-lin", "-1e6"][..],
                "--max-bias-lin-non-lin must be",
            ),
            (&["--g-sd", "1e7"][..], "--g-sd must be at most"),
        ] {
            let err = check(flags).unwrap_err().to_string();
            assert!(err.starts_with(prefix), "{flags:?}: {err}");
        }
    }

    #[test]
    fn thread_counts_are_bounded() {
        assert_eq!(checked_threads(None).unwrap(), None);
        assert_eq!(checked_threads(Some(1)).unwrap(), Some(1));
        assert_eq!(
            checked_threads(Some(MAX_THREADS)).unwrap(),
            Some(MAX_THREADS)
        );
        for n in [0, MAX_THREADS + 1, 100_000] {
            let err = checked_threads(Some(n)).unwrap_err().to_string();
            assert_eq!(err, format!("--threads must be 1 to 256, got {n}"));
        }
    }

    #[test]
    fn resolve_sees_through_dots_and_links_and_keeps_the_missing_tail() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        assert_eq!(
            resolve(&root.join("a/b/../b/x.wav")),
            root.join("a/b/x.wav")
        );
        assert_eq!(
            resolve(&root.join("a/new/deeper/../x.wav")),
            root.join("a/new/x.wav")
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("a/b"), root.join("link")).unwrap();
            assert_eq!(
                resolve(&root.join("link/out/x.wav")),
                root.join("a/b/out/x.wav")
            );
        }
    }
}
