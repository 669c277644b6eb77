"""A small GPT (byte-level, a few million parameters) on Python standard-library source.

Data: the ``bytes_lm`` proxy task's corpus (``proxy_tasks.bytes_lm.stdlib_text``: the
interpreter's top-level stdlib ``*.py`` files, every 10th held out for validation), with up
to ``corpus_bytes`` of training text; validation is ``val_windows`` evenly spaced windows.

The kind of model people tune optimizers on, small enough to train a few thousand steps
in seconds on one GPU. Pre-norm transformer blocks (causal self-attention + GELU MLP),
learned positions, tied input/output embeddings, GPT-2 style init (normal 0.02, residual
projections scaled by 1/sqrt(2 * layers)). Training uses linear warmup then cosine decay
to 10 % of the lr, applied to whatever optimizer is compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from optsearch.compare.task import CompareTask, TaskData


@dataclass(frozen=True)
class GptConfig:
    vocab: int = 256
    context: int = 128
    width: int = 256
    layers: int = 4
    heads: int = 4


class _Block(nn.Module):
    def __init__(self, cfg: GptConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.ln1 = nn.LayerNorm(cfg.width)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        self.ln2 = nn.LayerNorm(cfg.width)
        self.fc = nn.Linear(cfg.width, 4 * cfg.width)
        self.out = nn.Linear(4 * cfg.width, cfg.width)

    def forward(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=-1)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class Gpt(nn.Module):
    """Byte-level causal language model; ``forward(idx [B, T]) -> logits [B, T, vocab]``."""

    def __init__(self, cfg: GptConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab, cfg.width)
        self.pos = nn.Parameter(torch.zeros(cfg.context, cfg.width))
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.width)
        self._init()

    def _init(self) -> None:
        for name, p in self.named_parameters():
            if p.dim() < 2 and not name.startswith("pos"):
                nn.init.zeros_(p) if name.endswith("bias") else nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * self.cfg.layers) if name.endswith(("proj.weight", "out.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx: Tensor) -> Tensor:
        x = self.tok(idx) + self.pos[: idx.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.ln(x) @ self.tok.weight.T  # tied output embedding


class GptStdlibTask(CompareTask):
    """Next-byte prediction on CPython standard-library source (see module docstring)."""

    name = "gpt_stdlib"
    steps = 2000
    batch_size = 32
    lr = 1e-3
    loss_name = "cross-entropy (nats/byte)"
    classification = False
    eval_points = 20
    val_batch = 64
    warmup = 100
    val_windows = 256

    def __init__(self, cfg: GptConfig = GptConfig(), corpus_bytes: int = 4_000_000) -> None:
        self.cfg = cfg
        self.corpus_bytes = corpus_bytes

    def make_model(self, seed: int) -> nn.Module:
        # TF32 matmuls on GPUs that have them, as GPT training usually runs (every rule alike)
        torch.backends.cuda.matmul.allow_tf32 = True
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return Gpt(self.cfg)

    def make_data(self) -> TaskData:
        from proxy_tasks.bytes_lm import stdlib_text  # the proxy task's corpus and split

        train_b, val_b = stdlib_text(self.corpus_bytes)
        train = torch.frombuffer(bytearray(train_b), dtype=torch.uint8)
        val = torch.frombuffer(bytearray(val_b), dtype=torch.uint8)
        t = self.cfg.context
        n = min(self.val_windows, (len(val) - 1) // t)
        starts = torch.arange(n) * ((len(val) - 1 - t) // max(1, n - 1) if n > 1 else 0)
        x_val = torch.stack([val[s:s + t] for s in starts])
        y_val = torch.stack([val[s + 1:s + t + 1] for s in starts])
        return TaskData(train, train, x_val, y_val)

    def batches(self, data: TaskData, seed: int, steps: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Random windows of the training stream, positions fixed by ``seed``."""
        t, n = self.cfg.context, data.x_train.shape[0]
        gen = torch.Generator().manual_seed(7_919 * int(seed) + 3)
        offsets = torch.arange(t + 1, device=data.x_train.device)
        for _ in range(steps):
            starts = torch.randint(0, n - t - 1, (self.batch_size, 1), generator=gen)
            win = data.x_train[starts.to(data.x_train.device) + offsets]
            yield win[:, :-1], win[:, 1:]

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        logits = model(x.long())
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.long().reshape(-1))

    def lr_factor(self, step: int, steps: int) -> float:
        """Linear warmup over ``warmup`` steps, then cosine decay to 10 %."""
        warm = min(self.warmup, max(1, steps // 10))
        if step <= warm:
            return step / warm
        frac = (step - warm) / max(1, steps - warm)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * frac))
