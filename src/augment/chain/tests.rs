//! Stage math and chain behaviour: exact RawBoost equivalence, realised SNR, exact gain, speed
//! lengths, band-limit attenuation, probabilities, seeds and error messages.

use serde_json::json;

use super::*;
use crate::augment::{codecs, rawboost, RawBoostAlgo, RawBoostParams};

fn speechlike(len: usize, sample_rate_hz: u32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let fs = sample_rate_hz as f64;
    (0..len)
        .map(|i| {
            let t = i as f64 / fs;
            ((std::f64::consts::TAU * 180.0 * t).sin() * (3.0 * t).sin().abs()
                + 0.3 * (std::f64::consts::TAU * 1100.0 * t).sin()
                + 0.05 * rng.normal()) as f32
                * 0.2
        })
        .collect()
}

fn tone(freq_hz: f64, len: usize, sample_rate_hz: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            (0.5 * (std::f64::consts::TAU * freq_hz * i as f64 / sample_rate_hz as f64).sin())
                as f32
        })
        .collect()
}

fn chain(text: &str) -> Chain {
    ChainSpec::from_toml_str(text)
        .unwrap()
        .prepare(Path::new("."))
        .unwrap()
}

fn power(x: &[f32]) -> f64 {
    crate::augment::conditions::mean_power(x)
}

fn realised_snr(clean: &[f32], noisy: &[f32]) -> f64 {
    let noise: Vec<f32> = noisy.iter().zip(clean).map(|(n, c)| n - c).collect();
    10.0 * (power(clean) / power(&noise)).log10()
}

#[test]
fn one_sure_rawboost_stage_is_rawboost_bit_for_bit() {
    let x = speechlike(16_000, 16_000, 1);
    for algo in [3, 4, 8] {
        let c = chain(&format!("[[stages]]\nkind = \"rawboost\"\nalgo = {algo}\n"));
        let (y, report) = c.apply(&x, 16_000, &mut Rng::new(42)).unwrap();
        let want = rawboost(
            &x,
            16_000,
            RawBoostAlgo::from_number(algo).unwrap(),
            &RawBoostParams::default(),
            &mut Rng::new(42),
        )
        .unwrap()
        .samples;
        assert_eq!(
            y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert!(report.stages[0].applied);
        assert_eq!(report.stages[0].params["algo"], json!(algo));
    }
    // Overrides reach RawBoost, under both the field and the flag name.
    let c = chain("[[stages]]\nkind = \"rawboost\"\nalgo = 3\nsnr_min = 30\nsnr_max_db = 30\n");
    let (_, report) = c.apply(&x, 16_000, &mut Rng::new(1)).unwrap();
    assert_eq!(report.stages[0].params["ssi_snr_db"], json!(30.0));
}

#[test]
fn noise_stages_reach_the_drawn_snr() {
    let x = speechlike(20_000, 16_000, 2);
    for source in ["white", "pink", "brown", "babble"] {
        let c = chain(&format!(
            "[[stages]]\nkind = \"noise\"\nsource = \"{source}\"\nsnr_db = [3, 17]\n"
        ));
        for seed in 0..3 {
            let (y, report) = c.apply(&x, 16_000, &mut Rng::new(seed)).unwrap();
            let drawn = report.stages[0].params["snr_db"].as_f64().unwrap();
            assert!((3.0..=17.0).contains(&drawn));
            let got = realised_snr(&x, &y);
            assert!((got - drawn).abs() < 0.01, "{source}: {got} vs {drawn}");
            let reported = report.stages[0].params["realised_snr_db"].as_f64().unwrap();
            assert!((reported - got).abs() < 1e-9);
        }
    }
    // At 44.1 kHz too.
    let x = speechlike(30_000, 44_100, 3);
    let c = chain("[[stages]]\nkind = \"noise\"\nsource = \"babble\"\nsnr_db = [10, 10]\n");
    let (y, _) = c.apply(&x, 44_100, &mut Rng::new(0)).unwrap();
    assert!((realised_snr(&x, &y) - 10.0).abs() < 0.01);
}

#[test]
fn gain_is_exact() {
    let x = speechlike(1000, 16_000, 4);
    let c = chain("[[stages]]\nkind = \"gain\"\ngain_db = [-7.5, -7.5]\n");
    let (y, report) = c.apply(&x, 16_000, &mut Rng::new(0)).unwrap();
    let g = 10f64.powf(-7.5 / 20.0);
    for (a, b) in x.iter().zip(&y) {
        assert_eq!(*b, (*a as f64 * g) as f32);
    }
    assert_eq!(report.stages[0].params["gain_db"], json!(-7.5));
}

#[test]
fn speed_changes_the_length_by_one_over_the_factor() {
    for (rate, len) in [(16_000u32, 16_000usize), (44_100, 44_100), (16_000, 12_345)] {
        let x = speechlike(len, rate, 5);
        for factor in [0.8, 0.93, 1.0, 1.25, 1.5] {
            let c = chain(&format!(
                "[[stages]]\nkind = \"speed\"\nfactor = [{factor}, {factor}]\n"
            ));
            let (y, report) = c.apply(&x, rate, &mut Rng::new(0)).unwrap();
            let realised = report.stages[0].params["factor"].as_f64().unwrap();
            assert!((realised - factor).abs() < 1.0 / rate as f64);
            let want = len as f64 / factor;
            assert!(
                (y.len() as f64 - want).abs() <= 1.0 + 1e-9,
                "{rate} Hz × {factor}: {} vs {want}",
                y.len()
            );
        }
    }
}

#[test]
fn pitch_keeps_the_length_and_moves_a_tone() {
    let x = tone(200.0, 16_000, 16_000);
    let c = chain("[[stages]]\nkind = \"pitch\"\nsemitones = [12, 12]\n");
    let (y, _) = c.apply(&x, 16_000, &mut Rng::new(0)).unwrap();
    assert_eq!(y.len(), x.len());
    // One octave up: the energy at 400 Hz dominates that at 200 Hz.
    let at = |f: f64| {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &v) in y[4000..12_000].iter().enumerate() {
            let ph = std::f64::consts::TAU * f * i as f64 / 16_000.0;
            re += v as f64 * ph.cos();
            im += v as f64 * ph.sin();
        }
        re * re + im * im
    };
    assert!(at(400.0) > 100.0 * at(200.0));
}

