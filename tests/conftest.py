"""Shared test setup: the `cuda` marker skips without a GPU; torch uses few threads."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def run_sizes(monkeypatch):
    """Program counts of every eager batch the evaluator trains (a spy on train._run_eager)."""
    from optsearch.evaluate import train

    sizes: list[int] = []
    original = train._run_eager

    def spy(task, lanes, *a, **k):
        sizes.append(lanes.n_programs)
        return original(task, lanes, *a, **k)

    monkeypatch.setattr(train, "_run_eager", spy)
    return sizes


# CI draws the same hypothesis examples every run (reproducible failures); local runs explore.
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hyp_settings.load_profile("ci")
