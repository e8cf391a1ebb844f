//! Bona fide speech-like utterances by source–filter synthesis, used by the demo corpus.
//!
//! The source is a Rosenberg glottal pulse train (Rosenberg 1971, "Effect of glottal pulse shape on
//! the quality of natural vowels") differentiated for lip radiation, with per-period jitter and
//! shimmer, a declining F0 contour with per-syllable accents, and aspiration noise gated by the
//! glottal flow. The filter is a cascade of four Klatt resonators whose centre frequencies glide
//! between vowel targets. Fricative-like noise bursts, pauses and a faint noise floor complete the
//! "recording". Only `super` (the demo corpus) calls this.

use super::dsp::Resonator;
use crate::rng::Rng;

/// Sample rate of everything the demo corpus generates.
pub const DEMO_SAMPLE_RATE_HZ: u32 = 16_000;
const FS: f64 = DEMO_SAMPLE_RATE_HZ as f64;

/// Vowel targets (F1, F2, F3) in Hz for an adult male vocal tract (Peterson & Barney 1952 means).
const VOWELS_HZ: [[f64; 3]; 7] = [
    [730.0, 1090.0, 2440.0], // a
    [270.0, 2290.0, 3010.0], // i
    [300.0, 870.0, 2240.0],  // u
    [530.0, 1840.0, 2480.0], // e
    [570.0, 840.0, 2410.0],  // o
    [660.0, 1720.0, 2410.0], // ae
    [490.0, 1350.0, 1690.0], // er
];
const FORMANT_BW_HZ: [f64; 4] = [70.0, 100.0, 140.0, 200.0];
const F4_HZ: f64 = 3500.0;

/// One synthetic talker: the parameters that make its voice distinct.
#[derive(Clone, Debug, PartialEq)]
pub struct Speaker {
    /// Speaker ID as written in the protocols.
    pub id: String,
    /// Mean fundamental frequency.
    pub f0_hz: f64,
    /// Size of the intonation accents, in semitones.
    pub f0_range_semitones: f64,
    /// Vocal-tract length factor applied to every formant (≈0.9 long tract, ≈1.2 short).
    pub formant_scale: f64,
    /// Aspiration noise relative to the voiced source (0 = modal, 0.5 = very breathy).
    pub breathiness: f64,
    /// Speaking-rate factor (>1 = faster).
    pub tempo: f64,
    /// Relative standard deviation of the period from one glottal cycle to the next.
    pub jitter: f64,
    /// Relative standard deviation of the amplitude from one glottal cycle to the next.
    pub shimmer: f64,
    /// Open quotient of the glottal pulse (fraction of the period the glottis is open).
    pub open_quotient: f64,
}

impl Speaker {
    /// Draw a speaker; even indices get lower voices and longer vocal tracts, odd ones higher.
    pub fn generate(id: String, index: usize, rng: &mut Rng) -> Speaker {
        let low = index.is_multiple_of(2);
        let (f0_hz, formant_scale) = if low {
            (rng.uniform(85.0, 145.0), rng.uniform(0.88, 1.02))
        } else {
            (rng.uniform(165.0, 260.0), rng.uniform(1.05, 1.22))
        };
        Speaker {
            id,
            f0_hz,
            f0_range_semitones: rng.uniform(1.5, 5.0),
            formant_scale,
            breathiness: rng.uniform(0.03, 0.35),
            tempo: rng.uniform(0.8, 1.25),
            jitter: rng.uniform(0.003, 0.015),
            shimmer: rng.uniform(0.02, 0.08),
            open_quotient: rng.uniform(0.45, 0.7),
        }
    }
}

/// What the articulators do over one stretch of time.
#[derive(Clone, Copy, Debug)]
enum Segment {
    Silence,
    /// Voiced vowel with its (F1, F2, F3) target index and an F0 accent in semitones.
    Vowel {
        vowel: usize,
        accent: f64,
    },
    /// Noise burst shaped around `centre_hz`; `voiced` adds a weak glottal source (like /z/, /v/).
    Fricative {
        centre_hz: f64,
        voiced: bool,
    },
}

