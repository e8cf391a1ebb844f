//! Audio file I/O flows on the committed fixtures (made by `scripts/make_audio_fixtures.sh` with
//! sox, flac, oggenc and lame): every format decodes to the signal that was encoded, downmix,
//! loading at 16 kHz, writing, `info`, the broken-file corpus, and a seeded mutation test that
//! no malformed input makes the decoders panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::f64::consts::PI;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use dpda::audio::{
    self, decode_bytes, decode_wav, encode_wav, find_audio_files, info, load_mono, load_mono_16k,
    repeat_pad, write_wav, AudioError, WavFormat, DEFAULT_NUM_SAMPLES, TARGET_SAMPLE_RATE_HZ,
};
use dpda::rng::Rng;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// The mono test signal the fixture script encodes: 0.5 sin(2π·440 t) + 0.25 sin(2π·1234 t).
fn reference_mono(rate_hz: u32, len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(rate_hz);
            0.5 * (2.0 * PI * 440.0 * t).sin() + 0.25 * (2.0 * PI * 1234.0 * t).sin()
        })
        .collect()
}

/// Mean of the stereo fixture's channels: left 0.5 sin(2π·440 t), right 0.25 sin(2π·1234 t).
fn reference_stereo_downmix(rate_hz: u32, len: usize) -> Vec<f64> {
    reference_mono(rate_hz, len)
        .iter()
        .map(|x| x / 2.0)
        .collect()
}

fn max_abs_error(decoded: &[f32], reference: &[f64]) -> f64 {
    assert_eq!(decoded.len(), reference.len());
    decoded
        .iter()
        .zip(reference)
        .map(|(&a, &b)| (f64::from(a) - b).abs())
        .fold(0.0, f64::max)
}

fn snr_db(decoded: &[f32], reference: &[f64]) -> f64 {
    assert_eq!(decoded.len(), reference.len());
    let signal: f64 = reference.iter().map(|x| x * x).sum();
    let noise: f64 = decoded
        .iter()
        .zip(reference)
        .map(|(&a, &b)| (f64::from(a) - b).powi(2))
        .sum();
    10.0 * (signal / noise).log10()
}

#[test]
fn wav_every_depth_decodes_to_the_encoded_signal() {
    // (file, bits, tolerance): one quantisation step of the depth (sox rounds without dither).
    let cases = [
        ("mono16k_u8.wav", 8, 1.0 / 128.0),
        ("mono16k_s16.wav", 16, 1.0 / 32_768.0),
        ("mono16k_s24.wav", 24, 2.0 / 8_388_608.0),
        ("mono16k_s32.wav", 32, 1e-7),
        ("mono16k_f32.wav", 32, 1e-7),
    ];
    let reference = reference_mono(16_000, 4_000);
    for (name, bits, tolerance) in cases {
        let clip = load_mono(&fixture(name)).unwrap();
        assert_eq!(clip.sample_rate_hz, 16_000, "{name}");
        let err = max_abs_error(&clip.samples, &reference);
        assert!(
            err <= tolerance,
            "{name}: max error {err:e} > {tolerance:e}"
        );
        let i = info(&fixture(name)).unwrap();
        assert_eq!(
            (i.container.as_str(), i.channels, i.bits_per_sample),
            ("wav", 1, Some(bits)),
            "{name}"
        );
        assert_eq!(i.num_frames, 4_000);
        assert!((i.duration_s - 0.25).abs() < 1e-12);
        let ref_peak = reference.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(
            (f64::from(i.peak) - ref_peak).abs() <= tolerance,
            "{name} peak"
        );
    }
}

#[test]
fn flac_decodes_losslessly_and_downmixes() {
    let clip = load_mono(&fixture("mono16k_s16.flac")).unwrap();
    assert_eq!(clip.sample_rate_hz, 16_000);
    let wav = load_mono(&fixture("mono16k_s16.wav")).unwrap();
    assert_eq!(
        clip.samples, wav.samples,
        "FLAC must equal the WAV it was made from"
    );

    let clip = load_mono(&fixture("stereo22k05_s24.flac")).unwrap();
    assert_eq!(clip.sample_rate_hz, 22_050);
    let err = max_abs_error(&clip.samples, &reference_stereo_downmix(22_050, 4_410));
    assert!(
        err <= 2.0 / 8_388_608.0,
        "24-bit FLAC downmix error {err:e}"
    );
    let i = info(&fixture("stereo22k05_s24.flac")).unwrap();
    assert_eq!((i.container.as_str(), i.codec.as_str()), ("flac", "flac"));
    assert_eq!((i.channels, i.bits_per_sample), (2, Some(24)));
}

