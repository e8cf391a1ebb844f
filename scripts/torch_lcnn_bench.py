#!/usr/bin/env python3
"""PyTorch side of the CPU speed comparison (`scripts/speed_vs_torch.sh` runs it next to
`cargo bench --bench torch_compare`).

Times one dual-path training iteration (see `torch_bench_common.py`) of the same architectures as
`dpda::nn::lcnn`. Inputs are random features [B, 1, frames, dims]; the LFCC front end is outside
the timed step on both sides.

    python3 scripts/torch_lcnn_bench.py --model lcnn-small --threads 2 [--iters 5]

Prints one line: RESULT model=... threads=... s_per_iter=... peak_rss_mib=...
"""

import torch
import torch.nn as nn

from torch_bench_common import common_args, run


class Mfm(nn.Module):
    def forward(self, x):
        a, b = torch.chunk(x, 2, dim=1)
        return torch.maximum(a, b)


class LcnnSmall(nn.Module):
    """Four [conv -> MFM -> 2x2 max-pool -> BatchNorm2d] blocks, mean-pool, fc (40,450 params)."""

    PLAN = [(1, 32, 5), (16, 48, 3), (24, 64, 3), (32, 64, 3)]

    def __init__(self):
        super().__init__()
        layers = []
        for cin, cout, k in self.PLAN:
            layers += [nn.Conv2d(cin, cout, k, padding=k // 2), Mfm(), nn.MaxPool2d(2),
                       nn.BatchNorm2d(cout // 2)]
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(32, 2)

    def forward(self, x):
        return self.fc(self.body(x).mean(dim=(2, 3)))


class Lcnn(nn.Module):
    """The LFCC-LCNN baseline's m_transform (non-affine BatchNorms), dropout 0.7, mean over time."""

    def __init__(self):
        super().__init__()

        def conv(cin, cout, k):
            return nn.Conv2d(cin, cout, k, padding=k // 2)

        def bn(c):
            return nn.BatchNorm2d(c, affine=False)

        self.body = nn.Sequential(
            conv(1, 64, 5), Mfm(), nn.MaxPool2d(2),
            conv(32, 64, 1), Mfm(), bn(32),
            conv(32, 96, 3), Mfm(), nn.MaxPool2d(2), bn(48),
            conv(48, 96, 1), Mfm(), bn(48),
            conv(48, 128, 3), Mfm(), nn.MaxPool2d(2),
            conv(64, 128, 1), Mfm(), bn(64),
            conv(64, 64, 3), Mfm(), bn(32),
            conv(32, 64, 1), Mfm(), bn(32),
            conv(32, 64, 3), Mfm(), nn.MaxPool2d(2),
            nn.Dropout(0.7),
        )
        self.fc = nn.Linear(96, 2)

    def forward(self, x):
        x = self.body(x)  # [B, 32, T/16, 3]
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)
        return self.fc(x.mean(dim=1))


def main():
    ap = common_args(__doc__.split("\n")[0], ["lcnn", "lcnn-small"], "lcnn")
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--dims", type=int, default=60)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Lcnn() if args.model == "lcnn" else LcnnSmall()
    run(args, model, lambda m, x: m(x), (args.batch, 1, args.frames, args.dims))


if __name__ == "__main__":
    main()
