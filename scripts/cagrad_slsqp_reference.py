#!/usr/bin/env python3
"""Reference values for CAGrad's simplex weight as the DPDA paper's code finds it with SLSQP.

dpda_ga's grad_align/cagrad.py picks the weight w of the two gradients by calling
scipy.optimize.minimize(objective, [0.5, 0.5], bounds=[(0, 1), (0, 1)], constraints=sum = 1),
which is SLSQP with its default tolerances (ftol 1e-6, finite-difference gradients, at most 100
iterations). For small gradients SLSQP stops at once and w stays 0.5. The Rust "reference" CAGrad
solver (src/train/slsqp.rs) follows SLSQP's iterations for this problem; this script writes what
scipy returns so that the tests can compare (tests/fixtures/optim/cagrad_slsqp.json):

- "gram_cases": the 2x2 Gram matrix A (float32 values, as cagrad.py passes them to numpy), the
  scalar c' of the objective (computed in float32 as cagrad.py does) and scipy's result x, its
  iteration count and exit status, over gradient scales 1e-4 ... 10, cosines and norm ratios.
  The objective is written exactly as cagrad.py's objfn; only numpy and scipy are needed.
- "vector_cases" (only with --dpda-ga and torch): pairs of float32 gradients run through dpda_ga's
  own CAGrad._project_conflicting, with the weight SLSQP returned (captured by wrapping the
  `minimize` that cagrad.py imported) and the combined gradient.

Usage:
    python3 scripts/cagrad_slsqp_reference.py [--dpda-ga PATH/TO/dpda_ga] \
        [--out tests/fixtures/optim/cagrad_slsqp.json]
"""

import argparse
import json
import os
import sys

import numpy as np
import scipy
from scipy.optimize import minimize


def reference_c(gram_f32):
    """c' = 0.5 * sqrt(mean(G) + 1e-8) + 1e-8, in float32 as torch computes it in cagrad.py."""
    f = np.float32
    g0_norm = np.sqrt(f(gram_f32.mean(dtype=np.float32)) + f(1e-8))
    return float(f(f(0.5) * f(g0_norm) + f(1e-8)))


def slsqp_weight(gram_f32, c):
    """scipy's SLSQP on the objective exactly as dpda_ga's cagrad.py writes it."""
    x_start = np.ones(2) / 2
    bnds = tuple((0, 1) for _ in x_start)
    cons = ({'type': 'eq', 'fun': lambda x: 1 - sum(x)})
    A = gram_f32
    b = x_start.copy()

    def objfn(x):
        return (x.reshape(1, -1).dot(A).dot(b.reshape(-1, 1))
                + c * np.sqrt(x.reshape(1, -1).dot(A).dot(x.reshape(-1, 1)) + 1e-8)).sum()

    return minimize(objfn, x_start, bounds=bnds, constraints=cons)


def gram_of(norm1, norm2, cos):
    g12 = cos * norm1 * norm2
    return np.array([[norm1 * norm1, g12], [g12, norm2 * norm2]], dtype=np.float32)


def gram_cases():
    specs = []
    # Norm ratios near 1 give interior weights; far from 1 the weight goes to an end.
    for scale in [1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 10.0]:
        for cos in [-0.9, -0.3, 0.4, 0.95]:
            for ratio in [0.4, 0.85, 1.15, 2.0]:
                specs.append((scale, scale * ratio, cos))
    rng = np.random.default_rng(20250611)
    for _ in range(24):
        scale = 10 ** rng.uniform(-4, 1)
        specs.append((scale, scale * 10 ** rng.uniform(-0.3, 0.3), rng.uniform(-0.99, 0.99)))
    cases = []
    for norm1, norm2, cos in specs:
        gram = gram_of(norm1, norm2, cos)
        c = reference_c(gram)
        res = slsqp_weight(gram, c)
        cases.append({"gram": [[float(v) for v in row] for row in gram], "c": c,
                      "x": [float(v) for v in res.x], "nit": int(res.nit),
                      "status": int(res.status)})
    return cases


def pair_with_cos(rng, n, cos, scale):
    a = rng.standard_normal(n)
    z = rng.standard_normal(n)
    z -= z.dot(a) / a.dot(a) * a
    b = np.linalg.norm(a) * (cos * a / np.linalg.norm(a) + np.sqrt(1 - cos**2) * z / np.linalg.norm(z))
    return a, b


def vector_cases(dpda_ga):
    import torch
    sys.path.insert(0, dpda_ga)
    import grad_align.cagrad as cagrad_module

    captured = []
    real_minimize = cagrad_module.minimize

    def recording_minimize(*args, **kwargs):
        res = real_minimize(*args, **kwargs)
        captured.append(res)
        return res

    cagrad_module.minimize = recording_minimize
    solver = cagrad_module.CAGrad(None)
    rng = np.random.default_rng(20250612)
    n = 24
    ones = [torch.ones(n), torch.ones(n)]
    cases = []
    for scale, scale_aug, cos in [(1e-3, 2e-3, -0.5), (5e-3, 4e-3, 0.2), (2e-2, 1e-2, -0.7),
                                  (0.1, 0.09, -0.3), (0.1, 0.3, -0.3), (0.5, 0.55, 0.0),
                                  (2.0, 1.8, -0.9), (6.0, 9.0, 0.1)]:
        a, b = pair_with_cos(rng, n, cos, 1.0)
        g1 = (a / np.linalg.norm(a) * scale).astype(np.float32)
        g2 = (b / np.linalg.norm(b) * scale_aug).astype(np.float32)
        captured.clear()
        out = solver._project_conflicting([torch.from_numpy(g1.copy()), torch.from_numpy(g2.copy())],
                                          ones)
        (res,) = captured
        cases.append({"g_orig": [float(v) for v in g1], "g_aug": [float(v) for v in g2],
                      "x": [float(v) for v in res.x], "nit": int(res.nit),
                      "out": [float(v) for v in out.numpy().astype(np.float32)]})
    cagrad_module.minimize = real_minimize
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dpda-ga", help="checkout of ductuantruong/dpda_ga (needs torch)")
    parser.add_argument("--out", default=os.path.join("tests", "fixtures", "optim",
                                                      "cagrad_slsqp.json"))
    args = parser.parse_args()
    data = {
        "source": "scipy.optimize.minimize(method='SLSQP') on dpda_ga grad_align/cagrad.py's "
                  f"objective; scipy {scipy.__version__}, numpy {np.__version__}",
        "gram_cases": gram_cases(),
        "vector_cases": vector_cases(args.dpda_ga) if args.dpda_ga else [],
    }
    # One case per line: small, and a changed case shows as a changed line.
    compact = lambda v: json.dumps(v, separators=(",", ":"))
    lines = ["{", f' "source": {json.dumps(data["source"])},']
    for key, last in [("gram_cases", False), ("vector_cases", True)]:
        rows = ",\n".join("  " + compact(case) for case in data[key])
        lines.append(f' "{key}": [\n{rows}\n ]' + ("" if last else ","))
    lines.append("}")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", args.out, f"({len(data['gram_cases'])} Gram cases, "
          f"{len(data['vector_cases'])} vector cases)")


if __name__ == "__main__":
    main()
