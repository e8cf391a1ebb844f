//! The demo corpus's spoofing attacks: six distinct vocoder-like resynthesis pipelines, each
//! an attack ID in the protocols (as ASVspoof's A01–A19). Each takes a bona fide rendering and
//! returns a signal of the same length and RMS, so that no attack is separable by loudness or
//! duration. Only `super` (the demo corpus) calls these.

use realfft::num_complex::Complex32;

use super::dsp::{rms, set_rms, Stft};
use super::synth::DEMO_SAMPLE_RATE_HZ;
use crate::rng::Rng;

const FS: f64 = DEMO_SAMPLE_RATE_HZ as f64;

/// One spoofing pipeline of the demo corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attack {
    /// Griffin–Lim phase reconstruction from the STFT magnitude (512/128, 8 iterations).
    D01,
    /// LPC vocoder: order-16 all-pole envelope every 10 ms, pulse-train or noise excitation.
    D02,
    /// Sinusoidal model: up to 24 spectral peaks per 10 ms, frequencies quantised to a
    /// quarter-tone grid, resynthesised with free-running oscillators.
    D03,
    /// Harmonic-plus-noise vocoder: smoothed F0, cepstral envelope, phase-locked harmonics up to
    /// 4 kHz and envelope-shaped noise above.
    D04,
    /// Mel-envelope resynthesis: the STFT magnitude is smoothed through 32 mel bands and
    /// recombined with the original phase (unseen in training).
    D05,
    /// Phase-vocoder pitch shift by 1.5–3 semitones up or down (unseen in training).
    D06,
}

impl Attack {
    /// Every attack, in ID order.
    pub const ALL: [Attack; 6] = [
        Attack::D01,
        Attack::D02,
        Attack::D03,
        Attack::D04,
        Attack::D05,
        Attack::D06,
    ];

    /// The ID written in the protocols.
    pub fn id(self) -> &'static str {
        match self {
            Attack::D01 => "D01",
            Attack::D02 => "D02",
            Attack::D03 => "D03",
            Attack::D04 => "D04",
            Attack::D05 => "D05",
            Attack::D06 => "D06",
        }
    }

    /// Parse an ID written by [`Attack::id`].
    pub fn parse(id: &str) -> Option<Attack> {
        Attack::ALL.into_iter().find(|a| a.id() == id)
    }

    /// A one-line description for READMEs and summaries.
    pub fn description(self) -> &'static str {
        match self {
            Attack::D01 => "Griffin-Lim phase reconstruction from the STFT magnitude",
            Attack::D02 => "LPC vocoder with pulse/noise excitation",
            Attack::D03 => "sinusoidal model with quantised frequencies",
            Attack::D04 => "harmonic-plus-noise vocoder (smoothed F0, cepstral envelope)",
            Attack::D05 => "mel-envelope smoothing with the original phase",
            Attack::D06 => "phase-vocoder pitch shift",
        }
    }

    /// Resynthesise `x`; the result has the same length and RMS as `x`.
    pub fn apply(self, x: &[f32], rng: &mut Rng) -> Vec<f32> {
        let mut y = match self {
            Attack::D01 => griffin_lim(x, 8, rng),
            Attack::D02 => lpc_vocoder(x, rng),
            Attack::D03 => sinusoidal(x),
            Attack::D04 => harmonic_noise_vocoder(x, rng),
            Attack::D05 => mel_envelope(x),
            Attack::D06 => {
                let semitones = rng.uniform(1.5, 3.0) * if rng.below(2) == 0 { -1.0 } else { 1.0 };
                pitch_shift(x, semitones)
            }
        };
        y.resize(x.len(), 0.0);
        set_rms(&mut y, rms(x));
        y
    }
}

