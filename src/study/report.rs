//! `report.md`: a study's results for people — the setup, one EER table per test set, the
//! comparisons with the baseline, breakdowns per attack and condition, training figures, wall
//! times and failed runs. Written by [`super::write_outputs`] from [`StudyResults`] alone.

use std::fmt::Write as _;

use super::results::{RunStatus, StudyResults, METHODS};
use super::stats::Summary;

/// EER fraction as a percentage with two decimals.
fn pct(x: f64) -> String {
    format!("{:.2}", x * 100.0)
}

/// `mean ± std` in percent (no `±` with one seed).
pub fn pct_mean_std(s: &Summary) -> String {
    match s.std {
        Some(sd) => format!("{} ± {}", pct(s.mean), pct(sd)),
        None => pct(s.mean),
    }
}

/// `[lo, hi]` in percent, or why there is none.
pub fn pct_ci(ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("[{}, {}]", pct(lo), pct(hi)),
        None => "— (one seed)".into(),
    }
}

fn num_mean_std(s: &Summary, digits: usize) -> String {
    match s.std {
        Some(sd) => format!("{:.digits$} ± {:.digits$}", s.mean, sd),
        None => format!("{:.digits$}", s.mean),
    }
}

/// The whole report.
pub fn markdown(r: &StudyResults) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = write_report(&mut s, r);
    s
}

