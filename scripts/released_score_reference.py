#!/usr/bin/env python3
"""Scores of the AASIST authors' released weights on real audio files, for `dpda score` parity tests.

Writes a few fixed, seeded 16 kHz mono clips as audio files, then scores each file with the authors'
own evaluation pipeline (clovaai/aasist: `soundfile.read` -> `data_utils.pad(x, 64600)` (first 64,600
samples, shorter clips tiled) -> `torch.Tensor` (float32) -> `models/AASIST.py` `Model(model_config)`
in eval mode -> bona fide logit `batch_out[:, 1]`, as `main.py` `produce_evaluation_file`) for both
released models: `AASIST.pth` with `config/AASIST.conf`'s `model_config` and `AASIST-L.pth` with
`config/AASIST-L.conf`'s. The model, `pad` and the configurations are imported/read from the checkout
given by --reference-dir, never copied. Each clip is scored alone (batch of one).

Usage:

    python3 scripts/released_score_reference.py --reference-dir PATH/TO/aasist \
        --pretrained-dir PATH/TO/pretrained [--out tests/fixtures/released]

Needs: torch, numpy, scipy, soundfile (with FLAC support), a checkout of clovaai/aasist, and the
released weights `AASIST.pth` and `AASIST-L.pth` in --pretrained-dir (they are not written to --out).

Writes under --out:
  tone 0.5s.wav        16-bit PCM, 0.5 s (8,000 samples: tiled to 64,600); the name has a space
  speechlike_2s.wav    16-bit PCM, 2 s: seeded source-filter "speech" (glottal pulses with an f0
                       contour and jitter through moving formant resonators, syllable envelope,
                       fricative noise bursts, pauses)
  mid_4.1s.flac        16-bit FLAC, 4.1 s (65,600 samples: cropped at 64,600 but tiled at 66,800)
  long_5s.flac         16-bit FLAC, 5 s (80,000 samples: cropped to the first 64,600)
  scores.json          {"reference", "torch", "num_samples", "clips", "clip_info" (samples, rate,
                       sha256 per file), "aasist", "aasist_l" (float32 bona fide logits at 64,600,
                       as the reference evaluates), "aasist_f64", "aasist_l_f64" (the same in float64),
                       "aasist_66800", "aasist_l_66800" (+ "_f64"): the scores when the clip is
                       cropped/tiled to 66,800 samples instead, i.e. the wrong length}
Non-16 kHz clips are left out on purpose: dpda resamples with rubato's band-limited sinc resampler,
which python cannot reproduce exactly.
"""

import argparse
import hashlib
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import lfilter

RATE = 16000
NUM_SAMPLES = 64600  # nb_samp of both released configurations
WRONG_SAMPLES = 66800
MODELS = [("aasist", "AASIST.conf", "AASIST.pth"), ("aasist_l", "AASIST-L.conf", "AASIST-L.pth")]


