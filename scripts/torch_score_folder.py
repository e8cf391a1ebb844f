#!/usr/bin/env python3
"""The PyTorch side of `scripts/score_throughput.sh`: score a folder with a released AASIST model.

The authors' evaluation pipeline (clovaai/aasist, imported from the checkout named by
--reference-dir, never copied): `soundfile.read` -> `data_utils.pad(x, 64600)` -> the model in
eval mode under `torch.no_grad()` -> bona fide logit `[:, 1]`, with clips batched as `main.py`'s
evaluation loader batches them (--batch, the configuration's 24 by default). With --window-s the
clip is cut into windows of that length every --hop-s seconds, the last flush with the clip's end
(as `dpda score --window-s` places them), and every window is scored; --with-whole also scores
each clip whole, as `dpda score --window-s` does for its whole-against-windows check, so both
sides do the same work.

Prints `RESULT files=N windows=W loop_s=S wall_s=T clips_per_s=R` (loop_s: reading, padding and
scoring; wall_s: also the interpreter start, imports and model load) and, with --scores, writes
`<name> <score>` lines there to compare with dpda's.
"""
import time

START_S = time.perf_counter()

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

RATE_HZ = 16_000


def window_starts(num_samples, window_len, hop_len):
    if num_samples <= window_len:
        return [0]
    last = num_samples - window_len
    return list(range(0, last, hop_len)) + [last]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", required=True, help="clovaai/aasist checkout")
    parser.add_argument("--weights", required=True, help="AASIST.pth or AASIST-L.pth")
    parser.add_argument("--config", required=True, help="e.g. config/AASIST-L.conf in the checkout")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--window-s", type=float)
    parser.add_argument("--hop-s", type=float)
    parser.add_argument("--with-whole", action="store_true",
                        help="with --window-s, also score each clip whole (batched apart)")
    parser.add_argument("--scores", help="write <name> <score> lines here")
    parser.add_argument("inputs", help="folder of audio files")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.abspath(args.reference_dir))
    from data_utils import pad  # noqa: E402  (the reference evaluation padding)

    with open(args.config) as f:
        model_config = json.load(f)["model_config"]
    module = importlib.import_module(f"models.{model_config['architecture']}")
    model = module.Model(model_config)
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    model.eval()
    num_samples = model_config["nb_samp"]

    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(args.inputs)
        for name in names
        if name.lower().endswith((".wav", ".flac"))
    )
    loop_start_s = time.perf_counter()
    names = []
    # Window inputs and whole-clip inputs differ in length, so each kind is batched apart.
    inputs, owners, scores = [], [], {}
    whole_inputs, whole_owners, whole_scores = [], [], {}

    def flush(inputs, owners, scores):
        if not inputs:
            return
        with torch.no_grad():
            _, out = model(torch.Tensor(np.stack(inputs)))
        for owner, score in zip(owners, out[:, 1].tolist()):
            scores.setdefault(owner, []).append(score)
        inputs.clear()
        owners.clear()

    num_windows = 0
    for path in files:
        x, _ = sf.read(path, dtype="float32")
        name = os.path.relpath(path, args.inputs)
        names.append(name)
        if args.window_s is None:
            pieces = [pad(x, num_samples)]
        else:
            window = round(args.window_s * RATE_HZ)
            hop = round((args.hop_s or args.window_s) * RATE_HZ)
            pieces = [pad(x[s:], window) for s in window_starts(len(x), window, hop)]
            if args.with_whole:
                whole_inputs.append(pad(x, num_samples).astype(np.float32))
                whole_owners.append(name)
                if len(whole_inputs) == args.batch:
                    flush(whole_inputs, whole_owners, whole_scores)
        num_windows += len(pieces)
        for piece in pieces:
            inputs.append(piece.astype(np.float32))
            owners.append(name)
            if len(inputs) == args.batch:
                flush(inputs, owners, scores)
    flush(inputs, owners, scores)
    flush(whole_inputs, whole_owners, whole_scores)
    end_s = time.perf_counter()
    if args.scores:
        with open(args.scores, "w") as f:
            for name in names:
                # dpda's trial field: the path without its extension, % and spaces escaped.
                field = os.path.splitext(name)[0].replace("%", "%25").replace(" ", "%20")
                f.write(f"{field} {float(np.mean(scores[name]))}\n")
    loop_s = end_s - loop_start_s
    print(f"RESULT files={len(files)} windows={num_windows} loop_s={loop_s:.3f} "
          f"wall_s={end_s - START_S:.3f} clips_per_s={len(files) / loop_s:.3f}")


if __name__ == "__main__":
    main()
