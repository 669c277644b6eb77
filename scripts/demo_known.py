"""Train a small MLP on sklearn digits with several known rules and print a table.

The interim main job until the search lands; kept as a quick smoke test of the known rules.
"""

from __future__ import annotations

import time

import torch
from rich.console import Console
from rich.table import Table
from sklearn.datasets import load_digits

import optsearch

RULES = {"sgd_momentum": 0.05, "adam": 3e-3, "adamw": 3e-3, "lion": 3e-4, "diffgrad": 3e-3}


def train(rule: str, lr: float, steps: int = 300, seed: int = 0) -> tuple[float, float]:
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 10))
    opt = optsearch.optimizer(rule, model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, 1500, (128,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        val = torch.nn.functional.cross_entropy(model(x[1500:]), y[1500:]).item()
    return val, time.perf_counter() - t0


def main() -> None:
    table = Table(title="known rules on sklearn digits (MLP 64-64-10, 300 steps, batch 128)")
    for col in ("rule", "lr", "val loss", "seconds"):
        table.add_column(col)
    names = set(optsearch.known_names())
    for rule, lr in RULES.items():
        if rule not in names:
            continue
        val, secs = train(rule, lr)
        table.add_row(rule, f"{lr:g}", f"{val:.4f}", f"{secs:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
