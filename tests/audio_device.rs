//! Loop-back through a real audio server: play a chirp on the default output and record it back
//! from the default input, against a PulseAudio null sink (`eval "$(scripts/null_sink.sh)"`
//! starts one, sets its monitor as the default source and sets `DPDA_AUDIO_LOOPBACK`). Skipped,
//! with a message, without that setup.
#![cfg(feature = "audio")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dpda::audio::device::{AudioBackend, Player, Recorder};
use realfft::RealFftPlanner;

/// The PulseAudio socket the environment points at, as cpal's PulseAudio host looks for it.
fn pulse_socket() -> Option<PathBuf> {
    let from_server = std::env::var("PULSE_SERVER")
        .ok()
        .and_then(|s| s.strip_prefix("unix:").map(PathBuf::from));
    let from_runtime = std::env::var("PULSE_RUNTIME_PATH")
        .ok()
        .map(|s| PathBuf::from(s).join("native"));
    let from_xdg = std::env::var("XDG_RUNTIME_DIR")
        .ok()
        .map(|s| PathBuf::from(s).join("pulse/native"));
    [from_server, from_runtime, from_xdg]
        .into_iter()
        .flatten()
        .find(|p| p.exists())
}

/// A linear chirp 200 Hz → 3 kHz at 16 kHz: its autocorrelation has one sharp peak.
fn chirp(duration_s: f64, amplitude: f32) -> Vec<f32> {
    let rate = 16_000.0;
    let n = (duration_s * rate) as usize;
    let (f0, f1) = (200.0, 3000.0);
    let k = (f1 - f0) / duration_s;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let phase = 2.0 * std::f64::consts::PI * (f0 * t + 0.5 * k * t * t);
            amplitude * phase.sin() as f32
        })
        .collect()
}

/// Largest normalised cross-correlation of `template` against every full overlap in `signal`
/// (computed with FFTs), and its lag.
fn best_correlation(signal: &[f32], template: &[f32]) -> (f64, usize) {
    let n = (signal.len() + template.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut a: Vec<f64> = signal.iter().map(|&x| f64::from(x)).collect();
    a.resize(n, 0.0);
    // Reversed template: convolution with it is correlation.
    let mut b: Vec<f64> = template.iter().rev().map(|&x| f64::from(x)).collect();
    b.resize(n, 0.0);
    let mut fa = fwd.make_output_vec();
    let mut fb = fwd.make_output_vec();
    fwd.process(&mut a, &mut fa).unwrap();
    fwd.process(&mut b, &mut fb).unwrap();
    let mut prod: Vec<_> = fa.iter().zip(&fb).map(|(x, y)| x * y).collect();
    let mut corr = inv.make_output_vec();
    inv.process(&mut prod, &mut corr).unwrap();
    let template_norm = template
        .iter()
        .map(|&x| f64::from(x).powi(2))
        .sum::<f64>()
        .sqrt();
    // Running energy of each window of `signal`.
    let mut prefix = vec![0.0f64; signal.len() + 1];
    for (i, &x) in signal.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(x).powi(2);
    }
    let m = template.len();
    let mut best = (0.0, 0);
    for lag in 0..=signal.len().saturating_sub(m) {
        let energy = prefix[lag + m] - prefix[lag];
        if energy <= 1e-12 {
            continue;
        }
        let c = corr[lag + m - 1] / n as f64 / (energy.sqrt() * template_norm);
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

#[test]
fn correlation_helper_finds_a_known_delay() {
    let template = chirp(0.2, 0.5);
    let mut signal = vec![0.0f32; 1000];
    signal.extend(template.iter().map(|x| 0.3 * x));
    signal.extend(vec![0.0f32; 500]);
    let (c, lag) = best_correlation(&signal, &template);
    assert_eq!(lag, 1000);
    assert!((c - 1.0).abs() < 1e-6, "{c}");
}

#[test]
fn a_played_clip_is_recorded_back_through_a_null_sink() {
    // Opt-in: on a desktop the default devices are real speakers and a microphone.
    let (Some(socket), Ok(_)) = (pulse_socket(), std::env::var("DPDA_AUDIO_LOOPBACK")) else {
        eprintln!(
            "skipped: no PulseAudio null sink set up for loop-back (run \
             `eval \"$(scripts/null_sink.sh)\"`, which sets DPDA_AUDIO_LOOPBACK)"
        );
        return;
    };
    let clip = chirp(1.5, 0.5);
    let mut recorder = match Recorder::start(&AudioBackend::PulseAudio, 2.5) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "skipped: PulseAudio at {} cannot record: {e}",
                socket.display()
            );
            return;
        }
    };
    let mut player = Player::new(AudioBackend::PulseAudio);
    player.play(&clip, 16_000, 0.0, false).unwrap();
    let start = Instant::now();
    let mut max_peak = 0.0f32;
    let mut max_position_s = 0.0f64;
    // The monitor only yields data while something plays: keep the player open throughout.
    while !recorder.is_done() && start.elapsed() < Duration::from_secs(6) {
        recorder.poll();
        max_peak = max_peak.max(recorder.level().peak);
        if let Some(p) = player.position_s() {
            max_position_s = max_position_s.max(p);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        recorder.is_done(),
        "recorded only {:.2} s",
        recorder.elapsed_s()
    );
    assert!(!recorder.has_failed());
    player.poll();
    assert!(!player.is_playing(), "a 1.5 s clip still plays after 2.5 s");
    assert!(max_position_s > 1.4, "playhead reached {max_position_s} s");
    assert!(max_peak > 0.2, "level meter peak {max_peak}");
    assert_eq!(recorder.frames_dropped(), 0);
    let recorded = recorder.finish().unwrap();
    assert_eq!(recorded.sample_rate_hz, 16_000);
    assert!(
        (recorded.duration_s() - 2.5).abs() < 0.05,
        "{} s",
        recorded.duration_s()
    );
    // The server starts the monitor a few hundred milliseconds into playback (measured here: the
    // first ~0.35 s of the clip never reach it), so look for the clip's later part.
    let template = &clip[8_000..20_800];
    let (c, lag) = best_correlation(&recorded.samples, template);
    eprintln!("loop-back: normalised correlation {c:.3} at a lag of {lag} samples");
    assert!(c > 0.9, "best normalised correlation {c} at lag {lag}");
}

#[test]
fn the_system_backend_plays_or_says_why() {
    // With the loop-back set up, that test owns the server: a second clip would leak into its
    // recording.
    if std::env::var("DPDA_AUDIO_LOOPBACK").is_ok() {
        eprintln!("skipped: a PulseAudio server is in use by the loop-back test");
        return;
    }
    let mut player = Player::new(AudioBackend::System);
    // Silence: on a desktop this really goes to the speakers.
    match player.play(&[0.0; 1600], 16_000, 0.0, false) {
        Ok(()) => {
            assert!(player.device_rate_hz().is_some_and(|r| r > 0));
            player.stop();
            assert!(!player.is_playing());
        }
        Err(e) => {
            let reason = e.to_string();
            eprintln!("audio unavailable: {reason}");
            assert!(!reason.is_empty());
            assert!(!player.is_playing());
        }
    }
    match Recorder::start(&AudioBackend::System, 0.2) {
        Ok(r) => assert!(r.device_rate_hz() > 0),
        Err(e) => eprintln!("audio unavailable: {e}"),
    }
}
