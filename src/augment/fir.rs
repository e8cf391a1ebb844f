//! FIR building blocks of RawBoost: scipy-compatible window design (`firwin` band-stop with a
//! Hamming window), the `freqz` response on its default grid, cascading by convolution, the
//! reference's padded-and-cropped filtering, and a fast FFT (overlap-save) path for the same
//! filtering that sums several filtered inputs in the frequency domain.
//!
//! [`crate::augment::rawboost`] calls these; the direct `f64` functions are checked against scipy
//! fixtures, and the FFT path is checked against the direct one.

use std::cell::RefCell;
use std::f64::consts::PI;

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

/// Number of frequencies on scipy `freqz`'s default grid: `w = π·k/512`, k = 0..512 (π excluded).
pub const FREQZ_DEFAULT_POINTS: usize = 512;

/// Why a filter could not be designed.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum FirError {
    /// A band-stop filter must pass the Nyquist frequency, which needs an odd number of taps.
    #[error("a band-stop FIR needs an odd number of taps, got {num_taps}")]
    EvenTaps { num_taps: usize },
    /// Cutoffs must satisfy 0 < f1 < f2 < fs/2, as scipy's `firwin` demands.
    #[error(
        "band edges {f1_hz} Hz and {f2_hz} Hz must satisfy 0 < f1 < f2 < fs/2 with fs = {fs_hz} Hz"
    )]
    InvalidCutoff { f1_hz: f64, f2_hz: f64, fs_hz: f64 },
}

/// RawBoost's tap count rule: an even count is made odd by adding one.
pub fn odd_taps(num_taps: usize) -> usize {
    if num_taps.is_multiple_of(2) {
        num_taps + 1
    } else {
        num_taps
    }
}

/// Normalised sinc, `sin(πx)/(πx)`, as numpy's `sinc`.
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = PI * x;
        px.sin() / px
    }
}

/// Symmetric Hamming window, as scipy's `get_window('hamming', n, fftbins=False)`.
pub fn hamming(num_taps: usize) -> Vec<f64> {
    if num_taps == 1 {
        return vec![1.0];
    }
    let denom = (num_taps - 1) as f64;
    (0..num_taps)
        .map(|n| 0.54 - 0.46 * (2.0 * PI * n as f64 / denom).cos())
        .collect()
}

/// Band-stop FIR as scipy's `firwin(num_taps, [f1, f2], window='hamming', fs=fs)` with its
/// defaults `pass_zero=True, scale=True`: passes [0, f1] and [f2, fs/2], unit gain at DC.
pub fn firwin_bandstop(
    num_taps: usize,
    f1_hz: f64,
    f2_hz: f64,
    fs_hz: f64,
) -> Result<Vec<f64>, FirError> {
    if num_taps.is_multiple_of(2) {
        return Err(FirError::EvenTaps { num_taps });
    }
    let nyquist_hz = fs_hz / 2.0;
    let (f1, f2) = (f1_hz / nyquist_hz, f2_hz / nyquist_hz);
    if !(f1 > 0.0 && f1 < f2 && f2 < 1.0) {
        return Err(FirError::InvalidCutoff {
            f1_hz,
            f2_hz,
            fs_hz,
        });
    }
    let alpha = 0.5 * (num_taps - 1) as f64;
    let window = hamming(num_taps);
    // Bands [0, f1] and [f2, 1]: each contributes right·sinc(right·m) − left·sinc(left·m).
    let mut h: Vec<f64> = (0..num_taps)
        .map(|n| {
            let m = n as f64 - alpha;
            let ideal = f1 * sinc(f1 * m) + sinc(m) - f2 * sinc(f2 * m);
            ideal * window[n]
        })
        .collect();
    // scale=True with a pass band starting at 0: unit gain at DC.
    let dc_gain: f64 = h.iter().sum();
    for v in &mut h {
        *v /= dc_gain;
    }
    Ok(h)
}

/// Full linear convolution (`numpy.convolve` mode 'full'); used to cascade band filters.
pub fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, &av) in a.iter().enumerate() {
        for (o, &bv) in out[i..].iter_mut().zip(b) {
            *o += av * bv;
        }
    }
    out
}

