//! `dpda augment` end to end: file pair, folder pair, determinism under --seed, and errors.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

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

/// Runs `dpda` and fails the test (instead of hanging it) if it has not ended within 60 s.
fn dpda_within_a_minute(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dpda"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the dpda binary runs");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait for dpda").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dpda {args:?} hung for a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect dpda's output")
}

/// Every file under `dir` (relative, sorted) with its bytes: what a refused run must not touch.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

fn refused(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "accepted: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `dpda augment --algo 4 D D` overwrote every input with its augmented copy, `f.wav f.wav`
/// the one file; an output folder inside the input folder fed the next run its own outputs.
#[test]
fn outputs_that_are_inputs_or_inside_the_input_folder_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    write_tone(&input.join("one.wav"), 16_000, 1, 2_000);
    write_tone(&input.join("sub").join("two.wav"), 16_000, 1, 2_000);
    let before = snapshot(dir.path());
    let one = input.join("one.wav");

    let o = dpda(&["augment", "--algo", "4", path_str(&input), path_str(&input)]);
    let err = refused(&o);
    assert!(err.contains("is the input folder"), "{err}");
    assert!(err.contains(path_str(&input)), "{err}");

    // The same folder spelled differently.
    let spelled = input.join("sub").join("..");
    let o = dpda(&[
        "augment",
        "--algo",
        "4",
        path_str(&input),
        path_str(&spelled),
    ]);
    assert!(refused(&o).contains("is the input folder"));

    let inside = input.join("augmented");
    let o = dpda(&[
        "augment",
        "--algo",
        "4",
        path_str(&input),
        path_str(&inside),
    ]);
    let err = refused(&o);
    assert!(err.contains("inside the input folder"), "{err}");
    assert!(err.contains(path_str(&inside)), "{err}");
    assert!(!inside.exists());

    let o = dpda(&["augment", "--algo", "4", path_str(&one), path_str(&one)]);
    let err = refused(&o);
    assert!(err.contains("never overwrites its input"), "{err}");
    assert!(err.contains(path_str(&one)), "{err}");

    // One file into its own folder: the output would be the file itself.
    let o = dpda(&["augment", "--algo", "4", path_str(&one), path_str(&input)]);
    assert!(refused(&o).contains("never overwrites its input"));

    // An output that is a link to the input.
    #[cfg(unix)]
    {
        let link = dir.path().join("link.wav");
        std::os::unix::fs::symlink(&one, &link).unwrap();
        let o = dpda(&["augment", "--algo", "4", path_str(&one), path_str(&link)]);
        assert!(refused(&o).contains("never overwrites its input"));
        std::fs::remove_file(&link).unwrap();
    }
    assert_eq!(snapshot(dir.path()), before);
}

/// An input folder inside the output folder: outputs can land on inputs without the folders
/// being equal (`out/in/x.wav` is the output of `in/in/x.wav`).
#[test]
fn an_output_landing_on_an_input_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let input = output.join("in");
    std::fs::create_dir_all(input.join("in")).unwrap();
    write_tone(&input.join("x.wav"), 16_000, 1, 1_000);
    write_tone(&input.join("in").join("x.wav"), 16_000, 1, 1_000);
    let before = snapshot(dir.path());
    let o = dpda(&[
        "augment",
        "--algo",
        "2",
        path_str(&input),
        path_str(&output),
    ]);
    let err = refused(&o);
    assert!(err.contains("is an input file"), "{err}");
    assert!(err.contains(path_str(&input.join("x.wav"))), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

/// `x.wav`, `x.flac` and `x.WAV` all map to `out/x.wav`: the run reported "3 of 3" while the
/// three overwrote each other concurrently. Every collision is named before any work.
#[test]
fn colliding_output_names_are_all_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    for name in [
        "x.wav",
        "x.flac",
        "x.WAV",
        "sub/y.mp3",
        "sub/y.wav",
        "z.wav",
    ] {
        write_tone(&input.join(name), 16_000, 1, 1_000);
    }
    let output = dir.path().join("out");
    let o = dpda(&[
        "augment",
        "--algo",
        "2",
        path_str(&input),
        path_str(&output),
    ]);
    let err = refused(&o);
    assert!(err.contains("2 outputs"), "{err}");
    for name in ["x.wav", "x.flac", "x.WAV", "sub/y.mp3", "sub/y.wav"] {
        assert!(err.contains(path_str(&input.join(name))), "{name}: {err}");
    }
    assert!(err.contains(path_str(&output.join("x.wav"))), "{err}");
    assert!(!err.contains("z.wav"), "{err}");
    assert!(!output.exists(), "work started before the refusal");
}

