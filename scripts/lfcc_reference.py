#!/usr/bin/env python3
"""Reference LFCC for the parity test of `src/features/lfcc.rs`.

An independent numpy transcription of the maths of the LFCC front end of the ASVspoof 2021
LFCC-LCNN baseline (B03): class `LFCC` in `sandbox/util_frontend.py` of
nii-yamagishilab/project-NN-Pytorch-scripts, as configured by
`LA/Baseline-LFCC-LCNN/project/baseline_LA/model.py` of asvspoof-challenge/2021. torch is not needed:
`torch.stft(center=True, pad_mode="constant")` is written out as explicit zero padding and framing.
Everything here runs in float64, so the Rust f32 path is checked against a more precise answer.

Writes tests/fixtures/features/lfcc_reference.json:
  {"configs": {name: {config fields}}, "signals": {name: [samples as f32 values]},
   "cases": [{"config": name, "signal": name, "num_frames": T, "num_dims": D, "values": [T*D]}]}

Run from the repository root: python3 scripts/lfcc_reference.py
"""

import json
import os

import numpy as np

SAMPLE_RATE_HZ = 16000
FLOAT32_EPS = float(np.finfo(np.float32).eps)

# The two front ends the fixtures cover. Field names match `LfccConfig` in Rust.
CONFIGS = {
    # ASVspoof 2021 LA/DF baseline model.py: fft_n 1024, lfcc_max_freq 0.5, with_energy=True.
    "asvspoof2021": {
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "frame_length_samples": 320,
        "frame_shift_samples": 160,
        "n_fft": 1024,
        "num_filters": 20,
        "num_coefficients": 20,
        "min_freq_fraction": 0.0,
        "max_freq_fraction": 0.5,
        "pre_emphasis": 0.97,
        "with_energy": True,
        "with_delta": True,
        "log_floor": FLOAT32_EPS,
    },
    # The same front end over the full band with a 512-point FFT (the 2019 LFCC-LCNN recipes).
    "full_band_512": {
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "frame_length_samples": 320,
        "frame_shift_samples": 160,
        "n_fft": 512,
        "num_filters": 20,
        "num_coefficients": 20,
        "min_freq_fraction": 0.0,
        "max_freq_fraction": 1.0,
        "pre_emphasis": 0.97,
        "with_energy": True,
        "with_delta": True,
        "log_floor": FLOAT32_EPS,
    },
}


def make_signals():
    """Three short deterministic signals, stored as float32 so Rust reads the same samples."""
    rng = np.random.default_rng(20210)
    sr = SAMPLE_RATE_HZ

    # 0.3 s linear chirp 200 -> 6000 Hz plus white noise.
    n = 4800
    t = np.arange(n) / sr
    f0, f1, dur = 200.0, 6000.0, n / sr
    chirp = 0.5 * np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t**2))
    chirp_noise = chirp + 0.01 * rng.standard_normal(n)

    # 0.3 s (+10 samples, not a multiple of the hop) of two tones after 0.1 s of digital silence:
    # silent frames exercise the log floor.
    n = 4810
    t = np.arange(n) / sr
    tones = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 3000.0 * t + 0.3)
    tones[:1600] = 0.0

    # 250 samples: shorter than one 320-sample frame.
    short_burst = 0.2 * rng.standard_normal(250)

    signals = {
        "chirp_noise": chirp_noise,
        "tones_after_silence": tones,
        "short_burst": short_burst,
    }
    return {k: v.astype(np.float32) for k, v in signals.items()}


def trimf(x, a, b, c):
    """Matlab-style triangle as in the reference: strict inequalities, 1 exactly at the peak."""
    y = np.zeros_like(x)
    if a < b:
        idx = (a < x) & (x < b)
        y[idx] = (x[idx] - a) / (b - a)
    if b < c:
        idx = (b < x) & (x < c)
        y[idx] = (c - x[idx]) / (c - b)
    y[x == b] = 1.0
    return y