#[test]
fn band_limit_attenuates_tones_outside_the_band() {
    for rate in [16_000u32, 44_100] {
        let c = chain(
            "[[stages]]\nkind = \"band-limit\"\nlow_hz = [300, 300]\nhigh_hz = [3400, 3400]\n",
        );
        let gain_db = |f: f64| {
            let x = tone(f, rate as usize, rate);
            let (y, _) = c.apply(&x, rate, &mut Rng::new(0)).unwrap();
            let half = x.len() / 2;
            10.0 * (power(&y[half..]) / power(&x[half..])).log10()
        };
        assert!(gain_db(100.0) < -20.0, "{rate}: {}", gain_db(100.0));
        assert!(gain_db(7000.0) < -20.0, "{rate}: {}", gain_db(7000.0));
        assert!(gain_db(1000.0).abs() < 0.5, "{rate}: {}", gain_db(1000.0));
    }
    // A high edge above an 8 kHz clip's Nyquist fails at run time, naming the stage and field.
    let c = chain(
        "[[stages]]\nkind = \"gain\"\n[[stages]]\nkind = \"band-limit\"\nhigh_hz = [5000, 6000]\n",
    );
    let err = c
        .apply(&tone(100.0, 800, 8_000), 8_000, &mut Rng::new(0))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("stages[1] (band-limit).high_hz: drew"),
        "{err}"
    );
    assert!(err.contains("Nyquist"), "{err}");
}

#[test]
fn p_zero_leaves_the_clip_untouched_and_reports_it() {
    let x = speechlike(4000, 16_000, 6);
    let c = chain(
        "[[stages]]\nkind = \"noise\"\np = 0\n[[stages]]\nkind = \"gain\"\np = 0.0\ngain_db = [6, 6]\n",
    );
    let mut rng = Rng::new(3);
    let (y, report) = c.apply(&x, 16_000, &mut rng).unwrap();
    assert_eq!(y, x);
    assert!(report.stages.iter().all(|s| !s.applied));
    // Nothing was drawn either.
    assert_eq!(rng, Rng::new(3));
    assert_eq!(report.summary(), "noise(-) → gain(-)");
}