/// Griffin & Lim (1984): alternate between imposing the target magnitude and taking the phase of
/// the re-analysed signal, starting from random phase.
fn griffin_lim(x: &[f32], iterations: usize, rng: &mut Rng) -> Vec<f32> {
    let stft = Stft::new(512, 128);
    let magnitude: Vec<Vec<f32>> = stft
        .forward(x)
        .iter()
        .map(|frame| frame.iter().map(|c| c.norm()).collect())
        .collect();
    let mut spectra: Vec<Vec<Complex32>> = magnitude
        .iter()
        .map(|frame| {
            frame
                .iter()
                .map(|&m| Complex32::from_polar(m, rng.uniform(0.0, std::f64::consts::TAU) as f32))
                .collect()
        })
        .collect();
    let mut y = stft.inverse(&spectra, x.len());
    for _ in 0..iterations {
        let analysed = stft.forward(&y);
        for (frame, (target, current)) in spectra.iter_mut().zip(magnitude.iter().zip(&analysed)) {
            for (c, (&m, a)) in frame.iter_mut().zip(target.iter().zip(current)) {
                let n = a.norm();
                *c = if n > 1e-9 {
                    a * (m / n)
                } else {
                    Complex32::new(m, 0.0)
                };
            }
        }
        y = stft.inverse(&spectra, x.len());
    }
    y
}

/// Levinson–Durbin recursion: prediction coefficients a[1..=p] (x̂[n] = Σ a_k x[n−k]) and the
/// final prediction error, from autocorrelations r[0..=p].
fn levinson(r: &[f64]) -> (Vec<f64>, f64) {
    let p = r.len() - 1;
    let mut a = vec![0.0; p + 1];
    let mut err = r[0];
    for i in 1..=p {
        if err <= 1e-12 {
            break;
        }
        let mut acc = r[i];
        for j in 1..i {
            acc -= a[j] * r[i - j];
        }
        let k = acc / err;
        let prev = a.clone();
        a[i] = k;
        for j in 1..i {
            a[j] = prev[j] - k * prev[i - j];
        }
        err *= 1.0 - k * k;
    }
    (a[1..].to_vec(), err.max(0.0))
}

/// Classic LPC-10-style vocoder: per 10 ms hop an order-16 envelope (autocorrelation method,
/// 25 ms Hann window), an autocorrelation pitch/voicing decision, and a pulse or noise excitation.
fn lpc_vocoder(x: &[f32], rng: &mut Rng) -> Vec<f32> {
    const ORDER: usize = 16;
    let (frame_len, hop) = (400usize, 160usize);
    let window = super::dsp::hann(frame_len);
    let window_power: f64 = window.iter().map(|&w| (w as f64) * (w as f64)).sum();
    let mut y = vec![0.0f32; x.len()];
    let mut history = [0.0f64; ORDER];
    let mut pulse_phase = 0.0f64;
    let mut start = 0usize;
    while start < x.len() {
        let centre = start + hop / 2;
        let begin = centre.saturating_sub(frame_len / 2);
        let frame: Vec<f64> = (0..frame_len)
            .map(|i| x.get(begin + i).map_or(0.0, |&v| v as f64) * window[i] as f64)
            .collect();
        let mut r: Vec<f64> = (0..=ORDER)
            .map(|lag| (lag..frame_len).map(|i| frame[i] * frame[i - lag]).sum())
            .collect();
        // White-noise correction keeps the recursion well conditioned on near-silent frames.
        r[0] *= 1.0 + 1e-6;
        r[0] += 1e-12;
        let (a, err) = levinson(&r);
        let gain = (err / window_power).sqrt();
        // Pitch: normalised autocorrelation peak between 60 and 400 Hz.
        let (lo, hi) = ((FS / 400.0) as usize, (FS / 60.0) as usize);
        let mut best = (0.0f64, 0usize);
        for lag in lo..hi.min(frame_len - 1) {
            let c: f64 = (lag..frame_len).map(|i| frame[i] * frame[i - lag]).sum();
            if c > best.0 {
                best = (c, lag);
            }
        }
        let voiced = r[0] > 1e-10 && best.0 / r[0] > 0.35;
        let period = best.1.max(1) as f64;
        let stop = (start + hop).min(x.len());
        for out in y[start..stop].iter_mut() {
            let excitation = if voiced {
                pulse_phase += 1.0 / period;
                if pulse_phase >= 1.0 {
                    pulse_phase -= 1.0;
                    period.sqrt()
                } else {
                    0.0
                }
            } else {
                rng.normal()
            };
            let mut s = excitation * gain;
            for k in 0..ORDER {
                s += a[k] * history[k];
            }
            if !s.is_finite() || s.abs() > 1e3 {
                s = 0.0;
            }
            history.rotate_right(1);
            history[0] = s;
            *out = s as f32;
        }
        start += hop;
    }
    y
}

