"""The compare protocol (DeepOBS style), per task and optimizer:

1. learning-rate sweep: every lr of a log grid (``auto``: centred per rule, see grid.py;
   ``grid``: one fixed grid 1e-5..1; or a given list), ``sweep_seeds`` seeds each;
2. when ``auto`` finds the best lr on an edge of its grid, one more point beyond it
   (at most ``extend`` times);
3. the best lr (lowest mean final validation loss) is rerun with ``seeds`` seeds in all.

A candidate that fails to load or whose optimizer raises is reported and left out; a
task that cannot be built or gives a non-finite loss before training is reported and
skipped; everything else is still compared.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from itertools import zip_longest
from typing import Callable, Sequence

import torch

from optsearch.compare.candidates import Candidate, CandidateError, load_candidate, unique_labels
from optsearch.compare.grid import FIXED_GRID, auto_centre, grid_around, neighbour, update_scale
from optsearch.compare.results import Cell, CompareResult, TaskInfo
from optsearch.compare.runner import SKIPPED, Job, Runner, remember, remember_candidate
from optsearch.compare.task import CompareTask, TaskError
from optsearch.compare.tasks import get_task
from optsearch.compare.train import RunRecord, check_task
from optsearch.errors import ConfigError, OptsearchError


@dataclass(frozen=True)
class CompareConfig:
    """Settings of one compare (saved with the results).

    Attributes:
        lrs: "auto", "grid", or a tuple of learning rates.
        points: lrs per ``auto`` grid (half-decade spacing).
        seeds: seeds at the best lr (sweep seeds included).
        sweep_seeds: seeds per lr in the sweep.
        steps: training steps for every task (None: each task's own).
        extend: how many times an ``auto`` sweep may add a point beyond its edge.
        target: validation loss for time-to-target on every task (None: the task's own).
        budget: wall seconds for the whole compare; runs not started by then are skipped
            (phases run in order, so a short budget costs reruns first, then sweep points).
    """

    lrs: str | tuple[float, ...] = "auto"
    points: int = 5
    seeds: int = 3
    sweep_seeds: int = 1
    steps: int | None = None
    device: str = "cpu"
    extend: int = 1
    target: float | None = None
    budget: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.lrs, str) and self.lrs not in ("auto", "grid"):
            raise ConfigError(f"lrs must be 'auto', 'grid' or a list of numbers, got {self.lrs!r}")
        if not isinstance(self.lrs, str) and (not self.lrs or any(
                not (isinstance(v, float) and math.isfinite(v) and v > 0) for v in self.lrs)):
            raise ConfigError(f"learning rates must be positive finite numbers, got {self.lrs}")
        for key in ("points", "seeds", "sweep_seeds"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.sweep_seeds > self.seeds:
            raise ConfigError(f"sweep_seeds ({self.sweep_seeds}) must be <= seeds ({self.seeds})")
        if self.budget is not None and not self.budget > 0:
            raise ConfigError(f"budget must be > 0 seconds, got {self.budget}")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")


Reporter = Callable[[str], None]


def load_candidates(refs: Sequence[str], report: Reporter) -> tuple[list[Candidate], list[dict]]:
    """Load every reference; failures are reported and listed, never raised."""
    loaded, rows = [], []
    for ref in refs:
        try:
            loaded.append(load_candidate(ref))
        except CandidateError as e:
            report(f"[red]optimizer {ref!r} left out:[/] {e}")
            rows.append({"label": ref, "ref": ref, "kind": "?", "error": str(e)})
    loaded = unique_labels(loaded)
    rows += [{"label": c.label, "ref": c.ref, "kind": c.kind, "error": None} for c in loaded]
    return loaded, rows


def _load_task(ref: str, cfg: CompareConfig, report: Reporter) -> tuple[CompareTask | None, TaskInfo]:
    try:
        task = get_task(ref)
        initial = check_task(task, cfg.device)
    except TaskError as e:
        report(f"[red]task {ref!r} skipped:[/] {e}")
        return None, TaskInfo(name=ref, ref=ref, error=str(e))
    info = TaskInfo(name=task.name, ref=ref, steps=cfg.steps or task.steps,
                    loss_name=task.loss_name, classification=task.classification,
                    target=cfg.target if cfg.target is not None else task.target,
                    target_source="user" if cfg.target is not None else "task",
                    initial_loss=initial)
    return task, info


def _grid(task: CompareTask, cand: Candidate, cfg: CompareConfig, adamw_scale: float | None) -> list[float]:
    if cfg.lrs == "grid":
        return list(FIXED_GRID)
    if not isinstance(cfg.lrs, str):
        return sorted(cfg.lrs)
    scale = update_scale(task, cand, cfg.device)
    return grid_around(auto_centre(task, scale, adamw_scale or scale), cfg.points)


def _best(cell: Cell) -> float | None:
    curve = cell.lr_curve()
    finite = [(loss, lr) for lr, loss, _, _ in curve if math.isfinite(loss)]
    return min(finite)[1] if finite else None


def run_compare(candidate_refs: Sequence[str], task_refs: Sequence[str], cfg: CompareConfig,
                runner: Runner, report: Reporter = print) -> CompareResult:
    """Run the protocol for every (task, candidate); see the module docstring."""
    start = time.perf_counter()
    deadline = time.time() + cfg.budget if cfg.budget else 0.0
    skipped = [0]
    candidates, cand_rows = load_candidates(candidate_refs, report)
    for c in candidates:
        remember_candidate(c)
    tasks: list[tuple[CompareTask, TaskInfo]] = []
    infos: list[TaskInfo] = []
    for ref in task_refs:
        task, info = _load_task(ref, cfg, report)
        infos.append(info)
        if task is not None:
            remember(ref, task)
            tasks.append((task, info))

    # 1. grids (the auto probe also catches optimizers that raise on this task)
    cells: list[Cell] = []
    per_cell: list[list[tuple[Cell, Job]]] = []
    for task, info in tasks:
        adamw_scale = None
        if cfg.lrs == "auto":
            try:
                adamw_scale = update_scale(task, load_candidate("adamw"), cfg.device)
            except CandidateError as e:  # pragma: no cover - adamw is built in
                raise OptsearchError(str(e)) from None
        for cand in candidates:
            cell = Cell(task=info.name, label=cand.label)
            cells.append(cell)
            try:
                cell.grid = _grid(task, cand, cfg, adamw_scale)
            except (CandidateError, TaskError) as e:
                cell.error = str(e)
                report(f"[red]{cand.label} on {info.name}:[/] {e}")
                continue
            mid = (len(cell.grid) - 1) / 2
            centre_out = sorted(cell.grid, key=lambda lr: abs(cell.grid.index(lr) - mid))
            per_cell.append([(cell, Job(info.ref, cand.ref, lr, s, info.steps, cfg.device,
                                        deadline))
                             for lr in centre_out for s in range(cfg.sweep_seeds)])
    # interleaved, centre of each grid first: a --budget cut leaves every rule a centred sweep
    jobs = [j for group in zip_longest(*per_cell) for j in group if j is not None]
    _run(runner, jobs, lambda cell, rec: cell.sweep.append(rec), skipped)

    # 2. extend auto grids past an edge holding the best lr
    for _ in range(cfg.extend if cfg.lrs == "auto" else 0):
        jobs = []
        for cell in cells:
            best = _best(cell) if not cell.error else None
            if best is None or len(cell.grid) < 2:
                continue
            if best in (cell.grid[0], cell.grid[-1]):
                lr = neighbour(best, -1 if best == cell.grid[0] else 1)
                cell.grid = sorted(cell.grid + [lr])
                info = next(i for _, i in tasks if i.name == cell.task)
                jobs += [(cell, Job(info.ref, _ref(cand_rows, cell.label), lr, s, info.steps,
                                    cfg.device, deadline)) for s in range(cfg.sweep_seeds)]
        if not jobs:
            break
        _run(runner, jobs, lambda cell, rec: cell.sweep.append(rec), skipped)

    # 3. rerun the best lr with more seeds
    jobs = []
    for cell in cells:
        if cell.error:
            continue
        cell.best_lr = _best(cell)
        if cell.best_lr is None:
            failed = [r.error for r in cell.sweep if r.error]
            cell.error = (failed[0] if failed else SKIPPED if not cell.sweep else
                          "diverged at every learning rate tried")
            report(f"[red]{cell.label} on {cell.task}:[/] {cell.error}")
            continue
        cell.edge = cell.best_lr in (cell.grid[0], cell.grid[-1]) and len(cell.grid) > 1
        cell.final = [r for r in cell.sweep if r.lr == cell.best_lr]
        info = next(i for _, i in tasks if i.name == cell.task)
        jobs += [(cell, Job(info.ref, _ref(cand_rows, cell.label), cell.best_lr, s, info.steps,
                            cfg.device, deadline)) for s in range(cfg.sweep_seeds, cfg.seeds)]
    _run(runner, jobs, lambda cell, rec: cell.final.append(rec), skipped)
    if skipped[0]:
        report(f"[yellow]{skipped[0]} run(s) skipped: the time budget of {cfg.budget:g} s was "
               f"used up[/]")
    for cell in cells:
        cell.final.sort(key=lambda r: r.seed)

    for _, info in tasks:
        if info.target is None:
            info.target, info.target_source = _auto_target(info.name, cells), "auto"
    return CompareResult(asdict(cfg), infos, cand_rows, cells, time.perf_counter() - start,
                         _device_name(cfg.device))


def _run(runner: Runner, jobs: list[tuple[Cell, Job]],
         put: Callable[[Cell, RunRecord], None], skipped: list[int]) -> None:
    records = runner.run([j for _, j in jobs])
    for (cell, _), rec in zip(jobs, records):
        if rec.error == SKIPPED:
            skipped[0] += 1
        else:
            put(cell, rec)


def _ref(rows: list[dict], label: str) -> str:
    return next(r["ref"] for r in rows if r["label"] == label)


def _auto_target(task: str, cells: list[Cell]) -> float | None:
    """Worst mean final loss among the optimizers of a task: a level every one reached."""
    means = [c.summary(None)["loss_mean"] for c in cells if c.task == task and not c.error]
    means = [m for m in means if math.isfinite(m)]
    return max(means) if means else None


def _device_name(device: str) -> str:
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(dev)
    return str(dev)