#[test]
fn probabilities_between_zero_and_one_run_about_that_often() {
    let x = speechlike(200, 16_000, 7);
    let c = chain("[[stages]]\nkind = \"gain\"\np = 0.3\n");
    let runs = (0..2000)
        .filter(|&i| c.apply(&x, 16_000, &mut Rng::new(i)).unwrap().1.stages[0].applied)
        .count();
    assert!((500..700).contains(&runs), "{runs}");
}

#[test]
fn seeds_reproduce_and_differ() {
    let text = "[[stages]]\nkind = \"reverb\"\n[[stages]]\nkind = \"noise\"\nsource = \"babble\"\n\
                [[stages]]\nkind = \"codec\"\ncodec = \"lossy-sim\"\n[[stages]]\nkind = \"pitch\"\np = 0.5\n";
    let c = chain(text);
    let x = speechlike(8000, 16_000, 8);
    let a = c.apply(&x, 16_000, &mut Rng::for_item(1, 0, 5)).unwrap();
    let b = c.apply(&x, 16_000, &mut Rng::for_item(1, 0, 5)).unwrap();
    let other = c.apply(&x, 16_000, &mut Rng::for_item(1, 0, 6)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.0, other.0);
    // Per-stage outputs end in apply's output.
    let stages = c
        .apply_stages(&x, 16_000, &mut Rng::for_item(1, 0, 5))
        .unwrap();
    assert_eq!(stages.len(), 4);
    assert_eq!(stages[3].0, a.0);
    let reports: Vec<StageReport> = stages.into_iter().map(|(_, r)| r).collect();
    assert_eq!(reports, a.1.stages);
}

#[test]
fn every_stage_is_finite_at_16_and_44_1_khz_on_speech_silence_and_nothing() {
    let text = "[[stages]]\nkind = \"rawboost\"\nalgo = 4\n\
                [[stages]]\nkind = \"noise\"\nsource = \"brown\"\n\
                [[stages]]\nkind = \"reverb\"\n\
                [[stages]]\nkind = \"codec\"\ncodec = \"mulaw\"\n\
                [[stages]]\nkind = \"codec\"\ncodec = \"alaw\"\n\
                [[stages]]\nkind = \"codec\"\ncodec = \"lossy-sim\"\n\
                [[stages]]\nkind = \"pitch\"\n\
                [[stages]]\nkind = \"band-limit\"\n\
                [[stages]]\nkind = \"gain\"\n\
                [[stages]]\nkind = \"clip\"\n\
                [[stages]]\nkind = \"speed\"\n";
    let c = chain(text);
    assert_eq!(c.len(), 11);
    for rate in [16_000u32, 44_100] {
        for x in [speechlike(rate as usize, rate, 9), vec![0.0; 3000]] {
            let out = c.apply_stages(&x, rate, &mut Rng::new(2)).unwrap();
            for (i, (y, report)) in out.iter().enumerate() {
                assert!(y.iter().all(|v| v.is_finite()), "{rate} stage {i}");
                assert!(report.applied);
                if i < 10 {
                    assert_eq!(y.len(), x.len(), "{rate} stage {i} ({})", report.kind);
                }
            }
        }
        let (y, report) = c.apply(&[], rate, &mut Rng::new(0)).unwrap();
        assert!(y.is_empty());
        assert_eq!(report.stages.len(), 11);
    }
}

#[test]
fn clip_cuts_at_the_fraction_of_the_peak() {
    let x = tone(300.0, 1600, 16_000);
    let c = chain("[[stages]]\nkind = \"clip\"\nthreshold = [0.5, 0.5]\n");
    let (y, _) = c.apply(&x, 16_000, &mut Rng::new(0)).unwrap();
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(y.iter().all(|v| v.abs() <= 0.5 * peak + 1e-7));
    assert!(y.iter().filter(|v| v.abs() >= 0.5 * peak - 1e-6).count() > 500);
}

