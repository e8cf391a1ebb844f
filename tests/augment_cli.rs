//! `dpda augment` end to end: file pair, folder pair, determinism under --seed, and errors.

use std::path::Path;
use std::process::{Command, Output};

fn dpda(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpda"))
        .args(args)
        .output()
        .expect("the dpda binary runs")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// A 16-bit WAV of two seconds of a chirp-like tone (stereo when `channels` is 2).
fn write_tone(path: &Path, sample_rate_hz: u32, channels: u16, num_frames: usize) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create test WAV");
    for n in 0..num_frames {
        let t = n as f64 / sample_rate_hz as f64;
        let v = 0.3 * (std::f64::consts::TAU * (200.0 + 300.0 * t) * t).sin();
        for _ in 0..channels {
            writer
                .write_sample((v * 32767.0) as i16)
                .expect("write sample");
        }
    }
    writer.finalize().expect("finalize test WAV");
}

fn read_float_wav(path: &Path) -> (hound::WavSpec, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).expect("output WAV opens");
    let spec = reader.spec();
    let samples = reader
        .samples::<f32>()
        .collect::<Result<Vec<_>, _>>()
        .expect("float samples");
    (spec, samples)
}

#[test]
fn file_pair_keeps_length_and_rate_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write_tone(&input, 16_000, 2, 12_000);
    let out_a = dir.path().join("a.wav");
    let out_b = dir.path().join("b.wav");
    let out_c = dir.path().join("c.wav");

    let run = |out: &Path, seed: &str| {
        let o = dpda(&[
            "augment",
            "--algo",
            "4",
            "--seed",
            seed,
            path_str(&input),
            path_str(out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let report = run(&out_a, "3");
    run(&out_b, "3");
    run(&out_c, "4");
    assert!(report.contains("drawn SNR"), "{report}");
    assert!(report.contains("ISD"), "{report}");

    let (spec, a) = read_float_wav(&out_a);
    assert_eq!(spec.sample_rate, 16_000);
    assert_eq!(spec.channels, 1);
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    assert_eq!(spec.bits_per_sample, 32);
    assert_eq!(a.len(), 12_000);
    assert_eq!(read_float_wav(&out_b).1, a);
    assert_ne!(read_float_wav(&out_c).1, a);
}

#[test]
fn folder_pair_mirrors_the_tree_at_each_files_rate() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    write_tone(&input.join("one.wav"), 16_000, 1, 4_000);
    write_tone(&input.join("sub").join("two.wav"), 22_050, 1, 5_000);
    std::fs::write(input.join("notes.txt"), "not audio").unwrap();
    let output = dir.path().join("out");

    let run = |out: &Path, threads: &str| {
        let o = dpda(&[
            "augment",
            "--algo",
            "5",
            "--seed",
            "9",
            "--threads",
            threads,
            path_str(&input),
            path_str(out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&output, "2");
    let (spec_one, one) = read_float_wav(&output.join("one.wav"));
    let (spec_two, two) = read_float_wav(&output.join("sub").join("two.wav"));
    assert_eq!((spec_one.sample_rate, one.len()), (16_000, 4_000));
    assert_eq!((spec_two.sample_rate, two.len()), (22_050, 5_000));
    assert!(!output.join("notes.wav").exists());

    // Same seed with another thread count: identical files.
    let output2 = dir.path().join("out2");
    run(&output2, "1");
    assert_eq!(read_float_wav(&output2.join("one.wav")).1, one);
    assert_eq!(read_float_wav(&output2.join("sub").join("two.wav")).1, two);
}

#[test]
fn bad_algo_bad_flag_and_missing_input_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write_tone(&input, 16_000, 1, 2_000);
    let out = dir.path().join("out.wav");

    let o = dpda(&["augment", "--algo", "9", path_str(&input), path_str(&out)]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown RawBoost algorithm 9"), "{err}");

    let o = dpda(&[
        "augment",
        "--algo",
        "2",
        "--p",
        "150",
        path_str(&input),
        path_str(&out),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("p_percent"), "{err}");

    let o = dpda(&[
        "augment",
        "--algo",
        "2",
        "--n-bands",
        "many",
        path_str(&input),
        path_str(&out),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--n-bands"));

    let missing = dir.path().join("missing.wav");
    let o = dpda(&["augment", "--algo", "1", path_str(&missing), path_str(&out)]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing.wav"), "{err}");
    assert!(!out.exists());
}
