//! `dpda demo`: the whole foundation pipeline on the built-in demo corpus, end to end.
//!
//! It makes sure the demo corpus is cached, reads it back through the ASVspoof 2019 LA loader,
//! crops every clip as the reference does (first 66,800 samples, repeat-padded), writes one RawBoost
//! example for listening, computes LFCC, fits the linear LFCC-statistics baseline twice — on the
//! original training clips, and on originals plus their RawBoost copies — and scores dev and eval.
//! Score files land in the output folder and are evaluated with the same code as `dpda eval`,
//! overall and per attack, so seen and unseen attacks can be compared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::audio::{self, WavFormat, DEFAULT_NUM_SAMPLES, TARGET_SAMPLE_RATE_HZ};
use crate::augment::{rawboost, rawboost_batch, RawBoostAlgo, RawBoostParams};
use crate::baseline::{clip_embedding, LinearDetector};
use crate::data::corpus::{Corpus, Split};
use crate::data::demo::{self, DemoSize, SEEN_ATTACKS};
use crate::data::Label;
use crate::features::{Lfcc, LfccConfig};
use crate::metrics::breakdown::attack_groups;
use crate::metrics::scores::{write_scores, ScoreFormat, ScoreRow};
use crate::metrics::{eer, eer_by_group};
use crate::rng::Rng;

/// `println!` that survives a closed standard output: the demo goes on writing its files (score
/// files, `summary.json`) when the reader of its report has gone (`dpda demo | head`).
macro_rules! sayln {
    () => {
        let _ = $crate::cli::print_line("");
    };
    ($($arg:tt)*) => {
        let _ = $crate::cli::print_line(&format!($($arg)*));
    };
}

/// Arguments of `dpda demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Demo corpus size: tiny, small, default or large.
    #[arg(long, default_value = "default")]
    pub size: DemoSize,
    /// Seed of the demo corpus and of the RawBoost draws.
    #[arg(long, default_value_t = demo::DEFAULT_SEED)]
    pub seed: u64,
    /// RawBoost algorithm used for the augmented training copies (0–8; the paper uses 4).
    #[arg(long, default_value_t = 4)]
    pub algo: i64,
    /// Output folder for score files, the RawBoost example and summary.json.
    #[arg(long, default_value = "demo-output")]
    pub out: PathBuf,
    /// Cache folder of the demo corpus (default: $DPDA_CACHE_DIR, $XDG_CACHE_HOME/dpda or
    /// ~/.cache/dpda).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Optimizer steps of each of the two training runs that tell the method's story
    /// (augmented only, and dual path with PCGrad); 0 skips them.
    #[arg(long, default_value_t = DEFAULT_TRAIN_STEPS)]
    pub train_steps: u64,
}

/// Steps of each story run: about a minute each on two cores (the default corpus).
pub const DEFAULT_TRAIN_STEPS: u64 = 200;

impl Default for Args {
    fn default() -> Self {
        Self {
            size: DemoSize::Default,
            seed: demo::DEFAULT_SEED,
            algo: 4,
            out: PathBuf::from("demo-output"),
            cache_dir: None,
            train_steps: DEFAULT_TRAIN_STEPS,
        }
    }
}

