#!/usr/bin/env python3
"""Reference values for gradient alignment, optimizers, schedules and SAM perturbations.

Runs the reference implementations on fixed, seeded vectors and writes the JSON fixtures under
tests/fixtures/optim/ that the Rust unit tests compare against:

- align.json: dpda_ga's grad_align PCGrad / GradVac / CAGrad (the DPDA paper's code) on pairs of
  float32 gradients, including a GradVac sequence that carries its EMA target across steps;
- optim.json: torch.optim Adam / AdamW / SGD (+ momentum, Nesterov, clip_grad_norm_) trajectories
  over 20 steps on f(p) with gradient g_t + 0.5 p (g_t fixed noise);
- schedule.json: torch.optim.lr_scheduler CosineAnnealingLR and LinearLR -> CosineAnnealingLR;
- sam.json: SAM-AntiSpoofing's SAM.first_step perturbation (plain and adaptive).

Usage:
    python3 scripts/optim_reference.py --dpda-ga PATH/TO/dpda_ga \
        --sam-antispoofing PATH/TO/SAM-AntiSpoofing [--out tests/fixtures/optim]

Needs torch, numpy, scipy. dpda_ga's GradVac creates its state on CUDA; the script builds the
object without __init__ and puts the state on the CPU instead.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch


def f32_list(t):
    return [float(x) for x in np.asarray(t, dtype=np.float32).ravel()]


def pair_with_cos(rng, n, cos, scale):
    a = rng.standard_normal(n)
    z = rng.standard_normal(n)
    z -= z.dot(a) / a.dot(a) * a
    b = scale * np.linalg.norm(a) * (cos * a / np.linalg.norm(a) + np.sqrt(1 - cos**2) * z / np.linalg.norm(z))
    return a.astype(np.float32), b.astype(np.float32)


def align_cases(dpda_ga):
    sys.path.insert(0, dpda_ga)
    from grad_align.pcgrad import PCGrad
    from grad_align.gradvac import GradVac
    from grad_align.cagrad import CAGrad

    rng = np.random.default_rng(20240601)
    n = 48
    pairs = [pair_with_cos(rng, n, c, s) for c, s in
             [(-0.8, 1.0), (-0.3, 2.5), (-0.05, 0.4), (0.2, 1.0), (0.6, 3.0), (0.97, 0.8)]]
    ones = [torch.ones(n), torch.ones(n)]

    pcgrad = PCGrad(None)
    cagrad = CAGrad(None)
    cases = []
    for g1, g2 in pairs:
        t1, t2 = torch.from_numpy(g1.copy()), torch.from_numpy(g2.copy())
        pc = pcgrad._project_conflicting([t1.clone(), t2.clone()], ones)
        ca = cagrad._project_conflicting([t1.clone(), t2.clone()], ones)
        cases.append({"g_orig": f32_list(g1), "g_aug": f32_list(g2),
                      "pcgrad": f32_list(pc.numpy()), "cagrad": f32_list(ca.numpy())})

    gradvac = GradVac.__new__(GradVac)
    gradvac._optim, gradvac._reduction = None, "mean"
    gradvac.task_num, gradvac.k_idx, gradvac.beta = 2, [-1], 0.5
    gradvac.rho_T = torch.zeros(2, 2, 1)
    sequence = []
    for c, s in [(0.5, 1.0), (0.3, 2.0), (-0.4, 1.0), (0.1, 0.5), (0.9, 1.0), (0.05, 3.0)]:
        g1, g2 = pair_with_cos(rng, n, c, s)
        target_before = float(gradvac.rho_T[0, 1, 0])
        out = gradvac._project_gradvac([torch.from_numpy(g1.copy()), torch.from_numpy(g2.copy())])
        sequence.append({"g_orig": f32_list(g1), "g_aug": f32_list(g2),
                         "target_before": target_before,
                         "target_after": float(gradvac.rho_T[0, 1, 0]),
                         "target_after_reverse": float(gradvac.rho_T[1, 0, 0]),
                         "out": f32_list(out.numpy())})
    return {"source": "dpda_ga grad_align (pcgrad.py, gradvac.py, cagrad.py), torch float32",
            "pairs": cases, "gradvac_beta": 0.5, "gradvac_sequence": sequence}


def optim_cases():
    rng = np.random.default_rng(7)
    n, steps = 16, 20
    p0 = rng.standard_normal(n).astype(np.float32)
    noise = (rng.standard_normal((steps, n)) * 0.5).astype(np.float32)
    configs = [
        {"name": "adam_l2", "kind": "adam", "lr": 1e-2, "weight_decay": 1e-2},
        {"name": "adam_paper", "kind": "adam", "lr": 1e-3, "weight_decay": 1e-4},
        {"name": "adamw", "kind": "adamw", "lr": 1e-2, "weight_decay": 0.1, "beta1": 0.8,
         "beta2": 0.99, "eps": 1e-6},
        {"name": "sgd_momentum", "kind": "sgd", "lr": 0.05, "momentum": 0.9},
        {"name": "sgd_nesterov_wd", "kind": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True,
         "weight_decay": 1e-3},
        {"name": "adam_clipped", "kind": "adam", "lr": 1e-2, "max_grad_norm": 1.0},
        {"name": "sgd_plain", "kind": "sgd", "lr": 0.1},
    ]
    out = []
    for cfg in configs:
        p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
        betas = (cfg.get("beta1", 0.9), cfg.get("beta2", 0.999))
        if cfg["kind"] == "adam":
            opt = torch.optim.Adam([p], lr=cfg["lr"], betas=betas, eps=cfg.get("eps", 1e-8),
                                   weight_decay=cfg.get("weight_decay", 0.0))
        elif cfg["kind"] == "adamw":
            opt = torch.optim.AdamW([p], lr=cfg["lr"], betas=betas, eps=cfg.get("eps", 1e-8),
                                    weight_decay=cfg.get("weight_decay", 0.01))
        else:
            opt = torch.optim.SGD([p], lr=cfg["lr"], momentum=cfg.get("momentum", 0.0),
                                  nesterov=cfg.get("nesterov", False),
                                  weight_decay=cfg.get("weight_decay", 0.0))
        trajectory, norms = [], []
        for t in range(steps):
            with torch.no_grad():
                p.grad = torch.from_numpy(noise[t].copy()) + 0.5 * p.detach()
            if "max_grad_norm" in cfg:
                norms.append(float(torch.nn.utils.clip_grad_norm_([p], cfg["max_grad_norm"])))
            opt.step()
            trajectory.append(f32_list(p.detach().numpy()))
        out.append({**cfg, "trajectory": trajectory, "grad_norms": norms})
    return {"source": f"torch.optim {torch.__version__} CPU, float32",
            "grad_rule": "g_t = noise[t] + 0.5 * p (float32)",
            "p0": f32_list(p0), "noise": [f32_list(r) for r in noise], "configs": out}


def schedule_cases():
    cases = []
    for base_lr, eta_min, total, warmup, start in [(1e-3, 0.0, 30, 0, 1.0), (0.1, 1e-3, 25, 5, 0.1),
                                                   (1e-6, 1e-8, 12, 3, 0.5)]:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=base_lr)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=eta_min)
        if warmup > 0:
            linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=start, end_factor=1.0,
                                                       total_iters=warmup)
            sched = torch.optim.lr_scheduler.SequentialLR(opt, [linear, cosine], milestones=[warmup])
        else:
            sched = cosine
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        cases.append({"base_lr": base_lr, "eta_min": eta_min, "total_steps": total,
                      "warmup_steps": warmup, "warmup_start_factor": start, "lrs": lrs})
    return {"source": f"torch.optim.lr_scheduler {torch.__version__}", "cases": cases}


def sam_cases(sam_repo):
    sys.path.insert(0, sam_repo)
    from optimizers.sam import SAM

    rng = np.random.default_rng(99)
    cases = []
    for adaptive, rho, scale in [(False, 0.05, 1.0), (True, 0.05, 1.0), (False, 0.002, 1e-3),
                                 (True, 0.5, 10.0)]:
        w = rng.standard_normal(32).astype(np.float32)
        g = (rng.standard_normal(32) * scale).astype(np.float32)
        p = torch.nn.Parameter(torch.from_numpy(w.copy()))
        p.grad = torch.from_numpy(g.copy())
        opt = SAM([p], torch.optim.SGD, rho=rho, adaptive=adaptive, lr=0.1)
        opt.first_step()
        eps = p.detach().numpy() - w
        cases.append({"adaptive": adaptive, "rho": rho, "params": f32_list(w), "grads": f32_list(g),
                      "perturbed": f32_list(p.detach().numpy()), "epsilon": f32_list(eps)})
    return {"source": "SAM-AntiSpoofing optimizers/sam.py SAM.first_step, torch float32",
            "cases": cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dpda-ga", required=True, help="checkout of ductuantruong/dpda_ga")
    parser.add_argument("--sam-antispoofing", required=True,
                        help="checkout of nii-yamagishilab/SAM-AntiSpoofing")
    parser.add_argument("--out", default=os.path.join("tests", "fixtures", "optim"))
    args = parser.parse_args()
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)
    for name, data in [("align.json", align_cases(args.dpda_ga)), ("optim.json", optim_cases()),
                       ("schedule.json", schedule_cases()),
                       ("sam.json", sam_cases(args.sam_antispoofing))]:
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        print("wrote", os.path.join(args.out, name))


if __name__ == "__main__":
    main()
