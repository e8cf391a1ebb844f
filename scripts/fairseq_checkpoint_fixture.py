#!/usr/bin/env python3
"""Tiny checkpoints laid out like fairseq's released wav2vec 2.0 / XLS-R files (`xlsr2_300m.pt`).

Needs torch, safetensors and omegaconf (`pip install omegaconf`); reads the Hugging Face-named
weights of the tiny encoder from `wav2vec2_tiny.safetensors` (written by `xlsr_reference.py`), so
the Rust tests can compare the encoder loaded from these files with that fixture's `hidden`:

    python3 scripts/fairseq_checkpoint_fixture.py [--dir tests/fixtures/xlsr]

What a fairseq trainer writes (`fairseq/trainer.py`, `Trainer.state_dict` plus
`checkpoint_utils.save_checkpoint`) is one `torch.save`d dict (pickle protocol 2, zip format):

  args                  None (legacy argparse.Namespace in pre-hydra files)
  cfg                   the hydra config: an omegaconf DictConfig in files written by fairseq
                        before mid-2021, a plain dict after; nested nodes, enums, `typing.Any`
  model                 the state dict (an OrderedDict carrying `_metadata`) with fairseq names:
                        feature_extractor.conv_layers.N.0.weight, N.2.1.weight (layer norm),
                        post_extract_proj.*, layer_norm.*, encoder.pos_conv.0.weight_g / weight_v,
                        encoder.layers.N.self_attn.{k,v,q,out}_proj.*, ..., encoder.layer_norm.*,
                        and the pretraining-only mask_emb, quantizer.vars, quantizer.weight_proj.*,
                        project_q.*, final_proj.*
  criterion             None
  optimizer_history     a list of dicts
  task_state            {}
  extra_state           epoch, iterator state, metrics (OrderedDicts of meter objects)
  last_optimizer_state  Adam's state: tensors keyed by parameter index

The config is a real omegaconf DictConfig (the worst case for a reader: NEWOBJ/BUILD objects,
back-references, enum nodes). fairseq itself is not installed here, so its classes that appear in
such a pickle (config dataclasses, choice enums, meters) are stand-ins defined below under the same
module and class names; a pickle reader sees only those names, never the code.

Writes under --dir:
  fairseq_xlsr_tiny.pt         the pretrained layout above
  fairseq_xlsr_tiny_broken.pt  the same without `encoder.layers.1.fc2.bias` and with
                               `post_extract_proj.weight` transposed
  fairseq_ctc_tiny.pt          a fine-tuned CTC checkpoint: `w2v_encoder.w2v_model.*` plus the
                               output projection `w2v_encoder.proj.*`, and a legacy
                               argparse.Namespace under `args`
"""

import argparse
import collections
import dataclasses
import enum
import sys
import types
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from xlsr_reference import W2V, hf_to_fairseq  # noqa: E402