#[test]
fn stereo_wav_downmix_is_the_channel_mean() {
    let clip = load_mono(&fixture("stereo22k05_s16.wav")).unwrap();
    assert_eq!(clip.sample_rate_hz, 22_050);
    let err = max_abs_error(&clip.samples, &reference_stereo_downmix(22_050, 4_410));
    assert!(err <= 1.0 / 32_768.0, "downmix error {err:e}");
    // The peak is over the channels before downmix: the left channel reaches 0.5.
    let i = info(&fixture("stereo22k05_s16.wav")).unwrap();
    assert_eq!(i.channels, 2);
    assert!((i.peak - 0.5).abs() < 1e-3, "peak {}", i.peak);
}

#[test]
fn lossy_formats_decode_to_the_right_length_and_signal() {
    // (file, rate, frames, reference, minimum SNR in dB); lengths are exact thanks to gapless
    // trimming (Vorbis granule positions, the LAME header's delay/padding).
    let cases = [
        (
            "mono44k1.ogg",
            44_100,
            11_025,
            reference_mono(44_100, 11_025),
            25.0,
        ),
        (
            "mono44k1.mp3",
            44_100,
            11_025,
            reference_mono(44_100, 11_025),
            15.0,
        ),
        (
            "stereo22k05.mp3",
            22_050,
            4_410,
            reference_stereo_downmix(22_050, 4_410),
            10.0,
        ),
    ];
    for (name, rate_hz, frames, reference, min_snr_db) in cases {
        let clip = load_mono(&fixture(name)).unwrap();
        assert_eq!(clip.sample_rate_hz, rate_hz, "{name}");
        assert_eq!(clip.samples.len(), frames, "{name}");
        let snr = snr_db(&clip.samples, &reference);
        eprintln!("{name}: SNR {snr:.1} dB");
        assert!(snr > min_snr_db, "{name}: SNR {snr:.1} dB");
    }
    let i = info(&fixture("mono44k1.ogg")).unwrap();
    assert_eq!(
        (i.container.as_str(), i.codec.as_str(), i.bits_per_sample),
        ("ogg", "vorbis", None)
    );
    let i = info(&fixture("stereo22k05.mp3")).unwrap();
    assert_eq!((i.codec.as_str(), i.channels), ("mp3", 2));
}

/// The mono reference at 16 kHz, delayed by `shift` output samples.
fn reference_mono_shifted(len: usize, shift: f64) -> Vec<f64> {
    (0..len)
        .map(|n| {
            let t = (n as f64 - shift) / 16_000.0;
            0.5 * (2.0 * PI * 440.0 * t).sin() + 0.25 * (2.0 * PI * 1234.0 * t).sin()
        })
        .collect()
}

#[test]
fn load_mono_16k_resamples_to_the_same_signal() {
    for (name, from_hz) in [
        ("mono44k1_s16.wav", 44_100.0),
        ("mono16k_s16.wav", 16_000.0),
    ] {
        let clip = load_mono_16k(&fixture(name)).unwrap();
        assert_eq!(clip.sample_rate_hz, TARGET_SAMPLE_RATE_HZ);
        let len = clip.samples.len();
        assert!((len as i64 - 4_000).abs() <= 1, "{name}");
        // Both tones are far inside the pass band, so away from the edges the output is the same
        // formula sampled at 16 kHz, up to the sub-sample delay rubato leaves after trimming its
        // whole-sample delay (half an input sample at 44.1 kHz).
        let middle = 400..len - 400;
        let (best_shift, best_snr) = (-100..=100)
            .map(|k| {
                let shift = f64::from(k) / 100.0;
                let reference = reference_mono_shifted(len, shift);
                (
                    shift,
                    snr_db(&clip.samples[middle.clone()], &reference[middle.clone()]),
                )
            })
            .fold(
                (0.0, f64::MIN),
                |best, c| if c.1 > best.1 { c } else { best },
            );
        let shift_input_samples = best_shift * from_hz / 16_000.0;
        eprintln!(
            "{name} at 16 kHz: SNR {best_snr:.1} dB at a delay of {shift_input_samples:.2} input samples"
        );
        assert!(best_snr > 60.0, "{name}: SNR {best_snr:.1} dB");
        assert!(
            shift_input_samples.abs() <= 1.0,
            "{name}: delay {shift_input_samples}"
        );
    }
}

