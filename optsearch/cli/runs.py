"""``optsearch runs``: list the runs in a runs folder."""

from __future__ import annotations

import argparse
import json

NAME = "runs"
HELP = "list search runs (id, status, generations, programs, best fitness)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", default="runs", help="folder holding the runs")
    p.add_argument("--json", action="store_true", help="one JSON object per run instead of a table")


def run_summary(path) -> dict:
    """Key facts of one run, read without taking its lock (works while it searches)."""
    from optsearch.store import RunStore

    with RunStore.open(path) as store:
        log = store.logbook()
        last = log[-1] if log else {}
        config = store.config()
        hof = store.hall_of_fame()
        return {"run": store.run_id, "status": store.meta("status"),
                "created": store.meta("created"),
                "warm_start": config.get("search", {}).get("warm_start"),
                "seed": config.get("seed"), "generations": last.get("gen", -1),
                "programs": store.count(),
                "trained": last.get("total_trained", 0), "hit_rate": last.get("hit_rate"),
                "best": last.get("best"), "hall_of_fame": hof[0][1] if hof else None}


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from optsearch.errors import StoreError
    from optsearch.store import iter_runs

    rows = []
    for path in iter_runs(args.runs_dir):
        try:
            rows.append(run_summary(path))
        except StoreError as e:
            rows.append({"run": path.name, "status": f"unreadable: {e}"})
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    if not rows:
        print(f"no runs in {args.runs_dir}/ (start one with `optsearch search`)")
        return 0
    table = Table(title=f"runs in {args.runs_dir}/")
    for col in ("run", "status", "warm start", "seed", "gen", "programs", "trained",
                "hit rate", "best", "hall of fame"):
        table.add_column(col, justify="left" if col in ("run", "status", "warm start") else "right")

    def num(x, fmt):
        return "-" if x is None else format(x, fmt)

    for r in rows:
        table.add_row(r["run"], r.get("status") or "-", str(r.get("warm_start") or "-"),
                      num(r.get("seed"), "d"), num(r.get("generations"), "d"),
                      num(r.get("programs"), "d"), num(r.get("trained"), "d"),
                      num(r.get("hit_rate"), ".1%"), num(r.get("best"), "+.4f"),
                      num(r.get("hall_of_fame"), "+.4f"))
    Console().print(table)
    return 0