def stand_in_module(name):
    """Registers an empty module under `name` (and its parents) so pickle can name its classes."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        sub = ".".join(parts[:i])
        if sub not in sys.modules:
            sys.modules[sub] = types.ModuleType(sub)
    return sys.modules[name]


def place(cls, module_name):
    cls.__module__ = module_name
    setattr(stand_in_module(module_name), cls.__name__, cls)
    return cls


class StrEnum(enum.Enum):
    def __str__(self):
        return self.value


place(StrEnum, "fairseq.dataclass.constants")
Choices = place(enum.Enum("Choices", {"static": "static", "uniform": "uniform",
                                      "normal": "normal", "poisson": "poisson"},
                          type=str), "fairseq.dataclass.constants")
ExtractorMode = place(enum.Enum("ExtractorMode", {"default": "default", "layer_norm": "layer_norm"},
                                type=str), "fairseq.models.wav2vec.wav2vec2")


@dataclasses.dataclass
class Wav2Vec2Config:
    _name: str = "wav2vec2"
    extractor_mode: ExtractorMode = ExtractorMode.layer_norm
    encoder_layers: int = W2V["num_hidden_layers"]
    encoder_embed_dim: int = W2V["hidden_size"]
    encoder_ffn_embed_dim: int = W2V["intermediate_size"]
    encoder_attention_heads: int = W2V["num_attention_heads"]
    conv_feature_layers: str = str([(c, k, s) for c, k, s in zip(W2V["conv_dim"],
                                                                  W2V["conv_kernel"],
                                                                  W2V["conv_stride"])])
    conv_pos: int = W2V["num_conv_pos_embeddings"]
    conv_pos_groups: int = W2V["num_conv_pos_embedding_groups"]
    conv_bias: bool = True
    layer_norm_first: bool = True
    latent_temp: tuple = (2.0, 0.1, 0.999995)
    mask_selection: Choices = Choices.static
    mask_prob: float = 0.65
    feature_grad_mult: float = 1.0


place(Wav2Vec2Config, "fairseq.models.wav2vec.wav2vec2")


class AverageMeter:
    def __init__(self, val, count):
        self.val, self.sum, self.count, self.round = val, val * count, count, 3


class StopwatchMeter:
    def __init__(self):
        self.sum, self.n, self.start_time = 1234.5, 7, None


place(AverageMeter, "fairseq.logging.meters")
place(StopwatchMeter, "fairseq.logging.meters")


def config():
    """A hydra-style DictConfig with a structured (dataclass) model node and loose sections."""
    cfg = OmegaConf.create({
        "_name": None,
        "common": {"fp16": True, "log_interval": 200, "seed": 1, "user_dir": None},
        "distributed_training": {"distributed_world_size": 128, "ddp_backend": "legacy_ddp"},
        "task": {"_name": "audio_pretraining", "data": "/path/to/manifests", "sample_rate": 16000,
                 "normalize": True, "max_sample_size": 320000},
        "criterion": {"_name": "wav2vec", "infonce": True, "loss_weights": [0.1, 0.0],
                      "log_keys": ["prob_perplexity", "code_perplexity", "temp"]},
        "optimization": {"max_update": 1000000, "lr": [0.005], "update_freq": [1]},
        "optimizer": {"_name": "adam", "adam_betas": "(0.9,0.98)", "adam_eps": 1e-06,
                      "weight_decay": 0.01},
        "lr_scheduler": {"_name": "polynomial_decay", "warmup_updates": 32000},
    })
    cfg.model = OmegaConf.structured(Wav2Vec2Config)
    # An interpolation, as hydra configs use to share values between sections.
    cfg.task.label_rate = "${model.encoder_layers}"
    return cfg


def state_dict(named):
    """An OrderedDict with `_metadata`, as nn.Module.state_dict() returns."""
    sd = collections.OrderedDict(named)
    sd._metadata = collections.OrderedDict(
        [("", {"version": 1})] + [(k.rsplit(".", 1)[0], {"version": 1}) for k in sd])
    return sd


def checkpoint(model, with_optimizer):
    params = [v for v in model.values() if v.is_floating_point()]
    adam = {
        "state": {i: {"step": torch.tensor(800000.0), "exp_avg": torch.full_like(p, 1e-3),
                      "exp_avg_sq": torch.full_like(p, 1e-6)} for i, p in enumerate(params)},
        "param_groups": [{"lr": 5e-3, "betas": (0.9, 0.98), "eps": 1e-6, "weight_decay": 0.01,
                          "amsgrad": False, "params": list(range(len(params)))}],
    }
    meters = collections.OrderedDict([
        ("loss", AverageMeter(2.5, 10)), ("wall", StopwatchMeter()),
        ("prob_perplexity", AverageMeter(np.float64(512.25), 3)),
    ])
    return {
        "args": None,
        "cfg": config(),
        "model": model,
        "criterion": None,
        "optimizer_history": [{"criterion_name": "Wav2vecCriterion",
                               "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": None}, "num_updates": 800000}],
        "task_state": {},
        "extra_state": {
            "epoch": 61, "val_loss": float("nan"), "previous_training_time": 1.5e6,
            "train_iterator": {"epoch": 61, "iterations_in_epoch": 0, "shuffle": True},
            "metrics": collections.OrderedDict([("train", meters)]),
            "seen": {"a", "b"}, "by_lang": collections.defaultdict(list, {"en": [1, 2]}),
            "blob": b"\x00\x01fairseq", "big": 2 ** 40, "negative": -7,
        },
        "last_optimizer_state": adam if with_optimizer else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="tests/fixtures/xlsr")
    out = Path(ap.parse_args().dir)
    hf = load_file(str(out / "wav2vec2_tiny.safetensors"))
    encoder = {hf_to_fairseq(k[len("hf."):]): v.float().contiguous()
               for k, v in sorted(hf.items()) if k.startswith("hf.")}
    dim, groups, num_vars, final_dim = W2V["hidden_size"], 2, 4, 8
    gen = torch.Generator().manual_seed(99)
    pretraining = {
        "mask_emb": torch.rand(dim, generator=gen),
        "quantizer.vars": torch.rand(1, groups * num_vars, final_dim // groups, generator=gen),
        "quantizer.weight_proj.weight": torch.rand(groups * num_vars, 8, generator=gen),
        "quantizer.weight_proj.bias": torch.rand(groups * num_vars, generator=gen),
        "project_q.weight": torch.rand(final_dim, final_dim, generator=gen),
        "project_q.bias": torch.rand(final_dim, generator=gen),
        "final_proj.weight": torch.rand(final_dim, dim, generator=gen),
        "final_proj.bias": torch.rand(final_dim, generator=gen),
    }
    # fairseq's registration order: feature extractor, post_extract_proj, quantizer, project_q,
    # mask_emb, encoder, layer_norm, final_proj; only the names matter to a reader.
    pretrained = state_dict(sorted({**encoder, **pretraining}.items()))
    torch.save(checkpoint(pretrained, True), str(out / "fairseq_xlsr_tiny.pt"))

    broken = collections.OrderedDict(pretrained)
    del broken["encoder.layers.1.fc2.bias"]
    broken["post_extract_proj.weight"] = broken["post_extract_proj.weight"].t().contiguous()
    torch.save(checkpoint(state_dict(list(broken.items())), False),
               str(out / "fairseq_xlsr_tiny_broken.pt"))

    # Fine-tuning drops the quantizer and heads (remove_pretraining_modules) but keeps mask_emb.
    ctc = [("w2v_encoder.w2v_model." + k, v) for k, v in encoder.items()]
    ctc.append(("w2v_encoder.w2v_model.mask_emb", pretraining["mask_emb"]))
    ctc += [("w2v_encoder.proj.weight", torch.rand(5, dim, generator=gen)),
            ("w2v_encoder.proj.bias", torch.rand(5, generator=gen))]
    ckpt = checkpoint(state_dict(ctc), False)
    # Pre-hydra files carry an argparse.Namespace here; keep one to exercise that too.
    ckpt["args"] = argparse.Namespace(arch="wav2vec_ctc", w2v_path="xlsr2_300m.pt", lr=[3e-5])
    ckpt["cfg"].model = OmegaConf.create({"_name": "wav2vec_ctc", "w2v_path": "xlsr2_300m.pt",
                                          "w2v_args": None, "apply_mask": True})
    torch.save(ckpt, str(out / "fairseq_ctc_tiny.pt"))

    for name in ["fairseq_xlsr_tiny.pt", "fairseq_xlsr_tiny_broken.pt", "fairseq_ctc_tiny.pt"]:
        print(name, (out / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
