#!/usr/bin/env python3
"""Writes the benchmark folder of `scripts/rawboost_cli_bench.sh` and `scripts/score_throughput.sh`:
COUNT clips of 3.8-4.3 s at 16 kHz (a modulated tone plus noise, 32-bit float WAV, names with a
space), the same on every run (seed 0).

    python3 scripts/bench_clips.py FOLDER COUNT
"""
import os
import sys

import numpy as np
import soundfile as sf

folder, count = sys.argv[1], int(sys.argv[2])
os.makedirs(folder)
rng = np.random.default_rng(0)
for i in range(count):
    n = 61_000 + int(rng.integers(0, 8_000))
    t = np.arange(n) / 16_000
    x = 0.3 * np.sin(2 * np.pi * (150 + 10 * (i % 7)) * t) * (1 + np.sin(2 * np.pi * 3 * t))
    x += 0.05 * rng.standard_normal(n)
    sf.write(os.path.join(folder, f"clip {i:04d}.wav"), x.astype(np.float32), 16_000, subtype="FLOAT")