/// One split, loaded, cropped and embedded.
struct Prepared {
    corpus: Corpus,
    clips: Vec<Vec<f32>>,
    embeddings: Vec<Vec<f64>>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let algo = RawBoostAlgo::from_number(args.algo).context("--algo")?;
    let cache_root = match args.cache_dir.clone().or_else(demo::default_cache_root) {
        Some(dir) => dir,
        None => bail!("no cache folder: pass --cache-dir or set DPDA_CACHE_DIR"),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output folder {}", args.out.display()))?;

    sayln!(
        "DPDA Workbench demo — built-in corpus ({}, seed {})",
        args.size,
        args.seed
    );
    let t = Instant::now();
    let total: usize = Split::ALL
        .iter()
        .map(|&s| args.size.spec(s).num_utterances())
        .sum::<usize>()
        + args.size.wild_spec().num_utterances();
    let bar = progress_bar(total as u64, "generating demo corpus");
    let root =
        demo::ensure_cached_with_progress(args.size, args.seed, &cache_root, &|_| bar.inc(1))
            .context("preparing the demo corpus")?;
    bar.finish_and_clear();
    sayln!(
        "corpus: {} ({:.1} s)",
        root.display(),
        t.elapsed().as_secs_f64()
    );

    let lfcc = Lfcc::new(&LfccConfig::default())?;
    let t = Instant::now();
    let mut prepared = BTreeMap::new();
    for split in Split::ALL {
        prepared.insert(split.name(), prepare(&root, split, &lfcc)?);
    }
    sayln!(
        "decoded, cropped to {DEFAULT_NUM_SAMPLES} samples and embedded (LFCC) {} clips in {:.1} s",
        prepared.values().map(|p| p.clips.len()).sum::<usize>(),
        t.elapsed().as_secs_f64()
    );
    let train = &prepared["train"];

    // One RawBoost example to listen to.
    let params = RawBoostParams::default();
    if let Some(i) = train
        .corpus
        .utterances
        .iter()
        .position(|u| u.label == Label::Bonafide)
    {
        let mut rng = Rng::for_item(args.seed, 0, i as u64);
        let aug = rawboost(
            &train.clips[i],
            TARGET_SAMPLE_RATE_HZ,
            algo,
            &params,
            &mut rng,
        )?;
        let orig_path = args.out.join("rawboost-example-original.wav");
        let aug_path = args.out.join("rawboost-example-augmented.wav");
        audio::write_wav(
            &orig_path,
            &train.clips[i],
            TARGET_SAMPLE_RATE_HZ,
            WavFormat::Float32,
        )?;
        audio::write_wav(
            &aug_path,
            &aug.samples,
            TARGET_SAMPLE_RATE_HZ,
            WavFormat::Float32,
        )?;
        sayln!(
            "RawBoost algo {} example ({}): {}",
            algo.number(),
            train.corpus.utterances[i].id,
            describe_report(&aug.report)
        );
        sayln!(
            "  listen: {} vs {}",
            orig_path.display(),
            aug_path.display()
        );
    }

    // RawBoost copies of every training clip, one seeded stream per clip.
    let t = Instant::now();
    let clip_refs: Vec<&[f32]> = train.clips.iter().map(Vec::as_slice).collect();
    let augmented = rawboost_batch(
        &clip_refs,
        TARGET_SAMPLE_RATE_HZ,
        algo,
        &params,
        args.seed,
        0,
    )
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let aug_clips: Vec<Vec<f32>> = augmented.into_iter().map(|a| a.samples).collect();
    let aug_embeddings = embed(&lfcc, &aug_clips)?;
    sayln!(
        "augmented {} training clips with RawBoost algo {} in {:.1} s",
        aug_clips.len(),
        algo.number(),
        t.elapsed().as_secs_f64()
    );

    let (bona, spoof) = split_by_label(&train.corpus, &train.embeddings);
    let plain = LinearDetector::fit(&bona, &spoof, 0.1)?;
    let (aug_bona, aug_spoof) = split_by_label(&train.corpus, &aug_embeddings);
    let both_bona: Vec<Vec<f64>> = bona.iter().chain(&aug_bona).cloned().collect();
    let both_spoof: Vec<Vec<f64>> = spoof.iter().chain(&aug_spoof).cloned().collect();
    let augmented = LinearDetector::fit(&both_bona, &both_spoof, 0.1)?;

    let mut summary = serde_json::Map::new();
    sayln!();
    sayln!("Linear LFCC-statistics baseline (score = bona fide score, higher = more bona fide)");
    sayln!(
        "seen attacks in training: {}",
        SEEN_ATTACKS.map(|a| a.id()).join(", ")
    );
    for (name, detector) in [("plain", &plain), ("rawboost", &augmented)] {
        let mut entry = serde_json::Map::new();
        for split in ["dev", "eval"] {
            let p = &prepared[split];
            let scores: Vec<f64> = p.embeddings.iter().map(|e| detector.score(e)).collect();
            let path = args.out.join(format!("scores-{name}-{split}.txt"));
            write_score_file(&path, &p.corpus, &scores)?;
            let (b, s): (Vec<_>, Vec<_>) = p
                .corpus
                .utterances
                .iter()
                .zip(&scores)
                .partition(|(u, _)| u.label == Label::Bonafide);
            let b: Vec<f64> = b.into_iter().map(|(_, s)| *s).collect();
            let s: Vec<f64> = s.into_iter().map(|(_, s)| *s).collect();
            let overall = eer(&b, &s)?;
            sayln!(
                "  {name:<9} {split:<4} EER {:6.2} %   (scores: {})",
                overall.eer * 100.0,
                path.display()
            );
            let groups = attack_groups(
                p.corpus
                    .utterances
                    .iter()
                    .zip(&scores)
                    .map(|(u, s)| (*s, u.label == Label::Bonafide, u.attack.as_deref())),
            );
            let mut per_attack = serde_json::Map::new();
            let mut line = String::new();
            for g in eer_by_group(&groups)? {
                if let Some(e) = g.eer {
                    let seen = SEEN_ATTACKS.iter().any(|a| a.id() == g.name);
                    line.push_str(&format!(
                        " {}{} {:.1}%",
                        g.name,
                        if seen { "" } else { "*" },
                        e.eer * 100.0
                    ));
                    per_attack.insert(g.name.clone(), e.eer.into());
                }
            }
            if split == "eval" {
                sayln!("            per attack (* unseen):{line}");
            }
            entry.insert(
                split.to_string(),
                serde_json::json!({ "eer": overall.eer, "eer_threshold": overall.threshold,
                                    "per_attack_eer": per_attack }),
            );
        }
        summary.insert(name.to_string(), entry.into());
    }
    summary.insert(
        "corpus".into(),
        serde_json::json!({ "size": args.size.to_string(), "seed": args.seed,
                            "root": root.display().to_string() }),
    );
    summary.insert("rawboost_algo".into(), algo.number().into());
    if args.train_steps > 0 {
        let runs = story(&args)?;
        summary.insert("training".into(), serde_json::to_value(&runs)?);
    }
    let summary_path = args.out.join("summary.json");
    crate::atomic_file::write_atomically(
        &summary_path,
        serde_json::to_string_pretty(&serde_json::Value::Object(summary))?.as_bytes(),
    )
    .with_context(|| format!("cannot write {}", summary_path.display()))?;
    sayln!();
    sayln!(
        "done in {:.1} s; summary: {}; evaluate again with `dpda eval --scores {} --key {}`",
        started.elapsed().as_secs_f64(),
        summary_path.display(),
        args.out.join("scores-plain-eval.txt").display(),
        crate::data::corpus::asvspoof2019_la_paths(&root, Split::Eval)
            .0
            .display()
    );
    Ok(())
}

/// The method's story: two short LCNN runs, augmented only and dual path with PCGrad.
fn story(args: &Args) -> anyhow::Result<Vec<super::demo_story::StoryRun>> {
    sayln!();
    sayln!(
        "Dual-path training (LFCC-LCNN-small, {} steps each): the original and the RawBoost \
         copy of every clip each give a gradient; where the two point apart (cosine < 0) PCGrad \
         projects each onto the other's normal plane before one step",
        args.train_steps
    );
    let runs = super::demo_story::tell(args.size, args.seed, args.train_steps, &args.out)?;
    for run in &runs {
        let eers: Vec<String> = run
            .eer
            .iter()
            .map(|(set, e)| format!("{set} EER {:6.2} %", e * 100.0))
            .collect();
        sayln!(
            "  {:<12} {}   conflicts {}   ({:.0} s, {})",
            run.name,
            eers.join("   "),
            run.conflict_frac
                .map_or("-  (one path)".to_string(), |f| format!(
                    "{:.1} % of steps",
                    f * 100.0
                )),
            run.wall_time_s,
            run.run_dir.display()
        );
    }
    if let Some(f) = runs.iter().find_map(|r| r.conflict_frac) {
        sayln!(
            "  the augmented gradient fought the clean one in {:.0} % of steps; watch it live \
             in the workbench (dpda) or compare methods over seeds with dpda study",
            f * 100.0
        );
    }
    Ok(runs)
}

fn progress_bar(len: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta} left)") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

