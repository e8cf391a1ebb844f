#!/usr/bin/env python3
"""Reference fits for score calibration (src/metrics/calibration.rs) with scikit-learn.

Writes tests/fixtures/calibration/reference.json: fixed score sets drawn from a seeded numpy
generator and, for each set and setting, scikit-learn's LogisticRegression fit of the same
objective as ours:

    minimise  pi/n+ * sum softplus(-(a*s+ + c)) + (1-pi)/n- * sum softplus(a*s- + c) + lam/2 * a^2

i.e. LogisticRegression(C = 1/lam) with sample weights pi/n+ (bona fide) and (1-pi)/n- (spoof);
its intercept c is b + logit(pi), so the LLR offset is b = c - logit(pi). The solver is
newton-cholesky with a tight tolerance, so the reference is converged well below 1e-6.

Usage: python3 scripts/calibration_reference.py   (needs numpy and scikit-learn)
"""
import json
import math
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "calibration", "reference.json")


def score_sets():
    rng = np.random.default_rng(20251203)
    sets = {}
    # Overlapping raw logits, badly scaled and shifted (as an over-confident detector's).
    sets["overlap"] = (rng.normal(3.0, 4.0, 120), rng.normal(-2.0, 5.0, 80))
    # Unbalanced counts, narrow scores.
    sets["unbalanced"] = (rng.normal(0.4, 0.3, 30), rng.normal(-0.1, 0.3, 170))
    # Perfectly separable: only the ridge keeps the slope finite.
    sets["separable"] = (rng.uniform(1.0, 4.0, 60), rng.uniform(-5.0, 0.5, 140))
    return sets


def fit(bona, spoof, prior, ridge):
    s = np.concatenate([bona, spoof])[:, None]
    y = np.concatenate([np.ones(len(bona)), np.zeros(len(spoof))])
    w = np.concatenate([np.full(len(bona), prior / len(bona)), np.full(len(spoof), (1 - prior) / len(spoof))])
    model = LogisticRegression(C=1.0 / ridge, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    model.fit(s, y, sample_weight=w)
    a = float(model.coef_[0, 0])
    b = float(model.intercept_[0]) - math.log(prior / (1 - prior))
    return a, b


def main():
    cases = []
    for name, (bona, spoof) in score_sets().items():
        for prior, ridge in [(0.5, 1e-4), (0.2, 1e-4), (0.5, 1e-2)]:
            a, b = fit(bona, spoof, prior, ridge)
            probe = np.linspace(-6.0, 6.0, 13)
            cases.append({
                "name": f"{name} prior {prior} ridge {ridge}",
                "bonafide": bona.tolist(),
                "spoof": spoof.tolist(),
                "prior": prior,
                "ridge": ridge,
                "a": a,
                "b": b,
                "probe_scores": probe.tolist(),
                "probe_llrs": (a * probe + b).tolist(),
            })
    out = {"generator": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}", "cases": cases}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for c in cases:
        print(f"{c['name']:40s} a {c['a']:.9f} b {c['b']:.9f}")


if __name__ == "__main__":
    main()
