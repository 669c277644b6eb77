"""No pickle anywhere in the project: runs are SQLite + JSON, never pickled objects."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATTERN = re.compile(r"^\s*(import\s+(c?pickle|dill|cloudpickle)\b|from\s+(c?pickle|dill|cloudpickle)\s+import)"
                     r"|\b(pickle|dill|cloudpickle)\.(loads?|dumps?|Unpickler)\b|torch\.load\(", re.M)


def test_no_pickle_in_sources():
    offenders = []
    for folder in ("optsearch", "primitives", "proxy_tasks", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for m in PATTERN.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0).strip()}")
    assert not offenders, "pickle-like loading found:\n" + "\n".join(offenders)
