//! Input warnings: reasons a score should not be trusted, found on the 16 kHz samples before
//! scoring and on the scores afterwards.
//!
//! A detector answers for any input, including inputs it was never trained for: the released
//! AASIST calls digital silence bona fide, a TTS clip clipped by +20 dB flips to bona fide, and a
//! 1-sample file is repeated 64,600 times and scored like speech. These checks say so next to the
//! score; they do not change it.
//!
//! Thresholds (all levels in dBFS, full scale = 1.0):
//! - **silence** ([`SILENCE_PEAK_DBFS`] = -80 dBFS peak, or no 20 ms frame above
//!   [`ACTIVE_FRAME_DBFS`] = -60 dBFS RMS): -80 dBFS is below the quantisation noise of 16-bit
//!   audio with dither (about -96 dBFS RMS, peaks near -90) plus a margin for resampling, so
//!   only digital silence or a disconnected input falls under it; a frame of speech at any usable
//!   level has an RMS well above -60 dBFS (quiet speech recorded with headroom sits near
//!   -40 dBFS), so a clip without one such frame has no speech to judge.
//! - **too_short**: under half the model's whole-clip input ([`SHORT_FRACTION`]); the clip is
//!   repeated to length (the message gives how many times), so the model scores a loop rather
//!   than speech. Half, not the whole input: the AASIST family was trained on clips repeated to
//!   4.04 s, and ASVspoof 2019 LA utterances average about 3.3 s, so a clip a little shorter than
//!   the input, seen less than twice, is what the model learned on; warning on it would flag
//!   most of a standard eval set.
//! - **clipping** ([`CLIP_FRACTION`] = 0.1 % of samples): a sample counts as clipped at
//!   [`FULL_SCALE`] (|x| ≥ 0.999) or inside a flat run of [`FLAT_RUN_LEN`] = 3 or more equal
//!   samples at the clip's peak (|x| ≥ 0.99 · peak), which catches audio clipped and then scaled
//!   down. Clean speech touches its peak on a handful of samples; 0.1 % is 16 samples a second,
//!   more than peaks alone produce and far less than audible clipping does.
//! - **low_level** ([`LOW_LEVEL_DBFS`] = -45 dBFS): the RMS of the active frames (those above
//!   -60 dBFS) below -45 dBFS, i.e. about 20 dB under ordinary speech recordings (-20 to
//!   -30 dBFS RMS); models trained on normalised corpora rarely saw speech that quiet.
//! - **window_disagreement**: the whole-clip decision differs from the decision of most windows,
//!   or the windows split with at least [`SPLIT_FRACTION`] = 25 % on each side of the threshold:
//!   the verdict then depends on which part of the clip the model looked at.

use serde::Serialize;

/// Peak level below which a clip counts as digital silence.
pub const SILENCE_PEAK_DBFS: f64 = -80.0;
/// RMS level of a 20 ms frame above which it counts as active (may hold speech).
pub const ACTIVE_FRAME_DBFS: f64 = -60.0;
/// RMS level of the active frames below which a clip counts as very low level.
pub const LOW_LEVEL_DBFS: f64 = -45.0;
/// Magnitude at which a sample counts as at full scale.
pub const FULL_SCALE: f32 = 0.999;
/// Length of a run of equal samples at the clip's peak that counts as clipped.
pub const FLAT_RUN_LEN: usize = 3;
/// Fraction of clipped samples above which a clip counts as clipped.
pub const CLIP_FRACTION: f64 = 0.001;
/// Share of windows that must lie on each side of the threshold for "windows split".
pub const SPLIT_FRACTION: f64 = 0.25;

/// Frame length of the activity check: 20 ms at 16 kHz.
const FRAME_LEN: usize = 320;
/// The rate the checks assume.
const RATE_HZ: f64 = crate::audio::TARGET_SAMPLE_RATE_HZ as f64;

/// What kind of problem a warning reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// Digital silence, or no frame loud enough to hold speech.
    Silence,
    /// Under half the model's input: repeated to length.
    TooShort,
    /// Many samples at full scale or in flat runs at the peak.
    Clipping,
    /// Speech far quieter than usual recordings.
    LowLevel,
    /// The whole-clip score and the window scores disagree.
    WindowDisagreement,
}