fn write_report(s: &mut String, r: &StudyResults) -> std::fmt::Result {
    writeln!(s, "# Study {}\n", r.name)?;
    writeln!(s, "## Setup\n")?;
    writeln!(s, "- study file: `{}`", r.study_file.display())?;
    writeln!(s, "- base configuration: `{}`", r.base_config.display())?;
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    writeln!(
        s,
        "- seeds: {} (each run sets `train.seed`)",
        seeds.join(", ")
    )?;
    writeln!(s, "- baseline: `{}`", r.baseline)?;
    if r.overrides.is_empty() {
        writeln!(s, "- overrides of every run: none")?;
    } else {
        let o: Vec<String> = r.overrides.iter().map(|o| format!("`{o}`")).collect();
        writeln!(s, "- overrides of every run: {}", o.join(", "))?;
    }
    writeln!(s, "\n| condition | overrides |\n|---|---|")?;
    for c in &r.conditions {
        let o: Vec<String> = c.overrides.iter().map(|o| format!("`{o}`")).collect();
        writeln!(s, "| {} | {} |", c.name, o.join(", "))?;
    }
    writeln!(s, "\n| test set | key |\n|---|---|")?;
    for (name, key) in &r.test_sets {
        let key = key
            .as_ref()
            .map_or("(EER from the runs' tests.json)".into(), |k| {
                format!("`{}`", k.display())
            });
        writeln!(s, "| {name} | {key} |")?;
    }
    writeln!(s, "\nMethods: {METHODS} EERs are in %.\n")?;

    for set in r.test_sets.keys() {
        writeln!(s, "## EER on `{set}` (%)\n")?;
        let seed_cols: Vec<String> = r.seeds.iter().map(|x| format!("seed {x}")).collect();
        writeln!(
            s,
            "| condition | mean ± std | 95 % CI | {} |",
            seed_cols.join(" | ")
        )?;
        writeln!(s, "|---|---|---|{}", "---|".repeat(r.seeds.len()))?;
        for c in &r.conditions {
            let (ms, ci) = c.eer.get(set).map_or(("—".into(), "—".into()), |sm| {
                (pct_mean_std(sm), pct_ci(sm.ci95))
            });
            let per_seed: Vec<String> = r
                .seeds
                .iter()
                .map(|seed| {
                    c.runs
                        .iter()
                        .find(|run| run.seed == *seed)
                        .map_or("—".into(), |run| match run.eer.get(set) {
                            Some(e) => pct(*e),
                            None => run.status.as_str().to_string(),
                        })
                })
                .collect();
            writeln!(s, "| {} | {ms} | {ci} | {} |", c.name, per_seed.join(" | "))?;
        }
        writeln!(s)?;
    }

    writeln!(s, "## Comparisons with `{}`\n", r.baseline)?;
    if r.comparisons.is_empty() {
        writeln!(
            s,
            "No comparison (no other condition, or no seed finished on both sides).\n"
        )?;
    } else {
        writeln!(
            s,
            "| condition | test set | seeds | Δ EER (%) | 95 % CI | p (paired t) | verdict |\n|---|---|---|---|---|---|---|"
        )?;
        for c in &r.comparisons {
            let verdict = match c.within_noise {
                Some(true) => "within noise",
                Some(false) if c.test.mean_diff < 0.0 => "lower EER",
                Some(false) => "higher EER",
                None => "one seed: no test",
            };
            writeln!(
                s,
                "| {} | {} | {} | {:+.2} | {} | {} | {verdict} |",
                c.condition,
                c.test_set,
                c.test.n,
                c.test.mean_diff * 100.0,
                pct_ci(c.test.ci95),
                c.test.p_value.map_or("—".into(), |p| format!("{p:.3}")),
            )?;
        }
        writeln!(s)?;
    }

    for (title, pick) in [
        (
            "per attack",
            (|c: &super::ConditionResults| &c.attack_eer)
                as fn(&super::ConditionResults) -> &std::collections::BTreeMap<_, _>,
        ),
        ("per condition", |c| &c.condition_eer),
    ] {
        for set in r.test_sets.keys() {
            let mut groups: Vec<&String> = r
                .conditions
                .iter()
                .filter_map(|c| pick(c).get(set))
                .flat_map(|g| g.keys())
                .collect();
            groups.sort();
            groups.dedup();
            if groups.is_empty() {
                continue;
            }
            writeln!(s, "## EER {title} on `{set}` (%, mean ± std over seeds)\n")?;
            writeln!(
                s,
                "| group | {} |\n|---|{}",
                r.conditions
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" | "),
                "---|".repeat(r.conditions.len())
            )?;
            for g in groups {
                let cells: Vec<String> = r
                    .conditions
                    .iter()
                    .map(|c| {
                        pick(c)
                            .get(set)
                            .and_then(|m| m.get(g))
                            .map_or("—".into(), pct_mean_std)
                    })
                    .collect();
                writeln!(s, "| {g} | {} |", cells.join(" | "))?;
            }
            writeln!(s)?;
        }
    }

    writeln!(s, "## Training\n")?;
    writeln!(
        s,
        "| condition | epochs to best dev loss | mean conflict fraction (%) | wall time per run (s) |\n|---|---|---|---|"
    )?;
    for c in &r.conditions {
        writeln!(
            s,
            "| {} | {} | {} | {} |",
            c.name,
            c.epochs_to_best
                .as_ref()
                .map_or("—".into(), |x| num_mean_std(x, 1)),
            c.conflict_frac.as_ref().map_or("—".into(), pct_mean_std),
            c.wall_time_s
                .as_ref()
                .map_or("—".into(), |x| num_mean_std(x, 1)),
        )?;
    }
    // K-path runs: which augmentation conflicts with which, per condition.
    let pairs: std::collections::BTreeSet<&String> = r
        .conditions
        .iter()
        .flat_map(|c| c.pair_conflict_frac.keys())
        .collect();
    if !pairs.is_empty() {
        writeln!(
            s,
            "\n### Conflict fraction per pair of paths (%)\n\nThe share of steps in which the \
             two paths' gradients had a negative cosine, mean over epochs, mean ± sd over seeds.\n"
        )?;
        let head: Vec<String> = pairs.iter().map(|p| p.replace('|', " vs ")).collect();
        writeln!(s, "| condition | {} |", head.join(" | "))?;
        writeln!(s, "|---|{}", "---|".repeat(pairs.len()))?;
        for c in r
            .conditions
            .iter()
            .filter(|c| !c.pair_conflict_frac.is_empty())
        {
            let cells: Vec<String> = pairs
                .iter()
                .map(|p| {
                    c.pair_conflict_frac
                        .get(*p)
                        .map_or("—".into(), pct_mean_std)
                })
                .collect();
            writeln!(s, "| {} | {} |", c.name, cells.join(" | "))?;
        }
    }
    writeln!(s, "\n| condition | seed | status | epochs | best epoch | wall time (s) | run folder |\n|---|---|---|---|---|---|---|")?;
    for c in &r.conditions {
        for run in &c.runs {
            writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | `{}` |",
                c.name,
                run.seed,
                run.status.as_str(),
                run.epochs.map_or("—".into(), |e| e.to_string()),
                run.best_epoch.map_or("—".into(), |e| e.to_string()),
                run.wall_time_s.map_or("—".into(), |t| format!("{t:.1}")),
                run.run_dir.display()
            )?;
        }
    }
    writeln!(s)?;

    let failed: Vec<_> = r
        .conditions
        .iter()
        .flat_map(|c| c.runs.iter().map(move |run| (c, run)))
        .filter(|(_, run)| run.status == RunStatus::Failed || !run.errors.is_empty())
        .collect();
    writeln!(s, "## Failed runs and problems\n")?;
    if failed.is_empty() && r.notes.is_empty() {
        writeln!(s, "None.")?;
    }
    for note in &r.notes {
        writeln!(s, "- {note}")?;
    }
    for (c, run) in failed {
        writeln!(
            s,
            "- {} seed {} ({}, `{}`):\n\n```text\n{}\n```\n",
            c.name,
            run.seed,
            run.status.as_str(),
            run.run_dir.display(),
            run.errors.join("\n")
        )?;
    }
    Ok(())
}
