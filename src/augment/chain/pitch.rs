//! Time stretching by WSOLA (waveform-similarity overlap-add, Verhelst & Roelands, ICASSP 1993),
//! which the `pitch` stage uses after a resampling step to give a clip back its duration.
//!
//! Frames of 30 ms (Hann window, 50 % overlap, so the windows sum to one) are copied from the
//! input at the nominal analysis position ± 8 ms, the shift chosen to best continue the previous
//! frame's waveform (largest cross-correlation over the half frame where they overlap). It is
//! deterministic and cheap, and fine for the ±few semitones augmentation uses; its limits are
//! the usual ones: transients are smeared over a frame, large factors (beyond about ±5
//! semitones) sound phasey or doubled, and formants move with the pitch (no formant
//! correction), so large shifts change the voice's apparent size as well as its pitch.

/// `x` (at `sample_rate_hz`) stretched or squeezed in time to `out_len` samples, its pitch
/// kept. An empty input gives `out_len` zeros.
pub fn wsola_stretch(x: &[f32], out_len: usize, sample_rate_hz: u32) -> Vec<f32> {
    if x.is_empty() || out_len == 0 {
        return vec![0.0; out_len];
    }
    let fs = sample_rate_hz.max(1_000) as f64;
    let win = (((0.030 * fs) as usize) / 2 * 2).max(16);
    let hop_out = win / 2;
    let tolerance = ((0.008 * fs) as usize).max(1);
    // Correlations look at every `stride`-th sample: the same cost at 44.1 kHz as at 16 kHz.
    let stride = ((fs / 16_000.0).round() as usize).max(1);
    let hop_in = hop_out as f64 * x.len() as f64 / out_len as f64;
    let window: Vec<f64> = (0..win)
        .map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / win as f64).cos())
        .collect();
    let at = |i: isize| -> f64 {
        if i >= 0 && (i as usize) < x.len() {
            x[i as usize] as f64
        } else {
            0.0
        }
    };
    let mut out = vec![0.0f64; out_len + win];
    let mut norm = vec![0.0f64; out_len + win];
    // Frame k is written at k·hop_out − hop_out, so the first sample is covered by a full
    // window sum like every other.
    let num_frames = out_len / hop_out + 2;
    let mut previous: Option<isize> = None;
    for k in 0..num_frames {
        let nominal = (k as f64 * hop_in).round() as isize - hop_out as isize;
        let start = match previous {
            None => nominal,
            Some(prev) => {
                let natural = prev + hop_out as isize;
                let mut best = nominal;
                let mut best_score = f64::NEG_INFINITY;
                for shift in -(tolerance as isize)..=tolerance as isize {
                    let candidate = nominal + shift;
                    let score: f64 = (0..hop_out)
                        .step_by(stride)
                        .map(|i| at(natural + i as isize) * at(candidate + i as isize))
                        .sum();
                    if score > best_score {
                        best_score = score;
                        best = candidate;
                    }
                }
                best
            }
        };
        let out_at = k as isize * hop_out as isize - hop_out as isize;
        for (i, w) in window.iter().enumerate() {
            let j = out_at + i as isize;
            if j >= 0 && (j as usize) < out.len() {
                out[j as usize] += w * at(start + i as isize);
                norm[j as usize] += w;
            }
        }
        previous = Some(start);
    }
    (0..out_len)
        .map(|i| {
            if norm[i] > 1e-6 {
                (out[i] / norm[i]) as f32
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frequency of the strongest component by a direct DFT scan (1 Hz steps).
    fn peak_hz(x: &[f32], fs: f64, lo: f64, hi: f64) -> f64 {
        let mut best = (lo, 0.0);
        let mut f = lo;
        while f <= hi {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, &v) in x.iter().enumerate() {
                let ph = std::f64::consts::TAU * f * i as f64 / fs;
                re += v as f64 * ph.cos();
                im += v as f64 * ph.sin();
            }
            let power = re * re + im * im;
            if power > best.1 {
                best = (f, power);
            }
            f += 1.0;
        }
        best.0
    }

    #[test]
    fn stretching_keeps_the_pitch_and_sets_the_length() {
        let fs = 16_000.0;
        let x: Vec<f32> = (0..16_000)
            .map(|i| (std::f64::consts::TAU * 220.0 * i as f64 / fs).sin() as f32 * 0.5)
            .collect();
        for out_len in [12_000, 16_000, 21_000] {
            let y = wsola_stretch(&x, out_len, 16_000);
            assert_eq!(y.len(), out_len);
            assert!(y.iter().all(|v| v.is_finite()));
            let middle = &y[out_len / 4..out_len / 4 + 4_000];
            assert!((peak_hz(middle, fs, 150.0, 300.0) - 220.0).abs() <= 2.0);
            // A pure tone comes back at (nearly) its own level: frames line up in phase.
            let rms = (middle.iter().map(|&v| (v as f64).powi(2)).sum::<f64>()
                / middle.len() as f64)
                .sqrt();
            assert!((rms - 0.5 / 2f64.sqrt()).abs() < 0.03, "{rms}");
        }
        assert_eq!(wsola_stretch(&[], 5, 16_000), vec![0.0; 5]);
        assert!(wsola_stretch(&x, 0, 16_000).is_empty());
    }
}