impl WarningCode {
    /// The machine code, as serialised (e.g. `too_short`).
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::Silence => "silence",
            WarningCode::TooShort => "too_short",
            WarningCode::Clipping => "clipping",
            WarningCode::LowLevel => "low_level",
            WarningCode::WindowDisagreement => "window_disagreement",
        }
    }

    /// A few words for the verdict line ("unreliable: <these>").
    pub fn short(self) -> &'static str {
        match self {
            WarningCode::Silence => "silence or no speech",
            WarningCode::TooShort => "far shorter than the model's input",
            WarningCode::Clipping => "clipping",
            WarningCode::LowLevel => "very low level",
            WarningCode::WindowDisagreement => "windows disagree",
        }
    }
}

/// A clip under this fraction of the model's input length is reported as too short.
pub const SHORT_FRACTION: f64 = 0.5;

/// One reason not to trust a score: a machine code and a message with the numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputWarning {
    /// What kind of problem.
    pub code: WarningCode,
    /// What was measured, against which threshold.
    pub message: String,
}

/// The verdict's reason, `"unreliable: silence or no speech, clipping"`, when any warning holds.
pub fn unreliable_reason(warnings: &[InputWarning]) -> Option<String> {
    if warnings.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for w in warnings {
        if !parts.contains(&w.code.short()) {
            parts.push(w.code.short());
        }
    }
    Some(format!("unreliable: {}", parts.join(", ")))
}