fn prepare(root: &Path, split: Split, lfcc: &Lfcc) -> anyhow::Result<Prepared> {
    let corpus = crate::data::corpus::load_asvspoof2019_la(root, split, Default::default())
        .with_context(|| format!("loading the {split} split"))?;
    let clips = corpus
        .utterances
        .par_iter()
        .map(|u| {
            audio::load_mono_16k(&u.path)
                .map(|clip| audio::repeat_pad(&clip.samples, DEFAULT_NUM_SAMPLES))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let embeddings = embed(lfcc, &clips)?;
    Ok(Prepared {
        corpus,
        clips,
        embeddings,
    })
}

fn embed(lfcc: &Lfcc, clips: &[Vec<f32>]) -> anyhow::Result<Vec<Vec<f64>>> {
    Ok(lfcc
        .compute_batch(clips)?
        .iter()
        .map(clip_embedding)
        .collect())
}

fn split_by_label(corpus: &Corpus, embeddings: &[Vec<f64>]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut bona = Vec::new();
    let mut spoof = Vec::new();
    for (u, e) in corpus.utterances.iter().zip(embeddings) {
        match u.label {
            Label::Bonafide => bona.push(e.clone()),
            Label::Spoof => spoof.push(e.clone()),
        }
    }
    (bona, spoof)
}

fn write_score_file(path: &Path, corpus: &Corpus, scores: &[f64]) -> anyhow::Result<()> {
    let rows: Vec<ScoreRow> = corpus
        .utterances
        .iter()
        .zip(scores)
        .map(|(u, &score)| ScoreRow {
            utt_id: u.id.clone(),
            score,
            attack: u.attack.clone(),
            label: Some(u.label),
        })
        .collect();
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    write_scores(std::io::BufWriter::new(file), ScoreFormat::TwoColumn, &rows)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn describe_report(report: &crate::augment::RawBoostReport) -> String {
    let mut parts = Vec::new();
    if let Some(lnl) = &report.lnl {
        parts.push(format!("LnL {} terms", lnl.terms.len()));
    }
    if let Some(isd) = &report.isd {
        parts.push(format!(
            "ISD {:.2} % of samples hit",
            isd.changed_share * 100.0
        ));
    }
    if let Some(ssi) = &report.ssi {
        parts.push(format!("SSI SNR {:.1} dB", ssi.snr_db));
    }
    if parts.is_empty() {
        "unchanged".into()
    } else {
        parts.join(", ")
    }
}
