//! Display spectrograms: tone localisation, energy (Parseval), silence and short-clip behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::f64::consts::PI;

use dpda::features::spectrogram::SpectrogramScale;
use dpda::features::{
    log_mel_spectrogram, log_power_spectrogram, power_spectrogram, MelConfig, SpectrogramConfig,
};

const SR_HZ: u32 = 16_000;

fn tone(freq_hz: f64, amplitude: f64, num_samples: usize) -> Vec<f32> {
    (0..num_samples)
        .map(|n| (amplitude * (2.0 * PI * freq_hz * n as f64 / SR_HZ as f64).sin()) as f32)
        .collect()
}

#[test]
fn bin_centred_tone_peaks_at_its_bin_with_amplitude_squared() {
    let cfg = SpectrogramConfig::default(); // n_fft 512 → 31.25 Hz bins
    let k_tone = 64; // 2000 Hz
    let amplitude = 0.5;
    let x = tone(k_tone as f64 * 31.25, amplitude, 8000);
    let spec = log_power_spectrogram(&x, SR_HZ, &cfg).unwrap();
    assert_eq!(spec.scale, SpectrogramScale::Db);
    assert_eq!(spec.num_bins, 257);
    assert_eq!(spec.freqs_hz[k_tone], 2000.0);
    let expected_db = 20.0 * (amplitude as f32).log10(); // −6.02 dB
                                                         // Frames well inside the clip (away from the zero padding).
    for t in 5..spec.num_frames - 5 {
        let row = spec.row(t);
        let peak = (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        assert_eq!(peak, k_tone, "frame {t}");
        assert!(
            (row[k_tone] - expected_db).abs() < 0.01,
            "frame {t}: {}",
            row[k_tone]
        );
        // Hann leaks into the two neighbours only (−6 dB each); three bins away is far down.
        assert!(
            row[k_tone + 3] < expected_db - 60.0,
            "frame {t}: {}",
            row[k_tone + 3]
        );
    }
}

#[test]
fn one_sided_power_satisfies_parseval_per_frame() {
    let cfg = SpectrogramConfig {
        n_fft: 256,
        hop_samples: 100,
        floor_db: -120.0,
    };
    let x: Vec<f32> = (0..3000)
        .map(|n| {
            let n = n as f64;
            (0.3 * (0.05 * n).sin()
                + 0.2 * (1.3 * n + 0.4).cos()
                + 0.05 * ((n * 7.7).sin() * 91.0).sin()) as f32
        })
        .collect();
    let spec = power_spectrogram(&x, SR_HZ, &cfg).unwrap();
    let n_fft = cfg.n_fft;
    let window: Vec<f64> = (0..n_fft)
        .map(|n| 0.5 - 0.5 * (2.0 * PI * n as f64 / n_fft as f64).cos())
        .collect();
    let window_sum: f64 = window.iter().sum();
    for t in 2..spec.num_frames - 2 {
        // Frame t covers samples t·hop − n_fft/2 .. + n_fft (torch center=True).
        let start = t * cfg.hop_samples - n_fft / 2;
        let time_energy: f64 = (0..n_fft)
            .map(|i| (x[start + i] as f64 * window[i]).powi(2))
            .sum();
        // P_k = 4|X_k|²/(Σw)², and Σ_k c_k |X_k|² = n_fft · Σ (w x)² with c = 1 at DC and Nyquist.
        let freq_energy: f64 = spec
            .row(t)
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                let c = if k == 0 || k == n_fft / 2 { 1.0 } else { 2.0 };
                c * p as f64 * window_sum * window_sum / 4.0
            })
            .sum::<f64>()
            / n_fft as f64;
        let rel = (freq_energy - time_energy).abs() / time_energy;
        assert!(rel < 1e-4, "frame {t}: {freq_energy} vs {time_energy}");
    }
}

#[test]
fn tone_peaks_in_the_mel_band_around_it() {
    let cfg = MelConfig::default(); // 64 HTK mels over 0..8000 Hz
    for freq_hz in [300.0, 1000.0, 2500.0, 6000.0] {
        let x = tone(freq_hz, 0.3, 6400);
        let spec = log_mel_spectrogram(&x, SR_HZ, &cfg).unwrap();
        assert_eq!(spec.num_bins, 64);
        let row = spec.row(spec.num_frames / 2);
        let peak = (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        // The winning band's neighbours are its triangle's edges: the tone lies between them.
        let lo = if peak == 0 {
            0.0
        } else {
            spec.freqs_hz[peak - 1]
        };
        let hi = spec.freqs_hz.get(peak + 1).copied().unwrap_or(8000.0);
        assert!(
            lo < freq_hz as f32 && (freq_hz as f32) < hi,
            "{freq_hz} Hz peaked in band {peak} centred at {} Hz",
            spec.freqs_hz[peak]
        );
    }
}

#[test]
fn silence_gives_exactly_the_floor() {
    let silent = vec![0.0f32; 2000];
    let cfg = SpectrogramConfig::default();
    let spec = log_power_spectrogram(&silent, SR_HZ, &cfg).unwrap();
    assert!(spec.values.iter().all(|&v| v == cfg.floor_db));
    let mel = log_mel_spectrogram(&silent, SR_HZ, &MelConfig::default()).unwrap();
    assert!(mel.values.iter().all(|&v| v == cfg.floor_db));
}

#[test]
fn short_and_empty_clips_have_defined_shapes() {
    let cfg = SpectrogramConfig::default(); // n_fft 512, hop 160
    let empty = log_power_spectrogram(&[], SR_HZ, &cfg).unwrap();
    assert_eq!(
        (empty.num_frames, empty.num_bins, empty.values.len()),
        (0, 257, 0)
    );
    // Shorter than one window: zero-padded, 1 + n / hop frames.
    for (n, frames) in [(1, 1), (100, 1), (159, 1), (160, 2), (511, 4)] {
        let spec = log_power_spectrogram(&tone(1000.0, 0.5, n), SR_HZ, &cfg).unwrap();
        assert_eq!(
            (spec.num_frames, spec.values.len()),
            (frames, frames * 257),
            "{n} samples"
        );
        assert!(spec
            .values
            .iter()
            .all(|v| v.is_finite() && *v >= cfg.floor_db));
        let mel = log_mel_spectrogram(&tone(1000.0, 0.5, n), SR_HZ, &MelConfig::default()).unwrap();
        assert_eq!((mel.num_frames, mel.num_bins), (frames, 64));
    }
}

#[test]
fn time_axis_is_hop_over_sample_rate() {
    let spec = log_power_spectrogram(
        &tone(440.0, 0.1, 1600),
        SR_HZ,
        &SpectrogramConfig::default(),
    )
    .unwrap();
    assert_eq!(spec.num_frames, 11);
    assert!((spec.hop_s - 0.01).abs() < 1e-9);
    assert!((spec.frame_time_s(10) - 0.1).abs() < 1e-6);
}
