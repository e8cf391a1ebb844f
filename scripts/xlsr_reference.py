#!/usr/bin/env python3
"""Reference outputs for the parity tests of `dpda::nn::wav2vec2`, `ssl_aasist` and `conformer`.

Needs torch and transformers (`pip install transformers safetensors`):

    python3 scripts/xlsr_reference.py [--out tests/fixtures/xlsr]

The XLS-R front end is Hugging Face's `Wav2Vec2Model` (pre-LN "stable layer norm" variant, the
layout of XLS-R) in a tiny random configuration. The two back ends are written here in PyTorch
from the published architectures (SSL-AASIST as in SSL_Anti-spoofing / dpda_ga `nets/aasist.py`,
Conformer-TCM as in tcm_add / dpda_ga `nets/conformer_tcm.py`), with small sizes, and their state
dicts use the same key names as the released `best.pth` files (`ssl_model.model.*` in fairseq's
layout, `LL.*`, `encoder.*`, `conformer.*`).

Every model runs in float64 on weights rounded to float32 (the fixtures store float32 weights),
in eval mode, with BatchNorm running statistics randomised so that eval mode is not an identity.

Writes under --out:
  wav2vec2_tiny.safetensors  HF-named weights (`hf.<key>`), `input` [2, 400], `hidden` (last
                             hidden state, f64), `proj` (a fixed projection P), and
                             `grad.<key>` / `grad.input`: gradients of sum(hidden * P), f64
  ssl_aasist_tiny.safetensors  weights (`w.<key>`, dpda_ga names), `input`, `logits` (f64),
                               `grad.<key>`: gradient of the summed bona fide logit
  conformer_tcm_tiny.safetensors  same for Conformer-TCM
  ssl_aasist_tiny_best.pth  the same weights as dpda_ga saves them (torch.save of the state dict)
  fairseq_tiny.pt            the tiny front end as a fairseq checkpoint ({"model": state_dict,
                             "cfg": {...}} with fairseq's key names and unused pretraining keys)
  meta.json                  the configurations
"""

import argparse
import json
import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import Wav2Vec2Config, Wav2Vec2Model

W2V = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
           conv_dim=(8, 8, 8), conv_kernel=(10, 3, 2), conv_stride=(5, 2, 2),
           num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, feat_extract_norm="layer",
           do_stable_layer_norm=True, conv_bias=True, hidden_act="gelu",
           feat_extract_activation="gelu", hidden_dropout=0.0, attention_dropout=0.0,
           activation_dropout=0.0, feat_proj_dropout=0.0, final_dropout=0.0, layerdrop=0.0,
           apply_spec_augment=False, mask_time_prob=0.0)
AASIST = dict(ll_dim=24, channels=[[1, 4], [4, 4], [4, 8], [8, 8]], gat_dims=[8, 4],
              pool_ratios=[0.5, 0.5, 0.5, 0.5], temperatures=[2.0, 2.0, 100.0, 100.0])
TCM = dict(emb_size=8, heads=2, ff_mult=4, exp_fac=2, kernel_size=5, num_encoders=2,
           max_frames=1024)
NUM_SAMPLES = 400


def hf_to_fairseq(key):
    """The fairseq name of a Hugging Face wav2vec2 key (the mapping the Rust loader implements)."""
    k = key
    reps = [(".conv.weight", ".0.weight"), (".conv.bias", ".0.bias"),
            (".layer_norm.weight", ".2.1.weight"), (".layer_norm.bias", ".2.1.bias")]
    if k.startswith("feature_extractor.conv_layers."):
        for a, b in reps:
            if k.endswith(a):
                return k[: -len(a)] + b
    k = k.replace("feature_projection.layer_norm.", "layer_norm.")
    k = k.replace("feature_projection.projection.", "post_extract_proj.")
    k = k.replace("encoder.pos_conv_embed.conv.parametrizations.weight.original0",
                  "encoder.pos_conv.0.weight_g")
    k = k.replace("encoder.pos_conv_embed.conv.parametrizations.weight.original1",
                  "encoder.pos_conv.0.weight_v")
    k = k.replace("encoder.pos_conv_embed.conv.", "encoder.pos_conv.0.")
    if k.startswith("encoder.layers."):
        k = k.replace(".attention.", ".self_attn.")
        k = k.replace(".layer_norm.", ".self_attn_layer_norm.")
        k = k.replace(".feed_forward.intermediate_dense.", ".fc1.")
        k = k.replace(".feed_forward.output_dense.", ".fc2.")
    return k