def filter_bank(cfg):
    """[num_bins_used, num_filters]; the frequency axis is linspace(min, max, bins_used) * sr/2."""
    fn = cfg["n_fft"]
    half = fn // 2 + 1
    min_bin = int(cfg["min_freq_fraction"] * half)
    max_bin = int(cfg["max_freq_fraction"] * half)
    nbins = max_bin - min_bin
    f = (cfg["sample_rate_hz"] / 2) * np.linspace(
        cfg["min_freq_fraction"], cfg["max_freq_fraction"], nbins
    )
    bands = np.linspace(f.min(), f.max(), cfg["num_filters"] + 2)
    fb = np.zeros((nbins, cfg["num_filters"]))
    for i in range(cfg["num_filters"]):
        fb[:, i] = trimf(f, bands[i], bands[i + 1], bands[i + 2])
    return fb, min_bin, max_bin


def dct_ortho_matrix(n):
    """DCT-II with orthonormal scaling (torch-dct `dct(norm='ortho')`, scipy `dct(norm='ortho')`)."""
    k = np.arange(n)[:, None]
    m = np.arange(n)[None, :]
    mat = np.sqrt(2.0 / n) * np.cos(np.pi * k * (2 * m + 1) / (2 * n))
    mat[0, :] = np.sqrt(1.0 / n)
    return mat  # [coef, filter]


def delta(x):
    """x[t+1] - x[t-1] with edge replication; no division by 2 (as in the reference)."""
    padded = np.concatenate([x[:1], x, x[-1:]], axis=0)
    return padded[2:] - padded[:-2]


def lfcc(signal, cfg):
    x = signal.astype(np.float64)
    if cfg["pre_emphasis"] != 0.0:
        y = x.copy()
        y[1:] = x[1:] - cfg["pre_emphasis"] * x[:-1]
        x = y

    fn, hop, wl = cfg["n_fft"], cfg["frame_shift_samples"], cfg["frame_length_samples"]
    # torch.hamming_window(wl) is periodic: 0.54 - 0.46 cos(2 pi n / wl).
    win = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(wl) / wl)
    # torch.stft pads a shorter window with zeros on both sides to n_fft.
    left = (fn - wl) // 2
    full_win = np.zeros(fn)
    full_win[left:left + wl] = win
    # center=True, pad_mode="constant": n_fft//2 zeros on each side; 1 + len//hop frames.
    padded = np.concatenate([np.zeros(fn // 2), x, np.zeros(fn // 2)])
    num_frames = 1 + len(x) // hop
    frames = np.stack([padded[t * hop:t * hop + fn] * full_win for t in range(num_frames)])
    power = np.abs(np.fft.rfft(frames, n=fn, axis=1)) ** 2  # [frames, fn//2+1]

    fb, min_bin, max_bin = filter_bank(cfg)
    power = power[:, min_bin:max_bin]
    log_fb = np.log10(power @ fb + cfg["log_floor"])
    coefs = log_fb @ dct_ortho_matrix(cfg["num_filters"]).T
    coefs = coefs[:, : cfg["num_coefficients"]]
    if cfg["with_energy"]:
        coefs[:, 0] = np.log10(power.sum(axis=1) / fn + cfg["log_floor"])
    if cfg["with_delta"]:
        d1 = delta(coefs)
        d2 = delta(d1)
        coefs = np.concatenate([coefs, d1, d2], axis=1)
    return coefs


def main():
    signals = make_signals()
    cases = []
    for cname, cfg in CONFIGS.items():
        for sname, sig in signals.items():
            out = lfcc(sig, cfg)
            cases.append({
                "config": cname,
                "signal": sname,
                "num_frames": int(out.shape[0]),
                "num_dims": int(out.shape[1]),
                "values": [float(f"{v:.9g}") for v in out.ravel()],
            })
    doc = {
        "generator": "scripts/lfcc_reference.py",
        "configs": CONFIGS,
        # Shortest repr that reads back as the same float32.
        "signals": {k: [float(str(v)) for v in s] for k, s in signals.items()},
        "cases": cases,
    }
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = os.path.join(here, "..", "tests", "fixtures", "features", "lfcc_reference.json")
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    for c in cases:
        print(c["config"], c["signal"], c["num_frames"], "x", c["num_dims"])


if __name__ == "__main__":
    main()
