#!/usr/bin/env python3
"""The reference side of `scripts/rawboost_cli_bench.sh`: RawBoost over a folder, end to end.

For every audio file under --input (sorted), read it with libsndfile (soundfile), run the
reference `process_Rawboost_feature` with the reference default arguments and write the result
as 32-bit float WAV under --output: the work `dpda augment --algo N` does on a folder. The
reference RawBoost.py is imported from a checkout named by --reference-dir (it is not part of
this repository), e.g. a ductuantruong/dpda_ga checkout.

Prints one line `RESULT files=N loop_s=S wall_s=W`: loop_s is the read + augment + write loop
alone, wall_s also counts the interpreter start and the imports (numpy, scipy, soundfile).
Numerics are single-threaded, as the reference's data loader workers run them.
"""
import time

START_S = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"

from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

DEFAULTS = SimpleNamespace(
    N_f=5, nBands=5, minF=20, maxF=8000, minBW=100, maxBW=1000, minCoeff=10, maxCoeff=100,
    minG=0, maxG=0, minBiasLinNonLin=5, maxBiasLinNonLin=20, P=10, g_sd=2, SNRmin=10, SNRmax=40,
)
EXTENSIONS = (".wav", ".flac")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", required=True, help="checkout holding RawBoost.py")
    parser.add_argument("--input", required=True, help="folder of audio files")
    parser.add_argument("--output", required=True, help="folder for the augmented files")
    parser.add_argument("--algo", type=int, required=True, help="RawBoost algorithm 0-8")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    sys.path.insert(0, os.path.abspath(args.reference_dir))
    import RawBoost  # noqa: E402  (the reference module)

    # numpy >= 2 refuses int()/float() of a shape-(1,) array, which the reference applies to its
    # randRange draws; return the single element as a scalar (same draw, same cost).
    def rand_range(x1, x2, integer):
        y = np.random.uniform(low=x1, high=x2, size=(1,))[0]
        return int(y) if integer else float(y)

    RawBoost.randRange = rand_range
    process_Rawboost_feature = RawBoost.process_Rawboost_feature

    np.random.seed(args.seed)
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(args.input)
        for name in names
        if name.lower().endswith(EXTENSIONS)
    )
    os.makedirs(args.output, exist_ok=True)
    loop_start_s = time.perf_counter()
    for path in files:
        samples, rate_hz = sf.read(path, dtype="float32")
        if samples.ndim > 1:
            samples = samples.mean(axis=1)
        augmented = process_Rawboost_feature(samples, rate_hz, DEFAULTS, args.algo)
        relative = os.path.relpath(path, args.input)
        out_path = os.path.join(args.output, os.path.splitext(relative)[0] + ".wav")
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        sf.write(out_path, np.asarray(augmented, dtype=np.float32), rate_hz, subtype="FLOAT")
    end_s = time.perf_counter()
    print(f"RESULT files={len(files)} loop_s={end_s - loop_start_s:.4f} wall_s={end_s - START_S:.4f}")


if __name__ == "__main__":
    main()