/// Sinusoidal analysis/synthesis (after McAulay & Quatieri 1986, without peak tracking): peak
/// frequencies snap to a quarter-tone grid above 55 Hz and each grid point is one oscillator.
fn sinusoidal(x: &[f32]) -> Vec<f32> {
    const MAX_PEAKS: usize = 24;
    const STEPS_PER_OCTAVE: f64 = 24.0;
    let stft = Stft::new(1024, 160);
    let spectra = stft.forward(x);
    let window_sum = stft.n_fft as f32 / 2.0;
    let grid_len = (STEPS_PER_OCTAVE * (FS / 2.0 / 55.0).log2()) as usize + 1;
    let grid_hz: Vec<f64> = (0..grid_len)
        .map(|i| 55.0 * 2f64.powf(i as f64 / STEPS_PER_OCTAVE))
        .collect();
    // Amplitude of each grid oscillator at each frame.
    let mut amps = vec![vec![0.0f32; grid_len]; spectra.len()];
    for (f, frame) in spectra.iter().enumerate() {
        let mag: Vec<f32> = frame.iter().map(|c| c.norm()).collect();
        let frame_max = mag.iter().fold(0.0f32, |m, &v| m.max(v));
        let mut peaks: Vec<(f32, usize)> = (1..mag.len() - 1)
            .filter(|&k| mag[k] > mag[k - 1] && mag[k] >= mag[k + 1] && mag[k] > frame_max * 3e-3)
            .map(|k| (mag[k], k))
            .collect();
        peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
        for &(m, k) in peaks.iter().take(MAX_PEAKS) {
            // Parabolic interpolation of the peak bin, then snap to the grid.
            let (l, c, r) = (mag[k - 1] as f64, m as f64, mag[k + 1] as f64);
            let denom = l - 2.0 * c + r;
            let offset = if denom.abs() > 1e-12 {
                0.5 * (l - r) / denom
            } else {
                0.0
            };
            let freq_hz = (k as f64 + offset) * FS / stft.n_fft as f64;
            if freq_hz < 55.0 {
                continue;
            }
            let step = (STEPS_PER_OCTAVE * (freq_hz / 55.0).log2()).round() as usize;
            if step < grid_len {
                amps[f][step] += m / window_sum;
            }
        }
    }
    let mut y = vec![0.0f32; x.len()];
    let mut phases = vec![0.0f64; grid_len];
    let increments: Vec<f64> = grid_hz
        .iter()
        .map(|f| std::f64::consts::TAU * f / FS)
        .collect();
    for f in 0..spectra.len() {
        let next = (f + 1).min(spectra.len() - 1);
        let active: Vec<usize> = (0..grid_len)
            .filter(|&g| amps[f][g] > 0.0 || amps[next][g] > 0.0)
            .collect();
        let begin = f * stft.hop;
        let end = (begin + stft.hop).min(x.len());
        for &g in &active {
            let (a0, a1) = (amps[f][g] as f64, amps[next][g] as f64);
            let mut phase = phases[g];
            for (i, out) in y[begin..end].iter_mut().enumerate() {
                let t = i as f64 / stft.hop as f64;
                *out += ((a0 + (a1 - a0) * t) * phase.sin()) as f32;
                phase += increments[g];
            }
            phases[g] = phase % std::f64::consts::TAU;
        }
        // Silent oscillators keep running so that re-entering partials stay coherent.
        for g in 0..grid_len {
            if amps[f][g] == 0.0 && amps[next][g] == 0.0 {
                phases[g] =
                    (phases[g] + increments[g] * (end - begin) as f64) % std::f64::consts::TAU;
            }
        }
    }
    y
}

