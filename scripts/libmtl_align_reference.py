#!/usr/bin/env python3
"""Reference values for the K-path gradient aligners (src/train/align_k.rs).

Drives LibMTL's weighting classes (PCGrad, GradVac, CAGrad, MGDA, IMTL, Nash_MTL, Aligned_MTL,
FAMO) and the `conflictfree` package's ConFIG_update on fixed, seeded gradients for K = 2, 3 and 5
paths, and writes small JSON fixtures to OUT_DIR (tests/fixtures/align_k/):

- cases.json: one-step methods on conflicting and non-conflicting gradient sets;
- sequences.json: stateful methods over several steps (GradVac at the three granularities with
  K = 3, Nash-MTL, FAMO with its update after each step).

Usage:
    python3 scripts/libmtl_align_reference.py LIBMTL_CHECKOUT OUT_DIR

LIBMTL_CHECKOUT is a checkout of LibMTL (median-research-group/LibMTL, commit
4336804847eaa5e0b924b743d76beec7ac3fdc97 of 2025-05-14). Needs torch, numpy, scipy, cvxpy (with
ECOS: pip install ecos) and conflictfree (0.1.8). Only LibMTL's weighting modules are loaded, without its package
__init__ (which imports the trainer and models).

How each class is driven: a host module whose shared parameters are all-zero tensors gets the
losses l_k(p) = g_k·p + c_k, so the gradient of path k is exactly g_k and its loss value c_k.
Torch runs in float64 so the references carry no float32 rounding; the gradients themselves are
float32 values. LibMTL's quirks kept in the fixtures (the Rust side documents them):
PCGrad and GradVac return the *sum* of the modified gradients (Rust takes the mean: compare
sum/K); their random.shuffle orders are recorded and replayed; Aligned_MTL calls torch.symeig,
removed from torch, which is supplied here as torch.linalg.eigh; MGDA runs with mgda_gn='none'.
"""

import importlib
import json
import os
import random
import sys
import types

import numpy as np
import torch
import torch.nn as nn


def load_libmtl(checkout):
    """Imports LibMTL.weighting.* modules without running LibMTL/__init__.py."""
    root = os.path.join(os.path.abspath(checkout), "LibMTL")
    for name, path in [("LibMTL", root), ("LibMTL.weighting", os.path.join(root, "weighting"))]:
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
    classes = {}
    for mod, cls in [("PCGrad", "PCGrad"), ("GradVac", "GradVac"), ("CAGrad", "CAGrad"),
                     ("MGDA", "MGDA"), ("IMTL", "IMTL"), ("Nash_MTL", "Nash_MTL"),
                     ("Aligned_MTL", "Aligned_MTL"), ("FAMO", "FAMO")]:
        classes[cls] = getattr(importlib.import_module(f"LibMTL.weighting.{mod}"), cls)
    return classes


# torch.symeig was removed from torch; Aligned_MTL still calls it.
def _symeig(m, eigenvectors=True):
    values, vectors = torch.linalg.eigh(m)
    return values, vectors


torch.symeig = _symeig

RECORDED_ORDERS = []
_original_shuffle = random.shuffle


def recording_shuffle(items):
    _original_shuffle(items)
    RECORDED_ORDERS.append(list(items))


random.shuffle = recording_shuffle


def make_host(cls, k, sizes):
    """A LibMTL weighting object over shared parameters made of nn.Linear layers or one vector."""

    class Host(cls):
        def __init__(self):
            super().__init__()
            self.task_num = k
            self.device = torch.device("cpu")
            self.rep_grad = False
            if sizes is None:
                self.encoder = nn.Sequential(nn.Linear(10, 8), nn.Linear(8, 6))
            else:
                self.encoder = nn.ParameterList([nn.Parameter(torch.zeros(s)) for s in sizes])
            with torch.no_grad():
                for p in self.encoder.parameters():
                    p.zero_()

        def get_share_params(self):
            return self.encoder.parameters()

        def zero_grad_share_params(self):
            self.encoder.zero_grad(set_to_none=False)

    host = Host()
    host.init_param()
    return host


def losses_for(host, grads, values):
    params = list(host.get_share_params())
    flat = torch.cat([p.view(-1) for p in params])
    return torch.stack([torch.dot(torch.tensor(g, dtype=torch.float64), flat) + v
                        for g, v in zip(grads, values)])


def result_grad(host):
    return torch.cat([p.grad.view(-1) for p in host.get_share_params()]).tolist()


def gradient_set(rng, k, n, conflicting):
    base = rng.standard_normal(n)
    grads = []
    for i in range(k):
        noise = rng.standard_normal(n)
        if conflicting and i > 0:
            g = -0.6 * base * (0.5 + i / k) + 0.8 * noise
        else:
            g = 0.7 * base + 0.6 * noise
        grads.append((g * (0.5 + rng.random())).astype(np.float32))
    return [g.astype(np.float64) for g in grads]


