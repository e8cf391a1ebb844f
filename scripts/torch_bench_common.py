"""Shared timing harness of the PyTorch side of the CPU speed comparison.

`scripts/torch_lcnn_bench.py` and `scripts/torch_aasist_bench.py` build a model and its inputs and
hand them here; this module times the same dual-path iteration as `benches/torch_compare.rs`: two
forward/backward passes in train mode (an original and an augmented batch, each through the model on
its own, so BatchNorm sees one path at a time), PCGrad on the two flattened gradients, one Adam step
(weight decay 1e-4, the project's default optimizer). One warm-up iteration, then `--iters` timed
ones; peak RSS is the process's `ru_maxrss`.

Prints one line: RESULT model=... threads=... s_per_iter=... peak_rss_mib=... input=[...]
"""

import argparse
import resource
import time

import torch
import torch.nn.functional as F


def common_args(description, models, default_model):
    """The options every twin takes: model, threads, timed iterations, batch per path."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", default=default_model, choices=models)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    return ap


def pcgrad(g1, g2):
    """Each gradient projected off the other where they conflict, then summed halves (mean)."""
    dot = torch.dot(g1, g2)
    p1, p2 = g1, g2
    if dot < 0:
        p1 = g1 - dot / torch.dot(g2, g2).clamp_min(1e-20) * g2
        p2 = g2 - dot / torch.dot(g1, g1).clamp_min(1e-20) * g1
    return 0.5 * (p1 + p2)


def dual_path_step(model, logits_of, x_orig, x_aug, labels):
    """One iteration as a closure; `logits_of(model, x)` maps a batch to `[B, 2]` logits.

    A parameter the loss does not reach (AASIST's residual `bn1` affine terms) gets a zero
    gradient, as on the project side, so both sides run PCGrad and Adam on the same vector.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-4)

    def step():
        flat = []
        for x in (x_orig, x_aug):
            loss = F.cross_entropy(logits_of(model, x), labels)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            flat.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                                   for p, g in zip(params, grads)]))
        g = pcgrad(flat[0], flat[1])
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = g[offset:offset + n].view_as(p)
            offset += n
        opt.step()

    return step


def run(args, model, logits_of, shape):
    """Times the dual-path step on random `shape` inputs and prints the RESULT line."""
    torch.set_num_threads(args.threads)
    model.train()
    x_orig, x_aug = torch.randn(shape), torch.randn(shape)
    labels = torch.arange(args.batch) % 2
    step = dual_path_step(model, logits_of, x_orig, x_aug, labels)
    step()  # warm-up: allocator, thread pool
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    s_per_iter = (time.perf_counter() - start) / args.iters
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"RESULT model={args.model} threads={args.threads} s_per_iter={s_per_iter:.4f} "
          f"peak_rss_mib={peak_mib:.1f} input={list(shape)}")
