#!/usr/bin/env python3
"""Reference outputs of the authors' AASIST implementation, for the parity tests of `dpda::nn::aasist`.

Needs torch and a checkout of clovaai/aasist (its `models/AASIST.py` is imported, never copied):

    python3 scripts/aasist_reference.py --reference-dir PATH/TO/aasist \
        [--pretrained-dir ../shared/data/pretrained] [--out tests/fixtures/aasist] [--bench]

Writes under --out:
  random_weights.safetensors  AASIST-L with seeded random weights (BatchNorm affine parameters and
                              running statistics randomised too, so eval mode is not an identity)
  random_io.safetensors       `clips` [2, 9000] f32; `logits_f64` (the model in float64) and
                              `logits_f32` (float32) in eval mode; `grad.<name>`: gradient of the
                              summed bona fide logit (column 1) w.r.t. <name>, eval mode, float64
  released_io.safetensors     `clips` [3, 16000] f32; `aasist_logits`, `aasist_l_logits`: eval-mode
                              logits of the released weights in float64 (only with --pretrained-dir)
  meta.json                   what produced the files
--bench times the eval-mode forward of AASIST-L on 8 x 64,600 samples with 2 torch threads.
"""

import argparse
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch

AASIST_L = {
    "architecture": "AASIST", "nb_samp": 64600, "first_conv": 128,
    "filts": [70, [1, 32], [32, 32], [32, 24], [24, 24]], "gat_dims": [24, 32],
    "pool_ratios": [0.4, 0.5, 0.7, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0],
}
AASIST = dict(AASIST_L, filts=[70, [1, 32], [32, 32], [32, 64], [64, 64]], gat_dims=[64, 32],
              pool_ratios=[0.5, 0.7, 0.5, 0.5])
GRAD_NAMES = ["encoder.0.0.conv1.weight", "encoder.5.0.conv2.bias", "GAT_layer_S.att_proj.weight",
              "HtrgGAT_layer_ST11.att_weight12", "HtrgGAT_layer_ST22.proj_with_attM.weight",
              "pool_hT2.proj.weight", "pos_S", "master2", "out_layer.weight"]
DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64"}


def write_safetensors(path, tensors):
    """Minimal safetensors writer (little-endian, header padded to 8 bytes)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for blob in blobs:
            f.write(blob)


def clips(num_clips, num_samples, seed):
    """Deterministic speech-band test signals: two sweeping tones plus noise, peak about 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / 16000.0
    out = []
    for i in range(num_clips):
        f0 = 120.0 + 60.0 * i
        tone = np.sin(2 * np.pi * (f0 * t + 400.0 * t ** 2)) + 0.5 * np.sin(2 * np.pi * 3.1 * f0 * t)
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * (2.0 + i) * t)
        x = envelope * tone + 0.05 * rng.standard_normal(num_samples)
        out.append(0.5 * x / np.max(np.abs(x)))
    return np.stack(out).astype(np.float32)


def to_double(model):
    """float64 copy; the sinc bank is a plain attribute that `.double()` does not convert."""
    model = model.double()
    model.conv_time.band_pass = model.conv_time.band_pass.double()
    return model


def state_to_numpy(model):
    return {k: v.detach().cpu().numpy().astype(np.float32)
            for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def random_part(Model, out):
    torch.manual_seed(20240611)
    model = Model(AASIST_L)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    n_params = sum(p.numel() for p in model.parameters())
    weights = state_to_numpy(model)
    write_safetensors(out / "random_weights.safetensors", weights)

    x = clips(2, 9000, seed=7)
    model.eval()
    with torch.no_grad():
        logits_f32 = model(torch.from_numpy(x))[1].numpy()
    model = to_double(model)
    _, logits = model(torch.from_numpy(x).double())
    logits[:, 1].sum().backward()
    params = dict(model.named_parameters())
    io = {"clips": x, "logits_f64": logits.detach().numpy(), "logits_f32": logits_f32}
    for name in GRAD_NAMES:
        io["grad." + name] = params[name].grad.numpy().copy()
    write_safetensors(out / "random_io.safetensors", io)
    return n_params


def released_part(Model, pretrained, out):
    x = clips(3, 16000, seed=11)
    io = {"clips": x}
    for config, file, key in [(AASIST, "AASIST.pth", "aasist_logits"),
                              (AASIST_L, "AASIST-L.pth", "aasist_l_logits")]:
        model = Model(config)
        model.load_state_dict(torch.load(pretrained / file, map_location="cpu"))
        model = to_double(model).eval()
        with torch.no_grad():
            io[key] = model(torch.from_numpy(x).double())[1].numpy()
    write_safetensors(out / "released_io.safetensors", io)


def bench(Model):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = Model(AASIST_L).eval()
    x = torch.from_numpy(clips(8, 64600, seed=3))
    with torch.no_grad():
        model(x)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    print(f"torch {torch.__version__}, 2 threads: AASIST-L eval forward 8 x 64600: "
          f"best {min(times):.3f} s, runs {[round(t, 3) for t in times]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference-dir", required=True, type=Path)
    parser.add_argument("--pretrained-dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/aasist"))
    parser.add_argument("--bench", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(args.reference_dir / "models"))
    from AASIST import Model  # noqa: E402  (the reference implementation)

    torch.set_num_threads(2)
    if args.bench:
        bench(Model)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    n_params = random_part(Model, args.out)
    meta = {"reference": "clovaai/aasist models/AASIST.py", "torch": torch.__version__,
            "aasist_l_parameters": n_params, "gradient": "d(sum of bona fide logits)/d(weight), "
            "eval mode, float64", "grad_names": GRAD_NAMES}
    if args.pretrained_dir is not None:
        released_part(Model, args.pretrained_dir, args.out)
        meta["released"] = ["AASIST.pth", "AASIST-L.pth"]
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