#[test]
fn validate_names_the_stage_and_field() {
    let cases = [
        (
            "[[stages]]\nkind = \"gain\"\n[[stages]]\nkind = \"gain\"\n[[stages]]\nkind = \"noise\"\nsnr_db = [30, 10]\n",
            "stages[2] (noise).snr_db: low 30 > high 10",
        ),
        ("[[stages]]\nkind = \"gain\"\np = 1.5\n", "stages[0] (gain).p: "),
        (
            "[[stages]]\nkind = \"noise\"\nsource = \"folder\"\n",
            "stages[0] (noise).folder: is required",
        ),
        (
            "[[stages]]\nkind = \"reverb\"\nfolder = \"irs\"\n",
            "stages[0] (reverb).folder: is only read",
        ),
        (
            "[[stages]]\nkind = \"speed\"\nfactor = [0.1, 1]\n",
            "stages[0] (speed).factor: [0.1, 1] leaves",
        ),
        (
            "[[stages]]\nkind = \"rawboost\"\nalgo = 1\nn_bands = 0\n",
            "stages[0] (rawboost).n_bands: ",
        ),
        (
            "[[stages]]\nkind = \"band-limit\"\nlow_hz = [300, 4000]\nhigh_hz = [3400, 3400]\n",
            "stages[0] (band-limit).low_hz: ",
        ),
        (
            "[[stages]]\nkind = \"clip\"\nthreshold = [0, 0.5]\n",
            "stages[0] (clip).threshold: ",
        ),
        (
            "[[stages]]\nkind = \"codec\"\ncodec = \"mulaw\"\nbitrate_kbps = [8, 16]\n",
            "stages[0] (codec).bitrate_kbps: is only read by codec = \"mp3\"",
        ),
        (
            "[[stages]]\nkind = \"codec\"\ncodec = \"opus\"\nbitrate_kbps = [2, 16]\n",
            if codecs::available() {
                "stages[0] (codec).bitrate_kbps: [2, 16] leaves the accepted range [6, 256]"
            } else {
                "stages[0] (codec).codec: the opus codec needs the `codecs` feature"
            },
        ),
    ];
    for (text, want) in cases {
        let spec = ChainSpec::from_toml_str(text).unwrap();
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        assert!(spec.prepare(Path::new(".")).is_err());
    }
    // Unknown fields, kinds and algorithms are refused by the parser.
    for text in [
        "[[stages]]\nkind = \"gain\"\ngain = [1, 2]\n",
        "[[stages]]\nkind = \"echo\"\n",
        "[[stages]]\nkind = \"rawboost\"\nalgo = 9\n",
        "[[stages]]\nkind = \"noise\"\nsource = \"purple\"\n",
    ] {
        assert!(ChainSpec::from_toml_str(text).is_err(), "{text}");
    }
}