/// Harmonic-plus-noise vocoder, the way statistical-parametric and source-filter neural
/// vocoders (WORLD, HNM, NSF) rebuild speech from parameters: a smoothed F0 track (5 ms hops,
/// normalised autocorrelation, median of 5 frames), a cepstrally smoothed spectral envelope
/// (40 cepstral coefficients of a 32 ms STFT), phase-locked harmonics of F0 up to a 4 kHz
/// voicing cut-off and envelope-shaped noise above it (and in unvoiced frames). Its traces are
/// those of real vocoders — no jitter, no phase dispersion between harmonics, envelope detail
/// lost — which survive band-limiting and additive noise, unlike a channel effect.
fn harmonic_noise_vocoder(x: &[f32], rng: &mut Rng) -> Vec<f32> {
    const HOP: usize = 80;
    const N_FFT: usize = 512;
    const CEPSTRAL_ORDER: usize = 40;
    const VOICING_CUTOFF_HZ: f64 = 4000.0;
    if x.is_empty() {
        return Vec::new();
    }
    let f0_hz = smoothed_f0_track(x, HOP);
    let stft = Stft::new(N_FFT, HOP);
    let spectra = stft.forward(x);
    let cos_table: Vec<f64> = (0..N_FFT)
        .map(|i| (std::f64::consts::TAU * i as f64 / N_FFT as f64).cos())
        .collect();
    let envelopes: Vec<Vec<f32>> = spectra
        .iter()
        .map(|f| cepstral_envelope(f, CEPSTRAL_ORDER, &cos_table))
        .collect();
    let bin_hz = FS / N_FFT as f64;
    let cutoff_bin = (VOICING_CUTOFF_HZ / bin_hz) as usize;
    // Noise part: the envelope with random phase, above the cut-off in voiced frames and over
    // the whole band in unvoiced ones.
    let noise_frames: Vec<Vec<Complex32>> = envelopes
        .iter()
        .enumerate()
        .map(|(f, env)| {
            let voiced = f0_hz.get(f).is_some_and(|&v| v > 0.0);
            env.iter()
                .enumerate()
                .map(|(k, &m)| {
                    if voiced && k < cutoff_bin {
                        Complex32::new(0.0, 0.0)
                    } else {
                        Complex32::from_polar(m, rng.uniform(0.0, std::f64::consts::TAU) as f32)
                    }
                })
                .collect()
        })
        .collect();
    let mut y = stft.inverse(&noise_frames, x.len());
    // Harmonic part: one running phase for F0, harmonic k at k times it (phase-locked), each
    // with the amplitude of a sinusoid whose Hann-windowed peak is the envelope there.
    let amplitude_scale = 4.0 / N_FFT as f64;
    let mut phase = 0.0f64;
    for (n, out) in y.iter_mut().enumerate() {
        let pos = n as f64 / HOP as f64;
        let f = (pos as usize).min(f0_hz.len() - 1);
        let g = (f + 1).min(f0_hz.len() - 1);
        let frac = pos - f as f64;
        let (a, b) = (f0_hz[f], f0_hz[g]);
        if a <= 0.0 {
            continue;
        }
        let f0 = if b > 0.0 { a + (b - a) * frac } else { a };
        phase = (phase + std::f64::consts::TAU * f0 / FS) % std::f64::consts::TAU;
        let env = &envelopes[f.min(envelopes.len() - 1)];
        let mut s = 0.0f64;
        let mut k = 1usize;
        while (k as f64) * f0 < VOICING_CUTOFF_HZ {
            let bin = ((k as f64 * f0) / bin_hz).round() as usize;
            let m = env.get(bin).copied().unwrap_or(0.0) as f64;
            s += m * amplitude_scale * (k as f64 * phase).sin();
            k += 1;
        }
        *out += s as f32;
    }
    y
}

