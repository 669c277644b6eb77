"""Where evaluations run. A backend is anything with an ordered ``map`` (see base.py).

Backends are found by name: ``get_backend("pool", workers=2)`` imports
``optsearch.search.backends.pool`` and calls its ``make_backend(workers)``. Adding a
backend (Ray, a job queue...) = adding one module here with ``make_backend``; the search
algorithm does not change.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from optsearch.errors import ConfigError
from optsearch.search.backends.base import Backend


def available() -> list[str]:
    """Names of the backend modules present."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name not in ("base", "work"))


def get_backend(name: str, workers: int = 1, **options: Any) -> Backend:
    """The backend ``name``; ``options`` left at a false value (``address=""``, ``gpus=0``)
    are not passed, so backends that do not know them still work, and a set option a
    backend does not take is an error rather than silently ignored."""
    if name not in available():
        raise ConfigError(f"unknown backend {name!r} (available: {', '.join(available())})")
    module = importlib.import_module(f"{__name__}.{name}")
    accepted = inspect.signature(module.make_backend).parameters
    given = {k: v for k, v in options.items() if v}
    for key in given:
        if key not in accepted:
            raise ConfigError(f"workers.{key} is not an option of the {name!r} backend "
                              f"(it takes: {', '.join(accepted)})")
    return module.make_backend(workers=workers, **given)


__all__ = ["Backend", "available", "get_backend"]