thread_local! {
    static PLANNER_F64: RefCell<RealFftPlanner<f64>> = RefCell::new(RealFftPlanner::new());
    static PLANNER_F32: RefCell<RealFftPlanner<f32>> = RefCell::new(RealFftPlanner::new());
}

/// Frequency response of the FIR `b` on scipy `freqz`'s default grid (512 points on [0, π)).
///
/// scipy takes `rfft(b, 1024)[:512]` when `b` fits; a longer `b` is transformed at a multiple of
/// 1024 and decimated, which evaluates the same polynomial at the same frequencies.
pub fn freqz(b: &[f64]) -> Vec<Complex<f64>> {
    let points = FREQZ_DEFAULT_POINTS;
    let base_len = 2 * points;
    let factor = b.len().div_ceil(base_len).max(1);
    let fft_len = base_len * factor;
    let fft = PLANNER_F64.with(|p| p.borrow_mut().plan_fft_forward(fft_len));
    let mut input = fft.make_input_vec();
    input[..b.len()].copy_from_slice(b);
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    // Lengths match by construction, so the transform cannot fail.
    if fft
        .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
        .is_err()
    {
        return vec![Complex::new(f64::NAN, 0.0); points];
    }
    (0..points).map(|k| spectrum[k * factor]).collect()
}

/// `max |H(e^jω)|` of the FIR `b` over scipy `freqz`'s default 512-point grid.
pub fn freqz_max_abs(b: &[f64]) -> f64 {
    freqz(b).iter().map(|h| h.norm()).fold(0.0, f64::max)
}

/// The delay RawBoost's `filterFIR` removes: it pads `N = len(b) + 1` zeros and crops `int(N/2)`.
pub fn crop_delay(num_taps: usize) -> usize {
    // int((num_taps + 1) / 2)
    num_taps.div_ceil(2)
}

/// RawBoost's `filterFIR`, computed directly in `f64`: append `N = len(b)+1` zeros, filter with
/// `b` (lfilter with a = 1), keep `y[int(N/2) : int(len(y) − N/2)]` — as long as the input.
pub fn fir_filter_crop(x: &[f64], b: &[f64]) -> Vec<f64> {
    let delay = crop_delay(b.len());
    (0..x.len())
        .map(|n| {
            // Full convolution at index q = n + delay; inputs past the end are the padding zeros.
            let q = n + delay;
            let k_lo = q.saturating_sub(x.len() - 1);
            let k_hi = q.min(b.len().saturating_sub(1));
            let mut acc = 0.0;
            if k_lo <= k_hi {
                for k in k_lo..=k_hi {
                    acc += b[k] * x[q - k];
                }
            }
            acc
        })
        .collect()
}

/// FFT size for overlap-save with a filter of `filter_len` taps on a signal of `signal_len`
/// samples: a power of two about eight times the filter and at least 4096 (cheap transforms
/// that stay in cache, ≥ 90 % useful output, few blocks; 4096 beat 2048 and 8192 on 66,800-sample
/// clips), but no larger than one block covering the whole signal.
fn overlap_save_len(filter_len: usize, signal_len: usize) -> usize {
    let efficient = (8 * filter_len).max(4096).next_power_of_two();
    let single_block = (signal_len + filter_len).next_power_of_two();
    efficient
        .min(single_block)
        .max(filter_len.next_power_of_two())
}

