#!/usr/bin/env python3
"""Time the reference RawBoost (numpy/scipy) per algorithm on 66,800-sample clips, single thread.

The reference is imported from a checkout given on the command line (it is not part of this
repository), e.g.

    python3 scripts/rawboost_reference_bench.py --reference-dir path/to/dpda_ga

and its `process_Rawboost_feature` dispatch is called with the reference default arguments.
Prints milliseconds per clip for each algorithm, to compare with `cargo bench --bench rawboost`.
"""
import argparse
import os
import sys

# Single-threaded numerics, set before numpy loads.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402

NUM_SAMPLES = 66_800
SAMPLE_RATE_HZ = 16_000
DEFAULTS = SimpleNamespace(
    N_f=5, nBands=5, minF=20, maxF=8000, minBW=100, maxBW=1000, minCoeff=10, maxCoeff=100,
    minG=0, maxG=0, minBiasLinNonLin=5, maxBiasLinNonLin=20, P=10, g_sd=2, SNRmin=10, SNRmax=40,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", required=True, help="checkout holding RawBoost.py")
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per algorithm")
    parser.add_argument("--algos", default="1,2,3,4,5,6,7,8")
    args = parser.parse_args()

    sys.path.insert(0, os.path.abspath(args.reference_dir))
    import RawBoost  # noqa: E402  (the reference module)

    # numpy ≥ 2 refuses int()/float() of a shape-(1,) array, which the reference applies to its
    # randRange draws; return the single element as a scalar (same draw, same cost).
    def rand_range(x1, x2, integer):
        y = np.random.uniform(low=x1, high=x2, size=(1,))[0]
        return int(y) if integer else float(y)

    RawBoost.randRange = rand_range

    dispatch = getattr(RawBoost, "process_Rawboost_feature", None)
    if dispatch is None:
        # Some checkouts keep the dispatch in data_utils; rebuild it from the three primitives.
        def dispatch(x, sr, a, algo):
            lnl = lambda v: RawBoost.LnL_convolutive_noise(  # noqa: E731
                v, a.N_f, a.nBands, a.minF, a.maxF, a.minBW, a.maxBW, a.minCoeff, a.maxCoeff,
                a.minG, a.maxG, a.minBiasLinNonLin, a.maxBiasLinNonLin, sr)
            isd = lambda v: RawBoost.ISD_additive_noise(v, a.P, a.g_sd)  # noqa: E731
            ssi = lambda v: RawBoost.SSI_additive_noise(  # noqa: E731
                v, a.SNRmin, a.SNRmax, a.nBands, a.minF, a.maxF, a.minBW, a.maxBW, a.minCoeff,
                a.maxCoeff, a.minG, a.maxG, sr)
            chains = {1: [lnl], 2: [isd], 3: [ssi], 4: [lnl, isd, ssi], 5: [lnl, isd],
                      6: [lnl, ssi], 7: [isd, ssi]}
            if algo == 8:
                return RawBoost.normWav(lnl(x) + isd(x), 0)
            for step in chains.get(algo, []):
                x = step(x)
            return x

    rng = np.random.default_rng(1)
    t = np.arange(NUM_SAMPLES) / SAMPLE_RATE_HZ
    clip = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(NUM_SAMPLES)).astype(
        np.float32)
    np.random.seed(0)
    print(f"reference RawBoost, {NUM_SAMPLES} samples at {SAMPLE_RATE_HZ} Hz, single thread",
          flush=True)
    for algo in [int(a) for a in args.algos.split(",")]:
        dispatch(clip, SAMPLE_RATE_HZ, DEFAULTS, algo)  # warm-up
        runs, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            dispatch(clip, SAMPLE_RATE_HZ, DEFAULTS, algo)
            runs += 1
        ms = (time.perf_counter() - start) / runs * 1e3
        print(f"algo {algo}: {ms:8.3f} ms/clip ({runs} runs)", flush=True)


if __name__ == "__main__":
    main()
