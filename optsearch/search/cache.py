"""Fingerprint cache: a program that behaves like one already scored is not trained again.

Keys are behaviour hashes (:func:`optsearch.fingerprint.fingerprint`: the program run on
fixed random inputs, outputs rounded and hashed), so renamed variables, dead code and
reordered independent statements all hit. The Lion paper reports an 89% hit rate.
"""

from __future__ import annotations

from optsearch.fingerprint import fingerprint
from optsearch.program import Program


class FingerprintCache:
    """Maps fingerprint -> id of the program whose score stands for all equal programs."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, fp: str) -> int | None:
        return self._ids.get(fp) if self.enabled else None

    def add(self, fp: str, program_id: int) -> None:
        """Remember the first program with this behaviour (later ones never replace it)."""
        self._ids.setdefault(fp, program_id)


def program_fingerprint(program: Program) -> str:
    """Behaviour hash of ``program`` (hyperparameter defaults included)."""
    return fingerprint(program)
