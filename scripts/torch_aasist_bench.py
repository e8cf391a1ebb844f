#!/usr/bin/env python3
"""PyTorch twin of `aasist-l` in the CPU speed comparison (`scripts/speed_vs_torch.sh` runs it next
to `cargo bench --bench torch_compare -- --model aasist-l`).

The network is the authors' `models/AASIST.py` (clovaai/aasist, imported from a checkout, never
copied) with the AASIST-L configuration that the parity fixtures use (`AASIST_L` in
`scripts/aasist_reference.py`), in train mode (dropout on, BatchNorm on batch statistics) and without
the reference's frequency masking, as `dpda::nn::aasist` trains. Inputs are random waveforms
[B, samples] (64,600 samples, the configuration's `nb_samp`); the timed iteration is the dual-path
step of `torch_bench_common.py`.

    python3 scripts/torch_aasist_bench.py --reference-dir PATH/TO/aasist --threads 2 [--iters 5]

Prints one line: RESULT model=aasist-l threads=... s_per_iter=... peak_rss_mib=...
"""

import sys
from pathlib import Path

import torch

from aasist_reference import AASIST_L
from torch_bench_common import common_args, run


def main():
    ap = common_args(__doc__.split("\n")[0], ["aasist-l"], "aasist-l")
    ap.add_argument("--reference-dir", required=True, type=Path,
                    help="checkout of clovaai/aasist (holds models/AASIST.py)")
    ap.add_argument("--samples", type=int, default=AASIST_L["nb_samp"])
    args = ap.parse_args()
    sys.path.insert(0, str(args.reference_dir / "models"))
    from AASIST import Model  # noqa: E402  (the reference implementation)

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Model(AASIST_L)
    # The reference returns (last hidden, logits); Freq_aug stays at its default (off).
    run(args, model, lambda m, x: m(x)[1], (args.batch, args.samples))


if __name__ == "__main__":
    main()
