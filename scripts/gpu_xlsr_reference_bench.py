#!/usr/bin/env python3
"""PyTorch side of `scripts/gpu_xlsr_bench.sh` and `scripts/xlsr_cpu_bench.sh`: the dual-path
iteration of XLSR-AASIST or XLSR-Conformer-TCM as dpda_ga runs it (5 + 5 clips of 66,800 samples
concatenated into one forward, two class-weighted cross-entropy losses, two backward passes,
PCGrad, one Adam step), with time per step and peak memory (GPU: allocated; CPU: resident).

The models are the ones of `scripts/xlsr_reference.py` (Hugging Face's Wav2Vec2Model front end),
at full size (XLS-R 300M layout) or, with --model xlsr-tiny-aasist, in the tiny configuration
of dpda's `xlsr-tiny-aasist`; random weights: the cost of a step does not depend on them.
--forward times the evaluation forward of the same 10 clips under torch.no_grad instead.

    python3 scripts/gpu_xlsr_reference_bench.py [--model xlsr-aasist|xlsr-tcm|xlsr-tiny-aasist]
        [--device cuda|cpu] [--threads N] [--forward] [--steps 5]
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import xlsr_reference as ref  # noqa: E402

XLSR_300M = dict(ref.W2V, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                 intermediate_size=4096, conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2),
                 conv_stride=(5, 2, 2, 2, 2, 2, 2), num_conv_pos_embeddings=128,
                 num_conv_pos_embedding_groups=16, hidden_dropout=0.1)
AASIST_FULL = dict(ll_dim=128, channels=[[1, 32], [32, 32], [32, 64], [64, 64]],
                   gat_dims=[64, 32], pool_ratios=[0.5] * 4, temperatures=[2.0, 2.0, 100.0, 100.0])
TCM_FULL = dict(emb_size=144, heads=4, ff_mult=4, exp_fac=2, kernel_size=31, num_encoders=4,
                max_frames=10000)


def pcgrad_mean(g1, g2):
    dot = torch.dot(g1, g2)
    if dot < 0:
        p1 = g1 - dot / g2.dot(g2) * g2
        p2 = g2 - dot / g1.dot(g1) * g1
        return (p1 + p2) / 2
    return (g1 + g2) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="xlsr-aasist",
                    choices=["xlsr-aasist", "xlsr-tcm", "xlsr-tiny-aasist"])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--forward", action="store_true", help="time the eval forward only")
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model != "xlsr-tiny-aasist":
        ref.W2V.update(XLSR_300M)
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(0)
    model = (ref.SslAasist(AASIST_FULL) if args.model == "xlsr-aasist"
             else ref.SslAasist(ref.AASIST) if args.model == "xlsr-tiny-aasist"
             else ref.ConformerTcm(TCM_FULL)).to(dev).train()
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"model {args.model}: {sum(p.numel() for p in params)} trainable parameters")
    opt = torch.optim.Adam(params, lr=1e-6, weight_decay=1e-4)
    weight = torch.tensor([0.1, 0.9], device=dev)
    x = torch.randn(10, 66_800, device=dev) * 0.1
    y = torch.tensor([0, 1, 0, 1, 0], device=dev)
    times = []
    if args.forward:
        model.eval()
        for step in range(args.steps):
            sync()
            t = time.perf_counter()
            with torch.no_grad():
                out = model(x)
            sync()
            times.append(time.perf_counter() - t)
            print(f"forward {step}: {times[-1]:.3f} s, first logits {out[0].tolist()}")
    for step in range(0 if args.forward else args.steps):
        sync()
        t = time.perf_counter()
        out = model(x)
        lo = F.cross_entropy(out[:5], y, weight=weight)
        la = F.cross_entropy(out[5:], y, weight=weight)
        g1 = torch.autograd.grad(lo, params, retain_graph=True, allow_unused=True)
        g2 = torch.autograd.grad(la, params, allow_unused=True)
        flat = lambda gs: torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                     for g, p in zip(gs, params)])
        g = pcgrad_mean(flat(g1), flat(g2))
        offset = 0
        for p in params:
            p.grad = g[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        opt.step()
        sync()
        times.append(time.perf_counter() - t)
        print(f"step {step}: {times[-1]:.3f} s, loss {lo.item():.4f}/{la.item():.4f}")
    steady = times[1:] or times
    what = "forward" if args.forward else "step"
    if cuda:
        peak = f"peak_alloc_gib {torch.cuda.max_memory_allocated() / 2**30:.2f}"
    else:  # ru_maxrss is in KiB on Linux
        peak = f"peak_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
    print(f"RESULT torch {args.model} {args.device} {what} "
          f"mean_step_s {sum(steady) / len(steady):.4f} {peak}")


if __name__ == "__main__":
    main()
