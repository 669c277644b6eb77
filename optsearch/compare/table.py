"""The compare table: one per task, as a rich table for the terminal and as Markdown."""

from __future__ import annotations

import math

from rich.table import Table

from optsearch.compare.results import Cell, CompareResult, TaskInfo

COLUMNS = ("optimizer", "best lr", "val loss", "val acc %", "steps to target", "diverged runs",
           "s/run")


def _fmt_lr(lr: float | None) -> str:
    return "—" if lr is None else f"{lr:.2g}"


def row(cell: Cell, info: TaskInfo) -> list[str]:
    """The table row (strings) of one optimizer on one task."""
    if cell.error:
        return [cell.label, "—", "failed", "—", "—", "—", "—"]
    s = cell.summary(info.target)
    if not math.isfinite(s["loss_mean"]):
        loss = "diverged"
    elif s["finite_seeds"] == 1:
        loss = f"{s['loss_mean']:.4f} (1 seed)"
    else:
        loss = f"{s['loss_mean']:.4f} ± {s['loss_std']:.4f}"
    if s["finite_seeds"] < s["seeds"]:
        loss += f" ({s['seeds'] - s['finite_seeds']} of {s['seeds']} seeds diverged)"
    acc = (f"{100 * s['acc_mean']:.2f}" + (f" ± {100 * s['acc_std']:.2f}"
                                            if s["finite_seeds"] > 1 else "")
           if info.classification and math.isfinite(s["acc_mean"]) else "—")
    if info.target is None:
        steps = "—"
    else:
        med = s["steps_to_target"]
        steps = f"{'—' if med is None else f'{med:g}'} ({s['reached']}/{s['seeds']})"
    bad, total = cell.divergences()
    lr = _fmt_lr(cell.best_lr) + (" (edge)" if cell.edge else "")
    return [cell.label, lr, loss, acc, steps, f"{bad}/{total}", f"{s['seconds_per_run']:.2f}"]


def ordered_cells(result: CompareResult, info: TaskInfo) -> list[Cell]:
    """A task's cells, best mean final loss first, failed ones last."""
    cells = [c for c in result.cells if c.task == info.name]
    return sorted(cells, key=lambda c: (bool(c.error), c.summary(None)["loss_mean"]
                                        if not c.error and math.isfinite(
                                            c.summary(None)["loss_mean"]) else math.inf))


def caption(result: CompareResult, info: TaskInfo) -> str:
    """How a task's table was made (steps, seeds, sweep, target, device)."""
    cfg = result.config
    lrs = cfg["lrs"] if isinstance(cfg["lrs"], str) else "given list"
    text = (f"{info.name}: {info.steps} steps; values at each optimizer's best lr, mean ± std "
            f"over {cfg['seeds']} seeds; lr sweep: {lrs}, {cfg['sweep_seeds']} seed(s) per lr")
    if info.target is not None:
        why = {"auto": "the worst final mean loss compared", "user": "--target"}.get(
            info.target_source, "the task's target")
        text += (f"; steps to target: median first step with val loss ≤ {info.target:.4g} "
                 f"({why}), (seeds that reached it)")
    return text + f"; device: {result.device}"


def rich_tables(result: CompareResult) -> list[Table]:
    """One rich Table per compared task (best first; failed optimizers last)."""
    out = []
    for info in result.tasks:
        if info.error:
            continue
        t = Table(title=f"[bold]{info.name}[/]", caption=caption(result, info),
                  caption_justify="left")
        rows = [(row(c, info), c.error) for c in ordered_cells(result, info)]
        for i, col in enumerate(COLUMNS):
            width = max([len(r[i]) for r, _ in rows] + [4]) if i == 0 else None
            t.add_column(col.replace(" ", "\n", 1) if i > 1 else col,
                         justify="left" if i == 0 else "right", min_width=width)
        for cells, error in rows:
            t.add_row(*cells, style="red" if error else None)
        out.append(t)
    return out


def markdown(result: CompareResult) -> str:
    """The same tables in Markdown (for docs), then failures with their reasons."""
    parts = []
    for info in result.tasks:
        if info.error:
            parts.append(f"**{info.name}**: skipped: {info.error}\n")
            continue
        lines = [f"**{info.name}**", "", "| " + " | ".join(COLUMNS) + " |",
                 "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|"]
        for cell in ordered_cells(result, info):
            lines.append("| " + " | ".join(row(cell, info)) + " |")
        lines += ["", caption(result, info), ""]
        parts.append("\n".join(lines))
    failures = [f"- {c['ref']}: {c['error']}" for c in result.candidates if c["error"]]
    failures += [f"- {c.label} on {c.task}: {c.error}" for c in result.cells if c.error]
    if failures:
        parts.append("Not compared:\n\n" + "\n".join(failures) + "\n")
    return "\n".join(parts)
