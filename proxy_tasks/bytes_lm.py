"""Byte-level language model: a small causal transformer on Python standard-library source.

The text is the interpreter's own stdlib ``*.py`` files (top level of the ``os`` module's
folder, sorted by name; every 10th file is held out for validation), so it needs no
download; it differs between Python versions, which is one reason baselines are kept per
device. Vocabulary: 256 bytes. Model: token + position embeddings, 2 pre-norm blocks
(causal self-attention, 4x MLP), tied output head.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from proxy_tasks.base import Params, Task, TaskData, cross_entropy, lane_linear

VOCAB = 256


def stdlib_text(limit: int) -> tuple[bytes, bytes]:
    """(train, validation) bytes from the stdlib, each at most ``limit`` bytes."""
    files = sorted(Path(os.__file__).parent.glob("*.py"))
    train, val = bytearray(), bytearray()
    for i, f in enumerate(files):
        dst = val if i % 10 == 9 else train
        if len(dst) < limit:
            dst += f.read_bytes()[: limit - len(dst)]
    return bytes(train), bytes(val)


def _rms(x: Tensor) -> Tensor:
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6)


class BytesLM(Task):
    """2-layer transformer (small: d=32, 2 heads, context 32, batch 16, 300 steps;
    large: d=64, 4 heads, context 64, batch 32, 1500 steps)."""

    name = "bytes_lm"
    lr = 3e-3
    val_chunk = 128
    VARIANTS = {"init_scale": 1.0, "batch_size": 16}

    def __init__(self, size: str = "small", **variant: object) -> None:
        if size == "large" and "batch_size" not in variant:
            variant["batch_size"] = 32
        super().__init__(size, **variant)
        self.d, self.heads, self.ctx = (32, 2, 32) if size == "small" else (64, 4, 64)
        self.steps = 300 if size == "small" else 1500
        self.layers = 2

    def shapes(self):
        d = self.d
        out = [("tok", (VOCAB, d)), ("pos", (self.ctx, d))]
        for i in range(self.layers):
            out += [(f"qkv{i}", (3 * d, d)), (f"o{i}", (d, d)),
                    (f"up{i}", (4 * d, d)), (f"down{i}", (d, 4 * d))]
        return out

    def make_data(self) -> TaskData:
        train, val = stdlib_text(2_000_000 if self.size == "small" else 8_000_000)
        tr = torch.frombuffer(bytearray(train), dtype=torch.uint8).long()
        va = torch.frombuffer(bytearray(val), dtype=torch.uint8).long()
        n_val = 64
        starts = torch.linspace(0, len(va) - self.ctx - 2, n_val).long()
        windows = va[starts.view(-1, 1) + torch.arange(self.ctx + 1)]
        return TaskData(tr, tr, windows[:, :-1], windows[:, 1:])

    def batch_indices(self, seed: int, steps: int) -> Tensor:
        n = self.data("cpu").x_train.shape[0] - self.ctx - 1
        gen = torch.Generator().manual_seed(7_919 * int(seed) + 3)
        return torch.randint(0, n, (steps, self.batch_size), generator=gen)

    def batch(self, data: TaskData, idx: Tensor) -> tuple[Tensor, Tensor]:
        win = data.x_train[idx.unsqueeze(-1) + torch.arange(self.ctx + 1, device=idx.device)]
        return win[..., :-1], win[..., 1:]

    def val_loss(self, params: Params, data: TaskData) -> Tensor:
        return self.loss(params, data.x_val.unsqueeze(0), data.y_val.unsqueeze(0))

    def init_params(self, gen):
        s = float(self.variant["init_scale"])  # type: ignore[arg-type]
        out = {}
        for name, shape in self.shapes():
            std = 0.02 if name in ("tok", "pos") else 1 / math.sqrt(shape[1])
            if name.startswith(("o", "down")):
                std /= math.sqrt(2 * self.layers)
            out[name] = torch.randn(shape, generator=gen) * std * s
        return out

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        lanes, groups = params["tok"].shape[0], x.shape[0]
        B, T, d, H = x.shape[1], x.shape[2], self.d, self.heads
        onehot = F.one_hot(x, VOCAB).to(params["tok"].dtype)             # [G, B, T, V]
        h = lane_linear(onehot, params["tok"].transpose(1, 2))             # [L, B, T, d]
        h = h + params["pos"][:, :T].unsqueeze(1)
        for i in range(self.layers):
            a = lane_linear(_rms(h), params[f"qkv{i}"])                    # [L, B, T, 3d]
            q, k, v = a.view(lanes * B, T, 3, H, d // H).permute(2, 0, 3, 1, 4)
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [LB, H, T, dh]
            att = att.transpose(1, 2).reshape(lanes, B, T, d)
            h = h + lane_linear(att, params[f"o{i}"])
            m = F.gelu(lane_linear(_rms(h), params[f"up{i}"]))
            h = h + lane_linear(m, params[f"down{i}"])
        logits = lane_linear(_rms(h), params["tok"])                       # [L, B, T, V]
        del groups
        return cross_entropy(logits, y)