/// F0 in Hz per `hop` (0 where unvoiced): the normalised-autocorrelation peak between 70 and
/// 400 Hz of a 25 ms frame every 10 ms, voiced above 0.45, then a 5-frame median (vocoders' F0 is
/// smooth), held over the `hop`s of each 10 ms.
fn smoothed_f0_track(x: &[f32], hop: usize) -> Vec<f64> {
    const FRAME: usize = 400;
    const F0_HOP: usize = 160;
    let (lo, hi) = ((FS / 400.0) as usize, (FS / 70.0) as usize);
    let num_frames = x.len() / F0_HOP + 1;
    let raw: Vec<f64> = (0..num_frames)
        .map(|f| {
            let begin = (f * F0_HOP).saturating_sub(FRAME / 2);
            let frame: Vec<f64> = (0..FRAME)
                .map(|i| x.get(begin + i).map_or(0.0, |&v| v as f64))
                .collect();
            // prefix[i] = Σ_{j<i} frame[j]², so both energies of a lag are two look-ups.
            let mut prefix = vec![0.0f64; FRAME + 1];
            for (i, v) in frame.iter().enumerate() {
                prefix[i + 1] = prefix[i] + v * v;
            }
            if prefix[FRAME] < 1e-10 {
                return 0.0;
            }
            let mut best = (0.0f64, 0usize);
            for lag in lo..=hi.min(FRAME - 1) {
                let c: f64 = (lag..FRAME).map(|i| frame[i] * frame[i - lag]).sum();
                let tail = prefix[FRAME] - prefix[lag];
                let head = prefix[FRAME - lag];
                let r = c / (tail * head).sqrt().max(1e-12);
                if r > best.0 {
                    best = (r, lag);
                }
            }
            if best.0 > 0.45 {
                FS / best.1 as f64
            } else {
                0.0
            }
        })
        .collect();
    let smoothed: Vec<f64> = (0..raw.len())
        .map(|i| {
            let mut w: Vec<f64> = raw[i.saturating_sub(2)..(i + 3).min(raw.len())].to_vec();
            w.sort_by(f64::total_cmp);
            w[w.len() / 2]
        })
        .collect();
    (0..x.len() / hop + 1)
        .map(|f| smoothed[(f * hop / F0_HOP).min(smoothed.len() - 1)])
        .collect()
}

/// Spectral envelope of one STFT frame (n_fft/2 + 1 bins): the log magnitude liftered to its
/// first `order` cepstral coefficients. `cos_table[i]` = cos(2π i / n_fft).
fn cepstral_envelope(frame: &[Complex32], order: usize, cos_table: &[f64]) -> Vec<f32> {
    let num_bins = frame.len();
    let n = cos_table.len();
    let log_mag: Vec<f64> = frame
        .iter()
        .map(|c| (c.norm() as f64).max(1e-9).ln())
        .collect();
    // The log magnitude is real and even, so its cepstrum is a cosine series.
    let cepstrum: Vec<f64> = (0..=order)
        .map(|q| {
            let mut acc = 0.0;
            for (k, &l) in log_mag.iter().enumerate() {
                let weight = if k == 0 || k == num_bins - 1 {
                    1.0
                } else {
                    2.0
                };
                acc += weight * l * cos_table[(q * k) % n];
            }
            acc / n as f64
        })
        .collect();
    (0..num_bins)
        .map(|k| {
            let mut l = cepstrum[0];
            for (q, &c) in cepstrum.iter().enumerate().skip(1) {
                l += 2.0 * c * cos_table[(q * k) % n];
            }
            l.exp() as f32
        })
        .collect()
}

/// Triangular mel filters (HTK mel scale) over `num_bins` FFT bins, normalised so that the
/// filters sum to one at every bin they cover.
fn mel_filters(num_bands: usize, n_fft: usize) -> Vec<Vec<f32>> {
    let mel = |f: f64| 2595.0 * (1.0 + f / 700.0).log10();
    let inv = |m: f64| 700.0 * (10f64.powf(m / 2595.0) - 1.0);
    let num_bins = n_fft / 2 + 1;
    let top = mel(FS / 2.0);
    let edges: Vec<f64> = (0..num_bands + 2)
        .map(|i| inv(top * i as f64 / (num_bands + 1) as f64) * n_fft as f64 / FS)
        .collect();
    (0..num_bands)
        .map(|b| {
            let (lo, mid, hi) = (edges[b], edges[b + 1], edges[b + 2]);
            (0..num_bins)
                .map(|k| {
                    let k = k as f64;
                    let w = if k <= lo || k >= hi {
                        0.0
                    } else if k <= mid {
                        (k - lo) / (mid - lo).max(1e-9)
                    } else {
                        (hi - k) / (hi - mid).max(1e-9)
                    };
                    // The bins outside the outermost centres belong to the outermost bands entirely.
                    if (b == 0 && k <= mid) || (b + 1 == num_bands && k >= mid) {
                        1.0
                    } else {
                        w as f32
                    }
                })
                .collect()
        })
        .collect()
}

