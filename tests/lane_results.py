"""Comparing batched-evaluator results in tests (the `run_sizes` fixture is in conftest)."""

from __future__ import annotations

import torch


def assert_same_results(a, b) -> None:
    """Two LaneResults are equal bit for bit (NaN equal to NaN)."""
    for name in ("final_loss", "diverged_step", "stopped_step", "curves", "denormal_step"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.shape == y.shape, name
            assert torch.equal(x.nan_to_num(-1.0), y.nan_to_num(-1.0)), name
    assert a.hurdle_loss.keys() == b.hurdle_loss.keys()
    for k in a.hurdle_loss:
        assert torch.equal(a.hurdle_loss[k].nan_to_num(-1.0), b.hurdle_loss[k].nan_to_num(-1.0))
