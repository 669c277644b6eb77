"""The lane axis: programs x seeds x lr multipliers, laid out seed-major.

Lane ``(s, n, m)`` (seed s, program n, multiplier m) is row ``(s * N + n) * M + m`` of every
``[L, ...]`` buffer. Seed-major order lets lanes of one seed share one input batch (common
random numbers: same data order and initial weights for every program), and keeps each
program's lanes a strided ``[S, M]`` view for the eager executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import Tensor


@dataclass(frozen=True)
class Lanes:
    n_programs: int
    seeds: tuple[int, ...]
    lr_multipliers: tuple[float, ...]
    base_lr: float

    @property
    def S(self) -> int:
        return len(self.seeds)

    @property
    def M(self) -> int:
        return len(self.lr_multipliers)

    @property
    def count(self) -> int:
        return self.S * self.n_programs * self.M

    @property
    def lrs(self) -> list[float]:
        return [self.base_lr * m for m in self.lr_multipliers]

    def to_psm(self, x: Tensor) -> Tensor:
        """``[L, ...]`` (seed-major) -> ``[N, S, M, ...]`` (program-major, for results)."""
        return x.reshape(self.S, self.n_programs, self.M, *x.shape[1:]).transpose(0, 1)


def make_lanes(n_programs: int, seeds: Sequence[int], lr_multipliers: Sequence[float],
               base_lr: float) -> Lanes:
    if n_programs < 1:
        raise ValueError("need at least one program")
    if not seeds:
        raise ValueError("need at least one seed")
    if not lr_multipliers or any(not (m > 0) for m in lr_multipliers):
        raise ValueError(f"lr multipliers must be positive, got {tuple(lr_multipliers)}")
    return Lanes(n_programs, tuple(int(s) for s in seeds),
                 tuple(float(m) for m in lr_multipliers), float(base_lr))