def to_int16(x, peak):
    x = peak * x / np.max(np.abs(x))
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def tone(num, seed):
    """A 440 Hz tone with its 3rd harmonic, a 6 Hz vibrato, 10 ms fades and faint noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(num) / RATE
    phase = 2 * np.pi * (440.0 * t + 3.0 / (2 * np.pi * 6.0) * np.sin(2 * np.pi * 6.0 * t))
    x = np.sin(phase) + 0.3 * np.sin(3 * phase) + 0.01 * rng.standard_normal(num)
    fade = np.minimum(1.0, np.minimum(np.arange(num), np.arange(num)[::-1]) / (0.01 * RATE))
    return x * fade


def resonator(x, freq, bandwidth):
    """Two-pole resonator at `freq` Hz with `bandwidth` Hz, unit gain at DC."""
    r = np.exp(-np.pi * bandwidth / RATE)
    a = [1.0, -2.0 * r * np.cos(2 * np.pi * freq / RATE), r * r]
    return lfilter([sum(a)], a, x)


def speechlike(num, seed):
    """Seeded source-filter speech: syllables of 120-280 ms, each a vowel (pulse train through three
    formants) optionally led by a fricative (high-passed noise burst), with pauses between words."""
    rng = np.random.default_rng(seed)
    vowels = [(730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410),
              (300, 870, 2240), (660, 1720, 2410), (490, 1350, 1690)]
    out = np.zeros(num)
    pos = int(0.05 * RATE)
    f0_base = rng.uniform(105.0, 135.0)
    while pos < num - int(0.1 * RATE):
        if rng.random() < 0.2:  # pause between words
            pos += int(rng.uniform(0.06, 0.18) * RATE)
            continue
        if rng.random() < 0.4:  # fricative onset
            n = int(rng.uniform(0.04, 0.10) * RATE)
            burst = lfilter([1.0, -0.95], [1.0], rng.standard_normal(n))
            burst = resonator(burst, rng.uniform(3500, 6000), 1500.0) * np.hanning(n)
            end = min(num, pos + n)
            out[pos:end] += 0.15 * burst[:end - pos] / np.max(np.abs(burst))
            pos = end
        n = int(rng.uniform(0.12, 0.28) * RATE)
        n = min(n, num - pos)
        if n <= 0:
            break
        # glottal source: f0 contour with declination, jittered pulse positions, spectral tilt
        f0 = f0_base * (1.0 + 0.15 * np.sin(np.linspace(0, np.pi, n)) - 0.1 * pos / num)
        phase = np.cumsum(f0 * (1.0 + 0.01 * rng.standard_normal(n)) / RATE)
        source = np.diff(np.floor(phase), prepend=0.0)
        source = lfilter([1.0], [1.0, -0.97], lfilter([1.0], [1.0, -0.97], source))
        source += 0.02 * rng.standard_normal(n)  # aspiration
        f1, f2, f3 = vowels[rng.integers(len(vowels))]
        voiced = resonator(source, f1 * rng.uniform(0.95, 1.05), 80.0)
        voiced = resonator(voiced, f2 * rng.uniform(0.95, 1.05), 120.0)
        voiced = resonator(voiced, f3, 180.0)
        voiced = lfilter([1.0, -1.0], [1.0], voiced)  # lip radiation
        envelope = np.sin(np.linspace(0, np.pi, n)) ** 0.7
        out[pos:pos + n] += voiced * envelope / np.max(np.abs(voiced))
        pos += n
    return out + 1e-3 * rng.standard_normal(num)


def write_clips(out):
    """(file name, audio) for every clip; the audio is read back from the written file when scored."""
    specs = [
        ("tone 0.5s.wav", "PCM_16", tone(int(0.5 * RATE), seed=1), 0.5),
        ("speechlike_2s.wav", "PCM_16", speechlike(2 * RATE, seed=2), 0.7),
        ("mid_4.1s.flac", "PCM_16", speechlike(int(4.1 * RATE), seed=3), 0.6),
        ("long_5s.flac", "PCM_16", speechlike(5 * RATE, seed=4), 0.8),
    ]
    names = []
    for name, subtype, audio, peak in specs:
        sf.write(str(out / name), to_int16(audio, peak), RATE, subtype=subtype)
        names.append(name)
    return names


def to_double(model):
    """float64 copy; the sinc bank is a plain attribute that `.double()` does not convert."""
    model = model.double()
    model.conv_time.band_pass = model.conv_time.band_pass.double()
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference-dir", required=True, type=Path)
    parser.add_argument("--pretrained-dir", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/released"))
    args = parser.parse_args()
    sys.path.insert(0, str(args.reference_dir))
    from data_utils import pad  # noqa: E402  (the reference eval padding)

    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    names = write_clips(args.out)

    try:
        commit = subprocess.run(["git", "-C", str(args.reference_dir), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown commit"
    result = {"reference": f"clovaai/aasist {commit}", "torch": torch.__version__,
              "numpy": np.__version__, "soundfile": sf.__version__,
              "num_samples": NUM_SAMPLES, "wrong_num_samples": WRONG_SAMPLES,
              "score": "bona fide logit (output column 1), eval mode, one clip per batch",
              "clips": names, "clip_info": {}}

    inputs = {}
    for name in names:
        path = args.out / name
        x, rate = sf.read(str(path))  # float64, as Dataset_ASVspoof2019_devNeval
        assert rate == RATE and x.ndim == 1, (name, rate, x.shape)
        result["clip_info"][name] = {"samples": int(x.shape[0]), "sample_rate": rate,
                                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        inputs[name] = {n: pad(x, n) for n in (NUM_SAMPLES, WRONG_SAMPLES)}

    for key, conf, weights in MODELS:
        config = json.loads((args.reference_dir / "config" / conf).read_text())["model_config"]
        assert config["nb_samp"] == NUM_SAMPLES, config
        module = importlib.import_module(f"models.{config['architecture']}")
        model = module.Model(config)
        model.load_state_dict(torch.load(args.pretrained_dir / weights, map_location="cpu"))
        model.eval()
        model64 = module.Model(config)
        model64.load_state_dict(torch.load(args.pretrained_dir / weights, map_location="cpu"))
        model64 = to_double(model64).eval()
        for n, suffix in ((NUM_SAMPLES, ""), (WRONG_SAMPLES, f"_{WRONG_SAMPLES}")):
            f32, f64 = {}, {}
            for name in names:
                x = inputs[name][n]
                with torch.no_grad():
                    _, out = model(torch.Tensor(x).unsqueeze(0))  # Tensor(X_pad): float32
                    f32[name] = float(out[:, 1].numpy().ravel()[0])
                    _, out = model64(torch.from_numpy(x).unsqueeze(0))
                    f64[name] = float(out[:, 1].numpy().ravel()[0])
            result[key + suffix] = f32
            result[key + suffix + "_f64"] = f64

    for value in result.values():
        if isinstance(value, dict) and value and all(isinstance(v, float) for v in value.values()):
            assert all(np.isfinite(v) for v in value.values()), value
    (args.out / "scores.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