/// Outputs are renamed into place from a temporary file; one that cannot be (a folder holds
/// its name) fails alone and leaves no temporary file behind.
#[test]
fn a_failed_write_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    write_tone(&input.join("a.wav"), 16_000, 1, 1_000);
    write_tone(&input.join("b.wav"), 16_000, 1, 1_000);
    let output = dir.path().join("out");
    std::fs::create_dir_all(output.join("b.wav").join("keep")).unwrap();
    let o = dpda(&[
        "augment",
        "--algo",
        "2",
        path_str(&input),
        path_str(&output),
    ]);
    let err = refused(&o);
    assert!(err.contains("b.wav"), "{err}");
    assert!(err.contains("1 of 2 files failed"), "{err}");
    assert_eq!(read_float_wav(&output.join("a.wav")).1.len(), 1_000);
    assert!(output.join("b.wav").join("keep").is_dir());
    let names: Vec<String> = std::fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    assert_eq!(names.len(), 2, "{names:?}");
}

/// A FIFO named `.wav` was opened and read, which waits for a writer forever; a link loop was
/// followed ~40 levels deep, augmenting the same file once per level.
#[cfg(unix)]
#[test]
fn fifos_and_link_loops_are_skipped_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    write_tone(&input.join("sub").join("a.wav"), 16_000, 1, 1_000);
    std::os::unix::fs::symlink(&input, input.join("sub").join("up")).unwrap();
    let fifo = input.join("pipe.wav");
    let made_fifo = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let output = dir.path().join("out");
    let o = dpda_within_a_minute(&[
        "augment",
        "--algo",
        "2",
        path_str(&input),
        path_str(&output),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("augmented 1 of 1 files"), "{stdout}");
    assert!(stderr.contains("symbolic link loop"), "{stderr}");
    assert!(
        stderr.contains(path_str(&input.join("sub").join("up"))),
        "{stderr}"
    );
    assert!(output.join("sub").join("a.wav").is_file());
    assert!(!output.join("sub").join("up").exists());
    if !made_fifo {
        eprintln!("mkfifo is not available: the FIFO part of this test is skipped");
        return;
    }
    assert!(stderr.contains("FIFO"), "{stderr}");
    assert!(stderr.contains(path_str(&fifo)), "{stderr}");
    // The FIFO given as the input file: refused without opening it.
    let out = dir.path().join("x.wav");
    let o = dpda_within_a_minute(&["augment", "--algo", "2", path_str(&fifo), path_str(&out)]);
    let err = refused(&o);
    assert!(
        err.contains("FIFO") && err.contains(path_str(&fifo)),
        "{err}"
    );
}

/// Numbers checked up front, each message naming its flag; nothing is written.
#[test]
fn absurd_numbers_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    write_tone(&input.join("a.wav"), 16_000, 1, 1_000);
    let output = dir.path().join("out");
    let cases: &[(&[&str], &str)] = &[
        (&["--threads", "100000"], "--threads must be 1 to 256"),
        (&["--threads", "0"], "--threads must be 1 to 256"),
        (
            &["--snr-min", "100", "--snr-max", "10"],
            "--snr-min 100 is above --snr-max 10",
        ),
        (
            &["--min-f", "5000", "--max-f", "100"],
            "--min-f 5000 is above --max-f 100",
        ),
        (&["--min-bw", "900", "--max-bw", "200"], "--min-bw"),
        (&["--min-coeff", "90", "--max-coeff", "20"], "--min-coeff"),
        (
            &["--min-g", "3", "--max-g", "-3"],
            "--min-g 3 is above --max-g -3",
        ),
        (&["--n-f", "0"], "--n-f"),
        (&["--n-bands", "100000"], "--n-bands"),
        (&["--max-coeff", "1e9"], "--max-coeff"),
        (&["--max-coeff", "1000000000"], "--max-coeff"),
        (&["--max-g", "1e9"], "--max-g"),
        (&["--snr-min", "-1e300"], "--snr-min"),
        (&["--g-sd", "1e30"], "--g-sd"),
        (&["--p", "-5"], "--p"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["augment", "--algo", "4"];
        args.extend_from_slice(flags);
        args.extend([path_str(&input), path_str(&output)]);
        let o = dpda(&args);
        let err = refused(&o);
        assert!(err.contains(expected), "{flags:?}: {err}");
        assert!(!output.exists(), "{flags:?} wrote outputs");
    }
    // The LnL biases stay free: their defaults make the non-linear gain range high-to-low.
    let o = dpda(&[
        "augment",
        "--algo",
        "1",
        "--min-bias-lin-non-lin",
        "20",
        "--max-bias-lin-non-lin",
        "5",
        path_str(&input),
        path_str(&output),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `dpda augment … | head -1`: a closed stdout ends the command quietly once the outputs are
/// written (it panicked in `println!`).
#[test]
fn augment_into_a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.wav");
    write_tone(&input, 16_000, 1, 4_000);
    let folder = dir.path().join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    write_tone(&folder.join("a.wav"), 16_000, 1, 4_000);
    let file_out = dir.path().join("out.wav");
    let folder_out = dir.path().join("out");
    for (from, to) in [(&input, &file_out), (&folder, &folder_out)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dpda"))
            .args(["augment", "--algo", "4", path_str(from), path_str(to)])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command prints anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(read_float_wav(&file_out).1.len(), 4_000);
    assert_eq!(read_float_wav(&folder_out.join("a.wav")).1.len(), 4_000);
}
