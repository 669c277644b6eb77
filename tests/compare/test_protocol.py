"""The compare protocol end to end (tiny step counts), including bad inputs."""

from __future__ import annotations

import math

import pytest

from optsearch.compare.grid import FIXED_GRID, grid_around, neighbour, snap
from optsearch.compare.protocol import CompareConfig, run_compare
from optsearch.compare.results import CompareResult
from optsearch.compare.runner import Runner
from optsearch.errors import ConfigError


def test_grids():
    assert snap(0.004) == pytest.approx(10 ** -2.5)
    assert grid_around(1e-2, 5) == pytest.approx([1e-3, 10 ** -2.5, 1e-2, 10 ** -1.5, 1e-1])
    assert neighbour(1e-2, 1) == pytest.approx(10 ** -1.5)
    assert FIXED_GRID[0] == pytest.approx(1e-5) and FIXED_GRID[-1] == pytest.approx(1.0)


def test_config_validation():
    with pytest.raises(ConfigError, match="sweep_seeds"):
        CompareConfig(seeds=1, sweep_seeds=2)
    with pytest.raises(ConfigError, match="lrs must be"):
        CompareConfig(lrs="best")
    with pytest.raises(ConfigError, match="positive"):
        CompareConfig(lrs=(1e-3, -1.0))


def test_protocol_with_bad_inputs_still_compares_the_rest(files, tmp_path):
    messages: list[str] = []
    cfg = CompareConfig(steps=12, seeds=2, points=3)
    with Runner() as runner:
        result = run_compare(["adamw", "sgd_momentum", "nosuch", files["raising_step"],
                              str(tmp_path / "missing.py")],
                             ["digits_mlp", files["nan_task"], "nosuch_task"], cfg, runner,
                             messages.append)
    text = "\n".join(messages)
    assert "optimizer 'nosuch' left out" in text and "unknown rule 'nosuch'" in text
    assert "missing.py' not found" in text
    assert "returns a non-finite loss before any optimizer step" in text
    assert "unknown task 'nosuch_task'" in text
    assert "raising_step.py:PlainSGD on digits_mlp" in text and "boom in step" in text

    assert [t.error is None for t in result.tasks] == [True, False, False]
    for label in ("adamw", "sgd_momentum"):
        cell = result.cell("digits_mlp", label)
        assert cell.error is None
        # auto grid: 3 points around the probe's centre (+ one past an edge holding the best)
        assert len(cell.grid) in (3, 4) and len({r.lr for r in cell.sweep}) == len(cell.grid)
        assert cell.best_lr in cell.grid
        assert [r.seed for r in cell.final] == [0, 1]
        assert all(r.lr == cell.best_lr for r in cell.final)
        curve = cell.lr_curve()
        best = min(v for _, v, _, _ in curve)
        assert best == pytest.approx(next(v for lr, v, _, _ in curve if lr == cell.best_lr))
        s = cell.summary(result.tasks[0].target)
        assert math.isfinite(s["loss_mean"]) and s["seeds"] == 2
    extended = 0
    for label in ("adamw", "sgd_momentum"):
        cell = result.cell("digits_mlp", label)
        first = sorted(cell.sweep[:3], key=lambda r: r.lr)  # the original grid
        best = min(first, key=lambda r: r.final_loss).lr
        if best in (first[0].lr, first[-1].lr):  # best on an edge: one more point beyond it
            extra = neighbour(best, -1 if best == first[0].lr else 1)
            assert len(cell.grid) == 4 and extra == pytest.approx(cell.sweep[3].lr)
            extended += 1
        else:
            assert len(cell.grid) == 3
    assert extended  # with 12 steps the largest lr of a grid wins: the extension is exercised
    assert result.cell("digits_mlp", "raising_step.py:PlainSGD").error
    # the SGD family is centred far above the adaptive family by the probe
    assert result.cell("digits_mlp", "sgd_momentum").grid[0] > result.cell("digits_mlp", "adamw").grid[0]

    path = tmp_path / "results.json"
    result.save(path)
    again = CompareResult.load(path)
    assert again.cell("digits_mlp", "adamw").final[1].val_loss == \
        result.cell("digits_mlp", "adamw").final[1].val_loss


def test_fixed_list_and_auto_target(files):
    cfg = CompareConfig(lrs=(1e-3, 1e-2), steps=10, seeds=1)
    with Runner() as runner:
        result = run_compare(["adamw", files["good_opt"]], [files["regression"]], cfg, runner,
                             lambda m: None)
    info = result.tasks[0]
    assert info.error is None and info.target_source == "auto"
    cells = [result.cell(info.name, lbl) for lbl in ("adamw", "plain_sgd.py:PlainSGD")]
    assert all(c.grid == [1e-3, 1e-2] for c in cells)
    worst = max(c.summary(None)["loss_mean"] for c in cells)
    assert info.target == pytest.approx(worst)


def test_budget_skips_runs_not_started_in_time():
    messages: list[str] = []
    cfg = CompareConfig(steps=5, seeds=2, points=3, budget=1e-6)
    with Runner() as runner:
        result = run_compare(["adamw", "lion"], ["digits_mlp"], cfg, runner, messages.append)
    assert any("run(s) skipped: the time budget" in m for m in messages)
    for cell in result.cells:
        assert cell.error.startswith("skipped: the time budget") and not cell.sweep


def test_worker_processes_load_py_files_by_path(files):
    """Spawned workers import the user's .py optimizer themselves (nothing pickled)."""
    cfg = CompareConfig(lrs=(1e-2,), steps=5, seeds=2)
    with Runner(workers=2, threads=1) as runner:
        result = run_compare([files["good_opt"], "adamw"], ["digits_mlp"], cfg, runner,
                             lambda m: None)
    serial_cfg = CompareConfig(lrs=(1e-2,), steps=5, seeds=2)
    with Runner() as runner:
        serial = run_compare([files["good_opt"]], ["digits_mlp"], serial_cfg, runner,
                             lambda m: None)
    cell = result.cell("digits_mlp", "plain_sgd.py:PlainSGD")
    assert cell.error is None and [r.seed for r in cell.final] == [0, 1]
    assert [r.val_loss for r in cell.final] == \
        [r.val_loss for r in serial.cell("digits_mlp", "plain_sgd.py:PlainSGD").final]