/// Replace each STFT magnitude by its 32-band mel envelope, keeping the original phase: the
/// harmonic fine structure is only what phase interference rebuilds on overlap-add.
fn mel_envelope(x: &[f32]) -> Vec<f32> {
    let stft = Stft::new(512, 128);
    let filters = mel_filters(32, stft.n_fft);
    let num_bins = stft.n_fft / 2 + 1;
    let coverage: Vec<f32> = (0..num_bins)
        .map(|k| filters.iter().map(|f| f[k]).sum::<f32>().max(1e-6))
        .collect();
    let mut spectra = stft.forward(x);
    for frame in spectra.iter_mut() {
        let mag: Vec<f32> = frame.iter().map(|c| c.norm()).collect();
        let bands: Vec<f32> = filters
            .iter()
            .map(|f| {
                let weight: f32 = f.iter().sum();
                f.iter().zip(&mag).map(|(w, m)| w * m).sum::<f32>() / weight.max(1e-6)
            })
            .collect();
        for (k, c) in frame.iter_mut().enumerate() {
            let envelope: f32 = filters
                .iter()
                .zip(&bands)
                .map(|(f, b)| f[k] * b)
                .sum::<f32>()
                / coverage[k];
            let n = mag[k];
            *c = if n > 1e-9 {
                *c * (envelope / n)
            } else {
                Complex32::new(envelope, 0.0)
            };
        }
    }
    stft.inverse(&spectra, x.len())
}