/// Sequence of (segment, length in samples) filling exactly `num_samples`.
fn plan_segments(speaker: &Speaker, num_samples: usize, rng: &mut Rng) -> Vec<(Segment, usize)> {
    let ms = |rng: &mut Rng, lo: f64, hi: f64, tempo: f64| -> usize {
        (rng.uniform(lo, hi) / tempo * FS / 1000.0) as usize
    };
    let mut plan = vec![(Segment::Silence, ms(rng, 80.0, 300.0, 1.0))];
    let mut total = plan[0].1;
    while total < num_samples {
        let syllables = 1 + rng.below(3) as usize;
        for _ in 0..syllables {
            if rng.uniform01() < 0.45 {
                let centre_hz = rng.uniform(2500.0, 6500.0);
                let voiced = rng.uniform01() < 0.3;
                let len = ms(rng, 50.0, 140.0, speaker.tempo);
                plan.push((Segment::Fricative { centre_hz, voiced }, len));
                total += len;
            }
            let vowel = rng.below(VOWELS_HZ.len() as u64) as usize;
            let accent = speaker.f0_range_semitones * (rng.uniform01() - 0.3);
            let len = ms(rng, 110.0, 280.0, speaker.tempo);
            plan.push((Segment::Vowel { vowel, accent }, len));
            total += len;
        }
        let gap = if rng.uniform01() < 0.3 {
            ms(rng, 150.0, 450.0, 1.0)
        } else {
            ms(rng, 0.0, 50.0, speaker.tempo)
        };
        plan.push((Segment::Silence, gap));
        total += gap;
    }
    // Always end in a short silence so utterances do not stop mid-vowel.
    let tail = ms(rng, 80.0, 250.0, 1.0).min(num_samples / 4);
    let mut budget = num_samples - tail;
    let mut out = Vec::with_capacity(plan.len() + 1);
    for (seg, len) in plan {
        if budget == 0 {
            break;
        }
        let len = len.min(budget);
        budget -= len;
        out.push((seg, len));
    }
    out.push((Segment::Silence, tail + budget));
    out
}

/// Rosenberg glottal flow at phase `t` ∈ [0, 1) of a period: a raised-cosine opening over
/// `rise`, a quarter-cosine closing over `fall`, closed for the rest.
fn rosenberg(t: f64, rise: f64, fall: f64) -> f64 {
    use std::f64::consts::PI;
    if t < rise {
        0.5 * (1.0 - (PI * t / rise).cos())
    } else if t < rise + fall {
        (0.5 * PI * (t - rise) / fall).cos()
    } else {
        0.0
    }
}