#[test]
fn wav_write_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f32> = reference_mono(16_000, 1_000)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let path = dir.path().join("f32.wav");
    write_wav(&path, &x, 16_000, WavFormat::Float32).unwrap();
    assert_eq!(load_mono(&path).unwrap().samples, x);
    let i = info(&path).unwrap();
    assert_eq!(
        (i.codec.as_str(), i.bits_per_sample),
        ("pcm_f32le", Some(32))
    );

    let path = dir.path().join("s16.wav");
    write_wav(&path, &x, 8_000, WavFormat::Int16).unwrap();
    let back = load_mono(&path).unwrap();
    assert_eq!(back.sample_rate_hz, 8_000);
    let reference: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    assert!(max_abs_error(&back.samples, &reference) <= 0.5 / 32_768.0 + 1e-9);

    // In memory, through the same encoder and the hound decoder.
    let mut buf = Cursor::new(Vec::new());
    encode_wav(&mut buf, &x, 16_000, WavFormat::Int16, Path::new("mem.wav")).unwrap();
    let bytes = buf.into_inner();
    let via_reader = decode_wav(Cursor::new(&bytes), Path::new("mem.wav")).unwrap();
    let via_bytes = decode_bytes(&bytes, Path::new("mem.wav")).unwrap();
    assert_eq!(via_reader, via_bytes);
    assert_eq!(via_reader.samples, back.samples);

    let err = write_wav(
        &dir.path().join("no/such/dir/x.wav"),
        &x,
        16_000,
        WavFormat::Int16,
    )
    .unwrap_err();
    assert!(err.to_string().contains("x.wav"), "{err}");
}

#[test]
fn model_input_is_padded_to_default_length() {
    let clip = load_mono_16k(&fixture("mono16k_s16.wav")).unwrap();
    let input = repeat_pad(&clip.samples, DEFAULT_NUM_SAMPLES);
    assert_eq!(input.len(), DEFAULT_NUM_SAMPLES);
    // 66,800 = 16 full copies of the 4,000-sample clip and 2,800 samples of a 17th.
    assert_eq!(&input[64_000..], &clip.samples[..2_800]);
    assert_eq!(&input[4_000..8_000], &clip.samples[..]);
}

#[test]
fn every_broken_file_gives_an_error_naming_it() {
    let broken = fixture("broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&broken)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the broken corpus is missing files");
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let err = load_mono(path).expect_err(&name);
        let message = err.to_string();
        assert!(message.contains(&name), "{name}: message {message:?}");
        assert!(info(path).is_err(), "{name}: info succeeded");
        assert!(
            load_mono_16k(path).is_err(),
            "{name}: load_mono_16k succeeded"
        );
        let expected_kind = match name.as_str() {
            "empty.wav" | "empty.flac" => matches!(err, AudioError::EmptyFile { .. }),
            "nan_sample.wav" => matches!(err, AudioError::NonFinite { frame: 123, .. }),
            "inf_sample.wav" => matches!(err, AudioError::NonFinite { frame: 77, .. }),
            "zero_samples.wav" => matches!(err, AudioError::NoSamples { .. }),
            "truncated.wav" => matches!(
                err,
                AudioError::Truncated {
                    expected_frames: 4_000,
                    ..
                }
            ),
            "truncated.mp3" => matches!(err, AudioError::Truncated { .. }),
            "truncated.flac" | "truncated.ogg" | "truncated_header.wav" => {
                matches!(err, AudioError::Corrupt { .. })
            }
            n if n.starts_with("unsupported")
                || n.starts_with("text")
                || n.starts_with("random") =>
            {
                matches!(err, AudioError::Unsupported { .. })
            }
            _ => true,
        };
        assert!(expected_kind, "{name}: unexpected error kind {err:?}");
    }
    let missing = fixture("broken/does_not_exist.wav");
    let err = load_mono(&missing).unwrap_err();
    assert!(matches!(err, AudioError::Open { .. }));
    assert!(err.to_string().contains("does_not_exist.wav"));
}

/// One seeded mutation: a truncation, bit flips, a scrambled header, or a cut/duplicated range.
fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let len = out.len() as u64;
    match rng.below(4) {
        0 => out.truncate(rng.below(len) as usize),
        1 => {
            for _ in 0..=rng.below(8) {
                let i = rng.below(len) as usize;
                out[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(len.min(128)) as usize;
                out[i] = rng.below(256) as u8;
            }
        }
        _ => {
            let start = rng.below(len) as usize;
            let end = (start + 1 + rng.below(512) as usize).min(out.len());
            if rng.below(2) == 0 {
                out.drain(start..end);
            } else {
                let copy = out[start..end].to_vec();
                out.splice(start..start, copy);
            }
        }
    }
    out
}

