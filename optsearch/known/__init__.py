"""Known rules, one ``.opt`` program file each (``sgd.opt``, ``adam.opt``, ``lion.opt``...).

Adding a known rule = adding ``NAME.opt`` here with one ``def NAME(...)`` whose docstring
cites the paper, plus a row in tests/test_known_reference.py naming its reference
implementation (or a hand-computed step for formula-only rules).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from optsearch.errors import OptsearchError
from optsearch.parse import parse
from optsearch.program import Program


def known_names() -> list[str]:
    """Names of all known rules, sorted."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name[:-4] for f in files if f.name.endswith(".opt"))


@lru_cache(maxsize=None)
def known(name: str) -> Program:
    """The known rule ``name`` as a Program.

    Raises:
        OptsearchError: for an unknown name, with the closest known names.
    """
    names = known_names()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise OptsearchError(f"unknown rule {name!r}{hint} (known: {', '.join(names)})")
    text = resources.files(__name__).joinpath(f"{name}.opt").read_text(encoding="utf-8")
    return parse(text, filename=f"optsearch/known/{name}.opt")