def randomise_bn(module, gen):
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def round_to_f32(module):
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                t.copy_(t.float().double())


class FrontEnd(nn.Module):
    def __init__(self):
        super().__init__()
        self.w2v = Wav2Vec2Model(Wav2Vec2Config(**W2V))

    def forward(self, x):
        return self.w2v(x).last_hidden_state

    def fairseq_state(self, prefix):
        return {prefix + hf_to_fairseq(k): v for k, v in self.w2v.state_dict().items()
                if not k.startswith("masked_spec_embed")}


# ---- SSL-AASIST back end (architecture of dpda_ga nets/aasist.py, parametrised sizes) ----

def node_bn(bn, x):
    return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def pairwise(x):
    n = x.shape[1]
    x = x.unsqueeze(2).expand(-1, -1, n, -1)
    return x * x.transpose(1, 2)


class Gat(nn.Module):
    def __init__(self, i, o, temp):
        super().__init__()
        self.att_proj = nn.Linear(i, o)
        self.att_weight = nn.Parameter(torch.randn(o, 1) * 0.3)
        self.proj_with_att = nn.Linear(i, o)
        self.proj_without_att = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)
        self.temp = temp

    def forward(self, x):
        a = torch.tanh(self.att_proj(pairwise(x))) @ self.att_weight
        a = F.softmax(a / self.temp, dim=-2)
        x = self.proj_with_att(a.squeeze(-1) @ x) + self.proj_without_att(x)
        return F.selu(node_bn(self.bn, x))


class HtrgGat(nn.Module):
    def __init__(self, i, o, temp):
        super().__init__()
        self.proj_type1 = nn.Linear(i, i)
        self.proj_type2 = nn.Linear(i, i)
        self.att_proj = nn.Linear(i, o)
        self.att_projM = nn.Linear(i, o)
        for n in ["att_weight11", "att_weight22", "att_weight12", "att_weightM"]:
            setattr(self, n, nn.Parameter(torch.randn(o, 1) * 0.3))
        self.proj_with_att = nn.Linear(i, o)
        self.proj_without_att = nn.Linear(i, o)
        self.proj_with_attM = nn.Linear(i, o)
        self.proj_without_attM = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)
        self.temp = temp

    def forward(self, x1, x2, master):
        n1 = x1.shape[1]
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        am = torch.tanh(self.att_projM(x * master)) @ self.att_weightM
        am = F.softmax(am / self.temp, dim=-2)
        master = self.proj_with_attM(am.squeeze(-1).unsqueeze(1) @ x) + \
            self.proj_without_attM(master)
        m = torch.tanh(self.att_proj(pairwise(x)))
        top = torch.cat([m[:, :n1, :n1] @ self.att_weight11, m[:, :n1, n1:] @ self.att_weight12],
                        dim=2)
        bottom = torch.cat([m[:, n1:, :n1] @ self.att_weight12,
                            m[:, n1:, n1:] @ self.att_weight22], dim=2)
        a = F.softmax(torch.cat([top, bottom], dim=1) / self.temp, dim=-2)
        x = self.proj_with_att(a.squeeze(-1) @ x) + self.proj_without_att(x)
        x = F.selu(node_bn(self.bn, x))
        return x[:, :n1], x[:, n1:], master


class Pool(nn.Module):
    def __init__(self, k, d):
        super().__init__()
        self.k = k
        self.proj = nn.Linear(d, 1)

    def forward(self, h):
        s = torch.sigmoid(self.proj(h))
        n = max(int(h.shape[1] * self.k), 1)
        _, idx = torch.topk(s, n, dim=1)
        return torch.gather(h * s, 1, idx.expand(-1, -1, h.shape[2]))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, first):
        super().__init__()
        self.first = first
        if not first:
            self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, (2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, (2, 3), padding=(0, 1))
        self.downsample = cin != cout
        if self.downsample:
            self.conv_downsample = nn.Conv2d(cin, cout, (1, 3), padding=(0, 1))

    def forward(self, x):
        # As in the reference: bn1/SELU are computed but conv1 reads the block input.
        out = self.conv2(F.selu(self.bn2(self.conv1(x))))
        identity = self.conv_downsample(x) if self.downsample else x
        return out + identity