/// Render `num_samples` of bona fide speech-like signal for `speaker`, unnormalised (peak ≈ 0.1–1).
pub fn render_bonafide(speaker: &Speaker, num_samples: usize, rng: &mut Rng) -> Vec<f32> {
    let plan = plan_segments(speaker, num_samples, rng);

    // Per-sample control tracks, smoothed below so articulators move continuously.
    let mut voicing = vec![0.0f64; num_samples];
    let mut frication = vec![0.0f64; num_samples];
    let mut fric_centre = vec![4000.0f64; num_samples];
    let mut accent = vec![0.0f64; num_samples];
    let mut targets = vec![[0.0f64; 3]; num_samples];
    // Consonants and pauses aim at the next vowel, so formants glide into it (coarticulation).
    let mut next_vowel = vec![0usize; plan.len()];
    let mut upcoming = rng.below(VOWELS_HZ.len() as u64) as usize;
    for (i, (seg, _)) in plan.iter().enumerate().rev() {
        if let Segment::Vowel { vowel, .. } = seg {
            upcoming = *vowel;
        }
        next_vowel[i] = upcoming;
    }
    let mut pos = 0;
    for (i, &(seg, len)) in plan.iter().enumerate() {
        let vowel_target = VOWELS_HZ[next_vowel[i]];
        for n in pos..pos + len {
            targets[n] = vowel_target;
            match seg {
                Segment::Silence => {}
                Segment::Vowel { accent: a, .. } => {
                    voicing[n] = 1.0;
                    accent[n] = a;
                }
                Segment::Fricative { centre_hz, voiced } => {
                    frication[n] = 1.0;
                    fric_centre[n] = centre_hz;
                    if voiced {
                        voicing[n] = 0.25;
                    }
                }
            }
        }
        pos += len;
    }

    // One-pole smoothers: ~12 ms for amplitudes, ~35 ms / tempo for formants and pitch accents.
    let pole = |tau_s: f64| (-1.0 / (tau_s * FS)).exp();
    let amp_pole = pole(0.012);
    let art_pole = pole(0.035 / speaker.tempo);
    let pitch_pole = pole(0.08);

    let mut tract = [Resonator::default(); 4];
    let mut fric_res = Resonator::default();
    let mut fric_res2 = Resonator::default();
    let mut formants = {
        let t = targets.first().copied().unwrap_or(VOWELS_HZ[0]);
        [t[0], t[1], t[2], F4_HZ]
    };
    let (mut v_s, mut f_s, mut acc_s) = (0.0f64, 0.0f64, 0.0f64);
    let mut phase = 0.0f64;
    let mut period_factor = 1.0f64;
    let mut cycle_amp = 1.0f64;
    let mut prev_flow = 0.0f64;
    let mut prev_fric = 0.0f64;
    let mut fric_gain = 1.0f64;
    let duration_s = num_samples as f64 / FS;
    let vibrato_hz = rng.uniform(3.0, 6.0);
    let vibrato_phase = rng.uniform(0.0, std::f64::consts::TAU);
    let declination_semitones = rng.uniform(1.0, 4.0);
    let rise = speaker.open_quotient * 0.65;
    let fall = speaker.open_quotient * 0.35;
    let mut out = Vec::with_capacity(num_samples);
    for n in 0..num_samples {
        v_s = amp_pole * v_s + (1.0 - amp_pole) * voicing[n];
        f_s = amp_pole * f_s + (1.0 - amp_pole) * frication[n];
        acc_s = pitch_pole * acc_s + (1.0 - pitch_pole) * accent[n];
        let t_s = n as f64 / FS;
        for (k, f) in formants.iter_mut().take(3).enumerate() {
            *f = art_pole * *f + (1.0 - art_pole) * targets[n][k];
        }
        if n % 16 == 0 {
            for (k, res) in tract.iter_mut().enumerate() {
                let f = (formants[k] * speaker.formant_scale).min(FS * 0.45);
                res.tune(f, FORMANT_BW_HZ[k], FS);
            }
            fric_res.tune(fric_centre[n], 0.3 * fric_centre[n], FS);
            fric_res2.tune((fric_centre[n] * 1.3).min(7200.0), 1500.0, FS);
            // Unity-DC resonators tuned high have large peak gains; level the burst at its centre.
            fric_gain = 1.0
                / (fric_res.gain_at(fric_centre[n], FS) * fric_res2.gain_at(fric_centre[n], FS))
                    .max(1e-9);
        }

        // Glottal source with a declining, accented, slightly wavering F0.
        let semitones = acc_s - declination_semitones * t_s / duration_s
            + 0.15 * (std::f64::consts::TAU * vibrato_hz * t_s + vibrato_phase).sin();
        let f0_hz = speaker.f0_hz * 2f64.powf(semitones / 12.0);
        phase += f0_hz / FS / period_factor;
        if phase >= 1.0 {
            phase -= 1.0;
            period_factor = 1.0 + speaker.jitter * rng.normal();
            cycle_amp = (1.0 + speaker.shimmer * rng.normal()).max(0.2);
        }
        let flow = rosenberg(phase, rise, fall) * cycle_amp;
        // Lip radiation ≈ differentiation of the flow.
        let pulse = (flow - prev_flow) * FS / (f0_hz * 4.0);
        prev_flow = flow;
        let aspiration = speaker.breathiness * (0.3 + flow) * rng.normal() * 0.3;
        let source = v_s * (pulse + aspiration);
        let mut voiced = source;
        for res in tract.iter_mut() {
            voiced = res.process(voiced);
        }

        // Fricative: white noise through two resonators, then a first difference (high-pass).
        let noise = rng.normal();
        let fric = fric_res2.process(fric_res.process(noise)) * fric_gain;
        let fric_hp = fric - prev_fric;
        prev_fric = fric;
        let sample = voiced * 0.5 + f_s * fric_hp * 0.25;
        out.push(sample as f32);
    }
    // Faint room noise: real recordings are never digitally silent.
    let floor = 10f64.powf(rng.uniform(-70.0, -55.0) / 20.0);
    let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    let floor_abs = (floor * peak.max(1e-3)) as f32;
    let mut lp = 0.0f32;
    for v in out.iter_mut() {
        lp = 0.7 * lp + 0.3 * rng.normal() as f32;
        *v += floor_abs * 4.0 * lp;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenberg_pulse_is_continuous_and_closed_at_the_end() {
        let (rise, fall) = (0.4, 0.2);
        assert_eq!(rosenberg(0.0, rise, fall), 0.0);
        assert!((rosenberg(rise - 1e-9, rise, fall) - 1.0).abs() < 1e-6);
        assert!((rosenberg(rise + 1e-9, rise, fall) - 1.0).abs() < 1e-6);
        assert!(rosenberg(rise + fall - 1e-9, rise, fall).abs() < 1e-6);
        assert_eq!(rosenberg(0.9, rise, fall), 0.0);
    }

    #[test]
    fn plan_fills_the_requested_length_and_ends_silent() {
        let mut rng = Rng::new(4);
        let spk = Speaker::generate("S".into(), 1, &mut rng);
        for n in [16_000usize, 40_000, 80_000] {
            let plan = plan_segments(&spk, n, &mut rng);
            assert_eq!(plan.iter().map(|p| p.1).sum::<usize>(), n);
            assert!(matches!(plan.last(), Some((Segment::Silence, _))));
            assert!(plan.iter().any(|p| matches!(p.0, Segment::Vowel { .. })));
        }
    }

    #[test]
    fn rendered_speech_is_finite_nonsilent_and_pitched_near_the_speaker_f0() {
        let mut rng = Rng::new(5);
        let spk = Speaker::generate("S".into(), 0, &mut rng);
        let x = render_bonafide(&spk, 32_000, &mut rng);
        assert_eq!(x.len(), 32_000);
        assert!(x.iter().all(|v| v.is_finite()));
        assert!(super::super::dsp::rms(&x) > 1e-3);
        // The autocorrelation peak of the loudest 64 ms should sit near one glottal period.
        let win = 1024;
        let start = (0..x.len() - win)
            .step_by(256)
            .max_by(|&a, &b| {
                let e = |s: usize| x[s..s + win].iter().map(|v| v * v).sum::<f32>();
                e(a).total_cmp(&e(b))
            })
            .unwrap_or(0);
        let seg = &x[start..start + win];
        let r = |l: usize| (0..win - l).map(|i| seg[i] * seg[i + l]).sum::<f32>();
        let energy = r(0);
        // Accents and declination keep F0 within about ±5 semitones of the speaker's mean.
        let period = FS / spk.f0_hz;
        let near_period = ((period * 0.7) as usize..=(period * 1.4) as usize)
            .map(|l| r(l) / energy)
            .fold(f32::MIN, f32::max);
        assert!(
            near_period > 0.3,
            "normalised autocorrelation near one period {near_period}"
        );
    }
}
