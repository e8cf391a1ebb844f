#!/usr/bin/env python3
"""Golden values for the metrics module, produced by the official ASVspoof reference code.

The reference implementations are NOT part of this repository. Check them out yourself and point
this script at them:

    git clone https://github.com/clovaai/aasist               REFS/aasist
    git clone https://github.com/asvspoof-challenge/2021      REFS/asvspoof2021
    git clone https://github.com/asvspoof-challenge/asvspoof5 REFS/asvspoof5
    python3 scripts/metrics_reference.py --reference-dir REFS \
        --out tests/fixtures/metrics/golden.json

Functions used (imported, not transcribed):
  * aasist/evaluation.py: compute_eer, compute_det_curve, obtain_asv_error_rates and
    compute_tDCF (the ASVspoof 2019 "legacy" t-DCF);
  * asvspoof2021/eval-package/eval_metrics.py: compute_eer, compute_det_curve,
    obtain_asv_error_rates, compute_tDCF (2021 formulation with C0), compute_tDCF_legacy;
    asvspoof2021/eval-package/eval_wrapper.py: get_tDCF_C012_from_asv_scores, get_mintDCF_eer;
  * asvspoof5/evaluation-package/calculate_modules.py: compute_eer, compute_mindcf,
    compute_actDCF, calculate_CLLR.

Score sets are generated here with a seeded numpy generator: random, heavily tied (rounded to one
decimal), tiny, all-equal, separable, reversed and LLR-like sets. Needs numpy only.
"""
import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np