/// `Σ_i filterFIR(x^(i+1), filters[i])` — RawBoost's padded-and-cropped filtering of the powers
/// of `x`, summed (LnL; a single filter is plain `filterFIR`, as SSI uses) — by overlap-save FFT
/// convolution in `f32` with one inverse transform per block.
///
/// Each filter keeps its own crop delay. Agrees with [`fir_filter_crop`] to f32 FFT precision.
pub fn fir_sum_crop_fft(x: &[f32], filters: &[Vec<f64>]) -> Vec<f32> {
    let len = x.len();
    let filters: Vec<&Vec<f64>> = filters.iter().filter(|b| !b.is_empty()).collect();
    if len == 0 || filters.is_empty() {
        return vec![0.0; len];
    }
    // Put every filter in one causal frame: y[n] = Σ_m g[m]·s[n + d_max − m] with
    // g[m] = b[m − d_max + d]; then y is the full convolution (g ∗ s) read at n + d_max.
    let delays: Vec<usize> = filters.iter().map(|b| crop_delay(b.len())).collect();
    let d_max = delays.iter().copied().max().unwrap_or(0);
    let g_len = filters
        .iter()
        .zip(&delays)
        .map(|(b, &d)| b.len() + d_max - d)
        .max()
        .unwrap_or(1);
    let fft_len = overlap_save_len(g_len, len);
    let step = fft_len - g_len + 1;

    let (forward, inverse) = PLANNER_F32.with(|p| {
        let mut p = p.borrow_mut();
        (p.plan_fft_forward(fft_len), p.plan_fft_inverse(fft_len))
    });
    let mut time = forward.make_input_vec();
    let mut scratch = forward.make_scratch_vec();
    let mut inv_scratch = inverse.make_scratch_vec();
    let norm = 1.0 / fft_len as f64;

    // Filter spectra, with the inverse transform's 1/fft_len folded in.
    let mut spectra: Vec<Vec<Complex<f32>>> = Vec::with_capacity(filters.len());
    for (b, &d) in filters.iter().zip(&delays) {
        time.iter_mut().for_each(|v| *v = 0.0);
        let offset = d_max - d;
        for (k, &bk) in b.iter().enumerate() {
            time[offset + k] = (bk * norm) as f32;
        }
        let mut spec = forward.make_output_vec();
        // Buffer lengths come from the plan itself, so the transforms cannot fail.
        let _ = forward.process_with_scratch(&mut time, &mut spec, &mut scratch);
        spectra.push(spec);
    }

    let mut out = vec![0.0f32; len];
    let mut base = vec![0.0f32; fft_len];
    let mut power = vec![0.0f32; fft_len];
    let mut seg_spec = forward.make_output_vec();
    let mut acc = forward.make_output_vec();
    let mut n0 = 0usize;
    while n0 < len {
        let count = step.min(len - n0);
        // Segment t covers source sample n0 + d_max − (g_len − 1) + t.
        let first = n0 as isize + d_max as isize - (g_len as isize - 1);
        acc.iter_mut().for_each(|c| *c = Complex::new(0.0, 0.0));
        // Copy the part of the segment inside the signal; the rest is zero padding.
        base.iter_mut().for_each(|v| *v = 0.0);
        let src_lo = first.max(0) as usize;
        let src_hi = ((first + fft_len as isize).max(0) as usize).min(len);
        if src_lo < src_hi {
            let dst_lo = (src_lo as isize - first) as usize;
            base[dst_lo..dst_lo + (src_hi - src_lo)].copy_from_slice(&x[src_lo..src_hi]);
        }
        // `power` holds x^(i+1) for the segment, built by repeated multiplication; the
        // transform consumes its input buffer, so it is copied into `time` first.
        for (i, spec) in spectra.iter().enumerate() {
            match i {
                0 => time.copy_from_slice(&base),
                1 => {
                    power.iter_mut().zip(&base).for_each(|(p, b)| *p = b * b);
                    time.copy_from_slice(&power);
                }
                _ => {
                    power.iter_mut().zip(&base).for_each(|(p, b)| *p *= b);
                    time.copy_from_slice(&power);
                }
            }
            let _ = forward.process_with_scratch(&mut time, &mut seg_spec, &mut scratch);
            for ((a, s), g) in acc.iter_mut().zip(&seg_spec).zip(spec) {
                *a += s * g;
            }
        }
        // The DC and Nyquist bins of a real signal's spectrum are real; clear rounding residue
        // so the inverse transform accepts them.
        acc[0].im = 0.0;
        if let Some(last) = acc.last_mut() {
            last.im = 0.0;
        }
        let _ = inverse.process_with_scratch(&mut acc, &mut time, &mut inv_scratch);
        out[n0..n0 + count].copy_from_slice(&time[g_len - 1..g_len - 1 + count]);
        n0 += count;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_taps_adds_one_to_even_counts() {
        assert_eq!(odd_taps(10), 11);
        assert_eq!(odd_taps(11), 11);
    }

    #[test]
    fn bandstop_has_unit_dc_gain_and_is_symmetric() {
        let h = firwin_bandstop(51, 1000.0, 2000.0, 16_000.0).unwrap();
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for k in 0..h.len() {
            assert!((h[k] - h[h.len() - 1 - k]).abs() < 1e-15);
        }
        // Deep attenuation in the stop band (1.5 kHz = π·0.1875 → grid point 96).
        let resp = freqz(&h);
        assert!(resp[96].norm() < 0.05, "{}", resp[96].norm());
        assert!((resp[0].norm() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn bandstop_rejects_even_taps_and_bad_edges() {
        assert_eq!(
            firwin_bandstop(10, 100.0, 200.0, 16_000.0),
            Err(FirError::EvenTaps { num_taps: 10 })
        );
        assert!(firwin_bandstop(11, 300.0, 200.0, 16_000.0).is_err());
        assert!(firwin_bandstop(11, 300.0, 8000.0, 16_000.0).is_err());
    }

    #[test]
    fn freqz_matches_direct_dft_even_for_long_filters() {
        let b: Vec<f64> = (0..1500)
            .map(|k| ((k * 7919) % 113) as f64 / 113.0 - 0.5)
            .collect();
        let resp = freqz(&b);
        for &k in &[0usize, 1, 77, 300, 511] {
            let w = PI * k as f64 / 512.0;
            let direct = b
                .iter()
                .enumerate()
                .fold(Complex::new(0.0, 0.0), |acc, (n, &bn)| {
                    acc + Complex::from_polar(bn, -w * n as f64)
                });
            assert!((resp[k] - direct).norm() < 1e-9, "bin {k}");
        }
    }

    #[test]
    fn convolve_is_polynomial_product() {
        assert_eq!(
            convolve(&[1.0, 2.0], &[1.0, -1.0, 3.0]),
            vec![1.0, 1.0, 1.0, 6.0]
        );
    }

    #[test]
    fn fft_path_matches_direct_path_for_summed_powers() {
        let x: Vec<f32> = (0..20_000)
            .map(|n| (0.8 * (n as f64 * 0.013).sin() * (n as f64 * 0.0007).cos()) as f32)
            .collect();
        let filters: Vec<Vec<f64>> = [(31, 500.0, 900.0), (99, 3000.0, 3900.0), (151, 20.0, 200.0)]
            .iter()
            .map(|&(c, f1, f2)| firwin_bandstop(c, f1, f2, 16_000.0).unwrap())
            .collect();
        let cascade = convolve(&filters[0], &filters[1]);
        let filters = vec![filters[0].clone(), cascade, filters[2].clone()];
        let fast = fir_sum_crop_fft(&x, &filters);
        let mut direct = vec![0.0f64; x.len()];
        for (i, b) in filters.iter().enumerate() {
            let xi: Vec<f64> = x.iter().map(|&v| (v as f64).powi(i as i32 + 1)).collect();
            for (d, y) in direct.iter_mut().zip(fir_filter_crop(&xi, b)) {
                *d += y;
            }
        }
        let peak = direct.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let worst = fast
            .iter()
            .zip(&direct)
            .fold(0.0f64, |m, (&f, &d)| m.max((f as f64 - d).abs()));
        assert!(worst < 2e-6 * peak.max(1.0), "worst {worst} peak {peak}");
    }

    #[test]
    fn fft_path_handles_signals_shorter_than_the_filter() {
        let b = firwin_bandstop(151, 1000.0, 1500.0, 16_000.0).unwrap();
        for len in [1usize, 5, 40, 200] {
            let x: Vec<f32> = (0..len)
                .map(|n| ((n * 37 % 11) as f32 - 5.0) / 7.0)
                .collect();
            let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let fast = fir_sum_crop_fft(&x, std::slice::from_ref(&b));
            let direct = fir_filter_crop(&xd, &b);
            assert_eq!(fast.len(), len);
            for (f, d) in fast.iter().zip(&direct) {
                assert!((*f as f64 - d).abs() < 1e-6, "len {len}: {f} vs {d}");
            }
        }
    }
}