class SslAasist(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ssl = FrontEnd()
        hidden = W2V["hidden_size"]
        ch, g, pr, t = cfg["channels"], cfg["gat_dims"], cfg["pool_ratios"], cfg["temperatures"]
        c = ch[-1][1]
        self.LL = nn.Linear(hidden, cfg["ll_dim"])
        self.first_bn = nn.BatchNorm2d(1)
        self.first_bn1 = nn.BatchNorm2d(c)
        blocks = [ch[0], ch[1], ch[2], ch[3], ch[3], ch[3]]
        self.encoder = nn.Sequential(*[nn.Sequential(ResBlock(a, b, i == 0))
                                       for i, (a, b) in enumerate(blocks)])
        self.attention = nn.Sequential(nn.Conv2d(c, 2 * c, (1, 1)), nn.SELU(),
                                       nn.BatchNorm2d(2 * c), nn.Conv2d(2 * c, c, (1, 1)))
        self.pos_S = nn.Parameter(torch.randn(1, cfg["ll_dim"] // 3, c))
        self.master1 = nn.Parameter(torch.randn(1, 1, g[0]))
        self.master2 = nn.Parameter(torch.randn(1, 1, g[0]))
        self.GAT_layer_S = Gat(c, g[0], t[0])
        self.GAT_layer_T = Gat(c, g[0], t[1])
        self.HtrgGAT_layer_ST11 = HtrgGat(g[0], g[1], t[2])
        self.HtrgGAT_layer_ST12 = HtrgGat(g[1], g[1], t[2])
        self.HtrgGAT_layer_ST21 = HtrgGat(g[0], g[1], t[2])
        self.HtrgGAT_layer_ST22 = HtrgGat(g[1], g[1], t[2])
        self.pool_S = Pool(pr[0], g[0])
        self.pool_T = Pool(pr[1], g[0])
        for n in ["pool_hS1", "pool_hT1", "pool_hS2", "pool_hT2"]:
            setattr(self, n, Pool(pr[2], g[1]))
        self.out_layer = nn.Linear(5 * g[1], 2)

    def forward(self, wav):
        x = self.LL(self.ssl(wav)).transpose(1, 2).unsqueeze(1)
        x = F.selu(self.first_bn(F.max_pool2d(x, (3, 3))))
        x = F.selu(self.first_bn1(self.encoder(x)))
        w = self.attention(x)
        e_s = (x * F.softmax(w, dim=-1)).sum(-1).transpose(1, 2) + self.pos_S
        out_s = self.pool_S(self.GAT_layer_S(e_s))
        e_t = (x * F.softmax(w, dim=-2)).sum(-2).transpose(1, 2)
        out_t = self.pool_T(self.GAT_layer_T(e_t))
        branches = []
        for a, b, ps, pt, m in [(self.HtrgGAT_layer_ST11, self.HtrgGAT_layer_ST12, self.pool_hS1,
                                 self.pool_hT1, self.master1),
                                (self.HtrgGAT_layer_ST21, self.HtrgGAT_layer_ST22, self.pool_hS2,
                                 self.pool_hT2, self.master2)]:
            t1, s1, m1 = a(out_t, out_s, m)
            s1, t1 = ps(s1), pt(t1)
            ta, sa, ma = b(t1, s1, m1)
            branches.append((t1 + ta, s1 + sa, m1 + ma))
        (t1, s1, m1), (t2, s2, m2) = branches
        out_t, out_s, master = torch.max(t1, t2), torch.max(s1, s2), torch.max(m1, m2)
        hidden = torch.cat([out_t.abs().max(1)[0], out_t.mean(1), out_s.abs().max(1)[0],
                            out_s.mean(1), master.squeeze(1)], dim=1)
        return self.out_layer(hidden)

    def named_state(self):
        sd = {k: v for k, v in self.state_dict().items() if not k.startswith("ssl.")}
        sd.update(self.ssl.fairseq_state("ssl_model.model."))
        return sd


# ---- Conformer-TCM back end (architecture of dpda_ga nets/conformer*.py, parametrised) ----

def sinusoid(n, d):
    pe = torch.tensor([[p / (10000 ** (2 * (i // 2) / d)) for i in range(d)] for p in range(n)],
                      dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pe[:, 0::2])
    pe[:, 1::2] = torch.cos(pe[:, 1::2])
    return pe.unsqueeze(0)


class PreNorm(nn.Module):
    def __init__(self, d, fn):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Ff(nn.Module):
    def __init__(self, d, mult):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, d * mult), nn.SiLU(), nn.Identity(),
                                 nn.Linear(d * mult, d))


class HtAttention(nn.Module):
    """Multi-head self-attention with head tokens (as in the reference's Attention)."""

    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        dh = d // heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d)
        self.ht_proj = nn.Linear(dh, d)
        self.ht_norm = nn.LayerNorm(dh)
        self.pos_embed = nn.Parameter(torch.randn(1, heads, d) * 0.1)

    def forward(self, x):
        b, n, c = x.shape
        h, dh = self.h, c // self.h
        ht = x.reshape(b, n, h, dh).permute(0, 2, 1, 3).mean(2)
        ht = self.ht_proj(ht).reshape(b, h, h, dh)
        ht = F.gelu(self.ht_norm(ht)).flatten(2) + self.pos_embed
        x = torch.cat([x, ht], dim=1)
        q, k, v = self.qkv(x).reshape(b, n + h, 3, h, dh).permute(2, 0, 3, 1, 4)
        a = F.softmax((q @ k.transpose(-2, -1)) * dh ** -0.5, dim=-1)
        x = self.proj((a @ v).transpose(1, 2).reshape(b, n + h, c))
        cls, patch, hts = torch.split(x, [1, n - 1, h], dim=1)
        cls = cls + hts.mean(1, keepdim=True) + patch.mean(1, keepdim=True)
        return torch.cat([cls, patch], dim=1)


class ConvModule(nn.Module):
    def __init__(self, d, exp, k):
        super().__init__()
        inner = d * exp
        self.pad = (k // 2, k // 2 - (k + 1) % 2)
        self.net = nn.ModuleList([nn.LayerNorm(d), nn.Identity(), nn.Conv1d(d, 2 * inner, 1),
                                  nn.Identity(), nn.Module(), nn.BatchNorm1d(inner), nn.SiLU(),
                                  nn.Conv1d(inner, d, 1)])
        self.net[4].conv = nn.Conv1d(inner, inner, k, groups=inner)

    def forward(self, x):
        x = self.net[2](self.net[0](x).transpose(1, 2))
        out, gate = x.chunk(2, dim=1)
        x = self.net[4].conv(F.pad(out * gate.sigmoid(), self.pad))
        x = self.net[7](F.silu(self.net[5](x)))
        return x.transpose(1, 2)


class Scale(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn


class Block(nn.Module):
    def __init__(self, d, heads, mult, exp, k):
        super().__init__()
        self.ff1 = Scale(PreNorm(d, Ff(d, mult)))
        self.attn = PreNorm(d, HtAttention(d, heads))
        self.conv = ConvModule(d, exp, k)
        self.ff2 = Scale(PreNorm(d, Ff(d, mult)))
        self.post_norm = nn.LayerNorm(d)

    def ff(self, s, x):
        return 0.5 * s.fn.fn.net(s.fn.norm(x))

    def forward(self, x):
        x = self.ff(self.ff1, x) + x
        x = self.attn(x) + x
        x = self.conv(x) + x
        x = self.ff(self.ff2, x) + x
        return self.post_norm(x)


class Conformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["emb_size"]
        self.positional_emb = nn.Parameter(sinusoid(cfg["max_frames"], d), requires_grad=False)
        self.encoder_blocks = nn.ModuleList([
            Block(d, cfg["heads"], cfg["ff_mult"], cfg["exp_fac"], cfg["kernel_size"])
            for _ in range(cfg["num_encoders"])])
        self.class_token = nn.Parameter(torch.rand(1, d))
        self.fc5 = nn.Linear(d, 2)

    def forward(self, x):
        x = x + self.positional_emb[:, : x.shape[1]]
        x = torch.cat([self.class_token.expand(x.shape[0], 1, -1), x], dim=1)
        for blk in self.encoder_blocks:
            x = blk(x)
        return self.fc5(x[:, 0])


class ConformerTcm(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ssl = FrontEnd()
        self.LL = nn.Linear(W2V["hidden_size"], cfg["emb_size"])
        self.first_bn = nn.BatchNorm2d(1)
        self.conformer = Conformer(cfg)

    def forward(self, wav):
        x = self.LL(self.ssl(wav)).unsqueeze(1)
        x = F.selu(self.first_bn(x)).squeeze(1)
        return self.conformer(x)

    def named_state(self):
        sd = {k: v for k, v in self.state_dict().items() if not k.startswith("ssl.")}
        sd.update(self.ssl.fairseq_state("ssl_model.model."))
        return sd


def f32(sd):
    return {k: v.detach().float().contiguous() for k, v in sd.items()
            if v.is_floating_point()}


def grads(model, names_to_params):
    return {f"grad.{k}": p.grad.detach().clone().contiguous() for k, p in names_to_params.items()
            if p.grad is not None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/xlsr")
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    wav = (torch.randn(2, NUM_SAMPLES, generator=gen) * 0.3).float().double()

    # Front end alone, HF names.
    fe = FrontEnd().double().eval()
    round_to_f32(fe)
    x = wav.clone().requires_grad_(True)
    hidden = fe(x)
    proj = torch.randn(hidden.shape, generator=gen, dtype=torch.float64)
    (hidden * proj).sum().backward()
    tensors = {f"hf.{k}": v for k, v in f32(fe.w2v.state_dict()).items()}
    tensors.update({"input": wav.float(), "hidden": hidden.detach(), "proj": proj,
                    "grad.input": x.grad.detach()})
    tensors.update(grads(fe, {hf_to_fairseq(k): p for k, p in fe.w2v.named_parameters()}))
    save_file(tensors, str(out / "wav2vec2_tiny.safetensors"))

    # fairseq-layout checkpoint of the same front end, with pretraining-only entries.
    fsd = {k: v.float() for k, v in fe.fairseq_state("").items()}
    fsd["mask_emb"] = torch.zeros(W2V["hidden_size"])
    fsd["quantizer.vars"] = torch.zeros(1, 4, 2)
    fsd["final_proj.weight"] = torch.zeros(2, W2V["hidden_size"])
    torch.save({"model": fsd, "cfg": {"model": {"_name": "wav2vec2"}}},
               str(out / "fairseq_tiny.pt"))

    for name, model in [("ssl_aasist_tiny", SslAasist(AASIST)),
                        ("conformer_tcm_tiny", ConformerTcm(TCM))]:
        model = model.double().eval()
        randomise_bn(model, gen)
        round_to_f32(model)
        logits = model(wav)
        logits[:, 1].sum().backward()
        state = model.named_state()
        params = {k: p for k, p in model.named_parameters() if not k.startswith("ssl.")}
        params.update({"ssl_model.model." + hf_to_fairseq(k): p
                       for k, p in model.ssl.w2v.named_parameters()})
        tensors = {f"w.{k}": v for k, v in f32(state).items()}
        tensors.update({"input": wav.float(), "logits": logits.detach()})
        tensors.update(grads(model, params))
        save_file(tensors, str(out / f"{name}.safetensors"))
        if name == "ssl_aasist_tiny":
            # As dpda_ga's torch.save(model.state_dict()): integer BatchNorm counters and
            # XLS-R's pretraining-only entries included.
            full = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
            full.update({k: v for k, v in model.state_dict().items()
                         if k.endswith("num_batches_tracked")})
            full["ssl_model.model.mask_emb"] = torch.zeros(W2V["hidden_size"])
            full["ssl_model.model.quantizer.vars"] = torch.zeros(1, 4, 2)
            torch.save(full, str(out / "ssl_aasist_tiny_best.pth"))
        print(name, logits.detach().numpy())

    meta = {"wav2vec2": {k: list(v) if isinstance(v, tuple) else v for k, v in W2V.items()},
            "ssl_aasist": AASIST, "conformer_tcm": TCM, "num_samples": NUM_SAMPLES,
            "torch": torch.__version__}
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