/// Phase-vocoder time stretch by `ratio` (Flanagan & Golden 1966; Laroche & Dolson 1999 without
/// phase locking), then linear-interpolation resampling back to the input length: a pitch shift
/// of `semitones` that moves the formants too, with the vocoder's phasiness.
fn pitch_shift(x: &[f32], semitones: f64) -> Vec<f32> {
    let ratio = 2f64.powf(semitones / 12.0);
    let analysis_hop = 128usize;
    let synthesis_hop = (analysis_hop as f64 * ratio).round() as usize;
    let n_fft = 512;
    let analysis = Stft::new(n_fft, analysis_hop);
    let synthesis = Stft::new(n_fft, synthesis_hop);
    let spectra = analysis.forward(x);
    let num_bins = n_fft / 2 + 1;
    let mut prev_phase = vec![0.0f64; num_bins];
    let mut acc_phase = vec![0.0f64; num_bins];
    let mut out_frames = Vec::with_capacity(spectra.len());
    for (f, frame) in spectra.iter().enumerate() {
        let mut out = Vec::with_capacity(num_bins);
        for (k, c) in frame.iter().enumerate() {
            let phase = c.arg() as f64;
            let expected = std::f64::consts::TAU * k as f64 * analysis_hop as f64 / n_fft as f64;
            if f == 0 {
                acc_phase[k] = phase;
            } else {
                let mut delta = phase - prev_phase[k] - expected;
                delta -= std::f64::consts::TAU * (delta / std::f64::consts::TAU).round();
                let true_freq = (expected + delta) / analysis_hop as f64;
                acc_phase[k] += true_freq * synthesis_hop as f64;
            }
            prev_phase[k] = phase;
            out.push(Complex32::from_polar(c.norm(), acc_phase[k] as f32));
        }
        out_frames.push(out);
    }
    let stretched_len = (x.len() as f64 * synthesis_hop as f64 / analysis_hop as f64) as usize;
    let stretched = synthesis.inverse(&out_frames, stretched_len);
    let step = stretched_len as f64 / x.len() as f64;
    (0..x.len())
        .map(|n| {
            let pos = n as f64 * step;
            let i = pos as usize;
            let frac = (pos - i as f64) as f32;
            let a = stretched.get(i).copied().unwrap_or(0.0);
            let b = stretched.get(i + 1).copied().unwrap_or(0.0);
            a + (b - a) * frac
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levinson_recovers_an_ar2_process() {
        // Autocorrelation of x[n] = 0.5 x[n−1] − 0.3 x[n−2] + e[n] from the Yule–Walker equations:
        // ρ1 = a1/(1−a2), ρ2 = a1ρ1 + a2.
        let (a1, a2) = (0.5f64, -0.3f64);
        let rho1 = a1 / (1.0 - a2);
        let rho2 = a1 * rho1 + a2;
        let (a, err) = levinson(&[1.0, rho1, rho2]);
        assert!(
            (a[0] - a1).abs() < 1e-12 && (a[1] - a2).abs() < 1e-12,
            "{a:?}"
        );
        assert!(err > 0.0 && err < 1.0);
    }

    #[test]
    fn harmonic_noise_vocoder_keeps_the_pitch_and_locks_the_harmonics() {
        // A 150 Hz pulse train through a formant-like decay: voiced throughout.
        let x: Vec<f32> = (0..16_000)
            .map(|n| {
                let t = (n % 107) as f64 / FS;
                ((-t * 600.0).exp() * (std::f64::consts::TAU * 700.0 * t).sin()) as f32 * 0.3
            })
            .collect();
        let track = smoothed_f0_track(&x, 80);
        let voiced: Vec<f64> = track.iter().copied().filter(|&f| f > 0.0).collect();
        assert!(voiced.len() > track.len() * 9 / 10, "{track:?}");
        let expected_hz = FS / 107.0;
        assert!(
            voiced.iter().all(|f| (f - expected_hz).abs() < 3.0),
            "{expected_hz} vs {voiced:?}"
        );
        let mut rng = Rng::new(7);
        let y = Attack::D04.apply(&x, &mut rng);
        assert_eq!(y.len(), x.len());
        assert!((rms(&y) - rms(&x)).abs() < 1e-4);
        // Periodic at the input's period: the normalised autocorrelation at lag 107 is high.
        let mid = &y[4000..12_000];
        let c: f64 = (107..mid.len())
            .map(|i| (mid[i] * mid[i - 107]) as f64)
            .sum();
        let e: f64 = mid.iter().map(|&v| (v * v) as f64).sum();
        assert!(c / e > 0.6, "autocorrelation {}", c / e);
        // Unvoiced input (white noise) comes out as noise: no periodicity.
        let noise: Vec<f32> = (0..16_000).map(|_| rng.normal() as f32 * 0.1).collect();
        assert!(
            smoothed_f0_track(&noise, 80)
                .iter()
                .filter(|&&f| f > 0.0)
                .count()
                < 20
        );
    }

    #[test]
    fn pitch_shift_moves_a_tone_by_the_requested_interval() {
        let x: Vec<f32> = (0..16_000)
            .map(|n| (std::f64::consts::TAU * 440.0 * n as f64 / FS).sin() as f32 * 0.5)
            .collect();
        let y = pitch_shift(&x, 3.0);
        // Count zero crossings in the middle second: 2 per cycle.
        let crossings = |s: &[f32]| s.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        let f_out = crossings(&y[2000..14_000]) as f64 / 0.75;
        let expected = 440.0 * 2f64.powf(3.0 / 12.0);
        assert!(
            (f_out - expected).abs() < 0.03 * expected,
            "{f_out} vs {expected}"
        );
    }

    #[test]
    fn mel_filters_cover_every_bin() {
        let filters = mel_filters(32, 512);
        for k in 0..257 {
            let s: f32 = filters.iter().map(|f| f[k]).sum();
            assert!(s > 0.2, "bin {k} coverage {s}");
        }
    }
}