def load_module(name, path, extra_sys_path=None):
    if extra_sys_path is not None:
        sys.path.insert(0, str(extra_sys_path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def floats(a):
    return [float(x) for x in np.asarray(a, dtype=np.float64)]


def score_sets():
    rng = np.random.default_rng(20240611)
    sets = []
    sets.append(("random_200_300", rng.normal(1.0, 1.0, 200), rng.normal(-1.0, 1.5, 300)))
    sets.append(("ties_rounded_1dp",
                 np.round(rng.normal(0.5, 0.6, 150), 1), np.round(rng.normal(-0.2, 0.6, 250), 1)))
    sets.append(("ties_integers_cross_class",
                 rng.integers(-2, 3, 40).astype(float), rng.integers(-3, 2, 60).astype(float)))
    sets.append(("tiny_1_1", np.array([0.3]), np.array([0.1])))
    sets.append(("tiny_2_3", np.array([0.2, 0.9]), np.array([0.5, 0.1, 0.95])))
    sets.append(("all_equal", np.full(5, 0.5), np.full(7, 0.5)))
    sets.append(("separable", rng.uniform(1.0, 2.0, 30), rng.uniform(-2.0, 0.5, 40)))
    sets.append(("reversed", rng.uniform(-2.0, -1.0, 20), rng.uniform(0.0, 1.0, 25)))
    sets.append(("llr_like_unbalanced", rng.normal(2.0, 1.5, 80), rng.normal(-3.0, 2.0, 400)))
    sets.append(("signed_zeros_and_ties",
                 np.array([0.0, -0.0, 1.0, 1.0, -1.0]), np.array([-0.0, 0.0, -1.0, 2.0, 0.5, -1.0])))
    return sets


def asv_sets():
    rng = np.random.default_rng(7)
    return {
        "asv_random": {
            "target": rng.normal(3.0, 1.0, 120),
            "nontarget": rng.normal(-2.0, 1.0, 100),
            "spoof": rng.normal(1.0, 1.5, 110),
        },
        "asv_tied": {
            "target": np.round(rng.normal(2.0, 1.0, 60), 0),
            "nontarget": np.round(rng.normal(-1.0, 1.0, 50), 0),
            "spoof": np.round(rng.normal(0.5, 1.0, 40), 0),
        },
    }


def call_or_error(fn):
    """Run a reference function; its sanity checks call sys.exit, which we record as an error."""
    try:
        return fn(), None
    except SystemExit as e:
        return None, str(e.code)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference-dir", required=True, type=Path,
                    help="folder holding checkouts named aasist, asvspoof2021 and asvspoof5")
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/metrics/golden.json"))
    args = ap.parse_args()
    ref = args.reference_dir

    aasist = load_module("aasist_evaluation", ref / "aasist" / "evaluation.py")
    pkg21 = ref / "asvspoof2021" / "eval-package"
    em21 = load_module("eval_metrics", pkg21 / "eval_metrics.py", extra_sys_path=pkg21)
    wrap21 = load_module("eval_wrapper21", pkg21 / "eval_wrapper.py")
    cm5 = load_module("calculate_modules5", ref / "asvspoof5" / "evaluation-package" / "calculate_modules.py")

    p_spoof = 0.05
    cost_2021 = {"Pspoof": p_spoof, "Ptar": (1 - p_spoof) * 0.99, "Pnon": (1 - p_spoof) * 0.01,
                 "Cmiss": 1, "Cfa": 10, "Cfa_spoof": 10}
    cost_legacy = {"Pspoof": p_spoof, "Ptar": (1 - p_spoof) * 0.99, "Pnon": (1 - p_spoof) * 0.01,
                   "Cmiss": 1, "Cfa": 10, "Cmiss_asv": 1, "Cfa_asv": 10, "Cmiss_cm": 1, "Cfa_cm": 10}

    asv = asv_sets()
    asv_out = {}
    for name, s in asv.items():
        tar, non, spf = s["target"], s["nontarget"], s["spoof"]
        eer_asv, thr_asv = em21.compute_eer(tar, non)
        pfa, pmiss, pmiss_spoof, pfa_spoof = em21.obtain_asv_error_rates(tar, non, spf, thr_asv)
        # AASIST's copy of the 2019 code returns three rates; they must agree with the 2021 ones.
        a_pfa, a_pmiss, a_pmiss_spoof = aasist.obtain_asv_error_rates(tar, non, spf, aasist.compute_eer(tar, non)[1])
        assert (a_pfa, a_pmiss, a_pmiss_spoof) == (pfa, pmiss, pmiss_spoof)
        c0, c1, c2 = wrap21.get_tDCF_C012_from_asv_scores(tar, non, spf, cost_2021)
        asv_out[name] = {
            "target": floats(tar), "nontarget": floats(non), "spoof": floats(spf),
            "eer": float(eer_asv), "threshold": float(thr_asv),
            "pfa_asv": float(pfa), "pmiss_asv": float(pmiss),
            "pmiss_spoof_asv": float(pmiss_spoof), "pfa_spoof_asv": float(pfa_spoof),
            "c0": float(c0), "c1": float(c1), "c2": float(c2),
        }

    cases = []
    for name, bona, spoof in score_sets():
        bona = np.asarray(bona, dtype=np.float64)
        spoof = np.asarray(spoof, dtype=np.float64)
        eer, thr = em21.compute_eer(bona, spoof)
        # The three packages share compute_eer; check they agree before trusting any of them.
        assert (eer, thr) == tuple(aasist.compute_eer(bona, spoof))
        eer5, frr, far, thresholds, thr5 = cm5.compute_eer(bona, spoof)
        assert (eer5, thr5) == (eer, thr)
        min_dcf, min_dcf_thr = cm5.compute_mindcf(frr, far, thresholds, p_spoof, 1, 10)
        act_dcf, act_thr = cm5.compute_actDCF(bona, spoof, p_spoof, 1, 10)
        cllr = cm5.calculate_CLLR(bona, spoof)
        case = {
            "name": name, "bonafide": floats(bona), "spoof": floats(spoof),
            "eer": float(eer), "eer_threshold": float(thr),
            "min_dcf": float(min_dcf), "min_dcf_threshold": float(min_dcf_thr),
            "act_dcf": float(act_dcf), "act_dcf_threshold": float(act_thr),
            "cllr": float(cllr),
            "det": None, "tdcf": [],
        }
        if bona.size + spoof.size <= 60:
            case["det"] = {"frr": floats(frr), "far": floats(far), "thresholds": floats(thresholds)}
        for asv_name, a in asv_out.items():
            entry = {"asv": asv_name}
            res, err = call_or_error(lambda: em21.compute_tDCF(
                bona, spoof, a["pfa_asv"], a["pmiss_asv"], a["pfa_spoof_asv"], cost_2021, False))
            entry["min_tdcf_2021"] = None if res is None else float(res[0].min())
            entry["min_tdcf_2021_threshold"] = None if res is None else float(res[1][np.argmin(res[0])])
            entry["error_2021"] = err
            res, err = call_or_error(lambda: wrap21.get_mintDCF_eer(bona, spoof, a["c0"], a["c1"], a["c2"]))
            entry["min_tdcf_c012"] = None if res is None else float(res[0])
            res, err = call_or_error(lambda: aasist.compute_tDCF(
                bona, spoof, a["pfa_asv"], a["pmiss_asv"], a["pmiss_spoof_asv"], cost_legacy, False))
            entry["min_tdcf_legacy"] = None if res is None else float(res[0].min())
            entry["min_tdcf_legacy_threshold"] = None if res is None else float(res[1][np.argmin(res[0])])
            entry["error_legacy"] = err
            res21, _ = call_or_error(lambda: em21.compute_tDCF_legacy(
                bona, spoof, a["pfa_asv"], a["pmiss_asv"], a["pmiss_spoof_asv"], cost_legacy, False))
            if res21 is not None and entry["min_tdcf_legacy"] is not None:
                assert float(res21[0].min()) == entry["min_tdcf_legacy"]
            case["tdcf"].append(entry)
        cases.append(case)

    out = {
        "generator": "scripts/metrics_reference.py (official ASVspoof 2019/2021/5 reference functions)",
        "costs": {"p_spoof": p_spoof, "c_miss": 1, "c_fa": 10, "c_fa_spoof": 10},
        "asv": asv_out,
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=0) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
