#!/usr/bin/env python3
"""Reference values for the RawBoost filter pieces, computed with scipy.

Writes tests/fixtures/rawboost/scipy_fir.json, read by tests/rawboost.rs:
  * firwin band-stop designs (scipy.signal.firwin with two cutoffs, window='hamming', fs=fs and
    the default pass_zero=True), odd and made-odd tap counts, edges near 0 Hz and near fs/2;
  * cascades (numpy.convolve) normalised by 10^(G/20)/max|H| on scipy.signal.freqz's default grid;
  * the padded-and-cropped filtering used by RawBoost (pad len(b)+1 zeros, scipy.signal.lfilter,
    keep y[int(N/2) : int(len(y) - N/2)]) on long and short signals, including a signal shorter
    than the filter;
  * one LnL case with a single term and fixed draws (N_f 1, one band, zero gain range), which
    reduces to the normalised filter, minus its mean.

Run from the repository root:  python3 scripts/rawboost_scipy_fixtures.py
"""
import json
import os

import numpy as np
from scipy import signal

OUT = os.path.join("tests", "fixtures", "rawboost", "scipy_fir.json")


def odd(c):
    return c + 1 if c % 2 == 0 else c


def bandstop(num_taps, f1, f2, fs):
    return signal.firwin(num_taps, [f1, f2], window="hamming", fs=fs)


def normalised(b, gain_db, fs):
    _, h = signal.freqz(b, 1, fs=fs)
    return 10 ** (gain_db / 20) * b / np.max(np.abs(h)), float(np.max(np.abs(h)))


def pad_filter_crop(x, b):
    n = len(b) + 1
    y = signal.lfilter(b, 1, np.concatenate([x, np.zeros(n)]))
    return y[int(n / 2): int(len(y) - n / 2)]


def test_signal(length, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    x = 0.5 * np.sin(0.031 * t) + 0.2 * np.cos(0.9 * t) + 0.1 * rng.standard_normal(length)
    return x.astype(np.float32).astype(np.float64)


def main():
    fs = 16000.0
    firwin_cases = []
    # (requested taps, f1, f2, fs): the requested count is made odd as RawBoost does.
    for requested, f1, f2, rate in [
        (11, 1000.0, 2000.0, fs),
        (64, 500.0, 1200.0, fs),
        (99, 20.0, 120.0, fs),
        (51, 0.001, 450.0, fs),
        (31, 7500.0, fs / 2 - 0.001, fs),
        (10, 3000.0, 3900.0, fs),
        (101, 3000.0, 3500.0, 22050.0),
    ]:
        taps = odd(requested)
        firwin_cases.append(
            {
                "requested_taps": requested,
                "num_taps": taps,
                "f1_hz": f1,
                "f2_hz": f2,
                "fs_hz": rate,
                "taps": bandstop(taps, f1, f2, rate).tolist(),
            }
        )

    cascade_cases = []
    for bands, gain_db in [
        ([(11, 1000.0, 2000.0), (41, 5000.0, 5600.0)], 0.0),
        ([(99, 20.0, 520.0), (15, 3000.0, 3100.0), (65, 7000.0, fs / 2 - 0.001)], -7.5),
        ([(21, 0.001, 300.0)], 3.0),
    ]:
        b = np.array([1.0])
        for taps, f1, f2 in bands:
            b = np.convolve(bandstop(taps, f1, f2, fs), b)
        _, h = signal.freqz(b, 1, fs=fs)
        scaled, peak = normalised(b, gain_db, fs)
        cascade_cases.append(
            {
                "bands": [{"num_taps": t, "f1_hz": f1, "f2_hz": f2} for t, f1, f2 in bands],
                "fs_hz": fs,
                "gain_db": gain_db,
                "freqz_abs": np.abs(h).tolist(),
                "freqz_max_abs": peak,
                "normalised_taps": scaled.tolist(),
            }
        )

    filter_cases = []
    for length, (taps, f1, f2), seed in [
        (1000, (41, 1000.0, 1800.0), 1),
        (300, (11, 200.0, 900.0), 2),
        (40, (151, 2000.0, 2600.0), 3),
        (1, (31, 100.0, 700.0), 4),
    ]:
        x = test_signal(length, seed)
        b = bandstop(taps, f1, f2, fs)
        filter_cases.append(
            {
                "input": x.tolist(),
                "taps": b.tolist(),
                "output": pad_filter_crop(x, b).tolist(),
            }
        )

    # LnL with one term and fixed draws: centre 2 kHz, bandwidth 600 Hz, 40 taps (made 41), G 0.
    x = test_signal(600, 5) * 0.5
    b = bandstop(odd(40), 2000.0 - 300.0, 2000.0 + 300.0, fs)
    b, _ = normalised(b, 0.0, fs)
    y = pad_filter_crop(x, b)
    y = y - np.mean(y)
    if np.max(np.abs(y)) > 1:
        y = y / np.max(np.abs(y))
    lnl_case = {
        "centre_hz": 2000.0,
        "bandwidth_hz": 600.0,
        "coeff": 40,
        "fs_hz": fs,
        "input": x.tolist(),
        "output": y.tolist(),
    }

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(
            {
                "generator": "scripts/rawboost_scipy_fixtures.py",
                "numpy": np.__version__,
                "scipy": __import__("scipy").__version__,
                "firwin": firwin_cases,
                "cascade": cascade_cases,
                "filter_crop": filter_cases,
                "lnl_single_term": lnl_case,
            },
            f,
        )
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