#[test]
fn mutated_files_never_panic() {
    let sources = [
        "mono16k_s16.wav",
        "mono16k_f32.wav",
        "stereo22k05_s24.flac",
        "mono44k1.ogg",
        "mono44k1.mp3",
        "stereo22k05.mp3",
    ];
    let mut rng = Rng::new(20_240_611);
    let (mut num_ok, mut num_err) = (0usize, 0usize);
    for name in sources {
        let original = std::fs::read(fixture(name)).unwrap();
        for _ in 0..500 {
            let bytes = mutate(&mut rng, &original);
            let label = Path::new(name);
            let outcome = catch_unwind(AssertUnwindSafe(|| decode_bytes(&bytes, label)));
            match outcome {
                Ok(Ok(clip)) => {
                    num_ok += 1;
                    assert!(clip.sample_rate_hz > 0 && !clip.samples.is_empty());
                    assert!(clip.samples.iter().all(|x| x.is_finite()));
                }
                Ok(Err(err)) => {
                    num_err += 1;
                    assert!(err.to_string().contains(name), "{err}");
                    // The decoder's internal panic guard must never have been needed.
                    assert!(
                        !err.to_string()
                            .contains("the decoder failed on malformed data"),
                        "{name}: a decoder panicked"
                    );
                }
                Err(_) => panic!("{name}: decoding a mutated file panicked"),
            }
        }
    }
    eprintln!("mutations: {num_ok} decoded, {num_err} rejected");
    assert_eq!(num_ok + num_err, 3_000);
    assert!(num_err > 300, "mutations were too gentle: {num_err} errors");
}

#[test]
fn finds_the_fixture_files_sorted() {
    let found = find_audio_files(&fixture("")).unwrap();
    let names: Vec<String> = found
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert!(names.contains(&"mono44k1.mp3".to_string()));
    assert!(names.contains(&"truncated.flac".to_string()));
    assert!(!names.iter().any(|n| n.ends_with(".aiff")));
    let mut sorted = found.clone();
    sorted.sort();
    assert_eq!(found, sorted);
    assert!(audio::is_audio_path(&found[0]));
}

#[test]
fn cli_info_prints_text_and_json() {
    let bin = env!("CARGO_BIN_EXE_dpda");
    let out = std::process::Command::new(bin)
        .args(["info", "--json"])
        .arg(fixture("stereo22k05_s24.flac"))
        .arg(fixture("mono44k1.ogg"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["sample_rate_hz"], 22_050);
    assert_eq!(lines[0]["channels"], 2);
    assert_eq!(lines[0]["num_frames"], 4_410);
    assert_eq!(lines[1]["codec"], "vorbis");

    let out = std::process::Command::new(bin)
        .arg("info")
        .arg(fixture("mono16k_s16.wav"))
        .arg(fixture("broken/truncated.wav"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("16000 Hz") && stdout.contains("0.250 s"),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("truncated.wav"), "{stderr}");
}

/// `dpda info FILE… | head -1`: the reader goes away after one line; `info` panicked in
/// `println!` and now ends quietly with success.
#[test]
fn cli_info_into_a_closed_pipe_ends_quietly() {
    use std::io::BufRead;
    let file = fixture("mono16k_s16.wav");
    // Far more lines than a pipe holds, so the writer meets the closed pipe.
    let files = vec![file; 3_000];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dpda"))
        .arg("info")
        .args(&files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("16000 Hz"), "{first}");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `dpda info` on a FIFO named like audio waited forever for a writer; a folder gave the OS's
/// "Is a directory". Both are named for what they are, without opening them.
#[cfg(unix)]
#[test]
fn info_on_a_fifo_or_a_folder_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.wav");
    let folder = dir.path().join("folder.wav");
    std::fs::create_dir(&folder).unwrap();
    let err = info(&folder).unwrap_err();
    assert!(matches!(err, AudioError::NotAFile { .. }), "{err:?}");
    assert!(err.to_string().contains("folder.wav is a folder"), "{err}");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("mkfifo is not available: the FIFO part of this test is skipped");
        return;
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dpda"))
        .arg("info")
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dpda info hung on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pipe.wav is a FIFO (named pipe)"),
        "{stderr}"
    );
}