def run_one(classes, name, grads, losses, kwargs):
    k, n = len(grads), len(grads[0])
    host = make_host(classes[name], k, [n])
    RECORDED_ORDERS.clear()
    ret = host.backward(losses_for(host, grads, losses), **kwargs)
    return host, ret, result_grad(host), [list(o) for o in RECORDED_ORDERS]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    torch.set_default_dtype(torch.float64)
    import cvxpy
    # Nash_MTL swallows solver errors and keeps α = 1 when cvxpy has no ECOS (cvxpy ≥ 1.6 no
    # longer installs it): refuse to write such a fixture.
    if "ECOS" not in cvxpy.installed_solvers():
        sys.exit("cvxpy has no ECOS solver: pip install ecos")
    classes = load_libmtl(sys.argv[1])
    from conflictfree.grad_operator import ConFIG_update

    out_dir = sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20240917)
    random.seed(7)
    cases = []
    for k in (2, 3, 5):
        for conflicting in (True, False):
            n = 120
            grads = gradient_set(rng, k, n, conflicting)
            losses = [float(v) for v in 0.2 + rng.random(k)]
            case = {"k": k, "conflicting": conflicting,
                    "grads": [g.tolist() for g in grads], "losses": losses}
            _, _, out, orders = run_one(classes, "PCGrad", grads, losses, {})
            case["pcgrad"] = {"orders": orders, "sum": out}
            _, x, out, _ = run_one(classes, "CAGrad", grads, losses, {"calpha": 0.5, "rescale": 1})
            case["cagrad"] = {"x": list(map(float, x)), "out": out}
            _, sol, out, _ = run_one(classes, "MGDA", grads, losses, {"mgda_gn": "none"})
            case["mgda"] = {"weights": list(map(float, sol)), "out": out}
            _, alpha, out, _ = run_one(classes, "IMTL", grads, losses, {})
            case["imtl_g"] = {"weights": list(map(float, alpha)), "out": out}
            _, alpha, out, _ = run_one(classes, "Aligned_MTL", grads, losses, {})
            case["aligned_mtl"] = {"weights": list(map(float, alpha)), "out": out}
            cfg = ConFIG_update([torch.tensor(g) for g in grads])
            case["config"] = {"out": cfg.tolist()}
            cases.append(case)

    sequences = {}
    # GradVac, K = 3, four steps, on two nn.Linear layers (142 parameters in four tensors).
    k, steps = 3, 4
    n = 10 * 8 + 8 + 8 * 6 + 6
    seq_grads = [gradient_set(rng, k, n, s % 2 == 0) for s in range(steps)]
    gradvac = {"k": k, "beta": 0.5, "tensor_sizes": [80, 8, 48, 6],
               "tensor_names": ["0.weight", "0.bias", "1.weight", "1.bias"],
               "grads": [[g.tolist() for g in gs] for gs in seq_grads], "runs": {}}
    for granularity, group_type in (("whole", 0), ("layer", 1), ("tensor", 2)):
        host = make_host(classes["GradVac"], k, None)
        run = {"orders": [], "sums": [], "rho_t": []}
        for gs in seq_grads:
            # As the trainer's optimizer.zero_grad(): otherwise the previous step's combined
            # gradient would be added to the first task's.
            host.zero_grad_share_params()
            RECORDED_ORDERS.clear()
            host.backward(losses_for(host, gs, [1.0] * k), GradVac_beta=0.5,
                          GradVac_group_type=group_type)
            run["orders"].append([list(o) for o in RECORDED_ORDERS])
            run["sums"].append(result_grad(host))
            run["rho_t"].append(host.rho_T.tolist())
        gradvac["runs"][granularity] = run
    sequences["gradvac"] = gradvac

    # Nash-MTL (LibMTL defaults) and FAMO over five steps for K = 3 and 5.
    nash, famo = [], []
    for k in (3, 5):
        n = 100
        seq = [gradient_set(rng, k, n, s % 2 == 1) for s in range(5)]
        loss_seq = [[float(v) for v in 0.3 + rng.random(k)] for _ in range(5)]
        after_seq = [[float(v) * (0.7 + 0.5 * rng.random()) for v in ls] for ls in loss_seq]
        host = make_host(classes["Nash_MTL"], k, [n])
        nash_steps = []
        for gs, ls in zip(seq, loss_seq):
            for p in host.get_share_params():
                p.grad = None
            alpha = host.backward(losses_for(host, gs, ls), update_weights_every=1,
                                  optim_niter=20, max_norm=1.0)
            nash_steps.append({"alpha": list(map(float, alpha)), "out": result_grad(host)})
        nash.append({"k": k, "grads": [[g.tolist() for g in gs] for gs in seq],
                     "steps": nash_steps})
        host = make_host(classes["FAMO"], k, [n])
        famo_steps = []
        for gs, ls, la in zip(seq, loss_seq, after_seq):
            for p in host.get_share_params():
                p.grad = None
            host.backward(losses_for(host, gs, ls), FAMO_w_lr=0.025, FAMO_w_gamma=1e-3)
            out = result_grad(host)
            host.update_w(torch.tensor(la))
            famo_steps.append({"losses": ls, "losses_after": la, "out": out,
                               "w_after": host.w.detach().tolist()})
        famo.append({"k": k, "grads": [[g.tolist() for g in gs] for gs in seq],
                     "steps": famo_steps})
    sequences["nash_mtl"] = nash
    sequences["famo"] = famo

    def rounded(value):
        # Ten significant digits: far below every tolerance, and a third of the file size.
        if isinstance(value, float):
            return float(f"{value:.10g}")
        if isinstance(value, list):
            return [rounded(v) for v in value]
        if isinstance(value, dict):
            return {key: rounded(v) for key, v in value.items()}
        return value

    def dump(name, value):
        value = rounded(value)
        path = os.path.join(out_dir, name)
        with open(path, "w") as f:
            json.dump(value, f, separators=(",", ":"))
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    dump("cases.json", cases)
    dump("sequences.json", sequences)


if __name__ == "__main__":
    main()
