"""Byte-level text for the GPT task: the running interpreter's standard-library source.

Needs no download: every Python install has it. The files are read in sorted order
(``test`` packages excluded, since distributions strip them), so the corpus is the same
on every machine with the same Python version; a different version gives a similar but
not identical corpus (the docs say which version produced the numbers shown).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import torch


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for p in sorted(root.rglob("*.py")):
        parts = p.relative_to(root).parts
        if parts[0] in ("site-packages", "dist-packages") or any(
                part in ("test", "tests", "idle_test") for part in parts):
            continue
        files.append(p)
    return files


def stdlib_bytes(limit: int) -> torch.Tensor:
    """The first ``limit`` bytes of the concatenated stdlib sources, as a uint8 tensor."""
    chunks, total = [], 0
    for p in stdlib_files():
        data = p.read_bytes()
        chunks.append(data)
        total += len(data)
        if total >= limit:
            break
    blob = b"".join(chunks)[:limit]
    if len(blob) < 10_000:
        raise RuntimeError(f"only {len(blob)} bytes of standard-library source found under "
                           f"{sysconfig.get_paths()['stdlib']}")
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8).clone()