#[test]
fn missing_folders_are_named_when_preparing() {
    let spec = ChainSpec::from_toml_str(
        "[[stages]]\nkind = \"noise\"\nsource = \"folder\"\nfolder = \"no-such-noise\"\n",
    )
    .unwrap();
    spec.validate().unwrap();
    let err = spec
        .prepare(Path::new("/nonexistent-base"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("stages[0] (noise).folder /nonexistent-base/no-such-noise: does not exist"),
        "{err}"
    );
}

#[test]
fn folder_noise_and_responses_are_resampled_aligned_and_reach_the_snr() {
    let dir = tempfile::tempdir().unwrap();
    let noise_dir = dir.path().join("noise");
    let ir_dir = dir.path().join("irs");
    std::fs::create_dir_all(&noise_dir).unwrap();
    std::fs::create_dir_all(&ir_dir).unwrap();
    let mut rng = Rng::new(4);
    let noise: Vec<f32> = (0..3000).map(|_| (0.1 * rng.normal()) as f32).collect();
    crate::audio::write_wav(
        &noise_dir.join("hiss.wav"),
        &noise,
        8_000,
        crate::audio::WavFormat::Float32,
    )
    .unwrap();
    // A response with 100 samples of pre-delay: the aligned one must not delay the speech.
    let mut ir = vec![0.0f32; 400];
    ir[100] = 0.5;
    ir[250] = 0.1;
    crate::audio::write_wav(
        &ir_dir.join("room.wav"),
        &ir,
        16_000,
        crate::audio::WavFormat::Float32,
    )
    .unwrap();
    let spec = ChainSpec::from_toml_str(
        "[[stages]]\nkind = \"reverb\"\nsource = \"folder\"\nfolder = \"irs\"\n\
         [[stages]]\nkind = \"noise\"\nsource = \"folder\"\nfolder = \"noise\"\nsnr_db = [12, 12]\n",
    )
    .unwrap();
    let c = spec.prepare(dir.path()).unwrap();
    let mut impulse = vec![0.0f32; 1000];
    impulse[10] = 1.0;
    let stages = c.apply_stages(&impulse, 16_000, &mut Rng::new(0)).unwrap();
    let wet = &stages[0].0;
    assert!(
        (wet[10] - 1.0).abs() < 1e-5,
        "direct path stays at sample 10"
    );
    assert!(
        (wet[160] - 0.2).abs() < 1e-5,
        "reflection 150 samples later at 0.1/0.5"
    );
    assert_eq!(stages[0].1.params["file"], json!("room.wav"));
    let noisy = &stages[1].0;
    assert!((realised_snr(wet, noisy) - 12.0).abs() < 0.01);
    assert_eq!(stages[1].1.params["file"], json!("hiss.wav"));
}

#[test]
fn chains_are_send_sync_and_round_trip_through_toml() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Chain>();
    let spec = ChainSpec::from_toml_str(
        "[[stages]]\nkind = \"rawboost\"\nalgo = 3\np = 0.5\nmin_f = 50\n[[stages]]\nkind = \"band-limit\"\n",
    )
    .unwrap();
    let text = spec.to_toml_string().unwrap();
    assert_eq!(ChainSpec::from_toml_str(&text).unwrap(), spec);
    for kind in StageSpec::KINDS {
        let stage = StageSpec::default_of(kind).unwrap();
        assert_eq!(stage.kind(), kind);
        assert_eq!(stage.p(), 1.0);
        // Every kind's defaults are a valid stage (none needs a folder).
        assert!(stage.folder().is_none());
        ChainSpec {
            stages: vec![stage],
        }
        .validate()
        .unwrap();
    }
}

#[cfg(feature = "codecs")]
#[test]
fn lossy_codec_stages_draw_a_bit_rate_keep_the_length_and_report_what_they_used() {
    let text = "[[stages]]\nkind = \"codec\"\ncodec = \"mp3\"\nbitrate_kbps = [20, 30]\n\
                [[stages]]\nkind = \"codec\"\ncodec = \"vorbis\"\n\
                [[stages]]\nkind = \"codec\"\ncodec = \"opus\"\nbitrate_kbps = [12, 12]\n";
    let c = chain(text);
    for rate in [16_000u32, 22_050] {
        let x = speechlike(rate as usize, rate, 4);
        let out = c.apply_stages(&x, rate, &mut Rng::new(8)).unwrap();
        for (y, report) in &out {
            assert_eq!(y.len(), x.len(), "{rate}: {}", report.summary());
            assert!(y.iter().all(|v| v.is_finite()));
        }
        let reports: Vec<&serde_json::Value> = out.iter().map(|(_, r)| &r.params).collect();
        // MP3 snaps the drawn 20–30 kbit/s to LAME's 24 (MPEG-2 rates at 16 and 22.05 kHz).
        assert_eq!(reports[0]["codec"], json!("mp3"));
        assert_eq!(reports[0]["bitrate_kbps"], json!(24.0));
        let drawn = reports[0]["drawn_bitrate_kbps"].as_f64().unwrap();
        assert!((20.0..=30.0).contains(&drawn), "{drawn}");
        // Vorbis draws from its default range; Opus at exactly 12 kbit/s, at 16 or 24 kHz.
        let vorbis = reports[1]["bitrate_kbps"].as_f64().unwrap();
        assert!((16.0..=64.0).contains(&vorbis), "{vorbis}");
        assert_eq!(reports[2]["bitrate_kbps"], json!(12.0));
        let opus_rate = if rate == 16_000 { 16_000 } else { 24_000 };
        assert_eq!(reports[2]["codec_rate_hz"], json!(opus_rate));
        // The same seed gives the same samples and the same report.
        let again = c.apply_stages(&x, rate, &mut Rng::new(8)).unwrap();
        assert_eq!(again, out);
    }
}