/// Linear magnitude → dBFS (`-inf` for 0).
fn dbfs(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Checks on a clip's 16 kHz samples before scoring with a model whose whole-clip input is
/// `model_num_samples`: silence, too short, clipping and low level (see the module docs for the
/// thresholds). A silent clip is not also reported as clipped or quiet.
pub fn check_samples(samples: &[f32], model_num_samples: usize) -> Vec<InputWarning> {
    let mut out = Vec::new();
    let n = samples.len();
    if (n as f64) < SHORT_FRACTION * model_num_samples as f64 {
        let times = model_num_samples.div_ceil(n.max(1));
        out.push(InputWarning {
            code: WarningCode::TooShort,
            message: if n == 0 {
                "the clip is empty".into()
            } else {
                format!(
                    "{n} samples ({:.3} s) is under half the model's input of {model_num_samples} \
                     samples ({:.3} s): the clip is repeated {times} times to fill it",
                    n as f64 / RATE_HZ,
                    model_num_samples as f64 / RATE_HZ
                )
            },
        });
    }
    let peak = samples.iter().fold(0.0f32, |m, x| m.max(x.abs())) as f64;
    if n == 0 || dbfs(peak) < SILENCE_PEAK_DBFS {
        out.push(InputWarning {
            code: WarningCode::Silence,
            message: format!(
                "digital silence: peak {:.1} dBFS is below {SILENCE_PEAK_DBFS} dBFS",
                dbfs(peak)
            ),
        });
        return out;
    }
    // Active frames: 20 ms frames (the last one may be shorter) whose RMS is above the floor.
    let active_threshold = 10f64.powf(ACTIVE_FRAME_DBFS / 20.0);
    let mut active_squares = 0.0f64;
    let mut active_len = 0usize;
    let mut loudest_frame = 0.0f64;
    for frame in samples.chunks(FRAME_LEN) {
        let squares: f64 = frame.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        let rms = (squares / frame.len() as f64).sqrt();
        loudest_frame = loudest_frame.max(rms);
        if rms > active_threshold {
            active_squares += squares;
            active_len += frame.len();
        }
    }
    if active_len == 0 {
        out.push(InputWarning {
            code: WarningCode::Silence,
            message: format!(
                "no speech: the loudest 20 ms frame has an RMS of {:.1} dBFS, below \
                 {ACTIVE_FRAME_DBFS} dBFS",
                dbfs(loudest_frame)
            ),
        });
        return out;
    }
    let clipped = count_clipped(samples, peak as f32);
    let clip_fraction = clipped as f64 / n as f64;
    if clip_fraction > CLIP_FRACTION {
        out.push(InputWarning {
            code: WarningCode::Clipping,
            message: format!(
                "clipping: {clipped} of {n} samples ({:.2} %) are at full scale or in flat runs \
                 at the peak ({:.1} dBFS), above {:.1} %",
                100.0 * clip_fraction,
                dbfs(peak),
                100.0 * CLIP_FRACTION
            ),
        });
    }
    let active_rms_db = dbfs((active_squares / active_len as f64).sqrt());
    if active_rms_db < LOW_LEVEL_DBFS {
        out.push(InputWarning {
            code: WarningCode::LowLevel,
            message: format!(
                "very low level: the active frames' RMS is {active_rms_db:.1} dBFS, below \
                 {LOW_LEVEL_DBFS} dBFS"
            ),
        });
    }
    out
}

/// Samples at full scale, or in runs of at least [`FLAT_RUN_LEN`] equal samples at
/// |x| ≥ 0.99 · `peak`; each sample is counted once.
fn count_clipped(samples: &[f32], peak: f32) -> usize {
    let near_peak = 0.99 * peak;
    let mut count = 0usize;
    let mut i = 0usize;
    while i < samples.len() {
        let x = samples[i];
        let mut run = 1usize;
        while i + run < samples.len() && samples[i + run] == x {
            run += 1;
        }
        let flat = run >= FLAT_RUN_LEN && x.abs() >= near_peak;
        if flat || x.abs() >= FULL_SCALE {
            count += run;
        }
        i += run;
    }
    count
}

/// The score check: does the whole-clip score (`whole_score`) agree with the window scores
/// (`window_scores`) about the side of `threshold`? Warns when the whole-clip decision differs
/// from the majority of windows (a tie counts as bona fide, as a score at the threshold does),
/// or when at least [`SPLIT_FRACTION`] of the windows lie on each side. `None` without windows.
pub fn check_windows(
    whole_score: f64,
    window_scores: &[f64],
    threshold: f64,
) -> Option<InputWarning> {
    let n = window_scores.len();
    if n == 0 {
        return None;
    }
    let side = |s: f64| {
        if s >= threshold {
            "bona fide"
        } else {
            "spoofed"
        }
    };
    let num_bonafide = window_scores.iter().filter(|&&s| s >= threshold).count();
    let frac_bonafide = num_bonafide as f64 / n as f64;
    let majority_bonafide = frac_bonafide >= 0.5;
    let whole_bonafide = whole_score >= threshold;
    let minority = frac_bonafide.min(1.0 - frac_bonafide);
    let split = n >= 2 && minority >= SPLIT_FRACTION;
    if whole_bonafide == majority_bonafide && !split {
        return None;
    }
    let mean = window_scores.iter().sum::<f64>() / n as f64;
    Some(InputWarning {
        code: WarningCode::WindowDisagreement,
        message: format!(
            "windows disagree: the whole-clip score {whole_score:.3} says {}, {num_bonafide} of {n} \
             windows score bona fide and {} spoofed (window mean {mean:.3}, threshold {threshold:.3})",
            side(whole_score),
            n - num_bonafide
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(w: &[InputWarning]) -> Vec<&'static str> {
        w.iter().map(|w| w.code.as_str()).collect()
    }

    /// A 16 kHz tone-like "speech" stand-in: a 220 Hz sine at `amplitude`, `n` samples.
    fn tone(n: usize, amplitude: f32) -> Vec<f32> {
        (0..n)
            .map(|i| amplitude * (std::f32::consts::TAU * 220.0 * i as f32 / 16_000.0).sin())
            .collect()
    }

    #[test]
    fn a_normal_clip_has_no_warnings() {
        // 0.3 peak = -10.5 dBFS, RMS -13.5 dBFS; two seconds against a 1 s input.
        assert!(check_samples(&tone(32_000, 0.3), 16_000).is_empty());
    }

    #[test]
    fn silence_is_found_and_hides_level_checks() {
        let w = check_samples(&vec![0.0; 32_000], 16_000);
        assert_eq!(codes(&w), ["silence"]);
        assert!(w[0].message.contains("-inf dBFS"), "{}", w[0].message);
        // Dither-level noise: peak -90 dBFS.
        let w = check_samples(&tone(32_000, 3.2e-5), 16_000);
        assert_eq!(codes(&w), ["silence"]);
        // Peak above -80 dBFS, but every frame's RMS below -60 dBFS: no speech.
        let w = check_samples(&tone(32_000, 5e-4), 16_000);
        assert_eq!(codes(&w), ["silence"]);
        assert!(w[0].message.starts_with("no speech"), "{}", w[0].message);
    }

    #[test]
    fn short_clips_say_how_often_they_are_repeated() {
        let w = check_samples(&[0.3], 64_600);
        assert_eq!(codes(&w), ["too_short"]);
        assert!(
            w[0].message.contains("repeated 64600 times"),
            "{}",
            w[0].message
        );
        let w = check_samples(&tone(100, 0.3), 64_600);
        assert_eq!(codes(&w), ["too_short"]);
        assert!(
            w[0].message.contains("repeated 646 times"),
            "{}",
            w[0].message
        );
        assert_eq!(codes(&check_samples(&[], 10)), ["too_short", "silence"]);
        // Exactly the input length is not short, nor is half of it; just under half is.
        assert!(check_samples(&tone(1000, 0.3), 1000).is_empty());
        assert!(check_samples(&tone(500, 0.3), 1000).is_empty());
        assert_eq!(codes(&check_samples(&tone(499, 0.3), 1000)), ["too_short"]);
    }

    #[test]
    fn clipping_at_full_scale_and_flat_runs_below_it() {
        // A sine driven 20 dB over full scale and clipped: most samples sit at ±1.
        let hot: Vec<f32> = tone(16_000, 3.0)
            .iter()
            .map(|x| x.clamp(-1.0, 1.0))
            .collect();
        let w = check_samples(&hot, 16_000);
        assert_eq!(codes(&w), ["clipping"]);
        // The same clipped clip scaled down to 0.5: flat runs at the peak remain.
        let scaled: Vec<f32> = hot.iter().map(|x| 0.5 * x).collect();
        assert_eq!(codes(&check_samples(&scaled, 16_000)), ["clipping"]);
        // A clean sine peaks on few samples: not clipped.
        assert_eq!(count_clipped(&tone(16_000, 0.5), 0.5), 0);
        // Counting: a run of 3 at 0.5, one full-scale sample, a run of 2 at 0.5. Against a
        // peak of 1 only the full-scale sample counts; against 0.5 the run of 3 counts too.
        let x = [0.1, 0.5, 0.5, 0.5, 0.2, 1.0, 0.3, 0.5, 0.5];
        assert_eq!(count_clipped(&x, 1.0), 1);
        assert_eq!(count_clipped(&x, 0.5), 4);
    }

    #[test]
    fn low_level_is_measured_on_active_frames() {
        // RMS of a 0.0085 sine: 0.00601 = -44.4 dBFS; of 0.007: -46.1 dBFS.
        assert!(check_samples(&tone(16_000, 0.0085), 16_000).is_empty());
        let w = check_samples(&tone(16_000, 0.007), 16_000);
        assert_eq!(codes(&w), ["low_level"]);
        assert!(w[0].message.contains("-46.1 dBFS"), "{}", w[0].message);
        // Loud speech padded with long silence: the silence does not count against the level.
        let mut padded = tone(4_000, 0.3);
        padded.extend(vec![0.0; 60_000]);
        assert!(check_samples(&padded, 16_000).is_empty());
    }

    #[test]
    fn window_disagreement_by_side_and_by_split() {
        // Whole clip bona fide, all windows spoofed.
        let w = check_windows(1.44, &[-2.0, -3.0, -1.0], 0.0).unwrap();
        assert_eq!(w.code, WarningCode::WindowDisagreement);
        assert!(
            w.message.contains("0 of 3 windows score bona fide"),
            "{}",
            w.message
        );
        // Agreement.
        assert!(check_windows(1.0, &[2.0, 3.0, 0.5, 1.0], 0.0).is_none());
        // One of five windows on the other side (20 %) is no split; one of four (25 %) is.
        assert!(check_windows(-1.0, &[-2.0, -3.0, -0.5, -1.0, 1.0], 0.0).is_none());
        assert!(check_windows(-1.0, &[-2.0, -3.0, -0.5, 1.0], 0.0).is_some());
        // The threshold decides the side, not the sign.
        assert!(check_windows(0.5, &[0.4, 0.3], 0.45).is_some());
        assert!(check_windows(0.5, &[0.6, 0.7], 0.45).is_none());
        assert!(check_windows(0.5, &[], 0.0).is_none());
    }

    #[test]
    fn the_verdict_reason_lists_each_kind_once() {
        assert_eq!(unreliable_reason(&[]), None);
        let w = check_samples(&[], 10);
        assert_eq!(
            unreliable_reason(&w).as_deref(),
            Some("unreliable: far shorter than the model's input, silence or no speech")
        );
        let json = serde_json::to_string(&w[0]).unwrap();
        assert!(
            json.starts_with(r#"{"code":"too_short","message":"#),
            "{json}"
        );
    }
}
